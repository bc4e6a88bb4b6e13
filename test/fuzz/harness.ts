/**
 * The fuzz harness: mutates real, valid inputs made at test time (byte flips,
 * truncations, insertions, interesting values, splices, and DER-aware edits of
 * one TLV), feeds them to a parser with fast-check (seeded, shrinking), and
 * checks the properties every parser of outside input must keep:
 *
 * - a failure is an `MtlsError` with a catalogue code other than
 *   MTLS_INTERNAL, and a hint;
 * - no input takes more than 1 s of CPU time.
 *
 * Budgets: `npm test` runs each target's small fixed-seed budget; `npm run fuzz`
 * (scripts/fuzz.mjs) sets MTLS_FUZZ_RUNS for the long one. A failure prints the
 * seed, the replay path and the shrunk input in hex, and (in a long run) saves
 * the input under test/fixtures/fuzz/<target>/, which the in-suite test replays.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { ERROR_CODES } from '../../src/errors/codes.js';
import { MtlsError } from '../../src/errors/index.js';

/** Where failing inputs are kept as regression fixtures (one hex file each). */
export const FIXTURE_DIR = join(fileURLToPath(new URL('../fixtures/fuzz', import.meta.url)));

/** The long budget, when `npm run fuzz` asks for one. */
const LONG_RUNS = Number(process.env.MTLS_FUZZ_RUNS ?? '') || undefined;
/** The fixed seed of the in-suite budget; `MTLS_FUZZ_SEED` replays another run. */
const SEED =
  process.env.MTLS_FUZZ_SEED !== undefined ? Number(process.env.MTLS_FUZZ_SEED) : 0x13f022;
/** fast-check's replay path of a failure, with MTLS_FUZZ_SEED. */
const REPLAY_PATH = process.env.MTLS_FUZZ_PATH;
/** Only the targets whose name contains this run (`npm run fuzz -- pfx`). */
const ONLY = process.env.MTLS_FUZZ_ONLY;
/** An input may take at most this much CPU time. */
export const MAX_CPU_MS = 1000;

/** True when a long (`npm run fuzz`) budget is running. */
export const LONG_RUN = LONG_RUNS !== undefined;

/** One parser under test. */
export interface FuzzTarget {
  /** Short name: the fixture folder and the report line (`crl-der`). */
  name: string;
  /** Valid inputs to mutate (at least one). */
  seeds: readonly Uint8Array[];
  /** Runs the parser; it may resolve with anything or throw. */
  parse: (input: Buffer) => unknown;
  /** Cases in the in-suite budget (default 2000). */
  runs?: number;
  /** Checked on each input that parses (round trip, invariants); throw to fail. */
  accepted?: (input: Buffer, result: unknown) => void;
}

/** What one target's run saw. */
export interface FuzzReport {
  target: string;
  seed: number;
  cases: number;
  accepted: number;
  /** Rejections by catalogue code. */
  codes: Record<string, number>;
  /** Always 0 when the run passed: any such error fails it. */
  nonCatalogue: number;
  /** Inputs over {@link MAX_CPU_MS}: always 0 when the run passed. */
  overLimit: number;
  maxCpuMs: number;
  wallSeconds: number;
}

// ---------------------------------------------------------------- mutators

/** Values that break length fields, tags and counters. */
const INTERESTING: readonly number[][] = [
  [0x00],
  [0x01],
  [0x7f],
  [0x80],
  [0x81],
  [0xff],
  [0x82, 0xff, 0xff],
  [0x84, 0xff, 0xff, 0xff, 0xff],
  [0x83, 0x7f, 0xff, 0xff],
  [0x30, 0x80],
  [0x00, 0x00],
  [0xff, 0xff],
  [0x7f, 0xff],
  [0x80, 0x00],
  [0x05, 0x00],
  [0x02, 0x00],
  [0x06, 0x00],
  [0x04, 0x84],
  [0x30, 0x00],
  [0xa0, 0x00],
  [0x00, 0x00, 0x00, 0x00],
  [0xff, 0xff, 0xff, 0xff],
  [0x7f, 0xff, 0xff, 0xff],
  [0x2d, 0x2d, 0x2d, 0x2d, 0x2d],
];

type Mutation =
  | { op: 'flip'; at: number; mask: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; length: number }
  | { op: 'interesting'; at: number; value: number }
  | { op: 'splice'; at: number; other: number; from: number }
  | { op: 'duplicate'; at: number; length: number }
  | { op: 'tlv'; node: number; edit: 'tag' | 'length' | 'empty' | 'grow'; value: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('flip' as const),
      at: fc.nat(),
      mask: fc.integer({ min: 1, max: 255 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('insert' as const),
      at: fc.nat(),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('delete' as const),
      at: fc.nat(),
      length: fc.integer({ min: 1, max: 64 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('interesting' as const),
      at: fc.nat(),
      value: fc.nat(INTERESTING.length - 1),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('splice' as const),
      at: fc.nat(),
      other: fc.nat(),
      from: fc.nat(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('duplicate' as const),
      at: fc.nat(),
      length: fc.integer({ min: 1, max: 64 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('tlv' as const),
      node: fc.nat(),
      edit: fc.constantFrom('tag' as const, 'length' as const, 'empty' as const, 'grow' as const),
      value: fc.nat(255),
    }),
  },
);

/** Offsets of the TLV headers in DER (descending into constructed and encapsulating elements). */
function tlvNodes(buf: Buffer): { at: number; lengthAt: number; contentAt: number; end: number }[] {
  const out: { at: number; lengthAt: number; contentAt: number; end: number }[] = [];
  const walk = (start: number, end: number, depth: number): void => {
    let p = start;
    while (p + 2 <= end && depth < 24) {
      const tag = buf[p] as number;
      let len = buf[p + 1] as number;
      let q = p + 2;
      if (len & 0x80) {
        const n = len & 0x7f;
        if (n === 0 || n > 4 || q + n > end) return;
        len = 0;
        for (let i = 0; i < n; i++) len = len * 256 + (buf[q + i] as number);
        q += n;
      }
      if (q + len > end) return;
      out.push({ at: p, lengthAt: p + 1, contentAt: q, end: q + len });
      if (tag & 0x20) walk(q, q + len, depth + 1);
      else if ((tag === 0x04 || tag === 0x03) && len > 2) {
        // OCTET and BIT STRINGs often wrap DER (extension values, keys, PKCS#12 safes).
        const inner = tag === 0x03 ? q + 1 : q;
        if (buf[inner] === 0x30) walk(inner, q + len, depth + 1);
      }
      p = q + len;
    }
  };
  walk(0, buf.length, 0);
  return out;
}

function applyMutation(input: Buffer, m: Mutation, seeds: readonly Buffer[]): Buffer {
  const n = input.length;
  const pos = (x: number, span = n): number => (span <= 0 ? 0 : x % span);
  switch (m.op) {
    case 'flip': {
      if (n === 0) return input;
      const out = Buffer.from(input);
      const i = pos(m.at);
      out[i] = (out[i] as number) ^ m.mask;
      return out;
    }
    case 'truncate':
      return input.subarray(0, pos(m.at, n + 1));
    case 'insert': {
      const i = pos(m.at, n + 1);
      return Buffer.concat([input.subarray(0, i), m.bytes, input.subarray(i)]);
    }
    case 'delete': {
      const i = pos(m.at, n + 1);
      return Buffer.concat([input.subarray(0, i), input.subarray(i + m.length)]);
    }
    case 'interesting': {
      const value = Buffer.from(INTERESTING[m.value] as number[]);
      const i = pos(m.at, n + 1);
      return Buffer.concat([input.subarray(0, i), value, input.subarray(i + value.length)]);
    }
    case 'splice': {
      const other = seeds[m.other % seeds.length] as Buffer;
      return Buffer.concat([
        input.subarray(0, pos(m.at, n + 1)),
        other.subarray(pos(m.from, other.length + 1)),
      ]);
    }
    case 'duplicate': {
      const i = pos(m.at, n + 1);
      return Buffer.concat([input.subarray(0, i + m.length), input.subarray(i)]);
    }
    case 'tlv': {
      const nodes = tlvNodes(input);
      if (nodes.length === 0) return input;
      const node = nodes[m.node % nodes.length] as (typeof nodes)[number];
      const out = Buffer.from(input);
      if (m.edit === 'tag') {
        out[node.at] = m.value;
        return out;
      }
      if (m.edit === 'length') {
        out[node.lengthAt] = m.value;
        return out;
      }
      // Drop the content (keeping a short-form zero length), or append bytes
      // to it without fixing the parents' lengths.
      if (m.edit === 'empty')
        return Buffer.concat([
          input.subarray(0, node.at + 1),
          Buffer.from([0]),
          input.subarray(node.end),
        ]);
      return Buffer.concat([
        input.subarray(0, node.end),
        Buffer.alloc(1 + (m.value % 8), m.value),
        input.subarray(node.end),
      ]);
    }
  }
}

/**
 * Mutants of the seeds: one to four stacked mutations of one seed, or the
 * seed itself now and then (so that the valid path stays exercised).
 */
export function mutantsOf(seeds: readonly Uint8Array[]): fc.Arbitrary<Buffer> {
  const bufs = seeds.map((s) => Buffer.from(s));
  assert.ok(bufs.length > 0, 'a fuzz target needs at least one seed');
  return fc
    .record({
      seed: fc.nat(bufs.length - 1),
      mutations: fc.array(mutationArb, { minLength: 0, maxLength: 4 }),
    })
    .map(({ seed, mutations }) =>
      mutations.reduce((b, m) => applyMutation(b, m, bufs), bufs[seed] as Buffer),
    );
}

// -------------------------------------------------------------- properties

/** Asserts that a thrown value is a catalogue MtlsError (not MTLS_INTERNAL) with a hint. */
export function assertCatalogueError(e: unknown): asserts e is MtlsError {
  if (!(e instanceof MtlsError)) {
    const err = e instanceof Error ? e : new Error(String(e));
    throw new Error(`not an MtlsError: ${err.name}: ${err.message}\n${err.stack ?? ''}`);
  }
  if (!(e.code in ERROR_CODES)) throw new Error(`unknown code ${e.code}: ${e.message}`);
  if (e.code === 'MTLS_INTERNAL')
    throw new Error(`MTLS_INTERNAL for bad input: ${e.message}\n${e.stack ?? ''}`);
  if (!e.hint || e.hint.trim() === '') throw new Error(`${e.code} without a hint: ${e.message}`);
  if (e.message.trim() === '') throw new Error(`${e.code} without a message`);
}

/** CPU time of this process in ms (user + system): stable on a loaded machine, unlike wall time. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Runs the parser on one input and checks the properties, counting what it saw. */
async function checkOne(target: FuzzTarget, input: Buffer, report: FuzzReport): Promise<void> {
  const before = cpuMs();
  let code: string | null = null;
  let result: unknown;
  try {
    result = await target.parse(input);
  } catch (e) {
    assertCatalogueError(e);
    code = e.code;
  }
  const spent = cpuMs() - before;
  report.maxCpuMs = Math.max(report.maxCpuMs, spent);
  if (spent > MAX_CPU_MS) {
    report.overLimit++;
    throw new Error(
      `${target.name}: the input took ${spent.toFixed(0)} ms of CPU (limit ${MAX_CPU_MS} ms)`,
    );
  }
  if (code === null) {
    report.accepted++;
    target.accepted?.(input, result);
  } else report.codes[code] = (report.codes[code] ?? 0) + 1;
}

/** The regression fixtures of a target (hex files under test/fixtures/fuzz/<target>/). */
export function regressionInputs(target: string): { file: string; input: Buffer }[] {
  const dir = join(FIXTURE_DIR, target);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.hex'))
    .sort()
    .map((f) => ({
      file: join(dir, f),
      input: Buffer.from(readFileSync(join(dir, f), 'utf8').replace(/\s+/g, ''), 'hex'),
    }));
}

function saveRegression(target: string, input: Buffer): string {
  const dir = join(FIXTURE_DIR, target);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${createHash('sha256').update(input).digest('hex').slice(0, 16)}.hex`);
  writeFileSync(file, (input.toString('hex').match(/.{1,64}/g) ?? ['']).join('\n') + '\n');
  return file;
}

/** True when this target runs in this process (MTLS_FUZZ_ONLY filter). */
export function selected(name: string): boolean {
  return ONLY === undefined || ONLY.split(',').some((s) => name.includes(s.trim()));
}

/**
 * Replays the target's regression fixtures, then fuzzes it: the in-suite
 * budget, or MTLS_FUZZ_RUNS cases in a long run. Fails with the seed, the
 * replay path and the shrunk input in hex.
 */
export async function fuzz(target: FuzzTarget): Promise<FuzzReport> {
  const report: FuzzReport = {
    target: target.name,
    seed: SEED,
    cases: 0,
    accepted: 0,
    codes: {},
    nonCatalogue: 0,
    overLimit: 0,
    maxCpuMs: 0,
    wallSeconds: 0,
  };
  const started = performance.now();
  for (const { file, input } of regressionInputs(target.name)) {
    try {
      await checkOne(target, input, report);
    } catch (e) {
      throw new Error(
        `${target.name}: regression fixture ${file} fails again: ${(e as Error).message}`,
      );
    }
  }
  for (const seed of target.seeds) await checkOne(target, Buffer.from(seed), report);
  const numRuns = LONG_RUNS ?? target.runs ?? 2000;
  const details = await fc.check(
    fc.asyncProperty(mutantsOf(target.seeds), (input) => checkOne(target, input, report)),
    { seed: SEED, numRuns, ...(REPLAY_PATH ? { path: REPLAY_PATH } : {}), endOnFailure: false },
  );
  report.wallSeconds = (performance.now() - started) / 1000;
  report.cases = details.numRuns;
  if (details.failed) {
    const input = details.counterexample?.[0];
    report.nonCatalogue++;
    writeReport(report);
    const saved = input && LONG_RUN ? `\nsaved as ${saveRegression(target.name, input)}` : '';
    const cause =
      details.errorInstance instanceof Error
        ? details.errorInstance.message
        : String(details.errorInstance);
    throw new Error(
      `fuzz ${target.name} failed after ${details.numRuns} cases (${details.numShrinks} shrinks)\n` +
        `replay: MTLS_FUZZ_SEED=${details.seed} MTLS_FUZZ_PATH=${details.counterexamplePath ?? ''} npm run fuzz -- ${target.name}\n` +
        `input (${input?.length ?? 0} bytes, hex): ${input?.toString('hex') ?? '?'}${saved}\n${cause}`,
    );
  }
  writeReport(report);
  return report;
}

/** Appends the report line to MTLS_FUZZ_REPORT (a JSON-lines file) when set. */
function writeReport(report: FuzzReport): void {
  const file = process.env.MTLS_FUZZ_REPORT;
  if (file) appendFileSync(file, JSON.stringify(report) + '\n');
}
