/**
 * The import rules of the design, enforced: every module under src/ is read
 * with the TypeScript scanner (static imports, re-exports, dynamic imports and
 * `import type` alike), and the graph is checked against the layer table and
 * for cycles. A broken rule fails `npm test` with the offending import named.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { at, defined } from '../helpers/assert.js';

const SRC = resolve(import.meta.dirname, '..', '..', 'src');

/** Top-level folders of src/ and what each may import of ours (its own folder always). */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  errors: [],
  pki: ['errors'],
  io: ['errors'],
  ca: ['pki', 'errors', 'io'],
  tls: ['pki', 'errors', 'io'],
  client: ['tls', 'pki', 'errors', 'io'],
  gateway: ['tls', 'pki', 'errors', 'io', 'ca'],
  cli: ['errors', 'io', 'pki', 'ca', 'tls', 'client', 'gateway'],
  // The public entry point re-exports the library layers, never the CLI.
  'index.ts': ['errors', 'io', 'pki', 'ca', 'tls', 'client', 'gateway'],
};

/** Node built-ins pki must not touch: it is pure X.509, with no I/O of its own. */
const PKI_FORBIDDEN_BUILTINS = new Set([
  'fs',
  'fs/promises',
  'net',
  'tls',
  'http',
  'https',
  'http2',
  'dgram',
  'dns',
  'child_process',
  'cluster',
  'worker_threads',
]);

interface Edge {
  from: string;
  to: string;
  specifier: string;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir).sort()) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The `src/`-relative module a relative specifier names (`./x.js` is the source file `./x.ts`). */
function resolveLocal(fromFile: string, specifier: string): string {
  const target = resolve(dirname(fromFile), specifier).replace(/\.js$/, '.ts');
  return relative(SRC, target);
}

const files = walk(SRC);
const edges: Edge[] = [];
const builtins: Edge[] = [];
for (const file of files) {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  const from = relative(SRC, file);
  for (const { fileName: specifier } of info.importedFiles) {
    if (specifier.startsWith('.'))
      edges.push({ from, to: resolveLocal(file, specifier), specifier });
    else builtins.push({ from, to: specifier.replace(/^node:/, ''), specifier });
  }
}

/** `pki/der.ts` -> `pki`; `index.ts` -> `index.ts`. */
const layerOf = (module: string): string =>
  module.includes('/') ? at(module.split('/'), 0) : module;

describe('layers: the import rules of the design', () => {
  test('the scanner sees the whole tree', () => {
    assert.ok(files.length > 100, `${files.length} modules`);
    assert.ok(edges.length > 300, `${edges.length} imports`);
    for (const e of edges)
      assert.ok(
        files.includes(join(SRC, e.to)),
        `${e.from} imports ${e.specifier}, which is not a module under src/`,
      );
    for (const layer of new Set(files.map((f) => layerOf(relative(SRC, f)))))
      assert.ok(layer in MAY_IMPORT, `src/${layer} has no row in the layer table`);
  });

  test('each layer imports only the layers below it; nothing imports the CLI', () => {
    const broken = edges
      .filter((e) => {
        const [a, b] = [layerOf(e.from), layerOf(e.to)];
        return a !== b && !(MAY_IMPORT[a] ?? []).includes(b);
      })
      .map((e) => `${e.from} -> ${e.to}`);
    assert.deepEqual(broken, []);
  });

  test('pki does no I/O: no fs, net, tls, http or processes', () => {
    const broken = builtins
      .filter((e) => layerOf(e.from) === 'pki' && PKI_FORBIDDEN_BUILTINS.has(e.to))
      .map((e) => `${e.from} -> ${e.specifier}`);
    assert.deepEqual(broken, []);
  });

  test('no import cycles', () => {
    // Tarjan's strongly connected components over the module graph.
    const next = new Map<string, string[]>();
    for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const cycles: string[][] = [];
    let counter = 0;
    const visit = (v: string): void => {
      index.set(v, counter);
      low.set(v, counter);
      counter++;
      stack.push(v);
      onStack.add(v);
      for (const w of next.get(v) ?? []) {
        if (!index.has(w)) {
          visit(w);
          low.set(
            v,
            Math.min(defined(low.get(v), 'low.get(v)'), defined(low.get(w), 'low.get(w)')),
          );
        } else if (onStack.has(w)) {
          low.set(
            v,
            Math.min(defined(low.get(v), 'low.get(v)'), defined(index.get(w), 'index.get(w)')),
          );
        }
      }
      if (low.get(v) === index.get(v)) {
        const component: string[] = [];
        let w: string;
        do {
          w = defined(stack.pop(), 'stack.pop()');
          onStack.delete(w);
          component.push(w);
        } while (w !== v);
        if (component.length > 1 || (next.get(v) ?? []).includes(v)) cycles.push(component.sort());
      }
    };
    for (const f of files.map((p) => relative(SRC, p))) if (!index.has(f)) visit(f);
    assert.deepEqual(cycles, []);
  });
});
