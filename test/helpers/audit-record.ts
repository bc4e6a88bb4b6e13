/**
 * An audit record for registry tests: an accepted TLS 1.2 connection of
 * `acme` from 127.0.0.1, now, with any field replaced.
 */
import type { AuditRecord } from '../../src/gateway/registry/types.js';

/** An accepted connection record of acme, now; `over` replaces any field. */
export function auditRecord(over: Partial<AuditRecord> = {}): AuditRecord {
  return {
    time: new Date().toISOString(),
    kind: 'connection',
    ip: '127.0.0.1',
    institutionId: 'acme',
    subject: 'CN=client',
    issuer: 'CN=Acme CA',
    serial: '01',
    fingerprintSha256: 'ab'.repeat(32),
    tlsVersion: 'TLSv1.2',
    cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256',
    outcome: 'accepted',
    reason: 'ok',
    detail: null,
    ...over,
  };
}
