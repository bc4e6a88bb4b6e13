#!/usr/bin/env node
// Compiles src/ and test/ to JavaScript in a mirror of the repository under
// .tmp/test-js-PID/, so the test files run on plain Node instead of through tsx.
//
// Why: tsx's module hooks run on a loader thread and see every module a test
// process loads, node_modules included. Measured on Node 20: `--import tsx`
// costs 0.25 s of CPU before the first line of a test, and importing the
// @peculiar/x509 graph through it 0.8 s instead of 0.38 s. With ~90 test
// files, one process each, that was close to a minute of CPU per run.
//
// The mirror keeps every path a test computes from its own location: every
// file of src/ and test/ is hard-linked into it (tests read .ts sources and
// fixtures as files) next to the .js compiled from each .ts, and the rest of
// the repository (dist/, docs/, deploy/, package.json, node_modules …) is
// linked in. esbuild transforms each file
// on its own with the tsconfig's options, as tsx does, with inline source
// maps so stack traces name the .ts lines.
import { linkSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';

/** The repository this script belongs to. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const root = REPO_ROOT;
const MIRRORS = join(root, '.tmp');
/**
 * Where this run's mirror lives (gitignored): one per process, so two runs in
 * one checkout do not rebuild each other's files under their tests. The
 * caller removes it with {@link removeMirror} when its tests are done.
 */
export const MIRROR = join(MIRRORS, `test-js-${process.pid}`);
/** Directories compiled into the mirror; everything else at the root is linked. */
const COMPILED = ['src', 'test'];

/** True while process `pid` exists. */
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
};

/** Removes this run's mirror. */
export function removeMirror() {
  rmSync(MIRROR, { recursive: true, force: true });
}

const { compilerOptions } = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8'));

// Mirrors left by runs that were killed before they could remove theirs.
mkdirSync(MIRRORS, { recursive: true });
for (const name of readdirSync(MIRRORS)) {
  const m = /^test-js-(\d+)$/.exec(name);
  if (m && !alive(Number(m[1]))) rmSync(join(MIRRORS, name), { recursive: true, force: true });
}
removeMirror();
mkdirSync(MIRROR, { recursive: true });
for (const entry of readdirSync(root)) {
  if (COMPILED.includes(entry) || entry === '.tmp' || entry === '.git') continue;
  symlinkSync(join(root, entry), join(MIRROR, entry));
}

const jobs = [];
const walk = (rel) => {
  mkdirSync(join(MIRROR, rel), { recursive: true });
  for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
    const r = join(rel, e.name);
    if (e.isDirectory()) {
      walk(r);
      continue;
    }
    // A hard link: a regular file to readdir and stat, and no copy.
    linkSync(join(root, r), join(MIRROR, r));
    if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) jobs.push(r);
  }
};
for (const dir of COMPILED) walk(dir);

await Promise.all(
  jobs.map(async (r) => {
    const src = join(root, r);
    const out = await transform(readFileSync(src, 'utf8'), {
      loader: 'ts',
      format: 'esm',
      platform: 'node',
      target: `node${process.versions.node}`,
      sourcemap: 'inline',
      sourcefile: join(MIRROR, r),
      tsconfigRaw: { compilerOptions },
    });
    await writeFile(join(MIRROR, r.replace(/\.ts$/, '.js')), out.code);
  }),
);
