/**
 * The console on an HTTPS admin listener: an admin client certificate signs
 * in without a token, the session cookie is Secure, and the session (cookie +
 * CSRF token from the console's own origin) drives `/v1`. curl is the client.
 */
import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startAdminServer, type RunningAdmin } from '../../src/gateway/admin/server.js';
import type { SqliteRegistry } from '../../src/gateway/registry/sqlite-registry.js';
import { openTestRegistry } from '../helpers/gateway-harness.js';
import { makeCa, makeLeaf, makeServerLeaf, tempDir, type TestLeaf } from '../helpers/pki.js';

const exec = promisify(execFile);
const { dir, cleanup } = tempDir('mtlskit-console-tls-');
let registry: SqliteRegistry;
let admin: RunningAdmin;
let caPath: string;
let good: TestLeaf;
let stranger: TestLeaf;

/** curl -i: the status, the headers (lower-cased names) and the body. */
async function curl(args: string[]): Promise<{ status: number; headers: string[]; body: string }> {
  const r = await exec('curl', ['-sS', '-i', '--cacert', caPath, ...args], { timeout: 15_000 });
  const [head = '', ...rest] = r.stdout.split('\r\n\r\n');
  const lines = head.split('\r\n');
  return {
    status: Number(/^HTTP\/\S+ (\d+)/.exec(lines[0] ?? '')?.[1] ?? 0),
    headers: lines.slice(1).map((l) => l.replace(/^([^:]+):/, (n) => n.toLowerCase())),
    body: rest.join('\r\n\r\n'),
  };
}
const cert = (l: TestLeaf): string[] => ['--cert', l.certPath, '--key', l.keyPath];

describe('console on an HTTPS admin listener', () => {
  before(async () => {
    const adminCa = await makeCa(dir, { name: 'Admin CA' });
    caPath = adminCa.certPath;
    const server = await makeServerLeaf(dir, adminCa);
    good = await makeLeaf(dir, adminCa, { cn: 'ops-admin' });
    stranger = await makeLeaf(dir, await makeCa(dir, { name: 'Stranger CA' }), { cn: 'x' });
    registry = await openTestRegistry(dir);
    const tokenFile = join(dir, 'admin.token');
    writeFileSync(tokenFile, 'f'.repeat(32), { mode: 0o600 });
    admin = await startAdminServer({
      registry,
      port: 0,
      tokenFile,
      certFile: server.certPath,
      keyFile: server.keyPath,
      clientCaFile: adminCa.certPath,
    });
  });
  after(async () => {
    await admin.close();
    await registry.close();
    cleanup();
  });

  it('signs in with the admin client certificate into a Secure HttpOnly SameSite=Strict cookie', async () => {
    const r = await curl([...cert(good), `${admin.url}/console/api/session`]);
    assert.equal(r.status, 200, r.body);
    const setCookie = r.headers.find((h) => h.startsWith('set-cookie:')) ?? '';
    for (const attr of ['mtls_console=', 'HttpOnly', 'SameSite=Strict', 'Secure', 'Max-Age='])
      assert.ok(setCookie.includes(attr), `${attr} in ${setCookie}`);
    const session = JSON.parse(r.body) as { actor: string; csrf: string };
    assert.match(session.actor, /^cert:.*CN=ops-admin/);

    const cookie = /mtls_console=[^;]+/.exec(setCookie)?.[0] ?? '';
    const origin = admin.url;
    const create = (headers: string[]): Promise<{ status: number; body: string }> =>
      curl([
        ...headers,
        '-H',
        `cookie: ${cookie}`,
        '-H',
        'content-type: application/json',
        '--data',
        '{"id":"acme","name":"Acme"}',
        `${admin.url}/v1/institutions`,
      ]);
    // From the console's origin with the CSRF token: the session is an admin.
    const ok = await create(['-H', `origin: ${origin}`, '-H', `x-mtls-csrf: ${session.csrf}`]);
    assert.equal(ok.status, 201, ok.body);
    // The cookie alone, from a browser on another origin, is refused.
    const foreign = await create([
      '-H',
      'origin: https://127.0.0.1:1',
      '-H',
      `x-mtls-csrf: ${session.csrf}`,
    ]);
    assert.equal(foreign.status, 403);
    const noToken = await create(['-H', `origin: ${origin}`]);
    assert.equal(noToken.status, 403);
    assert.deepEqual(
      (await registry.loadTrust()).map((t) => t.institution.id),
      ['acme'],
    );
  });

  it('refuses a certificate from another CA, and no certificate at all', async () => {
    // The handshake admits token callers, so a stranger's certificate reaches the check and is refused there.
    assert.equal((await curl([...cert(stranger), `${admin.url}/console/api/session`])).status, 401);
    assert.equal((await curl([`${admin.url}/console/api/session`])).status, 401);
    const page = await curl([`${admin.url}/console/`]);
    assert.equal(page.status, 200, 'the sign-in page itself is public');
    assert.ok(
      page.headers.some(
        (h) => h.startsWith('content-security-policy:') && h.includes("script-src 'self'"),
      ),
    );
  });
});
