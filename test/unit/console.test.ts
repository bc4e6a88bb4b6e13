/**
 * The web console's pieces that need no browser: the built assets' size and
 * self-containment, the session cookie's attributes and expiry, CSV export.
 * (The browser flows are in test/integration/console-e2e.test.ts.)
 */
import 'reflect-metadata';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CONSOLE_ASSETS } from '../../src/gateway/console/assets.js';
import { auditCsv } from '../../src/gateway/console/handler.js';
import { createSessionStore, SESSION_COOKIE } from '../../src/gateway/console/session.js';
import { AUDIT_REASON_TEXTS } from '../../src/gateway/audit-reasons.js';
import { AUDIT_REASONS, type AuditRecord } from '../../src/gateway/registry/types.js';

const ASSETS = 'dist/gateway/console/assets';

const withCookie = (cookie: string): IncomingMessage =>
  // Only the headers are read by the store.
  ({ headers: { cookie } }) as unknown as IncomingMessage;

describe('console assets (after npm run build)', () => {
  it('are exactly the served files, under 300 KB gzip together, and load nothing from elsewhere', () => {
    const files = readdirSync(ASSETS).sort();
    assert.deepEqual(files, Object.keys(CONSOLE_ASSETS).sort());
    let gz = 0;
    for (const f of files) {
      const body = readFileSync(join(ASSETS, f));
      gz += gzipSync(body, { level: 9 }).length;
      // The SVG namespace is a name, not a fetch; nothing else may point off the box.
      const urls = body.toString('utf8').match(/https?:\/\/[^\s"'`)]+/g) ?? [];
      assert.deepEqual(
        urls.filter((u) => u !== 'http://www.w3.org/2000/svg'),
        [],
        `${f} references another origin`,
      );
    }
    process.stdout.write(`# console assets: ${gz} bytes gzip\n`);
    assert.ok(gz < 300 * 1024, `${gz} bytes gzip`);
  });

  it('adds no runtime dependency (the bundler and the browser driver are dev-only)', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    for (const dev of ['esbuild', 'playwright-core']) {
      assert.equal(pkg.dependencies[dev], undefined);
      assert.ok(pkg.devDependencies[dev]);
    }
  });
});

describe('console sessions', () => {
  it('sets an HttpOnly SameSite=Strict cookie with an expiry, Secure on TLS only', () => {
    let now = 1_000_000;
    const tls = createSessionStore(true, 60, () => now);
    const s = tls.create('token');
    const cookie = tls.cookie(s);
    assert.match(cookie, new RegExp(`^${SESSION_COOKIE}=${s.id}; `));
    for (const attr of [
      'HttpOnly',
      'SameSite=Strict',
      'Secure',
      'Path=/',
      'Max-Age=60',
      'Expires=',
    ])
      assert.ok(cookie.includes(attr), `${attr} in ${cookie}`);
    assert.ok(!createSessionStore(false).cookie(s).includes('Secure'));
    assert.notEqual(s.csrf, s.id);

    assert.equal(tls.fromRequest(withCookie(`a=b; ${SESSION_COOKIE}=${s.id}`))?.actor, 'token');
    assert.equal(tls.fromRequest(withCookie(`${SESSION_COOKIE}=${s.id}x`)), undefined);
    now += 60_000;
    assert.equal(tls.fromRequest(withCookie(`${SESSION_COOKIE}=${s.id}`)), undefined, 'expired');
    assert.match(tls.clearCookie(), /Max-Age=0/);
  });
});

describe('console audit CSV and reason texts', () => {
  it('quotes fields per RFC 4180 and defuses spreadsheet formulas', () => {
    const rec: AuditRecord = {
      id: 7,
      time: '2030-01-01T00:00:00.000Z',
      kind: 'connection',
      ip: '203.0.113.7',
      institutionId: 'acme',
      subject: 'CN=a, "b",O=c',
      issuer: null,
      serial: null,
      fingerprintSha256: null,
      tlsVersion: null,
      cipher: null,
      outcome: 'rejected',
      reason: 'unknown_ca',
      detail: '=HYPERLINK("x")',
    };
    const [head, row] = auditCsv([rec]).split('\r\n');
    assert.match(head ?? '', /^id,time,kind,ip,institutionId,outcome,reason,subject,/);
    assert.ok(row?.includes(',"CN=a, ""b"",O=c",'), row);
    assert.ok(row?.endsWith(`,"'=HYPERLINK(""x"")"`), row);
  });

  it('explains every reason code with a fix', () => {
    for (const r of AUDIT_REASONS) {
      assert.ok(AUDIT_REASON_TEXTS[r].meaning.length > 10, r);
      assert.ok(AUDIT_REASON_TEXTS[r].fix.length > 5, r);
    }
  });
});
