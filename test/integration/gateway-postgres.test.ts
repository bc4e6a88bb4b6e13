/**
 * Several gateway instances on one PostgreSQL registry, as the production
 * notes describe: two `mtls gateway start` processes (one of them with two
 * workers) share a database. Both serve the registered institution, a
 * suspension written by a management client reaches every process within a
 * second through LISTEN/NOTIFY, and every request is audited exactly once in
 * the shared registry, whichever process served it.
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { openPostgresRegistry } from '../../src/gateway/registry/postgres-registry.js';
import type { Registry } from '../../src/gateway/registry/types.js';
import { spawnJsonLogCli } from '../helpers/cli.js';
import {
  makeInstitution,
  makeServerPki,
  mtlsAttempt,
  registerInstitution,
  startEchoUpstream,
  waitFor,
  type EchoUpstream,
  type TestInstitution,
  type TestServerPki,
} from '../helpers/gateway-harness.js';
import { tempDir } from '../helpers/pki.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { Teardown } from '../helpers/teardown.js';

const { dir, cleanup } = tempDir('mtlskit-gw-pg-');
const teardown = new Teardown();
teardown.defer(cleanup);
let pki: TestServerPki;
let upstream: EchoUpstream;
let db: TestDatabase;
let registry: Registry;
let acme: TestInstitution;

interface Instance {
  child: ChildProcess;
  port: number;
  opsPort: number;
  lines: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
}
const instances: Instance[] = [];

async function startInstance(
  name: string,
  workers: number,
  registryUrl = db.url,
): Promise<Instance> {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    [
      'listen: 127.0.0.1:0',
      `upstream: ${upstream.url}`,
      `registry: ${registryUrl}`,
      'tls:',
      `  cert: ${pki.server.certPath}`,
      `  key: ${pki.server.keyPath}`,
      'ops:',
      '  listen: 127.0.0.1:0',
      'drainTimeoutMs: 3000',
      '',
    ].join('\n'),
  );
  const { child, lines, stderr, exited } = spawnJsonLogCli([
    'gateway',
    'start',
    '--config',
    path,
    '--workers',
    String(workers),
  ]);
  const startedMsg = workers > 1 ? 'gateway workers started' : 'gateway started';
  try {
    const started = await waitFor(
      () => lines.find((l) => l.msg === startedMsg),
      60_000,
      `${name} to start (stderr: ${stderr()})`,
    );
    const instance = {
      child,
      port: Number(String(started.listen).split(':').pop()),
      opsPort: Number(String(started.ops).split(':').pop()),
      lines,
      exited,
    };
    instances.push(instance);
    return instance;
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
}

before(async () => {
  pki = await makeServerPki(dir);
  upstream = teardown.use(await startEchoUpstream());
  db = await createTestDatabase('mtls_gw_shared');
  teardown.defer(() => db.drop());
  registry = teardown.use(await openPostgresRegistry(db.url));
  acme = await makeInstitution(dir, 'acme');
  await registerInstitution(registry, 'acme', acme.root.certPem, ['127.0.0.1']);
});

after(async () => {
  for (const i of instances) i.child.kill('SIGTERM');
  await Promise.all(instances.map((i) => i.exited));
  await teardown.run();
});

/** One call from acme to an instance: the status, or `closed` before the handshake. */
const attempt = (port: number, path: string): Promise<number | 'closed'> =>
  mtlsAttempt({
    port,
    ca: pki.serverCa.certPem,
    cert: acme.client.certPem,
    key: acme.client.keyPem,
    path,
  });

describe('two gateway instances on one PostgreSQL registry', { timeout: 120_000 }, () => {
  test('both serve, a suspension reaches every process, and each request is audited once', async (t) => {
    const [a, b] = await Promise.all([startInstance('a', 2), startInstance('b', 1)]);
    const paths: string[] = [];
    for (let i = 0; i < 10; i++) {
      for (const [name, inst] of [
        ['a', a],
        ['b', b],
      ] as const) {
        const path = `/pg-${name}-${i}`;
        paths.push(path);
        assert.equal(await attempt(inst.port, path), 200, `${path} served`);
      }
    }
    await waitFor(
      async () => {
        const records = await registry.queryAudit({ limit: 1000 });
        const got = records.filter((r) => r.kind === 'request' && paths.includes(r.path ?? ''));
        return got.length >= paths.length ? got : undefined;
      },
      5_000,
      'every request record in the shared registry',
    );
    const records = (await registry.queryAudit({ limit: 1000 })).filter(
      (r) => r.kind === 'request' && paths.includes(r.path ?? ''),
    );
    assert.deepEqual(
      records.map((r) => r.path).sort(),
      [...paths].sort(),
      'each request exactly once',
    );

    const suspendedAt = Date.now();
    await registry.setInstitutionStatus('acme', 'suspended');
    // Each instance, and on `a` both workers (connections land on either), must refuse.
    await waitFor(
      async () =>
        (await attempt(a.port, '/after-a')) === 'closed' &&
        (await attempt(b.port, '/after-b')) === 'closed',
      5_000,
      'the suspension to reach both instances',
    );
    const refusedWithin = Date.now() - suspendedAt;
    for (let i = 0; i < 6; i++)
      assert.equal(
        await attempt(a.port, `/after-a-${i}`),
        'closed',
        'every worker of instance a refuses',
      );
    // The 1 s goal is a benchmark figure on a shared machine, not an assertion.
    t.diagnostic(`suspension applied on both instances in ${refusedWithin} ms`);
    await registry.setInstitutionStatus('acme', 'active');
    await waitFor(
      async () =>
        (await attempt(a.port, '/back-a')) === 200 && (await attempt(b.port, '/back-b')) === 200,
      5_000,
      'reactivation to reach both instances',
    );
  });

  test('a link to PostgreSQL that hangs (no error, no answer): the gateway fails closed after the maximum staleness, then recovers', async () => {
    const link = teardown.use(await startFreezableRelay(new URL(db.url)));
    const relayed = new URL(db.url);
    relayed.host = `127.0.0.1:${link.port}`;
    const c = await startInstance('hang', 1, relayed.toString());
    // A second instance on the same link, stopped while it hangs.
    const stopped = await startInstance('hang-stop', 1, relayed.toString());
    assert.equal(await attempt(c.port, '/before-hang'), 200);
    const reasons = (): string[] =>
      c.lines.flatMap((l) =>
        typeof l.audit === 'object' && l.audit !== null
          ? [String((l.audit as { reason?: unknown }).reason)]
          : [],
      );
    link.freeze();
    try {
      await hangThenRecover(c, link, reasons, stopped);
    } finally {
      link.thaw();
      for (const i of [c, stopped]) if (i.child.exitCode === null) i.child.kill('SIGKILL');
    }
  });
});

/** The hang test's body, with the link frozen: fails closed, then recovers once thawed. */
async function hangThenRecover(
  c: Instance,
  link: { thaw(): void },
  reasons: () => string[],
  stopped: Instance,
): Promise<void> {
  const frozenAt = Date.now();
  // Meanwhile, SIGTERM to the other instance once its heartbeat query hangs
  // (one is asked every second): the last audit write and the registry's
  // close are given up on after 5 s each, and the process exits.
  const stopping = (async () => {
    await new Promise((r) => setTimeout(r, 2_500));
    const termAt = Date.now();
    stopped.child.kill('SIGTERM');
    return { code: await stopped.exited, took: Date.now() - termAt };
  })();
  // Written past the hung link: this instance cannot learn of it.
  await registry.setInstitutionStatus('acme', 'suspended');
  const refused = await waitFor(
    async () => {
      const r = await attempt(c.port, '/during-hang');
      return r === 'closed' && reasons().includes('registry_unavailable') ? r : null;
    },
    20_000,
    'refusals as registry_unavailable while the link hangs',
  );
  assert.equal(refused, 'closed');
  const took = Date.now() - frozenAt;
  // The maximum staleness (5 s) from the heartbeat that went unanswered, not TCP's 15 minutes.
  assert.ok(took >= 4_000 && took < 12_000, `failed closed after ${took} ms`);
  const ready = await fetch(`http://127.0.0.1:${c.opsPort}/readyz`);
  assert.equal(ready.status, 503);
  assert.match(JSON.stringify(await ready.json()), /registry/);

  const stop = await stopping;
  assert.equal(stop.code, 0);
  assert.ok(stop.took < 20_000, `stopped in ${stop.took} ms`);
  assert.ok(
    stopped.lines.some((l) => l.msg === 'the registry did not close in time; stopping without it'),
  );

  link.thaw();
  await waitFor(
    async () =>
      (await fetch(`http://127.0.0.1:${c.opsPort}/readyz`)).status === 200 ? true : null,
    20_000,
    '/readyz 200 once the link answers again',
  );
  // The suspension written during the hang applies.
  assert.equal(await attempt(c.port, '/after-hang'), 'closed');
  await waitFor(
    () => (reasons().includes('institution_suspended') ? true : null),
    5_000,
    'the refusal as institution_suspended',
  );
  await registry.setInstitutionStatus('acme', 'active');
  await waitFor(
    async () => ((await attempt(c.port, '/back-after-hang')) === 200 ? true : null),
    5_000,
    'reactivation to reach the instance',
  );
  c.child.kill('SIGTERM');
  assert.equal(await c.exited, 0);
}

/**
 * A TCP relay to PostgreSQL whose link can hang: frozen, it stops moving
 * bytes either way and opens no new upstream connection, but closes nothing,
 * as a partition that drops packets does.
 */
async function startFreezableRelay(target: URL): Promise<{
  port: number;
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}> {
  let frozen = false;
  const pairs = new Set<[net.Socket, net.Socket]>();
  const waiting: Array<() => void> = [];
  const clients = new Set<net.Socket>();
  const server = net.createServer((client) => {
    clients.add(client);
    client.once('close', () => clients.delete(client));
    client.on('error', () => undefined);
    const connect = (): void => {
      const upstreamSocket = net.connect(Number(target.port || 5432), target.hostname);
      upstreamSocket.on('error', () => client.destroy());
      client.on('close', () => upstreamSocket.destroy());
      upstreamSocket.on('close', () => client.destroy());
      client.pipe(upstreamSocket);
      upstreamSocket.pipe(client);
      const pair: [net.Socket, net.Socket] = [client, upstreamSocket];
      pairs.add(pair);
      client.once('close', () => pairs.delete(pair));
    };
    if (frozen) {
      client.pause();
      waiting.push(connect);
    } else connect();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    freeze: () => {
      frozen = true;
      for (const [a, b] of pairs) {
        a.unpipe();
        b.unpipe();
        a.pause();
        b.pause();
      }
    },
    thaw: () => {
      frozen = false;
      for (const [a, b] of pairs) {
        a.pipe(b);
        b.pipe(a);
      }
      for (const connect of waiting.splice(0)) connect();
    },
    close: async () => {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      for (const client of clients) client.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
