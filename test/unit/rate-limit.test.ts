/**
 * The per-institution token bucket: an idle institution gets its burst at
 * once, then the sustained rate; an empty bucket says when to retry (whole
 * seconds, at least 1, as Retry-After carries); institutions do not share
 * buckets; workers leasing tokens from their primary's buckets stay within
 * the instance's rate together.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  InstitutionRateLimit,
  LeasedRateLimit,
  leaseBatch,
  type RateDecision,
} from '../../src/gateway/rate-limit.js';

test('an idle institution gets its burst, then the rate; an empty bucket says how long to wait', () => {
  let now = 0;
  const limit = new InstitutionRateLimit({ now: () => now });
  const rate = { requestsPerSecond: 2, burst: 3 };
  for (let i = 0; i < 3; i++)
    assert.deepEqual(limit.take('acme', rate), { allowed: true }, `burst ${i}`);
  assert.deepEqual(limit.take('acme', rate), { allowed: false, retryAfterSeconds: 1 });
  // Half a token per 250 ms at 2/s: not yet, then one.
  now = 250;
  assert.equal(limit.take('acme', rate).allowed, false);
  now = 500;
  assert.deepEqual(limit.take('acme', rate), { allowed: true });
  // A long pause refills up to the burst, not beyond.
  now = 60_000;
  for (let i = 0; i < 3; i++) assert.equal(limit.take('acme', rate).allowed, true);
  assert.equal(limit.take('acme', rate).allowed, false);
});

test('Retry-After is whole seconds, at least 1, for slow rates too', () => {
  let now = 0;
  const limit = new InstitutionRateLimit({ now: () => now });
  const slow = { requestsPerSecond: 0.1, burst: 1 };
  assert.equal(limit.take('acme', slow).allowed, true);
  assert.deepEqual(limit.take('acme', slow), { allowed: false, retryAfterSeconds: 10 });
  now = 4_000;
  assert.deepEqual(limit.take('acme', slow), { allowed: false, retryAfterSeconds: 6 });
  const fast = { requestsPerSecond: 1000, burst: 1 };
  assert.equal(limit.take('bank', fast).allowed, true);
  assert.deepEqual(limit.take('bank', fast), { allowed: false, retryAfterSeconds: 1 });
});

test('each institution has its own bucket; buckets that refilled are dropped, and start full again', () => {
  let now = 0;
  const limit = new InstitutionRateLimit({ now: () => now });
  const rate = { requestsPerSecond: 1, burst: 1 };
  assert.equal(limit.take('acme', rate).allowed, true);
  assert.equal(limit.take('acme', rate).allowed, false);
  assert.equal(limit.take('bank', rate).allowed, true, 'acme used up its own bucket only');
  // Many institutions calling once each, long ago: the sweep drops their full buckets.
  for (let i = 0; i < 5000; i++) limit.take(`inst-${i}`, rate);
  now = 3_600_000;
  for (let i = 0; i < 5000; i++) limit.take('acme', rate);
  assert.ok(limit.size < 100, `${limit.size} buckets kept`);
});

test('takeUpTo grants what the bucket holds, up to the batch asked for', () => {
  const now = 0;
  const limit = new InstitutionRateLimit({ now: () => now });
  const rate = { requestsPerSecond: 10, burst: 5 };
  assert.deepEqual(limit.takeUpTo('acme', 3, rate), {
    granted: 3,
    retryAfterSeconds: 0,
    retryAfterMs: 0,
  });
  assert.deepEqual(limit.takeUpTo('acme', 3, rate), {
    granted: 2,
    retryAfterSeconds: 0,
    retryAfterMs: 0,
  });
  assert.deepEqual(limit.takeUpTo('acme', 3, rate), {
    granted: 0,
    retryAfterSeconds: 1,
    retryAfterMs: 100,
  });
});

test("workers leasing from one primary's buckets stay within the instance's rate together", async () => {
  let now = 0;
  const clock = () => now;
  const primary = new InstitutionRateLimit({ now: clock });
  const rate = { requestsPerSecond: 10, burst: 10 };
  let leases = 0;
  const worker = () =>
    new LeasedRateLimit({
      lease: (id, n, r) => {
        leases++;
        return Promise.resolve(primary.takeUpTo(id, n, r));
      },
      workers: 2,
      now: clock,
    });
  const workers = [worker(), worker()];
  let allowed = 0;
  let refused: RateDecision | null = null;
  // 40 requests at one instant, spread over both workers: the burst of 10, not 20.
  for (let i = 0; i < 40; i++) {
    const d = await workers[i % 2]?.take('acme', rate);
    if (d?.allowed) allowed++;
    else refused = d ?? null;
  }
  assert.equal(allowed, 10);
  assert.deepEqual(refused, { allowed: false, retryAfterSeconds: 1 });
  assert.equal(leaseBatch(rate, 2), 1);
  assert.ok(leases <= 40, `${leases} leases`);
  // One second later the bucket holds 10 again; a refusal is not repeated past its ttl.
  now = 1_001;
  allowed = 0;
  for (let i = 0; i < 40; i++) if ((await workers[i % 2]?.take('acme', rate))?.allowed) allowed++;
  assert.equal(allowed, 10);
});

test('requests waiting for a lease share one request to the primary, and a lease answers later ones without asking', async () => {
  const primary = new InstitutionRateLimit({ now: () => 0 });
  const rate = { requestsPerSecond: 100, burst: 100 };
  let leases = 0;
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const worker = new LeasedRateLimit({
    lease: async (id, n, r) => {
      leases++;
      await gate;
      return primary.takeUpTo(id, n, r);
    },
    workers: 1,
    now: () => 0,
  });
  assert.equal(leaseBatch(rate, 1), 10, 'a tenth of a second of the rate');
  const waiting = Array.from({ length: 5 }, () => Promise.resolve(worker.take('acme', rate)));
  release();
  const decided = await Promise.all(waiting);
  assert.ok(decided.every((d) => d.allowed));
  assert.equal(leases, 1, 'one lease of 10 served all five');
  const sync = worker.take('acme', rate);
  assert.deepEqual(sync, { allowed: true }, 'decided from the lease at hand, without a promise');
  assert.equal(leases, 1);
});

test("a worker refused by the primary asks again once the primary's next token is due, not a whole second later", async () => {
  let now = 0;
  const clock = () => now;
  const primary = new InstitutionRateLimit({ now: clock });
  const rate = { requestsPerSecond: 100, burst: 1 };
  const worker = new LeasedRateLimit({
    lease: (id, n, r) => Promise.resolve(primary.takeUpTo(id, n, r)),
    workers: 1,
    now: clock,
  });
  assert.equal((await worker.take('acme', rate)).allowed, true);
  assert.deepEqual(await worker.take('acme', rate), { allowed: false, retryAfterSeconds: 1 });
  now = 5;
  assert.equal((await worker.take('acme', rate)).allowed, false, 'within the 10 ms a token takes');
  now = 11;
  assert.equal((await worker.take('acme', rate)).allowed, true, 'the next token, at 100/s');
});

test("institutions take under their own rates; a changed rate keeps the bucket's tokens, up to the new burst", () => {
  let now = 0;
  const limit = new InstitutionRateLimit({ now: () => now });
  const gold = { requestsPerSecond: 100, burst: 5 };
  const basic = { requestsPerSecond: 1, burst: 2 };
  const taken = (id: string, rate: typeof gold, n: number): number =>
    Array.from({ length: n }, () => limit.take(id, rate)).filter((d) => d.allowed).length;
  assert.equal(taken('gold', gold, 10), 5);
  assert.equal(taken('basic', basic, 10), 2);
  now = 100;
  assert.equal(
    taken('gold', gold, 20),
    5,
    '10 tokens refilled in 100 ms at 100/s, capped at the burst',
  );
  assert.equal(taken('basic', basic, 20), 0, 'a tenth of a token at 1/s');
  // basic is raised to 10/s, burst 20: no fresh bucket (that would be a free
  // burst to whoever's rate is changed), only the refill at the new rate.
  now = 1_100;
  const raised = { requestsPerSecond: 10, burst: 20 };
  assert.equal(
    taken('basic', raised, 30),
    10,
    'the tenth of a token left over + 10 refilled in 1 s at the new rate, not a fresh burst of 20',
  );
  // And lowered: what the bucket holds is cut to the new burst.
  now = 60_000;
  assert.equal(taken('basic', { requestsPerSecond: 1, burst: 3 }, 30), 3);
});

test('a lease is sized by the rate it is for', () => {
  assert.equal(leaseBatch({ requestsPerSecond: 1000, burst: 1000 }, 2), 100);
  assert.equal(leaseBatch({ requestsPerSecond: 1000, burst: 40 }, 2), 10, 'a share of the burst');
  assert.equal(leaseBatch({ requestsPerSecond: 0.5, burst: 1 }, 4), 1, 'at least 1');
});
