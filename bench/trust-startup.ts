/**
 * Where a gateway's start-up goes with many institutions: builds (or reuses)
 * a registry of N institutions, each with its own CA and IP, then times the
 * steps of the trust snapshot's first build one by one (registry read, full
 * build). Run it under `node --cpu-prof` for the function-level picture:
 *
 *   npx tsx bench/trust-startup.ts --many 2000 [--dir DIR] [--gateway]
 *
 * --gateway also times a whole in-process `startGateway` on that registry.
 *   node --cpu-prof --cpu-prof-dir DIR --import tsx bench/trust-startup.ts --many 2000
 */
import 'reflect-metadata';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openSqliteRegistry } from '../src/gateway/registry/sqlite-registry.js';
import { buildSnapshot } from '../src/gateway/trust-cache.js';
import { makeServerPki, startTestGateway } from '../test/helpers/gateway-harness.js';
import { manyCaPems, registerMany } from './gateway-fixtures.js';

const { values } = parseArgs({
  options: {
    many: { type: 'string', default: '2000' },
    dir: { type: 'string', default: join(tmpdir(), 'mtlskit-trust-startup') },
    gateway: { type: 'boolean', default: false },
  },
});
const n = Number(values.many);
mkdirSync(values.dir, { recursive: true });
const path = join(values.dir, `registry-${n}.db`);
const fresh = !existsSync(path);
const registry = await openSqliteRegistry(path);
if (fresh) {
  const t = performance.now();
  const pems = await manyCaPems(n);
  const ms = await registerMany(registry, pems);
  console.log(
    `registered ${n} institutions in ${(ms / 1000).toFixed(1)} s (CAs ready after ${((performance.now() - t - ms) / 1000).toFixed(1)} s)`,
  );
}
const t0 = performance.now();
const trust = await registry.loadTrust();
const t1 = performance.now();
const snapshot = await buildSnapshot(trust, await registry.version(), 1);
const t2 = performance.now();
console.log(
  `${snapshot.institutions.size} institutions: registry read ${(t1 - t0).toFixed(0)} ms, snapshot build ${(t2 - t1).toFixed(0)} ms (${((t2 - t1) / n).toFixed(2)} ms per institution)`,
);
if (values.gateway) {
  const pki = await makeServerPki(values.dir);
  const t3 = performance.now();
  const gw = await startTestGateway({ registry, upstream: 'http://127.0.0.1:9', pki });
  const t4 = performance.now();
  console.log(`startGateway: ${(t4 - t3).toFixed(0)} ms`);
  await gw.close();
}
await registry.close();
