/**
 * Text rendering of descriptions, laid out as `openssl x509 -text`,
 * `openssl req -text` and `openssl crl -text` lay them out, so the two can be
 * read side by side.
 */
import { colonHex, formatOpenSslDate } from './asn1.js';
import type {
  AlgorithmDescription,
  CertificateDescription,
  CrlDescription,
  CsrDescription,
} from './describe.js';
import type { ExtensionDescription } from './extensions.js';
import type { GeneralNameDescription } from './general-names.js';
import {
  ACCESS_METHODS,
  CRL_REASONS,
  KEY_USAGE_DISPLAY,
  NS_CERT_TYPE_DISPLAY,
} from './oid-names.js';
import { formatOpenSslText } from '../names.js';
import { KEY_USAGE_NAMES, NS_CERT_TYPE_NAMES } from '../profile.js';
import type { PublicKeyDescription } from './public-key.js';

const pad = (n: number): string => ' '.repeat(n);

/** Colon hex in lines of `perLine` bytes, as OpenSSL dumps moduli (15) and signatures (18). */
function hexBlock(hexText: string, perLine: number, indent: number): string[] {
  const bytes = hexText.match(/../g) ?? [];
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += perLine) {
    const last = i + perLine >= bytes.length;
    lines.push(pad(indent) + bytes.slice(i, i + perLine).join(':') + (last ? '' : ':'));
  }
  return lines;
}

function names(list: GeneralNameDescription[]): string {
  return list.map((n) => n.text).join(', ');
}

/**
 * A GeneralName as OpenSSL's GENERAL_NAME_print shows it (CRL distribution
 * points, name constraints): the same as {@link GeneralNameDescription.text}
 * except that a directoryName is in `C = BR, CN = x` form.
 */
function printed(n: GeneralNameDescription): string {
  return n.type === 'dirName' && n.dn ? `DirName:${formatOpenSslText(n.dn)}` : n.text;
}

/** A CRL or crlNumber INTEGER as OpenSSL prints it: decimal below 128 bits, else 0x-hex. */
function bigNumberText(decimal: string): string {
  const n = BigInt(decimal);
  return n.toString(2).length < 128 ? n.toString() : `0x${n.toString(16).toUpperCase()}`;
}

/** The value lines of one extension (without indentation). */
export function renderExtensionValue(ext: ExtensionDescription): string[] {
  switch (ext.kind) {
    case 'basicConstraints':
      return [
        `CA:${ext.ca ? 'TRUE' : 'FALSE'}${ext.pathLenConstraint !== undefined ? `, pathlen:${ext.pathLenConstraint}` : ''}`,
      ];
    case 'keyUsage':
      return [ext.usages.map((u) => KEY_USAGE_DISPLAY[KEY_USAGE_NAMES.indexOf(u)]).join(', ')];
    case 'extendedKeyUsage':
      return [ext.purposes.map((p) => p.text).join(', ')];
    case 'subjectKeyIdentifier':
      return [colonHex(ext.keyIdentifier, true)];
    case 'authorityKeyIdentifier': {
      if (ext.keyIdentifier && !ext.authorityCertIssuer && !ext.authorityCertSerialNumber)
        return [colonHex(ext.keyIdentifier, true)];
      const lines: string[] = [];
      if (ext.keyIdentifier) lines.push(`keyid:${colonHex(ext.keyIdentifier, true)}`);
      for (const n of ext.authorityCertIssuer ?? []) lines.push(n.text);
      if (ext.authorityCertSerialNumber)
        lines.push(`serial:${colonHex(ext.authorityCertSerialNumber, true)}`);
      return lines;
    }
    case 'subjectAltName':
    case 'issuerAltName':
    case 'certificateIssuer':
      return [names(ext.names)];
    case 'nsCertType':
      return [ext.types.map((t) => NS_CERT_TYPE_DISPLAY[NS_CERT_TYPE_NAMES.indexOf(t)]).join(', ')];
    case 'nsComment':
      return [ext.comment];
    case 'crlDistributionPoints':
    case 'freshestCrl': {
      const lines: string[] = [];
      for (const dp of ext.points) {
        if (dp.fullName) lines.push('Full Name:', ...dp.fullName.map((n) => `  ${printed(n)}`));
        if (dp.relativeName !== undefined) lines.push('Relative Name:', `  ${dp.relativeName}`);
        if (dp.reasons) lines.push(`Reasons: ${dp.reasons.join(', ')}`);
        if (dp.crlIssuer) lines.push('CRL Issuer:', ...dp.crlIssuer.map((n) => `  ${printed(n)}`));
      }
      return lines;
    }
    case 'authorityInfoAccess':
    case 'subjectInfoAccess':
      return ext.accessDescriptions.map(
        (a) => `${ACCESS_METHODS[a.methodOid]?.display ?? a.methodOid} - ${a.location.text}`,
      );
    case 'certificatePolicies': {
      const lines: string[] = [];
      for (const p of ext.policies) {
        lines.push(`Policy: ${p.text}`);
        for (const q of p.qualifiers) {
          if (q.type === 'cps') lines.push(`  CPS: ${q.uri}`);
          else if (q.type === 'userNotice') {
            lines.push('  User Notice:');
            if (q.organization !== undefined) lines.push(`    Organization: ${q.organization}`);
            if (q.noticeNumbers)
              lines.push(
                `    Number${q.noticeNumbers.length > 1 ? 's' : ''}: ${q.noticeNumbers.join(', ')}`,
              );
            if (q.explicitText !== undefined) lines.push(`    Explicit Text: ${q.explicitText}`);
          } else lines.push(`  Unknown Qualifier: ${q.oid}`);
        }
      }
      return lines;
    }
    case 'nameConstraints': {
      const lines: string[] = [];
      if (ext.permitted.length)
        lines.push('Permitted:', ...ext.permitted.map((n) => `  ${printed(n)}`));
      if (ext.excluded.length)
        lines.push('Excluded:', ...ext.excluded.map((n) => `  ${printed(n)}`));
      return lines;
    }
    case 'policyConstraints': {
      const parts: string[] = [];
      if (ext.requireExplicitPolicy !== undefined)
        parts.push(`Require Explicit Policy:${ext.requireExplicitPolicy}`);
      if (ext.inhibitPolicyMapping !== undefined)
        parts.push(`Inhibit Policy Mapping:${ext.inhibitPolicyMapping}`);
      return [parts.join(', ')];
    }
    case 'inhibitAnyPolicy':
      return [String(ext.skipCerts)];
    case 'crlNumber':
    case 'deltaCrlIndicator':
      return [bigNumberText(ext.number)];
    case 'crlReason':
      return [CRL_REASONS[ext.code]?.display ?? ext.reason];
    case 'invalidityDate':
      return [formatOpenSslDate(new Date(ext.date))];
    case 'ocspNoCheck':
      return [];
    case 'tlsFeature':
      return ext.features;
    case 'unknown':
      return [...(ext.error ? [`<undecodable: ${ext.error}>`] : []), ...hexBlock(ext.hex, 18, 0)];
  }
}

function renderExtensions(exts: ExtensionDescription[], indent: number): string[] {
  const lines: string[] = [];
  for (const e of exts) {
    lines.push(`${pad(indent)}${e.name}:${e.critical ? ' critical' : ''}`);
    for (const v of renderExtensionValue(e)) lines.push(pad(indent + 4) + v);
  }
  return lines;
}

function renderPublicKey(pk: PublicKeyDescription, indent: number): string[] {
  const lines = [`${pad(indent)}Public Key Algorithm: ${pk.algorithm}`];
  const i = indent + 4;
  if (pk.rsa) {
    const e = BigInt(pk.rsa.exponent);
    lines.push(
      `${pad(i)}Public-Key: (${pk.bits} bit)`,
      `${pad(i)}Modulus:`,
      ...hexBlock(pk.rsa.modulus, 15, i + 4),
    );
    lines.push(`${pad(i)}Exponent: ${e} (0x${e.toString(16)})`);
  } else if (pk.ec) {
    lines.push(
      `${pad(i)}Public-Key: (${pk.bits} bit)`,
      `${pad(i)}pub:`,
      ...hexBlock(pk.ec.publicPoint, 15, i + 4),
    );
    lines.push(`${pad(i)}ASN1 OID: ${pk.ec.curve ?? pk.ec.curveOid}`);
    if (pk.ec.nistCurve) lines.push(`${pad(i)}NIST CURVE: ${pk.ec.nistCurve}`);
  } else {
    const edLike =
      pk.algorithm === 'ED25519' ||
      pk.algorithm === 'ED448' ||
      pk.algorithm === 'X25519' ||
      pk.algorithm === 'X448';
    lines.push(
      edLike ? `${pad(i)}${pk.algorithm} Public-Key:` : `${pad(i)}Public-Key: (${pk.bits} bit)`,
    );
    lines.push(`${pad(i)}pub:`, ...hexBlock(pk.publicKey ?? '', 15, i + 4));
  }
  return lines;
}

/** The algorithm line, plus RSASSA-PSS parameters as OpenSSL lists them. */
function algorithmLines(label: string, a: AlgorithmDescription, indent: number): string[] {
  const lines = [`${pad(indent)}${label}: ${a.name}`];
  if (a.pss) {
    const hex2 = (n: number): string => `0x${n.toString(16).toUpperCase().padStart(2, '0')}`;
    lines.push(
      `${pad(indent + 4)}Hash Algorithm: ${a.pss.hash}`,
      `${pad(indent + 4)}Mask Algorithm: ${a.pss.maskGeneration} with ${a.pss.maskHash}`,
      `${pad(indent + 4)}Salt Length: ${hex2(a.pss.saltLength)}`,
      `${pad(indent + 4)}Trailer Field: ${hex2(a.pss.trailerField)}${a.pss.trailerField === 1 ? ' (default)' : ''}`,
    );
  }
  return lines;
}

function serialLines(serialHex: string, negative: boolean): string[] {
  const stripped = serialHex.replace(/^0+(?=.)/, '');
  const bytes = Math.ceil(stripped.length / 2);
  const v = BigInt(`0x${serialHex}`);
  // OpenSSL prints serials that fit a signed long as decimal (x509/t_x509.c).
  if (!negative && bytes <= 8 && v < 2n ** 63n)
    return [`${pad(8)}Serial Number: ${v} (0x${v.toString(16)})`];
  const even = stripped.length % 2 ? `0${stripped}` : stripped;
  return [`${pad(8)}Serial Number:${negative ? ' (Negative)' : ''}`, `${pad(12)}${colonHex(even)}`];
}

/**
 * Renders a certificate as `openssl x509 -text -noout` does, followed by its
 * SHA-256 and SHA-1 fingerprints.
 */
export function renderCertificateText(d: CertificateDescription): string {
  const lines = [
    'Certificate:',
    '    Data:',
    `${pad(8)}Version: ${d.version} (0x${(d.version - 1).toString(16)})`,
    ...serialLines(d.serialNumber, d.serialNegative),
    ...algorithmLines('Signature Algorithm', d.signatureAlgorithm, 8),
    `${pad(8)}Issuer: ${d.issuer.text}`,
    `${pad(8)}Validity`,
    `${pad(12)}Not Before: ${formatOpenSslDate(new Date(d.notBefore))}`,
    `${pad(12)}Not After : ${formatOpenSslDate(new Date(d.notAfter))}`,
    `${pad(8)}Subject: ${d.subject.text}`,
    `${pad(8)}Subject Public Key Info:`,
    ...renderPublicKey(d.publicKey, 12),
  ];
  if (d.extensions.length)
    lines.push(`${pad(8)}X509v3 extensions:`, ...renderExtensions(d.extensions, 12));
  lines.push(
    ...algorithmLines('Signature Algorithm', d.signature, 4),
    '    Signature Value:',
    ...hexBlock(d.signature.value, 18, 8),
  );
  lines.push(
    `SHA256 Fingerprint=${d.fingerprints.sha256}`,
    `SHA1 Fingerprint=${d.fingerprints.sha1}`,
  );
  return lines.join('\n') + '\n';
}

/**
 * Renders a CSR as `openssl req -text -noout` does, followed by whether its
 * self-signature verifies (as `openssl req -verify` reports it).
 */
export function renderCsrText(d: CsrDescription): string {
  const lines = [
    'Certificate Request:',
    '    Data:',
    `${pad(8)}Version: ${d.version + 1} (0x${d.version.toString(16)})`,
    `${pad(8)}Subject: ${d.subject.text}`,
    `${pad(8)}Subject Public Key Info:`,
    ...renderPublicKey(d.publicKey, 12),
    `${pad(8)}Attributes:`,
  ];
  if (!d.attributes.length && !d.requestedExtensions.length) lines.push(`${pad(12)}(none)`);
  for (const a of d.attributes) lines.push(`${pad(12)}${a.name.padEnd(25)}:${a.values.join(', ')}`);
  if (d.requestedExtensions.length)
    lines.push(`${pad(12)}Requested Extensions:`, ...renderExtensions(d.requestedExtensions, 16));
  lines.push(
    ...algorithmLines('Signature Algorithm', d.signature, 4),
    '    Signature Value:',
    ...hexBlock(d.signature.value, 18, 8),
  );
  lines.push(
    `Self-signature: ${d.signatureValid ? 'OK' : 'FAILED (the request was altered or is corrupt)'}`,
  );
  return lines.join('\n') + '\n';
}

/** Renders a CRL as `openssl crl -text -noout` does. */
export function renderCrlText(d: CrlDescription): string {
  const lines = [
    'Certificate Revocation List (CRL):',
    `${pad(8)}Version ${d.version} (0x${(d.version - 1).toString(16)})`,
    ...algorithmLines('Signature Algorithm', d.signatureAlgorithm, 8),
    `${pad(8)}Issuer: ${d.issuer.text}`,
    `${pad(8)}Last Update: ${formatOpenSslDate(new Date(d.thisUpdate))}`,
    `${pad(8)}Next Update: ${d.nextUpdate ? formatOpenSslDate(new Date(d.nextUpdate)) : 'NONE'}`,
  ];
  if (d.extensions.length)
    lines.push(`${pad(8)}CRL extensions:`, ...renderExtensions(d.extensions, 12));
  if (!d.revoked.length) lines.push('No Revoked Certificates.');
  else {
    lines.push('Revoked Certificates:');
    for (const r of d.revoked) {
      lines.push(
        `    Serial Number: ${r.serialNumber}`,
        `${pad(8)}Revocation Date: ${formatOpenSslDate(new Date(r.revocationDate))}`,
      );
      if (r.extensions.length)
        lines.push(`${pad(8)}CRL entry extensions:`, ...renderExtensions(r.extensions, 12));
    }
  }
  lines.push(
    ...algorithmLines('Signature Algorithm', d.signature, 4),
    '    Signature Value:',
    ...hexBlock(d.signature.value, 18, 8),
  );
  return lines.join('\n') + '\n';
}
