#!/usr/bin/env node
// Finds every *.test.ts under the given folders (default: test/) and runs them
// with node:test through tsx. Node 20's --test does not expand globs itself.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const roots = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const passThrough = process.argv.slice(2).filter((a) => a.startsWith('--'));
const files = [];
const walk = (p) => {
  if (statSync(p).isDirectory()) {
    for (const entry of readdirSync(p).sort()) walk(join(p, entry));
  } else if (p.endsWith('.test.ts')) {
    files.push(p);
  }
};
for (const root of roots.length ? roots : ['test']) walk(root);
if (files.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}
const concurrency = process.env.MTLS_TEST_CONCURRENCY ?? '2';
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...passThrough, ...files],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
