/**
 * The one place where outside DER becomes an `@peculiar/x509` certificate,
 * CRL or CSR. The library decodes most fields lazily, on first access, so a
 * corrupt extension would otherwise surface far from the file it came from
 * as a raw asn1js error ("Data does not match to AuthorityKeyIdentifier ASN1
 * schema"). These readers touch every lazily decoded part once, here, and
 * turn a failure into MTLS_DER_INVALID naming the broken structure.
 */
// @peculiar/x509 needs the polyfill; the PKCS#12 reader reaches this module
// without going through an entry point that loads it.
import 'reflect-metadata';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, CertificateList, type Extension as AsnExtension } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import { MtlsError } from '../errors/index.js';
import { EXTENSION_NAMES } from './inspect/oid-names.js';
import type { DistinguishedName } from './names.js';
import { fromX509Name } from './x509-name.js';

/** `the authorityKeyIdentifier extension`, or the OID when unknown. */
function extensionLabel(oid: string): string {
  return `the ${EXTENSION_NAMES[oid]?.short ?? oid} extension`;
}

/** MTLS_DER_INVALID saying which part of which object is malformed. */
function malformed(part: string, what: string, cause: unknown): MtlsError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new MtlsError('MTLS_DER_INVALID', `${part} of ${what} is malformed (${why})`, {
    subject: what,
    cause,
    hint: `The file is corrupt or truncated at ${part}; get a fresh copy of ${what} from its issuer (or re-export it) and try again.`,
  });
}

/** Runs `get`, naming `part` when the library fails. */
function part<T>(name: string, what: string, get: () => T): T {
  try {
    return get();
  } catch (e) {
    if (e instanceof MtlsError) throw e;
    throw malformed(name, what, e);
  }
}

/**
 * Every form of a Name that callers use: the text, and the DN read back from
 * the DER the library re-encodes from its decoded values (issuer matching, DN
 * formatting). An attribute whose value does not fit its type (a countryName
 * sent as a UTCTime, an unknown tag) prints but cannot be re-encoded or read
 * back, so both are done here.
 */
function nameForms(name: x509.Name): [string, DistinguishedName] {
  return [name.toString(), fromX509Name(name)];
}

/**
 * Decodes extensions through the library, one by one when the list as a
 * whole fails, so the message names the extension that is broken.
 */
function checkExtensions(
  touchAll: () => unknown,
  raw: () => readonly AsnExtension[] | undefined,
  what: string,
  scope = '',
): void {
  try {
    touchAll();
    return;
  } catch (e) {
    if (e instanceof MtlsError) throw e;
    const list = part(`the extensions${scope}`, what, raw) ?? [];
    for (const ext of list)
      part(`${extensionLabel(ext.extnID)}${scope}`, what, () =>
        x509.ExtensionFactory.create(AsnConvert.serialize(ext)),
      );
    throw malformed(`the extensions${scope}`, what, e);
  }
}

/**
 * Reads one DER certificate and decodes all of it.
 * @param what - names the object in messages (`certificate #2 of chain.pem`)
 * @throws MTLS_DER_INVALID naming the malformed structure
 */
export function readCertificateDer(
  der: Uint8Array,
  what = 'the certificate',
): x509.X509Certificate {
  const cert = part('the DER structure', what, () => new x509.X509Certificate(der));
  part('the serialNumber', what, () => cert.serialNumber);
  part('the issuer name', what, () => nameForms(cert.issuerName));
  part('the subject name', what, () => nameForms(cert.subjectName));
  part('the validity', what, () => [cert.notBefore, cert.notAfter]);
  part('the signature algorithm', what, () => [cert.signatureAlgorithm, cert.signature]);
  part('the subjectPublicKeyInfo', what, () => cert.publicKey);
  checkExtensions(
    () => cert.extensions,
    () => AsnConvert.parse(der, Certificate).tbsCertificate.extensions,
    what,
  );
  return cert;
}

/**
 * Reads one DER CRL and decodes all of it, every entry included.
 * @throws MTLS_DER_INVALID naming the malformed structure (and the entry)
 */
export function readCrlDer(der: Uint8Array, what = 'the CRL'): x509.X509Crl {
  const crl = part('the DER structure', what, () => new x509.X509Crl(der));
  part('the issuer name', what, () => nameForms(crl.issuerName));
  part('thisUpdate / nextUpdate', what, () => [crl.thisUpdate, crl.nextUpdate]);
  part('the signature algorithm', what, () => [crl.signatureAlgorithm, crl.signature]);
  checkExtensions(
    () => crl.extensions,
    () => AsnConvert.parse(der, CertificateList).tbsCertList.crlExtensions,
    what,
  );
  const entries = part('the revokedCertificates list', what, () => crl.entries);
  entries.forEach((entry, i) => {
    const scope = ` of CRL entry #${i + 1}`;
    part(`the serialNumber${scope}`, what, () => entry.serialNumber);
    part(`the revocationDate${scope}`, what, () => entry.revocationDate);
    checkExtensions(
      () => [entry.extensions, entry.reason, entry.invalidity],
      () =>
        AsnConvert.parse(der, CertificateList).tbsCertList.revokedCertificates?.[i]
          ?.crlEntryExtensions,
      what,
      scope,
    );
  });
  return crl;
}

/**
 * Reads one DER PKCS#10 request and decodes all of it.
 * @throws MTLS_DER_INVALID naming the malformed structure
 */
export function readCsrDer(der: Uint8Array, what = 'the CSR'): x509.Pkcs10CertificateRequest {
  const csr = part('the DER structure', what, () => new x509.Pkcs10CertificateRequest(der));
  part('the subject name', what, () => nameForms(csr.subjectName));
  part('the signature algorithm', what, () => [csr.signatureAlgorithm, csr.signature]);
  part('the subjectPublicKeyInfo', what, () => csr.publicKey);
  part('the attributes', what, () => csr.attributes);
  part('the extensionRequest attribute', what, () => csr.extensions);
  return csr;
}
