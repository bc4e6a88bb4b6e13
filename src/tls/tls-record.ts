/**
 * The TLS wire format, as far as a client needs it to see the plaintext part
 * of a handshake: records (RFC 5246 §6.2, RFC 8446 §5.1), handshake messages
 * (RFC 5246 §7.4, RFC 8446 §4), alerts (RFC 5246 §7.2, RFC 8446 §6), and a
 * ClientHello builder for probing which versions a server accepts.
 *
 * In TLS 1.2 everything up to ChangeCipherSpec travels in clear, including
 * the server's Certificate and CertificateRequest (with the names of the CAs
 * it accepts client certificates from). node:tls has no API for the latter,
 * so mtlskit reads them off the wire.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { MtlsError } from '../errors/index.js';
import { TLS_VERSION_CODES, tlsVersionName, type TlsVersionName } from './versions.js';

/** Record content types (RFC 8446 §5.1). */
export const CONTENT_TYPE = {
  changeCipherSpec: 20,
  alert: 21,
  handshake: 22,
  applicationData: 23,
} as const;

/** Handshake message types (RFC 8446 §4, RFC 5246 §7.4). */
export const HANDSHAKE_TYPE = {
  helloRequest: 0,
  clientHello: 1,
  serverHello: 2,
  newSessionTicket: 4,
  endOfEarlyData: 5,
  encryptedExtensions: 8,
  certificate: 11,
  serverKeyExchange: 12,
  certificateRequest: 13,
  serverHelloDone: 14,
  certificateVerify: 15,
  clientKeyExchange: 16,
  finished: 20,
  certificateStatus: 22,
  keyUpdate: 24,
} as const;

/** Alert descriptions: RFC 5246 §7.2 and RFC 8446 §6, by code. */
export const ALERT_DESCRIPTIONS: Readonly<Record<number, string>> = {
  0: 'close_notify',
  10: 'unexpected_message',
  20: 'bad_record_mac',
  21: 'decryption_failed',
  22: 'record_overflow',
  30: 'decompression_failure',
  40: 'handshake_failure',
  41: 'no_certificate',
  42: 'bad_certificate',
  43: 'unsupported_certificate',
  44: 'certificate_revoked',
  45: 'certificate_expired',
  46: 'certificate_unknown',
  47: 'illegal_parameter',
  48: 'unknown_ca',
  49: 'access_denied',
  50: 'decode_error',
  51: 'decrypt_error',
  60: 'export_restriction',
  70: 'protocol_version',
  71: 'insufficient_security',
  80: 'internal_error',
  86: 'inappropriate_fallback',
  90: 'user_canceled',
  100: 'no_renegotiation',
  109: 'missing_extension',
  110: 'unsupported_extension',
  111: 'certificate_unobtainable',
  112: 'unrecognized_name',
  113: 'bad_certificate_status_response',
  114: 'bad_certificate_hash_value',
  115: 'unknown_psk_identity',
  116: 'certificate_required',
  120: 'no_application_protocol',
};

/** The RFC name of an alert description code, or `alert_N` for an unknown code. */
export function alertName(code: number): string {
  return ALERT_DESCRIPTIONS[code] ?? `alert_${code}`;
}

/** The code of an alert name (`unknown_ca` → 48), or undefined. */
export function alertCode(name: string): number | undefined {
  for (const [code, n] of Object.entries(ALERT_DESCRIPTIONS)) if (n === name) return Number(code);
  return undefined;
}

/** One decoded alert. */
export interface TlsAlert {
  /** `warning` (1) or `fatal` (2); RFC 8446 §6 treats every alert but close_notify and user_canceled as fatal. */
  level: 'warning' | 'fatal' | `level_${number}`;
  /** Description code (RFC 8446 §6). */
  code: number;
  /** Description name, such as `unknown_ca`. */
  name: string;
}

/** Decodes a plaintext alert record fragment (2 bytes: level, description). */
export function decodeAlert(fragment: Uint8Array): TlsAlert | undefined {
  if (fragment.length !== 2) return undefined;
  const [level = 0, code = 0] = fragment;
  return {
    level: level === 1 ? 'warning' : level === 2 ? 'fatal' : `level_${level}`,
    code,
    name: alertName(code),
  };
}

/** IANA cipher suite codes and their OpenSSL names, for the suites mtlskit offers or meets. */
export const CIPHER_SUITES: Readonly<Record<number, string>> = {
  0x1301: 'TLS_AES_128_GCM_SHA256',
  0x1302: 'TLS_AES_256_GCM_SHA384',
  0x1303: 'TLS_CHACHA20_POLY1305_SHA256',
  0xc02b: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  0xc02f: 'ECDHE-RSA-AES128-GCM-SHA256',
  0xc02c: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  0xc030: 'ECDHE-RSA-AES256-GCM-SHA384',
  0xcca9: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  0xcca8: 'ECDHE-RSA-CHACHA20-POLY1305',
  0x009e: 'DHE-RSA-AES128-GCM-SHA256',
  0x009f: 'DHE-RSA-AES256-GCM-SHA384',
  0xc023: 'ECDHE-ECDSA-AES128-SHA256',
  0xc027: 'ECDHE-RSA-AES128-SHA256',
  0xc024: 'ECDHE-ECDSA-AES256-SHA384',
  0xc028: 'ECDHE-RSA-AES256-SHA384',
  0xc009: 'ECDHE-ECDSA-AES128-SHA',
  0xc013: 'ECDHE-RSA-AES128-SHA',
  0xc00a: 'ECDHE-ECDSA-AES256-SHA',
  0xc014: 'ECDHE-RSA-AES256-SHA',
  0x0033: 'DHE-RSA-AES128-SHA',
  0x0039: 'DHE-RSA-AES256-SHA',
  0x009c: 'AES128-GCM-SHA256',
  0x009d: 'AES256-GCM-SHA384',
  0x003c: 'AES128-SHA256',
  0x003d: 'AES256-SHA256',
  0x002f: 'AES128-SHA',
  0x0035: 'AES256-SHA',
  0x000a: 'DES-CBC3-SHA',
};

/** The OpenSSL name of a cipher suite code, or `0x….`. */
export function cipherSuiteName(code: number): string {
  return CIPHER_SUITES[code] ?? `0x${code.toString(16).padStart(4, '0')}`;
}

/** ClientCertificateType names (RFC 5246 §7.4.4, RFC 8422 §5.5). */
export const CLIENT_CERTIFICATE_TYPES: Readonly<Record<number, string>> = {
  1: 'rsa_sign',
  2: 'dss_sign',
  3: 'rsa_fixed_dh',
  4: 'dss_fixed_dh',
  5: 'rsa_ephemeral_dh',
  6: 'dss_ephemeral_dh',
  20: 'fortezza_dms',
  64: 'ecdsa_sign',
  65: 'rsa_fixed_ecdh',
  66: 'ecdsa_fixed_ecdh',
};

/** SignatureScheme names (RFC 8446 §4.2.3); TLS 1.2 hash/signature pairs use the same code space (RFC 5246 §7.4.1.4.1). */
export const SIGNATURE_SCHEMES: Readonly<Record<number, string>> = {
  0x0401: 'rsa_pkcs1_sha256',
  0x0501: 'rsa_pkcs1_sha384',
  0x0601: 'rsa_pkcs1_sha512',
  0x0403: 'ecdsa_secp256r1_sha256',
  0x0503: 'ecdsa_secp384r1_sha384',
  0x0603: 'ecdsa_secp521r1_sha512',
  0x0804: 'rsa_pss_rsae_sha256',
  0x0805: 'rsa_pss_rsae_sha384',
  0x0806: 'rsa_pss_rsae_sha512',
  0x0807: 'ed25519',
  0x0808: 'ed448',
  0x0809: 'rsa_pss_pss_sha256',
  0x080a: 'rsa_pss_pss_sha384',
  0x080b: 'rsa_pss_pss_sha512',
  0x0201: 'rsa_pkcs1_sha1',
  0x0203: 'ecdsa_sha1',
  0x0301: 'rsa_pkcs1_sha224',
  0x0303: 'ecdsa_sha224',
  0x0302: 'dsa_sha224',
  0x0402: 'dsa_sha256',
  0x0502: 'dsa_sha384',
  0x0602: 'dsa_sha512',
  0x0202: 'dsa_sha1',
};

/** The name of a signature scheme code, or `0x….`. */
export function signatureSchemeName(code: number): string {
  return SIGNATURE_SCHEMES[code] ?? `0x${code.toString(16).padStart(4, '0')}`;
}

/** One TLS record. */
export interface TlsRecord {
  /** Content type (see {@link CONTENT_TYPE}). */
  type: number;
  /** The record-layer version field. */
  version: number;
  fragment: Buffer;
}

/** RFC 8446 §5.1: a plaintext fragment is at most 2^14 bytes; ciphertext at most 2^14 + 256. */
const MAX_RECORD = 16384 + 2048;

/** Splits a byte stream into TLS records, keeping partial records across chunks. */
export class TlsRecordReader {
  private buffered: Buffer = Buffer.alloc(0);

  /**
   * Adds bytes and returns the records completed by them.
   * @throws MTLS_TLS_HANDSHAKE when the bytes are not TLS records (for example an HTTP answer on a TLS port)
   */
  push(chunk: Uint8Array): TlsRecord[] {
    this.buffered =
      this.buffered.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buffered, chunk]);
    const out: TlsRecord[] = [];
    while (this.buffered.length >= 5) {
      const type = this.buffered.readUInt8(0);
      const version = this.buffered.readUInt16BE(1);
      const length = this.buffered.readUInt16BE(3);
      if (type < 20 || type > 24 || version >> 8 !== 3 || length > MAX_RECORD) {
        throw new MtlsError(
          'MTLS_TLS_HANDSHAKE',
          `the peer did not answer with TLS (first bytes: ${printable(this.buffered.subarray(0, 16))})`,
          {
            hint: 'Check the port: it may serve plain HTTP or another protocol, not TLS.',
          },
        );
      }
      if (this.buffered.length < 5 + length) break;
      out.push({ type, version, fragment: Buffer.from(this.buffered.subarray(5, 5 + length)) });
      this.buffered = this.buffered.subarray(5 + length);
    }
    return out;
  }
}

function printable(b: Buffer): string {
  const text = b.toString('latin1');
  return /^[\x20-\x7e\r\n]+$/.test(text) ? JSON.stringify(text) : b.toString('hex');
}

/** One handshake message (type and body without the 4-byte header). */
export interface HandshakeMessage {
  type: number;
  body: Buffer;
}

/** Reassembles handshake messages that span records, or share one (RFC 8446 §5.1). */
export class HandshakeReader {
  private buffered: Buffer = Buffer.alloc(0);

  /** Adds a handshake record fragment and returns the completed messages. */
  push(fragment: Uint8Array): HandshakeMessage[] {
    this.buffered =
      this.buffered.length === 0 ? Buffer.from(fragment) : Buffer.concat([this.buffered, fragment]);
    const out: HandshakeMessage[] = [];
    while (this.buffered.length >= 4) {
      const type = this.buffered.readUInt8(0);
      const length = this.buffered.readUIntBE(1, 3);
      if (this.buffered.length < 4 + length) break;
      out.push({ type, body: Buffer.from(this.buffered.subarray(4, 4 + length)) });
      this.buffered = this.buffered.subarray(4 + length);
    }
    return out;
  }
}

/** A bounds-checked reader over a handshake message body. */
class Cursor {
  private pos = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}
  private need(n: number): void {
    if (this.pos + n > this.buf.length) {
      throw new MtlsError(
        'MTLS_TLS_HANDSHAKE',
        `malformed ${this.what} from the server: truncated at byte ${this.pos}`,
      );
    }
  }
  get remaining(): number {
    return this.buf.length - this.pos;
  }
  u8(): number {
    this.need(1);
    return this.buf.readUInt8(this.pos++);
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u24(): number {
    this.need(3);
    const v = this.buf.readUIntBE(this.pos, 3);
    this.pos += 3;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  vec8(): Buffer {
    return this.bytes(this.u8());
  }
  vec16(): Buffer {
    return this.bytes(this.u16());
  }
  vec24(): Buffer {
    return this.bytes(this.u24());
  }
}

/** SHA-256("HelloRetryRequest"): the ServerHello.random of a HelloRetryRequest (RFC 8446 §4.1.3). */
const HRR_RANDOM = Buffer.from(
  'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c',
  'hex',
);

/** What a ServerHello says. */
export interface ServerHelloInfo {
  /** The negotiated version code, from supported_versions when present (RFC 8446 §4.2.1). */
  version: number;
  /** `TLSv1.2`, `TLSv1.3`, … */
  versionName: string;
  cipherSuite: number;
  cipherName: string;
  /** True for a TLS 1.3 HelloRetryRequest. */
  helloRetryRequest: boolean;
  /** Extension types present. */
  extensions: number[];
}

/**
 * Parses a ServerHello body (RFC 5246 §7.4.1.3, RFC 8446 §4.1.3).
 * @throws MTLS_TLS_HANDSHAKE when malformed
 */
export function parseServerHello(body: Buffer): ServerHelloInfo {
  const c = new Cursor(body, 'ServerHello');
  let version = c.u16();
  const random = c.bytes(32);
  c.vec8();
  const cipherSuite = c.u16();
  c.u8();
  const extensions: number[] = [];
  if (c.remaining > 0) {
    const ext = new Cursor(c.vec16(), 'ServerHello extensions');
    while (ext.remaining > 0) {
      const type = ext.u16();
      const data = ext.vec16();
      extensions.push(type);
      if (type === 43 && data.length === 2) version = data.readUInt16BE(0);
    }
  }
  return {
    version,
    versionName: tlsVersionName(version),
    cipherSuite,
    cipherName: cipherSuiteName(cipherSuite),
    helloRetryRequest: random.equals(HRR_RANDOM),
    extensions,
  };
}

/**
 * Parses a TLS 1.0–1.2 Certificate message: the DER certificates, sender's
 * own first (RFC 5246 §7.4.2). An empty list is a client that has no certificate.
 * @throws MTLS_TLS_HANDSHAKE when malformed
 */
export function parseCertificateMessage(body: Buffer): Buffer[] {
  const list = new Cursor(new Cursor(body, 'Certificate').vec24(), 'Certificate list');
  const out: Buffer[] = [];
  while (list.remaining > 0) out.push(Buffer.from(list.vec24()));
  return out;
}

/** What a TLS 1.2 CertificateRequest asks for (RFC 5246 §7.4.4). */
export interface CertificateRequestInfo {
  /** ClientCertificateType names, such as `rsa_sign`, `ecdsa_sign`. */
  certificateTypes: string[];
  /** Signature algorithms the server accepts in CertificateVerify (TLS 1.2 only). */
  signatureAlgorithms: string[];
  /** DER-encoded DistinguishedNames of the acceptable CAs; empty means "any CA" (RFC 5246 §7.4.4). */
  certificateAuthorities: Buffer[];
}

/**
 * Parses a TLS 1.0–1.2 CertificateRequest. TLS 1.2 added the
 * supported_signature_algorithms field; pass the negotiated version.
 * @throws MTLS_TLS_HANDSHAKE when malformed
 */
export function parseCertificateRequest(body: Buffer, version: number): CertificateRequestInfo {
  const c = new Cursor(body, 'CertificateRequest');
  const certificateTypes = [...c.vec8()].map((t) => CLIENT_CERTIFICATE_TYPES[t] ?? `type_${t}`);
  const signatureAlgorithms: string[] = [];
  if (version >= 0x0303) {
    const algs = c.vec16();
    for (let i = 0; i + 1 < algs.length; i += 2)
      signatureAlgorithms.push(signatureSchemeName(algs.readUInt16BE(i)));
  }
  const names = new Cursor(c.vec16(), 'CertificateRequest certificate_authorities');
  const certificateAuthorities: Buffer[] = [];
  while (names.remaining > 0) certificateAuthorities.push(Buffer.from(names.vec16()));
  return { certificateTypes, signatureAlgorithms, certificateAuthorities };
}

/** Options for {@link buildClientHello}. */
export interface ClientHelloOptions {
  /** The one version to offer. */
  version: TlsVersionName;
  /** Host name for the server_name extension; IP addresses are not sent (RFC 6066 §3). */
  servername?: string;
}

const GROUPS = [0x001d, 0x0017, 0x0018, 0x0019]; // x25519, secp256r1, secp384r1, secp521r1
const SIGNATURE_ALGORITHMS = [
  0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0807, 0x0201, 0x0203,
];
const TLS13_SUITES = [0x1301, 0x1302, 0x1303];
const TLS12_SUITES = [
  0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0x009e, 0x009f, 0xc023, 0xc027, 0xc024, 0xc028,
  0xc009, 0xc013, 0xc00a, 0xc014, 0x009c, 0x009d, 0x003c, 0x003d, 0x002f, 0x0035,
];
const LEGACY_SUITES = [0xc009, 0xc013, 0xc00a, 0xc014, 0x0033, 0x0039, 0x002f, 0x0035, 0x000a];

const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
const vec8 = (b: Uint8Array): Buffer => Buffer.concat([Buffer.from([b.length]), b]);
const vec16 = (b: Uint8Array): Buffer => Buffer.concat([u16(b.length), b]);
const u16list = (ns: readonly number[]): Buffer => Buffer.concat(ns.map(u16));
const extension = (type: number, data: Uint8Array): Buffer =>
  Buffer.concat([u16(type), vec16(data)]);

/**
 * Builds a ClientHello record that offers exactly one protocol version, with
 * a broad cipher list for that version, so the server's answer (a ServerHello
 * or a protocol_version alert) says whether it accepts that version.
 * TLS 1.3 is offered through supported_versions with an X25519 key share
 * (RFC 8446 §4.2.1, §4.2.8); 1.0/1.1 hellos omit signature_algorithms,
 * which RFC 5246 §7.4.1.4.1 defines for 1.2 only.
 */
export function buildClientHello(options: ClientHelloOptions): Buffer {
  const v = TLS_VERSION_CODES[options.version];
  const tls13 = options.version === 'TLSv1.3';
  const suites = tls13 ? TLS13_SUITES : v === 0x0303 ? TLS12_SUITES : LEGACY_SUITES;
  const exts: Buffer[] = [];
  if (options.servername && isIP(options.servername) === 0) {
    const host = Buffer.from(options.servername, 'ascii');
    exts.push(extension(0, vec16(Buffer.concat([Buffer.from([0]), vec16(host)]))));
  }
  exts.push(extension(10, vec16(u16list(GROUPS))));
  exts.push(extension(11, vec8(Buffer.from([0]))));
  if (v >= 0x0303) exts.push(extension(13, vec16(u16list(SIGNATURE_ALGORITHMS))));
  exts.push(extension(0xff01, vec8(Buffer.alloc(0))));
  exts.push(extension(23, Buffer.alloc(0)));
  if (tls13) {
    exts.push(extension(43, vec8(u16(0x0304))));
    const pub = generateKeyPairSync('x25519').publicKey.export({ format: 'der', type: 'spki' });
    exts.push(
      extension(51, vec16(Buffer.concat([u16(0x001d), vec16(pub.subarray(pub.length - 32))]))),
    );
  }
  const body = Buffer.concat([
    u16(tls13 ? 0x0303 : v),
    randomBytes(32),
    vec8(tls13 ? randomBytes(32) : Buffer.alloc(0)),
    vec16(u16list(suites)),
    vec8(Buffer.from([0])),
    vec16(Buffer.concat(exts)),
  ]);
  const handshake = Buffer.concat([
    Buffer.from([HANDSHAKE_TYPE.clientHello]),
    u24(body.length),
    body,
  ]);
  return Buffer.concat([
    Buffer.from([CONTENT_TYPE.handshake]),
    u16(0x0301),
    u16(handshake.length),
    handshake,
  ]);
}

function u24(n: number): Buffer {
  const b = Buffer.alloc(3);
  b.writeUIntBE(n, 0, 3);
  return b;
}
