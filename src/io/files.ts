import { randomBytes } from 'node:crypto';
import { promises as fs, constants as fsc } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { MtlsError } from '../errors/index.js';

/** Options for {@link writeFileAtomic}. */
export interface WriteFileAtomicOptions {
  /** File mode; private keys use 0o600 (default 0o644). */
  mode?: number;
  /** Replace an existing file (default false: refuse with MTLS_FILE_EXISTS). */
  force?: boolean;
}

/**
 * Writes a file atomically: a temp file in the same directory, fsync, rename,
 * then fsync of the directory. A crash leaves either the old file or the new one.
 * @throws MTLS_FILE_EXISTS when the target exists and `force` is not set
 * @throws MTLS_FILE_WRITE on any I/O failure (the temp file is removed)
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: WriteFileAtomicOptions = {}): Promise<void> {
  const mode = options.mode ?? 0o644;
  if (!options.force && (await pathExists(path))) {
    throw new MtlsError('MTLS_FILE_EXISTS', `refusing to overwrite ${path}: the file already exists`, { subject: path });
  }
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, mode);
    await handle.writeFile(data);
    await handle.chmod(mode);
    await handle.sync();
    await handle.close();
    handle = undefined;
    if (!options.force) {
      // link() fails if the target appeared meanwhile, so we never clobber a file
      // that another process created after our check.
      await fs.link(tmp, path);
      await fs.unlink(tmp);
    } else {
      await fs.rename(tmp, path);
    }
    await syncDir(dirname(path));
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await fs.unlink(tmp).catch(() => undefined);
    if (e instanceof MtlsError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EEXIST') {
      throw new MtlsError('MTLS_FILE_EXISTS', `refusing to overwrite ${path}: the file already exists`, { subject: path });
    }
    throw new MtlsError('MTLS_FILE_WRITE', `cannot write ${path}: ${err.code ?? err.message}`, { subject: path, cause: e });
  }
}

/** fsyncs a directory so a rename inside it is durable. Best effort on platforms that refuse. */
export async function syncDir(dir: string): Promise<void> {
  let h: fs.FileHandle | undefined;
  try {
    h = await fs.open(dir, fsc.O_RDONLY);
    await h.sync();
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  } finally {
    await h?.close().catch(() => undefined);
  }
}

/** True when `path` exists (any type). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await fs.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads a whole file.
 * @param what - what the file is, for the error message ("CSR", "CA certificate")
 * @throws MTLS_FILE_NOT_FOUND when it does not exist
 * @throws MTLS_FILE_READ on other I/O errors
 */
export async function readFileChecked(path: string, what = 'file'): Promise<Buffer> {
  try {
    return await fs.readFile(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') {
      throw new MtlsError('MTLS_FILE_NOT_FOUND', `${what} not found: ${path}`, { subject: path });
    }
    if (err.code === 'EISDIR') {
      throw new MtlsError('MTLS_FILE_READ', `${what} ${path} is a directory, not a file`, { subject: path });
    }
    throw new MtlsError('MTLS_FILE_READ', `cannot read ${what} ${path}: ${err.code ?? err.message}`, { subject: path, cause: e });
  }
}

/**
 * Writes several files as one unit: every file is checked first (none may exist
 * unless `force`), then each is written atomically. If any write fails, the
 * files this call already wrote are removed, so a failed command leaves no
 * partial output.
 * @throws MTLS_FILE_EXISTS, MTLS_FILE_WRITE
 */
export async function writeFilesAtomic(
  files: ReadonlyArray<{ path: string; data: string | Uint8Array; mode?: number }>,
  options: { force?: boolean } = {},
): Promise<void> {
  if (!options.force) {
    for (const f of files) {
      if (await pathExists(f.path)) {
        throw new MtlsError('MTLS_FILE_EXISTS', `refusing to overwrite ${f.path}: the file already exists`, { subject: f.path });
      }
    }
  }
  const written: string[] = [];
  try {
    for (const f of files) {
      await writeFileAtomic(f.path, f.data, { mode: f.mode ?? 0o644, force: options.force ?? false });
      written.push(f.path);
    }
  } catch (e) {
    for (const p of written) await fs.unlink(p).catch(() => undefined);
    throw e;
  }
}

/**
 * Refuses early, before any expensive work, when `path` exists and `force`
 * is not set.
 * @throws MTLS_FILE_EXISTS
 */
export async function assertCanWrite(path: string, force = false): Promise<void> {
  if (!force && (await pathExists(path))) {
    throw new MtlsError('MTLS_FILE_EXISTS', `refusing to overwrite ${path}: the file already exists`, { subject: path });
  }
}
