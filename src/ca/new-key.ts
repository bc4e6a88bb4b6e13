/**
 * `mtls key new` and `mtls csr new`: a private key file and a CSR file, the
 * `openssl genrsa` + `openssl req -new` pair a hand-built CA runs, without
 * a typed en dash breaking the CSR command or a second `genrsa` hitting the
 * first one's read-only key.
 */
import { assertCanWrite, readFileChecked, writeFileAtomic } from '../io/index.js';
import { createCsr } from '../pki/csr.js';
import {
  describeKey,
  exportPrivateKeyPem,
  generateKeyPair,
  loadPrivateKey,
  type KeyType,
} from '../pki/keys.js';
import { formatSlash, parseSubject, type DistinguishedName } from '../pki/names.js';
import type { GeneralNameSpec } from '../pki/profile.js';

/** Inputs for {@link createKeyFile}. */
export interface CreateKeyFileOptions {
  outPath: string;
  /** Default rsa2048. */
  keyType?: KeyType;
  /** Encrypt at rest (PBES2, 600,000 PBKDF2 iterations); omit for a plain key. */
  passphrase?: string;
  force?: boolean;
}

/** Result of {@link createKeyFile}. */
export interface CreateKeyFileResult {
  path: string;
  key: string;
  encrypted: boolean;
}

/**
 * Generates a key and writes it as PKCS#8 PEM, mode 0600.
 * @throws MTLS_FILE_EXISTS (checked before generating), MTLS_FILE_WRITE
 */
export async function createKeyFile(options: CreateKeyFileOptions): Promise<CreateKeyFileResult> {
  await assertCanWrite(options.outPath, options.force);
  const keys = await generateKeyPair(options.keyType ?? 'rsa2048');
  const pem = exportPrivateKeyPem(
    keys.privateKey,
    options.passphrase === undefined ? {} : { passphrase: options.passphrase },
  );
  await writeFileAtomic(options.outPath, pem, { mode: 0o600, force: options.force ?? false });
  return {
    path: options.outPath,
    key: describeKey(keys.privateKey).text,
    encrypted: options.passphrase !== undefined,
  };
}

/** Inputs for {@link createCsrFile}. */
export interface CreateCsrFileOptions {
  /** The subject's key file (PEM/DER; encrypted keys need `keyPassphrase`). */
  keyPath: string;
  keyPassphrase?: string;
  subject: string | DistinguishedName;
  subjectAltNames?: GeneralNameSpec[];
  outPath: string;
  force?: boolean;
}

/** Result of {@link createCsrFile}. */
export interface CreateCsrFileResult {
  path: string;
  subject: string;
  pem: string;
}

/**
 * Writes a CSR signed with the given key (SHA-256).
 * @throws MTLS_FILE_EXISTS, MTLS_BAD_SUBJECT, MTLS_PASSPHRASE_REQUIRED, MTLS_BAD_PASSPHRASE
 */
export async function createCsrFile(options: CreateCsrFileOptions): Promise<CreateCsrFileResult> {
  await assertCanWrite(options.outPath, options.force);
  const subject =
    typeof options.subject === 'string' ? parseSubject(options.subject) : options.subject;
  const key = loadPrivateKey(
    await readFileChecked(options.keyPath, 'private key'),
    options.keyPassphrase,
    options.keyPath,
  );
  const csr = await createCsr({
    subject,
    privateKey: key,
    ...(options.subjectAltNames ? { subjectAltNames: options.subjectAltNames } : {}),
  });
  await writeFileAtomic(options.outPath, csr.pem, { mode: 0o644, force: options.force ?? false });
  return { path: options.outPath, subject: formatSlash(subject), pem: csr.pem };
}
