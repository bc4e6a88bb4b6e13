/**
 * `mtls cert show --short`: one line per certificate, CSR or CRL, for
 * scanning bundles and for scripts that grep.
 */
import type { PkiObjectDescription } from '../pki/inspect/index.js';
import { formatDn } from '../pki/names.js';
import { crlNumberText } from './format.js';

const day = (iso: string): string => iso.slice(0, 10);

/** Colon hex as `openssl x509 -serial` writes it: upper-case, no separators. */
const serialText = (colonHex: string): string => colonHex.replace(/:/g, '').toUpperCase();

/**
 * One line describing `o`: its kind, name, key or issuer, validity and, for
 * a certificate, its serial and SHA-256 fingerprint.
 */
export function shortLine(o: PkiObjectDescription): string {
  switch (o.type) {
    case 'certificate':
      return [
        `certificate ${formatDn(o.subject.dn)}`,
        `issuer ${o.selfIssued ? '(self)' : formatDn(o.issuer.dn)}`,
        `serial ${serialText(o.serialNumber)}`,
        `${day(o.notBefore)}..${day(o.notAfter)}`,
        o.publicKey.summary,
        `SHA-256 ${o.fingerprints.sha256}`,
      ].join(' | ');
    case 'csr':
      return [
        `csr ${formatDn(o.subject.dn)}`,
        o.publicKey.summary,
        `signature ${o.signatureValid ? 'ok' : 'INVALID'}`,
      ].join(' | ');
    case 'crl':
      return [
        `crl ${formatDn(o.issuer.dn)}`,
        `number ${o.crlNumber !== undefined ? crlNumberText(BigInt(o.crlNumber)) : '-'}`,
        `${day(o.thisUpdate)}..${o.nextUpdate !== undefined ? day(o.nextUpdate) : '-'}`,
        `${o.revoked.length} revoked`,
      ].join(' | ');
  }
}
