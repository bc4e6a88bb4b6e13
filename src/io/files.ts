import { randomBytes } from 'node:crypto';
import { promises as fs, constants as fsc } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { MtlsError } from '../errors/index.js';
import { errorCode, systemErrorText } from '../errors/mtls-error.js';

/** Options for {@link writeFileAtomic}. */
export interface WriteFileAtomicOptions {
  /** File mode; private keys use 0o600 (default 0o644). */
  mode?: number;
  /** Replace an existing file (default false: refuse with MTLS_FILE_EXISTS). */
  force?: boolean;
  /** With `force`: keep the replaced file under this name (a hard link, no copy), as OpenSSL keeps index.txt.old. */
  keepBackupAs?: string;
  /** fsync the directory afterwards (default true); callers writing several files sync once themselves. */
  syncDir?: boolean;
}

/**
 * Writes a file atomically: a temp file in the same directory, fsync, rename,
 * then fsync of the directory. A crash leaves either the old file or the new one.
 * @throws MTLS_FILE_EXISTS when the target exists and `force` is not set
 * @throws MTLS_FILE_WRITE on any I/O failure (the temp file is removed)
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  await writeFilesAtomic(
    [
      {
        path,
        data,
        mode: options.mode ?? 0o644,
        ...(options.keepBackupAs ? { keepBackupAs: options.keepBackupAs } : {}),
      },
    ],
    {
      force: options.force ?? false,
      syncDir: options.syncDir ?? true,
    },
  );
}

/** Writes `data` to a fresh temp file next to `path` (O_EXCL, fsync) and returns its name. */
async function writeTemp(path: string, data: string | Uint8Array, mode: number): Promise<string> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, mode);
    await handle.writeFile(data);
    await handle.chmod(mode);
    await handle.sync();
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await fs.unlink(tmp).catch(() => undefined);
    throw writeError(path, e);
  }
  await handle.close();
  return tmp;
}

function writeError(path: string, e: unknown): MtlsError {
  if (e instanceof MtlsError) return e;
  const code = errorCode(e);
  if (code === 'EEXIST') {
    return new MtlsError(
      'MTLS_FILE_EXISTS',
      `refusing to overwrite ${path}: the file already exists`,
      { subject: path },
    );
  }
  return new MtlsError('MTLS_FILE_WRITE', `cannot write ${path}: ${systemErrorText(e)}`, {
    subject: path,
    cause: e,
  });
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
    const code = errorCode(e);
    if (code === 'ENOENT') {
      throw new MtlsError('MTLS_FILE_NOT_FOUND', `${what} not found: ${path}`, { subject: path });
    }
    if (code === 'EISDIR') {
      throw new MtlsError('MTLS_FILE_READ', `${what} ${path} is a directory, not a file`, {
        subject: path,
      });
    }
    throw new MtlsError('MTLS_FILE_READ', `cannot read ${what} ${path}: ${systemErrorText(e)}`, {
      subject: path,
      cause: e,
    });
  }
}

/**
 * Writes several files as one unit, atomically each: every file is first
 * written in full to a temp file beside its target (fsync), and only then are
 * the temps put in place — `link` (never clobbers a file that appeared
 * meanwhile) without `force`, `rename` with it. If putting one in place fails,
 * the ones already placed are taken back and replaced files restored from a
 * hard-link backup, so a failed command leaves no partial output and loses
 * nothing.
 * @throws MTLS_FILE_EXISTS when a target exists and `force` is not set
 * @throws MTLS_FILE_WRITE on any I/O failure
 */
export async function writeFilesAtomic(
  files: ReadonlyArray<{
    path: string;
    data: string | Uint8Array;
    mode?: number;
    keepBackupAs?: string;
  }>,
  options: { force?: boolean; syncDir?: boolean } = {},
): Promise<void> {
  const force = options.force ?? false;
  for (const f of files) await assertCanWrite(f.path, force);
  const temps: string[] = [];
  try {
    for (const f of files) temps.push(await writeTemp(f.path, f.data, f.mode ?? 0o644));
  } catch (e) {
    await Promise.all(temps.map((t) => fs.unlink(t).catch(() => undefined)));
    throw e;
  }
  const placed: Array<{ path: string; backup: string | null; keepAs: string | undefined }> = [];
  try {
    for (const [i, f] of files.entries()) {
      // writeTemp made one temporary file per output, in order.
      const tmp = temps[i];
      if (tmp === undefined)
        throw new MtlsError('MTLS_INTERNAL', `no temporary file for ${f.path}`);
      if (force) {
        const backup = `${tmp}.bak`;
        const had = await fs.link(f.path, backup).then(
          () => true,
          () => false,
        );
        await fs.rename(tmp, f.path);
        placed.push({ path: f.path, backup: had ? backup : null, keepAs: f.keepBackupAs });
      } else {
        await fs.link(tmp, f.path);
        await fs.unlink(tmp);
        placed.push({ path: f.path, backup: null, keepAs: undefined });
      }
    }
  } catch (e) {
    for (const p of placed.reverse()) {
      if (p.backup) await fs.rename(p.backup, p.path).catch(() => undefined);
      else await fs.unlink(p.path).catch(() => undefined);
    }
    await Promise.all(temps.map((t) => fs.unlink(t).catch(() => undefined)));
    throw writeError(files[placed.length]?.path ?? 'output', e);
  }
  for (const { backup, keepAs } of placed) {
    if (backup && keepAs)
      await fs.rename(backup, keepAs).catch(() => fs.unlink(backup).catch(() => undefined));
    else if (backup) await fs.unlink(backup).catch(() => undefined);
  }
  if (options.syncDir ?? true)
    for (const d of new Set(files.map((f) => dirname(f.path)))) await syncDir(d);
}

/**
 * Refuses early, before any expensive work, when `path` exists and `force`
 * is not set.
 * @throws MTLS_FILE_EXISTS
 */
export async function assertCanWrite(path: string, force = false): Promise<void> {
  if (!force && (await pathExists(path))) {
    throw new MtlsError(
      'MTLS_FILE_EXISTS',
      `refusing to overwrite ${path}: the file already exists`,
      { subject: path },
    );
  }
}
