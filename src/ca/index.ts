/** A CA on disk, compatible with OpenSSL's CA directory: init, adopt, issue, sign, revoke, CRLs, renewal, status. */
// @peculiar/x509's dependency injection needs the Reflect metadata API before it loads.
import 'reflect-metadata';

export { initCa, assertEmptyOrMissing, type InitCaOptions, type InitCaResult } from './init-ca.js';
export { adoptCa, type AdoptCaOptions, type AdoptCaResult } from './adopt-ca.js';
export { openCa, loadCaKey, findProfile, type OpenCa, type OpenCaOptions } from './open-ca.js';
export { signCsr, checkCsr, type SignCsrOptions, type SignCsrResult } from './sign-csr.js';
export {
  issueClientCertificate,
  planIssue,
  type PlanIssueOptions,
  type IssueClientOptions,
  type IssueClientResult,
} from './issue-client.js';
export {
  revokeCertificate,
  generateCrl,
  type RevokeCertificateOptions,
  type GenerateCrlOptions,
  type GenerateCrlResult,
} from './revoke.js';
export {
  exportChain,
  type ExportChainOptions,
  type ExportChainResult,
  type ChainCertificate,
} from './export-chain.js';
export { readDatabase } from './ca-database.js';
export {
  parseIndex,
  formatIndex,
  formatIndexLine,
  REVOCATION_REASONS,
  type IndexEntry,
  type RevocationReason,
} from './index-db.js';
export {
  applyPolicy,
  type DnPolicy,
  type PolicyRule,
  type ApplyPolicyOptions,
  type ApplyPolicyResult,
} from './policy.js';
export { caLayout, type CaLayout } from './layout.js';
export { withCaLock } from './lock.js';
export { loadCaConfig, type CaConfigResult, type LoadCaConfigOptions } from './ca-config.js';
export { parseOpenSslConfig } from './openssl-cnf.js';
export { parseExtensionSection } from './x509v3-config.js';
export { renderOpenSslCnf, renderExtensionSection, type RenderCnfOptions } from './render-cnf.js';
export {
  createKeyFile,
  createCsrFile,
  type CreateKeyFileOptions,
  type CreateKeyFileResult,
  type CreateCsrFileOptions,
  type CreateCsrFileResult,
} from './new-key.js';
export {
  initIntermediateCa,
  INTERMEDIATE_PROFILE,
  type InitIntermediateCaOptions,
  type InitIntermediateCaResult,
} from './intermediate.js';
export { readCaChain, caChainPath, CA_CHAIN_FILE, type CaChainResult } from './ca-chain.js';
export {
  renewCertificate,
  type RenewCertificateOptions,
  type RenewCertificateResult,
} from './renew.js';
export {
  needsRenewal,
  type NeedsRenewalOptions,
  type NeedsRenewalResult,
} from './needs-renewal.js';
export {
  caStatus,
  type CaStatusOptions,
  type CaStatusResult,
  type CaStatusFinding,
  type CaStatusFindingKind,
} from './status.js';
export {
  listCertificates,
  type ListCertificatesOptions,
  type ListCertificatesResult,
  type CertificateRow,
  type CertificateState,
} from './list.js';
export { withCrlDistributionPoint, checkCrlUrl } from './crl-distribution.js';
