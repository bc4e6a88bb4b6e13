/**
 * The load client of `npm run bench:gateway`, run as its own process (forked
 * by bench/gateway.ts, so its CPU never counts as server CPU).
 *
 * Why not wrk or curl: wrk cannot present a client certificate, and a curl or
 * `openssl s_time` loop spends most of its time starting processes, which
 * caps the rate far below either server. This client keeps one TLS context
 * (the client certificate parsed once), speaks raw HTTP/1.1 over `tls.connect`
 * (no http.Agent, no pooling logic in the way) and never resumes a session,
 * so each new connection is a full TLS 1.2 handshake with a client
 * certificate, exactly what an institution without session reuse costs.
 *
 * Protocol with the parent (IPC): the child gets its job as `{ job }`,
 * connects and warms up, sends `{ ready }`, waits for `{ go }`, runs for
 * `durationMs`, then sends `{ done, requests, errors, firstError }`.
 */
import tls from 'node:tls';
import { readFileSync } from 'node:fs';

/** One load job. */
export interface LoadJob {
  host: string;
  port: number;
  /** Source address (the institution's registered IP). */
  localAddress: string;
  servername: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** `new`: one TLS connection per request; `keepalive`: requests back to back on open connections. */
  mode: 'new' | 'keepalive';
  /** Connections driven at once by this process. */
  concurrency: number;
  durationMs: number;
  /** Warm-up before `ready` (default 300 ms). */
  warmupMs?: number;
}

/** What the child reports at the end. */
export interface LoadResult {
  requests: number;
  errors: number;
  firstError: string | null;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/** Reads HTTP/1.1 responses off one socket; calls back once per complete response with its status. */
class ResponseReader {
  private buf: Buffer = Buffer.alloc(0);
  private need = -1;
  private status = 0;

  constructor(private readonly onResponse: (status: number) => void) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (this.need < 0) {
        const end = this.buf.indexOf(HEADER_END);
        if (end < 0) return;
        const head = this.buf.subarray(0, end).toString('latin1');
        this.status = Number(head.slice(9, 12));
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        if (!m) throw new Error(`response without Content-Length: ${head.slice(0, 80)}`);
        this.need = Number(m[1]);
        this.buf = this.buf.subarray(end + 4);
      }
      if (this.buf.length < this.need) return;
      this.buf = this.buf.subarray(this.need);
      this.need = -1;
      this.onResponse(this.status);
    }
  }
}

async function run(job: LoadJob): Promise<void> {
  const context = tls.createSecureContext({
    ca: readFileSync(job.caFile),
    cert: readFileSync(job.certFile),
    key: readFileSync(job.keyFile),
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.2',
  });
  const request = Buffer.from(
    `GET /bench HTTP/1.1\r\nHost: ${job.servername}\r\nUser-Agent: mtlskit-bench\r\n${job.mode === 'new' ? 'Connection: close\r\n' : ''}\r\n`,
  );
  let counting = false;
  let stopped = false;
  let requests = 0;
  let errors = 0;
  let firstError: string | null = null;
  const fail = (e: unknown): void => {
    if (!counting) return;
    errors++;
    firstError ??= e instanceof Error ? e.message : String(e);
  };
  const connect = (): tls.TLSSocket =>
    // localAddress goes through to net.connect (node:tls passes its options on); @types/node omits it here.
    tls.connect({
      host: job.host,
      port: job.port,
      localAddress: job.localAddress,
      servername: job.servername,
      secureContext: context,
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
    } as tls.ConnectionOptions);

  /** One request per connection, repeated until stopped. */
  const newConnectionLoop = async (): Promise<void> => {
    while (!stopped) {
      await new Promise<void>((resolve) => {
        const socket = connect();
        let ok = false;
        const reader = new ResponseReader((status) => {
          if (status === 200) ok = true;
          else fail(new Error(`status ${status}`));
        });
        socket.on('secureConnect', () => socket.write(request));
        socket.on('data', (d: Buffer) => reader.push(d));
        socket.on('error', (e) => fail(e));
        socket.on('close', () => {
          if (ok && counting) requests++;
          resolve();
        });
      });
    }
  };

  /** Requests back to back on one connection (reconnecting if it closes). */
  const keepAliveLoop = async (): Promise<void> => {
    while (!stopped) {
      await new Promise<void>((resolve) => {
        const socket = connect();
        const reader = new ResponseReader((status) => {
          if (status === 200) {
            if (counting) requests++;
          } else fail(new Error(`status ${status}`));
          if (stopped) socket.end();
          else socket.write(request);
        });
        socket.on('secureConnect', () => socket.write(request));
        socket.on('data', (d: Buffer) => reader.push(d));
        socket.on('error', (e) => fail(e));
        socket.on('close', () => resolve());
      });
    }
  };

  const loop = job.mode === 'new' ? newConnectionLoop : keepAliveLoop;
  const loops = Array.from({ length: job.concurrency }, () => loop());
  await new Promise((r) => setTimeout(r, job.warmupMs ?? 300));
  process.send?.({ ready: true });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  counting = true;
  await new Promise((r) => setTimeout(r, job.durationMs));
  counting = false;
  const result: LoadResult = { requests, errors, firstError };
  stopped = true;
  process.send?.({ done: true, ...result });
  await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 2_000))]);
  process.exit(0);
}

process.once('message', (m: { job: LoadJob }) => {
  run(m.job).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
});
