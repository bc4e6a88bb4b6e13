/**
 * An exclusive, crash-safe lock on a CA directory: a lock file created with
 * O_EXCL holding the owner's pid, host, start time and a random token.
 * A lock whose owner is dead (SIGKILL, crash) on this host is taken over; the
 * takeover itself runs under a second O_EXCL file, so two waiters never both
 * remove a lock, and an owner only ever deletes a lock bearing its own token.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, constants as fsc } from 'node:fs';
import { hostname } from 'node:os';
import { MtlsError } from '../errors/index.js';
import { errorCode, systemErrorText } from '../errors/mtls-error.js';

/** Options for {@link withCaLock}. */
export interface CaLockOptions {
  /** Give up after this many ms (default 60,000). */
  timeoutMs?: number;
}

interface LockOwner {
  pid: number;
  host: string;
  since: string;
  token: string;
  raw: string;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errorCode(e) === 'EPERM';
  }
}

async function createExclusive(path: string, content: string): Promise<boolean> {
  try {
    const h = await fs.open(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
    try {
      await h.writeFile(content);
      await h.sync();
    } finally {
      await h.close();
    }
    return true;
  } catch (e) {
    if (errorCode(e) === 'EEXIST') return false;
    throw new MtlsError('MTLS_FILE_WRITE', `cannot create lock ${path}: ${systemErrorText(e)}`, {
      subject: path,
      cause: e,
    });
  }
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  const raw = await fs.readFile(path, 'utf8').catch(() => undefined);
  if (raw === undefined) return undefined;
  const [pid, host, since, token] = raw.split('\n');
  return { pid: Number(pid), host: host ?? '', since: since ?? '', token: token ?? '', raw };
}

/** A lock is stale when it is complete, from this host, and its pid is gone. */
function isStale(owner: LockOwner): boolean {
  return (
    owner.token !== '' &&
    owner.host === hostname() &&
    Number.isInteger(owner.pid) &&
    owner.pid > 0 &&
    !pidAlive(owner.pid)
  );
}

async function takeOverIfStale(path: string): Promise<void> {
  const owner = await readOwner(path);
  if (!owner || !isStale(owner)) return;
  const guard = `${path}.takeover`;
  if (!(await createExclusive(guard, `${process.pid}\n`))) {
    // Another waiter is taking over; a guard left by a crash is cleared after 10 s.
    const st = await fs.stat(guard).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > 10_000) await fs.unlink(guard).catch(() => undefined);
    return;
  }
  try {
    const again = await readOwner(path);
    if (again && again.raw === owner.raw) await fs.unlink(path).catch(() => undefined);
  } finally {
    await fs.unlink(guard).catch(() => undefined);
  }
}

/**
 * Runs `work` while holding the CA's lock file.
 * @throws MTLS_LOCK_TIMEOUT naming the holder (pid, host, since) when a live process holds it past the timeout
 */
export async function withCaLock<T>(
  lockPath: string,
  work: () => Promise<T>,
  options: CaLockOptions = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const token = randomBytes(12).toString('hex');
  const content = `${process.pid}\n${hostname()}\n${new Date().toISOString()}\n${token}\n`;
  let delay = 5;
  while (!(await createExclusive(lockPath, content))) {
    await takeOverIfStale(lockPath);
    if (Date.now() > deadline) {
      const o = await readOwner(lockPath);
      throw new MtlsError(
        'MTLS_LOCK_TIMEOUT',
        `the CA is locked by ${o ? `pid ${o.pid} on ${o.host} since ${o.since}` : 'another process'} (${lockPath})`,
        {
          subject: lockPath,
          hint:
            o && o.host !== hostname()
              ? `The lock was taken on another host (${o.host}); if no mtlskit process runs there any more, delete ${lockPath}.`
              : undefined,
        },
      );
    }
    await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
    delay = Math.min(delay * 2, 100);
  }
  try {
    return await work();
  } finally {
    const o = await readOwner(lockPath);
    if (o?.token === token) await fs.unlink(lockPath).catch(() => undefined);
  }
}
