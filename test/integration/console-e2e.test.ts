/**
 * The web console end to end: headless Chromium (Debian's `chromium`, driven
 * by playwright-core) against a real gateway with a SQLite registry and its
 * admin listener. One browser for the whole file; the steps build on each
 * other the way an onboarding analyst would work. A screenshot of each page
 * is written under the test's temp dir (printed at the end), never committed.
 */
import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import axe from 'axe-core';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { SqliteRegistry } from '../../src/gateway/registry/sqlite-registry.js';
import {
  makeInstitution,
  makeServerPki,
  mtlsAttempt,
  openTestRegistry,
  run,
  startEchoUpstream,
  startTestGateway,
  type EchoUpstream,
  type TestGateway,
  type TestInstitution,
  type TestServerPki,
} from '../helpers/gateway-harness.js';
import { tempDir } from '../helpers/pki.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = '7c1e0b9a4f3d2e1c0b9a8f7e6d5c4b3a';

const { dir } = tempDir('mtlskit-console-');
const shots = join(dir, 'screenshots');
let pki: TestServerPki;
let acme: TestInstitution;
let stranger: TestInstitution;
let registry: SqliteRegistry;
let upstream: EchoUpstream;
let gw: TestGateway;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let consoleUrl: string;
let adminUrl: string;

/** Polls until `get` returns a value (the gateway's audit flush and trust reload are asynchronous). */
async function eventually<T>(what: string, get: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await get();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: not reached`);
}

const call = (leaf: { certPem: string; keyPem: string }, path = '/'): Promise<number | 'closed'> =>
  mtlsAttempt({
    port: gw.port,
    cert: leaf.certPem,
    key: leaf.keyPem,
    ca: pki.serverCa.certPem,
    path,
  });

/** A link of the console's main navigation. */
const nav = (name: string) =>
  page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name, exact: true });

/** What the test reads of an axe-core violation. */
interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  helpUrl: string;
  nodes: { target: unknown[]; failureSummary?: string }[];
}

/**
 * Runs axe-core's WCAG 2.0, 2.1 and 2.2 A and AA rules on the page as it is shown and
 * fails with one line per offending element. axe is evaluated through the
 * DevTools protocol, which the console's CSP (script-src 'self') does not
 * govern; the console is hash-routed, so one copy lasts until a reload.
 */
async function assertAccessible(where: string): Promise<void> {
  if ((await page.evaluate('typeof window.axe')) !== 'object') await page.evaluate(axe.source);
  const { violations } = await page.evaluate<{ violations: AxeViolation[] }>(
    `window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } })`,
  );
  const lines = violations.flatMap((v) => [
    `${v.id} (${v.impact ?? 'no impact'}): ${v.help} <${v.helpUrl}>`,
    ...v.nodes.map(
      (n) =>
        `    ${n.target.map(String).join(' ')}${n.failureSummary ? `: ${n.failureSummary.replace(/\s+/g, ' ')}` : ''}`,
    ),
  ]);
  assert.equal(
    violations.length,
    0,
    `axe found ${violations.length} violation(s) on ${where}:\n${lines.join('\n')}`,
  );
}

/** The focused element as the keyboard user sees it. */
interface Focused {
  tag: string;
  text: string;
  focusVisible: boolean;
  indicator: string;
}
const focused = (): Promise<Focused> =>
  page.evaluate<Focused>(`(() => {
    const el = document.activeElement ?? document.body;
    const cs = getComputedStyle(el);
    const outline = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0;
    const text = (el.getAttribute('aria-label') || el.labels?.[0]?.textContent || el.textContent || el.id || '').trim();
    return {
      tag: el.tagName.toLowerCase(),
      text,
      focusVisible: el.matches(':focus-visible'),
      indicator: outline ? 'outline ' + cs.outlineWidth + ' ' + cs.outlineStyle + ' ' + cs.outlineColor : cs.boxShadow === 'none' ? '' : 'box-shadow ' + cs.boxShadow,
    };
  })()`);

/**
 * Presses `key` until the focused element's tag and text match, asserting on
 * the way that every element the keyboard lands on shows where focus is.
 */
async function keyTo(key: 'Tab' | 'Shift+Tab', tag: string, text: RegExp): Promise<void> {
  const seen: string[] = [];
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press(key);
    const f = await focused();
    seen.push(`${f.tag} "${f.text.slice(0, 40)}"`);
    // A date field's focus is on a part inside it (:focus-visible does not
    // match the field itself), so the check is on the drawn ring.
    assert.ok(
      f.indicator,
      `${f.tag} "${f.text}" reached by ${key} has no outline or box-shadow (:focus-visible ${f.focusVisible})`,
    );
    if (f.tag === tag && text.test(f.text)) return;
  }
  assert.fail(`${key} never reached ${tag} ${text}; focus went through ${seen.join(', ')}`);
}

/** After a page change the keyboard user is on the new page's main heading. */
async function assertFocusOnHeading(name: string): Promise<void> {
  // Shorter than the default 30 s: a page that does not come is a failure here.
  await page.getByRole('heading', { name, level: 1 }).waitFor({ timeout: 5000 });
  const f = await eventuallyFocused('h1', name);
  assert.equal(
    f.tag,
    'h1',
    `focus is on the heading ${name}, not ${f.tag} "${f.text.replace(/\s+/g, ' ').slice(0, 60)}"`,
  );
  assert.ok(f.indicator, `the focused heading ${name} shows focus`);
}
async function eventuallyFocused(tag: string, text: string): Promise<Focused> {
  let f = await focused();
  for (let i = 0; i < 40 && !(f.tag === tag && f.text.startsWith(text)); i++) {
    await new Promise((r) => setTimeout(r, 25));
    f = await focused();
  }
  return f;
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

describe(
  'web console in headless Chromium',
  { skip: !existsSync(CHROMIUM) && `${CHROMIUM} is not installed` },
  () => {
    before(async () => {
      mkdirSync(shots, { recursive: true });
      pki = await makeServerPki(dir);
      acme = await makeInstitution(dir, 'acme');
      stranger = await makeInstitution(dir, 'stranger');
      registry = await openTestRegistry(dir);
      upstream = await startEchoUpstream();
      const tokenFile = join(dir, 'admin.token');
      writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
      gw = await startTestGateway({
        registry,
        upstream: upstream.url,
        pki,
        values: { admin: { listen: '127.0.0.1:0', tokenFile } },
      });
      const url = gw.gateway.adminUrl();
      assert.ok(url, 'the admin listener is on');
      adminUrl = url;
      consoleUrl = `${url}/console/`;
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      context = await browser.newContext({ acceptDownloads: true });
      page = await context.newPage();
    });

    after(async () => {
      await browser.close();
      await gw.close();
      await upstream.close();
      await registry.close();
      // The screenshots stay for inspection; the temp dir is the test's artifact folder.
      process.stdout.write(`# console screenshots: ${shots}\n`);
    });

    it('refuses a wrong token, then signs in with the right one into an HttpOnly SameSite=Strict cookie', async () => {
      await page.goto(consoleUrl);
      await page.getByLabel('Admin token').fill('not-the-admin-token-at-all');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').getByText('the bearer token is not valid').waitFor();
      await shot('login');
      await assertAccessible('the sign-in page with a refused token');
      assert.equal((await context.cookies()).length, 0, 'no cookie for a wrong token');

      await page.getByLabel('Admin token').fill(TOKEN);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Overview' }).waitFor();
      const [cookie, ...others] = await context.cookies();
      assert.equal(others.length, 0);
      assert.ok(cookie);
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, 'Strict');
      assert.ok(cookie.expires > Date.now() / 1000, 'the cookie has an expiry');
      assert.ok(!cookie.value.includes(TOKEN.slice(0, 8)), 'the cookie is not the token');
      // Page-side expressions as strings: the tests compile without the DOM library.
      const stored = await page.evaluate('localStorage.length + sessionStorage.length');
      assert.equal(stored, 0, 'nothing in localStorage or sessionStorage');
      assert.equal(
        await page.evaluate('document.cookie'),
        '',
        'the script cannot read the session',
      );
      await page.getByText('Ready', { exact: true }).waitFor();
      await page.getByText(/Expires .* UTC/).waitFor();
      await page.getByText(/^Last change applied \d+ (s|min|h|days) ago$/).waitFor();
      await shot('overview');
      await assertAccessible('the overview');
    });

    it('adds an institution', async () => {
      await nav('Institutions').click();
      await page.getByLabel('Id').fill('acme');
      await page.getByLabel('Name').fill('Acme Bank');
      await page.getByRole('button', { name: 'Add institution' }).click();
      await page.getByRole('heading', { name: 'Acme Bank (acme)' }).waitFor();
      assert.equal((await registry.loadTrust())[0]?.institution.name, 'Acme Bank');
    });

    it('refuses a chain file holding a private key with the CLI message, and stores nothing', async () => {
      await page.getByRole('link', { name: 'Onboard a CA chain…' }).click();
      await page.getByLabel('Chain file (PEM or DER)').setInputFiles({
        name: 'leaked.pem',
        mimeType: 'application/x-pem-file',
        buffer: Buffer.from(acme.root.certPem + acme.root.keyPem),
      });
      await page.getByRole('heading', { name: 'Refused' }).waitFor();
      const text = await page.locator('main').innerText();
      assert.match(
        text,
        /A private key must NEVER be sent to the provider; the upload was refused and nothing was stored/,
      );
      assert.match(text, /check: private_key/);
      const keyBody = acme.root.keyPem.split('\n')[1] ?? 'x';
      assert.ok(!(await page.content()).includes(keyBody), 'the key is never echoed');
      assert.ok(!(await page.content()).includes('BEGIN'), 'no PEM echoed at all');
      assert.equal(await page.getByRole('button', { name: 'Store this chain' }).isDisabled(), true);
      assert.equal((await registry.loadTrust())[0]?.chains.length, 0, 'nothing stored');
      await assertAccessible('the onboarding page with a refused chain');
    });

    it('checks a valid chain first, holds it back on a wrong expected fingerprint, and stores it on the right one', async () => {
      const chainFile = join(dir, 'acme-chain.der');
      writeFileSync(chainFile, Buffer.from(acme.root.certificate.rawData));
      // The independent oracle: openssl's colon-hex SHA-256 of the DER file.
      const ossl = await run('openssl', [
        'x509',
        '-inform',
        'DER',
        '-in',
        chainFile,
        '-noout',
        '-fingerprint',
        '-sha256',
      ]);
      const fingerprint = /=([0-9A-F:]+)/.exec(ossl.stdout)?.[1] ?? '';
      assert.equal(fingerprint.length, 95);

      await page.getByLabel('Chain file (PEM or DER)').setInputFiles(chainFile);
      await page.getByRole('heading', { name: 'Checks passed' }).waitFor();
      await page.locator('.fingerprint', { hasText: fingerprint }).waitFor();
      assert.match(await page.locator('table.certs').innerText(), /EC P-256|RSA \d+/);
      await page
        .getByLabel('Expected SHA-256 fingerprint (optional)')
        .fill('AB:'.repeat(31) + 'AB');
      await page.getByText('matches no certificate of this chain').waitFor();
      assert.equal(await page.getByRole('button', { name: 'Store this chain' }).isDisabled(), true);
      assert.equal((await registry.loadTrust())[0]?.chains.length, 0, 'checking stores nothing');

      await page
        .getByLabel('Expected SHA-256 fingerprint (optional)')
        .fill(fingerprint.toLowerCase());
      await page.getByText('The expected fingerprint matches').waitFor();
      await shot('onboard');
      await assertAccessible('the onboarding page with a checked chain');
      await page.getByRole('button', { name: 'Store this chain' }).click();
      await page.getByText(/Stored as chain \d+/).waitFor();
      // The Store button is disabled now; focus is on what happened, not on the body.
      assert.match((await eventuallyFocused('div', 'Stored as chain')).text, /^Stored as chain/);
      const chains = (await registry.loadTrust())[0]?.chains ?? [];
      assert.equal(chains.length, 1);
      assert.equal(chains[0]?.fingerprints[0], fingerprint.replace(/:/g, '').toLowerCase());
    });

    it('adds an IP; a real mTLS call and a refused one show in the audit page with the reason explained', async () => {
      await page.getByRole('link', { name: 'Back to acme' }).click();
      await page.getByLabel('IP or CIDR').fill('127.0.0.1');
      await page.getByRole('button', { name: 'Add IP' }).click();
      await page.getByText('127.0.0.1/32', { exact: true }).waitFor();
      // Its own request rate: set from the form, shown, stored; then cleared.
      await page.getByLabel('Requests per second').fill('2.5');
      await page.getByLabel('Burst').fill('10');
      await page.getByRole('button', { name: 'Set its rate' }).click();
      await page.getByText('Its own: 2.5 requests/s, burst 10', { exact: false }).waitFor();
      assert.deepEqual((await registry.getInstitution('acme'))?.requestRate, {
        requestsPerSecond: 2.5,
        burst: 10,
      });
      // The browser's own checks (min, step) stop a burst of 0; the registry's range is past them.
      await page.getByLabel('Requests per second').fill('2000000');
      await page.getByRole('button', { name: 'Set its rate' }).click();
      await page.getByRole('alert').getByText('requestsPerSecond 2000000 is not').waitFor();
      await page.getByRole('button', { name: "Use the gateway's limits" }).click();
      await page.getByText("Each gateway's limits.institutionRequestsPerSecond").waitFor();
      assert.equal((await registry.getInstitution('acme'))?.requestRate, null);
      await page.locator('.fingerprint').first().waitFor();
      await shot('institution');
      await assertAccessible('the institution page');

      await eventually('the gateway accepts acme', async () =>
        (await call(acme.client, '/first')) === 200 ? true : undefined,
      );
      assert.equal(await call(stranger.client, '/stranger'), 403);
      await eventually('both calls audited', async () => {
        const rows = await registry.queryAudit({ institutionId: 'acme', limit: 50 });
        return rows.some((r) => r.reason === 'unknown_ca') && rows.some((r) => r.reason === 'ok')
          ? true
          : undefined;
      });

      await nav('Audit trail').click();
      await page.getByRole('heading', { name: 'Audit trail' }).waitFor();
      const table = page.locator('table.audit');
      await table.getByText('C=BR, ST=SP, O=Test, CN=acme-client').first().waitFor();
      const refused = table.locator('tr', { hasText: 'unknown_ca' }).first();
      await refused.waitFor();
      const refusedText = await refused.innerText();
      assert.match(refusedText, /rejected/);
      assert.match(refusedText, /not issued by any CA registered for the institution/);
      assert.match(
        refusedText,
        /Fix: The institution must use a certificate from its registered CA/,
      );
      await shot('audit');
      await assertAccessible('the audit trail with records');

      // Live updates: a new call appears on page 1 without reloading.
      const before = await table.locator('tbody tr').count();
      assert.equal(await call(acme.client, '/live'), 200);
      await eventually('the live row', async () =>
        (await table.locator('tbody tr').count()) > before ? true : undefined,
      );

      // Filter by reason, then export what is shown as CSV.
      await page.getByLabel('Reason').selectOption('unknown_ca');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL(/reason=unknown_ca/);
      // The filtered table replaces the old one once its query has answered.
      const reasons = await eventually('the filtered table', async () => {
        const r = await table.locator('tbody tr td:nth-child(5) code').allInnerTexts();
        return r.length > 0 && r.every((x) => x === 'unknown_ca') ? r : undefined;
      });
      assert.ok(reasons.length >= 1);
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: 'Export CSV' }).click(),
      ]);
      const csv = readFileSync(await download.path(), 'utf8')
        .trim()
        .split('\r\n');
      assert.match(csv[0] ?? '', /^id,time,kind,ip,institutionId,outcome,reason,/);
      assert.match(csv[0] ?? '', /,requestId,detail$/);
      assert.ok(csv.length >= 2 && csv.slice(1).every((l) => l.includes(',rejected,unknown_ca,')));

      // The refused call's request id (what the institution would quote) finds its one row.
      const [refusal] = await registry.queryAudit({ reason: 'unknown_ca', ip: '127.0.0.1' });
      const requestId = (await registry.queryAudit({ limit: 200 })).find(
        (r) => r.path === '/stranger',
      )?.requestId;
      assert.ok(refusal && requestId, 'the refused request has a request id');
      await page.getByLabel('Reason').selectOption('');
      await page.getByLabel('Request id').fill(requestId.toUpperCase());
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL(/requestId=/);
      const rows = await eventually('the one request', async () => {
        const r = await table.locator('tbody tr').allInnerTexts();
        return r.length === 1 && r[0]?.includes('/stranger') ? r : undefined;
      });
      assert.ok(rows[0]?.includes(requestId), rows[0]);
    });

    it('suspends the institution; its next call is refused and audited as institution_suspended', async () => {
      await nav('Institutions').click();
      const row = page.locator('tr', { hasText: 'Acme Bank' });
      await row.getByText('active').waitFor();
      await shot('institutions');
      await assertAccessible('the institutions list');
      await page.getByRole('button', { name: 'Suspend acme' }).click();
      await row.getByText('suspended').waitFor();
      assert.equal((await registry.loadTrust())[0]?.institution.status, 'suspended');
      const outcome = await eventually('the suspension takes effect', async () => {
        const r = await call(acme.client, '/after-suspend');
        return r === 200 ? undefined : r;
      });
      assert.notEqual(outcome, 200);
      await eventually(
        'the refusal is audited',
        async () => (await registry.queryAudit({ reason: 'institution_suspended', limit: 1 }))[0],
      );
      await nav('Audit trail').click();
      await page.locator('table.audit tr', { hasText: 'institution_suspended' }).first().waitFor();
      // The overview now has traffic: bars, counts and the top rejection reasons.
      await nav('Overview').click();
      await page.getByText(/Accepted \([1-9]\d*\)/).waitFor();
      await page.locator('table', { hasText: 'institution_suspended' }).waitFor();
      assert.ok((await page.locator('svg.chart rect').count()) >= 1);
      await shot('overview-traffic');
      await assertAccessible('the overview with traffic');
    });

    it('refuses a cross-site POST carrying the session cookie, and a same-site call without the CSRF token', async () => {
      // Another origin on the same site (127.0.0.1, another port): SameSite lets
      // the cookie through, so only the CSRF token stands in the way.
      const evil: Server = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(`<!doctype html><form id="f" method="POST" enctype="text/plain" action="${adminUrl}/v1/institutions"><input name='{"id":"evil","name":"x","pad":"' value='"}'></form>
<form id="g" method="POST" action="${adminUrl}/console/api/logout"></form>
<script>document.getElementById(location.hash === '#g' ? 'g' : 'f').submit();</script>`);
      });
      await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
      const evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/`;
      try {
        const attacker = await context.newPage();
        const post = attacker.waitForResponse((r) => r.url().startsWith(adminUrl));
        await attacker.goto(evilUrl);
        const res = await post;
        assert.equal(res.status(), 403);
        const sent = await res.request().allHeaders();
        assert.equal(sent.cookie?.includes('mtls_console='), true, 'the cookie was sent');
        assert.match(await res.text(), /does not serve browser requests/);

        const logout = attacker.waitForResponse((r) => r.url().startsWith(adminUrl));
        await attacker.goto(`${evilUrl}#g`);
        await attacker.reload();
        assert.equal((await logout).status(), 403, 'a cross-site logout is refused too');
        await attacker.close();
      } finally {
        await new Promise<void>((r) => evil.close(() => r()));
      }
      assert.equal(
        (await registry.loadTrust()).some((t) => t.institution.id === 'evil'),
        false,
        'nothing was created',
      );
      // Same cookie jar, no CSRF header: refused as unauthenticated.
      const direct = await context.request.post(`${adminUrl}/v1/institutions`, {
        data: { id: 'evil2', name: 'x' },
      });
      assert.equal(direct.status(), 401);
      const api = await context.request.post(`${adminUrl}/console/api/logout`);
      assert.equal(api.status(), 403);
      // The session survived all of it.
      await page.reload();
      await page.getByRole('heading', { name: 'Overview' }).waitFor();
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
    });

    it('removes an institution only after its id is typed, and signs out', async () => {
      await registry.createInstitution({ id: 'tmp', name: 'Temporary' });
      await nav('Institutions').click();
      await page.getByRole('button', { name: 'Remove tmp…' }).click();
      const confirm = page.getByLabel('Type tmp to remove it and everything registered for it');
      await confirm.fill('tm');
      assert.equal(await page.getByRole('button', { name: 'Remove for good' }).isDisabled(), true);
      await confirm.fill('tmp');
      await page.getByRole('button', { name: 'Remove for good' }).click();
      await eventually('tmp removed', async () =>
        (await registry.loadTrust()).some((t) => t.institution.id === 'tmp') ? undefined : true,
      );
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      const after = await context.request.get(`${adminUrl}/console/api/session`);
      assert.equal(after.status(), 401, 'the session is gone');
    });

    it('is usable with the keyboard alone: visible focus everywhere, focus on the new heading after each page change', async () => {
      await page.goto(consoleUrl);
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      // The sign-in page puts the cursor in the token field.
      assert.equal((await eventuallyFocused('input', 'Admin token')).text, 'Admin token');
      await page.keyboard.type(TOKEN);
      await keyTo('Tab', 'button', /^Sign in$/);
      await page.keyboard.press('Enter');
      await assertFocusOnHeading('Overview');

      // The section links are before the page, in the header.
      await keyTo('Shift+Tab', 'a', /^Institutions$/);
      await page.keyboard.press('Enter');
      await assertFocusOnHeading('Institutions');
      await keyTo('Tab', 'a', /^acme$/);
      await page.keyboard.press('Enter');
      await assertFocusOnHeading('Acme Bank (acme)');
      // The skip link moves focus into the page and leaves the route alone.
      await keyTo('Shift+Tab', 'a', /^Skip to content$/);
      await page.keyboard.press('Enter');
      await assertFocusOnHeading('Acme Bank (acme)');
      assert.match(page.url(), /#\/institutions\/acme$/);

      // The audit filter: type an address, submit with Space on the button.
      await keyTo('Shift+Tab', 'a', /^Audit trail$/);
      await page.keyboard.press('Enter');
      await assertFocusOnHeading('Audit trail');
      await keyTo('Tab', 'input', /^IP$/);
      await page.keyboard.type('127.0.0.1');
      await keyTo('Tab', 'button', /^Filter$/);
      await page.keyboard.press('Space');
      await page.waitForURL(/ip=127\.0\.0\.1/);
      await assertFocusOnHeading('Audit trail');
      await page.locator('table.audit tbody tr', { hasText: '127.0.0.1' }).first().waitFor();
      await shot('keyboard');
    });

    it('saved a screenshot of each page', () => {
      for (const name of ['login', 'overview', 'institutions', 'institution', 'onboard', 'audit']) {
        const file = join(shots, `${name}.png`);
        assert.ok(existsSync(file) && statSync(file).size > 1000, `${file} is a screenshot`);
      }
    });
  },
);
