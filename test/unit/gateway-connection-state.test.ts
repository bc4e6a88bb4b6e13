/**
 * The gateway's parts alone, without sockets: the connection state's
 * re-evaluation on a registry change and when the clock passes a CRL's
 * nextUpdate or a certificate's notAfter, and the audit of a failed handshake.
 */
import 'reflect-metadata';
import { after, describe, test } from 'node:test';
import { X509Certificate } from 'node:crypto';
import assert from 'node:assert/strict';
import {
  ConnectionTracker,
  refusalForLookup,
  type ConnectionState,
  type ConnectionTrust,
} from '../../src/gateway/connection-state.js';
import { CertInfoCache } from '../../src/gateway/peer-cert.js';
import type { PolicyDecision, PolicyOptions } from '../../src/gateway/policy.js';
import { buildCrl } from '../../src/pki/crl.js';
import { buildSnapshot } from '../../src/gateway/trust-cache.js';
import { makeCa, makeLeaf, tempDir, type TestCa } from '../helpers/pki.js';
import { handshakeErrorRecord } from '../../src/gateway/tenant-server.js';
import type {
  InstitutionContext,
  TrustLookup,
  TrustSnapshot,
} from '../../src/gateway/trust-cache.js';
import { defined } from '../helpers/assert.js';

const inst = (id: string): InstitutionContext =>
  ({ id, status: 'active' }) as unknown as InstitutionContext;
const snapshot = (generation: number): TrustSnapshot =>
  ({ generation, institutions: new Map() }) as unknown as TrustSnapshot;

/** A trust cache stand-in whose snapshot generation and lookup answer the test sets. */
function fakeTrust(
  answer: (ip: string) => TrustLookup,
): ConnectionTrust & { generation: number; stale: boolean; lookups: number } {
  const t = {
    generation: 1,
    stale: false,
    lookups: 0,
    get snapshot() {
      return snapshot(t.generation);
    },
    lookup(ip: string) {
      t.lookups++;
      return answer(ip);
    },
    relookup(ip: string) {
      return t.lookup(ip);
    },
    certInfo(): never {
      throw new Error('not used');
    },
  };
  return t;
}

function acceptedState(): ConnectionState {
  const decision: PolicyDecision = {
    outcome: 'accepted',
    reason: 'ok',
    detail: null,
    institutionId: 'acme',
    leaf: null,
    chain: [],
  };
  return {
    ip: '127.0.0.9',
    decision,
    generation: 1,
    pending: null,
    recheckAt: Infinity,
    tlsVersion: 'TLSv1.2',
    cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256',
    leafDer: null,
    presentedDer: [],
  };
}

describe('connection state', () => {
  test('a kept-alive connection is refused once its institution is suspended, with one re-evaluation for concurrent requests', async () => {
    const trust = fakeTrust((ip) => ({
      kind: 'suspended',
      ip,
      suspended: [inst('acme')],
      snapshot: snapshot(2),
    }));
    const tracker = new ConnectionTracker({ trust, policy: {} });
    const state = acceptedState();
    assert.equal(
      (await tracker.decisionNow(state)).outcome,
      'accepted',
      'same generation: no re-evaluation',
    );
    assert.equal(trust.lookups, 0);
    trust.generation = 2;
    const [a, b] = await Promise.all([tracker.decisionNow(state), tracker.decisionNow(state)]);
    assert.equal(a.reason, 'institution_suspended');
    assert.equal(b.reason, 'institution_suspended');
    assert.equal(trust.lookups, 1, 'pipelined requests share one re-evaluation');
    assert.equal(state.generation, 2);
  });

  test('a registry too stale to trust refuses an accepted connection (fail closed)', async () => {
    const trust = fakeTrust((ip) => ({ kind: 'unregistered', ip, snapshot: snapshot(1) }));
    const tracker = new ConnectionTracker({ trust, policy: {} });
    const state = acceptedState();
    trust.stale = true;
    trust.generation = 2;
    assert.equal((await tracker.decisionNow(state)).reason, 'registry_unavailable');
  });

  test('an address removed from the registry refuses the connection', async () => {
    const trust = fakeTrust((ip) => ({ kind: 'unregistered', ip, snapshot: snapshot(2) }));
    const tracker = new ConnectionTracker({ trust, policy: {} });
    const state = acceptedState();
    trust.generation = 2;
    assert.equal((await tracker.decisionNow(state)).reason, 'ip_not_registered');
  });

  test('refusalForLookup: refusals implied by the lookup alone; a tenant needs the certificate', () => {
    assert.equal(
      refusalForLookup(
        { kind: 'unavailable', ip: '127.0.0.1', detail: 'stale', snapshot: snapshot(1) },
        'now',
      )?.reason,
      'registry_unavailable',
    );
    const s = refusalForLookup(
      { kind: 'suspended', ip: '127.0.0.1', suspended: [inst('acme')], snapshot: snapshot(1) },
      'during the handshake',
    );
    const refusal = defined(s, 'a refusal');
    assert.equal(refusal.reason, 'institution_suspended');
    assert.equal(refusal.institutionId, 'acme');
    assert.equal(
      refusalForLookup(
        {
          kind: 'tenant',
          ip: '127.0.0.1',
          tenant: { key: 'acme', server: null as never },
          active: [inst('acme')],
          suspended: [],
          snapshot: snapshot(1),
        },
        'now',
      ),
      null,
    );
  });
});

const { dir, cleanup } = tempDir('mtlskit-conn-clock-');
after(cleanup);

/** A CRL of `ca` listing nothing, current from an hour before `from` until `nextUpdate`. */
async function emptyCrl(ca: TestCa, from: number, nextUpdate: number): Promise<string> {
  return (
    await buildCrl({
      signer: { privateKey: ca.privateKey, certificate: ca.certificate },
      entries: [],
      crlNumber: 1n,
      thisUpdate: new Date(Math.floor(from / 1000) * 1000 - 3_600_000),
      nextUpdate: new Date(nextUpdate),
    })
  ).pem;
}

/**
 * A real snapshot (one institution, its CA and CRL) behind a trust stand-in
 * whose generation never moves, an accepted connection from `leafPem`, and a
 * clock the test sets.
 */
async function clockedConnection(
  ca: TestCa,
  leafPem: string,
  crlPem: string,
  policy: PolicyOptions,
  start: number,
): Promise<{
  tracker: ConnectionTracker;
  state: ConnectionState;
  clock: { now: number };
  trust: { lookups: number };
}> {
  const at = new Date(start).toISOString();
  const snap = await buildSnapshot(
    [
      {
        institution: {
          id: 'acme',
          name: 'Acme',
          status: 'active',
          requestRate: null,
          createdAt: at,
          updatedAt: at,
        },
        chains: [
          {
            id: 1,
            institutionId: 'acme',
            pem: ca.certPem,
            fingerprints: [],
            subject: ca.subject,
            notAfter: at,
            createdAt: at,
          },
        ],
        ips: [{ id: 1, institutionId: 'acme', cidr: '127.0.0.9/32', createdAt: at }],
        crls: [
          {
            id: 1,
            institutionId: 'acme',
            pem: crlPem,
            issuer: ca.subject,
            issuerFingerprint: null,
            thisUpdate: at,
            nextUpdate: null,
            createdAt: at,
          },
        ],
        rules: [],
      },
    ],
    1,
    1,
    new CertInfoCache(),
    new Date(start),
  );
  const certs = new CertInfoCache();
  const active = [...snap.institutions.values()];
  const counter = { lookups: 0 };
  const trust: ConnectionTrust = {
    snapshot: snap,
    stale: false,
    lookup: (ip: string): TrustLookup => {
      counter.lookups++;
      return {
        kind: 'tenant',
        ip,
        tenant: { key: 'acme', server: null as never },
        active,
        suspended: [],
        snapshot: snap,
      };
    },
    relookup: (ip: string) => trust.lookup(ip),
    certInfo: (der: Buffer) => certs.get(der),
  };
  const clock = { now: start };
  const tracker = new ConnectionTracker({ trust, policy, now: () => clock.now });
  const state = await tracker.admit({
    ip: '127.0.0.9',
    leafDer: Buffer.from(new X509Certificate(leafPem).raw),
    presentedDer: [],
    authorized: true,
    authorizationError: null,
    tlsVersion: 'TLSv1.2',
    cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  });
  return { tracker, state, clock, trust: counter };
}

describe('connection state over time (no registry change)', () => {
  test('fail_closed: the first request after the CRL passes nextUpdate is refused with crl_expired, as a new connection would be', async () => {
    const start = Date.now();
    const nextUpdate = Math.floor(start / 1000) * 1000 + 60_000; // CRL times have whole seconds
    // Back-dated like the leaf: a CA stamped "now" may start a second after `start` on a slow machine.
    const ca = await makeCa(dir, { name: 'Clock Root A', notBefore: new Date(start - 3_600_000) });
    const leaf = await makeLeaf(dir, ca, { cn: 'clock-a', notBefore: new Date(start - 3_600_000) });
    const crl = await emptyCrl(ca, start, nextUpdate);
    const c = await clockedConnection(ca, leaf.certPem, crl, { crlStale: 'fail_closed' }, start);
    assert.equal(c.state.decision.outcome, 'accepted', String(c.state.decision.detail));
    assert.equal(c.state.recheckAt, nextUpdate, 'due when the CRL passes its nextUpdate');
    const lookupsAtAdmit = c.trust.lookups;

    c.clock.now = nextUpdate; // nextUpdate itself is still current (RFC 5280 §5.1.2.5)
    assert.equal((await c.tracker.decisionNow(c.state)).reason, 'ok');
    assert.equal(c.trust.lookups, lookupsAtAdmit, 'nothing re-evaluated before it is due');

    c.clock.now = nextUpdate + 1;
    const [a, b] = await Promise.all([
      c.tracker.decisionNow(c.state),
      c.tracker.decisionNow(c.state),
    ]);
    assert.equal(a.outcome, 'rejected');
    assert.equal(a.reason, 'crl_expired');
    assert.match(a.detail ?? '', /past its nextUpdate/);
    assert.equal(b.reason, 'crl_expired');
    assert.equal(c.trust.lookups, lookupsAtAdmit + 1, 'pipelined requests share one re-evaluation');

    // The same decision a new connection gets at that time.
    const fresh = await clockedConnection(
      ca,
      leaf.certPem,
      crl,
      { crlStale: 'fail_closed' },
      nextUpdate + 1,
    );
    assert.equal(fresh.state.decision.reason, 'crl_expired');
    assert.equal(fresh.state.decision.outcome, 'rejected');
  });

  test('fail_open_with_alarm: the connection stays accepted, with reason crl_expired', async () => {
    const start = Date.now();
    const nextUpdate = Math.floor(start / 1000) * 1000 + 60_000; // CRL times have whole seconds
    // Back-dated like the leaf: a CA stamped "now" may start a second after `start` on a slow machine.
    const ca = await makeCa(dir, { name: 'Clock Root B', notBefore: new Date(start - 3_600_000) });
    const leaf = await makeLeaf(dir, ca, { cn: 'clock-b', notBefore: new Date(start - 3_600_000) });
    const c = await clockedConnection(
      ca,
      leaf.certPem,
      await emptyCrl(ca, start, nextUpdate),
      { crlStale: 'fail_open_with_alarm' },
      start,
    );
    assert.equal(c.state.decision.reason, 'ok');
    c.clock.now = nextUpdate + 1;
    const d = await c.tracker.decisionNow(c.state);
    assert.equal(d.outcome, 'accepted');
    assert.equal(d.reason, 'crl_expired');
    assert.equal(
      c.state.recheckAt,
      leaf.certificate.notAfter.getTime(),
      'the next instant is the certificate expiry',
    );
  });

  test('a client certificate that expires during the connection: the next request is refused as expired', async () => {
    const start = Date.now();
    const ca = await makeCa(dir, { name: 'Clock Root C' });
    const leaf = await makeLeaf(dir, ca, {
      cn: 'clock-c',
      notBefore: new Date(start - 3_600_000),
      notAfter: new Date(Math.floor(start / 1000) * 1000 + 120_000),
    });
    const c = await clockedConnection(
      ca,
      leaf.certPem,
      await emptyCrl(ca, start, start + 86_400_000),
      {},
      start,
    );
    assert.equal(c.state.decision.reason, 'ok');
    assert.equal(c.state.recheckAt, leaf.certificate.notAfter.getTime());
    c.clock.now = c.state.recheckAt + 1;
    assert.equal((await c.tracker.decisionNow(c.state)).reason, 'expired');
  });
});

describe('tenant server', () => {
  test('a failed handshake is audited with its reason, attributed to the only institution of the address', () => {
    const err = Object.assign(new Error('unsupported protocol'), {
      code: 'ERR_SSL_UNSUPPORTED_PROTOCOL',
    });
    const lookup: TrustLookup = {
      kind: 'tenant',
      ip: '127.0.0.9',
      tenant: { key: 'acme', server: null as never },
      active: [inst('acme')],
      suspended: [],
      snapshot: snapshot(1),
    };
    const rec = handshakeErrorRecord(err, { ip: '127.0.0.9', lookup });
    assert.equal(rec.kind, 'connection');
    assert.equal(rec.reason, 'tls_version');
    assert.equal(rec.outcome, 'rejected');
    assert.equal(rec.institutionId, 'acme');
    assert.equal(rec.ip, '127.0.0.9');
    const shared = handshakeErrorRecord(err, {
      ip: '127.0.0.9',
      lookup: { ...lookup, active: [inst('a'), inst('b')] },
    });
    assert.equal(shared.institutionId, null, 'two institutions share the address: no guess');
  });
});
