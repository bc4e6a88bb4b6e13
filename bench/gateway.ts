/**
 * `npm run bench:gateway`: the gateway next to nginx, same certificates, same
 * upstream (bench/gateway-upstream.ts, its own process), same load client
 * (bench/gateway-load.ts, its own processes), same number of workers.
 *
 * For each mode it runs alternating rounds (gateway then nginx, nginx then
 * gateway, …) and reports the median over rounds of the per-round ratio
 * gateway/nginx (paired medians: a round's two halves share the machine's
 * load at that moment, which matters on a shared machine) of:
 *   - server CPU ms per request, from /proc/<pid>/stat (utime+stime of every
 *     process of the server, plus cutime+cstime of reaped children);
 *   - requests per second.
 * Modes: a new TLS connection per request (P-256 and RSA-2048 certificates
 * on both sides), and keep-alive (P-256).
 *
 * Then: the cost of `audit.durability: durable` against `batched`, and the
 * gateway with 10,000 institutions (each with its own CA and IP) against one:
 * startup time, RSS, handshake cost, the CertificateRequest size (read from
 * the wire by `openssl s_client -msg`) and the time for one institution's
 * change to apply under load.
 *
 * Flags: --rounds N (7), --seconds S per round (3), --workers N (1; passes
 * `--workers N` to `mtls gateway start` and sets nginx worker_processes N),
 * --concurrency C per load process (8), --clients P load processes (2),
 * --modes new-p256,new-rsa,keepalive, --many N (10000; 0 skips),
 * --no-durable, --floor (adds a bare node:tls server, the floor any Node
 * server pays), --layers (the floor, then node:http on it, then node:http
 * forwarding through undici: what each layer under the gateway costs; see
 * bench/gateway-floor.ts), --cpu-prof DIR (profile the gateway of each mode), --warmup S
 * (15: seconds of untimed load on each server before its mode's rounds),
 * --variant NAME=FLAGS (repeatable: another gateway run with these Node or V8
 * flags, e.g. `semi64=--max-semi-space-size=64`, in the same rounds),
 * --compare-cli NAME=PATH (repeatable: another build's gateway, its
 * dist/bin/mtls.js, in the same rounds: a code change measured A/B).
 *
 * Why a warm-up: V8 compiles the gateway's hot paths (node:http, undici, the
 * policy and audit code) with its optimising compiler over the first
 * several thousand requests, on a background thread whose CPU counts as the
 * server's. Without it, the first rounds measure the compiler (seen: the
 * gateway at 1.95 ms per new connection in its first 3 s, 1.26 ms after
 * 20 s; the bare node:tls server 0.98 then 0.90 ms; nginx, compiled ahead of
 * time, flat). A gateway in production runs warm, so the rounds measure that;
 * the warm-up's own figures are printed as the cold cost.
 */
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openSqliteRegistry } from '../src/gateway/registry/sqlite-registry.js';
import { mtlsRequest, registerInstitution } from '../test/helpers/gateway-harness.js';
import {
  EC_IP,
  RSA_IP,
  makeBenchPki,
  manyCaPems,
  manyIp,
  registerBenchInstitutions,
  registerMany,
  type BenchPki,
} from './gateway-fixtures.js';
import type { LoadJob } from './gateway-load.js';
import {
  findNginx,
  startFloor,
  runRound,
  startGatewayProcess,
  startNginx,
  startUpstream,
  treeRssKb,
  type GatewayProcess,
  type RoundResult,
  type ServerProcess,
} from './gateway-servers.js';
import type { FloorLayer } from './gateway-floor.js';
import { makeInstitution } from '../test/helpers/gateway-harness.js';

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    seconds: { type: 'string', default: '3' },
    workers: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '8' },
    clients: { type: 'string', default: '2' },
    modes: { type: 'string', default: 'new-p256,new-rsa,keepalive' },
    many: { type: 'string', default: '10000' },
    'no-durable': { type: 'boolean', default: false },
    floor: { type: 'boolean', default: false },
    layers: { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    warmup: { type: 'string', default: '15' },
    variant: { type: 'string', multiple: true, default: [] },
    'compare-cli': { type: 'string', multiple: true, default: [] },
  },
});
/** Exits 2 with the flag, its value and what it takes, for a bench that would otherwise measure nothing. */
function badFlag(name: string, value: string, wants: string): never {
  console.error(`bench:gateway: --${name} ${value}: ${wants}`);
  process.exit(2);
}

/** A flag's number: an integer of at least `min` (or, with `fraction`, any number of at least `min`). */
function numberFlag(name: keyof typeof flags, min: number, fraction = false): number {
  const text = String(flags[name]);
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || (!fraction && !Number.isInteger(n)))
    badFlag(name, text, `takes ${fraction ? 'a number' : 'a whole number'} of at least ${min}`);
  return n;
}

const ROUNDS = numberFlag('rounds', 1);
const SECONDS = numberFlag('seconds', 0.5, true);
const WORKERS = numberFlag('workers', 1);
const CONCURRENCY = numberFlag('concurrency', 1);
const CLIENTS = numberFlag('clients', 1);
const MANY = numberFlag('many', 0);
const WARMUP = numberFlag('warmup', 0, true);
const MODES = ['new-p256', 'new-rsa', 'keepalive'];
const modes = flags.modes.split(',').filter(Boolean);
for (const m of modes)
  if (!MODES.includes(m))
    badFlag('modes', flags.modes, `takes a comma-separated list of ${MODES.join(', ')}`);
if (modes.length === 0) badFlag('modes', flags.modes, `takes at least one of ${MODES.join(', ')}`);
/** `--variant NAME=FLAGS`: another gateway, run with these Node flags, in the same rounds. */
const variants = flags.variant.map((v) => {
  const eq = v.indexOf('=');
  const name = v.slice(0, eq).trim();
  const nodeFlags = v
    .slice(eq + 1)
    .split(/\s+/)
    .filter(Boolean);
  if (eq <= 0 || !name || nodeFlags.length === 0 || nodeFlags.some((f) => !f.startsWith('--')))
    badFlag('variant', v, 'takes NAME=--flag[ --flag…] (Node or V8 flags for another gateway)');
  return { name, nodeFlags, cli: undefined as string | undefined };
});
/** `--compare-cli NAME=PATH`: another build's gateway (its dist/bin/mtls.js), in the same rounds. */
for (const v of flags['compare-cli']) {
  const eq = v.indexOf('=');
  const name = v.slice(0, eq).trim();
  const cli = v.slice(eq + 1).trim();
  if (eq <= 0 || !name || !existsSync(cli))
    badFlag('compare-cli', v, "takes NAME=PATH to another build's dist/bin/mtls.js");
  variants.push({ name, nodeFlags: [], cli });
}

const nginxBin = findNginx();
if (!nginxBin) {
  console.error(
    'nginx is not installed. On Debian/Ubuntu: sudo apt-get install -y nginx-light (the bench runs its own nginx on loopback; the service need not run).',
  );
  process.exit(2);
}
const nginx: string = nginxBin;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const f = (x: number, d = 3): string => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');

/**
 * Alternating rounds over several servers (the order rotates every round);
 * ratios are the median over rounds of each server's figure divided by the
 * baseline's (the last server) in the same round.
 */
interface Paired {
  results: RoundResult[][];
  cpuRatio: number[];
  rpsRatio: number[];
  /** The lowest and highest per-round ratio of each server: the spread the median hides. */
  cpuRange: Array<[number, number]>;
  rpsRange: Array<[number, number]>;
}

/** `[min, max]` of a list. */
const range = (xs: number[]): [number, number] => [Math.min(...xs), Math.max(...xs)];

async function paired(
  label: string,
  list: ServerProcess[],
  job: Omit<LoadJob, 'port'>,
): Promise<Paired> {
  const results: RoundResult[][] = list.map(() => []);
  if (WARMUP > 0) {
    const cold: string[] = [];
    for (const s of list) {
      const r = await runRound(s, { ...job, durationMs: WARMUP * 1000 }, CLIENTS);
      cold.push(`${s.name} ${f(r.cpuMsPerRequest)} ms/req ${r.requestsPerSecond.toFixed(0)} req/s`);
    }
    console.error(`  ${label} warm-up (${WARMUP} s each, not counted): ${cold.join(' | ')}`);
  }
  for (let i = 0; i < ROUNDS; i++) {
    for (let k = 0; k < list.length; k++) {
      const idx = (i + k) % list.length;
      const s = list[idx] as ServerProcess;
      const r = await runRound(s, job, CLIENTS);
      if (r.errors > 0)
        console.error(
          `  ${label} ${s.name}: ${r.errors} error(s) in round ${i + 1}, first: ${r.firstError}`,
        );
      (results[idx] as RoundResult[]).push(r);
    }
    console.error(
      `  ${label} round ${i + 1}: ${list.map((s, k) => `${s.name} ${f((results[k]?.[i] as RoundResult).cpuMsPerRequest)} ms/req ${(results[k]?.[i] as RoundResult).requestsPerSecond.toFixed(0)} req/s`).join(' | ')}`,
    );
  }
  const base = results[results.length - 1] as RoundResult[];
  const cpu = results.map((rs) =>
    rs.map((x, i) => x.cpuMsPerRequest / (base[i] as RoundResult).cpuMsPerRequest),
  );
  const rps = results.map((rs) =>
    rs.map((x, i) => x.requestsPerSecond / (base[i] as RoundResult).requestsPerSecond),
  );
  return {
    results,
    cpuRatio: cpu.map(median),
    rpsRatio: rps.map(median),
    cpuRange: cpu.map(range),
    rpsRange: rps.map(range),
  };
}

/** A per-round ratio range as `1.41–1.79`. */
const spread = (r: [number, number] | undefined): string =>
  r ? `${f(r[0], 2)}–${f(r[1], 2)}` : 'n/a';

const medianOf = (
  rs: RoundResult[] | undefined,
  k: 'cpuMsPerRequest' | 'requestsPerSecond',
): number => median((rs ?? []).map((r) => r[k]));

function jobFor(pki: BenchPki, mode: string): Omit<LoadJob, 'port'> {
  const rsa = mode === 'new-rsa';
  const inst = rsa ? pki.rsa : pki.ec;
  return {
    host: '127.0.0.1',
    localAddress: rsa ? RSA_IP : EC_IP,
    servername: 'localhost',
    caFile: pki.server.serverCa.certPath,
    certFile: inst.client.certPath,
    keyFile: inst.client.keyPath,
    mode: mode === 'keepalive' ? 'keepalive' : 'new',
    concurrency: CONCURRENCY,
    durationMs: SECONDS * 1000,
  };
}

/** The CertificateRequest handshake message length as `openssl s_client -msg` shows it (from 127.0.0.1). */
function certificateRequestSize(port: number, pki: BenchPki): number {
  const r = spawnSync(
    'openssl',
    [
      's_client',
      '-connect',
      `127.0.0.1:${port}`,
      '-tls1_2',
      '-msg',
      '-servername',
      'localhost',
      '-CAfile',
      pki.server.serverCa.certPath,
      '-cert',
      pki.ec.client.certPath,
      '-key',
      pki.ec.client.keyPath,
    ],
    { input: 'Q\n', encoding: 'utf8', timeout: 10_000 },
  );
  const m = /<<< TLS 1\.2, Handshake \[length ([0-9a-f]+)\], CertificateRequest/.exec(r.stdout);
  if (!m)
    throw new Error(
      `no CertificateRequest in openssl s_client -msg output:\n${r.stdout.slice(0, 2000)}\n${r.stderr.slice(0, 1000)}`,
    );
  return parseInt(m[1] as string, 16);
}

const work = mkdtempSync(join(tmpdir(), 'mtlskit-bench-gw-'));
const servers: ServerProcess[] = [];
const track = <T extends ServerProcess>(s: T): T => {
  servers.push(s);
  return s;
};
const stop = async (s: ServerProcess): Promise<void> => {
  await s.stop();
  servers.splice(servers.indexOf(s), 1);
};

try {
  const startedAt = new Date();
  console.log(`# mtlskit gateway bench, ${startedAt.toISOString()}`);
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}, ${spawnSync(nginx, ['-v'], { encoding: 'utf8' }).stderr.trim()}, ${spawnSync('openssl', ['version'], { encoding: 'utf8' }).stdout.trim()}`,
  );
  console.log(
    `rounds: ${ROUNDS} x ${SECONDS} s per server, alternating; load: ${CLIENTS} client processes x ${CONCURRENCY} connections; workers: ${WORKERS}`,
  );
  const pki = await makeBenchPki(work);
  const regPath = join(work, 'registry.db');
  const reg = await openSqliteRegistry(regPath);
  await registerBenchInstitutions(reg, pki);
  await reg.close();
  const upstream = track(await startUpstream());
  const profDir = flags['cpu-prof'];
  if (profDir) mkdirSync(profDir, { recursive: true });

  const rows: string[] = [];
  for (const mode of modes) {
    const rsa = mode === 'new-rsa';
    const cert = rsa ? pki.serverRsa : pki.server.server;
    const gw = track(
      await startGatewayProcess({
        dir: work,
        label: mode,
        registry: regPath,
        upstreamPort: upstream.port,
        certFile: cert.certPath,
        keyFile: cert.keyPath,
        workers: WORKERS,
        ...(profDir ? { cpuProfDir: join(profDir, mode) } : {}),
      }),
    );
    const ngx = track(
      await startNginx({
        nginx,
        dir: work,
        certFile: cert.certPath,
        keyFile: cert.keyPath,
        clientCaFile: (rsa ? pki.rsa : pki.ec).root.certPath,
        upstreamPort: upstream.port,
        workers: WORKERS,
      }),
    );
    const clientCa = (rsa ? pki.rsa : pki.ec).root.certPath;
    const layers: FloorLayer[] = flags.layers
      ? ['tls', 'http', 'http-undici']
      : flags.floor
        ? ['tls']
        : [];
    const floors: ServerProcess[] = [];
    for (const v of variants)
      floors.push(
        track({
          ...(await startGatewayProcess({
            dir: work,
            label: `${mode}-${v.name}`,
            registry: regPath,
            upstreamPort: upstream.port,
            certFile: cert.certPath,
            keyFile: cert.keyPath,
            workers: WORKERS,
            nodeFlags: v.nodeFlags,
            ...(v.cli ? { cli: v.cli } : {}),
          })),
          name: `gateway ${v.name}`,
        }),
      );
    for (const layer of layers)
      floors.push(
        track(await startFloor(cert.certPath, cert.keyPath, clientCa, layer, upstream.port)),
      );
    const p = await paired(mode, [gw, ...floors, ngx], jobFor(pki, mode));
    const last = p.results.length - 1;
    rows.push(
      `| ${mode} | ${f(medianOf(p.results[0], 'cpuMsPerRequest'))} ms | ${f(medianOf(p.results[last], 'cpuMsPerRequest'))} ms | **${f(p.cpuRatio[0] as number, 2)}x** (${spread(p.cpuRange[0])}) | ${medianOf(p.results[0], 'requestsPerSecond').toFixed(0)} | ${medianOf(p.results[last], 'requestsPerSecond').toFixed(0)} | **${f(p.rpsRatio[0] as number, 2)}x** (${spread(p.rpsRange[0])}) |` +
        floors
          .map(
            (_, k) =>
              ` ${f(medianOf(p.results[k + 1], 'cpuMsPerRequest'))} ms (${f(p.cpuRatio[k + 1] as number, 2)}x) |`,
          )
          .join(''),
    );
    for (const fl of floors) await stop(fl);
    await stop(ngx);
    await stop(gw);
  }
  const floorNames = variants
    .map((v) => `gateway ${v.name}`)
    .concat(
      flags.layers
        ? ['node:tls floor', 'node:http', 'node:http+undici']
        : flags.floor
          ? ['node:tls floor']
          : [],
    );
  console.log('\n## gateway vs nginx (paired medians over rounds)\n');
  console.log(
    `| mode | gateway CPU/req | nginx CPU/req | CPU ratio (round range) | gateway req/s | nginx req/s | req/s ratio (round range) |${floorNames.map((n) => ` ${n} CPU/req (vs nginx) |`).join('')}`,
  );
  console.log(`|---|---|---|---|---|---|---|${floorNames.map(() => '---|').join('')}`);
  for (const r of rows) console.log(r);

  if (!flags['no-durable']) {
    const durableRows: string[] = [];
    for (const mode of ['keepalive', 'new-p256']) {
      const common = {
        dir: work,
        registry: regPath,
        upstreamPort: upstream.port,
        certFile: pki.server.server.certPath,
        keyFile: pki.server.server.keyPath,
        workers: WORKERS,
      };
      const durable = track(
        await startGatewayProcess({ ...common, label: `durable-${mode}`, durability: 'durable' }),
      );
      const batched = track(
        await startGatewayProcess({ ...common, label: `batched-${mode}`, durability: 'batched' }),
      );
      durable.name = 'durable';
      batched.name = 'batched';
      const p = await paired(`durability ${mode}`, [durable, batched], jobFor(pki, mode));
      durableRows.push(
        `| ${mode} | ${f(medianOf(p.results[0], 'cpuMsPerRequest'))} ms | ${f(medianOf(p.results[1], 'cpuMsPerRequest'))} ms | ${f(p.cpuRatio[0] as number, 2)}x | ${f(p.rpsRatio[0] as number, 2)}x |`,
      );
      await stop(durable);
      await stop(batched);
    }
    console.log('\n## audit durability: durable vs batched (paired medians)\n');
    console.log('| mode | durable CPU/req | batched CPU/req | CPU ratio | req/s ratio |');
    console.log('|---|---|---|---|---|');
    for (const r of durableRows) console.log(r);
  }

  if (MANY > 0) {
    console.log(`\n## ${MANY} institutions against 1\n`);
    const t0 = performance.now();
    const pems = await manyCaPems(MANY);
    console.error(
      `  ${MANY} CA certificates ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const manyPath = join(work, 'registry-many.db');
    const many = await openSqliteRegistry(manyPath, { pollIntervalMs: 250 });
    await registerBenchInstitutions(many, pki);
    const regMs = await registerMany(many, pems);
    console.error(`  registered in ${(regMs / 1000).toFixed(1)} s`);
    const common = {
      dir: work,
      upstreamPort: upstream.port,
      certFile: pki.server.server.certPath,
      keyFile: pki.server.server.keyPath,
      workers: WORKERS,
    };
    const one = track(await startGatewayProcess({ ...common, label: 'one', registry: regPath }));
    const big: GatewayProcess = track(
      await startGatewayProcess({ ...common, label: 'many', registry: manyPath }),
    );
    one.name = '1 institution';
    big.name = `${MANY} institutions`;
    const rssOne = treeRssKb(one.pid);
    const rssBig = treeRssKb(big.pid);
    const crOne = certificateRequestSize(one.port, pki);
    const crBig = certificateRequestSize(big.port, pki);
    const p = await paired('institutions', [big, one], jobFor(pki, 'new-p256'));

    // One institution's change under load: a new institution is registered
    // (time until its first request succeeds), then suspended (time until
    // its next connection is refused), while the load clients run.
    const newcomer = await makeInstitution(work, 'newcomer');
    const newIp = manyIp(MANY + 1);
    const probe = async (): Promise<boolean> => {
      try {
        const r = await mtlsRequest({
          port: big.port,
          ca: pki.server.serverCa.certPem,
          cert: newcomer.client.certPem,
          key: newcomer.client.keyPem,
          localAddress: newIp,
          path: '/probe',
          timeoutMs: 5_000,
        });
        return r.status === 200;
      } catch {
        return false;
      }
    };
    const timeUntil = async (want: boolean): Promise<number> => {
      const t = performance.now();
      while (performance.now() - t < 30_000) {
        if ((await probe()) === want) return performance.now() - t;
        await new Promise((r) => setTimeout(r, 10));
      }
      return NaN;
    };
    const load = runRound(big, { ...jobFor(pki, 'new-p256'), durationMs: 8_000 }, CLIENTS);
    await new Promise((r) => setTimeout(r, 1_500));
    await registerInstitution(many, newcomer.id, newcomer.root.certPem, [newIp]);
    const addMs = await timeUntil(true);
    await many.setInstitutionStatus(newcomer.id, 'suspended');
    const suspendMs = await timeUntil(false);
    const underLoad = await load;
    await many.close();
    const rssBigAfter = treeRssKb(big.pid);

    console.log('| figure | 1 institution | ' + `${MANY} institutions |`);
    console.log('|---|---|---|');
    console.log(
      `| startup (spawn to "gateway started") | ${(one.startupMs / 1000).toFixed(2)} s | ${(big.startupMs / 1000).toFixed(2)} s |`,
    );
    console.log(
      `| RSS after startup | ${(rssOne / 1024).toFixed(0)} MB | ${(rssBig / 1024).toFixed(0)} MB (${(rssBigAfter / 1024).toFixed(0)} MB after the load) |`,
    );
    console.log(`| CertificateRequest (openssl s_client -msg) | ${crOne} bytes | ${crBig} bytes |`);
    console.log(
      `| server CPU per new P-256 connection | ${f(medianOf(p.results[1], 'cpuMsPerRequest'))} ms | ${f(medianOf(p.results[0], 'cpuMsPerRequest'))} ms |`,
    );
    console.log(
      `| handshakes/s, ${MANY} vs 1 (paired median) | | ${f(p.rpsRatio[0] as number, 3)}x (CPU per handshake ${f(p.cpuRatio[0] as number, 3)}x) |`,
    );
    console.log(
      `| new institution registered -> first request accepted, under load | | ${f(addMs, 0)} ms |`,
    );
    console.log(
      `| institution suspended -> next connection refused, under load | | ${f(suspendMs, 0)} ms |`,
    );
    console.log(
      `\n(load during the change: ${underLoad.requestsPerSecond.toFixed(0)} req/s, ${underLoad.errors} error(s); registration of ${MANY} institutions through the registry library: ${(regMs / 1000).toFixed(1)} s)`,
    );
  }
  console.log(`\nfinished in ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s`);
} finally {
  for (const s of [...servers].reverse()) await s.stop().catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
}
