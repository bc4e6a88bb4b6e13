/**
 * Recognises what a file holds (PEM or DER certificates, CSR, CRL, or a
 * PKCS#12 `.pfx`) and describes every object in it, for `mtls cert show`.
 */
import * as x509 from '@peculiar/x509';
import { MtlsError } from '../../errors/index.js';
import { parseCertificates } from '../certificate.js';
import { readCertificateDer } from '../read-x509.js';
import { parseCrls } from '../crl.js';
import { parseCsr } from '../csr.js';
import { decodeUnsigned, readDer, readDerChildren } from '../der.js';
import { decodePemBlocks, isPem, PRIVATE_KEY_LABELS } from '../pem.js';
import { describePfx, parsePfx, type PfxDescription } from '../pkcs12/index.js';
import { TAG } from './asn1.js';
import {
  describeCertificate,
  describeCrl,
  describeCsr,
  type PkiObjectDescription,
} from './describe.js';
import { renderCertificateText, renderCrlText, renderCsrText } from './render.js';

/** What a DER blob is. */
export type DerKind = 'certificate' | 'csr' | 'crl' | 'pkcs12';

/** Inputs for {@link inspectPki}. */
export interface InspectPkiOptions {
  /** The file's bytes. */
  data: Uint8Array;
  /** File name, for messages and for the `.pfx` / `.p12` hint. Default `input`. */
  source?: string;
  /**
   * The PKCS#12 password, or a function that supplies it; asked only when the
   * data turns out to be PKCS#12, so a prompt never appears for other files.
   */
  password?: string | (() => Promise<string>);
  /** The time PKCS#12 validity warnings are judged at (default now). */
  now?: Date;
}

/** A PEM block that was not shown. */
export interface SkippedBlock {
  label: string;
  reason: string;
}

/** Result of {@link inspectPki}. */
export interface InspectPkiResult {
  source: string;
  /** How the data was encoded. */
  format: 'pem' | 'der' | 'pkcs12';
  /** Every certificate, CSR and CRL, in file order (for PKCS#12: the leaf, then its chain). */
  objects: PkiObjectDescription[];
  /** For PKCS#12: the container (algorithms, friendlyName, key type; never key material). */
  pkcs12?: PfxDescription;
  /** PEM blocks that are not shown (private keys are never shown). */
  skipped: SkippedBlock[];
}

const CERT_LABELS = ['CERTIFICATE', 'TRUSTED CERTIFICATE', 'X509 CERTIFICATE'];
const CSR_LABELS = ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'];
const CRL_LABELS = ['X509 CRL', 'CRL'];

/**
 * Tells a certificate, CSR, CRL or PKCS#12 PFX apart by its DER structure
 * (RFC 5280 §4.1 and §5.1, RFC 2986 §4, RFC 7292 §4).
 * @throws MTLS_DER_INVALID when the data is not DER or matches none of them
 */
export function detectDerKind(der: Buffer, source = 'input'): DerKind {
  // Java, Windows and NSS write PFX files in BER with indefinite lengths (30 80 …, version 02 01 03);
  // certificates, CSRs and CRLs are always DER.
  if (
    der[0] === TAG.sequence &&
    der[1] === 0x80 &&
    der[2] === TAG.integer &&
    der[3] === 1 &&
    der[4] === 3
  )
    return 'pkcs12';
  const outer = readDer(der, 0, source);
  if (outer.tag !== TAG.sequence) {
    throw new MtlsError(
      'MTLS_DER_INVALID',
      `${source} is not DER: it does not start with a SEQUENCE`,
      { subject: source },
    );
  }
  const top = readDerChildren(outer.content, source);
  const [first, second] = top;
  // PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo, macData OPTIONAL }
  if (
    first?.tag === TAG.integer &&
    decodeUnsigned(first.content) === 3n &&
    second?.tag === TAG.sequence
  )
    return 'pkcs12';
  if (first?.tag !== TAG.sequence)
    throw new MtlsError(
      'MTLS_DER_INVALID',
      `${source} is not a certificate, CSR, CRL or PKCS#12 file`,
      { subject: source },
    );
  const inner = readDerChildren(first.content, source);
  const [a, b, , d] = inner;
  if (a?.tag === 0xa0) return 'certificate';
  if (a?.tag === TAG.sequence) return 'crl';
  if (a?.tag === TAG.integer && b?.tag === TAG.sequence) {
    const bFirst = readDerChildren(b.content, source)[0];
    // A certificate or v2 CRL has an AlgorithmIdentifier here (starting with an OID); a CSR has a Name.
    if (bFirst?.tag === TAG.oid)
      return d && (d.tag === TAG.utcTime || d.tag === TAG.generalizedTime) ? 'crl' : 'certificate';
    return 'csr';
  }
  throw new MtlsError(
    'MTLS_DER_INVALID',
    `${source} is not a certificate, CSR, CRL or PKCS#12 file`,
    { subject: source },
  );
}

function looksLikeText(buf: Buffer): boolean {
  const sample = buf.subarray(0, 512);
  return (
    sample.length > 0 &&
    [...sample].every((c) => c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127))
  );
}

/**
 * Refuses data that is neither PEM nor plausible DER before a parser sees
 * it, so that a text file without a PEM block gets a clear message.
 * @throws MTLS_PEM_INVALID for an empty file, or text with no PEM block
 */
export function assertPemOrDer(data: Uint8Array, source = 'input'): void {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length === 0)
    throw new MtlsError('MTLS_PEM_INVALID', `${source} is empty`, { subject: source });
  if (!isPem(buf) && buf[0] !== TAG.sequence && looksLikeText(buf)) {
    throw new MtlsError(
      'MTLS_PEM_INVALID',
      `${source} is text but has no PEM block (expected -----BEGIN …-----)`,
      { subject: source },
    );
  }
}

/** Puts the file's name in a description error: the describers know the broken part, not the file. */
async function inFile<T>(source: string, describe: () => T | Promise<T>): Promise<T> {
  try {
    return await describe();
  } catch (e) {
    if (e instanceof MtlsError && e.code === 'MTLS_DER_INVALID' && !e.message.includes(source))
      throw new MtlsError(e.code, `${source}: ${e.message}`, {
        subject: source,
        hint: e.hint,
        cause: e,
      });
    throw e;
  }
}

async function describeDer(
  der: Buffer,
  kind: Exclude<DerKind, 'pkcs12'>,
  source: string,
): Promise<PkiObjectDescription[]> {
  switch (kind) {
    case 'certificate':
      return inFile(source, () => parseCertificates(der, source).map(describeCertificate));
    case 'csr':
      return [await inFile(source, () => describeCsr(parseCsr(der, source)))];
    case 'crl':
      return inFile(source, () => parseCrls(der, source).map(describeCrl));
  }
}

async function inspectPkcs12(
  buf: Buffer,
  source: string,
  options: InspectPkiOptions,
): Promise<InspectPkiResult> {
  if (options.password === undefined) {
    throw new MtlsError(
      'MTLS_PASSPHRASE_REQUIRED',
      `${source} is a PKCS#12 file and no password was given`,
      {
        subject: source,
        hint: 'Pass --password-file FILE (an empty first line is not accepted; use a file with the password).',
      },
    );
  }
  const password =
    typeof options.password === 'string' ? options.password : await options.password();
  const parsed = parsePfx(buf, password, { source });
  const certs: x509.X509Certificate[] = [];
  const seen = new Set<string>();
  for (const c of [
    parsed.certificate,
    ...parsed.chain,
    ...parsed.certificates.map((e) => e.certificate),
  ]) {
    if (!c || seen.has(c.fingerprint256)) continue;
    seen.add(c.fingerprint256);
    certs.push(readCertificateDer(c.raw, `a certificate in ${source}`));
  }
  return {
    source,
    format: 'pkcs12',
    objects: await inFile(source, () => certs.map(describeCertificate)),
    pkcs12: describePfx(parsed, options.now ? { now: options.now } : {}),
    skipped: parsed.skippedBags.map((b) => ({ label: b, reason: 'PKCS#12 bag type not shown' })),
  };
}

/**
 * Describes everything in a PEM or DER file: all certificates of a PEM
 * bundle, a CSR (with its self-signature checked), a CRL, or the
 * certificates of a PKCS#12 file. Private keys are never described.
 * @throws MTLS_PEM_INVALID for text that has no usable PEM block, or corrupt base64
 * @throws MTLS_DER_INVALID for truncated or unrecognised DER
 * @throws MTLS_PASSPHRASE_REQUIRED / MTLS_BAD_PASSPHRASE for PKCS#12 without the right password
 */
export async function inspectPki(options: InspectPkiOptions): Promise<InspectPkiResult> {
  const source = options.source ?? 'input';
  const buf = Buffer.from(options.data);
  assertPemOrDer(buf, source);
  if (isPem(buf)) {
    const blocks = decodePemBlocks(buf.toString('utf8'), source);
    const objects: PkiObjectDescription[] = [];
    const skipped: SkippedBlock[] = [];
    for (const [i, block] of blocks.entries()) {
      const where = `${source} (PEM block ${i + 1}, ${block.label})`;
      if (CERT_LABELS.includes(block.label)) {
        // TRUSTED CERTIFICATE appends OpenSSL trust settings after the certificate: keep the certificate only.
        const der =
          block.label === 'TRUSTED CERTIFICATE' ? readDer(block.der, 0, where).raw : block.der;
        objects.push(...(await describeDer(der, 'certificate', where)));
      } else if (CSR_LABELS.includes(block.label))
        objects.push(...(await describeDer(block.der, 'csr', where)));
      else if (CRL_LABELS.includes(block.label))
        objects.push(...(await describeDer(block.der, 'crl', where)));
      else if (PRIVATE_KEY_LABELS.includes(block.label))
        skipped.push({ label: block.label, reason: 'private keys are never shown' });
      else skipped.push({ label: block.label, reason: 'not a certificate, CSR or CRL' });
    }
    if (objects.length === 0) {
      throw new MtlsError(
        'MTLS_PEM_INVALID',
        `${source} holds no certificate, CSR or CRL (found: ${blocks.map((b) => b.label).join(', ')})`,
        {
          subject: source,
        },
      );
    }
    return { source, format: 'pem', objects, skipped };
  }
  // By structure first; a .pfx/.p12 name decides only when the structure says nothing.
  let kind: DerKind;
  try {
    kind = detectDerKind(buf, source);
  } catch (e) {
    if (!/\.(pfx|p12)$/i.test(source)) throw e;
    kind = 'pkcs12';
  }
  if (kind === 'pkcs12') return inspectPkcs12(buf, source, options);
  return { source, format: 'der', objects: await describeDer(buf, kind, source), skipped: [] };
}

/** Renders one description as OpenSSL-style text. */
export function renderPkiObjectText(d: PkiObjectDescription): string {
  switch (d.type) {
    case 'certificate':
      return renderCertificateText(d);
    case 'csr':
      return renderCsrText(d);
    case 'crl':
      return renderCrlText(d);
  }
}

function pkcs12Header(p: PfxDescription): string[] {
  const lines = ['PKCS#12:', `    Flavour: ${p.flavour}`];
  lines.push(`    MAC: ${p.mac ? `${p.mac.algorithm}, ${p.mac.iterations} iterations` : 'none'}`);
  if (p.keyEncryption) lines.push(`    Key encryption: ${p.keyEncryption.text}`);
  if (p.certEncryption) lines.push(`    Certificate encryption: ${p.certEncryption.text}`);
  if (p.friendlyName !== null) lines.push(`    Friendly name: ${p.friendlyName}`);
  if (p.localKeyId !== null) lines.push(`    Local key ID: ${p.localKeyId}`);
  lines.push(
    `    Private key: ${p.privateKey ? `${p.privateKey.text} (${p.privateKey.matchesCertificate ? 'matches' : 'does NOT match'} the certificate; not shown)` : 'none'}`,
  );
  lines.push(`    Certificates: ${p.certificates.length}`);
  return lines;
}

/**
 * Renders an {@link InspectPkiResult} as text: a PKCS#12 summary when there
 * is one, then every object as `openssl x509|req|crl -text` would show it,
 * numbered when there are several.
 */
export function renderInspectionText(r: InspectPkiResult): string {
  const parts: string[] = [];
  if (r.pkcs12) parts.push(pkcs12Header(r.pkcs12).join('\n') + '\n');
  const several = r.objects.length > 1 || r.pkcs12 !== undefined;
  r.objects.forEach((o, i) => {
    const entry =
      o.type === 'certificate'
        ? r.pkcs12?.certificates.find((c) => c.sha256 === o.fingerprints.sha256)
        : undefined;
    const role = entry
      ? ` (${entry.role}${entry.friendlyName !== null ? `, friendlyName ${entry.friendlyName}` : ''})`
      : '';
    const header = several
      ? `# ${i + 1}/${r.objects.length}: ${o.type === 'csr' ? 'CSR' : o.type === 'crl' ? 'CRL' : 'certificate'}${role}\n`
      : '';
    parts.push(header + renderPkiObjectText(o));
  });
  for (const s of r.skipped) parts.push(`# skipped ${s.label}: ${s.reason}\n`);
  return parts.join('\n');
}
