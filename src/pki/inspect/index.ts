/**
 * Inspection of certificates, CSRs, CRLs and PKCS#12 files: structured,
 * JSON-safe descriptions and `openssl … -text` style rendering.
 */
export {
  describeCertificate,
  describeCsr,
  describeCrl,
  type AlgorithmDescription,
  type CertificateDescription,
  type CrlDescription,
  type CsrAttributeDescription,
  type CsrDescription,
  type NameDescription,
  type PkiObjectDescription,
  type PssParameters,
  type RevokedCertificateDescription,
} from './describe.js';
export {
  decodeExtension,
  type AccessDescriptionInfo,
  type DistributionPointDescription,
  type EkuDescription,
  type ExtensionDescription,
  type ExtensionKind,
  type PolicyDescription,
  type PolicyQualifierDescription,
} from './extensions.js';
export type { GeneralNameDescription, GeneralNameType } from './general-names.js';
export { describePublicKey, type PublicKeyDescription } from './public-key.js';
export {
  renderCertificateText,
  renderCrlText,
  renderCsrText,
  renderExtensionValue,
} from './render.js';
export {
  assertPemOrDer,
  detectDerKind,
  inspectPki,
  renderInspectionText,
  renderPkiObjectText,
  type DerKind,
  type InspectPkiOptions,
  type InspectPkiResult,
  type SkippedBlock,
} from './inspect-pki.js';
export { formatOpenSslDate } from './asn1.js';
