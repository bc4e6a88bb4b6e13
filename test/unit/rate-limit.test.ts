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
  const limit = new InstitutionRateLimit({ perSecond: 2, burst: 3, now: () => now });
  for (let i = 0; i < 3; i++) assert.deepEqual(limit.take('acme'), { allowed: true }, `burst ${i}`);
  assert.deepEqual(limit.take('acme'), { allowed: false, retryAfterSeconds: 1 });
  // Half a token per 250 ms at 2/s: not yet, then one.
  now = 250;
  assert.equal(limit.take('acme').allowed, false);
  now = 500;
  assert.deepEqual(limit.take('acme'), { allowed: true });
  // A long pause refills up to the burst, not beyond.
  now = 60_000;
  for (let i = 0; i < 3; i++) assert.equal(limit.take('acme').allowed, true);
  assert.equal(limit.take('acme').allowed, false);
});

test('Retry-After is whole seconds, at least 1, for slow rates too', () => {
  let now = 0;
  const slow = new InstitutionRateLimit({ perSecond: 0.1, burst: 1, now: () => now });
  assert.equal(slow.take('acme').allowed, true);
  assert.deepEqual(slow.take('acme'), { allowed: false, retryAfterSeconds: 10 });
  now = 4_000;
  assert.deepEqual(slow.take('acme'), { allowed: false, retryAfterSeconds: 6 });
  const fast = new InstitutionRateLimit({ perSecond: 1000, burst: 1, now: () => 0 });
  assert.equal(fast.take('acme').allowed, true);
  assert.deepEqual(fast.take('acme'), { allowed: false, retryAfterSeconds: 1 });
});

test('each institution has its own bucket; buckets that refilled are dropped, and start full again', () => {
  let now = 0;
  const limit = new InstitutionRateLimit({ perSecond: 1, burst: 1, now: () => now });
  assert.equal(limit.take('acme').allowed, true);
  assert.equal(limit.take('acme').allowed, false);
  assert.equal(limit.take('bank').allowed, true, 'acme used up its own bucket only');
  // Many institutions calling once each, long ago: the sweep drops their full buckets.
  for (let i = 0; i < 5000; i++) limit.take(`inst-${i}`);
  now = 3_600_000;
  for (let i = 0; i < 5000; i++) limit.take('acme');
  assert.ok(limit.size < 100, `${limit.size} buckets kept`);
});

test('takeUpTo grants what the bucket holds, up to the batch asked for', () => {
  const now = 0;
  const limit = new InstitutionRateLimit({ perSecond: 10, burst: 5, now: () => now });
  assert.deepEqual(limit.takeUpTo('acme', 3), {
    granted: 3,
    retryAfterSeconds: 0,
    retryAfterMs: 0,
  });
  assert.deepEqual(limit.takeUpTo('acme', 3), {
    granted: 2,
    retryAfterSeconds: 0,
    retryAfterMs: 0,
  });
  assert.deepEqual(limit.takeUpTo('acme', 3), {
    granted: 0,
    retryAfterSeconds: 1,
    retryAfterMs: 100,
  });
});

test("workers leasing from one primary's buckets stay within the instance's rate together", async () => {
  let now = 0;
  const clock = () => now;
  const primary = new InstitutionRateLimit({ perSecond: 10, burst: 10, now: clock });
  let leases = 0;
  const worker = () =>
    new LeasedRateLimit({
      lease: (id, n) => {
        leases++;
        return Promise.resolve(primary.takeUpTo(id, n));
      },
      batch: leaseBatch(10, 10, 2),
      now: clock,
    });
  const workers = [worker(), worker()];
  let allowed = 0;
  let refused: RateDecision | null = null;
  // 40 requests at one instant, spread over both workers: the burst of 10, not 20.
  for (let i = 0; i < 40; i++) {
    const d = await workers[i % 2]?.take('acme');
    if (d?.allowed) allowed++;
    else refused = d ?? null;
  }
  assert.equal(allowed, 10);
  assert.deepEqual(refused, { allowed: false, retryAfterSeconds: 1 });
  assert.equal(leaseBatch(10, 10, 2), 1);
  assert.ok(leases <= 40, `${leases} leases`);
  // One second later the bucket holds 10 again; a refusal is not repeated past its ttl.
  now = 1_001;
  allowed = 0;
  for (let i = 0; i < 40; i++) if ((await workers[i % 2]?.take('acme'))?.allowed) allowed++;
  assert.equal(allowed, 10);
});

test('requests waiting for a lease share one request to the primary, and a lease answers later ones without asking', async () => {
  const primary = new InstitutionRateLimit({ perSecond: 100, burst: 100, now: () => 0 });
  let leases = 0;
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const worker = new LeasedRateLimit({
    lease: async (id, n) => {
      leases++;
      await gate;
      return primary.takeUpTo(id, n);
    },
    batch: 10,
    now: () => 0,
  });
  const waiting = Array.from({ length: 5 }, () => Promise.resolve(worker.take('acme')));
  release();
  const decided = await Promise.all(waiting);
  assert.ok(decided.every((d) => d.allowed));
  assert.equal(leases, 1, 'one lease of 10 served all five');
  const sync = worker.take('acme');
  assert.deepEqual(sync, { allowed: true }, 'decided from the lease at hand, without a promise');
  assert.equal(leases, 1);
});

test("a worker refused by the primary asks again once the primary's next token is due, not a whole second later", async () => {
  let now = 0;
  const clock = () => now;
  const primary = new InstitutionRateLimit({ perSecond: 100, burst: 1, now: clock });
  const worker = new LeasedRateLimit({
    lease: (id, n) => Promise.resolve(primary.takeUpTo(id, n)),
    batch: 1,
    now: clock,
  });
  assert.equal((await worker.take('acme')).allowed, true);
  assert.deepEqual(await worker.take('acme'), { allowed: false, retryAfterSeconds: 1 });
  now = 5;
  assert.equal((await worker.take('acme')).allowed, false, 'within the 10 ms a token takes');
  now = 11;
  assert.equal((await worker.take('acme')).allowed, true, 'the next token, at 100/s');
});
