/**
 * The registry management operations, as one interface with two
 * implementations: {@link createLocalAdmin} works on a registry directly (the
 * CLI with `--registry`, and the admin API server itself), and the admin API
 * client (`client.ts`) performs the same operations over HTTP.
 */
import { MtlsError } from '../../errors/index.js';
import {
  refreshCrlSources,
  type CrlDownloadOptions,
  type CrlRefreshResult,
} from '../crl-distribution.js';
import { pruneAuditBefore, type AuditPruneResult } from '../audit-retention.js';
import { onboardCaChain, onboardCrls, type ChainCertificateInfo } from '../onboarding.js';
import type {
  AddIpOptions,
  AuditQuery,
  AuditRecord,
  CaChainRecord,
  CrlRecord,
  CrlSourceRecord,
  Institution,
  InstitutionStatus,
  InstitutionTrust,
  IpRecord,
  PinnedRule,
  Registry,
  RequestRateInput,
} from '../registry/types.js';

/** An institution with the size of what it has registered. */
export interface InstitutionSummary extends Institution {
  chains: number;
  ips: number;
  crls: number;
  rules: number;
}

/** Result of adding a CA chain. */
export interface AddCaChainResult {
  chain: CaChainRecord;
  certificates: ChainCertificateInfo[];
  warnings: string[];
}

/** Result of putting CRLs. */
export interface PutCrlsResult {
  crls: CrlRecord[];
  warnings: string[];
}

/** Registry management, locally or through the admin API. */
export interface RegistryAdmin {
  /** Every institution with counts. */
  listInstitutions(): Promise<InstitutionSummary[]>;
  /** @throws MTLS_CONFLICT, MTLS_BAD_ARGUMENT */
  createInstitution(input: { id: string; name: string }): Promise<Institution>;
  /** Everything registered for one institution. @throws MTLS_NOT_FOUND */
  getInstitution(id: string): Promise<InstitutionTrust>;
  /** @throws MTLS_NOT_FOUND */
  setInstitutionStatus(id: string, status: InstitutionStatus): Promise<Institution>;
  /**
   * Sets the institution's own request rate (the burst defaults to the rate),
   * or with null returns it to each gateway's `limits`.
   * @throws MTLS_BAD_ARGUMENT (naming `requestsPerSecond` or `burst`), MTLS_NOT_FOUND
   */
  setInstitutionRequestRate(id: string, rate: RequestRateInput | null): Promise<Institution>;
  /** @throws MTLS_NOT_FOUND */
  deleteInstitution(id: string): Promise<void>;
  /** Validates (onboarding) and stores a chain. @throws MTLS_ONBOARD_REJECTED, MTLS_NOT_FOUND */
  addCaChain(
    institutionId: string,
    data: string | Uint8Array,
    source?: string,
  ): Promise<AddCaChainResult>;
  /** Chains of one institution, or of all when omitted. */
  listCaChains(institutionId?: string): Promise<CaChainRecord[]>;
  /** @throws MTLS_NOT_FOUND */
  removeCaChain(institutionId: string, chainId: number): Promise<void>;
  /** @throws MTLS_BAD_ARGUMENT, MTLS_CONFLICT, MTLS_NOT_FOUND */
  addIp(institutionId: string, cidr: string, options?: AddIpOptions): Promise<IpRecord>;
  /** @throws MTLS_NOT_FOUND */
  removeIp(institutionId: string, cidr: string): Promise<void>;
  listIps(institutionId?: string): Promise<IpRecord[]>;
  /** Validates (signature against the institution's CAs) and stores CRLs. @throws MTLS_ONBOARD_REJECTED */
  putCrls(
    institutionId: string,
    data: string | Uint8Array,
    source?: string,
  ): Promise<PutCrlsResult>;
  listCrls(institutionId?: string): Promise<CrlRecord[]>;
  /** @throws MTLS_NOT_FOUND */
  removeCrl(institutionId: string, crlId: number): Promise<void>;
  /**
   * Registers a CRL distribution point the gateway downloads on a schedule.
   * @throws MTLS_BAD_ARGUMENT (naming `url` or `interval`), MTLS_CONFLICT, MTLS_NOT_FOUND
   */
  addCrlSource(
    institutionId: string,
    url: string,
    intervalSeconds?: number,
  ): Promise<CrlSourceRecord>;
  /** Distribution points with their last download outcome (one institution's, or all). */
  listCrlSources(institutionId?: string): Promise<CrlSourceRecord[]>;
  /** @throws MTLS_BAD_ARGUMENT, MTLS_NOT_FOUND */
  removeCrlSource(institutionId: string, url: string): Promise<void>;
  /**
   * Downloads the institution's CRL URLs now (all, or `url`), each checked and
   * stored like a scheduled download; a refused one keeps the last good CRL.
   * @throws MTLS_NOT_FOUND when there is no such source
   */
  refreshCrlSources(institutionId: string, url?: string): Promise<CrlRefreshResult[]>;
  /** @throws MTLS_BAD_ARGUMENT, MTLS_CONFLICT, MTLS_NOT_FOUND */
  addRule(
    institutionId: string,
    rule: { kind: PinnedRule['kind']; value: string },
  ): Promise<PinnedRule>;
  listRules(institutionId?: string): Promise<PinnedRule[]>;
  /** @throws MTLS_NOT_FOUND */
  removeRule(institutionId: string, ruleId: number): Promise<void>;
  /** Audit records, newest first. */
  queryAudit(query: AuditQuery): Promise<AuditRecord[]>;
  /**
   * Deletes every audit record older than `before` (ISO), in chunks: what
   * `audit.retentionDays` does on its schedule, on demand (a disk filling up).
   * @throws MTLS_BAD_ARGUMENT for a bad time
   */
  pruneAudit(before: string): Promise<AuditPruneResult>;
  /** Releases the registry or connection. */
  close(): Promise<void>;
}

/** Options for {@link createLocalAdmin}. */
export interface LocalAdminOptions {
  /** Close the registry on `close()` (default false: the caller owns it). */
  ownsRegistry?: boolean;
  /** Log, metrics and limits for `refreshCrlSources` (the gateway passes its own). */
  crlDownload?: Omit<CrlDownloadOptions, 'registry'>;
}

/**
 * Registry management on a registry object: onboarding checks on every CA
 * and CRL, listings built from one consistent `loadTrust()` snapshot.
 */
export function createLocalAdmin(
  registry: Registry,
  options: LocalAdminOptions = {},
): RegistryAdmin {
  const trustOf = async (institutionId: string): Promise<InstitutionTrust> => {
    const t = (await registry.loadTrust()).find((x) => x.institution.id === institutionId);
    if (!t) {
      throw new MtlsError('MTLS_NOT_FOUND', `institution "${institutionId}" is not registered`, {
        subject: institutionId,
        hint: 'List institutions with `mtls gateway institution list`.',
      });
    }
    return t;
  };
  const collect = async <T>(
    institutionId: string | undefined,
    pick: (t: InstitutionTrust) => T[],
  ): Promise<T[]> =>
    institutionId === undefined
      ? (await registry.loadTrust()).flatMap(pick)
      : pick(await trustOf(institutionId));

  return {
    async listInstitutions() {
      return (await registry.loadTrust()).map((t) => ({
        ...t.institution,
        chains: t.chains.length,
        ips: t.ips.length,
        crls: t.crls.length,
        rules: t.rules.length,
      }));
    },
    createInstitution: (input) => registry.createInstitution(input),
    getInstitution: trustOf,
    setInstitutionStatus: (id, status) => registry.setInstitutionStatus(id, status),
    setInstitutionRequestRate: (id, rate) => registry.setInstitutionRequestRate(id, rate),
    deleteInstitution: (id) => registry.deleteInstitution(id),
    async addCaChain(institutionId, data, source) {
      const r = await onboardCaChain(
        registry,
        institutionId,
        data,
        source === undefined ? {} : { source },
      );
      return { chain: r.chain, certificates: r.validated.certificates, warnings: r.warnings };
    },
    listCaChains: (id) => collect(id, (t) => t.chains),
    removeCaChain: (id, chainId) => registry.removeCaChain(id, chainId),
    addIp: (id, cidr, options) => registry.addIp(id, cidr, options),
    removeIp: (id, cidr) => registry.removeIp(id, cidr),
    listIps: (id) => collect(id, (t) => t.ips),
    async putCrls(institutionId, data, source) {
      const r = await onboardCrls(
        registry,
        institutionId,
        data,
        source === undefined ? {} : { source },
      );
      return { crls: r.crls, warnings: r.warnings };
    },
    listCrls: (id) => collect(id, (t) => t.crls),
    removeCrl: (id, crlId) => registry.removeCrl(id, crlId),
    addCrlSource: (id, url, intervalSeconds) =>
      registry.addCrlSource(id, {
        url,
        ...(intervalSeconds === undefined ? {} : { intervalSeconds }),
      }),
    async listCrlSources(id) {
      if (id !== undefined) await trustOf(id);
      return registry.listCrlSources(id);
    },
    removeCrlSource: (id, url) => registry.removeCrlSource(id, url),
    refreshCrlSources: (id, url) =>
      refreshCrlSources(id, url, { ...options.crlDownload, registry }),
    addRule: (id, rule) => registry.addPinnedRule(id, rule),
    listRules: (id) => collect(id, (t) => t.rules),
    removeRule: (id, ruleId) => registry.removePinnedRule(id, ruleId),
    queryAudit: (q) => registry.queryAudit(q),
    async pruneAudit(before) {
      return { before, deleted: await pruneAuditBefore(registry, before) };
    },
    async close() {
      if (options.ownsRegistry) await registry.close();
    },
  };
}
