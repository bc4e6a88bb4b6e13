#!/usr/bin/env node
// Bundles the web console (src/gateway/console/ui) into dist/gateway/console/assets:
// one script (esbuild, minified, no source map), the page and the style sheet.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const src = 'src/gateway/console/ui';
const out = 'dist/gateway/console/assets';
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(src, 'app.ts')],
  outfile: join(out, 'app.js'),
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'chrome110',
  legalComments: 'none',
  logLevel: 'warning',
});
for (const f of ['index.html', 'app.css']) copyFileSync(join(src, f), join(out, f));
