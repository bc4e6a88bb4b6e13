/**
 * `npx tsx bench/cli-startup.ts`: how long the `mtls` command takes to start
 * and answer, next to references measured in the same run, alternating
 * rounds so that machine noise hits all alike:
 *   - `node -e 0`, the floor of any Node command;
 *   - `openssl x509 -noout -text`, what `mtls cert show` replaces;
 *   - the unbundled tsc output (`dist/cli/main.js`), to show what the bundle
 *     in `dist/bin` buys.
 * Reports medians and the ratio to `node -e 0`. Needs `npm run build` first.
 * Not a test: numbers on a shared machine are noisy; read the ratios.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);

const work = mkdtempSync(join(tmpdir(), 'mtlskit-bench-cli-'));
const cert = join(work, 'c.pem');
spawnSync(
  'openssl',
  ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'].concat([
    '-keyout',
    join(work, 'k.pem'),
    '-out',
    cert,
    '-subj',
    '/CN=bench',
    '-days',
    '30',
  ]),
  { stdio: 'ignore' },
);

interface Case {
  name: string;
  cmd: string;
  args: string[];
}
const node = process.execPath;
const cases: Case[] = [
  { name: 'node -e 0', cmd: node, args: ['-e', '0'] },
  { name: 'openssl x509 -text', cmd: 'openssl', args: ['x509', '-noout', '-text', '-in', cert] },
  { name: 'mtls --version', cmd: node, args: ['dist/bin/mtls.js', '--version'] },
  { name: 'mtls cert show', cmd: node, args: ['dist/bin/mtls.js', 'cert', 'show', cert] },
  {
    name: 'mtls cert show --json',
    cmd: node,
    args: ['dist/bin/mtls.js', 'cert', 'show', cert, '--json'],
  },
  { name: 'unbundled cert show', cmd: node, args: ['dist/cli/main.js', 'cert', 'show', cert] },
];

function timeOnce(c: Case): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(c.cmd, c.args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${c.name} exited ${r.status}: ${r.stderr.toString()}`);
  return ms;
}

const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
for (const c of cases) timeOnce(c); // warm the page cache
for (let i = 0; i < ROUNDS; i++) for (const c of cases) samples.get(c.name)?.push(timeOnce(c));
rmSync(work, { recursive: true, force: true });

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};
const floor = median(samples.get('node -e 0') ?? []);
console.log(`${ROUNDS} alternating rounds, median wall time per start`);
console.log('command'.padEnd(26) + 'ms'.padStart(8) + '  × node -e 0');
for (const c of cases) {
  const m = median(samples.get(c.name) ?? []);
  console.log(`${c.name.padEnd(26)}${m.toFixed(1).padStart(8)}  ${(m / floor).toFixed(2)}×`);
}
