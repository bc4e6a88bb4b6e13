#!/usr/bin/env node
// Finds every *.test.ts under the given folders (default: test/) and runs them
// with node:test. Node 20's --test does not expand globs itself.
//
// The files run as JavaScript compiled by scripts/compile-tests.mjs into a
// mirror of the repository (see there for why: tsx's hooks cost about a
// minute of CPU per run). MTLS_TEST_TSX=1 runs the .ts files through tsx
// instead, as before.
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
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
const viaTsx = process.env.MTLS_TEST_TSX === '1';
let args;
let done = () => {};
if (viaTsx) {
  args = ['--import', 'tsx', ...files];
} else {
  const { MIRROR, REPO_ROOT, removeMirror } = await import('./compile-tests.mjs');
  done = removeMirror;
  args = [
    // As under tsx: stack traces name the .ts lines.
    '--enable-source-maps',
    ...files.map((f) => join(MIRROR, relative(REPO_ROOT, resolve(f))).replace(/\.ts$/, '.js')),
  ];
}
const r = spawnSync(
  process.execPath,
  ['--test', `--test-concurrency=${concurrency}`, ...passThrough, ...args],
  { stdio: 'inherit' },
);
done();
process.exit(r.status ?? 1);
