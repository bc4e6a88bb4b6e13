/**
 * Reading PKCS#12 (RFC 7292) files: OpenSSL 3's default (PBES2/AES, SHA-256
 * MAC), the 3DES legacy flavour, `openssl pkcs12 -export -legacy` files
 * (certificates under RC2-40, which Node 17+ cannot decrypt, hence the RC2 in
 * TypeScript), RC2-128 and RC4 files from old Windows and Java, and
 * unencrypted safes. BER encodings (Java, Windows, NSS) are accepted.
 */
import { createPrivateKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { MtlsError, isMtlsError } from '../../errors/index.js';
import { decodeOid, decodeUnsigned, readDer, readDerChildren, type DerElement } from '../der.js';
import { keysMatch } from '../keys.js';
import { isPem } from '../pem.js';
import { berToDer } from './ber.js';
import { orderChain, parseCertificateDer } from './certificates.js';
import {
  NOT_ENCRYPTED,
  decryptWithAlgorithm,
  describeEncryption,
  type PfxEncryption,
  type PfxPasswordBytes,
} from './encryption.js';
import { parseMacData, verifyMac } from './mac.js';
import { ATTRIBUTE, BAG_NAMES, BAG_TYPE, CERT_TYPE, CONTENT_TYPE, type MacDigest } from './oids.js';
import { bmpPassword } from './pkcs12-kdf.js';
import { errorMessage } from '../../errors/mtls-error.js';

/** The flavour a file was written in, as far as its algorithms tell. */
export type PfxDetectedFlavour =
  'modern' | 'legacy-3des' | 'legacy-rc2' | 'legacy-rc4' | 'unencrypted' | 'mixed';

/** What protects a PKCS#12 file. */
export interface PfxAlgorithms {
  /** MAC digest (`sha1`, `sha256`, …), or null when the file has no MAC. */
  macAlgorithm: MacDigest | null;
  /** MAC iterations, or null without a MAC. */
  macIterations: number | null;
  /** MAC salt length in bytes, or null without a MAC. */
  macSaltLength: number | null;
  /** How the private key is encrypted (scheme `none` when it is not), or null when the file holds no key. */
  keyEncryption: PfxEncryption | null;
  /** How the certificates are encrypted (scheme `none` when they are not), or null when the file holds none. */
  certEncryption: PfxEncryption | null;
  /** The flavour these algorithms amount to; `mixed` when parts differ. */
  flavour: PfxDetectedFlavour;
}

/** One certificate bag of the file. */
export interface PfxCertificateEntry {
  certificate: X509Certificate;
  friendlyName: string | undefined;
  localKeyId: Buffer | undefined;
  /** How the SafeContents holding it is encrypted. */
  encryption: PfxEncryption;
}

/** Result of {@link parsePfx}. */
export interface ParsedPfx {
  /** The (first) private key, or undefined for a certificate-only file (a trust store). */
  privateKey: KeyObject | undefined;
  /** The leaf: the certificate of `privateKey`, else the one with its localKeyId; undefined without a key. */
  certificate: X509Certificate | undefined;
  /** Every other certificate, ordered from the leaf's issuer upwards. */
  chain: X509Certificate[];
  /** friendlyName of the key bag, else of the leaf bag. */
  friendlyName: string | undefined;
  /** localKeyId of the key bag, else of the leaf bag. */
  localKeyId: Buffer | undefined;
  /** True when `certificate` holds the public half of `privateKey`. */
  keyMatchesCertificate: boolean;
  /** The algorithms protecting the file. */
  algorithms: PfxAlgorithms;
  /** Every certificate bag, in file order. */
  certificates: PfxCertificateEntry[];
  /** How many private keys the file holds (only the first is returned). */
  keyCount: number;
  /** Names of bags that were skipped (crlBag, secretBag, SDSI certificates). */
  skippedBags: string[];
}

/** Options for {@link parsePfx}. */
export interface ParsePfxOptions {
  /** File name used in messages (default `PKCS#12 data`). */
  source?: string;
}

interface KeyEntry {
  key: KeyObject;
  friendlyName: string | undefined;
  localKeyId: Buffer | undefined;
  encryption: PfxEncryption;
}

interface Collected {
  keys: KeyEntry[];
  certs: PfxCertificateEntry[];
  skipped: string[];
}

interface Context {
  what: string;
  passwords: PfxPasswordBytes;
  /** True when a MAC verified the password. */
  macVerified: boolean;
}

const MAX_NESTED_SAFES = 8;

function invalid(message: string): never {
  throw new MtlsError('MTLS_DER_INVALID', message, {
    hint: `The PKCS#12 structure is broken there (${message}); the file is damaged or was not written as PKCS#12: export the .pfx again from its source.`,
  });
}

/** The children of a constructed element that must carry `expectedTag`, or an error naming `what`. */
function children(el: DerElement | undefined, what: string, expectedTag = 0x30): DerElement[] {
  if (!el || el.tag !== expectedTag) invalid(`${what} is malformed`);
  return readDerChildren(el.content, what);
}

function oidOf(el: DerElement | undefined, what: string): string {
  if (!el || el.tag !== 0x06) invalid(`${what} has no object identifier where one is required`);
  return decodeOid(el.content);
}

/** Content of an OCTET STRING, or error. */
function octets(el: DerElement | undefined, what: string): Buffer {
  if (!el || el.tag !== 0x04) invalid(`${what}: expected an OCTET STRING`);
  return el.content;
}

/**
 * Runs `fn` on decrypted bytes. Garbage after decryption means a wrong password
 * when no MAC vouched for it, and a corrupt file when one did.
 */
function openDecrypted<T>(ctx: Context, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (!ctx.macVerified && isMtlsError(e, 'MTLS_DER_INVALID')) {
      throw new MtlsError(
        'MTLS_BAD_PASSPHRASE',
        `${ctx.what}: ${what} does not decrypt to valid data: the password is wrong or the file is corrupt`,
        {
          subject: ctx.what,
          cause: e,
        },
      );
    }
    throw e;
  }
}

function decrypt(ctx: Context, algorithm: Buffer, ciphertext: Buffer, what: string): Buffer {
  try {
    return decryptWithAlgorithm(algorithm, ciphertext, ctx.passwords, `${ctx.what} ${what}`);
  } catch (e) {
    if (isMtlsError(e, 'MTLS_BAD_PASSPHRASE')) {
      const message = ctx.macVerified
        ? `${ctx.what}: the password matches the MAC but the ${what} does not decrypt with it (was the file made with separate integrity and privacy passwords?)`
        : `${ctx.what}: cannot decrypt the ${what}: the password is wrong or the file is corrupt`;
      throw new MtlsError('MTLS_BAD_PASSPHRASE', message, { subject: ctx.what, cause: e });
    }
    throw e;
  }
}

function readAttributes(
  el: DerElement | undefined,
  what: string,
): { friendlyName?: string; localKeyId?: Buffer } {
  const out: { friendlyName?: string; localKeyId?: Buffer } = {};
  if (!el) return out;
  for (const attr of children(el, `${what} attributes`, 0x31)) {
    const [type, values] = children(attr, `${what} attribute`);
    const oid = oidOf(type, `${what} attribute`);
    const first = children(values, `${what} attribute values`, 0x31)[0];
    if (!first) continue;
    if (oid === ATTRIBUTE.friendlyName) {
      if (first.tag === 0x1e)
        out.friendlyName = Buffer.from(first.content).swap16().toString('utf16le');
      else if (first.tag === 0x0c) out.friendlyName = first.content.toString('utf8');
    } else if (oid === ATTRIBUTE.localKeyId && first.tag === 0x04) {
      out.localKeyId = Buffer.from(first.content);
    }
  }
  return out;
}

function loadKey(ctx: Context, pkcs8: Buffer, what: string): KeyObject {
  try {
    return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  } catch (e) {
    if (!ctx.macVerified) {
      throw new MtlsError(
        'MTLS_BAD_PASSPHRASE',
        `${ctx.what}: the ${what} does not decrypt to a private key: the password is wrong or the file is corrupt`,
        {
          subject: ctx.what,
          cause: e,
        },
      );
    }
    throw new MtlsError(
      'MTLS_KEY_UNSUPPORTED',
      `${ctx.what}: the ${what} holds a private key node:crypto cannot load (${errorMessage(e)})`,
      {
        subject: ctx.what,
        cause: e,
      },
    );
  }
}

/** Walks one SafeContents ::= SEQUENCE OF SafeBag (RFC 7292 §4.2). */
function readSafeContents(
  ctx: Context,
  der: Buffer,
  encryption: PfxEncryption,
  out: Collected,
  depth: number,
): void {
  const what = `${ctx.what} SafeContents`;
  if (depth > MAX_NESTED_SAFES)
    invalid(`${what}: safeContentsBag nested deeper than ${MAX_NESTED_SAFES} levels`);
  const bags = children(readDer(berToDer(der, what), 0, what), what);
  bags.forEach((bag, i) => {
    const bagWhat = `${ctx.what} bag ${i + 1}`;
    const [typeEl, valueEl, attrsEl] = children(bag, bagWhat);
    const type = oidOf(typeEl, bagWhat);
    const value = children(valueEl, `${bagWhat} value`, 0xa0)[0];
    if (!value) invalid(`${bagWhat} has an empty value`);
    const attrs = readAttributes(attrsEl, bagWhat);
    switch (type) {
      case BAG_TYPE.keyBag:
        out.keys.push({
          key: loadKey(ctx, value.raw, 'key bag'),
          friendlyName: attrs.friendlyName,
          localKeyId: attrs.localKeyId,
          encryption,
        });
        break;
      case BAG_TYPE.pkcs8ShroudedKeyBag: {
        const [alg, data] = children(value, `${bagWhat} EncryptedPrivateKeyInfo`);
        if (!alg) invalid(`${bagWhat} EncryptedPrivateKeyInfo has no algorithm`);
        const keyEncryption = describeEncryption(alg.raw, `${ctx.what} key bag`);
        const pkcs8 = decrypt(ctx, alg.raw, octets(data, `${bagWhat} encrypted key`), 'key bag');
        const key = loadKey(ctx, pkcs8, 'key bag');
        out.keys.push({
          key,
          friendlyName: attrs.friendlyName,
          localKeyId: attrs.localKeyId,
          encryption: keyEncryption,
        });
        break;
      }
      case BAG_TYPE.certBag: {
        const [certType, certValue] = children(value, `${bagWhat} CertBag`);
        if (oidOf(certType, `${bagWhat} CertBag`) !== CERT_TYPE.x509Certificate) {
          out.skipped.push('certBag (SDSI certificate)');
          break;
        }
        const der = octets(
          children(certValue, `${bagWhat} certificate`, 0xa0)[0],
          `${bagWhat} certificate`,
        );
        const certificate = parseCertificateDer(Buffer.from(der), `${bagWhat} certificate`);
        out.certs.push({
          certificate,
          friendlyName: attrs.friendlyName,
          localKeyId: attrs.localKeyId,
          encryption,
        });
        break;
      }
      case BAG_TYPE.safeContentsBag:
        readSafeContents(ctx, value.raw, encryption, out, depth + 1);
        break;
      default:
        out.skipped.push(BAG_NAMES[type] ?? type);
    }
  });
}

/** Reads one ContentInfo of the AuthenticatedSafe (RFC 7292 §4.1). */
function readContentInfo(ctx: Context, ci: DerElement, index: number, out: Collected): void {
  const what = `${ctx.what} AuthenticatedSafe item ${index + 1}`;
  const [typeEl, contentEl] = children(ci, what);
  const type = oidOf(typeEl, what);
  const content = children(contentEl, `${what} content`, 0xa0)[0];
  if (type === CONTENT_TYPE.data) {
    readSafeContents(ctx, octets(content, what), NOT_ENCRYPTED, out, 0);
    return;
  }
  if (type === CONTENT_TYPE.encryptedData) {
    // EncryptedData ::= SEQUENCE { version, EncryptedContentInfo { contentType, algorithm, [0] IMPLICIT OCTET STRING } }
    const [, eci] = children(content, `${what} EncryptedData`);
    const [, alg, enc] = children(eci, `${what} EncryptedContentInfo`);
    if (!alg) invalid(`${what} EncryptedContentInfo has no algorithm`);
    let ciphertext: Buffer;
    if (enc?.tag === 0x80) ciphertext = enc.content;
    else if (enc?.tag === 0xa0)
      ciphertext = Buffer.concat(readDerChildren(enc.content, what).map((s) => octets(s, what)));
    else invalid(`${what} EncryptedContentInfo has no encrypted content`);
    const encryption = describeEncryption(alg.raw, `${ctx.what} certificate safe`);
    const plain = decrypt(ctx, alg.raw, ciphertext, 'certificate safe');
    openDecrypted(ctx, 'the certificate safe', () =>
      readSafeContents(ctx, plain, encryption, out, 0),
    );
    return;
  }
  if (type === CONTENT_TYPE.envelopedData) {
    throw new MtlsError(
      'MTLS_KEY_UNSUPPORTED',
      `${what} uses public-key privacy mode (envelopedData), which needs the recipient's key; mtlskit reads password-protected files only`,
      {
        subject: ctx.what,
      },
    );
  }
  invalid(`${what} has content type ${type}, which PKCS#12 does not define`);
}

/** The BMPString encodings OpenSSL tries for a password (RFC 7292 App. B.1 and two historic variants). */
function passwordCandidates(password: string): Buffer[] {
  const out = [bmpPassword(password)];
  // OpenSSL treats the empty password both as "" (00 00) and as no password at all.
  if (password === '') out.push(Buffer.alloc(0));
  // OpenSSL before 1.1.0 widened each UTF-8 byte to 16 bits; OpenSSL 3 still accepts such files.
  const utf8 = Buffer.from(password, 'utf8');
  if (utf8.length !== password.length) {
    const widened = Buffer.alloc(utf8.length * 2 + 2);
    utf8.forEach((b, i) => {
      widened[2 * i + 1] = b;
    });
    out.push(widened);
  }
  return out;
}

function sameEncryption(a: PfxEncryption, b: PfxEncryption): boolean {
  return a.algorithm === b.algorithm && a.cipher === b.cipher && a.kdf === b.kdf;
}

/**
 * Names the flavour of a file from its ciphers and MAC digest. A missing MAC
 * does not change the flavour (describePfx warns about it separately).
 */
function detectFlavour(mac: MacDigest | null, encryptions: PfxEncryption[]): PfxDetectedFlavour {
  const schemes = new Set(encryptions.map((e) => e.scheme));
  if (encryptions.length === 0 || (schemes.size === 1 && schemes.has('none'))) return 'unencrypted';
  if (schemes.has('none') || schemes.size > 1) return 'mixed';
  if (schemes.has('pbes2')) {
    return encryptions.every((e) => e.cipher.startsWith('aes-')) && mac !== 'sha1'
      ? 'modern'
      : 'mixed';
  }
  if (encryptions.some((e) => e.cipher.startsWith('rc4'))) return 'legacy-rc4';
  if (encryptions.some((e) => e.cipher.startsWith('rc2'))) return 'legacy-rc2';
  const tripleDes = encryptions.every(
    (e) => e.cipher === 'des-ede3-cbc' || e.cipher === 'des-ede-cbc',
  );
  return tripleDes && (mac === null || mac === 'sha1') ? 'legacy-3des' : 'mixed';
}

/**
 * Opens a `.pfx` / `.p12` file: verifies its MAC, decrypts its bags and
 * returns the key, the leaf certificate, the chain and a description of the
 * algorithms used.
 * @param data - the file's bytes (DER or BER)
 * @param password - the file's password (`''` for files made with an empty one)
 * @throws MTLS_BAD_PASSPHRASE when the password is wrong (MAC mismatch or failed decryption)
 * @throws MTLS_DER_INVALID when the data is truncated or not PKCS#12
 * @throws MTLS_PEM_INVALID when the data is PEM text rather than a binary PKCS#12 file
 * @throws MTLS_KEY_UNSUPPORTED for public-key modes, PBMAC1 or unknown ciphers
 */
export function parsePfx(
  data: Uint8Array,
  password: string,
  options: ParsePfxOptions = {},
): ParsedPfx {
  const what = options.source ?? 'PKCS#12 data';
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length === 0) invalid(`${what} is empty`);
  if (isPem(buf)) {
    throw new MtlsError(
      'MTLS_PEM_INVALID',
      `${what} is PEM text, but a .pfx/.p12 file is binary DER`,
      {
        subject: what,
        hint: 'To bundle a PEM key and certificate into a .pfx, use `mtls pfx export --key KEY --cert CERT --out FILE`.',
      },
    );
  }
  const top = children(readDer(berToDer(buf, what), 0, what), `${what} (PFX)`);
  const [versionEl, authSafeEl, macEl] = top;
  if (versionEl?.tag !== 0x02 || decodeUnsigned(versionEl.content) !== 3n) {
    invalid(`${what} is not a PKCS#12 file: it does not start with PFX version 3`);
  }
  const [authTypeEl, authContentEl] = children(authSafeEl, `${what} authSafe`);
  const authType = oidOf(authTypeEl, `${what} authSafe`);
  if (authType === CONTENT_TYPE.signedData) {
    throw new MtlsError(
      'MTLS_KEY_UNSUPPORTED',
      `${what} uses public-key integrity mode (signedData); mtlskit reads password-integrity files only`,
      {
        subject: what,
      },
    );
  }
  if (authType !== CONTENT_TYPE.data)
    invalid(`${what}: authSafe has content type ${authType}, expected data`);
  const authSafe = octets(
    children(authContentEl, `${what} authSafe content`, 0xa0)[0],
    `${what} authSafe`,
  );

  let bmp = bmpPassword(password);
  let mac: ReturnType<typeof parseMacData> | undefined;
  if (macEl) {
    mac = parseMacData(macEl.raw);
    const verified = verifyMac(mac, passwordCandidates(password), authSafe);
    if (!verified) {
      throw new MtlsError(
        'MTLS_BAD_PASSPHRASE',
        `${what}: the password is wrong (the PKCS#12 MAC does not verify), or the file was altered`,
        {
          subject: what,
        },
      );
    }
    bmp = verified;
  }
  const ctx: Context = {
    what,
    passwords: { utf8: Buffer.from(password, 'utf8'), bmp },
    macVerified: mac !== undefined,
  };

  const collected: Collected = { keys: [], certs: [], skipped: [] };
  const safes = children(
    readDer(berToDer(authSafe, `${what} AuthenticatedSafe`), 0, what),
    `${what} AuthenticatedSafe`,
  );
  safes.forEach((ci, i) => readContentInfo(ctx, ci, i, collected));

  const key = collected.keys[0];
  let leafIndex = -1;
  if (key) {
    leafIndex = collected.certs.findIndex((c) => keysMatch(key.key, c.certificate.publicKey));
    if (leafIndex < 0 && key.localKeyId) {
      const id = key.localKeyId;
      leafIndex = collected.certs.findIndex(
        (c) => c.localKeyId !== undefined && c.localKeyId.equals(id),
      );
    }
  }
  const leafEntry = leafIndex >= 0 ? collected.certs[leafIndex] : undefined;
  const others = collected.certs.filter((_, i) => i !== leafIndex).map((c) => c.certificate);

  const encryptions = [
    ...collected.keys.map((k) => k.encryption),
    ...collected.certs.map((c) => c.encryption),
  ];
  const keyEncryption = key?.encryption ?? null;
  const certEncryption = leafEntry?.encryption ?? collected.certs[0]?.encryption ?? null;
  let flavour = detectFlavour(mac?.digest ?? null, encryptions);
  const [firstCertEnc, ...otherCertEncs] = collected.certs.map((c) => c.encryption);
  if (firstCertEnc && otherCertEncs.some((e) => !sameEncryption(e, firstCertEnc)))
    flavour = 'mixed';

  return {
    privateKey: key?.key,
    certificate: leafEntry?.certificate,
    chain: orderChain(leafEntry?.certificate, others),
    friendlyName: key?.friendlyName ?? leafEntry?.friendlyName,
    localKeyId: key?.localKeyId ?? leafEntry?.localKeyId,
    keyMatchesCertificate:
      key !== undefined &&
      leafEntry !== undefined &&
      keysMatch(key.key, leafEntry.certificate.publicKey),
    algorithms: {
      macAlgorithm: mac?.digest ?? null,
      macIterations: mac?.iterations ?? null,
      macSaltLength: mac?.salt.length ?? null,
      keyEncryption,
      certEncryption,
      flavour,
    },
    certificates: collected.certs,
    keyCount: collected.keys.length,
    skippedBags: collected.skipped,
  };
}

/**
 * Refuses a file without a MAC unless the caller accepts that: with no MAC,
 * nothing ties the contents to the password (RFC 7292 §4, password integrity
 * mode), so re-encoding it would put a fresh MAC on unchecked data.
 * @throws MTLS_VERIFY_FAILED
 */
export function assertPfxHasMac(parsed: ParsedPfx, source: string, allowNoMac = false): void {
  if (parsed.algorithms.macAlgorithm !== null || allowNoMac) return;
  throw new MtlsError(
    'MTLS_VERIFY_FAILED',
    `${source} has no integrity MAC: its contents cannot be checked against the password`,
    {
      subject: source,
      hint: 'Get a fresh export from its source; if you trust where this file came from, pass --allow-no-mac.',
    },
  );
}
