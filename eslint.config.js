// @ts-check
// typescript-eslint's strict, type-checked preset over everything tsc checks,
// the way typescript-eslint's own repository lints itself.
import eslint from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import local from './scripts/eslint/explained-casts.mjs';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test/fixtures/**', 'coverage/**', '.tmp/**'] },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Numbers and bigints print unambiguously in messages; objects and
      // unknowns still have to be formatted on purpose.
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      // `(x) => void log(x)` style arrows are clearer than a block body for callbacks.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // `_`-prefixed names are deliberate (a callback's position, a destructured
      // rest); an unused `catch (e)` binding changes no behaviour, so it is not reported.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { local },
    rules: { 'local/explained-casts': 'error' },
  },
  {
    // node:test's test()/describe() return promises the runner itself awaits;
    // awaiting them by hand changes nothing, so only those calls are exempt.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
    },
  },
  {
    // Build scripts and this config are plain JavaScript outside every tsconfig:
    // there are no types to check them against.
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
