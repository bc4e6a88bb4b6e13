/**
 * Onboarding: checks a CA chain or CRL an institution sent before the
 * registry trusts it, and refuses anything a careful operator would refuse,
 * naming the certificate (its subject and its position in the file).
 */
import { createPrivateKey, X509Certificate as NodeX509 } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { MtlsError } from '../errors/index.js';
import { certificatePublicKey, parseCertificates, toNodeCertificate } from '../pki/certificate.js';
import { isIssuedBy, orderChainFrom } from '../pki/chain-order.js';
import { crlNumberOf, parseCrls } from '../pki/crl.js';
import { decodeOid, readDer, readDerChildren } from '../pki/der.js';
import { algorithmName } from '../pki/inspect/oid-names.js';
import { assertKeyStrength, describeKey, type KeyStrengthPolicy } from '../pki/keys.js';
import { formatDn } from '../pki/names.js';
import { containsPrivateKey, decodePemBlocks, encodePem, isPem } from '../pki/pem.js';
import { loadCertificates } from '../pki/pkcs12/certificates.js';
import { readCertificateDer } from '../pki/read-x509.js';
import { spkiSha256 } from '../pki/spki-hash.js';
import { fromX509Name } from '../pki/x509-name.js';
import type { CaChainRecord, CrlRecord, Registry } from './registry/types.js';
import { errorMessage } from '../errors/mtls-error.js';

/** Which onboarding check refused the upload (in `MtlsError.details.check`). */
export type OnboardCheck =
  | 'private_key'
  | 'not_a_certificate'
  | 'not_ca'
  | 'expired'
  | 'not_yet_valid'
  | 'weak_key'
  | 'weak_signature'
  | 'too_long'
  | 'duplicate'
  | 'broken_chain'
  | 'incomplete_chain'
  | 'not_a_crl'
  | 'crl_issuer_unknown'
  | 'crl_signature'
  | 'crl_stale'
  | 'crl_not_yet_valid'
  | 'crl_older';

/** Options for {@link validateCaChain}. */
export interface ValidateCaChainOptions {
  /** The file name or upload description, for messages (default `chain`). */
  source?: string;
  /** The time validity is checked at (default now). */
  now?: Date;
  /** Most certificates one upload may hold (default 4). */
  maxLength?: number;
  /** Warn when a CA expires within this many days (default 30). */
  expiryWarningDays?: number;
  /** Minimum key sizes (default RSA-2048, P-256). */
  keyPolicy?: KeyStrengthPolicy;
  /**
   * CA certificates (PEM) already registered for the institution: the top of
   * an uploaded chain that is not self-signed must be issued by one of them.
   */
  knownIssuers?: readonly string[];
}

/** One certificate of a validated chain. */
export interface ChainCertificateInfo {
  /** 1-based position in the uploaded file. */
  position: number;
  /** RFC 4514 subject. */
  subject: string;
  /** RFC 4514 issuer. */
  issuer: string;
  /** SHA-256 of the DER, lower-case hex without colons. */
  fingerprint: string;
  notBefore: string;
  notAfter: string;
  /** `EC P-256`, `RSA 4096`, … */
  key: string;
  /** Signature algorithm name, e.g. `ecdsa-with-SHA256`. */
  signatureAlgorithm: string;
  selfSigned: boolean;
}

/** A chain that passed every check. */
export interface ValidatedChain {
  /** The certificates only, re-encoded as PEM, issuing CA first and the top-most CA last. */
  pem: string;
  /** SHA-256 fingerprints in the same order as `pem`. */
  fingerprints: string[];
  /** RFC 4514 subject of the top-most CA. */
  subject: string;
  /** Earliest notAfter in the chain (ISO). */
  notAfter: string;
  /** The certificates in chain order. */
  certificates: ChainCertificateInfo[];
  /** Non-fatal findings (a CA expiring within the warning window). */
  warnings: string[];
}

// Signature algorithms accepted for CA certificates and CRLs. Anything else
// (MD2, MD5, SHA-1, SHA-224, DSA, unknown) is refused: SHA-1 collisions are
// practical (SHAttered, 2017), and RFC 9155 §2 deprecates SHA-1 signatures in
// TLS 1.2; an unknown algorithm cannot be judged, so it fails closed.
// Names come from the OID table `mtls cert show` uses (src/pki/inspect/oid-names.ts).
const GOOD_SIGNATURE_OIDS: ReadonlySet<string> = new Set([
  '1.2.840.113549.1.1.11', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12', // sha384WithRSAEncryption
  '1.2.840.113549.1.1.13', // sha512WithRSAEncryption
  '1.2.840.10045.4.3.2', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3', // ecdsa-with-SHA384
  '1.2.840.10045.4.3.4', // ecdsa-with-SHA512
  '1.3.101.112', // Ed25519
  '1.3.101.113', // Ed448
]);
/** Refused signature algorithms, with the weak digest named in the message. */
const WEAK_SIGNATURE_DIGESTS: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.2': 'MD2',
  '1.2.840.113549.1.1.4': 'MD5',
  '1.2.840.113549.1.1.5': 'SHA-1',
  '1.2.840.113549.1.1.14': 'SHA-224',
  '1.2.840.10045.4.1': 'SHA-1',
  '1.2.840.10045.4.3.1': 'SHA-224',
  '1.2.840.10040.4.3': 'SHA-1',
  '1.3.14.3.2.29': 'SHA-1',
};
const PSS_OID = '1.2.840.113549.1.1.10';
const PSS_GOOD_HASHES: Record<string, string> = {
  '2.16.840.1.101.3.4.2.1': 'SHA-256',
  '2.16.840.1.101.3.4.2.2': 'SHA-384',
  '2.16.840.1.101.3.4.2.3': 'SHA-512',
};

/**
 * Names the signature algorithm of a signed structure (certificate or CRL:
 * both are SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING }) and says whether
 * it is acceptable. RSASSA-PSS is judged by its hash (SHA-1 when absent,
 * RFC 4055 §3.1).
 */
function signatureAlgorithmOf(der: Buffer, what: string): { name: string; ok: boolean } {
  const top = readDer(der, 0, what);
  const parts = readDerChildren(top.content, what);
  const algId = parts[1];
  if (!algId) return { name: 'unreadable', ok: false };
  const [oidEl, params] = readDerChildren(algId.content, what);
  const oid = oidEl ? decodeOid(oidEl.content) : '';
  if (GOOD_SIGNATURE_OIDS.has(oid)) return { name: algorithmName(oid), ok: true };
  const weak = WEAK_SIGNATURE_DIGESTS[oid];
  if (weak) return { name: `${algorithmName(oid)} (${weak})`, ok: false };
  if (oid === PSS_OID) {
    let hashOid = '1.3.14.3.2.26';
    if (params && params.tag === 0x30) {
      const hashField = readDerChildren(params.content, what).find((e) => e.tag === 0xa0);
      const alg = hashField ? readDerChildren(hashField.content, what)[0] : undefined;
      const inner = alg ? readDerChildren(alg.content, what)[0] : undefined;
      if (inner) hashOid = decodeOid(inner.content);
    }
    const hash = PSS_GOOD_HASHES[hashOid];
    return hash
      ? { name: `RSASSA-PSS with ${hash}`, ok: true }
      : { name: `RSASSA-PSS with ${hashOid === '1.3.14.3.2.26' ? 'SHA-1' : hashOid}`, ok: false };
  }
  return { name: `unknown algorithm ${oid}`, ok: false };
}

function reject(
  check: OnboardCheck,
  message: string,
  subject: string,
  hint?: string,
  extra: Record<string, unknown> = {},
): MtlsError {
  return new MtlsError('MTLS_ONBOARD_REJECTED', message, {
    subject,
    details: { check, ...extra },
    ...(hint ? { hint } : {}),
  });
}

interface Parsed {
  position: number;
  der: Buffer;
  cert: x509.X509Certificate;
  node: NodeX509;
  subject: string;
  issuer: string;
  fingerprint: string;
  label: string;
}

const fpOf = (node: NodeX509): string => node.fingerprint256.replace(/:/g, '').toLowerCase();
const dnOf = (name: x509.Name): string => formatDn(fromX509Name(name));

/** True when DER bytes parse as a private key (PKCS#8, PKCS#1 or SEC1). */
function isDerPrivateKey(der: Buffer): boolean {
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    try {
      createPrivateKey({ key: der, format: 'der', type });
      return true;
    } catch {
      // Not this encoding; try the next one.
    }
  }
  return false;
}

/**
 * Refuses, loudly, an upload that holds a private key: any PEM block labelled
 * `… PRIVATE KEY`, or DER bytes that parse as a PKCS#8, PKCS#1 or SEC1 key.
 * The guide is explicit that the key must never be sent to the provider. The
 * CLI runs this before anything leaves the machine.
 * @param what - `CA chain` or `CRL`, for the hint
 * @throws MTLS_ONBOARD_REJECTED with details.check `private_key`
 */
export function assertNoPrivateKey(
  data: string | Uint8Array,
  source: string,
  what: 'CA chain' | 'CRL' = 'CA chain',
): void {
  const hint =
    what === 'CRL'
      ? 'Send only the CRL file (e.g. crl/ca.crl.pem). Treat the key that was in this file as exposed: have the institution replace it.'
      : 'Send only the public CA certificate(s), e.g. certs/ca.cert.pem (never private/ca.key.pem). Treat the key that was in this file as exposed: have the institution replace it and re-issue its CA.';
  const text =
    typeof data === 'string' ? data : isPem(data) ? Buffer.from(data).toString('utf8') : undefined;
  if (text !== undefined) {
    if (!containsPrivateKey(text)) return;
    const blocks = [...text.matchAll(/-----BEGIN ([A-Z0-9 #]+)-----/g)].map((m) => m[1] ?? '');
    const at = blocks.findIndex((l) => l.endsWith('PRIVATE KEY'));
    throw reject(
      'private_key',
      `${source}: block #${at + 1} is a ${blocks[at] ?? 'PRIVATE KEY'} block. A private key must NEVER be sent to the provider; the upload was refused and nothing was stored`,
      source,
      hint,
      { position: at + 1 },
    );
  }
  if (typeof data !== 'string' && isDerPrivateKey(Buffer.from(data))) {
    throw reject(
      'private_key',
      `${source} is a DER private key. A private key must NEVER be sent to the provider; the upload was refused and nothing was stored`,
      source,
      hint,
      {
        position: 1,
      },
    );
  }
}

/** Reads the upload's blocks; refuses a private key before anything else. */
function readCertificates(data: string | Uint8Array, source: string): Parsed[] {
  assertNoPrivateKey(data, source);
  const text =
    typeof data === 'string' ? data : isPem(data) ? Buffer.from(data).toString('utf8') : undefined;
  const out: Parsed[] = [];
  const add = (der: Buffer, position: number, label: string): void => {
    let cert: x509.X509Certificate;
    let node: NodeX509;
    try {
      cert = readCertificateDer(der, `certificate #${position} of ${source}`);
      node = new NodeX509(der);
      // OpenSSL decodes the key only when asked; a corrupt one is refused here, not when its strength is checked.
      certificatePublicKey(cert);
    } catch (e) {
      const what =
        text === undefined
          ? `${source} is neither PEM nor a DER X.509 certificate`
          : `${source}: block #${position} is not a readable X.509 certificate`;
      throw reject(
        'not_a_certificate',
        `${what} (${errorMessage(e)})`,
        source,
        'Export the CA certificate again as PEM (openssl x509 -in ca.cert.pem -outform PEM).',
        {
          position,
        },
      );
    }
    out.push({
      position,
      der,
      cert,
      node,
      subject: dnOf(cert.subjectName),
      issuer: dnOf(cert.issuerName),
      fingerprint: fpOf(node),
      label,
    });
  };
  if (text !== undefined) {
    let blocks;
    try {
      blocks = decodePemBlocks(text, source);
    } catch (e) {
      throw reject(
        'not_a_certificate',
        errorMessage(e),
        source,
        'Send the CA chain as PEM CERTIFICATE blocks.',
      );
    }
    blocks.forEach((b, i) => {
      if (b.label !== 'CERTIFICATE' && b.label !== 'TRUSTED CERTIFICATE') {
        throw reject(
          'not_a_certificate',
          `${source}: block #${i + 1} is a ${b.label}, not a CERTIFICATE; only CA certificates belong in a chain upload`,
          source,
          undefined,
          {
            position: i + 1,
          },
        );
      }
      add(b.der, i + 1, b.label);
    });
  } else if (typeof data !== 'string') {
    const der = Buffer.from(data);
    if (der.length === 0) throw reject('not_a_certificate', `${source} is empty`, source);
    add(der, 1, 'CERTIFICATE');
  }
  return out;
}

/**
 * Checks a CA chain upload. Refuses (MTLS_ONBOARD_REJECTED, naming the
 * certificate's position and subject, with `details.check`):
 * - any PRIVATE KEY block (the guide: the key must never be sent);
 * - a certificate without basicConstraints CA:TRUE or without keyCertSign
 *   (RFC 5280 §4.2.1.9, §4.2.1.3);
 * - an expired or not-yet-valid certificate (RFC 5280 §4.1.2.5);
 * - RSA under 2048 bits or EC under P-256 (NIST SP 800-57 §5.6.1);
 * - a signature with MD5, SHA-1 or another algorithm outside SHA-2/EdDSA;
 * - more than `maxLength` (4) certificates, or the same certificate twice;
 * - certificates that do not form one chain, each issued by the next (names
 *   and signature checked); the top must be self-signed or issued by one of
 *   `knownIssuers`.
 *
 * The certificates may come in any order; the result is in chain order.
 * Warns when a certificate expires within `expiryWarningDays` (30).
 * @throws MTLS_ONBOARD_REJECTED
 */
export function validateCaChain(
  data: string | Uint8Array,
  options: ValidateCaChainOptions = {},
): ValidatedChain {
  const source = options.source ?? 'chain';
  const now = options.now ?? new Date();
  const maxLength = options.maxLength ?? 4;
  const warnDays = options.expiryWarningDays ?? 30;
  const certs = readCertificates(data, source);
  const name = (p: Parsed): string =>
    `certificate #${p.position} of ${certs.length} in ${source} (${p.subject})`;

  if (certs.length > maxLength) {
    throw reject(
      'too_long',
      `${source} holds ${certs.length} certificates; a chain may have at most ${maxLength}`,
      source,
      'Send the issuing CA and its parents up to the root only, not client certificates or unrelated CAs.',
      {
        count: certs.length,
      },
    );
  }
  const seen = new Map<string, Parsed>();
  for (const p of certs) {
    const first = seen.get(p.fingerprint);
    if (first) {
      throw reject(
        'duplicate',
        `${name(p)} is the same certificate as #${first.position}`,
        source,
        'Remove the repeated certificate from the file.',
        { position: p.position },
      );
    }
    seen.set(p.fingerprint, p);
  }

  const warnings: string[] = [];
  const infos = new Map<Parsed, ChainCertificateInfo>();
  for (const p of certs) {
    const bc = p.cert.getExtension(x509.BasicConstraintsExtension);
    const ku = p.cert.getExtension(x509.KeyUsagesExtension);
    if (!bc?.ca) {
      throw reject(
        'not_ca',
        `${name(p)} is not a CA certificate: basicConstraints CA:TRUE is missing`,
        source,
        'Send the CA certificate that issued the client certificates (and its parents), not the client certificate itself.',
        {
          position: p.position,
        },
      );
    }
    if (!ku || (ku.usages & x509.KeyUsageFlags.keyCertSign) === 0) {
      throw reject(
        'not_ca',
        `${name(p)} may not sign certificates: keyUsage ${ku ? 'lacks' : 'is missing, so it has no'} keyCertSign`,
        source,
        "Re-issue the CA with keyUsage = critical, digitalSignature, cRLSign, keyCertSign (the guide's v3_ca).",
        {
          position: p.position,
        },
      );
    }
    if (p.cert.notBefore.getTime() > now.getTime()) {
      throw reject(
        'not_yet_valid',
        `${name(p)} is not valid yet: notBefore is ${p.cert.notBefore.toISOString()}`,
        source,
        'Check the clock of the machine that issued it, or upload it once it is valid.',
        {
          position: p.position,
        },
      );
    }
    if (p.cert.notAfter.getTime() < now.getTime()) {
      throw reject(
        'expired',
        `${name(p)} expired on ${p.cert.notAfter.toISOString()}`,
        source,
        'Ask the institution for its renewed CA certificate.',
        { position: p.position },
      );
    }
    const key = certificatePublicKey(p.cert);
    try {
      assertKeyStrength(key, name(p), options.keyPolicy);
    } catch (e) {
      throw reject(
        'weak_key',
        errorMessage(e),
        source,
        'The CA key must be RSA with at least 2048 bits or EC P-256 or stronger; re-create the CA with a stronger key.',
        {
          position: p.position,
        },
      );
    }
    const sig = signatureAlgorithmOf(p.der, name(p));
    if (!sig.ok) {
      throw reject(
        'weak_signature',
        `${name(p)} is signed with ${sig.name}, which is not accepted`,
        source,
        'Re-issue the certificate with SHA-256 or better (openssl req/ca … -sha256).',
        {
          position: p.position,
        },
      );
    }
    const daysLeft = (p.cert.notAfter.getTime() - now.getTime()) / 86_400_000;
    if (daysLeft <= warnDays) {
      warnings.push(
        `${name(p)} expires on ${p.cert.notAfter.toISOString()} (in ${Math.max(0, Math.floor(daysLeft))} days); ask the institution for its renewed CA`,
      );
    }
    infos.set(p, {
      position: p.position,
      subject: p.subject,
      issuer: p.issuer,
      fingerprint: p.fingerprint,
      notBefore: p.cert.notBefore.toISOString(),
      notAfter: p.cert.notAfter.toISOString(),
      key: describeKey(key).text,
      signatureAlgorithm: sig.name,
      selfSigned: false,
    });
  }

  const { ordered, top } = orderChain(certs, source, name, options.knownIssuers ?? []);
  const infoOf = (p: Parsed): ChainCertificateInfo => {
    const info = infos.get(p);
    // Every certificate orderChain returns was checked (and described) above.
    if (!info) throw new MtlsError('MTLS_INTERNAL', `${name(p)} was ordered but not checked`);
    return info;
  };
  // RFC 5280 §4.2.1.9: pathLenConstraint caps the CA certificates that may
  // follow in a path; a chain that breaks it can never verify a client.
  ordered.forEach((p, k) => {
    const pathLen = p.cert.getExtension(x509.BasicConstraintsExtension)?.pathLength;
    if (pathLen !== undefined && k > pathLen) {
      throw reject(
        'broken_chain',
        `${name(p)} has pathLenConstraint ${pathLen} but ${k} CA certificate(s) below it in the chain, so no client certificate could ever verify`,
        source,
        'Re-issue the CA without that path length limit, or send a shorter chain.',
        {
          position: p.position,
        },
      );
    }
  });
  infoOf(top).selfSigned = isIssuedBy(top.node, top.node);
  const earliest = ordered.reduce((a, b) => (b.cert.notAfter < a.cert.notAfter ? b : a));
  return {
    pem: ordered.map((p) => encodePem('CERTIFICATE', p.der)).join(''),
    fingerprints: ordered.map((p) => p.fingerprint),
    subject: top.subject,
    notAfter: earliest.cert.notAfter.toISOString(),
    certificates: ordered.map(infoOf),
    warnings,
  };
}

/** Puts the certificates in chain order (issuing CA first, `top` last), naming any break. */
function orderChain(
  certs: Parsed[],
  source: string,
  name: (p: Parsed) => string,
  knownIssuers: readonly string[],
): { ordered: Parsed[]; top: Parsed } {
  // A pair whose names (and key identifiers) link but whose signature fails is
  // a forged or mixed-up certificate: name it rather than "not linked".
  for (const child of certs) {
    for (const parent of certs) {
      if (
        parent !== child &&
        child.node.checkIssued(parent.node) &&
        !child.node.verify(parent.node.publicKey)
      ) {
        throw reject(
          'broken_chain',
          `${name(child)} names ${name(parent)} as its issuer, but its signature does not verify with that certificate's key`,
          source,
          'The two certificates do not belong together; send the CA that really issued it.',
          {
            position: child.position,
          },
        );
      }
    }
  }
  const bottoms = certs.filter(
    (c) => !certs.some((other) => other !== c && isIssuedBy(other.node, c.node)),
  );
  const [bottom, second] = bottoms;
  if (bottom === undefined || second !== undefined) {
    throw reject(
      'broken_chain',
      bottom === undefined
        ? `${source}: the certificates issue each other in a loop; no issuing CA at the bottom`
        : `${source} does not form one chain: ${name(bottom)} and ${name(second ?? bottom)} are not linked (neither is signed by the other, nor both by one path)`,
      source,
      'Put one chain per upload: the issuing CA, then each CA that signed the one before it, up to the root.',
    );
  }
  const { path, rest } = orderChainFrom(
    bottom,
    certs.filter((c) => c !== bottom),
    (p) => p.node,
  );
  const ordered = [bottom, ...path];
  const stray = rest[0];
  if (stray) {
    throw reject(
      'broken_chain',
      `${name(stray)} is not part of the chain that starts at ${name(bottom)}: no certificate in that chain is signed by it`,
      source,
      'Remove unrelated certificates; one chain per upload.',
      {
        position: stray.position,
      },
    );
  }
  const top = path.at(-1) ?? bottom;
  if (top.node.checkIssued(top.node)) {
    if (!top.node.verify(top.node.publicKey)) {
      throw reject(
        'broken_chain',
        `${name(top)} is self-issued but its self-signature does not verify`,
        source,
        'The certificate is corrupt or was altered; export it again from the CA.',
        {
          position: top.position,
        },
      );
    }
    return { ordered, top };
  }
  for (const pem of knownIssuers) {
    for (const cert of parseCertificates(pem, 'registered chain')) {
      if (isIssuedBy(top.node, toNodeCertificate(cert))) return { ordered, top };
    }
  }
  throw reject(
    'incomplete_chain',
    `${name(top)} is issued by ${top.issuer}, which is neither in ${source} nor registered for this institution`,
    source,
    `Append the issuer's certificate (up to the self-signed root) to ${source}.`,
    { position: top.position },
  );
}

/** Options for {@link onboardCaChain}. */
export type OnboardCaChainOptions = Omit<ValidateCaChainOptions, 'knownIssuers'>;

/** What {@link onboardCaChain} stored. */
export interface OnboardCaChainResult {
  chain: CaChainRecord;
  validated: ValidatedChain;
  warnings: string[];
}

/**
 * Validates a chain (see {@link validateCaChain}), refuses duplicates by
 * SHA-256 (a certificate already registered to another institution, or an
 * issuing CA this institution already has) and by public key (a certificate
 * whose SubjectPublicKeyInfo is that of another institution's CA certificate:
 * a re-issued or cross-signed copy of its CA verifies the same client
 * certificates, RFC 5280 §6.1.3, so the two institutions could no longer be
 * told apart), and stores it.
 * @throws MTLS_NOT_FOUND when the institution does not exist
 * @throws MTLS_ONBOARD_REJECTED for every refused upload
 */
export async function onboardCaChain(
  registry: Registry,
  institutionId: string,
  pem: string | Uint8Array,
  options: OnboardCaChainOptions = {},
): Promise<OnboardCaChainResult> {
  const source = options.source ?? 'chain';
  const trust = await institutionTrust(registry, institutionId);
  const validated = validateCaChain(pem, {
    ...options,
    source,
    knownIssuers: trust.chains.map((c) => c.pem),
  });
  for (const [i, cert] of validated.certificates.entries()) {
    const hit = await registry.findChainByFingerprint(cert.fingerprint);
    if (!hit) continue;
    const label = `certificate #${cert.position} in ${source} (${cert.subject})`;
    if (hit.institutionId !== institutionId) {
      throw reject(
        'duplicate',
        `${label} is already registered to institution "${hit.institutionId}" (chain ${hit.id}); one CA belongs to one institution`,
        source,
        'Check that the file came from this institution; a CA shared by two institutions would let each pass as the other.',
        {
          position: cert.position,
          institutionId: hit.institutionId,
        },
      );
    }
    if (i === 0) {
      throw reject(
        'duplicate',
        `${label} is already registered to "${institutionId}" as chain ${hit.id}`,
        source,
        `Nothing to do; see \`mtls gateway ca list ${institutionId}\`.`,
        {
          position: cert.position,
          chainId: hit.id,
        },
      );
    }
  }
  await assertKeysNotRegisteredElsewhere(registry, institutionId, validated, source);
  try {
    const chain = await registry.addCaChain(institutionId, {
      pem: validated.pem,
      fingerprints: validated.fingerprints,
      subject: validated.subject,
      notAfter: validated.notAfter,
    });
    return { chain, validated, warnings: validated.warnings };
  } catch (e) {
    if (e instanceof MtlsError && e.code === 'MTLS_CONFLICT')
      throw reject('duplicate', `${source}: ${e.message}`, source, e.hint);
    throw e;
  }
}

/**
 * Refuses a chain holding a certificate whose public key is that of a CA
 * certificate registered to another institution (same key under any name:
 * only the key holder can have had it issued). The registry's key index
 * answers for every registered certificate it could index; the few it could
 * not (an unreadable stored PEM) are parsed here, as all of them once were.
 */
async function assertKeysNotRegisteredElsewhere(
  registry: Registry,
  institutionId: string,
  validated: ValidatedChain,
  source: string,
): Promise<void> {
  // validated.pem holds validated.certificates, in the same order.
  const mine = loadCertificates(validated.pem, source).flatMap((node, i) => {
    const cert = validated.certificates[i];
    return cert ? [{ spki: spkiSha256(node), cert }] : [];
  });
  const refuse = (spki: string, owner: string, chainId: number): void => {
    const hit = mine.find((m) => m.spki === spki);
    if (!hit || owner === institutionId) return;
    throw reject(
      'duplicate',
      `certificate #${hit.cert.position} in ${source} (${hit.cert.subject}) has the same public key (SPKI SHA-256 ${spki}) as a CA certificate registered to institution "${owner}" (chain ${chainId}); one CA key belongs to one institution`,
      source,
      "A re-issued or cross-signed copy of another institution's CA would let each pass as the other; check that the file came from this institution and that its CA has its own key.",
      { position: hit.cert.position, institutionId: owner },
    );
  };
  const { hits, unindexed } = await registry.findCaKeys(mine.map((m) => m.spki));
  for (const h of hits) refuse(h.spkiSha256, h.institutionId, h.chainId);
  for (const chain of unindexed) {
    if (chain.institutionId === institutionId) continue;
    for (const node of loadCertificates(chain.pem, `chain ${chain.id} of ${chain.institutionId}`))
      refuse(spkiSha256(node), chain.institutionId, chain.id);
  }
}

async function institutionTrust(
  registry: Registry,
  institutionId: string,
): Promise<{ chains: CaChainRecord[]; crls: CrlRecord[] }> {
  if (!(await registry.getInstitution(institutionId))) {
    throw new MtlsError('MTLS_NOT_FOUND', `institution "${institutionId}" is not registered`, {
      subject: institutionId,
      hint: 'Add it first with `mtls gateway institution add ID --name NAME`.',
    });
  }
  const t = (await registry.loadTrust(institutionId)).find(
    (x) => x.institution.id === institutionId,
  );
  return { chains: t?.chains ?? [], crls: t?.crls ?? [] };
}

/** Options for {@link validateCrls}. */
export interface ValidateCrlOptions {
  /** File name or description, for messages (default `CRL`). */
  source?: string;
  /** Default now. */
  now?: Date;
  /** Clock skew tolerated on thisUpdate, in seconds (default 300). */
  clockSkewSeconds?: number;
  /** CRLs already registered (to refuse going back to an older one from the same signing CA). */
  previous?: readonly CrlRecord[];
}

/** One CRL that passed the checks. */
export interface ValidatedCrl {
  /** PEM with label `X509 CRL`. */
  pem: string;
  /** RFC 4514 issuer. */
  issuer: string;
  thisUpdate: string;
  nextUpdate: string | null;
  /** Decimal crlNumber, when present. */
  crlNumber: string | null;
  /** Number of revoked certificates listed. */
  revoked: number;
  /** SHA-256 of the CA certificate whose key signed it (the CRL's identity in the registry). */
  issuerFingerprint: string;
  /**
   * Id of the registered CRL from the same signer that was stored before
   * schema version 2 (no fingerprint recorded), which this one replaces; null otherwise.
   */
  replaces: number | null;
  warnings: string[];
}

/**
 * Checks CRLs (PEM `X509 CRL` blocks, or one DER CRL): each must be signed by
 * one of the given CA certificates (issuer name and signature, RFC 5280
 * §6.3.3 (f)–(g)), that CA must allow cRLSign when it has keyUsage
 * (§4.2.1.3), the signature must use SHA-2 or EdDSA, it must be current
 * (thisUpdate not in the future, nextUpdate not past, §5.1.2.4–5), and not
 * older than the registered CRL of the same signing CA (crlNumber, §5.2.3).
 * CRLs are told apart by the certificate that signed them, not by issuer
 * name: two CAs of one institution may share a name (rotation), and each
 * keeps its own CRL. One upload may hold one CRL per signing CA.
 * @param caPems - the institution's registered chains (PEM)
 * @throws MTLS_ONBOARD_REJECTED
 */
export async function validateCrls(
  data: string | Uint8Array,
  caPems: readonly string[],
  options: ValidateCrlOptions = {},
): Promise<ValidatedCrl[]> {
  const source = options.source ?? 'CRL';
  const now = options.now ?? new Date();
  const skewMs = (options.clockSkewSeconds ?? 300) * 1000;
  assertNoPrivateKey(data, source, 'CRL');
  let crls: x509.X509Crl[];
  try {
    crls = parseCrls(data, source);
  } catch (e) {
    throw reject(
      'not_a_crl',
      `${source} is not a CRL: ${errorMessage(e)}`,
      source,
      'Send the CRL as PEM (-----BEGIN X509 CRL-----) or DER, e.g. from `openssl ca -gencrl`.',
    );
  }
  const cas: {
    node: NodeX509;
    cert: x509.X509Certificate;
    subject: string;
    fingerprint: string;
  }[] = [];
  for (const pem of caPems) {
    for (const cert of parseCertificates(pem, 'registered chain')) {
      const node = toNodeCertificate(cert);
      const fingerprint = fpOf(node);
      if (!cas.some((c) => c.fingerprint === fingerprint))
        cas.push({ node, cert, subject: dnOf(cert.subjectName), fingerprint });
    }
  }
  /** The registered CA certificates whose key verifies `crl`. */
  const signersOf = async (crl: x509.X509Crl): Promise<(typeof cas)[number] | undefined> => {
    const issuerDer = Buffer.from(crl.issuerName.toArrayBuffer());
    for (const c of cas) {
      if (!Buffer.from(c.cert.subjectName.toArrayBuffer()).equals(issuerDer)) continue;
      if (await crl.verify({ publicKey: c.cert }).catch(() => false)) return c;
    }
    return undefined;
  };
  // The registered CRLs by signer; a CRL stored before schema version 2 has
  // no fingerprint, so its signer is found the same way as for an upload.
  const previousBySigner = new Map<string, { record: CrlRecord; crl: x509.X509Crl }>();
  for (const record of options.previous ?? []) {
    let old: x509.X509Crl | undefined;
    try {
      old = parseCrls(record.pem, `registered CRL ${record.id}`)[0];
    } catch {
      old = undefined;
    }
    if (!old) continue;
    const fingerprint = record.issuerFingerprint ?? (await signersOf(old))?.fingerprint;
    if (fingerprint) previousBySigner.set(fingerprint, { record, crl: old });
  }
  const out: ValidatedCrl[] = [];
  for (const [i, crl] of crls.entries()) {
    const issuer = dnOf(crl.issuerName);
    const label = `CRL #${i + 1} in ${source} (issuer ${issuer})`;
    const der = Buffer.from(crl.rawData);
    const sig = signatureAlgorithmOf(der, label);
    if (!sig.ok)
      throw reject(
        'weak_signature',
        `${label} is signed with ${sig.name}, which is not accepted`,
        source,
        'Generate the CRL with -md sha256.',
      );
    const issuerDer = Buffer.from(crl.issuerName.toArrayBuffer());
    const candidates = cas.filter((c) =>
      Buffer.from(c.cert.subjectName.toArrayBuffer()).equals(issuerDer),
    );
    if (candidates.length === 0) {
      throw reject(
        'crl_issuer_unknown',
        `${label} was not issued by any CA registered for this institution${cas.length ? ` (registered: ${cas.map((c) => c.subject).join('; ')})` : ' (it has no CA chain yet)'}`,
        source,
        'Register the CA chain first, or send the CRL of one of the registered CAs.',
      );
    }
    const signer = await signersOf(crl);
    if (!signer) {
      throw reject(
        'crl_signature',
        `${label}: the signature does not verify with the registered CA's key`,
        source,
        'The CRL was altered, or was signed by another CA with the same name; generate it again with the registered CA.',
      );
    }
    const ku = signer.cert.getExtension(x509.KeyUsagesExtension);
    if (ku && (ku.usages & x509.KeyUsageFlags.cRLSign) === 0) {
      throw reject(
        'crl_signature',
        `${label}: the CA ${signer.subject} has keyUsage without cRLSign, so it may not sign CRLs`,
        source,
        'Re-issue the CA with keyUsage including cRLSign.',
      );
    }
    if (crl.thisUpdate.getTime() > now.getTime() + skewMs) {
      throw reject(
        'crl_not_yet_valid',
        `${label} has thisUpdate ${crl.thisUpdate.toISOString()}, in the future`,
        source,
        'Check the clock of the CA host and generate the CRL again.',
      );
    }
    const warnings: string[] = [];
    if (crl.nextUpdate && crl.nextUpdate.getTime() < now.getTime()) {
      throw reject(
        'crl_stale',
        `${label} is out of date: nextUpdate was ${crl.nextUpdate.toISOString()}`,
        source,
        'Generate a fresh CRL (openssl ca -gencrl) and send it.',
      );
    }
    if (!crl.nextUpdate)
      warnings.push(
        `${label} has no nextUpdate (RFC 5280 §5.1.2.5 requires one); it never goes stale`,
      );
    const number = crlNumberOf(crl);
    const prev = previousBySigner.get(signer.fingerprint);
    if (prev) {
      const old = prev.crl;
      const oldNumber = crlNumberOf(old);
      if (
        (number !== undefined && oldNumber !== undefined && number < oldNumber) ||
        crl.thisUpdate.getTime() < old.thisUpdate.getTime()
      ) {
        throw reject(
          'crl_older',
          `${label} is older than the registered one (crlNumber ${number ?? '-'} vs ${oldNumber ?? '-'}, thisUpdate ${crl.thisUpdate.toISOString()} vs ${old.thisUpdate.toISOString()})`,
          source,
          'Send the newest CRL; going back would un-revoke certificates.',
        );
      }
    }
    out.push({
      pem: encodePem('X509 CRL', der),
      issuer,
      thisUpdate: crl.thisUpdate.toISOString(),
      nextUpdate: crl.nextUpdate ? crl.nextUpdate.toISOString() : null,
      crlNumber: number === undefined ? null : number.toString(),
      revoked: crl.entries.length,
      issuerFingerprint: signer.fingerprint,
      replaces: prev && prev.record.issuerFingerprint === null ? prev.record.id : null,
      warnings,
    });
  }
  const signers = out.map((c) => c.issuerFingerprint);
  const dup = out.find((c, i) => signers.indexOf(c.issuerFingerprint) !== i);
  if (dup) {
    throw reject(
      'duplicate',
      `${source} holds two CRLs signed by the same CA (${dup.issuer}, SHA-256 ${dup.issuerFingerprint}); send one per CA`,
      source,
      'Keep only the newest CRL of each CA in the file.',
    );
  }
  return out;
}

/** What {@link onboardCrls} stored. */
export interface OnboardCrlResult {
  crls: CrlRecord[];
  validated: ValidatedCrl[];
  /** How many of them were byte-identical to the CRL already registered for their signer, and so not stored again. */
  unchanged: number;
  warnings: string[];
}

/**
 * Validates CRLs against the institution's registered CAs (see
 * {@link validateCrls}) and stores each, replacing the CRL signed by the same
 * CA certificate; a CRL byte-identical to the registered one is not stored
 * again (no registry change).
 * @throws MTLS_NOT_FOUND when the institution does not exist
 * @throws MTLS_ONBOARD_REJECTED
 */
export async function onboardCrls(
  registry: Registry,
  institutionId: string,
  data: string | Uint8Array,
  options: Omit<ValidateCrlOptions, 'previous'> = {},
): Promise<OnboardCrlResult> {
  const trust = await institutionTrust(registry, institutionId);
  const validated = await validateCrls(
    data,
    trust.chains.map((c) => c.pem),
    { ...options, previous: trust.crls },
  );
  const crls: CrlRecord[] = [];
  let unchanged = 0;
  for (const v of validated) {
    // The same bytes again (a scheduled download between two CRL runs, a
    // repeated upload) change nothing: storing them would only bump the
    // registry version and make every gateway process rebuild its trust.
    const same = trust.crls.find(
      (c) => c.issuerFingerprint === v.issuerFingerprint && c.pem === v.pem,
    );
    if (same) {
      unchanged++;
      crls.push(same);
      continue;
    }
    crls.push(
      await registry.putCrl(institutionId, {
        pem: v.pem,
        issuer: v.issuer,
        issuerFingerprint: v.issuerFingerprint,
        thisUpdate: v.thisUpdate,
        nextUpdate: v.nextUpdate,
        replaces: v.replaces,
      }),
    );
  }
  return { crls, validated, unchanged, warnings: validated.flatMap((v) => v.warnings) };
}
