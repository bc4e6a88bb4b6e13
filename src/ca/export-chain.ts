/**
 * `mtls ca chain`: the public chain the institution sends to the provider
 * (its CA certificates, never a key). It re-encodes certificates from DER, so nothing but
 * CERTIFICATE blocks can ever reach the output — never a private key.
 */
import { MtlsError } from '../errors/index.js';
import { readFileChecked, writeFileAtomic } from '../io/index.js';
import { fingerprintSha256, parseCertificates } from '../pki/certificate.js';
import { containsPrivateKey, encodePem } from '../pki/pem.js';
import { readCaChain } from './ca-chain.js';
import type { OpenCa } from './open-ca.js';

/** Inputs for {@link exportChain}. */
export interface ExportChainOptions {
  /** The CA whose certificate (with its ca-chain.cert.pem, for an intermediate) to export. */
  ca?: OpenCa;
  /** More certificate files to include (intermediates or the root). */
  files?: string[];
  /** Write the chain here (atomic; refuses to overwrite without `force`). */
  outPath?: string;
  force?: boolean;
}

/** One certificate of the exported chain. */
export interface ChainCertificate {
  subject: string;
  issuer: string;
  serial: string;
  notAfter: Date;
  selfSigned: boolean;
  fingerprintSha256: string;
}

/** Result of {@link exportChain}. */
export interface ExportChainResult {
  pem: string;
  certificates: ChainCertificate[];
  outPath?: string;
}

/**
 * Builds the chain, leaf-most CA first, root last, without duplicates.
 * @throws MTLS_PRIVATE_KEY_IN_CHAIN when any input holds a private key
 * @throws MTLS_PEM_INVALID, MTLS_FILE_NOT_FOUND, MTLS_FILE_EXISTS, MTLS_USAGE
 */
export async function exportChain(options: ExportChainOptions): Promise<ExportChainResult> {
  const inputs: Array<{ source: string; data: Buffer | string }> = [];
  if (options.ca) {
    // An intermediate CA exports its whole chain (ca-chain.cert.pem), root included.
    const chain = await readCaChain(options.ca);
    inputs.push({
      source: chain.path ?? options.ca.config.certificate,
      data: chain.path ? chain.pem : options.ca.certificatePem,
    });
  }
  for (const f of options.files ?? [])
    inputs.push({ source: f, data: await readFileChecked(f, 'certificate file') });
  if (inputs.length === 0)
    throw new MtlsError(
      'MTLS_USAGE',
      'nothing to export: give a CA directory or certificate files',
    );
  const certs = [];
  for (const input of inputs) {
    const text = typeof input.data === 'string' ? input.data : input.data.toString('latin1');
    if (containsPrivateKey(text)) {
      throw new MtlsError(
        'MTLS_PRIVATE_KEY_IN_CHAIN',
        `${input.source} contains a PRIVATE KEY; a private key must never be sent to the provider`,
        {
          subject: input.source,
        },
      );
    }
    certs.push(...parseCertificates(input.data, input.source));
  }
  const seen = new Set<string>();
  const unique = certs.filter((c) => {
    const fp = fingerprintSha256(c);
    if (seen.has(fp)) return false;
    seen.add(fp);
    return true;
  });
  // Order: leaf-most CA first, root last (RFC 5246 §7.4.2 order).
  unique.sort((a, b) => depth(b, unique) - depth(a, unique));
  const pem = unique.map((c) => encodePem('CERTIFICATE', Buffer.from(c.rawData))).join('');
  if (options.outPath)
    await writeFileAtomic(options.outPath, pem, { mode: 0o644, force: options.force ?? false });
  return {
    pem,
    certificates: unique.map((c) => ({
      subject: c.subject,
      issuer: c.issuer,
      serial: c.serialNumber.toUpperCase(),
      notAfter: c.notAfter,
      selfSigned: c.subject === c.issuer,
      fingerprintSha256: fingerprintSha256(c),
    })),
    ...(options.outPath ? { outPath: options.outPath } : {}),
  };
}

/** Distance from the root: 0 for a self-signed certificate. */
function depth(
  c: { subject: string; issuer: string },
  all: ReadonlyArray<{ subject: string; issuer: string }>,
): number {
  let d = 0;
  let cur = c;
  while (cur.subject !== cur.issuer && d < all.length) {
    const parent = all.find((p) => p.subject === cur.issuer);
    if (!parent) break;
    cur = parent;
    d++;
  }
  return d;
}
