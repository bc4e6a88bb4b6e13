/**
 * The console's built page, script and style sheet (`npm run build` bundles
 * them into `dist/gateway/console/assets`). Only the files named here are
 * served; nothing is fetched from elsewhere at run time.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MtlsError } from '../../errors/index.js';

/** The served files and their content types. */
export const CONSOLE_ASSETS: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

/**
 * Where the built assets are: next to this module in the package
 * (`dist/gateway/console/assets`), or, when this module runs from `src`
 * (tests through tsx), in the package's `dist` after `npm run build`.
 */
export function defaultAssetsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const beside = join(here, 'assets');
  if (existsSync(join(beside, 'index.html'))) return beside;
  return join(here, '..', '..', '..', 'dist', 'gateway', 'console', 'assets');
}

/** One loaded asset. */
export interface ConsoleAsset {
  body: Buffer;
  type: string;
}

/**
 * Reads the console assets once.
 * @throws MTLS_CONFIG_INVALID when they were not built
 */
export async function loadConsoleAssets(dir: string): Promise<Map<string, ConsoleAsset>> {
  const out = new Map<string, ConsoleAsset>();
  for (const [name, type] of Object.entries(CONSOLE_ASSETS)) {
    try {
      out.set(name, { body: await readFile(join(dir, name)), type });
    } catch (e) {
      throw new MtlsError(
        'MTLS_CONFIG_INVALID',
        `the console asset ${join(dir, name)} is missing`,
        {
          subject: 'console',
          cause: e,
          hint: 'Build the package (npm run build) so that dist/gateway/console/assets exists.',
        },
      );
    }
  }
  return out;
}
