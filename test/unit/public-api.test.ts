/**
 * The public API has a boundary: the package's entry points (`mtlskit`,
 * `mtlskit/pki`, `/ca`, `/client`, `/gateway`) export exactly what
 * `docs/api-report.txt` lists, so any change to the public surface shows up
 * in review as a change to that file; known internals are never exported; and
 * only the gateway entry loads a native module, `pg` only for a PostgreSQL
 * registry, with a clear error when it is not installed.
 *
 * After an intended change: `MTLS_UPDATE_API=1 node scripts/run-tests.mjs test/unit/public-api.test.ts`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const root = join(import.meta.dirname, '..', '..');
const reportPath = join(root, 'docs', 'api-report.txt');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, { import?: string } | string>;
};

/** Entry name (`mtlskit/pki`) to its source file, from package.json's exports. */
const entries: Array<{ name: string; source: string }> = Object.entries(pkg.exports)
  .filter(([, target]) => typeof target === 'object' && target.import)
  .map(([subpath, target]) => ({
    name: subpath === '.' ? 'mtlskit' : `mtlskit/${subpath.slice(2)}`,
    source: join(
      root,
      (target as { import: string }).import.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'),
    ),
  }));

let report: string | undefined;
/** One line per exported name: `entry  name  value|type`, sorted (computed once: a program over every entry is slow to build). */
function apiReport(): string {
  report ??= buildApiReport();
  return report;
}

function buildApiReport(): string {
  const program = ts.createProgram(
    entries.map((e) => e.source),
    {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
    },
  );
  const checker = program.getTypeChecker();
  const lines: string[] = [];
  for (const entry of entries) {
    const sf = program.getSourceFile(entry.source);
    assert.ok(sf, entry.source);
    const moduleSymbol = checker.getSymbolAtLocation(sf);
    assert.ok(moduleSymbol, `${entry.source} is a module`);
    for (const sym of checker.getExportsOfModule(moduleSymbol)) {
      const target = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
      const kind = target.flags & ts.SymbolFlags.Value ? 'value' : 'type';
      lines.push(`${entry.name}  ${sym.getName()}  ${kind}`);
    }
  }
  return `${lines.sort().join('\n')}\n`;
}

/** Imports `specifier` in a fresh Node process (from the package root, so the package resolves itself) and says which native or optional modules loaded. */
function loadedBy(specifier: string): { betterSqlite: boolean; pg: boolean } {
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(specifier)});
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify({ betterSqlite: loaded.some((k) => k.includes('/node_modules/better-sqlite3/')), pg: loaded.some((k) => k.includes('/node_modules/pg/')) }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { betterSqlite: boolean; pg: boolean };
}

describe('public API', () => {
  test('the exports of every entry point match docs/api-report.txt', () => {
    assert.deepEqual(
      entries.map((e) => e.name),
      ['mtlskit', 'mtlskit/pki', 'mtlskit/ca', 'mtlskit/client', 'mtlskit/gateway'],
    );
    const actual = apiReport();
    if (process.env.MTLS_UPDATE_API === '1') writeFileSync(reportPath, actual);
    const expected = readFileSync(reportPath, 'utf8');
    assert.equal(
      actual,
      expected,
      'the public surface changed: review it, then rerun with MTLS_UPDATE_API=1 to accept',
    );
  });

  test('internals are not exported', () => {
    const report = apiReport();
    const exported = new Set(report.split('\n').map((l) => l.split('  ')[1]));
    for (const internal of [
      'rc4',
      'rc2ExpandKey',
      'pkcs12Kdf',
      'legacyPbeDecrypt',
      'tapSocket',
      'TlsRecordReader',
      'sendClientHello',
      'hasUnderscore',
      'IpMatcher',
      'RequestHandler',
      'ConnectionTracker',
      'TrustCache',
      'AuditSink',
      'createTenantServer',
      'MIGRATIONS',
      'classifyOutcome',
      'hintFor',
    ]) {
      assert.equal(exported.has(internal), false, `${internal} is exported`);
    }
    assert.doesNotMatch(
      report,
      /^mtlskit {2}startGateway /m,
      'the root entry leaves the gateway to mtlskit/gateway',
    );
  });

  test('only mtlskit/gateway loads the native SQLite module, and nothing loads pg on import', () => {
    for (const specifier of ['mtlskit', 'mtlskit/pki', 'mtlskit/ca', 'mtlskit/client']) {
      assert.deepEqual(loadedBy(specifier), { betterSqlite: false, pg: false }, specifier);
    }
    assert.deepEqual(
      loadedBy('mtlskit/gateway'),
      { betterSqlite: true, pg: false },
      'the check itself sees a native module load',
    );
  });

  test('a postgres:// registry without pg installed is a clear error', () => {
    // A resolve hook makes `pg` unresolvable, as on a machine where the optional peer was never installed.
    const hook = `data:text/javascript,${encodeURIComponent(`
      export async function resolve(specifier, context, next) {
        if (specifier === 'pg') { const e = new Error("Cannot find package 'pg' imported from mtlskit"); e.code = 'ERR_MODULE_NOT_FOUND'; throw e; }
        return next(specifier, context);
      }`)}`;
    const register = `import { register } from 'node:module'; register(${JSON.stringify(hook)});`;
    const script = `
      const { openRegistry } = await import('mtlskit/gateway');
      try { await openRegistry('postgres://mtls@127.0.0.1:1/registry'); console.log('opened'); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, hint: e.hint })); }`;
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        `data:text/javascript,${encodeURIComponent(register)}`,
        '--input-type=module',
        '-e',
        script,
      ],
      { cwd: root, encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const err = JSON.parse(r.stdout) as { code: string; message: string; hint: string };
    assert.equal(err.code, 'MTLS_CONFIG_UNSUPPORTED');
    assert.equal(
      err.message,
      'a postgres:// registry needs the package `pg`, which is not installed',
    );
    assert.match(err.hint, /npm install pg@8/);
  });
});
