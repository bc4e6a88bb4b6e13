/**
 * `mtls gateway start --workers 2` as an operator runs it (the built CLI, real
 * processes): two workers share the mTLS port and one SQLite registry; a
 * burst is served by both and audited exactly once per request; /metrics and
 * /readyz cover every worker; a registry change reaches every worker within
 * 1 s; SIGHUP reloads every worker's certificate; a worker killed with -9 is
 * restarted while the other serves; SIGTERM drains and leaves no process; a
 * worker that cannot start makes the supervisor give up with the reason.
 * Only the primary downloads registered CRLs (each download's TCP socket is
 * traced to its process through /proc), and every worker applies what it
 * stored.
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import {
  copyFileSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import { buildCrl } from '../../src/pki/crl.js';
import https from 'node:https';
import { join } from 'node:path';
import tls from 'node:tls';
import {
  openSqliteRegistry,
  type SqliteRegistry,
} from '../../src/gateway/registry/sqlite-registry.js';
import { CLI, spawnJsonLogCli } from '../helpers/cli.js';
import {
  makeInstitution,
  makeServerPki,
  mtlsAttempt,
  mtlsRequest,
  registerInstitution,
  run,
  startEchoUpstream,
  waitFor,
  type EchoUpstream,
  type TestInstitution,
  type TestServerPki,
  gatewayClientTls,
} from '../helpers/gateway-harness.js';
import { makeLeaf, makeServerLeaf, tempDir, type TestCa } from '../helpers/pki.js';
import { Teardown } from '../helpers/teardown.js';
import { auditRecord } from '../helpers/audit-record.js';
import { errorCode } from '../helpers/assert.js';
import { alertRuleMetricNames, havePromtool, promtool } from '../helpers/promtool.js';

type Line = Record<string, unknown>;

const { dir, cleanup } = tempDir('mtlskit-gw-workers-');
const teardown = new Teardown();
teardown.defer(cleanup);
const registryPath = join(dir, 'registry.db');
let pki: TestServerPki;
let upstream: EchoUpstream;
let registry: SqliteRegistry;
let acme: TestInstitution;
let beta: TestInstitution;
const BETA_IP = '127.0.0.31';

before(async () => {
  pki = await makeServerPki(dir);
  upstream = teardown.use(await startEchoUpstream());
  registry = teardown.use(await openSqliteRegistry(registryPath, { pollIntervalMs: 100 }));
  acme = await makeInstitution(dir, 'acme');
  beta = await makeInstitution(dir, 'beta');
  await registerInstitution(registry, 'acme', acme.root.certPem, ['127.0.0.1']);
  await registerInstitution(registry, 'beta', beta.root.certPem, [BETA_IP]);
});

after(() => teardown.run());

/** A config whose server credential is a copy the test may replace or delete. */
function writeConfig(
  name: string,
  extra: string[] = [],
  registry = registryPath,
): { path: string; certPath: string; keyPath: string } {
  const certPath = join(dir, `${name}.cert.pem`);
  const keyPath = join(dir, `${name}.key.pem`);
  copyFileSync(pki.server.certPath, certPath);
  copyFileSync(pki.server.keyPath, keyPath);
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    [
      'listen: 127.0.0.1:0',
      `upstream: ${upstream.url}`,
      `registry: ${registry}`,
      'tls:',
      `  cert: ${certPath}`,
      `  key: ${keyPath}`,
      'ops:',
      '  listen: 127.0.0.1:0',
      'drainTimeoutMs: 5000',
      ...extra,
      '',
    ].join('\n'),
  );
  return { path, certPath, keyPath };
}

/** What a call as acme on a new connection needs (the port and path vary). */
const acmeCall = (port: number, path: string) => ({
  port,
  ca: pki.serverCa.certPem,
  cert: acme.client.certPem,
  key: acme.client.keyPem,
  path,
});
/** One call as acme on a new connection. */
const acmeRequest = (port: number, path: string) => mtlsRequest(acmeCall(port, path));

/** A running `mtls gateway start --workers 2` with its parsed JSON log lines. */
interface WorkersCli {
  child: ChildProcess;
  port: number;
  opsPort: number;
  /** The admin API's base URL, or null when it is off. */
  adminUrl: string | null;
  lines: Line[];
  stderr: () => string;
  exited: Promise<number | null>;
}

async function startWorkersCli(configPath: string): Promise<WorkersCli> {
  const cli = spawnJsonLogCli(['gateway', 'start', '--config', configPath, '--workers', '2']);
  let started: Line;
  try {
    // Generous: three Node processes start, and the machine may be busy.
    started = await waitFor(
      () => cli.lines.find((l) => l.msg === 'gateway workers started'),
      60_000,
      `workers start (stderr: ${cli.stderr()})`,
    );
  } catch (e) {
    // Its workers exit with it (node:cluster), so nothing is left behind.
    cli.child.kill('SIGKILL');
    throw e;
  }
  return {
    child: cli.child,
    port: Number(String(started.listen).split(':').pop()),
    opsPort: Number(String(started.ops).split(':').pop()),
    adminUrl: typeof started.admin === 'string' ? started.admin : null,
    lines: cli.lines,
    stderr: () => cli.stderr(),
    exited: cli.exited,
  };
}

/** A plain-HTTP request to 127.0.0.1 (ops listener, loopback admin API). */
function httpCall(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: options.method ?? 'GET', headers: options.headers ?? {} },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const opsGet = (port: number, path: string): Promise<{ status: number; body: string }> =>
  httpCall(`http://127.0.0.1:${port}${path}`);

/** The value of one sample in Prometheus text, or null when absent. */
function sample(text: string, name: string, labels = ''): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ').pop()) : null;
}

const auditLines = (lines: Line[], pred: (a: Record<string, unknown>) => boolean): Line[] =>
  lines.filter(
    (l) =>
      typeof l.audit === 'object' && l.audit !== null && pred(l.audit as Record<string, unknown>),
  );

/** Pids of the processes that logged the audit records of requests whose path starts with `prefix`. */
const servingPids = (lines: Line[], prefix: string): Set<number> =>
  new Set(
    auditLines(lines, (a) => a.kind === 'request' && String(a.path).startsWith(prefix)).map(
      (l) => l.pid as number,
    ),
  );

/** True while the process runs (a zombie waiting to be reaped by its new parent counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Runs a subtest body and, when it fails, adds the gateway's own account to
 * the error: every log line that is not an audit record, the last audit
 * records and stderr. A failure here (a request refused, a worker gone) is
 * only explainable from the processes' side, and CI keeps nothing else.
 */
async function withGatewayLog(gw: WorkersCli, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    const isAudit = (l: Line): boolean => String(l.msg).startsWith('audit');
    const log = [
      ...gw.lines.filter((l) => !isAudit(l)),
      ...gw.lines.filter(isAudit).slice(-20),
    ].map((l) => JSON.stringify(l));
    if (e instanceof Error)
      e.message += `\n--- gateway log ---\n${log.join('\n')}\n--- stderr ---\n${gw.stderr().slice(-2000)}`;
    throw e;
  }
}

/** Signs in to the web console with the admin token and GETs one of its JSON endpoints. */
async function consoleGet(
  adminUrl: string,
  token: string,
  name: string,
): Promise<Record<string, unknown>> {
  const login = await fetch(`${adminUrl}/console/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  assert.equal(login.status, 200, await login.clone().text());
  const { csrf } = (await login.json()) as { csrf: string };
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const r = await fetch(`${adminUrl}/console/api/${name}`, {
    headers: { cookie, 'x-mtls-csrf': csrf },
  });
  assert.equal(r.status, 200, await r.clone().text());
  return (await r.json()) as Record<string, unknown>;
}

interface ReadyBody {
  status: string;
  problems: string[];
  workers: Array<{ worker: number; pid: number | null; ready: boolean }>;
}

async function readyz(port: number): Promise<{ status: number; body: ReadyBody }> {
  const r = await opsGet(port, '/readyz');
  return { status: r.status, body: JSON.parse(r.body) as ReadyBody };
}

/** One request from acme whose response also says which server certificate the connection saw. */
function requestSeeingCert(
  port: number,
  path: string,
): Promise<{ status: number; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port,
        path,
        ca: pki.serverCa.certPem,
        cert: acme.client.certPem,
        key: acme.client.keyPem,
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.2',
        agent: false,
      },
      (res) => {
        if (!(res.socket instanceof tls.TLSSocket)) {
          reject(new Error('not a TLS connection'));
          return;
        }
        const fingerprint = res.socket.getPeerCertificate().fingerprint256;
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, fingerprint }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * The process holding the client end of a loopback TCP connection whose
 * client port is `port` (Linux: the socket's inode from /proc/net/tcp*, then
 * the process with a descriptor on it), or null when none is found.
 */
function socketOwner(port: number): number | null {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let inode: string | undefined;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[1]?.endsWith(hex) && f[9] !== '0') inode = f[9];
    }
    if (inode) break;
  }
  if (!inode) return null;
  const link = `socket:[${inode}]`;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // another user's process, or gone
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === link) return Number(pid);
      } catch {
        // closed meanwhile
      }
    }
  }
  return null;
}

/** A CRL of `ca` revoking `serials`, as PEM. */
async function crlPem(ca: TestCa, serials: string[], crlNumber: bigint): Promise<string> {
  return (
    await buildCrl({
      signer: { privateKey: ca.privateKey, certificate: ca.certificate },
      entries: serials.map((serial) => ({ serial, revokedAt: new Date(Date.now() - 60_000) })),
      crlNumber,
    })
  ).pem;
}

describe('mtls gateway start --workers 2', () => {
  test('bad --workers / MTLS_GATEWAY_WORKERS values are refused naming the key (exit 3)', async () => {
    const { path } = writeConfig('badworkers');
    const r1 = await run(process.execPath, [
      CLI,
      'gateway',
      'start',
      '--config',
      path,
      '--workers',
      '0',
    ]);
    assert.equal(r1.code, 3, r1.stderr);
    assert.match(
      r1.stderr,
      /error\[MTLS_CONFIG_INVALID\]: .*key `workers`: must be a whole number from 1 to 1024 or "auto" \(got "0"\)/,
    );
    const r2 = await run('env', [
      `MTLS_GATEWAY_WORKERS=two`,
      process.execPath,
      CLI,
      'gateway',
      'start',
      '--config',
      path,
    ]);
    assert.equal(r2.code, 3, r2.stderr);
    assert.match(r2.stderr, /key `workers`: .*\(got "two"\)/);
  });

  test('two workers serve one registry: burst, audit once, metrics, reload, kill -9, registry change, drain', async (t) => {
    const token = 'workers-test-admin-token-0123456789abcdef';
    const tokenFile = join(dir, 'admin.token');
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const config = writeConfig('main', [
      'admin:',
      '  listen: 127.0.0.1:0',
      `  tokenFile: ${tokenFile}`,
      'audit:',
      '  retentionDays: 5',
      'limits:',
      // Every connection of this test asks the primary for a slot.
      '  maxConnectionsPerIp: 1000',
    ]);
    // Past the retention: the primary deletes it at start, for every worker.
    await registry.appendAudit([
      auditRecord({
        time: new Date(Date.now() - 10 * 86_400_000).toISOString(),
        detail: 'ten days old',
      }),
    ]);
    const gw = await startWorkersCli(config.path);
    let workerPids: number[] = [];
    try {
      const first = await readyz(gw.opsPort);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.body.workers.length, 2);
      workerPids = first.body.workers.map((w) => w.pid as number);
      assert.equal(new Set(workerPids).size, 2, 'two distinct worker processes');

      await t.test('audit retention runs in the primary alone', async () => {
        const pruned = await waitFor(
          () => gw.lines.find((l) => l.event === 'audit_retention'),
          10_000,
          'the retention log line',
        );
        assert.equal(pruned.pid, gw.child.pid, 'the primary pruned');
        assert.equal(pruned.deleted, 1);
        assert.equal(
          (await registry.queryAudit({ limit: 1000 })).some((r) => r.detail === 'ten days old'),
          false,
        );
        assert.equal(gw.lines.filter((l) => l.event === 'audit_retention').length, 1);
      });

      await t.test(
        'a burst of mTLS calls: all succeed, both workers serve, one audit record each',
        async (st) => {
          const sent: string[] = [];
          for (let round = 0; round < 6 && servingPids(gw.lines, '/burst/').size < 2; round++) {
            const paths = Array.from({ length: 24 }, (_, i) => `/burst/${round}-${i}`);
            const results = await Promise.all(
              paths.map((path) =>
                mtlsRequest({
                  port: gw.port,
                  ca: pki.serverCa.certPem,
                  cert: acme.client.certPem,
                  key: acme.client.keyPem,
                  path,
                }),
              ),
            );
            assert.deepEqual(
              results.map((r) => r.status),
              paths.map(() => 200),
            );
            sent.push(...paths);
            await waitFor(
              () =>
                auditLines(
                  gw.lines,
                  (a) => a.kind === 'request' && String(a.path).startsWith('/burst/'),
                ).length >= sent.length,
              5_000,
              'audit log lines',
            );
          }
          assert.deepEqual(
            [...servingPids(gw.lines, '/burst/')].sort(),
            [...workerPids].sort(),
            'both workers served part of the burst',
          );
          const perPid = new Map<number, number>();
          for (const l of auditLines(
            gw.lines,
            (a) => a.kind === 'request' && String(a.path).startsWith('/burst/'),
          ))
            perPid.set(l.pid as number, (perPid.get(l.pid as number) ?? 0) + 1);
          st.diagnostic(`requests per worker: ${[...perPid.values()].join(' / ')}`);

          const inRegistry = async (): Promise<string[]> =>
            (await registry.queryAudit({ limit: 1000 }))
              .filter((r) => r.kind === 'request' && String(r.path).startsWith('/burst/'))
              .map((r) => String(r.path));
          await waitFor(
            async () => (await inRegistry()).length >= sent.length,
            5_000,
            'every audit record in the registry',
          );
          // Two more flush periods: a duplicate written late would show now.
          await new Promise((r) => setTimeout(r, 600));
          assert.deepEqual(
            (await inRegistry()).sort(),
            [...sent].sort(),
            'each request exactly once in the registry',
          );

          const metrics = await opsGet(gw.opsPort, '/metrics');
          assert.equal(metrics.status, 200);
          assert.equal(
            sample(
              metrics.body,
              'mtls_gateway_requests_total',
              '{outcome="accepted",reason="ok",status="2xx"}',
            ),
            sent.length,
            'the counter sums both workers',
          );
          assert.equal(sample(metrics.body, 'mtls_gateway_workers', '{state="serving"}'), 2);
          const expiry = sample(
            metrics.body,
            'mtls_gateway_certificate_expiry_seconds',
            '{certificate="server"}',
          );
          const notAfter = pki.server.certificate.notAfter.getTime();
          assert.ok(
            expiry !== null && Math.abs(expiry - (notAfter - Date.now()) / 1000) < 120,
            `the earliest expiry across workers, not their sum: ${expiry}`,
          );
          assert.equal(
            sample(metrics.body, 'mtls_gateway_registry_version'),
            await registry.version(),
          );
          // Every metric the operator's alert rules name is served, and
          // Prometheus's own linter accepts the exposition.
          for (const name of alertRuleMetricNames())
            assert.match(metrics.body, new RegExp(`^# TYPE ${name} `, 'm'), name);
          if (havePromtool()) {
            const lint = promtool(['check', 'metrics'], metrics.body);
            assert.equal(lint.code, 0, lint.stdout + lint.stderr);
            assert.equal(`${lint.stdout}${lint.stderr}`.trim(), '', 'no finding');
          }
          // The audit trail's metrics come from the primary, which pruned: once, not per worker.
          assert.equal(sample(metrics.body, 'mtls_gateway_audit_retention_deleted_total'), 1);
          const age = sample(metrics.body, 'mtls_gateway_audit_oldest_record_age_seconds');
          assert.ok(
            age !== null && age >= 0 && age < 600,
            `the oldest record is this run's: ${age}`,
          );
        },
      );

      await t.test(
        'SIGHUP: every worker reloads its certificate and clients see the new one',
        async () => {
          const next = await makeServerLeaf(dir, pki.serverCa, { file: 'server-next' });
          const nextFingerprint = new X509Certificate(next.certPem).fingerprint256;
          copyFileSync(next.keyPath, config.keyPath);
          copyFileSync(next.certPath, config.certPath);
          gw.child.kill('SIGHUP');
          await waitFor(
            () => gw.lines.find((l) => l.msg === 'server credential reloaded in every worker'),
            30_000,
            'the reload summary',
          );
          // Each worker writes its own line: it may reach the shared stdout
          // after the primary's summary.
          const reloadedBy = (): Set<number> =>
            new Set(
              gw.lines
                .filter((l) => l.msg === 'server credential reloaded')
                .map((l) => l.pid as number),
            );
          const reloaded = await waitFor(
            () => (reloadedBy().size >= workerPids.length ? reloadedBy() : null),
            5_000,
            'a reload line from each worker',
          ).catch(() => reloadedBy());
          assert.deepEqual(
            [...reloaded].sort(),
            [...workerPids].sort(),
            'each worker logged its reload',
          );
          for (let round = 0; round < 6 && servingPids(gw.lines, '/hup/').size < 2; round++) {
            const seen = await Promise.all(
              Array.from({ length: 12 }, (_, i) =>
                requestSeeingCert(gw.port, `/hup/${round}-${i}`),
              ),
            );
            for (const s of seen) {
              assert.equal(s.status, 200);
              assert.equal(
                s.fingerprint,
                nextFingerprint,
                'the new certificate on every connection',
              );
            }
            await new Promise((r) => setTimeout(r, 100));
          }
          assert.equal(
            servingPids(gw.lines, '/hup/').size,
            2,
            'both workers answered with the new certificate',
          );
          // The console's overview, served by the primary, shows the expiry every worker serves.
          const overview = await consoleGet(gw.adminUrl as string, token, 'overview');
          assert.equal(
            overview.serverCertNotAfter,
            new Date(new X509Certificate(next.certPem).validTo).toISOString(),
          );
        },
      );

      await t.test('kill -9 of a worker: logged, restarted, and the service never stops', () =>
        withGatewayLog(gw, async () => {
          // The totals before: a scrape, the last word the victim gives.
          const accepted = (text: string): number =>
            sample(text, 'mtls_gateway_connections_total', '{outcome="accepted",reason="ok"}') ?? 0;
          const before = accepted((await opsGet(gw.opsPort, '/metrics')).body);
          assert.ok(before > 10, `connections counted before the kill: ${before}`);
          // Calls after that scrape, never scraped: the victim's share of them
          // must reach the totals through the primary's periodic reports.
          const unscraped = await Promise.all(
            Array.from({ length: 16 }, (_, i) => acmeRequest(gw.port, `/unscraped/${i}`)),
          );
          assert.deepEqual(
            unscraped.map((r) => r.status),
            unscraped.map(() => 200),
          );
          const served = await waitFor(
            () => {
              const pids = auditLines(
                gw.lines,
                (a) => a.kind === 'request' && String(a.path).startsWith('/unscraped/'),
              ).map((l) => l.pid as number);
              return pids.length === unscraped.length ? pids : null;
            },
            5_000,
            'the audit lines of the unscraped calls',
          );
          // The worker that served the most of them, so the loss would show.
          const victim = [...workerPids].sort(
            (a, b) => served.filter((p) => p === b).length - served.filter((p) => p === a).length,
          )[0] as number;
          assert.ok(served.includes(victim), 'the victim served some of the unscraped calls');
          await new Promise((r) => setTimeout(r, 2_500));
          process.kill(victim, 'SIGKILL');
          const gap = await readyz(gw.opsPort);
          assert.equal(gap.status, 503, 'not ready while a worker is missing');
          assert.match(
            gap.body.problems.join('; '),
            // Before the primary has seen the exit the worker does not answer; after, it is
            // being restarted and has no pid yet. Either way it must be named.
            new RegExp(
              `worker ${workerPids.indexOf(victim) + 1}( \\(pid \\d+\\))?: (not running|no answer)`,
            ),
          );
          const during = await Promise.all(
            Array.from({ length: 10 }, (_, i) => acmeRequest(gw.port, `/after-kill/${i}`)),
          );
          assert.deepEqual(
            during.map((r) => r.status),
            during.map(() => 200),
          );
          const died = await waitFor(
            () =>
              gw.lines.find(
                (l) =>
                  l.msg === 'worker exited unexpectedly; restarting it' && l.workerPid === victim,
              ),
            15_000,
            'the death log',
          );
          assert.equal(died.signal, 'SIGKILL');
          await waitFor(
            () => gw.lines.find((l) => l.msg === 'worker restarted and serving'),
            30_000,
            'the restart log',
          );
          const after = await waitFor(
            async () => {
              const r = await readyz(gw.opsPort);
              return r.status === 200 ? r : null;
            },
            30_000,
            '/readyz 200 again',
          );
          workerPids = after.body.workers.map((w) => w.pid as number);
          assert.equal(workerPids.length, 2);
          assert.ok(!workerPids.includes(victim), 'the killed worker was replaced');
          assert.ok(!alive(victim));
          const metrics = await opsGet(gw.opsPort, '/metrics');
          assert.equal(sample(metrics.body, 'mtls_gateway_worker_restarts_total'), 1);
          // The dead worker's counts stay in the totals: a counter that went
          // down would read as a reset to Prometheus, and rate() as a burst.
          // So do the calls it served after the last scrape before its death.
          assert.ok(
            accepted(metrics.body) >= before + unscraped.length + during.length,
            `accepted connections ${accepted(metrics.body)}, were ${before}, plus ${unscraped.length} unscraped, plus ${during.length}`,
          );
        }),
      );

      await t.test('a registry change (suspension) applies in every worker within 1 s', (st) =>
        withGatewayLog(gw, async () => {
          const ok = await mtlsRequest({
            port: gw.port,
            ca: pki.serverCa.certPem,
            cert: beta.client.certPem,
            key: beta.client.keyPem,
            localAddress: BETA_IP,
            path: '/beta',
          });
          assert.equal(ok.status, 200);
          // Through the admin API, which the primary serves (once) on its own registry handle.
          const admin = gw.adminUrl as string;
          assert.equal(
            (await httpCall(`${admin}/readyz`)).status,
            200,
            'the admin API is ready when every worker is',
          );
          const t0 = Date.now();
          const patched = await httpCall(`${admin}/v1/institutions/beta`, {
            method: 'PATCH',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ status: 'suspended' }),
          });
          assert.equal(patched.status, 200, patched.body);
          const version = await registry.version();
          const applied = await waitFor(
            () => {
              const byPid = new Map<number, number>();
              for (const l of gw.lines) {
                if (
                  l.msg === 'registry change applied' &&
                  Number(l.registryVersion) >= version &&
                  !byPid.has(l.pid as number)
                )
                  byPid.set(l.pid as number, Date.parse(String(l.time)));
              }
              return workerPids.every((p) => byPid.has(p)) ? byPid : null;
            },
            5_000,
            'the change in both workers',
          );
          st.diagnostic(
            `applied after ${[...applied.values()].map((at) => at - t0).join(' / ')} ms`,
          );
          for (const [pid, at] of applied)
            assert.ok(at - t0 < 1_000, `worker ${pid} applied the change after ${at - t0} ms`);
          const refused = await Promise.all(
            Array.from({ length: 8 }, () =>
              mtlsRequest({
                port: gw.port,
                ca: pki.serverCa.certPem,
                cert: beta.client.certPem,
                key: beta.client.keyPem,
                localAddress: BETA_IP,
                path: '/beta',
              }).then((r) => `served ${r.status}`, errorCode),
            ),
          );
          assert.deepEqual(
            refused,
            refused.map(() => 'ECONNRESET'),
            'a suspended institution is refused before the handshake',
          );
          await waitFor(
            () =>
              auditLines(gw.lines, (a) => a.reason === 'institution_suspended').length >=
              refused.length,
            5_000,
            'an audit line per refusal',
          );
          await registry.setInstitutionStatus('beta', 'active');
        }),
      );

      await t.test('SIGTERM: requests in flight complete, every process exits, code 0', () =>
        withGatewayLog(gw, async () => {
          const before = upstream.requests.length;
          const inFlight = [1, 2, 3].map((i) => acmeRequest(gw.port, `/slow?ms=800&n=${i}`));
          await waitFor(
            () => upstream.requests.length >= before + 3,
            5_000,
            'the three requests to reach the upstream',
          );
          gw.child.kill('SIGTERM');
          const results = await Promise.all(inFlight);
          assert.deepEqual(
            results.map((r) => r.status),
            [200, 200, 200],
          );
          assert.equal(await gw.exited, 0, gw.stderr());
          assert.ok(gw.lines.some((l) => l.msg === 'every worker stopped'));
          assert.equal(
            gw.lines.filter((l) => l.msg === 'gateway stopped').length,
            2,
            'each worker drained',
          );
          for (const pid of [...workerPids, gw.child.pid as number])
            assert.ok(!alive(pid), `process ${pid} is gone`);
        }),
      );
    } finally {
      if (gw.child.exitCode === null) {
        gw.child.kill('SIGKILL');
        for (const pid of workerPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
      }
    }
  });

  test("the request rate holds for the instance: workers lease tokens from the primary's buckets", async () => {
    const config = writeConfig('rate', [
      'limits:',
      '  institutionRequestsPerSecond: 0.5',
      '  institutionRequestBurst: 4',
    ]);
    const gw = await startWorkersCli(config.path);
    try {
      const started = Date.now();
      const statuses: number[] = [];
      // New connections, spread by the kernel over both workers; with a
      // bucket per worker they could pass up to twice the burst.
      for (let round = 0; round < 4 && servingPids(gw.lines, '/rate/').size < 2; round++) {
        const results = await Promise.all(
          Array.from({ length: 16 }, (_, i) => acmeRequest(gw.port, `/rate/${round}-${i}`)),
        );
        statuses.push(...results.map((r) => r.status));
        await waitFor(
          () =>
            auditLines(gw.lines, (a) => String(a.path).startsWith('/rate/')).length >=
            statuses.length,
          5_000,
          'the audit lines of the round',
        );
      }
      assert.equal(servingPids(gw.lines, '/rate/').size, 2, 'both workers answered');
      const allowed = statuses.filter((x) => x === 200).length;
      // The burst, and one more token per 2 s of the test.
      const most = 4 + Math.floor((Date.now() - started) / 2_000);
      assert.ok(allowed >= 4 && allowed <= most, `${allowed} allowed, at most ${most}`);
      assert.deepEqual([...new Set(statuses)].sort(), [200, 429], 'the rest were refused with 429');

      // The institution's own rate, set in the registry: the workers pass it
      // with their leases and the primary's bucket follows it.
      await registry.setInstitutionRequestRate('acme', { requestsPerSecond: 1000, burst: 1000 });
      const own = await waitFor(
        async () => {
          const results = await Promise.all(
            Array.from({ length: 16 }, (_, i) => acmeRequest(gw.port, `/own-rate/${i}`)),
          );
          return results.every((r) => r.status === 200) ? results : undefined;
        },
        5_000,
        "16 calls passing under the institution's own rate",
      );
      assert.equal(own.length, 16);

      // A stalled primary (SIGSTOP): the workers let requests through, say
      // so once, and wait for it once every few seconds, not on every request.
      await registry.setInstitutionRequestRate('acme', { requestsPerSecond: 0.5, burst: 1 });
      await new Promise((r) => setTimeout(r, 1_500));
      gw.child.kill('SIGSTOP');
      try {
        const t0 = Date.now();
        const stalled: number[] = [];
        for (let i = 0; i < 8; i++) {
          const r = await acmeRequest(gw.port, `/stalled/${i}`);
          stalled.push(r.status);
        }
        const took = Date.now() - t0;
        assert.deepEqual(
          stalled,
          stalled.map(() => 200),
          'failing open: the limit guards the upstream, not trust',
        );
        // At most one 1 s wait per worker, where every request used to wait.
        assert.ok(took < 4_500, `8 requests took ${took} ms`);
        await waitFor(
          () => gw.lines.find((l) => l.event === 'primary_unanswered'),
          5_000,
          'the outage logged',
        );
      } finally {
        gw.child.kill('SIGCONT');
      }
    } finally {
      await registry.setInstitutionRequestRate('acme', null);
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  });

  test('a reload the files fail keeps every worker on the credential in service, and a worker restarted after it serves that one too, not the broken files', async () => {
    const config = writeConfig('badreload');
    const gw = await startWorkersCli(config.path);
    try {
      const served = new X509Certificate(readFileSync(config.certPath)).fingerprint256;
      writeFileSync(config.keyPath, 'not a key\n');
      gw.child.kill('SIGHUP');
      const failed = await waitFor(
        () => gw.lines.find((l) => /server credential reload failed/.test(String(l.msg))),
        10_000,
        'the failed reload',
      );
      assert.equal(failed.level, 50);
      assert.match(String(failed.msg), /every worker keeps the credential in service/);
      const err = failed.err as { code: string; message: string };
      assert.equal(err.code, 'MTLS_PEM_INVALID');
      assert.match(err.message, /badreload\.key\.pem is not a readable private key/);
      const metrics = (await opsGet(gw.opsPort, '/metrics')).body;
      assert.equal(sample(metrics, 'mtls_gateway_credential_last_reload_successful'), 0);
      assert.equal(
        sample(metrics, 'mtls_gateway_credential_reloads_total', '{outcome="failed"}'),
        1,
      );
      // A worker dies: its replacement starts with the primary's credential,
      // where it used to read the broken key, crash five times and take the
      // instance down with it.
      const before = (await readyz(gw.opsPort)).body.workers.map((w) => w.pid as number);
      process.kill(before[0] as number, 'SIGKILL');
      const after = await waitFor(
        async () => {
          const r = await readyz(gw.opsPort);
          const pids = r.body.workers.map((w) => w.pid as number);
          return r.status === 200 && !pids.includes(before[0] as number) ? pids : null;
        },
        15_000,
        'the worker restarted and ready',
      );
      assert.equal(after.length, 2);
      assert.equal(gw.child.exitCode, null, 'the instance is up');
      for (let i = 0; i < 8; i++) {
        const s = await requestSeeingCert(gw.port, `/after-bad-reload/${i}`);
        assert.equal(s.status, 200);
        assert.equal(s.fingerprint, served, 'the credential in service, on every worker');
      }
      // Repaired files, reloaded: the metric says so.
      copyFileSync(pki.server.keyPath, config.keyPath);
      gw.child.kill('SIGHUP');
      await waitFor(
        () => gw.lines.find((l) => l.msg === 'server credential reloaded in every worker'),
        10_000,
        'the good reload',
      );
      const repaired = (await opsGet(gw.opsPort, '/metrics')).body;
      assert.equal(sample(repaired, 'mtls_gateway_credential_last_reload_successful'), 1);
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  });

  test("limits.maxConnectionsPerIp holds for the instance: the primary holds every worker's slots, and a dead worker's are freed", async () => {
    const gw = await startWorkersCli(
      writeConfig('perip', ['limits:', '  maxConnectionsPerIp: 2']).path,
    );
    const open: tls.TLSSocket[] = [];
    /** A kept-alive connection that has had one answer. */
    const hold = async (path: string): Promise<tls.TLSSocket> => {
      const s = tls.connect({
        host: '127.0.0.1',
        port: gw.port,
        ...gatewayClientTls(pki, acme.client),
      });
      open.push(s);
      s.on('error', () => undefined);
      let received = '';
      s.on('data', (d: Buffer) => (received += d.toString('utf8')));
      await new Promise<void>((r) => s.once('secureConnect', () => r()));
      s.write(`GET ${path} HTTP/1.1\r\nHost: api\r\n\r\n`);
      await waitFor(
        () => (/^HTTP\/1\.1 200/.test(received) ? true : null),
        5_000,
        `${path} answered`,
      );
      return s;
    };
    const holderOf = (path: string): number =>
      auditLines(gw.lines, (a) => a.kind === 'request' && a.path === path)[0]?.pid as number;
    try {
      await hold('/held-1');
      await hold('/held-2');
      // Whichever worker takes them: with a count per worker, a worker
      // holding one of the two (or none) would let more in.
      const over = await Promise.all(
        Array.from({ length: 8 }, (_, i) => mtlsAttempt(acmeCall(gw.port, `/over/${i}`))),
      );
      assert.deepEqual(
        over,
        over.map(() => 'closed'),
        'every connection over the limit refused',
      );
      await waitFor(
        () =>
          auditLines(gw.lines, (a) => a.reason === 'connection_limit').length >= over.length
            ? true
            : null,
        5_000,
        'a connection_limit record for each',
      );

      // A connection that closes gives its slot back to the instance.
      open[0]?.destroy();
      await waitFor(
        async () => ((await mtlsAttempt(acmeCall(gw.port, '/freed'))) === 200 ? true : null),
        5_000,
        'a slot free again after a close',
      );

      // A worker killed with a connection open: the primary frees its slots
      // (the connection died with it), so two connections fit again.
      await waitFor(() => holderOf('/held-2') || null, 5_000, 'the audit line of /held-2');
      const victim = holderOf('/held-2');
      process.kill(victim, 'SIGKILL');
      await waitFor(
        async () => ((await readyz(gw.opsPort)).status === 200 ? true : null),
        30_000,
        'both workers serving again',
      );
      await hold('/again-1');
      await hold('/again-2');
      assert.equal(await mtlsAttempt(acmeCall(gw.port, '/over-again')), 'closed');
    } finally {
      for (const s of open) s.destroy();
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  });

  test('SIGTERM with drainDelayMs: /readyz says draining at once, every worker accepts until the delay has passed, then the instance drains and exits 0', async () => {
    const gw = await startWorkersCli(writeConfig('delay', ['drainDelayMs: 1500']).path);
    const call = (path: string): Promise<number | 'closed'> => mtlsAttempt(acmeCall(gw.port, path));
    // A kept-alive connection, open and idle before the signal.
    let received = '';
    const kept = tls.connect({
      host: '127.0.0.1',
      port: gw.port,
      ...gatewayClientTls(pki, acme.client),
    });
    kept.on('data', (d: Buffer) => (received += d.toString('utf8')));
    kept.on('error', () => undefined);
    const answers = (): string[] =>
      received.match(/^HTTP\/1\.1 \d{3}[^]*?(?=HTTP\/1\.1 \d{3}|$)/g) ?? [];
    try {
      await new Promise<void>((r) => kept.once('secureConnect', () => r()));
      kept.write('GET /kept-1 HTTP/1.1\r\nHost: api\r\n\r\n');
      await waitFor(() => (answers().length === 1 ? true : null), 5_000, 'the first answer');
      assert.doesNotMatch(answers()[0] ?? '', /\r\nconnection: close\r\n/i);
      assert.equal(await call('/before-term'), 200);
      const termAt = Date.now();
      gw.child.kill('SIGTERM');
      const notReady = await waitFor(
        async () => {
          const r = await readyz(gw.opsPort);
          return r.status === 503 ? r : null;
        },
        1_000,
        '/readyz 503',
      );
      assert.match(notReady.body.problems.join('; '), /draining/);
      // Idle, it is closed at once, so that its client reconnects through the
      // balancer, which is taking this instance out.
      await waitFor(
        () => (kept.destroyed || kept.readableEnded ? true : null),
        1_000,
        'the idle kept-alive connection closed',
      );
      const during = await Promise.all(
        Array.from({ length: 6 }, (_, i) => call(`/during-delay/${i}`)),
      );
      assert.ok(Date.now() - termAt < 1_500, 'still within the delay');
      assert.deepEqual(
        during,
        during.map(() => 200),
        'every call during the delay served',
      );
      assert.equal(await gw.exited, 0);
      assert.ok(Date.now() - termAt >= 1_500, 'the drain waited for the delay');
    } finally {
      kept.destroy();
      if (gw.child.exitCode === null) gw.child.kill('SIGKILL');
    }
  });

  test('a worker that cannot start again: the supervisor backs off, gives up with the reason and leaves no process', async () => {
    // Its own registry file, removed while the instance runs: a restarted
    // worker opens it (never creating one) and cannot start.
    const own = join(dir, 'crashloop.db');
    const reg = await openSqliteRegistry(own);
    await registerInstitution(reg, 'acme', acme.root.certPem, ['127.0.0.1']);
    await reg.close();
    const config = writeConfig('crashloop', [], own);
    const gw = await startWorkersCli(config.path);
    const pids = (await readyz(gw.opsPort)).body.workers.map((w) => w.pid as number);
    try {
      for (const f of [own, `${own}-wal`, `${own}-shm`]) rmSync(f, { force: true });
      process.kill(pids[0] as number, 'SIGKILL');
      // Cleared once the race is decided: a pending 60 s timer would keep this
      // file's process alive for the rest of the minute after its last test.
      let hung: NodeJS.Timeout | undefined;
      const code = await Promise.race([
        gw.exited,
        new Promise<'hung'>((r) => (hung = setTimeout(() => r('hung'), 60_000))),
      ]);
      clearTimeout(hung);
      assert.equal(code, 3, `exit code of MTLS_CONFIG_INVALID (stderr: ${gw.stderr()})`);
      assert.match(
        gw.stderr(),
        /error\[MTLS_CONFIG_INVALID\]: gateway worker 1 died 5 times in a row soon after starting; last error: registry file .*crashloop\.db does not exist/,
      );
      const restarts = gw.lines
        .filter((l) => l.msg === 'worker exited unexpectedly; restarting it')
        .map((l) => l.restartInMs);
      assert.deepEqual(
        restarts.filter((d) => d !== 0),
        [100, 200, 400, 800],
        'the delay doubles between restarts',
      );
      assert.ok(
        gw.lines.some(
          (l) =>
            l.level === 60 && l.msg === 'worker crash loop: giving up and stopping the gateway',
        ),
      );
      for (const pid of pids) assert.ok(!alive(pid), `process ${pid} is gone`);
    } finally {
      if (gw.child.exitCode === null) gw.child.kill('SIGKILL');
      for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  test('a worker killed again and again as it starts (an OOM loop): the supervisor gives up and points at the memory limit', async () => {
    const gw = await startWorkersCli(writeConfig('oomloop').path);
    const killed: number[] = [];
    try {
      // Kill worker 1 each time it is back, as an out-of-memory killer would.
      while (gw.child.exitCode === null && killed.length < 12) {
        const pid = await waitFor(
          async () => {
            if (gw.child.exitCode !== null) return -1;
            const r = await readyz(gw.opsPort).catch(() => null);
            const w = r?.body.workers.find((x) => x.worker === 1);
            return w?.pid && !killed.includes(w.pid) ? w.pid : null;
          },
          30_000,
          'worker 1 to be back',
        );
        if (pid < 0) break;
        killed.push(pid);
        process.kill(pid, 'SIGKILL');
      }
      assert.equal(await gw.exited, 1, gw.stderr());
      // Five quick deaths in a row; a start slower than the stable-run bound would reset the count.
      assert.ok(killed.length >= 5, `gave up after ${killed.length} kills`);
      assert.match(
        gw.stderr(),
        /error\[MTLS_INTERNAL\]: gateway worker 1 died 5 times in a row soon after starting \(last: signal SIGKILL\)\nhint: Something sent the worker SIGKILL; most often the out-of-memory killer: look in `dmesg`/,
      );
    } finally {
      if (gw.child.exitCode === null) gw.child.kill('SIGKILL');
    }
  });

  test('kill -9 of the primary: its workers exit too, none serves unsupervised', async () => {
    const gw = await startWorkersCli(writeConfig('orphan').path);
    const pids = (await readyz(gw.opsPort)).body.workers.map((w) => w.pid as number);
    try {
      gw.child.kill('SIGKILL');
      await gw.exited;
      await waitFor(() => pids.every((p) => !alive(p)), 15_000, 'the workers to exit');
      // The port closes with the last thread of the last worker.
      const attempt = (): Promise<string> =>
        acmeRequest(gw.port, '/orphan').then(() => 'served', errorCode);
      await waitFor(
        async () => (await attempt()) === 'ECONNREFUSED',
        15_000,
        'the mTLS port to close',
      );
    } finally {
      for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
  test('only the primary downloads CRLs, every period; each worker applies what it stored', async () => {
    const ip = '127.0.0.33';
    const crlco = await makeInstitution(dir, 'crlco');
    const other = await makeLeaf(dir, crlco.root, { cn: 'crlco-other' });
    await registerInstitution(registry, 'crlco', crlco.root.certPem, [ip]);
    let served = await crlPem(crlco.root, [], 1n);
    /** The process behind each download, in order. */
    const downloads: Array<number | null> = [];
    const crlServer = http.createServer((req, res) => {
      downloads.push(socketOwner(req.socket.remotePort ?? 0));
      res.writeHead(200, { 'content-type': 'application/pkix-crl' });
      res.end(served);
    });
    await new Promise<void>((r) => crlServer.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(crlServer.address() as AddressInfo).port}/crlco.crl`;
    const source = await registry.addCrlSource('crlco', { url, intervalSeconds: 60 });
    // The registry refuses periods under a minute; shortened in the file so
    // that several periods pass within the test (the gateway reads the
    // sources when it starts).
    const db = new Database(registryPath);
    db.prepare('UPDATE crl_sources SET interval_seconds = 1 WHERE id = ?').run(source.id);
    db.close();
    const call = (client: TestInstitution['client'], path: string): Promise<string> =>
      mtlsRequest({
        port: gw.port,
        ca: pki.serverCa.certPem,
        cert: client.certPem,
        key: client.keyPem,
        localAddress: ip,
        path,
      }).then((r) =>
        r.status === 200
          ? 'ok'
          : ((r.json as { error?: string } | undefined)?.error ?? `status ${r.status}`),
      );
    /** Bursts of `client` until both workers answered; every answer must be `expected`. */
    const fromBothWorkers = async (
      client: TestInstitution['client'],
      prefix: string,
      expected: string,
    ): Promise<void> => {
      for (let round = 0; round < 6 && servingPids(gw.lines, prefix).size < 2; round++) {
        const paths = Array.from({ length: 12 }, (_, i) => `${prefix}${round}-${i}`);
        const results = await Promise.all(paths.map((p) => call(client, p)));
        assert.deepEqual(
          results,
          paths.map(() => expected),
        );
        await waitFor(
          () =>
            auditLines(gw.lines, (a) => a.kind === 'request' && String(a.path).startsWith(prefix))
              .length >=
            paths.length * (round + 1),
          5_000,
          'audit lines',
        );
      }
      assert.deepEqual(
        [...servingPids(gw.lines, prefix)].sort(),
        [...workerPids].sort(),
        `both workers answered ${expected}`,
      );
    };

    const gw = await startWorkersCli(writeConfig('crlfetch').path);
    const primary = gw.child.pid as number;
    let workerPids: number[] = [];
    try {
      workerPids = (await readyz(gw.opsPort)).body.workers.map((w) => w.pid as number);
      await waitFor(() => downloads.length >= 3, 15_000, 'three download periods');
      await fromBothWorkers(crlco.client, '/crl-before/', 'ok');

      // The CA revokes crlco.client: the next scheduled download stores it.
      const mark = gw.lines.length;
      served = await crlPem(crlco.root, [crlco.client.serialHex], 2n);
      const refreshed = await waitFor(
        () =>
          gw.lines
            .slice(mark)
            .find((l) => l.event === 'crl_refreshed' && l.institution === 'crlco' && l.url === url),
        15_000,
        'the revoking CRL stored',
      );
      assert.equal(refreshed.pid, primary, 'logged by the primary');
      const version = await registry.version();
      await waitFor(
        () =>
          workerPids.every((pid) =>
            gw.lines.some(
              (l) =>
                l.pid === pid &&
                l.msg === 'registry change applied' &&
                Number(l.registryVersion) >= version,
            ),
          ),
        5_000,
        'the new CRL in both workers',
      );
      await fromBothWorkers(crlco.client, '/crl-after/', 'revoked');
      assert.equal(await call(other, '/crl-other'), 'ok', 'the other certificate still passes');
      const seen = downloads.length;
      await waitFor(() => downloads.length >= seen + 2, 15_000, 'two more periods');

      assert.deepEqual(
        downloads.filter((pid) => pid !== primary),
        [],
        `every download came from the primary (pid ${primary}; workers ${workerPids.join(', ')})`,
      );
    } finally {
      if (gw.child.exitCode === null) gw.child.kill('SIGTERM');
      await gw.exited;
      for (const pid of workerPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
      await registry.removeCrlSource('crlco', url);
      crlServer.closeAllConnections();
      crlServer.close();
    }
  });
});
