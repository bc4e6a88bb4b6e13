/**
 * The CA directory layout `openssl ca` expects (certs/, crl/, newcerts/,
 * private/, index.txt, serial, crlnumber), as `mtls ca init` creates it.
 */
import { join } from 'node:path';

/** Paths inside a CA directory made by `mtls ca init`. */
export interface CaLayout {
  dir: string;
  certs: string;
  crlDir: string;
  newCerts: string;
  privateDir: string;
  database: string;
  databaseAttr: string;
  serial: string;
  crlNumber: string;
  crl: string;
  config: string;
  caCert: string;
  caKey: string;
}

/** The standard layout rooted at `dir` (absolute). */
export function caLayout(dir: string): CaLayout {
  return {
    dir,
    certs: join(dir, 'certs'),
    crlDir: join(dir, 'crl'),
    newCerts: join(dir, 'newcerts'),
    privateDir: join(dir, 'private'),
    database: join(dir, 'index.txt'),
    databaseAttr: join(dir, 'index.txt.attr'),
    serial: join(dir, 'serial'),
    crlNumber: join(dir, 'crlnumber'),
    crl: join(dir, 'crl', 'ca.crl.pem'),
    config: join(dir, 'openssl.cnf'),
    caCert: join(dir, 'certs', 'ca.cert.pem'),
    caKey: join(dir, 'private', 'ca.key.pem'),
  };
}
