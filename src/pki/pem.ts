import { MtlsError } from '../errors/index.js';

/** One decoded PEM block. */
export interface PemBlock {
  /** The label between BEGIN and END, such as `CERTIFICATE` or `X509 CRL`. */
  label: string;
  /** The DER bytes. */
  der: Buffer;
  /** RFC 1421 headers (Proc-Type, DEK-Info) of legacy encrypted keys, if any. */
  headers: Record<string, string>;
}

const BLOCK_RE = /-----BEGIN ([A-Z0-9 #]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/**
 * Encodes DER as PEM with 64-character lines (RFC 7468 §2).
 * @param label - e.g. `CERTIFICATE`, `CERTIFICATE REQUEST`, `X509 CRL`, `PRIVATE KEY`
 */
export function encodePem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** True when the data looks like PEM text (has a BEGIN line). */
export function isPem(data: string | Uint8Array): boolean {
  const text =
    typeof data === 'string' ? data : Buffer.from(data.subarray(0, 4096)).toString('latin1');
  return text.includes('-----BEGIN ');
}

/**
 * Decodes every PEM block in the text, in order.
 * @param source - file name or description, for error messages
 * @throws MTLS_PEM_INVALID when there is no block, or a block's base64 is corrupt
 */
export function decodePemBlocks(text: string, source = 'input'): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK_RE)) {
    const [, label, body] = m;
    // Both groups of BLOCK_RE are mandatory, so a match always has them.
    if (label === undefined || body === undefined) continue;
    const headers: Record<string, string> = {};
    const b64Lines: string[] = [];
    for (const raw of body.split(/\r?\n/)) {
      const line = raw.trim();
      if (!line) continue;
      const [, name, value] = /^([A-Za-z-]+):\s*(.*)$/.exec(line) ?? [];
      if (name !== undefined && value !== undefined) headers[name] = value;
      else b64Lines.push(line);
    }
    const b64 = b64Lines.join('');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0 || b64.length === 0) {
      throw new MtlsError(
        'MTLS_PEM_INVALID',
        `${source}: the ${label} block has corrupt base64 content`,
        { subject: source },
      );
    }
    blocks.push({ label, der: Buffer.from(b64, 'base64'), headers });
  }
  if (blocks.length === 0) {
    throw new MtlsError(
      'MTLS_PEM_INVALID',
      `${source}: no PEM block found (expected -----BEGIN …----- / -----END …-----)`,
      { subject: source },
    );
  }
  return blocks;
}

/** Labels under which a private key can appear in PEM. */
export const PRIVATE_KEY_LABELS: readonly string[] = [
  'PRIVATE KEY',
  'ENCRYPTED PRIVATE KEY',
  'RSA PRIVATE KEY',
  'EC PRIVATE KEY',
  'DSA PRIVATE KEY',
  'OPENSSH PRIVATE KEY',
];

/** True when the text contains any private key block, under any label. */
export function containsPrivateKey(text: string): boolean {
  return /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text);
}

/**
 * Returns DER blocks of the input: every PEM block with one of `labels`, or the
 * whole input as one DER blob when it is not PEM.
 * @throws MTLS_PEM_INVALID when PEM has no block with a wanted label
 */
export function derBlocksOf(
  data: string | Uint8Array,
  labels: readonly string[],
  source = 'input',
): [Buffer, ...Buffer[]] {
  if (isPem(data)) {
    const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
    const [first, ...rest] = decodePemBlocks(text, source).filter((b) => labels.includes(b.label));
    if (!first) {
      throw new MtlsError('MTLS_PEM_INVALID', `${source}: no ${labels.join(' / ')} block found`, {
        subject: source,
      });
    }
    return [first.der, ...rest.map((b) => b.der)];
  }
  const buf = typeof data === 'string' ? Buffer.from(data, 'binary') : Buffer.from(data);
  if (buf.length === 0)
    throw new MtlsError('MTLS_PEM_INVALID', `${source}: the file is empty`, { subject: source });
  return [buf];
}
