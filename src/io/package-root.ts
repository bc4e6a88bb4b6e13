/**
 * Where mtlskit's own files are at run time. The code runs from three shapes
 * of the same package: `src/` under tsx (tests, demo), `dist/` as tsc emits it
 * (the library entry points), and `dist/bin/` where the `mtls` command is
 * bundled into a few chunks. A path relative to the running module differs
 * in each; the package root does not, so files the package ships (its
 * package.json, the console assets) are found from there.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MtlsError } from '../errors/index.js';

let cached: string | undefined;

/**
 * The directory of the nearest package.json named `mtlskit` above this module.
 * @throws MTLS_INTERNAL when there is none: the package was taken apart,
 *   which no install or build does
 */
export function packageRoot(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && manifestName(manifest) === 'mtlskit') return (cached = dir);
    const parent = dirname(dir);
    if (parent === dir)
      throw new MtlsError(
        'MTLS_INTERNAL',
        `no mtlskit package.json above ${fileURLToPath(import.meta.url)}`,
        { hint: 'Reinstall mtlskit (npm ci, then npm run build from a clone).' },
      );
    dir = parent;
  }
}

/** The `name` of a package.json, or undefined when it has none or is not JSON. */
function manifestName(path: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof parsed === 'object' && parsed !== null && 'name' in parsed) {
      const { name } = parsed;
      if (typeof name === 'string') return name;
    }
  } catch {
    // Not a readable manifest: keep walking up.
  }
  return undefined;
}
