/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`, e.g. the files
 * `npm run bench:gateway -- --cpu-prof DIR` writes): the functions with the
 * most self time, and the most inclusive time, as a share of all samples.
 *
 *   npx tsx bench/profile-summary.ts DIR/new-p256/CPU.*.cpuprofile [--top 30] [--filter src/gateway] [--after onRequest]
 *
 * --after NAME skips the samples before the first one with NAME on its stack
 * (start-up); (idle) is left out of the shares, which are of busy time.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: 'string', default: '30' },
    filter: { type: 'string' },
    after: { type: 'string' },
  },
});
const top = Number(values.top);
for (const file of positionals) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Time per sample: the delta that follows it.
  const selfUs = new Map<number, number>();
  let total = 0;
  const onStack = (id: number, name: string): boolean => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur))
      if ((byId.get(cur) as ProfileNode).callFrame.functionName === name) return true;
    return false;
  };
  let started = !values.after;
  p.samples.forEach((id, i) => {
    if (!started) started = onStack(id, values.after as string);
    if (!started || (byId.get(id) as ProfileNode).callFrame.functionName === '(idle)') return;
    const dt = p.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
    total += dt;
  });
  const label = (n: ProfileNode): string => {
    const url = n.callFrame.url.replace(/^file:\/\/.*?\/(src|node_modules|bench)\//, '$1/');
    return `${n.callFrame.functionName || '(anonymous)'} ${url ? `${url}:${n.callFrame.lineNumber + 1}` : ''}`.trim();
  };
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id) as ProfileNode;
    self.set(label(n), (self.get(label(n)) ?? 0) + us);
    // Inclusive: every distinct frame on the stack gets the sample once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur) as ProfileNode);
      if (seen.has(l)) continue;
      seen.add(l);
      incl.set(l, (incl.get(l) ?? 0) + us);
    }
  }
  const show = (title: string, m: Map<string, number>): void => {
    console.log(`\n${title} (${file}, ${(total / 1e6).toFixed(2)} s busy)`);
    const rows = [...m.entries()]
      .filter(([l]) => !values.filter || l.includes(values.filter))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top);
    for (const [l, us] of rows)
      console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${l}`);
  };
  show('self time', self);
  show('inclusive time', incl);
}
