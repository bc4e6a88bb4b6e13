#!/usr/bin/env node
// Runs every x509-limbo case through the built CLI (`mtls cert verify`), as a
// user would: the case's certificates and CRLs written to files, its options
// as flags. Prints how many answers are right and every exit code seen; a
// rejection must exit 4, an acceptance 0. Not part of npm test (one process
// per case, a few minutes); the library test test/unit/verify-limbo.test.ts is.
// Usage: npm run build && node scripts/limbo-cli.mjs
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url);
const suite = JSON.parse(
  readFileSync(new URL('test/fixtures/x509-limbo/x509-limbo.json', root), 'utf8'),
);
const cli = new URL('dist/bin/mtls.js', root).pathname;
const dir = mkdtempSync(join(tmpdir(), 'mtlskit-limbo-cli-'));
const codes = new Map();
const wrong = [];
let right = 0;
try {
  for (const [i, c] of suite.testcases.entries()) {
    const file = (name, text) => {
      const p = join(dir, `${i}-${name}.pem`);
      writeFileSync(p, text);
      return p;
    };
    const args = [
      cli,
      'cert',
      'verify',
      file('leaf', c.peer_certificate),
      '--ca-file',
      file('ca', c.trusted_certs.join('')),
      '--purpose',
      c.validation_kind === 'CLIENT' ? 'client' : 'server',
      // limbo's model: every trusted certificate is a trust anchor, self-signed or not.
      '--partial-chain',
      '--at',
      c.validation_time ?? '2025-06-01T00:00:00Z',
    ];
    if (c.untrusted_intermediates.length)
      args.push('--untrusted', file('untrusted', c.untrusted_intermediates.join('')));
    c.crls.forEach((crl, j) => args.push('--crl', file(`crl${j}`, crl)));
    if (c.expected_peer_name) args.push('--name', c.expected_peer_name.value);
    if (c.max_chain_depth !== null) args.push('--max-depth', String(c.max_chain_depth));
    const r = spawnSync(process.execPath, args, {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    codes.set(r.status, (codes.get(r.status) ?? 0) + 1);
    const ok = (r.status === 0) === (c.expected_result === 'SUCCESS');
    if (ok && (r.status === 0 || r.status === 4)) right++;
    else wrong.push(`${c.id}: expected ${c.expected_result}, exit ${r.status}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const all = suite.testcases.length;
console.log(
  `x509-limbo through the CLI: ${right}/${all} right (${((100 * right) / all).toFixed(1)}%)`,
);
console.log(`exit codes: ${[...codes].map(([k, v]) => `${k}: ${v}`).join(', ')}`);
for (const w of wrong) console.log(`  ${w}`);
process.exitCode = [...codes.keys()].every((k) => k === 0 || k === 4) ? 0 : 1;
