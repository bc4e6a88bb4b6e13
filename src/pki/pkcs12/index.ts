/**
 * PKCS#12 (`.pfx` / `.p12`, RFC 7292): build in the modern or legacy flavour,
 * parse anything OpenSSL, Java or Windows write (including RC2-40, in
 * TypeScript), describe, and convert between flavours.
 */
export {
  buildPfx,
  DEFAULT_PFX_ITERATIONS,
  LEGACY_PFX_ITERATIONS,
  type BuildPfxOptions,
  type PfxFlavour,
} from './build-pfx.js';
export {
  parsePfx,
  assertPfxHasMac,
  type ParsedPfx,
  type ParsePfxOptions,
  type PfxAlgorithms,
  type PfxCertificateEntry,
  type PfxDetectedFlavour,
} from './parse-pfx.js';
export { convertPfx, type ConvertPfxOptions } from './convert-pfx.js';
export {
  describePfx,
  type DescribePfxOptions,
  type PfxCertificateDescription,
  type PfxDescription,
} from './describe-pfx.js';
export { loadCertificates, subjectCommonName, type PfxCertificateInput } from './certificates.js';
export { NOT_ENCRYPTED, type PfxEncryption } from './encryption.js';
export { type MacDigest } from './oids.js';
export { unpackPfx, type UnpackPfxOptions, type UnpackPfxResult } from './unpack-pfx.js';
