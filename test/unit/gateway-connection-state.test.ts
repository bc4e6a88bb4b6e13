/**
 * The gateway's parts alone, without sockets: the connection state's
 * re-evaluation on a registry change, and the audit of a failed handshake.
 */
import 'reflect-metadata';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConnectionTracker,
  refusalForLookup,
  type ConnectionState,
  type ConnectionTrust,
} from '../../src/gateway/connection-state.js';
import type { PolicyDecision } from '../../src/gateway/policy.js';
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
  ({ generation }) as unknown as TrustSnapshot;

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
