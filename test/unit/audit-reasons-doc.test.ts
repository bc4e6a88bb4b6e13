/**
 * docs/audit-reasons.md is the audit reason table the console shows, written
 * out for readers of the repository: one row per reason code, with the same
 * meaning and fix texts (`src/gateway/audit-reasons.ts`). This test keeps the
 * two identical, and every code of the closed set present in both.
 * After an intended change: `MTLS_UPDATE_DOCS=1 node scripts/run-tests.mjs test/unit/audit-reasons-doc.test.ts`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AUDIT_REASON_TEXTS } from '../../src/gateway/audit-reasons.js';
import { AUDIT_REASONS } from '../../src/gateway/registry/types.js';

const docPath = join(import.meta.dirname, '..', '..', 'docs', 'audit-reasons.md');

/** A table cell: pipes escaped so a text cannot split its row. */
const cell = (s: string): string => s.replace(/\|/g, '\\|');

function render(): string {
  const rows = AUDIT_REASONS.map((code) => {
    const t = AUDIT_REASON_TEXTS[code];
    return `| \`${code}\` | ${cell(t.meaning)} | ${cell(t.fix)} |`;
  });
  return [
    '# Gateway audit reasons',
    '',
    'Every connection and request the gateway accepts or refuses is audited with one of these',
    'reason codes (the `reason` field of `mtls gateway audit --json`, of the admin API and of',
    'the JSON log lines; HTTP 403 answers carry it as `{"error":"<reason>","requestId":"<id>"}`,',
    "the request's id also in the `X-Request-Id` header and the audit record). The console's",
    'audit page shows the same texts, from `src/gateway/audit-reasons.ts`; a test keeps this',
    'file identical to them.',
    '',
    '| reason | what happened | what to do |',
    '|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

test('docs/audit-reasons.md lists every audit reason with the texts the console shows', () => {
  const expected = render();
  if (process.env.MTLS_UPDATE_DOCS === '1') writeFileSync(docPath, expected);
  assert.equal(
    readFileSync(docPath, 'utf8'),
    expected,
    'docs/audit-reasons.md is out of date: rerun with MTLS_UPDATE_DOCS=1 to regenerate it',
  );
  assert.deepEqual(Object.keys(AUDIT_REASON_TEXTS).sort(), [...AUDIT_REASONS].sort());
});
