/**
 * Pure X.509: keys, names, extensions/profiles, CSRs, certificates, CRLs,
 * PKCS#12, inspection, verification. No I/O and no native modules. The
 * PKCS#12 ciphers and key derivation (RC2, RC4, the RFC 7292 KDF) are
 * internals of the `.pfx` reader and writer.
 */
// @peculiar/x509's dependency injection needs the Reflect metadata API before it loads.
import 'reflect-metadata';

export {
  encodePem,
  decodePemBlocks,
  isPem,
  containsPrivateKey,
  derBlocksOf,
  PRIVATE_KEY_LABELS,
  type PemBlock,
} from './pem.js';
export {
  KEY_TYPES,
  parseKeyType,
  generateKeyPair,
  exportPrivateKeyPem,
  loadPrivateKey,
  isEncryptedPrivateKey,
  describeKey,
  assertKeyStrength,
  keysMatch,
  publicKeyOf,
  signingAlgorithmFor,
  toCryptoKeyPair,
  type KeyType,
  type KeyPair,
  type KeyDescription,
  type KeyStrengthPolicy,
  type ExportPrivateKeyOptions,
  type SigningAlgorithm,
} from './keys.js';
export {
  pbes2Encrypt,
  pbes2Decrypt,
  describePbes2,
  DEFAULT_KEY_ITERATIONS,
  type Pbes2EncryptOptions,
  type Pbes2EncryptResult,
} from './pbes2.js';
export {
  parseSubject,
  formatRfc4514,
  formatSlash,
  formatDn,
  parseOneline,
  formatOpenSslText,
  dnValues,
  findAttributeType,
  ATTRIBUTE_TYPES,
  type DistinguishedName,
  type DnAttribute,
  type AttributeType,
} from './names.js';
export { toX509Name, fromX509Name } from './x509-name.js';
export * from './profile.js';
export {
  buildExtensions,
  keyIdentifier,
  toGeneralNames,
  EXT_OID,
  type BuildExtensionsOptions,
  type IssuerContext,
} from './extensions.js';
export {
  buildCertificate,
  randomSerial,
  parseCertificates,
  parseCertificate,
  toNodeCertificate,
  certificatePublicKey,
  fingerprintSha256,
  type BuildCertificateOptions,
  type BuildCertificateResult,
  type Signer,
} from './certificate.js';
export {
  createCsr,
  parseCsr,
  verifyCsrSignature,
  type CreateCsrOptions,
  type ParsedCsr,
} from './csr.js';
export {
  buildCrl,
  parseCrls,
  crlNumberOf,
  findRevoked,
  type BuildCrlOptions,
  type BuildCrlResult,
  type CrlEntrySpec,
} from './crl.js';
export * from './pkcs12/index.js';
export * from './inspect/index.js';
export * from './verify-certificate.js';
export { isIssuedBy, orderChainFrom, orderChain } from './chain-order.js';
