#!/usr/bin/env node
// Bundles the `mtls` command (dist/cli/main.js, as tsc emitted it) into
// dist/bin/: mtls.js, the gateway's cluster worker entry worker-main.js, and
// the chunks they share. Each command stays a lazily loaded chunk.
//
// Why: Node resolves, reads and (for CommonJS packages imported from ESM)
// lexes every module file on each start. The command's graph is a few hundred
// files, mostly the @peculiar ASN.1 packages, and loading them cost about
// 0.4 s of a 0.5 s `mtls cert show`; bundled, the start is a small multiple
// of `node -e 0` (bench/cli-startup.ts measures it).
//
// The library entry points (mtlskit, mtlskit/pki, …) stay unbundled tsc
// output. Native and optional modules stay outside the bundle and are loaded
// from node_modules as before.
import { chmodSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

/**
 * Turns `import 'reflect-metadata'` into an empty module: the banner below
 * already require()s the polyfill in every chunk. Left as an external ESM
 * import, Node loads its ESM-to-CommonJS translator and lexes Reflect.js on
 * every start, which cost about 0.04 s of a 0.13 s `mtls --version`.
 */
const reflectMetadataFromBanner = {
  name: 'reflect-metadata-from-banner',
  setup(b) {
    b.onResolve({ filter: /^reflect-metadata$/ }, () => ({
      path: 'reflect-metadata',
      namespace: 'required-by-banner',
    }));
    b.onLoad({ filter: /.*/, namespace: 'required-by-banner' }, () => ({
      contents: '',
      loader: 'js',
    }));
  },
};

const out = 'dist/bin';
rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: {
    mtls: 'dist/cli/main.js',
    // Next to the chunk holding the primary: it forks `./worker-main.js`
    // relative to its own module.
    'worker-main': 'dist/gateway/workers/worker-main.js',
  },
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  // The ES module builds of the packages that have one (@peculiar/*, asn1js,
  // pvtsutils, tsyringe, tslib) rather than their CommonJS `main`: esbuild
  // can drop what the CLI never uses and needs no CommonJS wrappers to run at
  // start. `mtls cert show` loads 1.06 MB instead of 1.34 MB, and each command
  // that reads a certificate starts about 0.03 s faster.
  mainFields: ['module', 'main'],
  target: 'node20',
  chunkNames: 'chunk-[hash]',
  external: ['better-sqlite3', 'pg', 'pg-native'],
  plugins: [reflectMetadataFromBanner],
  // CommonJS packages inside an ESM bundle call require() for Node built-ins
  // and the external modules; ESM has no require of its own. Every chunk also
  // installs the Reflect metadata polyfill before its own code runs:
  // @peculiar/x509 (through tsyringe) demands it when it loads, and esbuild's
  // code splitting does not promise that the chunk holding an entry's
  // `import 'reflect-metadata'` evaluates before the chunk holding x509.
  banner: {
    js: "import { createRequire as __mtlsCreateRequire } from 'node:module'; const require = __mtlsCreateRequire(import.meta.url); require('reflect-metadata');",
  },
  legalComments: 'eof',
  logLevel: 'warning',
});
chmodSync(`${out}/mtls.js`, 0o755);
