/**
 * The console page: a small hash-routed app over `/console/api` and `/v1`.
 * The CSRF token lives in this module's memory only (never in storage); the
 * session itself is an HttpOnly cookie the script cannot read.
 */

interface ReasonText {
  meaning: string;
  fix: string;
}
interface Session {
  actor: string;
  csrf: string;
  expiresAt: string;
  reasons: Record<string, ReasonText>;
}
interface ApiErrorBody {
  code: string;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}
interface AuditRecord {
  id: number;
  time: string;
  kind: string;
  ip: string;
  institutionId: string | null;
  subject: string | null;
  issuer: string | null;
  outcome: 'accepted' | 'rejected';
  reason: string;
  detail: string | null;
  method?: string | null;
  path?: string | null;
  status?: number | null;
  requestId?: string | null;
}
interface CertInfo {
  position: number;
  subject: string;
  issuer: string;
  fingerprint: string;
  notBefore: string;
  notAfter: string;
  key: string;
  signatureAlgorithm: string;
  selfSigned: boolean;
}
interface InstitutionRow {
  id: string;
  name: string;
  status: string;
  chains: number;
  ips: number;
  crls: number;
  rules: number;
  crlThisUpdate: string | null;
  lastAccepted: string | null;
  lastRejected: string | null;
}
interface InstitutionDetail {
  institution: {
    id: string;
    name: string;
    status: string;
    createdAt: string;
    requestRate: { requestsPerSecond: number; burst: number } | null;
  };
  chains: {
    id: number;
    subject: string;
    notAfter: string;
    fingerprints: string[];
    createdAt: string;
    certificates: CertInfo[] | null;
  }[];
  ips: { cidr: string; createdAt: string }[];
  crls: { id: number; issuer: string; thisUpdate: string; nextUpdate: string | null }[];
  rules: { id: number; kind: string; value: string }[];
  crlSources: { url: string; lastStatus: string | null; lastGoodAt: string | null }[];
  audit: AuditRecord[];
}
interface Overview {
  now: string;
  perMinute: { minute: string; accepted: number; rejected: number }[];
  topReasons: { reason: string; count: number }[];
  ready: { ok: boolean; version?: number; detail?: string };
  serverCertNotAfter: string | null;
  registryVersion: number | null;
  registryError: string | null;
  /** When the gateway last applied a registry change (its trust snapshot was built). */
  registryAppliedAt: string | null;
  trustStale: boolean | null;
  auditFailingSeconds: number | null;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(body.message);
  }
}

let session: Session | undefined;
let pollTimer: number | undefined;

const main = (): HTMLElement => byId('main');
function byId(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
}

type Child = Node | string | number | null | undefined | false | Child[];
type Attr = string | boolean | number | undefined | ((e: Event) => void);

/** Creates an element; `on…` attributes become listeners, booleans toggle the attribute. */
function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, Attr> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (v === true) el.setAttribute(k, '');
    else if (v !== false && v !== undefined) el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}
/** Replaces an element's children (nulls and arrays allowed, like {@link h}). */
function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}
function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
}
const svg = (tag: string, attrs: Record<string, string | number>): SVGElement => {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
};

function announce(text: string): void {
  byId('status').textContent = text;
}

/** One call to the console's server; JSON in and out, the CSRF header always. */
async function call<T>(
  method: string,
  url: string,
  body?: unknown,
  raw?: { data: Blob | ArrayBuffer; type: string },
): Promise<T> {
  const headers: Record<string, string> = {};
  if (session) headers['x-mtls-csrf'] = session.csrf;
  let payload: BodyInit | undefined;
  if (raw) {
    headers['content-type'] = raw.type;
    payload = raw.data;
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(url, {
    method,
    headers,
    body: payload ?? null,
    credentials: 'same-origin',
  });
  // 204 answers (DELETE) are awaited for their completion only, never read.
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  const json: unknown = text ? JSON.parse(text) : undefined;
  if (!res.ok) {
    const err =
      typeof json === 'object' && json !== null && 'error' in json
        ? // Every error of the admin API and the console is {error: {code, message, hint}}.
          (json.error as ApiErrorBody)
        : { code: `HTTP_${res.status}`, message: text || res.statusText };
    if (res.status === 401 && !url.endsWith('/login')) {
      session = undefined;
      renderLogin('Your session ended; sign in again.');
    }
    throw new ApiError(res.status, err);
  }
  // The JSON shapes are the server's (src/gateway/console/handler.ts and the /v1 routes).
  return json as T;
}

function errorBox(e: unknown): HTMLElement {
  const body: ApiErrorBody =
    e instanceof ApiError
      ? e.body
      : { code: 'ERROR', message: e instanceof Error ? e.message : String(e) };
  return h(
    'div',
    { class: 'error', role: 'alert' },
    h('strong', {}, body.message),
    body.hint ? h('p', {}, body.hint) : null,
    h('p', { class: 'muted' }, body.code),
  );
}

/** Colon-separated upper-case hex, the way fingerprints are read aloud. */
const colonHex = (hex: string): string => (hex.toUpperCase().match(/../g) ?? []).join(':');
const normalizeFp = (s: string): string => s.replace(/[^0-9a-fA-F]/g, '').toLowerCase();

const when = (iso: string | null | undefined): string =>
  iso ? `${iso.slice(0, 19).replace('T', ' ')} UTC` : '—';
function age(iso: string | null | undefined): string {
  if (!iso) return '—';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  const abs = Math.abs(s);
  const text =
    abs < 120
      ? `${abs} s`
      : abs < 7200
        ? `${Math.round(abs / 60)} min`
        : abs < 172800
          ? `${Math.round(abs / 3600)} h`
          : `${Math.round(abs / 86400)} days`;
  return s >= 0 ? `${text} ago` : `in ${text}`;
}
const reasonText = (code: string): ReasonText | undefined => session?.reasons[code];

function reasonCell(code: string): HTMLElement {
  const t = reasonText(code);
  return h(
    'td',
    {},
    h('code', {}, code),
    t && code !== 'ok'
      ? h('div', {}, t.meaning, h('div', { class: 'muted' }, 'Fix: ', t.fix))
      : null,
  );
}

function auditTable(rows: AuditRecord[], caption: string): HTMLTableElement {
  return h(
    'table',
    { class: 'audit' },
    h('caption', { class: 'visually-hidden' }, caption),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Time', 'Institution', 'IP', 'Outcome', 'Reason', 'Certificate', 'Request'].map((c) =>
          h('th', { scope: 'col' }, c),
        ),
      ),
    ),
    h('tbody', {}, rows.map(auditRow)),
  );
}
function auditRow(r: AuditRecord): HTMLTableRowElement {
  return h(
    'tr',
    { 'data-id': r.id },
    h('td', {}, when(r.time)),
    h('td', {}, r.institutionId ?? '—'),
    h('td', {}, r.ip),
    h('td', { class: r.outcome === 'accepted' ? 'ok' : 'bad' }, r.outcome),
    reasonCell(r.reason),
    h('td', {}, r.subject ?? '—'),
    h(
      'td',
      {},
      r.kind === 'request' ? `${r.method ?? ''} ${r.path ?? ''} ${r.status ?? ''}` : 'connection',
      r.requestId ? [h('br'), h('code', { title: 'Request id' }, r.requestId)] : [],
    ),
  );
}

// ---- sign-in -------------------------------------------------------------

function renderLogin(message?: string): void {
  stopPolling();
  // The first page after signing in is a new page, whatever was shown before.
  shownRoute = undefined;
  byId('nav').hidden = true;
  byId('who').replaceChildren();
  const error = h('div', {});
  const input = h('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    required: true,
  });
  const form = h(
    'form',
    {
      onsubmit: (e) => {
        e.preventDefault();
        error.replaceChildren();
        call<Session>('POST', '/console/api/login', { token: input.value })
          .then((s) => {
            session = s;
            input.value = '';
            if (!location.hash || location.hash === '#/login') location.hash = '#/overview';
            void render();
          })
          .catch((err: unknown) => error.replaceChildren(errorBox(err)));
      },
    },
    h('label', { for: 'token' }, 'Admin token', input),
    h('button', { type: 'submit' }, 'Sign in'),
  );
  fill(
    main(),
    h('h1', {}, 'Sign in'),
    message ? h('p', { class: 'notice' }, message) : null,
    h(
      'p',
      {},
      'Paste the admin API token (the first line of the admin token file). It is exchanged for a session cookie and not kept by the page.',
    ),
    form,
    error,
  );
  input.focus();
}

async function logout(): Promise<void> {
  try {
    await call('POST', '/console/api/logout');
  } finally {
    session = undefined;
    renderLogin('Signed out.');
  }
}

// ---- pages ---------------------------------------------------------------

/** Read through a call so the compiler does not assume the session outlives an await. */
const signedIn = (): boolean => session !== undefined;

function stopPolling(): void {
  if (pollTimer !== undefined) window.clearInterval(pollTimer);
  pollTimer = undefined;
}

async function render(): Promise<void> {
  stopPolling();
  if (!session) {
    renderLogin();
    return;
  }
  byId('nav').hidden = false;
  byId('who').replaceChildren(
    h('span', {}, `Signed in (${session.actor})`),
    h('button', { class: 'secondary', type: 'button', onclick: () => void logout() }, 'Sign out'),
  );
  const route = (location.hash || '#/overview').split('?')[0] ?? '';
  const [, page = 'overview', arg] = route.split('/').map(decodeURIComponent);
  for (const a of document.querySelectorAll('nav a'))
    if (a.getAttribute('href') === `#/${page}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  let view: Node;
  try {
    if (page === 'institutions' && arg) view = await institutionPage(arg);
    else if (page === 'institutions') view = await institutionsPage();
    else if (page === 'onboard' && arg) view = onboardPage(arg);
    else if (page === 'audit') view = await auditPage();
    else view = await overviewPage();
  } catch (e) {
    // A 401 inside a page has already shown the sign-in form.
    if (!signedIn()) return;
    view = errorBox(e);
  }
  const before = document.activeElement;
  main().replaceChildren(view);
  const heading = main().querySelector('h1');
  document.title = `${heading?.textContent ?? 'Console'} · mtlskit console`;
  placeFocus(before, heading);
}

/** The hash of the page last shown, to tell a page change from a refresh of the same page. */
let shownRoute: string | undefined;

/**
 * Replacing the view removes the focused element when it was inside it, and
 * the browser then drops focus to the body: a keyboard user would start over
 * from the top and a screen reader would not say that anything changed. On a
 * new page, focus goes to its heading; on the same page redrawn after an
 * action, to the control of the same id if it is still there (the field one
 * was typing in), else to the heading. Focus outside the view (the header)
 * stays where it is on a redraw.
 */
function placeFocus(before: Element | null, heading: HTMLElement | null): void {
  const newPage = location.hash !== shownRoute;
  shownRoute = location.hash;
  const lost = !document.activeElement || document.activeElement === document.body;
  if (!newPage && !lost) return;
  const again = !newPage && before?.id ? document.getElementById(before.id) : null;
  const target = again ?? heading ?? main();
  if (target === heading) heading.tabIndex = -1;
  target.focus();
}

async function overviewPage(): Promise<Node> {
  const o = await call<Overview>('GET', '/console/api/overview');
  const accepted = o.perMinute.reduce((n, m) => n + m.accepted, 0);
  const rejected = o.perMinute.reduce((n, m) => n + m.rejected, 0);
  const certDays = o.serverCertNotAfter
    ? Math.floor((Date.parse(o.serverCertNotAfter) - Date.now()) / 86400000)
    : null;
  return h(
    'section',
    {},
    h('h1', {}, 'Overview'),
    h(
      'div',
      { class: 'cards' },
      h(
        'div',
        { class: 'card' },
        h('h2', {}, 'Readiness'),
        h(
          'p',
          { class: o.ready.ok ? 'ok' : 'bad' },
          o.ready.ok ? 'Ready' : `Not ready: ${o.ready.detail ?? ''}`,
        ),
      ),
      h(
        'div',
        { class: 'card' },
        h('h2', {}, 'Registry'),
        h('p', {}, `Version ${o.registryVersion ?? '—'}`),
        o.registryAppliedAt ? h('p', {}, `Last change applied ${age(o.registryAppliedAt)}`) : null,
        o.trustStale
          ? h('p', { class: 'bad' }, 'Stale: the gateway cannot read the registry')
          : null,
        o.registryError ? h('p', { class: 'warn' }, `Last reload error: ${o.registryError}`) : null,
        o.auditFailingSeconds !== null
          ? h('p', { class: 'bad' }, `Audit writes failing for ${o.auditFailingSeconds} s`)
          : null,
      ),
      h(
        'div',
        { class: 'card' },
        h('h2', {}, 'Server certificate'),
        h(
          'p',
          { class: certDays !== null && certDays < 30 ? 'bad' : '' },
          o.serverCertNotAfter
            ? `Expires ${when(o.serverCertNotAfter)} (${certDays} days)`
            : 'Not known to the admin listener',
        ),
      ),
    ),
    h('h2', {}, 'Connections per minute, last hour'),
    chart(
      o.perMinute,
      `${accepted} accepted and ${rejected} rejected connections in the last hour`,
    ),
    h(
      'p',
      { class: 'legend' },
      h('span', {}, h('span', { class: 'swatch accepted' }), `Accepted (${accepted})`),
      h('span', {}, h('span', { class: 'swatch rejected' }), `Rejected (${rejected})`),
    ),
    h('h2', {}, 'Top rejection reasons, last hour'),
    o.topReasons.length === 0
      ? h('p', {}, 'No rejections in the last hour.')
      : h(
          'table',
          {},
          h(
            'thead',
            {},
            h('tr', {}, h('th', { scope: 'col' }, 'Count'), h('th', { scope: 'col' }, 'Reason')),
          ),
          h(
            'tbody',
            {},
            o.topReasons.map((r) => h('tr', {}, h('td', {}, r.count), reasonCell(r.reason))),
          ),
        ),
  );
}

/** Accepted (up, green) and rejected (down, red) bars per minute. */
function chart(rows: Overview['perMinute'], label: string): SVGElement {
  const w = 600;
  const mid = 100;
  const max = Math.max(1, ...rows.map((r) => Math.max(r.accepted, r.rejected)));
  const bw = w / Math.max(1, rows.length);
  const root = svg('svg', {
    class: 'chart',
    viewBox: `0 0 ${w} 200`,
    preserveAspectRatio: 'none',
    role: 'img',
    'aria-label': label,
  });
  const title = svg('title', {});
  title.textContent = label;
  root.appendChild(title);
  root.appendChild(svg('line', { x1: 0, x2: w, y1: mid, y2: mid, stroke: '#4a4a4a' }));
  rows.forEach((r, i) => {
    const a = (r.accepted / max) * 95;
    const b = (r.rejected / max) * 95;
    if (a > 0)
      root.appendChild(
        svg('rect', { x: i * bw + 1, y: mid - a, width: bw - 2, height: a, fill: '#17632a' }),
      );
    if (b > 0)
      root.appendChild(
        svg('rect', { x: i * bw + 1, y: mid, width: bw - 2, height: b, fill: '#a4161a' }),
      );
  });
  return root;
}

async function institutionsPage(): Promise<Node> {
  const { items } = await call<{ items: InstitutionRow[] }>('GET', '/console/api/institutions');
  const error = h('div', {});
  const id = h('input', {
    id: 'new-id',
    name: 'id',
    required: true,
    pattern: '[a-z0-9][a-z0-9-]*',
  });
  const name = h('input', { id: 'new-name', name: 'name', required: true });
  const add = h(
    'form',
    {
      class: 'inline',
      onsubmit: (e) => {
        e.preventDefault();
        call('POST', '/v1/institutions', { id: id.value.trim(), name: name.value.trim() })
          .then(() => {
            announce(`Institution ${id.value} added`);
            location.hash = `#/institutions/${encodeURIComponent(id.value.trim())}`;
          })
          .catch((err: unknown) => error.replaceChildren(errorBox(err)));
      },
    },
    h('label', { for: 'new-id' }, 'Id', id),
    h('label', { for: 'new-name' }, 'Name', name),
    h('button', { type: 'submit' }, 'Add institution'),
  );
  return h(
    'section',
    {},
    h('h1', {}, 'Institutions'),
    h('h2', {}, 'Add an institution'),
    add,
    error,
    h(
      'table',
      {},
      h('caption', { class: 'visually-hidden' }, 'Registered institutions'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          [
            'Institution',
            'Status',
            'CAs',
            'IPs',
            'CRL age',
            'Last accepted',
            'Last rejected',
            'Actions',
          ].map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        {},
        items.map((i) =>
          h(
            'tr',
            {},
            h(
              'td',
              {},
              h('a', { href: `#/institutions/${encodeURIComponent(i.id)}` }, i.id),
              h('div', { class: 'muted' }, i.name),
            ),
            h('td', { class: i.status === 'active' ? 'ok' : 'bad' }, i.status),
            h('td', {}, i.chains),
            h('td', {}, i.ips),
            h('td', {}, i.crls ? age(i.crlThisUpdate) : 'no CRL'),
            h('td', {}, i.lastAccepted ? age(i.lastAccepted) : '—'),
            h('td', {}, i.lastRejected ? age(i.lastRejected) : '—'),
            h('td', {}, statusButton(i.id, i.status), ' ', removeControl(i.id)),
          ),
        ),
      ),
    ),
    items.length === 0 ? h('p', {}, 'No institution is registered yet.') : null,
  );
}

function statusButton(id: string, status: string): HTMLButtonElement {
  const next = status === 'active' ? 'suspended' : 'active';
  return h(
    'button',
    {
      type: 'button',
      class: status === 'active' ? 'danger' : '',
      onclick: () => {
        call('PATCH', `/v1/institutions/${encodeURIComponent(id)}`, { status: next })
          .then(() => {
            announce(`${id} is now ${next}`);
            void render();
          })
          .catch((err: unknown) => main().prepend(errorBox(err)));
      },
    },
    status === 'active' ? `Suspend ${id}` : `Activate ${id}`,
  );
}

/** Removal asks for the institution's id to be typed. */
function removeControl(id: string): HTMLElement {
  const wrap = h('span', {});
  const open = h(
    'button',
    {
      type: 'button',
      class: 'secondary',
      onclick: () => {
        const input = h('input', { id: `confirm-${id}`, autocomplete: 'off' });
        const go = h(
          'button',
          { type: 'submit', class: 'danger', disabled: true },
          'Remove for good',
        );
        input.addEventListener('input', () => {
          go.disabled = input.value !== id;
        });
        const form = h(
          'form',
          {
            class: 'inline',
            onsubmit: (e) => {
              e.preventDefault();
              if (input.value !== id) return;
              call('DELETE', `/v1/institutions/${encodeURIComponent(id)}`)
                .then(() => {
                  announce(`${id} removed`);
                  location.hash = '#/institutions';
                  void render();
                })
                .catch((err: unknown) => wrap.append(errorBox(err)));
            },
          },
          h(
            'label',
            { for: `confirm-${id}` },
            `Type ${id} to remove it and everything registered for it`,
            input,
          ),
          go,
        );
        wrap.replaceChildren(form);
        input.focus();
      },
    },
    `Remove ${id}…`,
  );
  wrap.append(open);
  return wrap;
}

async function institutionPage(id: string): Promise<Node> {
  const d = await call<InstitutionDetail>(
    'GET',
    `/console/api/institution?id=${encodeURIComponent(id)}`,
  );
  const base = `/v1/institutions/${encodeURIComponent(id)}`;
  const error = h('div', {});
  const act = (p: Promise<unknown>, done: string): void => {
    p.then(() => {
      announce(done);
      void render();
    }).catch((err: unknown) => error.replaceChildren(errorBox(err)));
  };
  const ip = h('input', {
    id: 'ip',
    name: 'cidr',
    required: true,
    placeholder: '203.0.113.7 or 203.0.113.0/28',
  });
  const ruleKind = h(
    'select',
    { id: 'rule-kind' },
    ['subject_cn', 'subject_o', 'fingerprint_sha256'].map((k) => h('option', { value: k }, k)),
  );
  const ruleValue = h('input', { id: 'rule-value', required: true });
  const own = d.institution.requestRate;
  const rps = h('input', {
    id: 'rate-rps',
    type: 'number',
    min: '0.001',
    step: 'any',
    required: true,
    value: own ? String(own.requestsPerSecond) : '',
  });
  const burst = h('input', {
    id: 'rate-burst',
    type: 'number',
    min: '1',
    step: '1',
    placeholder: 'the rate',
    value: own ? String(own.burst) : '',
  });
  return h(
    'section',
    {},
    h('p', {}, h('a', { href: '#/institutions' }, '← Institutions')),
    h('h1', {}, `${d.institution.name} (${d.institution.id})`),
    h(
      'p',
      {},
      'Status: ',
      h(
        'strong',
        { class: d.institution.status === 'active' ? 'ok' : 'bad' },
        d.institution.status,
      ),
      ' ',
      statusButton(id, d.institution.status),
    ),
    error,
    h('h2', {}, 'Request rate'),
    h(
      'p',
      { id: 'rate-now' },
      own
        ? `Its own: ${own.requestsPerSecond} requests/s, burst ${own.burst}, on each gateway instance. Over it, calls get 429 and are audited as rate_limited.`
        : "Each gateway's limits.institutionRequestsPerSecond (no limit where it is unset).",
    ),
    h(
      'form',
      {
        class: 'inline',
        onsubmit: (e) => {
          e.preventDefault();
          const body: { requestsPerSecond: number; burst?: number } = {
            requestsPerSecond: Number(rps.value),
          };
          if (burst.value.trim() !== '') body.burst = Number(burst.value);
          act(call('PUT', `${base}/request-rate`, body), `Request rate of ${id} set`);
        },
      },
      h('label', { for: 'rate-rps' }, 'Requests per second', rps),
      h('label', { for: 'rate-burst' }, 'Burst', burst),
      h('button', { type: 'submit' }, 'Set its rate'),
      own
        ? h(
            'button',
            {
              type: 'button',
              class: 'secondary',
              onclick: () =>
                act(
                  call('DELETE', `${base}/request-rate`),
                  `${id} is back to the gateway's limits`,
                ),
            },
            "Use the gateway's limits",
          )
        : null,
    ),
    h('h2', {}, 'CA chains'),
    h('p', {}, h('a', { href: `#/onboard/${encodeURIComponent(id)}` }, 'Onboard a CA chain…')),
    d.chains.length === 0
      ? h(
          'p',
          {},
          'No CA chain yet: calls from this institution are refused until one is onboarded.',
        )
      : null,
    d.chains.map((c) =>
      h(
        'div',
        { class: 'card chain' },
        h('h3', {}, `Chain ${c.id}: ${c.subject}`),
        h('p', {}, `Earliest notAfter ${when(c.notAfter)} · added ${when(c.createdAt)}`),
        certTable(
          c.certificates ??
            c.fingerprints.map((f, i) => ({
              position: i + 1,
              subject: i === c.fingerprints.length - 1 ? c.subject : '',
              issuer: '',
              fingerprint: f,
              notBefore: '',
              notAfter: '',
              key: '',
              signatureAlgorithm: '',
              selfSigned: false,
            })),
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            onclick: () => act(call('DELETE', `${base}/cas/${c.id}`), `Chain ${c.id} removed`),
          },
          `Remove chain ${c.id}`,
        ),
      ),
    ),
    h('h2', {}, 'IPs and CIDRs'),
    h(
      'ul',
      {},
      d.ips.map((r) =>
        h(
          'li',
          {},
          h('code', {}, r.cidr),
          ' ',
          h(
            'button',
            {
              type: 'button',
              class: 'secondary',
              onclick: () =>
                act(
                  call('DELETE', `${base}/ips?cidr=${encodeURIComponent(r.cidr)}`),
                  `${r.cidr} removed`,
                ),
            },
            `Remove ${r.cidr}`,
          ),
        ),
      ),
    ),
    d.ips.length === 0 ? h('p', {}, 'No address yet.') : null,
    h(
      'form',
      {
        class: 'inline',
        onsubmit: (e) => {
          e.preventDefault();
          act(call('POST', `${base}/ips`, { cidr: ip.value.trim() }), `${ip.value} added`);
        },
      },
      h('label', { for: 'ip' }, 'IP or CIDR', ip),
      h('button', { type: 'submit' }, 'Add IP'),
    ),
    h('h2', {}, 'CRLs'),
    d.crls.length === 0
      ? h('p', {}, 'No CRL uploaded.')
      : h(
          'table',
          {},
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Issuer', 'thisUpdate', 'Age', 'nextUpdate'].map((c) =>
                h('th', { scope: 'col' }, c),
              ),
            ),
          ),
          h(
            'tbody',
            {},
            d.crls.map((c) =>
              h(
                'tr',
                {},
                h('td', {}, c.issuer),
                h('td', {}, when(c.thisUpdate)),
                h('td', {}, age(c.thisUpdate)),
                h(
                  'td',
                  { class: c.nextUpdate && Date.parse(c.nextUpdate) < Date.now() ? 'bad' : '' },
                  when(c.nextUpdate),
                ),
              ),
            ),
          ),
        ),
    d.crlSources.length
      ? h(
          'ul',
          {},
          d.crlSources.map((s) =>
            h(
              'li',
              {},
              `${s.url} — last download ${s.lastStatus ?? 'not yet'}, last good ${when(s.lastGoodAt)}`,
            ),
          ),
        )
      : null,
    h('h2', {}, 'Pinned rules'),
    d.rules.length === 0
      ? h('p', {}, 'No pinned rule: any certificate from the registered CAs is accepted.')
      : null,
    h(
      'ul',
      {},
      d.rules.map((r) =>
        h(
          'li',
          {},
          h('code', {}, `${r.kind} = ${r.value}`),
          ' ',
          h(
            'button',
            {
              type: 'button',
              class: 'secondary',
              onclick: () => act(call('DELETE', `${base}/rules/${r.id}`), 'Rule removed'),
            },
            'Remove rule',
          ),
        ),
      ),
    ),
    h(
      'form',
      {
        class: 'inline',
        onsubmit: (e) => {
          e.preventDefault();
          act(
            call('POST', `${base}/rules`, { kind: ruleKind.value, value: ruleValue.value.trim() }),
            'Rule added',
          );
        },
      },
      h('label', { for: 'rule-kind' }, 'Rule', ruleKind),
      h('label', { for: 'rule-value' }, 'Value', ruleValue),
      h('button', { type: 'submit' }, 'Add rule'),
    ),
    h('h2', {}, 'Recent audit records'),
    d.audit.length
      ? auditTable(d.audit, `Recent audit records of ${id}`)
      : h('p', {}, 'No call recorded yet.'),
    h(
      'p',
      {},
      h(
        'a',
        { href: `#/audit?institution=${encodeURIComponent(id)}` },
        'All audit records of this institution',
      ),
    ),
  );
}

function certTable(certs: CertInfo[]): HTMLTableElement {
  return h(
    'table',
    { class: 'certs' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['#', 'Subject', 'Key', 'notAfter', 'SHA-256 fingerprint'].map((c) =>
          h('th', { scope: 'col' }, c),
        ),
      ),
    ),
    h(
      'tbody',
      {},
      certs.map((c) =>
        h(
          'tr',
          {},
          h('td', {}, c.position),
          h(
            'td',
            {},
            c.subject,
            c.issuer && !c.selfSigned
              ? h('div', { class: 'muted' }, `issued by ${c.issuer}`)
              : null,
          ),
          h('td', {}, c.key || '—'),
          h('td', {}, when(c.notAfter || null)),
          h('td', {}, h('span', { class: 'fingerprint' }, colonHex(c.fingerprint))),
        ),
      ),
    ),
  );
}

function onboardPage(id: string): Node {
  const result = h('div', { 'aria-live': 'polite' });
  const file = h('input', {
    id: 'chain-file',
    type: 'file',
    accept: '.pem,.crt,.cer,.der,.p7b,application/x-pem-file,application/pkix-cert',
  });
  const expected = h('input', {
    id: 'expected-fp',
    size: 70,
    autocomplete: 'off',
    placeholder: 'AB:CD:… (read over the phone)',
  });
  const store = h('button', { type: 'button', disabled: true }, 'Store this chain');
  let current: { data: ArrayBuffer; name: string; fingerprints: string[] } | undefined;
  const matchNote = h('p', {});
  const refreshMatch = (): void => {
    const want = normalizeFp(expected.value);
    if (!current) {
      store.disabled = true;
      matchNote.replaceChildren();
      return;
    }
    if (!want) {
      matchNote.replaceChildren();
      store.disabled = false;
      return;
    }
    const ok = current.fingerprints.includes(want);
    matchNote.replaceChildren(
      h(
        'span',
        { class: ok ? 'ok' : 'bad', role: 'alert' },
        ok
          ? 'The expected fingerprint matches a certificate of this chain.'
          : 'The expected fingerprint matches no certificate of this chain: do not store it.',
      ),
    );
    store.disabled = !ok;
  };
  expected.addEventListener('input', refreshMatch);
  const check = async (f: File): Promise<void> => {
    current = undefined;
    refreshMatch();
    result.replaceChildren(h('p', {}, `Checking ${f.name}…`));
    const data = await f.arrayBuffer();
    try {
      const r = await call<{
        ok: boolean;
        certificates?: CertInfo[];
        fingerprints?: string[];
        warnings?: string[];
        error?: ApiErrorBody;
      }>(
        'POST',
        `/console/api/validate-chain?institution=${encodeURIComponent(id)}&name=${encodeURIComponent(f.name)}`,
        undefined,
        { data, type: 'application/octet-stream' },
      );
      if (!r.ok || !r.certificates || !r.fingerprints) {
        const err = r.error ?? { code: 'ERROR', message: 'refused' };
        result.replaceChildren(
          h('h2', {}, 'Refused'),
          h(
            'div',
            { class: 'error', role: 'alert' },
            h('strong', {}, err.message),
            err.hint ? h('p', {}, err.hint) : null,
            h(
              'p',
              { class: 'muted' },
              `${err.code}${typeof err.details?.check === 'string' ? ` · check: ${err.details.check}` : ''}`,
            ),
          ),
          h('p', {}, 'Nothing was stored.'),
        );
        return;
      }
      current = { data, name: f.name, fingerprints: r.fingerprints };
      fill(
        result,
        h('h2', {}, 'Checks passed'),
        h(
          'p',
          {},
          `${r.certificates.length} certificate(s), issuing CA first. Nothing is stored until you press Store.`,
        ),
        certTable(r.certificates),
        (r.warnings ?? []).map((w) => h('p', { class: 'warn' }, `Warning: ${w}`)),
      );
      refreshMatch();
      store.focus();
    } catch (e) {
      result.replaceChildren(errorBox(e));
    }
  };
  file.addEventListener('change', () => {
    const f = file.files?.[0];
    if (f) void check(f);
  });
  const drop = h('div', { class: 'drop' }, 'Or drop the chain file here.');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer?.files[0];
    if (f) void check(f);
  });
  store.addEventListener('click', () => {
    if (!current) return;
    const c = current;
    call<{ chain: { id: number }; certificates: CertInfo[] }>(
      'POST',
      `/v1/institutions/${encodeURIComponent(id)}/cas?source=${encodeURIComponent(c.name)}`,
      undefined,
      { data: c.data, type: 'application/octet-stream' },
    )
      .then((r) => {
        current = undefined;
        store.disabled = true;
        // The Store button is now disabled and so loses focus; the notice takes it.
        const stored = h(
          'div',
          { class: 'notice', role: 'status', tabindex: -1 },
          h('strong', {}, `Stored as chain ${r.chain.id}.`),
        );
        result.replaceChildren(
          stored,
          certTable(r.certificates),
          h('p', {}, h('a', { href: `#/institutions/${encodeURIComponent(id)}` }, `Back to ${id}`)),
        );
        stored.focus();
      })
      .catch((err: unknown) =>
        result.replaceChildren(errorBox(err), h('p', {}, 'Nothing was stored.')),
      );
  });
  return h(
    'section',
    {},
    h('p', {}, h('a', { href: `#/institutions/${encodeURIComponent(id)}` }, `← ${id}`)),
    h('h1', {}, `Onboard a CA chain for ${id}`),
    h(
      'p',
      {},
      'The file (PEM or DER) is checked by the same onboarding checks as `mtls gateway ca add` before anything is stored. A file holding a private key is refused.',
    ),
    h('label', { for: 'chain-file' }, 'Chain file (PEM or DER)', file),
    drop,
    h('label', { for: 'expected-fp' }, 'Expected SHA-256 fingerprint (optional)', expected),
    matchNote,
    result,
    store,
  );
}

async function auditPage(): Promise<Node> {
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const page = Math.max(1, Number(params.get('page') ?? '1') || 1);
  const { items: institutions } = await call<{ items: InstitutionRow[] }>(
    'GET',
    '/console/api/institutions',
  );
  const inst = h(
    'select',
    { id: 'f-institution', name: 'institution' },
    h('option', { value: '' }, 'Any'),
    institutions.map((i) => h('option', { value: i.id }, i.id)),
  );
  const ip = h('input', { id: 'f-ip', name: 'ip', size: 16 });
  const requestId = h('input', { id: 'f-request', name: 'requestId', size: 38 });
  const outcome = h(
    'select',
    { id: 'f-outcome', name: 'outcome' },
    ['', 'accepted', 'rejected'].map((o) => h('option', { value: o }, o || 'Any')),
  );
  const reason = h(
    'select',
    { id: 'f-reason', name: 'reason' },
    h('option', { value: '' }, 'Any'),
    Object.keys(session?.reasons ?? {}).map((r) => h('option', { value: r }, r)),
  );
  const from = h('input', { id: 'f-from', name: 'from', type: 'datetime-local', step: 1 });
  const to = h('input', { id: 'f-to', name: 'to', type: 'datetime-local', step: 1 });
  inst.value = params.get('institution') ?? '';
  ip.value = params.get('ip') ?? '';
  requestId.value = params.get('requestId') ?? '';
  outcome.value = params.get('outcome') ?? '';
  reason.value = params.get('reason') ?? '';
  const localOf = (iso: string | null): string => {
    if (!iso) return '';
    const d = new Date(iso);
    return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
  };
  from.value = localOf(params.get('from'));
  to.value = localOf(params.get('to'));
  const filter = (): URLSearchParams => {
    const q = new URLSearchParams();
    if (inst.value) q.set('institution', inst.value);
    if (ip.value.trim()) q.set('ip', ip.value.trim());
    if (requestId.value.trim()) q.set('requestId', requestId.value.trim());
    if (outcome.value) q.set('outcome', outcome.value);
    if (reason.value) q.set('reason', reason.value);
    if (from.value) q.set('from', new Date(from.value).toISOString());
    if (to.value) q.set('to', new Date(to.value).toISOString());
    return q;
  };
  const q = filter();
  q.set('page', String(page));
  q.set('pageSize', '50');
  const r = await call<{ items: AuditRecord[]; hasMore: boolean }>(
    'GET',
    `/console/api/audit?${q.toString()}`,
  );
  const table = auditTable(r.items, 'Audit records, newest first');
  const tbody = table.tBodies[0];
  const go = (p: number): void => {
    const n = filter();
    if (p > 1) n.set('page', String(p));
    location.hash = `#/audit?${n.toString()}`;
  };
  const live = h('input', { id: 'live', type: 'checkbox', checked: page === 1 });
  let newest = r.items.reduce((m, x) => Math.max(m, x.id), 0);
  if (page === 1) {
    pollTimer = window.setInterval(() => {
      if (!live.checked || !tbody) return;
      const n = filter();
      n.set('afterId', String(newest));
      n.set('pageSize', '200');
      call<{ items: AuditRecord[] }>('GET', `/console/api/audit?${n.toString()}`)
        .then((x) => {
          if (x.items.length === 0) return;
          newest = x.items.reduce((m, y) => Math.max(m, y.id), newest);
          tbody.prepend(...x.items.map(auditRow));
          announce(`${x.items.length} new audit record(s)`);
        })
        .catch(() => undefined);
    }, 2000);
  }
  const csv = async (): Promise<void> => {
    const res = await fetch(`/console/api/audit.csv?${filter().toString()}`, {
      headers: { 'x-mtls-csrf': session?.csrf ?? '' },
    });
    if (!res.ok) throw new Error(`CSV export failed (${res.status})`);
    const url = URL.createObjectURL(await res.blob());
    const a = h('a', { href: url, download: 'audit.csv' });
    document.body.append(a);
    a.click();
    a.remove();
    URL.revokeObjectURL(url);
  };
  return h(
    'section',
    {},
    h('h1', {}, 'Audit trail'),
    h(
      'form',
      {
        class: 'inline',
        onsubmit: (e) => {
          e.preventDefault();
          go(1);
        },
      },
      h('label', { for: 'f-institution' }, 'Institution', inst),
      h('label', { for: 'f-ip' }, 'IP', ip),
      h('label', { for: 'f-request' }, 'Request id', requestId),
      h('label', { for: 'f-outcome' }, 'Outcome', outcome),
      h('label', { for: 'f-reason' }, 'Reason', reason),
      h('label', { for: 'f-from' }, 'From', from),
      h('label', { for: 'f-to' }, 'To', to),
      h('button', { type: 'submit' }, 'Filter'),
    ),
    h(
      'p',
      {},
      h(
        'label',
        { for: 'live', class: 'check' },
        live,
        ' Live updates (newest records appear on page 1)',
      ),
      ' ',
      h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          onclick: () => void csv().catch((e: unknown) => main().prepend(errorBox(e))),
        },
        'Export CSV',
      ),
    ),
    table,
    r.items.length === 0 ? h('p', {}, 'No record matches.') : null,
    h(
      'nav',
      { 'aria-label': 'Pages' },
      h(
        'button',
        { type: 'button', class: 'secondary', disabled: page <= 1, onclick: () => go(page - 1) },
        'Previous page',
      ),
      ` Page ${page} `,
      h(
        'button',
        { type: 'button', class: 'secondary', disabled: !r.hasMore, onclick: () => go(page + 1) },
        'Next page',
      ),
    ),
  );
}

// ---- start ---------------------------------------------------------------

window.addEventListener('hashchange', () => void render());
// The page's routes live in the hash, so the skip link's own #main would
// route to the overview; it moves focus to the page's heading instead.
document.querySelector('a.skip')?.addEventListener('click', (e) => {
  e.preventDefault();
  const heading = main().querySelector('h1');
  if (heading) heading.tabIndex = -1;
  (heading ?? main()).focus();
});
void (async () => {
  try {
    session = await call<Session>('GET', '/console/api/session');
  } catch {
    session = undefined;
  }
  await render();
})();
