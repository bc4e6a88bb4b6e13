/**
 * `npx tsx bench/request-id-index.ts`: what storing a request id costs the
 * SQLite registry per audit record, through the registry's own batched
 * `appendAudit` into the real schema (the id column is indexed), for:
 *   - no id (connection records; the index gets NULLs, in order);
 *   - version-4 ids (`crypto.randomUUID()`: random keys, random index pages);
 *   - version-7 ids (`newRequestId()`: keys in time order, appended).
 * Each mode gets its own registry, filled with 200,000 records first (an
 * index that fits in a few pages costs nothing whatever its keys), then
 * 100,000 more are timed. The modes alternate over two passes; read the
 * differences, not the absolute figures. Not a test: numbers on a shared
 * machine are noisy.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteRegistry } from '../src/gateway/registry/sqlite-registry.js';
import type { AuditRecord } from '../src/gateway/registry/types.js';
import { newRequestId } from '../src/gateway/request-id.js';
import { auditRecord } from '../test/helpers/audit-record.js';

const BATCH = 500;
const FILL_BATCHES = 400;
const TIMED_BATCHES = 200;
const MODES = {
  none: (): null => null,
  v4: (): string => randomUUID(),
  v7: (): string => newRequestId(),
} as const;

const work = mkdtempSync(join(tmpdir(), 'mtlskit-bench-rid-'));

/** One request record as the gateway writes it, with the mode's id. */
function record(requestId: string | null): AuditRecord {
  return auditRecord({
    kind: 'request',
    ip: '203.0.113.7',
    subject: 'C=BR, O=Acme Bank, CN=payments-client',
    issuer: 'C=BR, O=Acme Bank, CN=Acme Bank Issuing CA',
    serial: '1A2B3C4D5E6F',
    method: 'POST',
    path: '/v1/payments',
    status: 200,
    durationMs: 3,
    requestId,
  });
}

/** CPU µs per record for the timed batches of one mode, in a new registry. */
async function run(mode: keyof typeof MODES, pass: number): Promise<number> {
  const reg = await openSqliteRegistry(join(work, `${mode}-${pass}.db`));
  try {
    const id = MODES[mode];
    const batch = (): AuditRecord[] => Array.from({ length: BATCH }, () => record(id()));
    for (let i = 0; i < FILL_BATCHES; i++) await reg.appendAudit(batch());
    const start = process.cpuUsage();
    for (let i = 0; i < TIMED_BATCHES; i++) await reg.appendAudit(batch());
    const used = process.cpuUsage(start);
    return (used.user + used.system) / (TIMED_BATCHES * BATCH);
  } finally {
    await reg.close();
  }
}

try {
  const results: Record<string, number[]> = { none: [], v4: [], v7: [] };
  for (const pass of [1, 2]) {
    for (const mode of pass === 1
      ? (['none', 'v4', 'v7'] as const)
      : (['v7', 'v4', 'none'] as const)) {
      const us = await run(mode, pass);
      results[mode]?.push(us);
      console.log(`pass ${pass} ${mode}: ${us.toFixed(1)} µs CPU per record`);
    }
  }
  const mean = (xs: number[] | undefined): number =>
    (xs ?? []).reduce((a, b) => a + b, 0) / Math.max(1, xs?.length ?? 0);
  const none = mean(results.none);
  console.log(
    `\nmean over passes: no id ${none.toFixed(1)} µs; version 4 +${(mean(results.v4) - none).toFixed(1)} µs; version 7 +${(mean(results.v7) - none).toFixed(1)} µs per record`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
