#!/usr/bin/env node
// The long fuzz budget: runs test/fuzz/*.test.ts with MTLS_FUZZ_RUNS cases per
// target (default 100,000), one test file at a time, and prints a table of
// what each target saw (cases, rejections, non-catalogue errors, slowest input).
//   npm run fuzz                  every target, 100,000 cases each
//   npm run fuzz -- crl-der pfx   only targets whose name contains one of these
//   MTLS_FUZZ_RUNS=5000 MTLS_FUZZ_SEED=123 npm run fuzz
// A failure prints the seed, the replay path and the input in hex, and saves
// the input under test/fixtures/fuzz/<target>/ for the in-suite replay.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const runs = process.env.MTLS_FUZZ_RUNS ?? '100000';
const seed = process.env.MTLS_FUZZ_SEED ?? String(Math.floor(Math.random() * 0x7fffffff));
const report = join(mkdtempSync(join(tmpdir(), 'mtls-fuzz-')), 'report.jsonl');
console.log(
  `fuzz: ${runs} cases per target, seed ${seed}${only.length ? `, targets matching ${only.join(', ')}` : ''}`,
);
const env = {
  ...process.env,
  MTLS_FUZZ_RUNS: runs,
  MTLS_FUZZ_SEED: seed,
  MTLS_FUZZ_REPORT: report,
  MTLS_TEST_CONCURRENCY: '1',
  ...(only.length ? { MTLS_FUZZ_ONLY: only.join(',') } : {}),
};
const r = spawnSync(
  process.execPath,
  ['scripts/run-tests.mjs', 'test/fuzz', '--test-timeout=86400000'],
  { stdio: 'inherit', env },
);
const lines = existsSync(report)
  ? readFileSync(report, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
  : [];
console.log(
  '\ntarget                 cases   accepted  non-catalogue  over 1 s  max CPU ms  wall s  rejections by code',
);
for (const l of lines) {
  const codes = Object.entries(l.codes)
    .map(([c, n]) => `${c.replace('MTLS_', '')} ${n}`)
    .join(', ');
  console.log(
    `${l.target.padEnd(20)} ${String(l.cases).padStart(8)} ${String(l.accepted).padStart(9)} ${String(l.nonCatalogue).padStart(14)} ${String(l.overLimit).padStart(9)} ${l.maxCpuMs.toFixed(1).padStart(11)} ${l.wallSeconds.toFixed(0).padStart(7)}  ${codes}`,
  );
}
console.log(`seed ${seed}; report ${report}`);
process.exit(r.status ?? 1);
