/**
 * The admin API route table: every route is reachable at its own path and
 * method, and the server built from it answers an unknown path 404, a wrong
 * method 405 with `Allow`, and a request failing a schema 400 naming the field.
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAdminServer, type RunningAdmin } from '../../src/gateway/admin/server.js';
import {
  ADMIN_ROUTES,
  matchRoute,
  routePath,
  type AdminRoute,
} from '../../src/gateway/admin/routes.js';
import {
  openSqliteRegistry,
  type SqliteRegistry,
} from '../../src/gateway/registry/sqlite-registry.js';
import { tempDir } from '../helpers/pki.js';

const TOKEN = '0123456789abcdef0123456789abcdef';

describe('admin API route table', () => {
  test('each route matches its own method and path, parameters decoded', () => {
    const sample = { id: 'acme bank', chainId: '7', crlId: '8', ruleId: '9', cidr: '10.0.0.0/8' };
    const routes: [string, AdminRoute][] = Object.entries(ADMIN_ROUTES);
    for (const [name, route] of routes) {
      const m = matchRoute(route.method, routePath(route, sample));
      assert.ok(m.kind === 'found', name);
      assert.equal(m.route, route, name);
      for (const [k, v] of Object.entries(m.params))
        assert.equal(v, sample[k as keyof typeof sample]);
    }
    const pairs = routes.map(([, r]) => `${r.method} ${r.path}`);
    assert.equal(new Set(pairs).size, pairs.length, 'no method and path is declared twice');
  });

  test('a path with no route is none; a known path with another method lists the allowed ones', () => {
    assert.deepEqual(matchRoute('GET', '/v1/nothing'), { kind: 'none' });
    assert.deepEqual(matchRoute('PUT', '/v1/institutions'), {
      kind: 'method',
      allowed: ['GET', 'POST'],
    });
    assert.deepEqual(matchRoute('GET', '/v1/institutions/a/ips/10.0.0.1'), {
      kind: 'method',
      allowed: ['DELETE'],
    });
  });
});

describe('admin API server from the route table', () => {
  let tmp: ReturnType<typeof tempDir>;
  let registry: SqliteRegistry;
  let admin: RunningAdmin;
  before(async () => {
    tmp = tempDir('mtls-admin-routes-');
    registry = await openSqliteRegistry(join(tmp.dir, 'registry.db'));
    const tokenFile = join(tmp.dir, 'admin.token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    admin = await startAdminServer({ registry, port: 0, tokenFile });
    await registry.createInstitution({ id: 'acme', name: 'Acme' });
  });
  after(async () => {
    await admin.close();
    await registry.close();
    tmp.cleanup();
  });

  async function call(
    method: string,
    path: string,
    body?: string,
  ): Promise<{ status: number; allow: string | null; error?: { code: string; message: string } }> {
    const res = await fetch(`${admin.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body }),
    });
    const text = await res.text();
    const parsed =
      text === '' ? undefined : (JSON.parse(text) as { error?: { code: string; message: string } });
    return { status: res.status, allow: res.headers.get('allow'), error: parsed?.error };
  }

  test('an unknown route is 404 MTLS_NOT_FOUND', async () => {
    const r = await call('GET', '/v1/institution');
    assert.equal(r.status, 404);
    assert.equal(r.error?.code, 'MTLS_NOT_FOUND');
    assert.equal(r.error.message, 'no admin API resource at /v1/institution');
  });

  test('a wrong method is 405 with Allow listing the methods of that path', async () => {
    const r = await call('PUT', '/v1/institutions/acme');
    assert.equal(r.status, 405);
    assert.equal(r.allow, 'GET, PATCH, DELETE');
    assert.equal(r.error?.code, 'MTLS_USAGE');
    assert.equal(r.error.message, 'PUT is not allowed on /v1/institutions/acme');
  });

  test('a body failing its schema is 400 MTLS_BAD_ARGUMENT naming the field', async () => {
    const cases: [string, string, string, string][] = [
      ['POST', '/v1/institutions', '{"id":5}', 'body field "id" must be a string'],
      ['POST', '/v1/institutions', '{"name":"x"}', 'body field "id" is missing (a string)'],
      [
        'PATCH',
        '/v1/institutions/acme',
        '{"status":"active","name":"x"}',
        'body field "name" cannot be changed; only "status" (active|suspended) can be changed',
      ],
      [
        'PATCH',
        '/v1/institutions/acme',
        '{"status":"gone"}',
        'body field "status" must be one of active, suspended',
      ],
      [
        'POST',
        '/v1/institutions/acme/rules',
        '{"kind":"subject","value":"x"}',
        'body field "kind" must be one of subject_cn, subject_o, fingerprint_sha256',
      ],
      [
        'POST',
        '/v1/institutions/acme/ips',
        '{}',
        'body field "cidr" is missing (an IP or CIDR string)',
      ],
      [
        'POST',
        '/v1/institutions/acme/ips',
        '{"cidr":"10.0.0.1","allowWideRange":"yes"}',
        'body field "allowWideRange" must be a boolean',
      ],
      [
        'POST',
        '/v1/institutions/acme/crl-urls',
        '{"url":"http://ca.example/x.crl","intervalSeconds":"60"}',
        'body field "intervalSeconds" must be a number',
      ],
    ];
    for (const [method, path, body, message] of cases) {
      const r = await call(method, path, body);
      assert.equal(r.status, 400, `${method} ${path} ${body}`);
      assert.equal(r.error?.code, 'MTLS_BAD_ARGUMENT');
      assert.equal(r.error.message, message);
    }
    assert.equal((await registry.loadTrust()).length, 1, 'nothing was created');
    assert.equal((await registry.loadTrust())[0]?.institution.status, 'active');
  });

  test('path and query parameters failing their schema are 400 naming the parameter', async () => {
    const chain = await call('DELETE', '/v1/institutions/acme/cas/abc');
    assert.equal(chain.status, 400);
    assert.equal(
      chain.error?.message,
      'path parameter "chainId" must be a whole number (got "abc")',
    );
    const limit = await call('GET', '/v1/audit?limit=ten');
    assert.equal(limit.status, 400);
    assert.equal(
      limit.error?.message,
      'query parameter "limit" must be a whole number (got "ten")',
    );
    const outcome = await call('GET', '/v1/audit?outcome=maybe');
    assert.equal(
      outcome.error?.message,
      'query parameter "outcome" must be one of accepted, rejected',
    );
    const ip = await call('DELETE', '/v1/institutions/acme/ips');
    assert.equal(ip.status, 400);
    assert.equal(
      ip.error?.message,
      'query parameter "cidr" is missing; give the IP/CIDR to remove: DELETE /v1/institutions/ID/ips?cidr=203.0.113.7',
    );
  });
});
