/**
 * The processes `npm run bench:gateway` runs: nginx, the gateway (through its
 * own CLI, `mtls gateway start`), the fixed upstream and the load clients;
 * and the server CPU counters read from /proc.
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, readdirSync, readFileSync, writeFileSync, closeSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { TLS12_AEAD_CIPHERS } from '../src/tls/versions.js';
import type { FloorLayer } from './gateway-floor.js';
import type { LoadJob, LoadResult } from './gateway-load.js';

const ROOT = resolve(import.meta.dirname, '..');
const CLK_TCK =
  Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** The nginx binary, or null when it is not installed. */
export function findNginx(): string | null {
  for (const p of ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx'])
    if (existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

/** A server process under test. */
export interface ServerProcess {
  name: string;
  /** The root pid; CPU is summed over it and every descendant. */
  pid: number;
  port: number;
  stop(): Promise<void>;
}

function statOf(pid: number): { ppid: number; ticks: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17.
    return {
      ppid: Number(f[1]),
      ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]),
    };
  } catch {
    return null;
  }
}

/** Every live pid in the tree rooted at `root` (root included). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = statOf(Number(name));
    if (!s) continue;
    const list = children.get(s.ppid) ?? [];
    list.push(Number(name));
    children.set(s.ppid, list);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const pid = todo.pop() as number;
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}

/**
 * CPU time (user + system, ms) used so far by the tree rooted at `root`:
 * every live process's utime+stime, plus cutime+cstime (children that
 * already exited and were reaped, e.g. a restarted worker).
 */
export function treeCpuMs(root: number): number {
  let ticks = 0;
  for (const pid of processTree(root)) ticks += statOf(pid)?.ticks ?? 0;
  return (ticks * 1000) / CLK_TCK;
}

/** Resident set size (kB) of the tree rooted at `root`. */
export function treeRssKb(root: number): number {
  let kb = 0;
  for (const pid of processTree(root)) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      kb += Number(m?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kb;
}

/** A free TCP port on 127.0.0.1 (nginx needs a number in its config). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function waitForPort(
  port: number,
  child: ChildProcess,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}`);
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`${what} did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(t);
      r();
    });
    child.kill(signal);
  });
}

/** Starts the fixed upstream in its own process. */
export async function startUpstream(): Promise<ServerProcess> {
  const child = fork(join(ROOT, 'bench/gateway-upstream.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((res, rej) => {
    child.once('message', (m: { port: number }) => res(m.port));
    child.once('exit', (c) => rej(new Error(`upstream exited (${c})`)));
  });
  return { name: 'upstream', pid: child.pid as number, port, stop: () => stopChild(child) };
}

/** What each floor layer (bench/gateway-floor.ts) is called in the bench's output. */
const FLOOR_NAMES: Record<FloorLayer, string> = {
  tls: 'node:tls floor',
  http: 'node:http',
  'http-undici': 'node:http+undici',
};

/**
 * Starts one floor layer (bench/gateway-floor.ts: bare node:tls, node:http,
 * or node:http forwarding through undici) in its own process.
 * @param upstreamPort - the bench upstream, for `http-undici`
 */
export async function startFloor(
  certFile: string,
  keyFile: string,
  caFile: string,
  layer: FloorLayer = 'tls',
  upstreamPort?: number,
): Promise<ServerProcess> {
  const args = [layer, certFile, keyFile, caFile];
  if (upstreamPort !== undefined) args.push(String(upstreamPort));
  const child = fork(join(ROOT, 'bench/gateway-floor.ts'), args, {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const name = FLOOR_NAMES[layer];
  const port = await new Promise<number>((res, rej) => {
    child.once('message', (m: { port: number }) => res(m.port));
    child.once('exit', (c) => rej(new Error(`${name} exited (${c})`)));
  });
  return { name, pid: child.pid as number, port, stop: () => stopChild(child) };
}

/** Options for {@link startNginx}. */
export interface StartNginxOptions {
  nginx: string;
  dir: string;
  certFile: string;
  keyFile: string;
  clientCaFile: string;
  upstreamPort: number;
  workers: number;
}

/**
 * Starts nginx configured like the gateway: TLS 1.2 only, the same AEAD
 * cipher list, client certificates required against the same CA, no session
 * cache and no tickets (every connection is a full handshake, as on the
 * gateway), keep-alive to the upstream, the verified identity in request
 * headers (subject, issuer, serial, fingerprint and the certificate, as the
 * gateway sends them), and an access log line per request with the client
 * identity written to a file, as the gateway writes its audit line.
 */
export async function startNginx(o: StartNginxOptions): Promise<ServerProcess> {
  const port = await freePort();
  const conf = join(o.dir, `nginx-${port}.conf`);
  writeFileSync(
    conf,
    `worker_processes ${o.workers};
daemon off;
master_process on;
user root root;
pid ${o.dir}/nginx-${port}.pid;
error_log ${o.dir}/nginx-${port}.error.log warn;
events { worker_connections 4096; }
http {
  log_format audit '$time_iso8601 $remote_addr "$ssl_client_s_dn" "$ssl_client_i_dn" $ssl_client_serial $ssl_client_verify $ssl_protocol $ssl_cipher "$request" $status $request_time';
  access_log ${o.dir}/nginx-${port}.access.log audit;
  client_body_temp_path ${o.dir}/nginx-body;
  proxy_temp_path ${o.dir}/nginx-proxy;
  fastcgi_temp_path ${o.dir}/nginx-fastcgi;
  uwsgi_temp_path ${o.dir}/nginx-uwsgi;
  scgi_temp_path ${o.dir}/nginx-scgi;
  keepalive_requests 1000000;
  upstream bench_upstream { server 127.0.0.1:${o.upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${o.certFile};
    ssl_certificate_key ${o.keyFile};
    ssl_protocols TLSv1.2;
    ssl_ciphers ${TLS12_AEAD_CIPHERS};
    ssl_prefer_server_ciphers on;
    ssl_session_cache off;
    ssl_session_tickets off;
    ssl_client_certificate ${o.clientCaFile};
    ssl_verify_client on;
    ssl_verify_depth 3;
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Client-Subject $ssl_client_s_dn;
      proxy_set_header X-Client-Issuer $ssl_client_i_dn;
      proxy_set_header X-Client-Serial $ssl_client_serial;
      proxy_set_header X-Client-Fingerprint $ssl_client_fingerprint;
      proxy_set_header Client-Cert $ssl_client_escaped_cert;
    }
  }
}
`,
  );
  const child = spawn(
    o.nginx,
    ['-p', o.dir, '-c', conf, '-e', `${o.dir}/nginx-${port}.error.log`],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  await waitForPort(port, child, 'nginx');
  return { name: 'nginx', pid: child.pid as number, port, stop: () => stopChild(child, 'SIGQUIT') };
}

/** Options for {@link startGatewayProcess}. */
export interface StartGatewayProcessOptions {
  dir: string;
  /** Used in file names. */
  label: string;
  registry: string;
  upstreamPort: number;
  certFile: string;
  keyFile: string;
  /**
   * `--workers N`, always passed: the gateway's default is one worker per
   * CPU, and the comparison needs the same number of processes serving as
   * nginx's `worker_processes`.
   */
  workers: number;
  durability?: 'batched' | 'durable';
  /** Directory for `node --cpu-prof` output. */
  cpuProfDir?: string;
  /** Extra Node/V8 flags for the gateway process (e.g. `--max-semi-space-size=64`). */
  nodeFlags?: string[];
  /** Another build's CLI (`…/dist/bin/mtls.js`) instead of this checkout's. */
  cli?: string;
}

/** A started gateway process, with the time it took to start. */
export interface GatewayProcess extends ServerProcess {
  /** From spawn to the `gateway started` log line, in ms. */
  startupMs: number;
  logFile: string;
}

/** The installed command, as a provider runs it (`npm run build` makes it). */
function builtCli(): string {
  const cli = join(ROOT, 'dist/bin/mtls.js');
  if (!existsSync(cli)) {
    console.error('The bench runs the built CLI: run `npm run build` first.');
    process.exit(2);
  }
  return cli;
}

/**
 * Starts `mtls gateway start` (the built CLI, dist/bin/mtls.js) in its own
 * process, its JSON log (audit lines included) going to a file, as a
 * service manager would send it to one.
 */
export async function startGatewayProcess(o: StartGatewayProcessOptions): Promise<GatewayProcess> {
  const port = await freePort();
  const config = join(o.dir, `gateway-${o.label}.yaml`);
  const values = {
    listen: `127.0.0.1:${port}`,
    upstream: `http://127.0.0.1:${o.upstreamPort}`,
    registry: o.registry,
    tls: { cert: o.certFile, key: o.keyFile },
    ops: { listen: 'off' },
    audit: o.durability ? { durability: o.durability } : {},
  };
  writeFileSync(config, JSON.stringify(values, null, 2));
  const logFile = join(o.dir, `gateway-${o.label}.log`);
  const fd = openSync(logFile, 'w');
  const execArgv: string[] = [];
  if (o.cpuProfDir) execArgv.push('--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`);
  execArgv.push(...(o.nodeFlags ?? []));
  const args = [
    ...execArgv,
    o.cli ?? builtCli(),
    'gateway',
    'start',
    '--config',
    config,
    '--workers',
    String(o.workers),
  ];
  const t0 = performance.now();
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', fd, 'inherit'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  closeSync(fd);
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(
        `gateway ${o.label} exited with code ${child.exitCode}; log: ${readFileSync(logFile, 'utf8').slice(-2000)}`,
      );
    if (readFileSync(logFile, 'utf8').includes('"msg":"gateway started"')) break;
    if (Date.now() > deadline) throw new Error(`gateway ${o.label} did not start`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const startupMs = performance.now() - t0;
  await waitForPort(port, child, `gateway ${o.label}`);
  return {
    name: `gateway ${o.label}`,
    pid: child.pid as number,
    port,
    startupMs,
    logFile,
    stop: () => stopChild(child, 'SIGINT'),
  };
}

/** One measured round against one server. */
export interface RoundResult {
  requests: number;
  errors: number;
  firstError: string | null;
  seconds: number;
  /** Server CPU (ms) over the round, all of its processes. */
  cpuMs: number;
  /** cpuMs / requests. */
  cpuMsPerRequest: number;
  requestsPerSecond: number;
}

/** Runs the load processes against one server for one round. */
export async function runRound(
  server: ServerProcess,
  job: Omit<LoadJob, 'port'>,
  processes: number,
): Promise<RoundResult> {
  const children = Array.from({ length: processes }, () =>
    fork(join(ROOT, 'bench/gateway-load.ts'), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  try {
    const ready = children.map(
      (c) =>
        new Promise<void>((res, rej) => {
          c.once('message', () => res());
          c.once('exit', (code) =>
            rej(new Error(`load client exited (${code}) before it was ready`)),
          );
        }),
    );
    for (const c of children) c.send({ job: { ...job, port: server.port } });
    await Promise.all(ready);
    const done = children.map(
      (c) => new Promise<LoadResult>((res) => c.once('message', (m: LoadResult) => res(m))),
    );
    const cpu0 = treeCpuMs(server.pid);
    const t0 = performance.now();
    for (const c of children) c.send({ go: true });
    const results = await Promise.all(done);
    const seconds = (performance.now() - t0) / 1000;
    const cpuMs = treeCpuMs(server.pid) - cpu0;
    const requests = results.reduce((a, r) => a + r.requests, 0);
    return {
      requests,
      errors: results.reduce((a, r) => a + r.errors, 0),
      firstError: results.find((r) => r.firstError)?.firstError ?? null,
      seconds,
      cpuMs,
      cpuMsPerRequest: requests > 0 ? cpuMs / requests : NaN,
      requestsPerSecond: requests / seconds,
    };
  } finally {
    await Promise.all(
      children.map((c) =>
        c.exitCode === null ? new Promise((r) => c.once('exit', r)) : Promise.resolve(),
      ),
    );
  }
}
