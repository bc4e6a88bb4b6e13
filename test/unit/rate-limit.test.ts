/**
 * The per-institution token bucket: an idle institution gets its burst at
 * once, then the sustained rate; an empty bucket says when to retry (whole
 * seconds, at least 1, as Retry-After carries); institutions do not share
 * buckets; a registry change forgets the removed ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InstitutionRateLimit } from '../../src/gateway/rate-limit.js';

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

test('each institution has its own bucket; a registry change forgets the ones removed', () => {
  const now = 0;
  const limit = new InstitutionRateLimit({ perSecond: 1, burst: 1, now: () => now });
  assert.equal(limit.take('acme').allowed, true);
  assert.equal(limit.take('acme').allowed, false);
  assert.equal(limit.take('bank').allowed, true, 'acme used up its own bucket only');
  limit.retain(new Set(['bank']));
  assert.equal(limit.take('acme').allowed, true, 'acme was removed: re-registered, it starts full');
  assert.equal(limit.take('bank').allowed, false, 'bank kept its state');
});
