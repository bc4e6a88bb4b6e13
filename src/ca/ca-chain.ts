/**
 * The issuing CA's chain up to its root. A root CA's chain is its own
 * certificate; an intermediate made by `mtls ca init --intermediate` keeps
 * `ca-chain.cert.pem` (intermediate first, root last) next to its
 * certificate, the layout OpenSSL-based CA guides use for the same file.
 */
import { dirname, join } from 'node:path';
import type * as x509 from '@peculiar/x509';
import { MtlsError } from '../errors/index.js';
import { pathExists, readFileChecked } from '../io/index.js';
import { fingerprintSha256, parseCertificates, toNodeCertificate } from '../pki/certificate.js';
import { isIssuedBy } from '../pki/chain-order.js';
import { encodePem } from '../pki/pem.js';
import type { OpenCa } from './open-ca.js';

/** The chain file's name, in the directory of the CA certificate. */
export const CA_CHAIN_FILE = 'ca-chain.cert.pem';

/** Where the chain of the CA whose certificate is `certificatePath` lives. */
export function caChainPath(certificatePath: string): string {
  return join(dirname(certificatePath), CA_CHAIN_FILE);
}

/** Result of {@link readCaChain}. */
export interface CaChainResult {
  /** The CA's certificate first, then each issuer up to the root. */
  certificates: x509.X509Certificate[];
  /** The same certificates as one PEM bundle. */
  pem: string;
  /** The chain file, when the CA has one (an intermediate). */
  path?: string;
}

/**
 * Reads the CA's chain: `ca-chain.cert.pem` when present, else the CA
 * certificate alone (a root).
 * @throws MTLS_CA_CORRUPT when the chain file does not start with the CA
 *   certificate or a certificate in it was not issued by the next one
 */
export async function readCaChain(ca: OpenCa): Promise<CaChainResult> {
  const path = caChainPath(ca.config.certificate);
  if (!(await pathExists(path))) {
    return {
      certificates: [ca.certificate],
      pem: encodePem('CERTIFICATE', Buffer.from(ca.certificate.rawData)),
    };
  }
  const certificates = parseCertificates(await readFileChecked(path, 'CA chain'), path);
  const [first] = certificates;
  if (!first || fingerprintSha256(first) !== fingerprintSha256(ca.certificate)) {
    throw new MtlsError(
      'MTLS_CA_CORRUPT',
      `${path} does not start with the CA certificate ${ca.config.certificate}`,
      {
        subject: path,
        hint: `Rebuild it: cat ${ca.config.certificate} PARENT-CHAIN.pem > ${path}`,
      },
    );
  }
  for (const [i, child] of certificates.entries()) {
    const parent = certificates[i + 1];
    if (!parent) break;
    if (!isIssuedBy(toNodeCertificate(child), toNodeCertificate(parent))) {
      throw new MtlsError(
        'MTLS_CA_CORRUPT',
        `${path}: certificate #${i + 1} (${child.subject}) was not issued by certificate #${i + 2} (${parent.subject})`,
        {
          subject: path,
          hint: 'The file must list the CA certificate first and each issuer after it, root last.',
        },
      );
    }
  }
  return {
    certificates,
    pem: certificates.map((c) => encodePem('CERTIFICATE', Buffer.from(c.rawData))).join(''),
    path,
  };
}
