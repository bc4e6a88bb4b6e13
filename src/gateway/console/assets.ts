/**
 * The console's built page, script and style sheet (`npm run build` bundles
 * them into `dist/gateway/console/assets`). Only the files named here are
 * served; nothing is fetched from elsewhere at run time.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot } from '../../io/package-root.js';
import { MtlsError } from '../../errors/index.js';

/** The served files and their content types. */
export const CONSOLE_ASSETS: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

/**
 * Where the built assets are: `dist/gateway/console/assets` in the package,
 * whether this module runs from `src` (tests through tsx), from `dist`, or
 * from the bundled `mtls` command.
 */
export function defaultAssetsDir(): string {
  return join(packageRoot(), 'dist', 'gateway', 'console', 'assets');
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
