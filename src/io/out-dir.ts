/**
 * Output directories given with `--out-dir`: a missing one is created (mode
 * 0700, since it receives private keys), as `mkdir -p` would. Whether that can
 * work is checked first, before any key is generated or certificate signed, so
 * a bad path never costs a serial.
 */
import { promises as fs, constants as fsc } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { MtlsError } from '../errors/index.js';
import { errorCode, systemErrorText } from '../errors/mtls-error.js';

/**
 * Checks that `dir` is a writable directory, or can be created: its nearest
 * existing ancestor is a writable directory. Creates nothing.
 * @throws MTLS_FILE_WRITE naming the path that is not a directory or not writable
 */
export async function checkOutDir(dir: string): Promise<void> {
  let p = resolve(dir);
  for (;;) {
    const st = await fs.stat(p).catch((e: unknown) => {
      const code = errorCode(e);
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw e;
    });
    if (st) {
      if (!st.isDirectory()) {
        throw new MtlsError(
          'MTLS_FILE_WRITE',
          `cannot use --out-dir ${dir}: ${p} exists and is not a directory`,
          { subject: dir, hint: 'Choose another --out-dir.' },
        );
      }
      try {
        await fs.access(p, fsc.W_OK | fsc.X_OK);
      } catch {
        throw new MtlsError(
          'MTLS_FILE_WRITE',
          `cannot use --out-dir ${dir}: ${p} is not writable`,
          { subject: dir, hint: 'Choose a directory you can write to.' },
        );
      }
      return;
    }
    const parent = dirname(p);
    if (parent === p) return;
    p = parent;
  }
}

/**
 * Creates `dir` and any missing parents with mode 0700; an existing directory is kept as it is.
 * @throws MTLS_FILE_WRITE when it cannot be created
 */
export async function makeOutDir(dir: string): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new MtlsError(
      'MTLS_FILE_WRITE',
      `cannot create --out-dir ${dir}: ${systemErrorText(e)}`,
      { subject: dir, cause: e },
    );
  }
}
