/**
 * `mtls gateway start` as an operator runs it (the built CLI, a real
 * process): clear errors for a bad config and a corrupt registry, SIGHUP
 * with a broken credential, and SIGTERM with requests in flight.
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { LATEST_SCHEMA_VERSION } from '../../src/gateway/registry/index.js';
import { writeOldRegistry } from '../helpers/old-registry.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { openSqliteRegistry } from '../../src/gateway/registry/sqlite-registry.js';
import { spawnJsonLogCli } from '../helpers/cli.js';
import { makeLeaf, makeServerLeaf, tempDir } from '../helpers/pki.js';
import {
  makeInstitution,
  makeServerPki,
  mtlsRequest,
  openTestRegistry,
  registerInstitution,
  run,
  startEchoUpstream,
  waitFor,
  type EchoUpstream,
  type TestInstitution,
  type TestServerPki,
} from '../helpers/gateway-harness.js';
import { Teardown } from '../helpers/teardown.js';
import { errorCode } from '../helpers/assert.js';

const CLI = 'dist/bin/mtls.js';
const { dir, cleanup } = tempDir('mtlskit-gw-cli-');
const teardown = new Teardown();
teardown.defer(cleanup);
let pki: TestServerPki;
let upstream: EchoUpstream;
let acme: TestInstitution;
let registryPath: string;

before(async () => {
  pki = await makeServerPki(dir);
  upstream = teardown.use(await startEchoUpstream());
  acme = await makeInstitution(dir, 'acme');
  const registry = await openTestRegistry(dir);
  registryPath = registry.path;
  await registerInstitution(registry, 'acme', acme.root.certPem, ['127.0.0.1']);
  await registry.close();
});

after(() => teardown.run());

function writeConfig(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, body);
  return path;
}

const goodConfig = (): string =>
  [
    'listen: 127.0.0.1:0',
    `upstream: ${upstream.url}`,
    `registry: ${registryPath}`,
    'tls:',
    `  cert: ${pki.server.certPath}`,
    `  key: ${pki.server.keyPath}`,
    'ops:',
    '  listen: 127.0.0.1:0',
    'registryPollMs: 100',
    // One process: the drain test below expects ECONNREFUSED right after the
    // first "draining" line, which several workers sharing a socket cannot
    // promise (gateway-workers.test.ts covers them).
    'workers: 1',
    '',
  ].join('\n');

/** `mtls gateway start ARGS`, to its exit. */
const gatewayStart = (...args: string[]) =>
  run(process.execPath, [CLI, 'gateway', 'start', ...args]);

/** A running CLI gateway with its parsed JSON log lines. */
interface CliGateway {
  child: ChildProcess;
  port: number;
  lines: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
}

async function startCli(configPath: string): Promise<CliGateway> {
  const { child, lines, stderr, exited } = spawnJsonLogCli([
    'gateway',
    'start',
    '--config',
    configPath,
  ]);
  const started = await waitFor(
    () => lines.find((l) => l.msg === 'gateway started'),
    15_000,
    `gateway start (stderr: ${stderr()})`,
  );
  const port = Number(String(started.listen).split(':').pop());
  return { child, port, lines, exited };
}

describe('mtls gateway start', () => {
  test('a bad config gives a clear error naming the key and the fix (exit 3)', async () => {
    const typo = writeConfig('typo.yaml', goodConfig().replace('upstream:', 'upstrem:'));
    const r1 = await gatewayStart('--config', typo);
    assert.equal(r1.code, 3);
    assert.match(r1.stderr, /error\[MTLS_CONFIG_INVALID\]/);
    assert.match(r1.stderr, /unknown key `upstrem`; did you mean `upstream`\?/);

    const badListen = writeConfig(
      'listen.yaml',
      goodConfig().replace('listen: 127.0.0.1:0', 'listen: 127.0.0.1:99999'),
    );
    const r2 = await gatewayStart('--config', badListen);
    assert.equal(r2.code, 3);
    assert.match(
      r2.stderr,
      /key `listen`: .*port "99999" must be 0 to 65535.*fix: write HOST:PORT/,
    );

    const badType = writeConfig('type.yaml', `${goodConfig()}limits:\n  maxBodyBytes: lots\n`);
    const r3 = await gatewayStart('--config', badType);
    assert.equal(r3.code, 3);
    assert.match(r3.stderr, /key `limits\.maxBodyBytes`: "lots" is not a size/);

    const noCred = writeConfig('nocred.yaml', goodConfig().replace(/tls:\n.*\n.*\n/, ''));
    const r4 = await gatewayStart('--config', noCred);
    assert.equal(r4.code, 3);
    assert.match(r4.stderr, /no server credential/);

    const yamlBroken = writeConfig('broken.yaml', 'listen: [unclosed\n');
    const r5 = await gatewayStart('--config', yamlBroken);
    assert.equal(r5.code, 3);
    assert.match(r5.stderr, /is not valid YAML/);
  });

  test('--check validates config, credential and registry without serving', async () => {
    const r = await gatewayStart('--config', writeConfig('check.yaml', goodConfig()), '--check');
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `configuration OK; server certificate .*CN=localhost.*\\(schema ${LATEST_SCHEMA_VERSION}\\): 1 institution\\(s\\)`,
      ),
    );
    assert.doesNotMatch(r.stderr, /warning/, 'a 0600 key draws no warning');
  });

  test('--check warns about a server certificate that expires within 14 days, with the fix', async () => {
    const soon = await makeServerLeaf(dir, pki.serverCa, { days: 5, file: 'short-lived' });
    const cfg = writeConfig(
      'short-lived.yaml',
      goodConfig()
        .replace(`cert: ${pki.server.certPath}`, `cert: ${soon.certPath}`)
        .replace(`key: ${pki.server.keyPath}`, `key: ${soon.keyPath}`),
    );
    const r = await gatewayStart('--config', cfg, '--check');
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /warning: the server certificate in .*short-lived\.cert\.pem.* expires on \S+ \(in 4 days\); fix: renew it, then reload the gateway \(SIGHUP\)/,
    );
  });

  test('--check and the start warn about a key file others may read, and say how to fix it', async () => {
    const openKey = join(dir, 'open.key.pem');
    writeFileSync(openKey, pki.server.keyPem, { mode: 0o600 });
    chmodSync(openKey, 0o644);
    const cfg = writeConfig(
      'open-key.yaml',
      goodConfig().replace(`key: ${pki.server.keyPath}`, `key: ${openKey}`),
    );
    const r = await gatewayStart('--config', cfg, '--check');
    assert.equal(r.code, 0, 'a warning, not a refusal: the key is still the right key');
    assert.match(
      r.stderr,
      /warning: server private key .*open\.key\.pem is accessible to group or others \(mode 0644\); fix: chmod 600 /,
    );
    const gw = await startCli(cfg);
    try {
      const line = await waitFor(
        () => gw.lines.find((l) => l.credentialWarning === true),
        5_000,
        'the warning in the log',
      );
      assert.match(String(line.msg), /chmod 600/);
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  });

  test('--check refuses what the start would: a missing or short admin token, a client certificate as the server certificate; it warns about secret files others may read', async () => {
    const check = async (name: string, body: string) => {
      const r = await gatewayStart('--config', writeConfig(name, body), '--check');
      return { ...r, out: r.stdout + r.stderr };
    };
    const withToken = (path: string): string =>
      `${goodConfig()}admin:\n  listen: 127.0.0.1:0\n  tokenFile: ${path}\n`;
    const missing = await check('no-token.yaml', withToken(join(dir, 'absent.token')));
    assert.equal(missing.code, 3, missing.out);
    assert.match(
      missing.out,
      /error\[MTLS_CONFIG_INVALID\]: admin\.tokenFile not found: .*absent\.token/,
    );
    const shortToken = join(dir, 'short.token');
    writeFileSync(shortToken, 'abc123\n', { mode: 0o600 });
    const short = await check('short-token.yaml', withToken(shortToken));
    assert.equal(short.code, 3, short.out);
    assert.match(short.out, /holds a token shorter than 16 characters/);

    const client = await makeLeaf(dir, pki.serverCa, { file: 'not-a-server' });
    const asServer = await check(
      'client-as-server.yaml',
      goodConfig()
        .replace(`cert: ${pki.server.certPath}`, `cert: ${client.certPath}`)
        .replace(`key: ${pki.server.keyPath}`, `key: ${client.keyPath}`),
    );
    assert.equal(asServer.code, 3, asServer.out);
    assert.match(
      asServer.out,
      /the server certificate in .*not-a-server.* is not for serverAuth: its extended key usage allows only clientAuth/,
    );

    const openToken = join(dir, 'open.token');
    writeFileSync(openToken, `${'f'.repeat(32)}\n`);
    chmodSync(openToken, 0o644);
    const open = await check('open-token.yaml', withToken(openToken));
    assert.equal(open.code, 0, open.out);
    assert.match(
      open.out,
      /warning: admin token file \(admin\.tokenFile\) .*open\.token is accessible to group or others \(mode 0644\); fix: chmod 600/,
    );
  });

  test('a listen address in use: exit 6, naming the address and its key, the mTLS listener and the ops listener alike', async () => {
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      for (const [key, body] of [
        ['listen', goodConfig().replace('listen: 127.0.0.1:0', `listen: 127.0.0.1:${port}`)],
        [
          'ops.listen',
          goodConfig().replace('ops:\n  listen: 127.0.0.1:0', `ops:\n  listen: 127.0.0.1:${port}`),
        ],
      ] as const) {
        const r = await gatewayStart('--config', writeConfig(`in-use-${key}.yaml`, body));
        assert.equal(r.code, 6, r.stderr);
        assert.match(
          r.stderr,
          new RegExp(
            `error\\[MTLS_NETWORK\\]: cannot listen on 127\\.0\\.0\\.1:${port} \\(${key.replace('.', '\\.')}\\): .*EADDRINUSE`,
          ),
        );
        assert.match(r.stderr, new RegExp(`hint: Another process holds 127\\.0\\.0\\.1:${port}`));
      }
    } finally {
      holder.close();
    }
  });

  test('a bad value from a flag or an environment variable is blamed on it, not on the configuration file', async () => {
    const cfg = writeConfig('fine.yaml', goodConfig());
    const flag = await gatewayStart('--config', cfg, '--workers', 'abc', '--check');
    assert.equal(flag.code, 3, flag.stderr);
    assert.match(
      flag.stderr,
      /error\[MTLS_CONFIG_INVALID\]: flags and environment: key `workers`: .*\(got "abc"\).*\(the value comes from the flag --workers\)\nhint: Fix the flag --workers\./,
    );
    assert.doesNotMatch(flag.stderr, /fine\.yaml/);
    const fromEnv = spawnSync(
      process.execPath,
      [CLI, 'gateway', 'start', '--config', cfg, '--check'],
      { env: { ...process.env, MTLS_GATEWAY_LISTEN: 'localhost' }, encoding: 'utf8' },
    );
    assert.equal(fromEnv.status, 3, fromEnv.stderr);
    assert.match(
      fromEnv.stderr,
      /key `listen`: "localhost" has no port.*\(the value comes from the environment variable MTLS_GATEWAY_LISTEN\)\nhint: Fix the environment variable MTLS_GATEWAY_LISTEN\./,
    );
  });

  test('a corrupt registry file gives a clear error at start (exit 3)', async () => {
    const corrupt = join(dir, 'corrupt.db');
    writeFileSync(corrupt, 'this is not a sqlite database, just text '.repeat(200));
    const cfg = writeConfig(
      'corrupt.yaml',
      goodConfig().replace(`registry: ${registryPath}`, `registry: ${corrupt}`),
    );
    const r = await gatewayStart('--config', cfg);
    assert.equal(r.code, 3);
    assert.match(
      r.stderr,
      /error\[MTLS_CONFIG_INVALID\]: registry file .*corrupt\.db is not a SQLite database/,
    );
    assert.match(r.stderr, /hint: /);
  });

  test('a registry path that does not exist is refused at start, naming the path, and nothing is created (exit 3)', async () => {
    for (const workers of ['1', '2']) {
      const missing = join(dir, `missing-${workers}.db`);
      const cfg = writeConfig(
        `missing-${workers}.yaml`,
        goodConfig().replace(`registry: ${registryPath}`, `registry: ${missing}`),
      );
      const r = await gatewayStart('--config', cfg, '--workers', workers);
      assert.equal(r.code, 3, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `error\\[MTLS_CONFIG_INVALID\\]: registry file .*missing-${workers}\\.db does not exist`,
        ),
      );
      assert.match(r.stderr, /hint: .*institution add/);
      assert.equal(existsSync(missing), false, 'no empty registry was created');
    }
  });

  test('--check on a registry an older build wrote: names its schema and that the start migrates it, and changes nothing', async () => {
    const old = join(dir, 'schema6.db');
    writeOldRegistry(old, 6, (db) =>
      db.prepare(`INSERT INTO institutions VALUES ('old', 'Old', 'active', 'x', 'x')`).run(),
    );
    const cfg = writeConfig(
      'schema6.yaml',
      goodConfig().replace(`registry: ${registryPath}`, `registry: ${old}`),
    );
    const r = await gatewayStart('--config', cfg, '--check');
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `schema6\\.db \\(schema 6; the start migrates it to ${LATEST_SCHEMA_VERSION}\\): 1 institution\\(s\\)`,
      ),
    );
    const after = new Database(old, { readonly: true });
    try {
      const v = after.prepare('SELECT MAX(version) AS v FROM schema_version').get() as {
        v: number;
      };
      assert.equal(v.v, 6, 'the check migrated nothing');
    } finally {
      after.close();
    }
  });

  test('--check never prints the password of a PostgreSQL URL, and says where it belongs; an empty schema is left uncreated', async () => {
    const db = await createTestDatabase('mtls_check');
    try {
      const url = new URL(db.url);
      url.password = 'check-secret-pw';
      const cfg = writeConfig(
        'pg-check.yaml',
        goodConfig().replace(`registry: ${registryPath}`, `registry: "${url.toString()}"`),
      );
      const r = await gatewayStart('--config', cfg, '--check');
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stdout + r.stderr, /check-secret-pw/);
      assert.match(
        r.stderr,
        /warning: the registry URL postgres:\/\/[^:]+:\*\*\*@.* holds a password.*PGPASSFILE or PGPASSWORD/,
      );
      assert.match(
        r.stderr + r.stdout,
        new RegExp(
          `registry postgres://[^:]+:\\*\\*\\*@[^ ]+/${db.name} \\(empty; the start creates its schema`,
        ),
      );
    } finally {
      await db.drop();
    }
  });

  test('a rolling upgrade: a registry a newer build migrated serves with a warning when that build declares this one compatible; otherwise refused (exit 3)', async () => {
    const shared = join(dir, 'rolling.db');
    const reg = await openSqliteRegistry(shared);
    await registerInstitution(reg, 'acme', acme.root.certPem, ['127.0.0.1']);
    await reg.close();
    const next = LATEST_SCHEMA_VERSION + 1;
    const bump = (version: number, compatibleFrom: number): void => {
      const db = new Database(shared);
      db.prepare(
        'INSERT INTO schema_version (version, description, applied_at, compatible_from) VALUES (?, ?, ?, ?)',
      ).run(version, 'a later build', new Date().toISOString(), compatibleFrom);
      db.close();
    };
    bump(next, LATEST_SCHEMA_VERSION);
    const cfg = writeConfig(
      'rolling.yaml',
      goodConfig().replace(`registry: ${registryPath}`, `registry: ${shared}`),
    );
    const check = await gatewayStart('--config', cfg, '--check');
    assert.equal(check.code, 0, check.stderr);
    assert.match(
      check.stderr,
      new RegExp(`warning: the registry's schema version ${next} is newer`),
    );
    assert.match(check.stderr, new RegExp(`\\(schema ${next}\\): 1 institution`));
    const gw = await startCli(cfg);
    try {
      const warning = await waitFor(
        () => gw.lines.find((l) => /newer than this build/.test(String(l.msg))),
        5_000,
        'the schema warning',
      );
      assert.equal(warning.level, 40, 'a warning');
      assert.match(
        String(warning.msg),
        new RegExp(`schema version ${next} is newer.*upgrade mtlskit here`),
      );
      const res = await mtlsRequest({
        port: gw.port,
        ca: pki.serverCa.certPem,
        cert: acme.client.certPem,
        key: acme.client.keyPem,
        path: '/rolling',
      });
      assert.equal(res.status, 200, 'it serves');
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
    bump(next + 1, next + 1);
    const r = await gatewayStart('--config', cfg);
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `error\\[MTLS_CONFIG_UNSUPPORTED\\]: .*rolling\\.db has registry schema version ${next + 1}, newer than this mtlskit understands \\(${LATEST_SCHEMA_VERSION}\\); builds of schema ${next + 1} or later may use it`,
      ),
    );
    assert.match(r.stderr, /hint: Upgrade mtlskit on this host/);
  });

  test('SIGHUP with a broken credential keeps serving with the old one', async () => {
    const keyCopy = join(dir, 'hup.key.pem');
    writeFileSync(keyCopy, pki.server.keyPem, { mode: 0o600 });
    const cfg = writeConfig(
      'hup.yaml',
      goodConfig().replace(`key: ${pki.server.keyPath}`, `key: ${keyCopy}`),
    );
    const gw = await startCli(cfg);
    try {
      writeFileSync(keyCopy, 'garbage');
      gw.child.kill('SIGHUP');
      const failed = await waitFor(
        () =>
          gw.lines.find(
            (l) =>
              l.msg === 'server credential reload failed; the previous credential stays in service',
          ),
        5_000,
        'reload failure log',
      );
      assert.match(JSON.stringify(failed.err), /hup\.key\.pem/);
      const res = await mtlsRequest({
        port: gw.port,
        ca: pki.serverCa.certPem,
        cert: acme.client.certPem,
        key: acme.client.keyPem,
        path: '/after-hup',
      });
      assert.equal(res.status, 200);
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  });

  test('SIGTERM with requests in flight: they complete, then the process exits 0', async () => {
    const gw = await startCli(writeConfig('drain.yaml', goodConfig()));
    const before = upstream.requests.length;
    const inFlight = [1, 2, 3].map((i) =>
      mtlsRequest({
        port: gw.port,
        ca: pki.serverCa.certPem,
        cert: acme.client.certPem,
        key: acme.client.keyPem,
        path: `/slow?ms=1000&n=${i}`,
      }),
    );
    await waitFor(
      () => upstream.requests.length >= before + 3,
      5_000,
      'the three requests to reach the upstream',
    );
    gw.child.kill('SIGTERM');
    await waitFor(() => gw.lines.find((l) => l.msg === 'draining'), 5_000, 'drain start');
    const refused = await mtlsRequest({
      port: gw.port,
      ca: pki.serverCa.certPem,
      cert: acme.client.certPem,
      key: acme.client.keyPem,
      path: '/late',
    }).then(() => 'served', errorCode);
    assert.equal(refused, 'ECONNREFUSED', 'no new connections while draining');
    const results = await Promise.all(inFlight);
    assert.deepEqual(
      results.map((r) => r.status),
      [200, 200, 200],
    );
    assert.equal(await gw.exited, 0);
    assert.ok(gw.lines.some((l) => l.msg === 'gateway stopped'));
    const audited = gw.lines.filter(
      (l) =>
        (l.audit as { kind?: string } | undefined)?.kind === 'request' &&
        String((l.audit as { path?: string }).path) === '/slow',
    );
    assert.equal(audited.length, 3, 'each drained request is in the audit log');
  });
});
