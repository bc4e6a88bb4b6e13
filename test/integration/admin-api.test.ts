import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { MtlsError } from '../../src/errors/index.js';
import { createAdminClient, type AdminClient } from '../../src/gateway/admin/client.js';
import {
  startAdminServer,
  type AdminRequestLog,
  type RunningAdmin,
} from '../../src/gateway/admin/server.js';
import {
  openSqliteRegistry,
  type SqliteRegistry,
} from '../../src/gateway/registry/sqlite-registry.js';
import type { AuditRecord } from '../../src/gateway/registry/types.js';
import { buildCrl } from '../../src/pki/crl.js';
import {
  makeCa,
  makeLeaf,
  makeServerLeaf,
  tempDir,
  type TestCa,
  type TestLeaf,
} from '../helpers/pki.js';
import { Teardown } from '../helpers/teardown.js';
import { at } from '../helpers/assert.js';

const exec = promisify(execFile);
const CLI = resolve('dist/bin/mtls.js');
const TOKEN = 'a3f9c2e41b7d8e6f0a1b2c3d4e5f6a7b';

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI asynchronously (the admin server lives in this process). */
async function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  try {
    const r = await exec(process.execPath, [CLI, ...args], {
      env: { ...process.env, NO_COLOR: '1', MTLS_REGISTRY: '', MTLS_ADMIN_URL: '', ...env },
      timeout: 30_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof err.code === 'number' ? err.code : -1,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
    };
  }
}

async function curl(args: string[]): Promise<{ status: number; body: string }> {
  const r = await exec('curl', ['-sS', '-o', '-', '-w', '\n%{http_code}', ...args], {
    timeout: 15_000,
  });
  const idx = r.stdout.lastIndexOf('\n');
  return { status: Number(r.stdout.slice(idx + 1)), body: r.stdout.slice(0, idx) };
}

const bearer = (t = TOKEN): Record<string, string> => ({ authorization: `Bearer ${t}` });

function audit(over: Partial<AuditRecord>): AuditRecord {
  return {
    time: new Date().toISOString(),
    kind: 'connection',
    ip: '127.0.0.1',
    institutionId: 'acme',
    subject: null,
    issuer: null,
    serial: null,
    fingerprintSha256: null,
    tlsVersion: 'TLSv1.2',
    cipher: null,
    outcome: 'rejected',
    reason: 'unknown_ca',
    detail: 'unable to get local issuer certificate',
    ...over,
  };
}

describe('admin API', () => {
  const teardown = new Teardown();
  let dir: string;
  let registry: SqliteRegistry;
  let registryPath: string;
  let tokenFile: string;
  let admin: RunningAdmin;
  let client: AdminClient;
  let acmeCa: TestCa;
  let adminCa: TestCa;
  let serverLeaf: TestLeaf;
  const log: AdminRequestLog[] = [];

  before(async () => {
    if (!existsSync(CLI)) throw new Error('build the CLI first: npx tsc -p tsconfig.build.json');
    const tmp = tempDir('mtlskit-admin-');
    dir = tmp.dir;
    teardown.defer(tmp.cleanup);
    [acmeCa, adminCa] = await Promise.all([
      makeCa(dir, { name: 'Admin Acme CA' }),
      makeCa(dir, { name: 'Ops Admin CA' }),
    ]);
    serverLeaf = await makeServerLeaf(dir, adminCa);
    registryPath = join(dir, 'registry.db');
    registry = teardown.use(await openSqliteRegistry(registryPath));
    tokenFile = join(dir, 'admin.token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    admin = teardown.use(
      await startAdminServer({
        registry,
        port: 0,
        tokenFile,
        bodyLimit: 64 * 1024,
        onRequest: (e) => log.push(e),
      }),
    );
    client = teardown.use(await createAdminClient({ url: admin.url, tokenFile }));
  });
  after(() => teardown.run());

  it('never starts open, and refuses unsafe listener settings', async () => {
    await assert.rejects(
      startAdminServer({ registry, port: 0 }),
      (e: unknown) =>
        e instanceof MtlsError &&
        e.code === 'MTLS_CONFIG_INVALID' &&
        /never started open/.test(e.message),
    );
    await assert.rejects(
      startAdminServer({ registry, port: 0, clientCaFile: adminCa.certPath }),
      (e: unknown) =>
        e instanceof MtlsError &&
        e.code === 'MTLS_CONFIG_INVALID' &&
        /requires HTTPS/.test(e.message),
    );
    await assert.rejects(
      startAdminServer({ registry, port: 0, host: '0.0.0.0', tokenFile }),
      (e: unknown) =>
        e instanceof MtlsError && /plain HTTP/.test(e.message) && e.subject === 'admin.host',
    );
    const short = join(dir, 'short.token');
    writeFileSync(short, 'abc\n');
    await assert.rejects(
      startAdminServer({ registry, port: 0, tokenFile: short }),
      (e: unknown) => e instanceof MtlsError && /shorter than 16/.test(e.message),
    );
    await assert.rejects(
      startAdminServer({ registry, port: 0, tokenFile: join(dir, 'missing.token') }),
      (e: unknown) =>
        e instanceof MtlsError &&
        e.code === 'MTLS_CONFIG_INVALID' &&
        /admin\.tokenFile/.test(e.message),
    );
    await assert.rejects(
      startAdminServer({ registry, port: admin.port, tokenFile }),
      (e: unknown) =>
        e instanceof MtlsError &&
        e.code === 'MTLS_NETWORK' &&
        e.message.startsWith(`cannot listen on 127.0.0.1:${admin.port} (admin.listen): `) &&
        /EADDRINUSE/.test(e.message) &&
        /Another process holds/.test(e.hint),
    );
  });

  it('answers /healthz and /readyz without credentials, everything else only with the token', async () => {
    assert.equal((await request(`${admin.url}/healthz`)).statusCode, 200);
    const ready = await request(`${admin.url}/readyz`);
    assert.equal(ready.statusCode, 200);
    assert.equal(((await ready.body.json()) as { status: string }).status, 'ready');

    const none = await request(`${admin.url}/v1/institutions`);
    assert.equal(none.statusCode, 401);
    assert.match(String(none.headers['www-authenticate']), /^Bearer/);
    const noneBody = (await none.body.json()) as {
      error: { code: string; message: string; hint: string };
    };
    assert.equal(noneBody.error.code, 'MTLS_UNAUTHORIZED');
    assert.equal(noneBody.error.message, 'no bearer token was presented');
    assert.match(
      noneBody.error.hint,
      /^Send Authorization: Bearer TOKEN /,
      'the hint says what to send',
    );

    const bad = await request(`${admin.url}/v1/institutions`, { headers: bearer('b'.repeat(32)) });
    assert.equal(bad.statusCode, 401);
    const badBody = (await bad.body.json()) as {
      error: { code: string; message: string; hint: string };
    };
    assert.equal(badBody.error.code, 'MTLS_UNAUTHORIZED');
    assert.equal(badBody.error.message, 'the bearer token is not valid for this admin API');
    assert.doesNotMatch(JSON.stringify(badBody), /bbbb/, 'the presented token is never echoed');
    const almost = await request(`${admin.url}/v1/institutions`, {
      headers: bearer(TOKEN.slice(0, -1)),
    });
    assert.equal(almost.statusCode, 401);
    await almost.body.dump();
    const basic = await request(`${admin.url}/v1/institutions`, {
      headers: { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` },
    });
    assert.equal(basic.statusCode, 401);
    await basic.body.dump();

    // curl as an independent client.
    const good = await curl([
      '-H',
      `Authorization: Bearer ${TOKEN}`,
      `${admin.url}/v1/institutions`,
    ]);
    assert.equal(good.status, 200);
    assert.deepEqual(JSON.parse(good.body), { items: [] });
    const noTok = await curl([`${admin.url}/v1/audit`]);
    assert.equal(noTok.status, 401);
    assert.ok(
      log.some((e) => e.status === 401 && e.actor === null && e.ip === '127.0.0.1') &&
        log.some((e) => e.status === 200 && e.actor === 'token'),
      'a refused call is logged with who made it',
    );
    assert.ok(!JSON.stringify(log).includes(TOKEN), 'the token never reaches the request log');
  });

  it('refuses an address after 10 failed sign-ins in a minute (429, Retry-After), even with the right token; other addresses go on', async () => {
    // Its own server: a fresh count, whatever the other tests sent.
    const guarded = await startAdminServer({ registry, port: 0, tokenFile });
    try {
      for (let i = 0; i < 10; i++) {
        const r = await curl([
          '-H',
          `Authorization: Bearer guess${i}${'x'.repeat(27)}`,
          `${guarded.url}/v1/institutions`,
        ]);
        assert.equal(r.status, 401, `guess ${i} is refused as a wrong token`);
      }
      const blocked = await request(`${guarded.url}/v1/institutions`, { headers: bearer() });
      assert.equal(blocked.statusCode, 429);
      const retryAfter = Number(blocked.headers['retry-after']);
      assert.ok(
        retryAfter >= 1 && retryAfter <= 60,
        `Retry-After ${String(blocked.headers['retry-after'])}`,
      );
      const body = (await blocked.body.json()) as {
        error: { code: string; message: string; hint: string };
      };
      assert.equal(body.error.code, 'MTLS_RATE_LIMITED');
      assert.match(
        body.error.message,
        /^too many failed sign-ins from 127\.0\.0\.1; this address is refused for \d+ s more$/,
      );
      assert.match(body.error.hint, /^Too many failed sign-ins came from this address; wait/);
      // The console's sign-in is the same gate.
      const consoleLogin = await curl([
        '-H',
        'content-type: application/json',
        '--data',
        JSON.stringify({ token: TOKEN }),
        `${guarded.url}/console/api/login`,
      ]);
      assert.equal(consoleLogin.status, 429);
      assert.equal(
        (JSON.parse(consoleLogin.body) as { error: { code: string } }).error.code,
        'MTLS_RATE_LIMITED',
      );
      // Another address is not held responsible.
      const elsewhere = await curl([
        '--interface',
        '127.0.0.2',
        '-H',
        `Authorization: Bearer ${TOKEN}`,
        `${guarded.url}/v1/institutions`,
      ]);
      assert.equal(elsewhere.status, 200);
      // /healthz and /readyz need no credentials and are never held back.
      assert.equal((await curl([`${guarded.url}/readyz`])).status, 200);
    } finally {
      await guarded.close();
    }
  });

  it('manages institutions, CA chains, IPs, CRLs, rules and the audit over REST', async () => {
    const inst = await client.createInstitution({ id: 'acme', name: 'Acme Bank' });
    assert.equal(inst.status, 'active');
    await assert.rejects(
      client.createInstitution({ id: 'acme', name: 'again' }),
      (e: unknown) => e instanceof MtlsError && e.code === 'MTLS_CONFLICT',
    );
    assert.deepEqual(
      (await client.listInstitutions()).map((i) => [i.id, i.chains]),
      [['acme', 0]],
    );

    const added = await client.addCaChain('acme', acmeCa.certPem, 'acme-ca.pem');
    assert.equal(
      at(added.certificates, 0).subject,
      'C=BR, ST=SP, O=Admin Acme CA, CN=Admin Acme CA',
    );
    assert.deepEqual(added.warnings, []);
    // The client refuses a private key before sending; the server refuses it too.
    await assert.rejects(
      client.addCaChain('acme', acmeCa.certPem + acmeCa.keyPem, 'bundle.pem'),
      (e: unknown) =>
        e instanceof MtlsError && e.code === 'MTLS_ONBOARD_REJECTED' && /NEVER/.test(e.message),
    );
    const raw = await request(`${admin.url}/v1/institutions/acme/cas`, {
      method: 'POST',
      headers: { ...bearer(), 'content-type': 'application/x-pem-file' },
      body: acmeCa.certPem + acmeCa.keyPem,
    });
    assert.equal(raw.statusCode, 422);
    const rawBody = (await raw.body.json()) as {
      error: { code: string; message: string; details: { check: string } };
    };
    assert.equal(rawBody.error.code, 'MTLS_ONBOARD_REJECTED');
    assert.equal(rawBody.error.details.check, 'private_key');
    assert.ok(!rawBody.error.message.includes('BEGIN PRIVATE KEY'));
    await assert.rejects(
      client.addCaChain('acme', acmeCa.certPem),
      (e: unknown) =>
        e instanceof MtlsError &&
        e.code === 'MTLS_ONBOARD_REJECTED' &&
        (e.details as { check: string }).check === 'duplicate',
    );
    // JSON upload form and DER upload both work (against another institution).
    await client.createInstitution({ id: 'beta', name: 'Beta' });
    const betaCa = await makeCa(dir, { name: 'Admin Beta CA' });
    const viaJson = await request(`${admin.url}/v1/institutions/beta/cas`, {
      method: 'POST',
      headers: { ...bearer(), 'content-type': 'application/json' },
      body: JSON.stringify({ pem: betaCa.certPem }),
    });
    assert.equal(viaJson.statusCode, 201);
    await viaJson.body.dump();
    const betaChains = await client.listCaChains('beta');
    assert.equal(betaChains.length, 1);
    await client.removeCaChain('beta', at(betaChains, 0).id);
    const der = Buffer.from(betaCa.certificate.rawData);
    assert.equal((await client.addCaChain('beta', der, 'beta.der')).certificates.length, 1);

    assert.equal((await client.addIp('acme', '203.0.113.7')).cidr, '203.0.113.7/32');
    await client.addIp('acme', '2001:db8::/48');
    await assert.rejects(
      client.addIp('acme', '203.0.113.7/24'),
      (e: unknown) => e instanceof MtlsError && e.code === 'MTLS_BAD_ARGUMENT',
    );
    await client.removeIp('acme', '2001:db8::/48');
    assert.deepEqual(
      (await client.listIps('acme')).map((i) => i.cidr),
      ['203.0.113.7/32'],
    );
    const delByPath = await request(
      `${admin.url}/v1/institutions/acme/ips/${encodeURIComponent('203.0.113.7/32')}`,
      { method: 'DELETE', headers: bearer() },
    );
    assert.equal(delByPath.statusCode, 204);
    await client.addIp('acme', '203.0.113.7');

    const crl = await buildCrl({
      signer: { privateKey: acmeCa.privateKey, certificate: acmeCa.certificate },
      entries: [{ serial: '1F', revokedAt: new Date() }],
      crlNumber: 1n,
    });
    const put = await client.putCrls('acme', crl.pem, 'acme.crl');
    assert.equal(put.crls.length, 1);
    await assert.rejects(
      client.putCrls('beta', crl.pem),
      (e: unknown) =>
        e instanceof MtlsError &&
        e.code === 'MTLS_ONBOARD_REJECTED' &&
        /not issued by any CA registered/.test(e.message),
    );
    assert.equal((await client.listCrls()).length, 1);

    const rule = await client.addRule('acme', { kind: 'subject_cn', value: 'api-client' });
    assert.equal(at(await client.listRules('acme'), 0).id, rule.id);
    await client.removeRule('acme', rule.id);

    const detail = await client.getInstitution('acme');
    assert.equal(detail.chains.length, 1);
    assert.equal(detail.ips.length, 1);
    assert.equal(detail.crls.length, 1);
    await assert.rejects(
      client.getInstitution('nobody'),
      (e: unknown) => e instanceof MtlsError && e.code === 'MTLS_NOT_FOUND',
    );

    assert.equal((await client.setInstitutionStatus('beta', 'suspended')).status, 'suspended');
    const patchName = await request(`${admin.url}/v1/institutions/beta`, {
      method: 'PATCH',
      headers: { ...bearer(), 'content-type': 'application/json' },
      body: '{"name":"x"}',
    });
    assert.equal(patchName.statusCode, 400);
    await patchName.body.dump();

    // An institution's own request rate: set, read back, refused naming the field, cleared.
    assert.deepEqual(
      (await client.setInstitutionRequestRate('beta', { requestsPerSecond: 20 })).requestRate,
      { requestsPerSecond: 20, burst: 20 },
    );
    assert.deepEqual((await client.getInstitution('beta')).institution.requestRate, {
      requestsPerSecond: 20,
      burst: 20,
    });
    for (const [body, field] of [
      ['{"requestsPerSecond":0}', /requestsPerSecond 0 is not/],
      ['{"requestsPerSecond":10,"burst":1.5}', /burst 1\.5 is not/],
      ['{"burst":3}', /requestsPerSecond.*is missing/],
      ['{"requestsPerSecond":"10"}', /requestsPerSecond.*not a number/],
      ['{"requestsPerSecond":10,"tier":"gold"}', /tier/],
    ] as const) {
      const bad = await request(`${admin.url}/v1/institutions/beta/request-rate`, {
        method: 'PUT',
        headers: { ...bearer(), 'content-type': 'application/json' },
        body,
      });
      const text = await bad.body.text();
      assert.equal(bad.statusCode, 400, `${body}: ${text}`);
      const err = (JSON.parse(text) as { error: { code: string; message: string } }).error;
      assert.equal(err.code, 'MTLS_BAD_ARGUMENT');
      assert.match(err.message, field);
    }
    assert.deepEqual((await client.getInstitution('beta')).institution.requestRate, {
      requestsPerSecond: 20,
      burst: 20,
    });
    await assert.rejects(
      client.setInstitutionRequestRate('nobody', { requestsPerSecond: 1 }),
      (e: unknown) => e instanceof MtlsError && e.code === 'MTLS_NOT_FOUND',
    );
    assert.equal((await client.setInstitutionRequestRate('beta', null)).requestRate, null);
    assert.equal((await registry.getInstitution('beta'))?.requestRate, null);

    await registry.appendAudit([
      audit({}),
      audit({ outcome: 'accepted', reason: 'ok' }),
      audit({ time: new Date(Date.now() - 5 * 3600_000).toISOString(), reason: 'revoked' }),
      audit({ institutionId: null, reason: 'ip_not_registered', ip: '198.51.100.9' }),
    ]);
    const recent = await client.queryAudit({
      since: '1h',
      institutionId: 'acme',
      outcome: 'rejected',
    });
    assert.deepEqual(
      recent.map((r) => r.reason),
      ['unknown_ca'],
    );
    assert.equal(
      at(await client.queryAudit({ reason: 'ip_not_registered' }), 0).ip,
      '198.51.100.9',
    );
    assert.equal((await client.queryAudit({ limit: 2 })).length, 2);
    const badSince = await request(`${admin.url}/v1/audit?since=yesterday`, { headers: bearer() });
    assert.equal(badSince.statusCode, 400);
    await badSince.body.dump();
    await registry.appendAudit([
      audit({
        kind: 'request',
        path: '/pay',
        status: 403,
        requestId: '3f2b8c1e-5a7d-4e2f-9b1c-0d4e6f8a2b3c',
      }),
    ]);
    assert.deepEqual(
      (await client.queryAudit({ requestId: '3F2B8C1E-5A7D-4E2F-9B1C-0D4E6F8A2B3C' })).map(
        (r) => r.path,
      ),
      ['/pay'],
    );
    const badId = await request(`${admin.url}/v1/audit?requestId=42`, { headers: bearer() });
    assert.equal(badId.statusCode, 400);
    const badIdBody = (await badId.body.json()) as { error: { code: string; message: string } };
    assert.equal(badIdBody.error.code, 'MTLS_BAD_ARGUMENT');
    assert.match(badIdBody.error.message, /not a gateway request id/);

    // DELETE /v1/audit?before=: the 5-hour-old record goes, the rest stay.
    const countBefore = (await client.queryAudit({ limit: 1000 })).length;
    const pruned = await client.pruneAudit('2h');
    assert.equal(pruned.deleted, 1);
    assert.ok(Date.parse(pruned.before) < Date.now() - 7_000_000, pruned.before);
    assert.equal((await client.queryAudit({ limit: 1000 })).length, countBefore - 1);
    assert.equal((await client.queryAudit({ reason: 'revoked' })).length, 0);
    const noCutoff = await request(`${admin.url}/v1/audit`, {
      method: 'DELETE',
      headers: bearer(),
    });
    assert.equal(noCutoff.statusCode, 400);
    assert.match(
      ((await noCutoff.body.json()) as { error: { message: string } }).error.message,
      /before/,
    );

    await client.deleteInstitution('beta');
    assert.deepEqual(
      (await client.listInstitutions()).map((i) => i.id),
      ['acme'],
    );
  });

  it('answers errors as JSON: 404, 405, 413, 415, 403 for browser requests', async () => {
    const notFound = await request(`${admin.url}/v1/nothing`, { headers: bearer() });
    assert.equal(notFound.statusCode, 404);
    assert.equal(
      ((await notFound.body.json()) as { error: { code: string } }).error.code,
      'MTLS_NOT_FOUND',
    );
    const method = await request(`${admin.url}/v1/institutions`, {
      method: 'PUT',
      headers: bearer(),
    });
    assert.equal(method.statusCode, 405);
    await method.body.dump();
    const big = await request(`${admin.url}/v1/institutions/acme/cas`, {
      method: 'POST',
      headers: { ...bearer(), 'content-type': 'application/x-pem-file' },
      body: 'A'.repeat(100 * 1024),
    });
    assert.equal(big.statusCode, 413);
    await big.body.dump();
    const form = await request(`${admin.url}/v1/institutions`, {
      method: 'POST',
      headers: { ...bearer(), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'id=x',
    });
    assert.equal(form.statusCode, 415);
    await form.body.dump();
    const badJson = await request(`${admin.url}/v1/institutions`, {
      method: 'POST',
      headers: { ...bearer(), 'content-type': 'application/json' },
      body: '{',
    });
    assert.equal(badJson.statusCode, 400);
    await badJson.body.dump();
    const browser = await request(`${admin.url}/v1/institutions`, {
      headers: { ...bearer(), origin: 'https://evil.example' },
    });
    assert.equal(browser.statusCode, 403);
    await browser.body.dump();
  });

  it('authenticates admin client certificates over HTTPS (mTLS with its own CA)', async () => {
    const good = await makeLeaf(dir, adminCa, { cn: 'ops-admin' });
    const noEku = await makeLeaf(dir, adminCa, { cn: 'ops-server-cert', profile: 'server_cert' });
    const strangerCa = await makeCa(dir, { name: 'Stranger CA' });
    const stranger = await makeLeaf(dir, strangerCa, { cn: 'ops-stranger' });
    const https = await startAdminServer({
      registry,
      port: 0,
      certFile: serverLeaf.certPath,
      keyFile: serverLeaf.keyPath,
      clientCaFile: adminCa.certPath,
    });
    try {
      assert.match(https.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const certClient = await createAdminClient({
        url: https.url,
        certFile: good.certPath,
        keyFile: good.keyPath,
        caFile: adminCa.certPath,
      });
      try {
        assert.deepEqual(
          (await certClient.listInstitutions()).map((i) => i.id),
          ['acme'],
        );
      } finally {
        await certClient.close();
      }
      const viaCurl = await curl([
        '--cacert',
        adminCa.certPath,
        '--cert',
        good.certPath,
        '--key',
        good.keyPath,
        `${https.url}/v1/institutions`,
      ]);
      assert.equal(viaCurl.status, 200);
      for (const leaf of [noEku, stranger]) {
        const r = await curl([
          '--cacert',
          adminCa.certPath,
          '--cert',
          leaf.certPath,
          '--key',
          leaf.keyPath,
          `${https.url}/v1/institutions`,
        ]);
        assert.equal(r.status, 401, `${leaf.certPath} must not be an admin credential`);
      }
      const anonymous = await curl(['--cacert', adminCa.certPath, `${https.url}/v1/institutions`]);
      assert.equal(anonymous.status, 401);
      // The CLI trusts only the given CA for the admin server.
      const untrusted = await createAdminClient({
        url: https.url,
        certFile: good.certPath,
        keyFile: good.keyPath,
        caFile: strangerCa.certPath,
      });
      try {
        await assert.rejects(
          untrusted.listInstitutions(),
          (e: unknown) => e instanceof MtlsError && e.code === 'MTLS_TLS_SERVER_UNTRUSTED',
        );
      } finally {
        await untrusted.close();
      }
    } finally {
      await https.close();
    }
  });

  describe('CLI', () => {
    it('manages a registry file: tables, --json, exit codes, a private key refused', async () => {
      const file = join(dir, 'cli.db');
      const reg = ['--registry', file];
      const missing = await cli(['gateway', 'institution', 'list', ...reg]);
      assert.equal(missing.code, 3, missing.stderr);
      assert.match(
        missing.stderr,
        /error\[MTLS_CONFIG_INVALID\]: registry file .*cli\.db does not exist/,
      );
      assert.ok(!existsSync(file), 'a read command creates no registry');

      const add = await cli([
        'gateway',
        'institution',
        'add',
        'gamma',
        '--name',
        'Gamma Bank',
        ...reg,
      ]);
      assert.equal(add.code, 0, add.stderr);
      assert.match(add.stdout, /added institution gamma \(Gamma Bank\)/);
      const gammaCa = await makeCa(dir, { name: 'CLI Gamma CA' });
      const ca = await cli(['gateway', 'ca', 'add', 'gamma', gammaCa.certPath, ...reg]);
      assert.equal(ca.code, 0, ca.stderr);
      assert.match(ca.stdout, /registered CA chain \d+ for gamma/);
      const bundle = join(dir, 'bundle.pem');
      writeFileSync(bundle, gammaCa.certPem + gammaCa.keyPem);
      const key = await cli(['gateway', 'ca', 'add', 'gamma', bundle, ...reg]);
      assert.equal(key.code, 4);
      assert.match(
        key.stderr,
        /error\[MTLS_ONBOARD_REJECTED\]: .*bundle\.pem: block #2 is a PRIVATE KEY block\. A private key must NEVER be sent/,
      );
      const ip = await cli([
        'gateway',
        'ip',
        'add',
        'gamma',
        '192.0.2.10',
        '2001:db8:1::/48',
        ...reg,
      ]);
      assert.equal(ip.code, 0, ip.stderr);
      const badIp = await cli(['gateway', 'ip', 'add', 'gamma', '192.0.2.10/24', ...reg]);
      assert.equal(badIp.code, 2);
      assert.match(badIp.stderr, /host bits/);
      assert.match(badIp.stderr, /hint: Did you mean 192\.0\.2\.0\/24/);
      const rule = await cli(['gateway', 'rule', 'add', 'gamma', '--cn', 'api-client', ...reg]);
      assert.equal(rule.code, 0, rule.stderr);
      const twoRules = await cli([
        'gateway',
        'rule',
        'add',
        'gamma',
        '--cn',
        'a',
        '--o',
        'b',
        ...reg,
      ]);
      assert.equal(twoRules.code, 2);
      assert.equal((await cli(['gateway', 'institution', 'suspend', 'gamma', ...reg])).code, 0);

      const table = await cli(['gateway', 'institution', 'list', ...reg]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^ID\s+NAME\s+STATUS\s+CAS\s+IPS\s+CRLS\s+RULES\n/);
      assert.match(table.stdout, /gamma\s+Gamma Bank\s+suspended\s+1\s+2\s+0\s+1/);
      const json = JSON.parse(
        (await cli(['gateway', 'institution', 'show', 'gamma', '--json', ...reg])).stdout,
      ) as { institution: { status: string }; ips: { cidr: string }[] };
      assert.equal(json.institution.status, 'suspended');
      assert.deepEqual(
        json.ips.map((i) => i.cidr),
        ['192.0.2.10/32', '2001:db8:1::/48'],
      );
      const unknown = await cli(['gateway', 'institution', 'show', 'nobody', ...reg]);
      assert.equal(unknown.code, 4);
      assert.match(unknown.stderr, /error\[MTLS_NOT_FOUND\]/);

      const r = await openSqliteRegistry(file);
      await r.appendAudit([
        audit({ institutionId: 'gamma', reason: 'eku_missing' }),
        audit({ institutionId: 'gamma', outcome: 'accepted', reason: 'ok' }),
        audit({
          institutionId: 'gamma',
          kind: 'request',
          reason: 'revoked',
          method: 'POST',
          path: '/pay',
          status: 403,
          requestId: '3f2b8c1e-5a7d-4e2f-9b1c-0d4e6f8a2b3c',
        }),
      ]);
      await r.close();
      const auditJson = await cli([
        'gateway',
        'audit',
        '--since',
        '1h',
        '--institution',
        'gamma',
        '--outcome',
        'rejected',
        '--json',
        ...reg,
      ]);
      assert.equal(auditJson.code, 0, auditJson.stderr);
      assert.deepEqual(
        (JSON.parse(auditJson.stdout) as { items: AuditRecord[] }).items.map((x) => x.reason),
        ['revoked', 'eku_missing'],
      );
      const auditTable = await cli(['gateway', 'audit', '--since', '1h', ...reg]);
      assert.match(auditTable.stdout, /^TIME\s+KIND\s+OUTCOME\s+REASON/);
      assert.match(auditTable.stdout, /rejected\s+eku_missing\s+127\.0\.0\.1\s+gamma/);
      const badReason = await cli(['gateway', 'audit', '--reason', 'nope', ...reg]);
      assert.equal(badReason.code, 2);
      // Support looks a call up by the id the institution quotes, in any case.
      const byId = await cli([
        'gateway',
        'audit',
        '--request-id',
        '3F2B8C1E-5A7D-4E2F-9B1C-0D4E6F8A2B3C',
        ...reg,
      ]);
      assert.equal(byId.code, 0, byId.stderr);
      assert.match(byId.stdout, /REQUEST ID/);
      assert.match(byId.stdout, /POST \/pay 403\s+3f2b8c1e-5a7d-4e2f-9b1c-0d4e6f8a2b3c/);
      assert.equal(byId.stdout.trim().split('\n').length, 2, byId.stdout);
      const badId = await cli(['gateway', 'audit', '--request-id', 'yesterday', ...reg]);
      assert.equal(badId.code, 2);
      assert.match(
        badId.stderr,
        /error\[MTLS_BAD_ARGUMENT\]: --request-id "yesterday" is not a gateway request id/,
      );
      const oldRecord = await openSqliteRegistry(file);
      await oldRecord.appendAudit([
        audit({
          institutionId: 'gamma',
          time: new Date(Date.now() - 3 * 86_400_000).toISOString(),
          detail: 'three days old',
        }),
      ]);
      await oldRecord.close();
      const unconfirmed = await cli(['gateway', 'audit', 'prune', '--before', '2d', ...reg]);
      assert.equal(unconfirmed.code, 2, unconfirmed.stderr);
      assert.match(
        unconfirmed.stderr,
        /refusing without confirmation: Delete every audit record older than/,
      );
      const badBefore = await cli([
        'gateway',
        'audit',
        'prune',
        '--before',
        'soon',
        '--yes',
        ...reg,
      ]);
      assert.equal(badBefore.code, 2);
      assert.match(badBefore.stderr, /--before/);
      const prunedCli = await cli(['gateway', 'audit', 'prune', '--before', '2d', '--yes', ...reg]);
      assert.equal(prunedCli.code, 0, prunedCli.stderr);
      assert.match(prunedCli.stdout, /^deleted 1 audit record\(s\) older than \d{4}-/);
      // MTLS_REGISTRY is the default target.
      const viaEnv = await cli(['gateway', 'ip', 'list', 'gamma', '--json'], {
        MTLS_REGISTRY: file,
      });
      assert.equal((JSON.parse(viaEnv.stdout) as { items: unknown[] }).items.length, 2);
      const removed = await cli([
        'gateway',
        'institution',
        'remove',
        'gamma',
        '--yes',
        '--json',
        ...reg,
      ]);
      assert.deepEqual(JSON.parse(removed.stdout), {
        schema: 'mtls.gateway-institution-remove/v1',
        ok: true,
        removed: 'gamma',
      });
    });

    it('manages the same registry through the admin API (--admin), with the token from a file', async () => {
      const target = ['--admin', admin.url, '--admin-token-file', tokenFile];
      const add = await cli([
        'gateway',
        'institution',
        'add',
        'delta',
        '--name',
        'Delta',
        ...target,
      ]);
      assert.equal(add.code, 0, add.stderr);
      assert.ok(await registry.getInstitution('delta'), 'the API wrote to the registry');
      const deltaCa = await makeCa(dir, { name: 'CLI Delta CA' });
      const ca = await cli([
        'gateway',
        'ca',
        'add',
        'delta',
        deltaCa.certPath,
        '--json',
        ...target,
      ]);
      assert.equal(ca.code, 0, ca.stderr);
      assert.equal((JSON.parse(ca.stdout) as { certificates: unknown[] }).certificates.length, 1);
      const bundle = join(dir, 'delta-bundle.pem');
      writeFileSync(bundle, deltaCa.certPem + deltaCa.keyPem);
      const keyLog = log.length;
      const key = await cli(['gateway', 'ca', 'add', 'delta', bundle, ...target]);
      assert.equal(key.code, 4);
      assert.match(key.stderr, /MTLS_ONBOARD_REJECTED.*NEVER/);
      assert.ok(!log.slice(keyLog).some((e) => e.method === 'POST'), 'the key never left the CLI');
      assert.equal(
        (await cli(['gateway', 'ip', 'add', 'delta', '198.51.100.0/24', ...target])).code,
        0,
      );
      const rate = await cli([
        'gateway',
        'institution',
        'rate',
        'delta',
        '--requests-per-second',
        '2.5',
        '--burst',
        '10',
        ...target,
      ]);
      assert.equal(rate.code, 0, rate.stderr);
      assert.match(
        rate.stdout,
        /institution delta: its own, 2\.5 requests\/s, burst 10; applied within 1 s/,
      );
      assert.deepEqual((await registry.getInstitution('delta'))?.requestRate, {
        requestsPerSecond: 2.5,
        burst: 10,
      });
      const badRate = await cli([
        'gateway',
        'institution',
        'rate',
        'delta',
        '--requests-per-second',
        '2000000',
        ...target,
      ]);
      assert.equal(badRate.code, 2, badRate.stderr);
      assert.match(
        badRate.stderr,
        /MTLS_BAD_ARGUMENT.*requestsPerSecond 2000000 .*at most 1000000/,
      );
      const ips = await cli(['gateway', 'ip', 'list', '--json', ...target]);
      assert.ok(
        (JSON.parse(ips.stdout) as { items: { cidr: string }[] }).items.some(
          (i) => i.cidr === '198.51.100.0/24',
        ),
      );
      const crlFile = join(dir, 'delta.crl.pem');
      writeFileSync(
        crlFile,
        (
          await buildCrl({
            signer: { privateKey: deltaCa.privateKey, certificate: deltaCa.certificate },
            entries: [],
            crlNumber: 3n,
          })
        ).pem,
      );
      const crl = await cli(['gateway', 'crl', 'put', 'delta', crlFile, ...target]);
      assert.equal(crl.code, 0, crl.stderr);
      assert.match(crl.stdout, /registered CRL \d+ for delta: issuer C=BR, .*CN=CLI Delta CA/);
      await registry.appendAudit([
        audit({ institutionId: 'delta', reason: 'pinned_rule_mismatch' }),
        audit({
          institutionId: 'delta',
          kind: 'request',
          reason: 'ok',
          outcome: 'accepted',
          path: '/delta',
          requestId: '0b6e8f3c-1d2a-4c5b-8e7f-9a0b1c2d3e4f',
        }),
      ]);
      const viaApi = await cli([
        'gateway',
        'audit',
        '--request-id',
        '0b6e8f3c-1d2a-4c5b-8e7f-9a0b1c2d3e4f',
        '--json',
        ...target,
      ]);
      assert.equal(viaApi.code, 0, viaApi.stderr);
      assert.deepEqual(
        (JSON.parse(viaApi.stdout) as { items: AuditRecord[] }).items.map((x) => x.path),
        ['/delta'],
      );
      const pruneViaApi = await cli([
        'gateway',
        'audit',
        'prune',
        '--before',
        '1d',
        '--yes',
        '--json',
        ...target,
      ]);
      assert.equal(pruneViaApi.code, 0, pruneViaApi.stderr);
      const prunedJson = JSON.parse(pruneViaApi.stdout) as {
        schema: string;
        deleted: number;
        before: string;
      };
      assert.equal(prunedJson.schema, 'mtls.gateway-audit-prune/v1');
      assert.equal(typeof prunedJson.deleted, 'number');
      assert.ok(Date.parse(prunedJson.before) < Date.now() - 86_000_000);
      const au = await cli([
        'gateway',
        'audit',
        '--since',
        '1h',
        '--institution',
        'delta',
        '--outcome',
        'rejected',
        '--json',
        ...target,
      ]);
      assert.equal(au.code, 0, au.stderr);
      assert.deepEqual(
        (JSON.parse(au.stdout) as { items: AuditRecord[] }).items.map((x) => x.reason),
        ['pinned_rule_mismatch'],
      );

      const wrongToken = join(dir, 'wrong.token');
      writeFileSync(wrongToken, 'c'.repeat(32));
      const denied = await cli([
        'gateway',
        'institution',
        'list',
        '--admin',
        admin.url,
        '--admin-token-file',
        wrongToken,
      ]);
      assert.equal(denied.code, 4);
      assert.match(denied.stderr, /error\[MTLS_UNAUTHORIZED\]/);
      const noCreds = await cli(['gateway', 'institution', 'list', '--admin', admin.url]);
      assert.equal(noCreds.code, 2);
      const down = await cli([
        'gateway',
        'institution',
        'list',
        '--admin',
        'http://127.0.0.1:9',
        '--admin-token-file',
        tokenFile,
      ]);
      assert.equal(down.code, 6);
      assert.match(down.stderr, /error\[MTLS_NETWORK\]: cannot reach the admin API/);
    });
  });
});
