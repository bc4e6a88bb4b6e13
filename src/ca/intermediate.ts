/**
 * `mtls ca init DIR --intermediate --parent ROOTDIR`: the root signs an
 * intermediate CA that becomes the issuing CA, so the root key can stay
 * offline. The root records the intermediate in its own index.txt, as
 * `openssl ca -extensions v3_intermediate_ca` would, and can revoke it.
 */
import type { KeyObject } from 'node:crypto';
import { resolve } from 'node:path';
import { MtlsError } from '../errors/index.js';
import { createCsr } from '../pki/csr.js';
import { generateKeyPair } from '../pki/keys.js';
import { parseSubject } from '../pki/names.js';
import { caChainPath, readCaChain } from './ca-chain.js';
import { assertEmptyOrMissing, initCa, type InitCaOptions, type InitCaResult } from './init-ca.js';
import { findProfile, type OpenCa } from './open-ca.js';
import { revokeCertificate } from './revoke.js';
import { signCsr } from './sign-csr.js';

/** The parent's profile that signs intermediates (basicConstraints CA:TRUE, pathlen:0). */
export const INTERMEDIATE_PROFILE = 'v3_intermediate_ca';

/** Default intermediate validity in days, shortened to the parent's remaining life. */
export const DEFAULT_INTERMEDIATE_DAYS = 3650;

/** Inputs for {@link initIntermediateCa}. */
export interface InitIntermediateCaOptions extends Omit<InitCaOptions, 'issued'> {
  /** The CA that signs the intermediate (usually the root). */
  parent: OpenCa;
  /** The parent's private key, already loaded. */
  parentKey: KeyObject;
}

/** Result of {@link initIntermediateCa}. */
export interface InitIntermediateCaResult extends InitCaResult {
  /** Where the parent recorded it: its serial in the parent's index.txt. */
  parentSerial: string;
  parentDir: string;
  /** DIR/certs/ca-chain.cert.pem: the intermediate then each issuer up to the root. */
  chainPath: string;
}

/**
 * Makes an intermediate CA directory signed by `parent` with the parent's
 * v3_intermediate_ca profile. The subject passes the parent's policy (with
 * policy_strict, C, ST and O must equal the root's). Default validity
 * {@link DEFAULT_INTERMEDIATE_DAYS} days or the parent's remaining life,
 * whichever is shorter. Should writing the new directory fail, the parent
 * revokes the certificate it just signed (cessationOfOperation).
 * @throws MTLS_FILE_EXISTS before signing when DIR is not empty
 * @throws MTLS_PATHLEN_EXCEEDED when the parent itself has pathlen 0
 * @throws everything {@link signCsr} and {@link initCa} throw
 */
export async function initIntermediateCa(
  options: InitIntermediateCaOptions,
): Promise<InitIntermediateCaResult> {
  const { parent } = options;
  const dir = resolve(options.dir);
  if (resolve(parent.config.dir) === dir) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `the intermediate's directory ${dir} is the parent CA's own`,
      { subject: dir, hint: 'Give the intermediate a new directory.' },
    );
  }
  if (options.passphrase === undefined && !options.noPassphrase) {
    throw new MtlsError(
      'MTLS_PASSPHRASE_REQUIRED',
      'the intermediate CA key needs a passphrase (or an explicit choice to store it unencrypted)',
    );
  }
  await assertEmptyOrMissing(dir);
  findProfile(parent, INTERMEDIATE_PROFILE);
  const subject =
    typeof options.subject === 'string' ? parseSubject(options.subject) : options.subject;
  const parentChain = await readCaChain(parent);
  const remainingDays = Math.floor(
    (parent.certificate.notAfter.getTime() - Date.now()) / 86_400_000,
  );
  if (remainingDays < 1) {
    throw new MtlsError(
      'MTLS_BAD_ARGUMENT',
      `the parent CA ${parent.certificate.subject} expires on ${parent.certificate.notAfter.toISOString()}; it cannot sign an intermediate`,
      {
        subject: parent.config.certificate,
      },
    );
  }
  const keys = await generateKeyPair(options.keyType ?? 'rsa4096');
  const csr = await createCsr({ subject, privateKey: keys.privateKey });
  const signed = await signCsr({
    ca: parent,
    csr: csr.pem,
    csrSource: `the intermediate CSR for ${dir}`,
    profile: INTERMEDIATE_PROFILE,
    caKey: options.parentKey,
    days: options.days ?? Math.min(DEFAULT_INTERMEDIATE_DAYS, remainingDays),
  });
  let result: InitCaResult;
  try {
    result = await initCa({
      ...options,
      dir,
      issued: {
        privateKey: keys.privateKey,
        certificatePem: signed.pem,
        chainPem: signed.pem + parentChain.pem,
      },
    });
  } catch (e) {
    // The parent holds a valid CA certificate whose key never reached the disk: revoke it.
    await revokeCertificate({
      ca: parent,
      serial: signed.serial,
      reason: 'cessationOfOperation',
    }).catch(() => undefined);
    throw e;
  }
  return {
    ...result,
    parentSerial: signed.serial,
    parentDir: parent.config.dir,
    chainPath: caChainPath(result.layout.caCert),
  };
}
