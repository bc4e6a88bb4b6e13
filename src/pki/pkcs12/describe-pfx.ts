/**
 * A JSON-safe description of a parsed `.pfx` for `mtls pfx show` and
 * `mtls cert show`: algorithms, names and certificates, never key material.
 */
import type { X509Certificate } from 'node:crypto';
import { describeKey } from '../keys.js';
import { formatName } from './certificates.js';
import type { PfxEncryption } from './encryption.js';
import type { MacDigest } from './oids.js';
import type { ParsedPfx, PfxDetectedFlavour } from './parse-pfx.js';

/** One certificate of the file, as shown. */
export interface PfxCertificateDescription {
  /** `leaf` (the key's certificate) or `chain`. */
  role: 'leaf' | 'chain';
  /** One-line DN, e.g. `C=BR, O=Acme, CN=client`. */
  subject: string;
  issuer: string;
  /** Serial number in upper-case hex, as OpenSSL prints it. */
  serial: string;
  /** ISO 8601. */
  notBefore: string;
  /** ISO 8601. */
  notAfter: string;
  /** SHA-256 fingerprint, colon-separated upper-case hex. */
  sha256: string;
  /** basicConstraints CA:TRUE. */
  ca: boolean;
  friendlyName: string | null;
  /** Colon-separated hex. */
  localKeyId: string | null;
}

/** Result of {@link describePfx}. */
export interface PfxDescription {
  flavour: PfxDetectedFlavour;
  mac: { algorithm: MacDigest; iterations: number; saltLength: number } | null;
  keyEncryption: PfxEncryption | null;
  certEncryption: PfxEncryption | null;
  friendlyName: string | null;
  /** Colon-separated hex. */
  localKeyId: string | null;
  /** Type and size of the key only. */
  privateKey: {
    algorithm: string;
    bits: number;
    curve?: string;
    text: string;
    matchesCertificate: boolean;
  } | null;
  keyCount: number;
  /** Leaf first, then the chain from the leaf's issuer upwards. */
  certificates: PfxCertificateDescription[];
  skippedBags: string[];
  /** Things a careful user should know: weak or broken ciphers, no MAC, expiry, a key without certificate. */
  warnings: string[];
}

/** Options for {@link describePfx}. */
export interface DescribePfxOptions {
  /** The time validity is judged at (default now). */
  now?: Date;
}

const hexColons = (b: Buffer): string =>
  (b.toString('hex').toUpperCase().match(/../g) ?? []).join(':');

/** Iteration counts below this draw a warning (RFC 8018 §4.2 asks for at least 1,000). */
const LOW_ITERATIONS = 1000;

/**
 * Describes a parsed `.pfx` without any secret: key type and size, never the key.
 */
export function describePfx(parsed: ParsedPfx, options: DescribePfxOptions = {}): PfxDescription {
  const now = options.now ?? new Date();
  const { algorithms: alg } = parsed;
  const entryOf = (c: X509Certificate) =>
    parsed.certificates.find((e) => e.certificate.fingerprint256 === c.fingerprint256);
  const describeCert = (c: X509Certificate, role: 'leaf' | 'chain'): PfxCertificateDescription => {
    const entry = entryOf(c);
    return {
      role,
      subject: formatName(c.subject),
      issuer: formatName(c.issuer),
      serial: c.serialNumber.toUpperCase(),
      notBefore: new Date(c.validFrom).toISOString(),
      notAfter: new Date(c.validTo).toISOString(),
      sha256: c.fingerprint256,
      ca: c.ca,
      friendlyName: entry?.friendlyName ?? null,
      localKeyId: entry?.localKeyId ? hexColons(entry.localKeyId) : null,
    };
  };
  const certificates = [
    ...(parsed.certificate ? [describeCert(parsed.certificate, 'leaf')] : []),
    ...parsed.chain.map((c) => describeCert(c, 'chain')),
  ];

  const warnings: string[] = [];
  if (alg.macAlgorithm === null)
    warnings.push(
      'the file has no MAC: its contents can be altered without the password going wrong',
    );
  const encs = [alg.keyEncryption, alg.certEncryption].filter(
    (e): e is PfxEncryption => e !== null,
  );
  for (const e of encs) {
    if (e.cipher.startsWith('rc2') || e.cipher.startsWith('rc4')) {
      warnings.push(
        `${e.algorithm} is broken cryptography, and Node 17+ cannot load such a file; convert it to the modern flavour`,
      );
    }
  }
  if (alg.flavour === 'legacy-3des')
    warnings.push(
      'legacy flavour (3DES, SHA-1 MAC): keep it only for keystores that cannot read the modern (AES) flavour',
    );
  if (alg.keyEncryption?.scheme === 'none')
    warnings.push('the private key is stored unencrypted inside the file');
  const lowest = Math.min(
    ...encs.filter((e) => e.scheme !== 'none').map((e) => e.iterations),
    alg.macIterations ?? Infinity,
  );
  if (lowest < LOW_ITERATIONS)
    warnings.push(`an iteration count of ${lowest} is low: the password is cheap to guess offline`);
  if (parsed.privateKey && !parsed.keyMatchesCertificate)
    warnings.push('no certificate in the file belongs to the private key');
  if (parsed.keyCount > 1)
    warnings.push(`the file holds ${parsed.keyCount} private keys; only the first is used`);
  for (const c of certificates) {
    if (new Date(c.notAfter) < now)
      warnings.push(`certificate ${c.subject} expired on ${c.notAfter}`);
    else if (new Date(c.notBefore) > now)
      warnings.push(`certificate ${c.subject} is not valid before ${c.notBefore}`);
  }

  const key = parsed.privateKey ? describeKey(parsed.privateKey) : undefined;
  return {
    flavour: alg.flavour,
    // The parser sets the three MAC fields together: all null when the file has no MAC.
    mac:
      alg.macAlgorithm === null || alg.macIterations === null || alg.macSaltLength === null
        ? null
        : {
            algorithm: alg.macAlgorithm,
            iterations: alg.macIterations,
            saltLength: alg.macSaltLength,
          },
    keyEncryption: alg.keyEncryption,
    certEncryption: alg.certEncryption,
    friendlyName: parsed.friendlyName ?? null,
    localKeyId: parsed.localKeyId ? hexColons(parsed.localKeyId) : null,
    privateKey: key
      ? {
          algorithm: key.algorithm,
          bits: key.bits,
          ...(key.curve !== undefined ? { curve: key.curve } : {}),
          text: key.text,
          matchesCertificate: parsed.keyMatchesCertificate,
        }
      : null,
    keyCount: parsed.keyCount,
    certificates,
    skippedBags: parsed.skippedBags,
    warnings: [...new Set(warnings)],
  };
}
