/**
 * How long a newly registered institution waits for its first accepted
 * request when N institutions are registered: an in-process gateway on a copy
 * of bench/trust-startup.ts's registry, a second registry handle (as another
 * process would write) registering the newcomer (institution, CA chain, IP:
 * three registry writes), then a probe from the newcomer's IP every 10 ms
 * until a request succeeds. Each registry change the gateway applied is
 * listed with its time after the registration returned.
 *
 *   npx tsx bench/trust-newcomer.ts --many 2000 [--rounds 3] [--load C] [--dir DIR]
 *
 * --load C keeps C request loops running during the rounds (a full handshake
 * per request, from one more registered institution's IP); they run in this
 * process, so they load the gateway's event loop as real clients would, and
 * add the client side's TLS work on top.
 *
 * Run bench/trust-startup.ts with the same --many first (it builds the registry).
 */
import 'reflect-metadata';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { validateCaChain } from '../src/gateway/onboarding.js';
import { openSqliteRegistry } from '../src/gateway/registry/sqlite-registry.js';
import {
  makeInstitution,
  makeServerPki,
  mtlsRequest,
  startEchoUpstream,
  startTestGateway,
  type TestInstitution,
} from '../test/helpers/gateway-harness.js';
import { manyIp } from './gateway-fixtures.js';

const { values } = parseArgs({
  options: {
    many: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '3' },
    load: { type: 'string', default: '0' },
    dir: { type: 'string', default: join(tmpdir(), 'mtlskit-trust-startup') },
  },
});
const n = Number(values.many);
const source = join(values.dir, `registry-${n}.db`);
if (!existsSync(source)) {
  console.error(`no ${source}: run bench/trust-startup.ts --many ${n} first`);
  process.exit(2);
}
const work = mkdtempSync(join(tmpdir(), 'mtlskit-newcomer-'));
const path = join(work, 'registry.db');
copyFileSync(source, path);
const upstream = await startEchoUpstream();
const pki = await makeServerPki(work);
const gatewayRegistry = await openSqliteRegistry(path, { pollIntervalMs: 100 });
const writer = await openSqliteRegistry(path, { pollIntervalMs: 100 });
const t = performance.now();
const gw = await startTestGateway({ registry: gatewayRegistry, upstream: upstream.url, pki });
console.log(`${n} institutions: startGateway ${(performance.now() - t).toFixed(0)} ms`);

/** True when the newcomer's request from its own IP is answered 200. */
async function accepted(who: TestInstitution, ip: string): Promise<boolean> {
  try {
    const r = await mtlsRequest({
      port: gw.port,
      ca: pki.serverCa.certPem,
      cert: who.client.certPem,
      key: who.client.keyPem,
      localAddress: ip,
      path: '/probe',
      timeoutMs: 5_000,
    });
    return r.status === 200;
  } catch {
    return false;
  }
}

const results: number[] = [];
const load = { running: true };
let loadRequests = 0;
let loadErrors = 0;
const loops: Array<Promise<void>> = [];
const loadCount = Number(values.load);
if (loadCount > 0) {
  const loader = await makeInstitution(work, 'loader');
  const ip = manyIp(n + 1000);
  const v = validateCaChain(loader.root.certPem, { source: 'loader.pem' });
  await writer.createInstitution({ id: loader.id, name: loader.id });
  await writer.addCaChain(loader.id, {
    pem: v.pem,
    fingerprints: v.fingerprints,
    subject: v.subject,
    notAfter: v.notAfter,
  });
  await writer.addIp(loader.id, ip);
  while (!(await accepted(loader, ip))) await new Promise((r) => setTimeout(r, 20));
  for (let i = 0; i < loadCount; i++)
    loops.push(
      (async () => {
        while (load.running) {
          if (await accepted(loader, ip)) loadRequests++;
          else loadErrors++;
        }
      })(),
    );
  await new Promise((r) => setTimeout(r, 1_000));
}
const loadStart = performance.now();
try {
  for (let round = 0; round < Number(values.rounds); round++) {
    const who = await makeInstitution(work, `newcomer-${round}`);
    const ip = manyIp(n + 1 + round);
    const v = validateCaChain(who.root.certPem, { source: `${who.id}.pem` });
    const logFrom = gw.lines.length;
    await writer.createInstitution({ id: who.id, name: who.id });
    await writer.addCaChain(who.id, {
      pem: v.pem,
      fingerprints: v.fingerprints,
      subject: v.subject,
      notAfter: v.notAfter,
    });
    await writer.addIp(who.id, ip);
    const t0 = performance.now();
    const wall0 = Date.now();
    let ms = NaN;
    while (performance.now() - t0 < 30_000) {
      if (await accepted(who, ip)) {
        ms = performance.now() - t0;
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    results.push(ms);
    const applied = gw.lines
      .slice(logFrom)
      .filter((l) => l.msg === 'registry change applied')
      .map((l) => `${Number(l.time) - wall0} ms`);
    console.log(
      `round ${round}: first accepted request after ${ms.toFixed(0)} ms (changes applied at ${applied.join(', ') || 'none'})`,
    );
  }
} finally {
  load.running = false;
  await Promise.all(loops);
  if (loadCount > 0)
    console.log(
      `load: ${((loadRequests * 1000) / (performance.now() - loadStart)).toFixed(0)} req/s from ${loadCount} loops, ${loadErrors} failed`,
    );
  await gw.close();
  await writer.close();
  await gatewayRegistry.close();
  await upstream.close();
  rmSync(work, { recursive: true, force: true });
}
const sorted = [...results].sort((a, b) => a - b);
console.log(
  `newcomer latency with ${n} institutions: median ${(sorted[Math.floor(sorted.length / 2)] ?? NaN).toFixed(0)} ms over ${results.length} rounds`,
);
