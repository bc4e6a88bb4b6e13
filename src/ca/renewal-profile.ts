/**
 * What a renewal keeps from the certificate it replaces: the extension
 * profile it was issued with (index.txt does not record it, so it is read
 * back from the certificate's extensions), its subjectAltNames, and its key type.
 */
import * as x509 from '@peculiar/x509';
import { MtlsError } from '../errors/index.js';
import { certificatePublicKey } from '../pki/certificate.js';
import { describeKey, KEY_TYPES, type KeyType } from '../pki/keys.js';
import { EKU_OIDS, type ExtensionProfile, type GeneralNameSpec } from '../pki/profile.js';
import type { OpenCa } from './open-ca.js';

const NS_CERT_TYPE_OID = '2.16.840.1.113730.1.1';

function ekuSet(oids: readonly string[]): string {
  return [...oids].sort().join(',');
}

/** The leaf profile's fingerprint: CA flag, EKU set, Netscape cert type present. */
function profileShape(p: ExtensionProfile): string {
  return [
    p.basicConstraints?.value.ca === true,
    ekuSet((p.extendedKeyUsage?.value ?? []).map((u) => EKU_OIDS[u] ?? u)),
    (p.nsCertType?.length ?? 0) > 0,
  ].join('|');
}

function certificateShape(cert: x509.X509Certificate): string {
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages.map(String) ?? [];
  return [
    cert.getExtension(x509.BasicConstraintsExtension)?.ca === true,
    ekuSet(eku),
    cert.extensions.some((e) => e.type === NS_CERT_TYPE_OID),
  ].join('|');
}

/**
 * Finds the CA profile a certificate was issued with: the one whose
 * basicConstraints CA flag, extendedKeyUsage set and Netscape cert type
 * match the certificate's; among several, the one whose keyUsage matches too.
 * @throws MTLS_RENEW_PROFILE_UNKNOWN when no profile of the CA matches
 */
export function detectProfile(ca: OpenCa, cert: x509.X509Certificate): ExtensionProfile {
  const shape = certificateShape(cert);
  const candidates = Object.values(ca.config.profiles).filter(
    (p) => p.name !== 'crl_ext' && p.name !== 'v3_req' && profileShape(p) === shape,
  );
  const ku = cert.getExtension(x509.KeyUsagesExtension)?.usages;
  const best = candidates.find((p) => {
    let flags = 0;
    for (const u of p.keyUsage?.value ?? []) flags |= x509.KeyUsageFlags[u];
    const wanted: number = ku ?? 0;
    return flags === wanted;
  });
  const found = best ?? candidates[0];
  if (!found) {
    throw new MtlsError(
      'MTLS_RENEW_PROFILE_UNKNOWN',
      `no profile in ${ca.config.configPath} matches the extensions of ${cert.subject} (serial ${cert.serialNumber})`,
      {
        subject: cert.serialNumber,
        hint: `Name the profile to renew with (profiles: ${Object.keys(ca.config.profiles).join(', ')}).`,
      },
    );
  }
  return found;
}

/**
 * The certificate's subjectAltNames as profile GeneralNames.
 * @throws MTLS_RENEW_PROFILE_UNKNOWN for names mtlskit cannot issue (otherName: GUID, UPN)
 */
export function subjectAltNamesOf(cert: x509.X509Certificate): GeneralNameSpec[] {
  const ext = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (!ext) return [];
  return ext.names.items.map((n): GeneralNameSpec => {
    switch (n.type) {
      case 'dns':
        return { type: 'dns', value: n.value };
      case 'ip':
        return { type: 'ip', value: n.value };
      case 'email':
        return { type: 'email', value: n.value };
      case 'url':
        return { type: 'uri', value: n.value };
      case 'id':
        return { type: 'rid', value: n.value };
      case 'dn':
        return { type: 'dirName', value: new x509.Name(n.value).toString() };
      default:
        throw new MtlsError(
          'MTLS_RENEW_PROFILE_UNKNOWN',
          `${cert.subject} has a subjectAltName of type ${n.type}, which mtlskit cannot issue`,
          {
            subject: cert.serialNumber,
            hint: 'Issue the replacement from a CSR with `mtls ca sign`.',
          },
        );
    }
  });
}

/** The key type of a certificate's public key, for a renewal with a new key of the same kind. */
export function keyTypeOf(cert: x509.X509Certificate): KeyType {
  const d = describeKey(certificatePublicKey(cert));
  const rsa = KEY_TYPES.find((t) => t === `rsa${d.bits}`);
  if (d.algorithm === 'rsa' && rsa) return rsa;
  if (d.algorithm === 'ec' && d.curve === 'P-256') return 'ec-p256';
  if (d.algorithm === 'ec' && d.curve === 'P-384') return 'ec-p384';
  if (d.algorithm === 'ed25519') return 'ed25519';
  throw new MtlsError(
    'MTLS_KEY_UNSUPPORTED',
    `${cert.subject} has a ${d.text} key, which mtlskit does not generate`,
    {
      subject: cert.serialNumber,
      hint: 'Choose the new key type: rsa2048, rsa3072, rsa4096, ec-p256, ec-p384 or ed25519.',
    },
  );
}
