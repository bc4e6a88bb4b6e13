/**
 * The post-handshake policy on a trust snapshot built from registry data:
 * attribution by chain, intermediates, CRLs (right and wrong signer), CA key
 * rotation under one name, EKU and pinned rules.
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import tls from 'node:tls';
import { MtlsError } from '../../src/errors/index.js';
import { buildCertificate } from '../../src/pki/certificate.js';
import { buildCrl } from '../../src/pki/crl.js';
import { parseSubject } from '../../src/pki/names.js';
import { BUILTIN_PROFILES, type ExtensionProfile } from '../../src/pki/profile.js';
import { CertInfoCache, isIssuedBy } from '../../src/gateway/peer-cert.js';
import {
  evaluateConnection,
  mapAuthorizationError,
  type ConnectionEvidence,
} from '../../src/gateway/policy.js';
import { classifyTlsClientError } from '../../src/gateway/gateway.js';
import { startOpsServer, type HealthState } from '../../src/gateway/health.js';
import {
  buildSnapshot,
  TrustCache,
  type TrustCacheOptions,
  TrustParseCache,
  updateSnapshot,
  type TrustSnapshot,
} from '../../src/gateway/trust-cache.js';
import type {
  InstitutionTrust,
  PinnedRule,
  Registry,
  RegistryChange,
} from '../../src/gateway/registry/types.js';
import { makeCa, makeLeaf, tempDir, type TestCa, type TestLeaf } from '../helpers/pki.js';
import { at, defined } from '../helpers/assert.js';

const { dir, cleanup } = tempDir('mtlskit-gw-policy-');
const cache = new CertInfoCache();
const info = (der: Buffer) => cache.get(der);
const der = (x: { certificate: { rawData: ArrayBuffer } }): Buffer =>
  Buffer.from(x.certificate.rawData);
let root: TestCa;
let sub: TestCa;
let leafViaSub: TestLeaf;
let other: TestCa;

function trust(
  id: string,
  chains: string[],
  opts: {
    crls?: string[];
    rules?: Array<Pick<PinnedRule, 'kind' | 'value'>>;
    ips?: string[];
    status?: 'active' | 'suspended';
  } = {},
): InstitutionTrust {
  const now = new Date().toISOString();
  return {
    institution: {
      id,
      name: id,
      status: opts.status ?? 'active',
      requestRate: null,
      createdAt: now,
      updatedAt: now,
    },
    chains: chains.map((pem, i) => ({
      id: i + 1,
      institutionId: id,
      pem,
      fingerprints: [],
      subject: id,
      notAfter: now,
      createdAt: now,
    })),
    ips: (opts.ips ?? ['192.0.2.1']).map((cidr, i) => ({
      id: i + 1,
      institutionId: id,
      cidr,
      createdAt: now,
    })),
    crls: (opts.crls ?? []).map((pem, i) => ({
      id: i + 1,
      institutionId: id,
      pem,
      issuer: '',
      issuerFingerprint: null,
      thisUpdate: now,
      nextUpdate: null,
      createdAt: now,
    })),
    rules: (opts.rules ?? []).map((r, i) => ({ id: i + 1, institutionId: id, ...r })),
  };
}

function evidence(
  snapshot: TrustSnapshot,
  leaf: { certificate: { rawData: ArrayBuffer } },
  presented: Array<{ certificate: { rawData: ArrayBuffer } }> = [],
  ids?: string[],
): ConnectionEvidence {
  const active = [...snapshot.institutions.values()].filter((i) => !ids || ids.includes(i.id));
  return {
    leafDer: der(leaf),
    presentedDer: presented.map(der),
    authorized: true,
    authorizationError: null,
    active,
    suspended: [],
  };
}

before(async () => {
  root = await makeCa(dir, { name: 'Policy Root' });
  sub = await makeCa(dir, { name: 'Policy Issuing', issuer: root });
  leafViaSub = await makeLeaf(dir, sub, { cn: 'via-sub' });
  other = await makeCa(dir, { name: 'Other Root' });
});
after(cleanup);

describe('gateway policy', () => {
  test('a leaf under an intermediate the client sends is attributed to the root owner', async () => {
    const snap = await buildSnapshot(
      [trust('acme', [root.certPem]), trust('other', [other.certPem])],
      1,
      1,
      cache,
    );
    const d = await evaluateConnection(evidence(snap, leafViaSub, [sub]), {}, info);
    assert.equal(d.outcome, 'accepted', d.detail ?? '');
    assert.equal(d.institutionId, 'acme');
    assert.deepEqual(
      d.chain.map((c) => c.subject),
      [
        'C=BR, ST=SP, O=Policy Issuing, CN=Policy Issuing',
        'C=BR, ST=SP, O=Policy Root, CN=Policy Root',
      ],
    );
    const missing = await evaluateConnection(evidence(snap, leafViaSub, []), {}, info);
    assert.equal(missing.reason, 'unknown_ca', 'without the intermediate there is no path');
  });

  test('a registered intermediate is found without the client sending it', async () => {
    const snap = await buildSnapshot([trust('acme', [sub.certPem + root.certPem])], 1, 1, cache);
    const d = await evaluateConnection(evidence(snap, leafViaSub), {}, info);
    assert.equal(d.institutionId, 'acme');
    assert.equal(d.reason, 'ok');
  });

  test('a certificate whose CA two institutions share is refused rather than guessed', async () => {
    const snap = await buildSnapshot(
      [trust('a', [root.certPem]), trust('b', [root.certPem])],
      1,
      1,
      cache,
    );
    const d = await evaluateConnection(evidence(snap, leafViaSub, [sub]), {}, info);
    assert.equal(d.reason, 'unknown_ca');
    assert.match(d.detail ?? '', /several institutions/);
  });

  test('CA key rotation under the same name: each key attributes its own leaves', async () => {
    const rotated = await makeCa(dir, { name: 'Policy Root' });
    const leafNew = await makeLeaf(dir, rotated, { cn: 'new-key' });
    const snap = await buildSnapshot(
      [trust('old', [root.certPem]), trust('new', [rotated.certPem])],
      1,
      1,
      cache,
    );
    assert.equal(
      (await evaluateConnection(evidence(snap, leafNew), {}, info)).institutionId,
      'new',
    );
    assert.equal(
      (await evaluateConnection(evidence(snap, leafViaSub, [sub]), {}, info)).institutionId,
      'old',
    );
  });

  test('CRLs: the root revoking the intermediate revokes its leaves; a CRL from another key is ignored', async () => {
    const byRoot = await buildCrl({
      signer: { privateKey: root.privateKey, certificate: root.certificate },
      entries: [{ serial: sub.certificate.serialNumber, revokedAt: new Date() }],
      crlNumber: 1n,
    });
    const snap = await buildSnapshot(
      [trust('acme', [root.certPem], { crls: [byRoot.pem] })],
      1,
      1,
      cache,
    );
    const d = await evaluateConnection(evidence(snap, leafViaSub, [sub]), {}, info);
    assert.equal(d.reason, 'revoked');
    assert.match(
      d.detail ?? '',
      /CA certificate "C=BR, ST=SP, O=Policy Issuing, CN=Policy Issuing"/,
    );

    const impostor = await makeCa(dir, { name: 'Policy Issuing' });
    const forged = await buildCrl({
      signer: { privateKey: impostor.privateKey, certificate: impostor.certificate },
      entries: [{ serial: leafViaSub.serialHex, revokedAt: new Date() }],
      crlNumber: 9n,
    });
    const snap2 = await buildSnapshot(
      [trust('acme', [sub.certPem + root.certPem], { crls: [forged.pem] })],
      1,
      1,
      cache,
    );
    assert.ok(
      snap2.warnings.some((w) => /not signed by the registered CA/.test(w)),
      snap2.warnings.join('\n'),
    );
    const d2 = await evaluateConnection(evidence(snap2, leafViaSub), {}, info);
    assert.equal(d2.reason, 'ok', 'a CRL the issuer did not sign revokes nothing');
  });

  test('EKU: anyExtendedKeyUsage alone is not clientAuth', async () => {
    const profile: ExtensionProfile = {
      ...(BUILTIN_PROFILES.client_cert as ExtensionProfile),
      name: 'any',
      extendedKeyUsage: { critical: false, value: ['anyExtendedKeyUsage'] },
    };
    const anyEku = await makeLeaf(dir, other, { cn: 'any-eku', profile });
    const snap = await buildSnapshot([trust('other', [other.certPem])], 1, 1, cache);
    const d = await evaluateConnection(evidence(snap, anyEku), {}, info);
    assert.equal(d.reason, 'eku_missing');
    assert.match(d.detail ?? '', /2\.5\.29\.37\.0/);
  });

  test('pinned rules: fingerprint (any spelling) and subject O', async () => {
    const leaf = await makeLeaf(dir, other, { cn: 'pin-me' });
    const fp = info(der(leaf)).fingerprint.toUpperCase().match(/../g)?.join(':') ?? '';
    const byFp = await buildSnapshot(
      [trust('other', [other.certPem], { rules: [{ kind: 'fingerprint_sha256', value: fp }] })],
      1,
      1,
      cache,
    );
    assert.equal((await evaluateConnection(evidence(byFp, leaf), {}, info)).reason, 'ok');
    const byO = await buildSnapshot(
      [trust('other', [other.certPem], { rules: [{ kind: 'subject_o', value: 'Someone Else' }] })],
      1,
      1,
      cache,
    );
    assert.equal(
      (await evaluateConnection(evidence(byO, leaf), {}, info)).reason,
      'pinned_rule_mismatch',
    );
  });

  test("OpenSSL's verdict is mapped after attribution; a stranger stays unknown_ca", async () => {
    const snap = await buildSnapshot([trust('other', [other.certPem])], 1, 1, cache);
    const leaf = await makeLeaf(dir, other, { cn: 'openssl-says' });
    const e = {
      ...evidence(snap, leaf),
      authorized: false,
      authorizationError: 'CERT_HAS_EXPIRED',
    };
    assert.equal((await evaluateConnection(e, {}, info)).reason, 'expired');
    const stranger = await makeLeaf(dir, root, { cn: 'stranger' });
    const s = {
      ...evidence(snap, stranger),
      authorized: false,
      authorizationError: 'CERT_HAS_EXPIRED',
    };
    assert.equal(
      (await evaluateConnection(s, {}, info)).reason,
      'unknown_ca',
      'an expired certificate from an unknown CA is unknown_ca',
    );
    assert.equal(mapAuthorizationError('INVALID_PURPOSE'), 'eku_missing');
    assert.equal(mapAuthorizationError('EE_KEY_TOO_SMALL'), 'weak_key');
    assert.equal(mapAuthorizationError('CA_MD_TOO_WEAK'), 'bad_certificate');
    assert.equal(mapAuthorizationError('CERT_NOT_YET_VALID'), 'not_yet_valid');
    assert.equal(mapAuthorizationError('UNABLE_TO_GET_ISSUER_CERT_LOCALLY'), 'unknown_ca');
  });

  test('handshake failures are classified', () => {
    const e = (code: string, message = 'x') => Object.assign(new Error(message), { code });
    assert.equal(
      classifyTlsClientError(e('ERR_TLS_HANDSHAKE_TIMEOUT')).reason,
      'handshake_timeout',
    );
    assert.equal(classifyTlsClientError(e('ERR_SSL_UNSUPPORTED_PROTOCOL')).reason, 'tls_version');
    assert.equal(classifyTlsClientError(e('ERR_SSL_NO_SHARED_CIPHER')).reason, 'bad_request');
    assert.equal(classifyTlsClientError(e('ECONNRESET')).reason, 'bad_request');
  });

  test('path building: an issuer must be a CA, and an intermediate the client sends must have a strong key', async () => {
    const snap = await buildSnapshot([trust('other', [other.certPem])], 1, 1, cache);
    // A client certificate (CA:FALSE, no keyCertSign) used to sign another one.
    const notCa = await makeLeaf(dir, other, { cn: 'not-a-ca' });
    const forged = await buildCertificate({
      subject: parseSubject('/O=Test/CN=signed-by-a-leaf'),
      publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
      signer: { privateKey: notCa.privateKey, certificate: notCa.certificate },
      profile: BUILTIN_PROFILES.client_cert as ExtensionProfile,
      days: 30,
    });
    const d = await evaluateConnection(evidence(snap, forged, [notCa]), {}, info);
    assert.equal(d.reason, 'unknown_ca', d.detail ?? '');
    // An RSA-1024 intermediate (CA:TRUE) under the registered root.
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const weakInter = await buildCertificate({
      subject: parseSubject('/O=Weak/CN=Weak Intermediate'),
      publicKey: weak.publicKey,
      signer: { privateKey: other.privateKey, certificate: other.certificate },
      profile: BUILTIN_PROFILES.v3_intermediate_ca as ExtensionProfile,
      days: 30,
    });
    const underWeak = await makeLeaf(
      dir,
      { ...other, privateKey: weak.privateKey, certificate: weakInter.certificate },
      { cn: 'under-weak' },
    );
    const w = await evaluateConnection(evidence(snap, underWeak, [weakInter]), {}, info);
    assert.equal(w.reason, 'weak_key', w.detail ?? '');
    assert.match(
      w.detail ?? '',
      /intermediate CA certificate the client sent "O=Weak, CN=Weak Intermediate".*RSA 1024/,
    );
  });

  test('an unreadable CRL fails its institution closed, unless a good earlier reading of it is at hand', async () => {
    const leaf = await makeLeaf(dir, other, { cn: 'crl-victim' });
    const garbage = '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n';
    const broken = await buildSnapshot(
      [trust('other', [other.certPem], { crls: [garbage] })],
      1,
      1,
      cache,
    );
    const d = await evaluateConnection(evidence(broken, leaf), {}, info);
    assert.equal(d.outcome, 'rejected');
    assert.equal(d.reason, 'revoked');
    assert.match(d.detail ?? '', /revocation status .* is unknown: CRL 1 of other is unreadable/);
    // With the good CRL parsed first, a corrupted copy of the same record keeps the good one in force.
    const parses = new TrustParseCache();
    const good = await buildCrl({
      signer: { privateKey: other.privateKey, certificate: other.certificate },
      entries: [{ serial: leaf.serialHex, revokedAt: new Date() }],
      crlNumber: 1n,
    });
    await buildSnapshot(
      [trust('other', [other.certPem], { crls: [good.pem] })],
      1,
      1,
      cache,
      new Date(),
      parses,
    );
    const kept = await buildSnapshot(
      [trust('other', [other.certPem], { crls: [garbage] })],
      2,
      2,
      cache,
      new Date(),
      parses,
    );
    assert.ok(
      kept.warnings.some((w) => /last good version/.test(w)),
      kept.warnings.join('\n'),
    );
    const k = await evaluateConnection(evidence(kept, leaf), {}, info);
    assert.equal(k.reason, 'revoked');
    assert.match(k.detail ?? '', /is revoked by CRL 1/);
  });

  test('rebuilds reuse parsed CRLs and chains: an unchanged CRL is never parsed again', async () => {
    const crlA = await buildCrl({
      signer: { privateKey: root.privateKey, certificate: root.certificate },
      entries: [{ serial: '01', revokedAt: new Date() }],
      crlNumber: 1n,
    });
    const crlB = await buildCrl({
      signer: { privateKey: other.privateKey, certificate: other.certificate },
      entries: [{ serial: '02', revokedAt: new Date() }],
      crlNumber: 1n,
    });
    const data = (a = crlA.pem) => [
      trust('a', [root.certPem], { crls: [a], ips: ['192.0.2.1'] }),
      trust('b', [other.certPem], { crls: [crlB.pem], ips: ['192.0.2.2'] }),
    ];
    const parses = new TrustParseCache();
    const s1 = await buildSnapshot(data(), 1, 1, cache, new Date(), parses);
    assert.deepEqual(parses.stats, { chainParses: 2, crlParses: 2 });
    const s2 = await buildSnapshot(data(), 2, 2, cache, new Date(), parses);
    assert.deepEqual(
      parses.stats,
      { chainParses: 2, crlParses: 2 },
      'a full rebuild with nothing changed parses nothing',
    );
    assert.equal(
      defined(s2.institutions.get('a'), "s2.institutions.get('a')").crls[0],
      defined(s1.institutions.get('a'), "s1.institutions.get('a')").crls[0],
    );
    const crlA2 = await buildCrl({
      signer: { privateKey: root.privateKey, certificate: root.certificate },
      entries: [{ serial: '03', revokedAt: new Date() }],
      crlNumber: 2n,
    });
    const s3 = await updateSnapshot(
      s2,
      new Set(['a']),
      [at(data(crlA2.pem), 0)],
      3,
      3,
      cache,
      new Date(),
      parses,
    );
    assert.deepEqual(parses.stats, { chainParses: 2, crlParses: 3 }, "only a's new CRL was parsed");
    assert.equal(
      s3.institutions.get('b'),
      s2.institutions.get('b'),
      'an institution that did not change is carried over as is',
    );
    assert.ok(
      at(defined(s3.institutions.get('a'), "s3.institutions.get('a')").crls, 0).revoked.has('3'),
    );
    assert.deepEqual(s3.matcher.match('192.0.2.2'), ['b']);
    const s4 = await updateSnapshot(s3, new Set(['b']), [], 4, 4, cache, new Date(), parses);
    assert.equal(
      s4.institutions.has('b'),
      false,
      'an institution missing from the reload was deleted',
    );
    assert.deepEqual(s4.matcher.match('192.0.2.2'), []);
  });

  test('an update answers as a full build of the same registry would, and leaves the previous snapshot as it was', async () => {
    const before = [
      trust('a', [root.certPem], { ips: ['192.0.2.1', '198.51.100.0/24'] }),
      trust('b', [other.certPem], { ips: ['192.0.2.2'], status: 'suspended' }),
      trust('c', [sub.certPem + root.certPem], { ips: ['192.0.2.1'] }),
    ];
    const after = [
      // a moves off its /24, b becomes active, c is deleted, d is new
      trust('a', [root.certPem], { ips: ['192.0.2.1'] }),
      trust('b', [other.certPem], { ips: ['192.0.2.2'] }),
      trust('d', [other.certPem], { ips: ['192.0.2.1', '203.0.113.0/24'] }),
    ];
    const parses = new TrustParseCache();
    const s1 = await buildSnapshot(before, 1, 1, cache, new Date(), parses);
    assert.equal(s1.changed, null);
    assert.equal(s1.activeCount, 2);
    const s2 = await updateSnapshot(
      s1,
      new Set(['a', 'b', 'c', 'd']),
      after,
      2,
      2,
      cache,
      new Date(),
      parses,
    );
    const full = await buildSnapshot(after, 2, 2, cache);
    const probes = ['192.0.2.1', '192.0.2.2', '198.51.100.9', '203.0.113.4', '192.0.2.99'];
    for (const ip of probes)
      assert.deepEqual(s2.matcher.match(ip).sort(), full.matcher.match(ip).sort(), ip);
    assert.equal(s2.matcher.size, full.matcher.size);
    assert.deepEqual([...s2.institutions.keys()].sort(), [...full.institutions.keys()].sort());
    assert.equal(s2.activeCount, 3);
    assert.deepEqual([...(s2.changed ?? [])].sort(), ['a', 'b', 'c', 'd']);
    assert.deepEqual(s2.warnings, full.warnings);
    // A connection that started on s1 still sees the registry as it was.
    assert.deepEqual(s1.matcher.match('192.0.2.1').sort(), ['a', 'c']);
    assert.deepEqual(s1.matcher.match('198.51.100.9'), ['a']);
    assert.equal(s1.institutions.has('c'), true);
    assert.equal(s1.activeCount, 2);
  });

  test('issuer checks are memoised per pair, and the certificate cache evicts the least recently used', () => {
    const leaf = info(der(leafViaSub));
    const issuer = info(der(sub));
    assert.equal(isIssuedBy(leaf, issuer), true);
    assert.equal(leaf.issuedByMemo.get(issuer.fingerprint), true);
    const small = new CertInfoCache(2);
    const [a, b, c] = [der(root), der(sub), der(other)];
    const fa = small.get(a).fingerprint;
    const fb = small.get(b).fingerprint;
    small.get(a);
    small.get(c);
    assert.equal(small.has(fa), true, 'recently used: kept');
    assert.equal(small.has(fb), false, 'least recently used: evicted');
  });
});

/** A registry whose reads can be made to fail, for the trust cache's own logic. */
class FakeRegistry {
  version_ = 1;
  failing = false;
  /** Reads refused while failing. */
  refused = 0;
  loads: Array<string | undefined> = [];
  listener: ((c: RegistryChange) => void) | undefined;
  onFeedError: ((e: MtlsError) => void) | undefined;
  constructor(public data: InstitutionTrust[]) {}
  private check(): void {
    if (this.failing) {
      this.refused++;
      throw new MtlsError('MTLS_NETWORK', 'registry unreachable (test)');
    }
  }
  /** While set, every read waits until it is cleared (a link that neither answers nor fails). */
  hang: Promise<void> | null = null;
  version(): Promise<number> {
    return (this.hang ?? Promise.resolve()).then(() => {
      this.check();
      return this.version_;
    });
  }
  loadTrust(id?: string): Promise<InstitutionTrust[]> {
    return Promise.resolve().then(() => {
      this.check();
      this.loads.push(id);
      return id === undefined ? this.data : this.data.filter((t) => t.institution.id === id);
    });
  }
  onChange(l: (c: RegistryChange) => void, e?: (err: MtlsError) => void): () => void {
    this.listener = l;
    this.onFeedError = e;
    return () => undefined;
  }
  change(id: string | null): void {
    this.version_++;
    this.listener?.({ institutionId: id, version: this.version_ });
  }
  /** A write the change feed does not announce. */
  silentChange(): void {
    this.version_++;
  }
}

/** A trust cache over a fake registry, with this file's shared certificate cache. */
const trustCacheOver = (fake: FakeRegistry, options: Partial<TrustCacheOptions> = {}): TrustCache =>
  new TrustCache({
    registry: fake as unknown as Registry,
    serverFactory: () => tls.createServer(),
    certCache: cache,
    ...options,
  });

const until = async (check: () => boolean, what: string, ms = 5_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('trust cache', () => {
  test('a registry that hangs, neither answering nor failing: unconfirmed from the unanswered heartbeat, refused after the maximum staleness, back once it answers', async () => {
    const fake = new FakeRegistry([trust('a', [root.certPem], { ips: ['192.0.2.1'] })]);
    const errors: string[] = [];
    const tc = trustCacheOver(fake, {
      maxStaleMs: 300,
      heartbeatMs: 20,
      heartbeatTimeoutMs: 60,
      onError: (e) => errors.push(e.message),
    });
    try {
      await tc.start();
      let release = (): void => undefined;
      fake.hang = new Promise((r) => (release = r));
      const hungAt = Date.now();
      await until(() => tc.stale, 'the fail-closed state', 2_000);
      const took = Date.now() - hungAt;
      assert.ok(took >= 250 && took < 1_000, `stale after ${took} ms`);
      assert.equal(tc.lookup('192.0.2.1').kind, 'unavailable');
      assert.deepEqual(errors, [
        'the registry did not answer within 60 ms (a hung connection or server)',
      ]);
      fake.hang = null;
      release();
      await until(() => !tc.stale && tc.lookup('192.0.2.1').kind === 'tenant', 'the recovery');
    } finally {
      tc.stop();
    }
  });

  test('an outage that fails in two ways at once is logged once per way, not on every retry', async () => {
    const fake = new FakeRegistry([trust('a', [root.certPem], { ips: ['192.0.2.1'] })]);
    const errors: string[] = [];
    const tc = trustCacheOver(fake, {
      pollMs: 10,
      heartbeatMs: 10,
      onError: (e) => errors.push(e.message),
    });
    try {
      await tc.start();
      fake.failing = true;
      for (let i = 0; i < 10; i++) {
        fake.onFeedError?.(new MtlsError('MTLS_NETWORK', 'cannot listen for changes (test)'));
        await new Promise((r) => setTimeout(r, 15));
      }
      assert.ok(fake.refused >= 5, `reads retried: ${fake.refused}`);
      assert.deepEqual([...errors].sort(), [
        'cannot listen for changes (test)',
        'registry unreachable (test)',
      ]);
    } finally {
      fake.failing = false;
      tc.stop();
    }
  });

  test('a change the feed did not announce: the heartbeat finds the version ahead and reloads everything', async () => {
    const fake = new FakeRegistry([trust('a', [root.certPem], { ips: ['192.0.2.1'] })]);
    const said: string[] = [];
    const tc = trustCacheOver(fake, {
      heartbeatMs: 20,
      onUnannounced: (d) => said.push(d),
    });
    try {
      await tc.start();
      fake.data[0] = trust('a', [root.certPem], { ips: ['192.0.2.1'], status: 'suspended' });
      fake.silentChange();
      await until(() => tc.lookup('192.0.2.1').kind === 'suspended', 'the reload');
      assert.deepEqual(fake.loads, [undefined, undefined], 'one full reload');
      assert.equal(said.length, 1);
      assert.match(said[0] ?? '', /registry version 2 was not announced by the change feed/);
    } finally {
      tc.stop();
    }
  });

  test('a change reloads only the institution it names', async () => {
    const fake = new FakeRegistry([
      trust('a', [root.certPem], { ips: ['192.0.2.1'] }),
      trust('b', [other.certPem], { ips: ['192.0.2.2'] }),
    ]);
    const tc = trustCacheOver(fake);
    try {
      const first = await tc.start();
      assert.deepEqual(fake.loads, [undefined]);
      fake.data[0] = trust('a', [root.certPem], { ips: ['192.0.2.1', '192.0.2.9'] });
      fake.change('a');
      await until(() => tc.snapshot.generation === 2, 'the reload');
      assert.deepEqual(fake.loads, [undefined, 'a']);
      assert.equal(tc.snapshot.institutions.get('b'), first.institutions.get('b'));
      assert.equal(tc.lookup('192.0.2.9').kind, 'tenant');
      fake.change(null);
      await until(() => tc.snapshot.generation === 3, 'the full reload');
      assert.deepEqual(fake.loads, [undefined, 'a', undefined]);
    } finally {
      tc.stop();
    }
  });

  test('lookups are remembered per source address, and forgotten when the registry or the server credential changes', async () => {
    const fake = new FakeRegistry([trust('a', [root.certPem], { ips: ['192.0.2.1'] })]);
    let built = 0;
    const tc = new TrustCache({
      registry: fake as unknown as Registry,
      serverFactory: () => {
        built++;
        return tls.createServer();
      },
      certCache: cache,
    });
    try {
      await tc.start();
      const first = tc.lookup('192.0.2.1');
      assert.equal(first.kind, 'tenant');
      assert.equal(
        tc.lookup('192.0.2.1'),
        first,
        'the same address, the same snapshot: the same answer',
      );
      assert.equal(built, 1);
      // A suspension is a new snapshot: the remembered answer must not outlive it.
      fake.data[0] = trust('a', [root.certPem], { ips: ['192.0.2.1'], status: 'suspended' });
      fake.change('a');
      await until(() => tc.snapshot.generation === 2, 'the reload');
      assert.equal(tc.lookup('192.0.2.1').kind, 'suspended');
      fake.data[0] = trust('a', [root.certPem], { ips: ['192.0.2.1'] });
      fake.change('a');
      await until(() => tc.snapshot.generation === 3, 'the second reload');
      const again = tc.lookup('192.0.2.1');
      assert.ok(again.kind === 'tenant');
      // A new server credential drops every TLS server: the next lookup builds one.
      tc.invalidateServers();
      const rebuilt = tc.lookup('192.0.2.1');
      assert.ok(rebuilt.kind === 'tenant');
      assert.notEqual(rebuilt.tenant.server, again.tenant.server);
      assert.equal(built, 2);
      assert.equal(tc.lookup('203.0.113.9').kind, 'unregistered');
    } finally {
      tc.stop();
    }
  });

  test('an unreadable registry: the old snapshot serves until the maximum staleness, then lookups fail closed and /readyz says 503', async () => {
    const fake = new FakeRegistry([trust('a', [root.certPem], { ips: ['192.0.2.1'] })]);
    const events: boolean[] = [];
    const tc = trustCacheOver(fake, {
      pollMs: 20,
      maxStaleMs: 1_000,
      onStale: (stale) => events.push(stale),
      onError: (e) => errors.push(e.message),
    });
    const errors: string[] = [];
    const state = (): HealthState => ({
      listening: true,
      draining: false,
      trustLoaded: true,
      trustStale: tc.stale,
      registryVersion: 1,
      registryError: tc.error?.message ?? null,
      registryAppliedAt: null,
      serverCertNotAfter: null,
      auditFailingSeconds: null,
      auditError: null,
      auditMaxFailureSeconds: 30,
    });
    const ops = await startOpsServer('127.0.0.1', 0, state);
    const readyz = async (): Promise<number> =>
      (await fetch(`http://127.0.0.1:${ops.address().port}/readyz`)).status;
    try {
      await tc.start();
      fake.failing = true;
      fake.onFeedError?.(new MtlsError('MTLS_LOCK_TIMEOUT', 'poll failed (test)'));
      assert.equal(
        tc.lookup('192.0.2.1').kind,
        'tenant',
        'a short failure keeps the last good snapshot',
      );
      assert.equal(await readyz(), 200);
      await until(() => tc.stale, 'staleness');
      const l = tc.lookup('192.0.2.1');
      assert.equal(l.kind, 'unavailable');
      assert.match(l.detail, /unreachable \(test\).*fail closed/);
      assert.equal(
        tc.lookup('198.51.100.7').kind,
        'unavailable',
        'nobody is let in while the registry cannot be read',
      );
      assert.equal(await readyz(), 503);
      assert.deepEqual(events, [true]);
      // Retried every poll period, reported once per distinct failure (the log stays readable).
      assert.ok(fake.refused >= 10, `retried (${fake.refused} refused reads)`);
      assert.deepEqual(errors, ['poll failed (test)', 'registry unreachable (test)']);
      fake.failing = false;
      await until(() => !tc.stale && tc.error === null, 'recovery by the retried reload');
      assert.equal(tc.lookup('192.0.2.1').kind, 'tenant');
      assert.equal(await readyz(), 200);
      assert.deepEqual(events, [true, false]);
    } finally {
      tc.stop();
      await ops.close();
    }
  });
});
