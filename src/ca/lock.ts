/**
 * An exclusive, crash-safe lock on a CA directory: a lock file created with
 * O_EXCL holding the owner's pid. A lock whose owner is dead (SIGKILL, crash)
 * is taken over, so a killed signer never wedges the CA.
 */
import { promises as fs, constants as fsc } from 'node:fs';
import { hostname } from 'node:os';
import { MtlsError } from '../errors/index.js';

/** Options for {@link withCaLock}. */
export interface CaLockOptions {
  /** Give up after this many ms (default 60,000). */
  timeoutMs?: number;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function tryAcquire(path: string): Promise<boolean> {
  try {
    const h = await fs.open(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
    await h.writeFile(`${process.pid}\n${hostname()}\n${new Date().toISOString()}\n`);
    await h.sync();
    await h.close();
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new MtlsError('MTLS_FILE_WRITE', `cannot create lock ${path}: ${(e as NodeJS.ErrnoException).code}`, { subject: path, cause: e });
    }
    return false;
  }
}

async function removeIfStale(path: string): Promise<void> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch {
    return;
  }
  const [pidLine, host] = text.split('\n');
  const pid = Number(pidLine);
  // A lock being written has no content yet; give its writer a moment.
  if (!pidLine) {
    const st = await fs.stat(path).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs < 5000) return;
  } else if (host !== hostname() || (Number.isInteger(pid) && pid > 0 && pidAlive(pid))) {
    return;
  }
  // Rename first so two processes never both delete a fresh lock.
  const grave = `${path}.stale.${process.pid}`;
  try {
    await fs.rename(path, grave);
    const again = await fs.readFile(grave, 'utf8').catch(() => '');
    if (again !== text) {
      // Someone replaced the lock between our read and rename: put theirs back.
      await fs.link(grave, path).catch(() => undefined);
    }
    await fs.unlink(grave).catch(() => undefined);
  } catch {
    // Another process handled it.
  }
}

/**
 * Runs `work` while holding the CA's lock file.
 * @throws MTLS_LOCK_TIMEOUT when another live process holds it past the timeout
 */
export async function withCaLock<T>(lockPath: string, work: () => Promise<T>, options: CaLockOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let delay = 5;
  while (!(await tryAcquire(lockPath))) {
    await removeIfStale(lockPath);
    if (Date.now() > deadline) {
      throw new MtlsError('MTLS_LOCK_TIMEOUT', `the CA is locked by another process (${lockPath})`, { subject: lockPath });
    }
    await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
    delay = Math.min(delay * 2, 100);
  }
  try {
    return await work();
  } finally {
    await fs.unlink(lockPath).catch(() => undefined);
  }
}
