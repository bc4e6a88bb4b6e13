/**
 * PKCS#10 certificate signing requests (RFC 2986): creation, parsing, and
 * signature checks.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { MtlsError } from '../errors/index.js';
import { signingAlgorithmFor, toCryptoKeyPair } from './keys.js';
import type { DistinguishedName } from './names.js';
import { derBlocksOf } from './pem.js';
import { readCsrDer } from './read-x509.js';
import type { GeneralNameSpec } from './profile.js';
import { fromX509Name, toX509Name } from './x509-name.js';
import { toGeneralNames } from './extensions.js';
import { errorMessage } from '../errors/mtls-error.js';

/** Inputs for {@link createCsr}. */
export interface CreateCsrOptions {
  subject: DistinguishedName;
  privateKey: KeyObject;
  /** Requested subjectAltNames (sent in an extensionRequest attribute). */
  subjectAltNames?: GeneralNameSpec[];
}

/** A parsed CSR. */
export interface ParsedCsr {
  request: x509.Pkcs10CertificateRequest;
  subject: DistinguishedName;
  publicKey: KeyObject;
  /** subjectAltNames requested in the extensionRequest, if any. */
  subjectAltNames: GeneralNameSpec[];
  /** True when the request asks for basicConstraints CA:TRUE. */
  requestsCa: boolean;
  der: Buffer;
  pem: string;
}

/** Builds and signs a CSR with the subject's key (SHA-256; Ed25519 pure). */
export async function createCsr(options: CreateCsrOptions): Promise<ParsedCsr> {
  const signingAlgorithm = signingAlgorithmFor(options.privateKey);
  const keys = await toCryptoKeyPair(
    options.privateKey,
    'hash' in signingAlgorithm ? signingAlgorithm.hash : undefined,
  );
  const extensions: x509.Extension[] = [];
  if (options.subjectAltNames?.length) {
    extensions.push(
      new x509.SubjectAlternativeNameExtension(
        toGeneralNames(options.subjectAltNames, options.subject),
      ),
    );
  }
  const request = await x509.Pkcs10CertificateRequestGenerator.create({
    name: toX509Name(options.subject),
    keys,
    signingAlgorithm,
    ...(extensions.length ? { extensions } : {}),
  });
  return describeCsr(request);
}

function describeCsr(request: x509.Pkcs10CertificateRequest): ParsedCsr {
  const publicKey = createPublicKey({
    key: Buffer.from(request.publicKey.rawData),
    format: 'der',
    type: 'spki',
  });
  const sanRaw = request.extensions.find((e) => e.type === '2.5.29.17');
  const sanExt = sanRaw ? new x509.SubjectAlternativeNameExtension(sanRaw.rawData) : undefined;
  const subjectAltNames: GeneralNameSpec[] = [];
  for (const n of sanExt?.names.items ?? []) {
    if (n.type === 'dns') subjectAltNames.push({ type: 'dns', value: n.value });
    else if (n.type === 'ip') subjectAltNames.push({ type: 'ip', value: n.value });
    else if (n.type === 'email') subjectAltNames.push({ type: 'email', value: n.value });
    else if (n.type === 'url') subjectAltNames.push({ type: 'uri', value: n.value });
  }
  const bcRaw = request.extensions.find((e) => e.type === '2.5.29.19');
  const bc = bcRaw ? new x509.BasicConstraintsExtension(bcRaw.rawData) : undefined;
  const der = Buffer.from(request.rawData);
  return {
    request,
    subject: fromX509Name(request.subjectName),
    publicKey,
    subjectAltNames,
    requestsCa: bc?.ca === true,
    der,
    pem: request.toString('pem') + '\n',
  };
}

/**
 * Parses a CSR from PEM (`CERTIFICATE REQUEST` / `NEW CERTIFICATE REQUEST`) or DER.
 * Does not check the signature; see {@link verifyCsrSignature}.
 * @throws MTLS_PEM_INVALID / MTLS_DER_INVALID
 */
export function parseCsr(data: string | Uint8Array, source = 'CSR'): ParsedCsr {
  const [der] = derBlocksOf(data, ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'], source);
  const request = readCsrDer(der, source);
  try {
    return describeCsr(request);
  } catch (e) {
    // The library decoded every part; what is left is OpenSSL reading the key, or a requested extension's value.
    throw new MtlsError(
      'MTLS_DER_INVALID',
      `the public key or a requested extension of ${source} is malformed (${errorMessage(e)})`,
      {
        subject: source,
        cause: e,
        hint: `The request is corrupt; generate ${source} again from its key.`,
      },
    );
  }
}

/**
 * Checks the CSR's self-signature (proof of possession, RFC 2986 §3).
 * @throws MTLS_CSR_SIGNATURE when it fails
 */
export async function verifyCsrSignature(csr: ParsedCsr, source = 'CSR'): Promise<void> {
  let ok = false;
  try {
    ok = await csr.request.verify();
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new MtlsError(
      'MTLS_CSR_SIGNATURE',
      `${source}: the request's signature does not verify with its own public key`,
      { subject: source },
    );
  }
}
