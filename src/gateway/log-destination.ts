/**
 * The log destination of the gateway: JSON lines gathered during one turn of
 * the event loop and written with one synchronous `write(2)` at its end
 * (`setImmediate`), instead of one `write(2)` per line.
 *
 * Why not pino's asynchronous destination: its lines wait in a buffer until
 * a size threshold or a thread-pool write, so a SIGKILL can lose many of
 * them; here a line is on the file descriptor within the same loop turn that
 * produced it (typically well under a millisecond later), and a write that
 * fails never loses the rest of the turn's lines silently: they are retried.
 * What a SIGKILL loses: the lines of the turn it interrupts, no more.
 * Lines are also written on {@link LineBufferDestination.flushSync}, on
 * process `exit` (so `process.exit` after a drain loses nothing) and by
 * pino's `logger.flush()`.
 */
import { writeSync } from 'node:fs';
import { errorCode } from '../errors/mtls-error.js';

/** Lines held while the descriptor cannot be written (the oldest go first beyond it). */
const MAX_PENDING_LINES = 100_000;

/** A pino destination (`write`, `flush`, `flushSync`) that batches lines per event-loop turn. */
export class LineBufferDestination {
  private pending: string[] = [];
  private scheduled = false;
  private readonly onExit = (): void => this.flushSync();

  /** @param fd - file descriptor (default 1, stdout) */
  constructor(private readonly fd = 1) {
    process.on('exit', this.onExit);
  }

  /** Queues one line (pino calls this with the serialised line and its newline). */
  write(line: string): boolean {
    this.pending.push(line);
    if (this.pending.length > MAX_PENDING_LINES)
      this.pending.splice(0, this.pending.length - MAX_PENDING_LINES);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flushLater());
    }
    return true;
  }

  /** The end-of-turn write: a failing descriptor is retried later, the lines kept (bounded). */
  private flushLater(): void {
    try {
      this.flushSync();
    } catch {
      this.scheduled = true;
      setTimeout(() => this.flushLater(), 100).unref();
    }
  }

  /** pino's `logger.flush(cb)`. */
  flush(cb?: (err?: Error) => void): void {
    try {
      this.flushSync();
      cb?.();
    } catch (e) {
      cb?.(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /**
   * Writes every queued line now. A full pipe (EAGAIN on a non-blocking
   * descriptor) is waited out briefly rather than dropping lines.
   * @throws the write error other than EAGAIN (the unwritten lines stay queued)
   */
  flushSync(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    let buf = Buffer.from(this.pending.join(''), 'utf8');
    this.pending = [];
    let waits = 0;
    while (buf.length > 0) {
      try {
        const n = writeSync(this.fd, buf);
        buf = buf.subarray(n);
      } catch (e) {
        if (errorCode(e) !== 'EAGAIN' || ++waits > 1_000) {
          this.pending.unshift(buf.toString('utf8'));
          throw e;
        }
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
      }
    }
  }

  /** Writes what is queued and stops listening for process exit. */
  end(): void {
    this.flushSync();
    process.off('exit', this.onExit);
  }
}
