/**
 * A certificate and CRL builder for the validator's table-driven cases: it
 * writes the DER by hand (over src/pki/der.ts) and signs with node:crypto, so
 * that a case can state exactly what a library builder would refuse to make:
 * v1 CAs, duplicate or mis-flagged extensions, SHA-1 and MD5 signatures, weak
 * keys, wrong key identifiers, names and name constraints of every form.
 */
import { createHash, generateKeyPairSync, sign, constants, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import {
  derBitString,
  derExplicit,
  derInteger,
  derNull,
  derOctetString,
  derOid,
  derSequence,
  derSet,
  tlv,
} from '../../src/pki/der.js';
import { parseIpBytes } from '../../src/pki/ip-text.js';

// ------------------------------------------------------------------ keys

/** The key types the cases use. */
export type TableKeyType =
  'p256' | 'p384' | 'p192' | 'secp256k1' | 'rsa1024' | 'rsa2048' | 'ed25519';

/** A key pair. */
export interface TableKey {
  type: TableKeyType;
  privateKey: KeyObject;
  spki: Buffer;
  /** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits (here: of the SPKI, unique is all that matters). */
  keyId: Buffer;
}

/** A fresh key of the given type. RSA keys are slow: reuse them through {@link keyPool}. */
export function newKey(type: TableKeyType): TableKey {
  const pair =
    type === 'rsa1024' || type === 'rsa2048'
      ? generateKeyPairSync('rsa', { modulusLength: type === 'rsa1024' ? 1024 : 2048 })
      : type === 'ed25519'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('ec', {
            namedCurve: {
              p256: 'prime256v1',
              p384: 'secp384r1',
              p192: 'prime192v1',
              secp256k1: 'secp256k1',
            }[type],
          });
  const spki = pair.publicKey.export({ type: 'spki', format: 'der' });
  return {
    type,
    privateKey: pair.privateKey,
    spki,
    keyId: createHash('sha1').update(spki).digest(),
  };
}

/** Hands out keys, generating RSA ones once per pool. */
export function keyPool(): (type?: TableKeyType) => TableKey {
  const rsa = new Map<TableKeyType, TableKey[]>();
  let rsaNext = 0;
  return (type = 'p256') => {
    if (type !== 'rsa1024' && type !== 'rsa2048') return newKey(type);
    const list = rsa.get(type) ?? [];
    rsa.set(type, list);
    // A handful of distinct RSA keys is enough: every case gets its own EC keys.
    const i = rsaNext++ % 4;
    const key = list[i] ?? newKey(type);
    list[i] = key;
    return key;
  };
}

// ------------------------------------------------------------------ names

const ATTR_OIDS: Readonly<Record<string, string>> = {
  C: '2.5.4.6',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  CN: '2.5.4.3',
  emailAddress: '1.2.840.113549.1.9.1',
};

/** A Name from `[type, value]` pairs, one RDN each; `[]` is the empty name. */
export function dn(...attrs: [string, string][]): Buffer {
  return derSequence(
    ...attrs.map(([type, value]) => {
      const oid = ATTR_OIDS[type] ?? type;
      // countryName is a PrintableString, emailAddress an IA5String (RFC 5280 App. A); the rest UTF8String.
      const str =
        type === 'C'
          ? tlv(0x13, Buffer.from(value))
          : type === 'emailAddress'
            ? tlv(0x16, Buffer.from(value))
            : tlv(0x0c, Buffer.from(value, 'utf8'));
      return derSet(derSequence(derOid(oid), str));
    }),
  );
}

/** A GeneralName (RFC 5280 §4.2.1.6). IP constraints are `a.b.c.d/len`; `rawDns` carries any bytes. */
export type Gn =
  | { dns: string }
  | { rawDns: Buffer }
  | { ip: string }
  | { email: string }
  | { uri: string }
  | { dirName: Buffer };

function ipWithMask(text: string): Buffer {
  const [addr, len] = text.split('/') as [string, string | undefined];
  const bytes = parseIpBytes(addr);
  if (!bytes) throw new Error(`bad IP ${addr}`);
  if (len === undefined) return bytes;
  const mask = Buffer.alloc(bytes.length);
  for (let i = 0; i < Number(len); i++) mask[i >> 3] = (mask[i >> 3] as number) | (0x80 >> (i & 7));
  return Buffer.concat([bytes, mask]);
}

/** Encodes one GeneralName. */
export function gn(n: Gn): Buffer {
  if ('dns' in n) return tlv(0x82, Buffer.from(n.dns, 'latin1'));
  if ('rawDns' in n) return tlv(0x82, n.rawDns);
  if ('ip' in n) return tlv(0x87, ipWithMask(n.ip));
  if ('email' in n) return tlv(0x81, Buffer.from(n.email, 'latin1'));
  if ('uri' in n) return tlv(0x86, Buffer.from(n.uri, 'latin1'));
  return derExplicit(4, n.dirName);
}

/** A GeneralName from text: an IP (with optional /len), a mailbox, or a DNS name. */
export function gnText(s: string): Gn {
  if (isIP(s.split('/')[0] as string)) return { ip: s };
  if (s.includes('@')) return { email: s };
  return { dns: s };
}

// ------------------------------------------------------------- extensions

/** Extension OIDs used by the cases. */
export const OID = {
  ski: '2.5.29.14',
  ku: '2.5.29.15',
  san: '2.5.29.17',
  bc: '2.5.29.19',
  nc: '2.5.29.30',
  aki: '2.5.29.35',
  eku: '2.5.29.37',
  crlNumber: '2.5.29.20',
  reasonCode: '2.5.29.21',
} as const;

/** One extension: OID, criticality and the DER of its value. */
export interface Ext {
  oid: string;
  critical: boolean;
  value: Buffer;
}

const KU_BITS = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
] as const;
const EKU: Readonly<Record<string, string>> = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  any: '2.5.29.37.0',
};

/** Extension builders. */
export const ext = {
  bc: (ca: boolean, pathLen?: number, critical = true): Ext => ({
    oid: OID.bc,
    critical,
    value: derSequence(
      ...(ca ? [Buffer.from([0x01, 0x01, 0xff])] : []),
      ...(pathLen !== undefined ? [derInteger(pathLen)] : []),
    ),
  }),
  ku: (bits: (typeof KU_BITS)[number][], critical = true): Ext => ({
    oid: OID.ku,
    critical,
    value: derBitString(bits.map((b) => KU_BITS.indexOf(b))),
  }),
  eku: (names: string[], critical = false): Ext => ({
    oid: OID.eku,
    critical,
    value: derSequence(...names.map((n) => derOid(EKU[n] ?? n))),
  }),
  san: (names: Gn[], critical = false): Ext => ({
    oid: OID.san,
    critical,
    value: derSequence(...names.map(gn)),
  }),
  ski: (keyId: Buffer, critical = false): Ext => ({
    oid: OID.ski,
    critical,
    value: derOctetString(keyId),
  }),
  aki: (keyId: Buffer, critical = false): Ext => ({
    oid: OID.aki,
    critical,
    value: derSequence(tlv(0x80, keyId)),
  }),
  nc: (c: { permitted?: Gn[]; excluded?: Gn[] }): Ext => ({
    oid: OID.nc,
    critical: true,
    value: derSequence(
      ...(c.permitted
        ? [tlv(0xa0, Buffer.concat(c.permitted.map((g) => derSequence(gn(g)))))]
        : []),
      ...(c.excluded ? [tlv(0xa1, Buffer.concat(c.excluded.map((g) => derSequence(gn(g)))))] : []),
    ),
  }),
  raw: (oid: string, critical: boolean, value: Buffer): Ext => ({ oid, critical, value }),
};

function encodeExtension(e: Ext): Buffer {
  return derSequence(
    derOid(e.oid),
    ...(e.critical ? [Buffer.from([0x01, 0x01, 0xff])] : []),
    derOctetString(e.value),
  );
}

// --------------------------------------------------------------- signing

/** Signature algorithms the cases sign with. */
export type TableSigAlg =
  'sha256' | 'sha384' | 'sha512' | 'sha1' | 'md5' | 'pss-sha256' | 'ed25519';

function algorithmId(key: TableKey, alg: TableSigAlg): Buffer {
  if (key.type === 'ed25519') return derSequence(derOid('1.3.101.112'));
  if (key.type === 'rsa1024' || key.type === 'rsa2048') {
    if (alg === 'pss-sha256') {
      const sha256 = derSequence(derOid('2.16.840.1.101.3.4.2.1'), derNull());
      return derSequence(
        derOid('1.2.840.113549.1.1.10'),
        derSequence(
          derExplicit(0, sha256),
          derExplicit(1, derSequence(derOid('1.2.840.113549.1.1.8'), sha256)),
          derExplicit(2, derInteger(32)),
        ),
      );
    }
    const rsa: Partial<Record<TableSigAlg, string>> = {
      sha256: '1.2.840.113549.1.1.11',
      sha384: '1.2.840.113549.1.1.12',
      sha512: '1.2.840.113549.1.1.13',
      sha1: '1.2.840.113549.1.1.5',
      md5: '1.2.840.113549.1.1.4',
    };
    const oid = rsa[alg];
    if (!oid) throw new Error(`no RSA algorithm for ${alg}`);
    return derSequence(derOid(oid), derNull());
  }
  const oid = {
    sha256: '1.2.840.10045.4.3.2',
    sha384: '1.2.840.10045.4.3.3',
    sha512: '1.2.840.10045.4.3.4',
    sha1: '1.2.840.10045.4.1',
  }[alg as 'sha256'];
  if (!oid) throw new Error(`no ECDSA algorithm for ${alg}`);
  return derSequence(derOid(oid));
}

function signWith(key: TableKey, alg: TableSigAlg, data: Buffer): Buffer {
  if (key.type === 'ed25519') return sign(null, data, key.privateKey);
  if (alg === 'pss-sha256')
    return sign('sha256', data, {
      key: key.privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 32,
    });
  return sign(alg, data, key.privateKey);
}

/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5); `generalized` forces the latter. */
export function derTime(d: Date, generalized = false): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  if (generalized || d.getUTCFullYear() >= 2050) return tlv(0x18, Buffer.from(`${iso}Z`));
  return tlv(0x17, Buffer.from(`${iso.slice(2)}Z`));
}

// ------------------------------------------------------------ certificates

/** A built certificate with what a child needs to chain to it. */
export interface TableCert {
  der: Buffer;
  pem: string;
  subject: Buffer;
  key: TableKey;
  serial: Buffer;
}

/** Inputs for {@link certificate}. */
export interface CertSpec {
  subject: Buffer;
  key: TableKey;
  /** The issuing certificate; omitted for a self-signed one. */
  issuer?: TableCert;
  /** Signs with this key instead of the issuer's (a bad signature). */
  signingKey?: TableKey;
  /** Overrides the issuer name written in the certificate. */
  issuerName?: Buffer;
  version?: 1 | 3;
  serial?: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** Encode notBefore as GeneralizedTime although it is before 2050. */
  generalizedNotBefore?: boolean;
  extensions: Ext[];
  alg?: TableSigAlg;
  /** A different algorithm inside tbsCertificate than outside (RFC 5280 §4.1.1.2 breach). */
  innerAlg?: TableSigAlg;
}

let serialCounter = 0x1000;

/** Builds and signs a certificate exactly as specified. */
export function certificate(s: CertSpec): TableCert {
  const signer = s.signingKey ?? s.issuer?.key ?? s.key;
  const alg = s.alg ?? (signer.type === 'p384' ? 'sha384' : 'sha256');
  const serial = s.serial ?? Buffer.from((serialCounter++).toString(16).padStart(6, '0'), 'hex');
  const tbs = derSequence(
    ...(s.version === 1 ? [] : [derExplicit(0, derInteger(2))]),
    derInteger(serial),
    algorithmId(signer, s.innerAlg ?? alg),
    s.issuerName ?? s.issuer?.subject ?? s.subject,
    derSequence(derTime(s.notBefore, s.generalizedNotBefore), derTime(s.notAfter)),
    s.subject,
    s.key.spki,
    ...(s.version === 1 || s.extensions.length === 0
      ? []
      : [derExplicit(3, derSequence(...s.extensions.map(encodeExtension)))]),
  );
  const der = derSequence(
    tbs,
    algorithmId(signer, alg),
    tlv(0x03, Buffer.concat([Buffer.from([0]), signWith(signer, alg, tbs)])),
  );
  return { der, pem: toPem('CERTIFICATE', der), subject: s.subject, key: s.key, serial };
}

/** PEM text of DER. */
export function toPem(label: string, der: Buffer): string {
  return `-----BEGIN ${label}-----\n${(der.toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n-----END ${label}-----\n`;
}

// ------------------------------------------------------------------- CRLs

/** One revoked entry. */
export interface CrlEntry {
  serial: Buffer;
  /** RFC 5280 §5.3.1 reason code. */
  reason?: number;
  /** Extra entry extensions. */
  extensions?: Ext[];
}

/** Inputs for {@link crl}. */
export interface CrlSpec {
  issuer: TableCert;
  signingKey?: TableKey;
  thisUpdate: Date;
  nextUpdate: Date;
  entries: CrlEntry[];
  /** Default: authorityKeyIdentifier and cRLNumber 1. */
  extensions?: Ext[];
  alg?: TableSigAlg;
}

/** Builds and signs a v2 CRL exactly as specified. */
export function crl(s: CrlSpec): Buffer {
  const signer = s.signingKey ?? s.issuer.key;
  const alg = s.alg ?? (signer.type === 'p384' ? 'sha384' : 'sha256');
  const exts = s.extensions ?? [
    ext.aki(s.issuer.key.keyId),
    ext.raw(OID.crlNumber, false, derInteger(1)),
  ];
  const entries = s.entries.map((e) => {
    const entryExts = [
      ...(e.reason !== undefined
        ? [ext.raw(OID.reasonCode, false, tlv(0x0a, Buffer.from([e.reason])))]
        : []),
      ...(e.extensions ?? []),
    ];
    return derSequence(
      derInteger(e.serial),
      derTime(new Date(s.thisUpdate.getTime() - 3600_000)),
      ...(entryExts.length ? [derSequence(...entryExts.map(encodeExtension))] : []),
    );
  });
  const tbs = derSequence(
    derInteger(1),
    algorithmId(signer, alg),
    s.issuer.subject,
    derTime(s.thisUpdate),
    derTime(s.nextUpdate),
    ...(entries.length ? [derSequence(...entries)] : []),
    ...(exts.length ? [derExplicit(0, derSequence(...exts.map(encodeExtension)))] : []),
  );
  return derSequence(
    tbs,
    algorithmId(signer, alg),
    tlv(0x03, Buffer.concat([Buffer.from([0]), signWith(signer, alg, tbs)])),
  );
}
