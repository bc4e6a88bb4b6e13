/**
 * The post-handshake policy on a trust snapshot built from registry data:
 * attribution by chain, intermediates, CRLs (right and wrong signer), CA key
 * rotation under one name, EKU and pinned rules.
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCrl } from '../../src/pki/crl.js';
import { BUILTIN_PROFILES, type ExtensionProfile } from '../../src/pki/profile.js';
import { CertInfoCache } from '../../src/gateway/peer-cert.js';
import { evaluateConnection, mapAuthorizationError, type ConnectionEvidence } from '../../src/gateway/policy.js';
import { classifyTlsClientError } from '../../src/gateway/gateway.js';
import { buildSnapshot, type TrustSnapshot } from '../../src/gateway/trust-cache.js';
import type { InstitutionTrust, PinnedRule } from '../../src/gateway/registry/types.js';
import { makeCa, makeLeaf, tempDir, type TestCa, type TestLeaf } from '../helpers/pki.js';

const { dir, cleanup } = tempDir('mtlskit-gw-policy-');
const cache = new CertInfoCache();
const info = (der: Buffer) => cache.get(der);
const der = (x: { certificate: { rawData: ArrayBuffer } }): Buffer => Buffer.from(x.certificate.rawData);
let root: TestCa;
let sub: TestCa;
let leafViaSub: TestLeaf;
let other: TestCa;

function trust(id: string, chains: string[], opts: { crls?: string[]; rules?: Array<Pick<PinnedRule, 'kind' | 'value'>>; ips?: string[] } = {}): InstitutionTrust {
  const now = new Date().toISOString();
  return {
    institution: { id, name: id, status: 'active', createdAt: now, updatedAt: now },
    chains: chains.map((pem, i) => ({ id: i + 1, institutionId: id, pem, fingerprints: [], subject: id, notAfter: now, createdAt: now })),
    ips: (opts.ips ?? ['192.0.2.1']).map((cidr, i) => ({ id: i + 1, institutionId: id, cidr, createdAt: now })),
    crls: (opts.crls ?? []).map((pem, i) => ({ id: i + 1, institutionId: id, pem, issuer: '', thisUpdate: now, nextUpdate: null, createdAt: now })),
    rules: (opts.rules ?? []).map((r, i) => ({ id: i + 1, institutionId: id, ...r }) as PinnedRule),
  };
}

function evidence(snapshot: TrustSnapshot, leaf: { certificate: { rawData: ArrayBuffer } }, presented: Array<{ certificate: { rawData: ArrayBuffer } }> = [], ids?: string[]): ConnectionEvidence {
  const active = [...snapshot.institutions.values()].filter((i) => !ids || ids.includes(i.id));
  return { leafDer: der(leaf), presentedDer: presented.map(der), authorized: true, authorizationError: null, active, suspended: [] };
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
    const snap = await buildSnapshot([trust('acme', [root.certPem]), trust('other', [other.certPem])], 1, 1, cache);
    const d = await evaluateConnection(evidence(snap, leafViaSub, [sub]), {}, info);
    assert.equal(d.outcome, 'accepted', d.detail ?? '');
    assert.equal(d.institutionId, 'acme');
    assert.deepEqual(
      d.chain.map((c) => c.subject),
      ['CN=Policy Issuing,O=Policy Issuing,ST=SP,C=BR', 'CN=Policy Root,O=Policy Root,ST=SP,C=BR'],
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
    const snap = await buildSnapshot([trust('a', [root.certPem]), trust('b', [root.certPem])], 1, 1, cache);
    const d = await evaluateConnection(evidence(snap, leafViaSub, [sub]), {}, info);
    assert.equal(d.reason, 'unknown_ca');
    assert.match(d.detail ?? '', /several institutions/);
  });

  test('CA key rotation under the same name: each key attributes its own leaves', async () => {
    const rotated = await makeCa(dir, { name: 'Policy Root' });
    const leafNew = await makeLeaf(dir, rotated, { cn: 'new-key' });
    const snap = await buildSnapshot([trust('old', [root.certPem]), trust('new', [rotated.certPem])], 1, 1, cache);
    assert.equal((await evaluateConnection(evidence(snap, leafNew), {}, info)).institutionId, 'new');
    assert.equal((await evaluateConnection(evidence(snap, leafViaSub, [sub]), {}, info)).institutionId, 'old');
  });

  test('CRLs: the root revoking the intermediate revokes its leaves; a CRL from another key is ignored', async () => {
    const byRoot = await buildCrl({ signer: { privateKey: root.privateKey, certificate: root.certificate }, entries: [{ serial: sub.certificate.serialNumber, revokedAt: new Date() }], crlNumber: 1n });
    const snap = await buildSnapshot([trust('acme', [root.certPem], { crls: [byRoot.pem] })], 1, 1, cache);
    const d = await evaluateConnection(evidence(snap, leafViaSub, [sub]), {}, info);
    assert.equal(d.reason, 'revoked');
    assert.match(d.detail ?? '', /CA certificate "CN=Policy Issuing/);

    const impostor = await makeCa(dir, { name: 'Policy Issuing' });
    const forged = await buildCrl({
      signer: { privateKey: impostor.privateKey, certificate: impostor.certificate },
      entries: [{ serial: leafViaSub.serialHex, revokedAt: new Date() }],
      crlNumber: 9n,
    });
    const snap2 = await buildSnapshot([trust('acme', [sub.certPem + root.certPem], { crls: [forged.pem] })], 1, 1, cache);
    assert.ok(snap2.warnings.some((w) => /not signed by the registered CA/.test(w)), snap2.warnings.join('\n'));
    const d2 = await evaluateConnection(evidence(snap2, leafViaSub), {}, info);
    assert.equal(d2.reason, 'ok', 'a CRL the issuer did not sign revokes nothing');
  });

  test('EKU: anyExtendedKeyUsage alone is not clientAuth', async () => {
    const profile: ExtensionProfile = { ...(BUILTIN_PROFILES.client_cert as ExtensionProfile), name: 'any', extendedKeyUsage: { critical: false, value: ['anyExtendedKeyUsage'] } };
    const anyEku = await makeLeaf(dir, other, { cn: 'any-eku', profile });
    const snap = await buildSnapshot([trust('other', [other.certPem])], 1, 1, cache);
    const d = await evaluateConnection(evidence(snap, anyEku), {}, info);
    assert.equal(d.reason, 'eku_missing');
    assert.match(d.detail ?? '', /2\.5\.29\.37\.0/);
  });

  test('pinned rules: fingerprint (any spelling) and subject O', async () => {
    const leaf = await makeLeaf(dir, other, { cn: 'pin-me' });
    const fp = info(der(leaf)).fingerprint.toUpperCase().match(/../g)?.join(':') ?? '';
    const byFp = await buildSnapshot([trust('other', [other.certPem], { rules: [{ kind: 'fingerprint_sha256', value: fp }] })], 1, 1, cache);
    assert.equal((await evaluateConnection(evidence(byFp, leaf), {}, info)).reason, 'ok');
    const byO = await buildSnapshot([trust('other', [other.certPem], { rules: [{ kind: 'subject_o', value: 'Someone Else' }] })], 1, 1, cache);
    assert.equal((await evaluateConnection(evidence(byO, leaf), {}, info)).reason, 'pinned_rule_mismatch');
  });

  test("OpenSSL's verdict is mapped after attribution; a stranger stays unknown_ca", async () => {
    const snap = await buildSnapshot([trust('other', [other.certPem])], 1, 1, cache);
    const leaf = await makeLeaf(dir, other, { cn: 'openssl-says' });
    const e = { ...evidence(snap, leaf), authorized: false, authorizationError: 'CERT_HAS_EXPIRED' };
    assert.equal((await evaluateConnection(e, {}, info)).reason, 'expired');
    const stranger = await makeLeaf(dir, root, { cn: 'stranger' });
    const s = { ...evidence(snap, stranger), authorized: false, authorizationError: 'CERT_HAS_EXPIRED' };
    assert.equal((await evaluateConnection(s, {}, info)).reason, 'unknown_ca', 'an expired certificate from an unknown CA is unknown_ca');
    assert.equal(mapAuthorizationError('INVALID_PURPOSE'), 'eku_missing');
    assert.equal(mapAuthorizationError('EE_KEY_TOO_SMALL'), 'bad_certificate');
    assert.equal(mapAuthorizationError('CERT_NOT_YET_VALID'), 'not_yet_valid');
    assert.equal(mapAuthorizationError('UNABLE_TO_GET_ISSUER_CERT_LOCALLY'), 'unknown_ca');
  });

  test('handshake failures are classified', () => {
    const e = (code: string, message = 'x') => Object.assign(new Error(message), { code });
    assert.equal(classifyTlsClientError(e('ERR_TLS_HANDSHAKE_TIMEOUT')).reason, 'handshake_timeout');
    assert.equal(classifyTlsClientError(e('ERR_SSL_UNSUPPORTED_PROTOCOL')).reason, 'tls_version');
    assert.equal(classifyTlsClientError(e('ERR_SSL_NO_SHARED_CIPHER')).reason, 'bad_request');
    assert.equal(classifyTlsClientError(e('ECONNRESET')).reason, 'bad_request');
  });
});
