/**
 * The admin API's failed sign-in limit, on a clock the test moves: when an
 * address is refused, for how long, what a success does, and the bound on
 * the table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthThrottle, DEFAULT_AUTH_THROTTLE } from '../../src/gateway/admin/auth-throttle.js';

test('ten failures in a minute refuse the address until the oldest leaves the window', () => {
  const t = new AuthThrottle();
  const start = 1_000_000;
  for (let i = 0; i < 9; i++) t.failed('10.0.0.1', start + i * 1000);
  assert.equal(t.retryAfterSeconds('10.0.0.1', start + 9000), 0, 'nine failures: still allowed');
  t.failed('10.0.0.1', start + 9000);
  // The first failure (at start) leaves the 60 s window at start + 60 s.
  assert.equal(t.retryAfterSeconds('10.0.0.1', start + 9000), 51);
  assert.equal(
    t.retryAfterSeconds('10.0.0.1', start + 59_500),
    1,
    'rounded up, never 0 while refused',
  );
  assert.equal(t.retryAfterSeconds('10.0.0.1', start + 60_000), 0, 'free again');
  assert.equal(t.retryAfterSeconds('10.0.0.2', start + 9000), 0, 'another address is not affected');
});

test('failures spread wider than the window never add up to a refusal', () => {
  const t = new AuthThrottle({ maxFailures: 3, windowMs: 10_000 });
  for (let i = 0; i < 20; i++) {
    t.failed('a', i * 5_000);
    assert.equal(t.retryAfterSeconds('a', i * 5_000), 0, `failure ${i}`);
  }
});

test('a success clears the count', () => {
  const t = new AuthThrottle({ maxFailures: 2, windowMs: 60_000 });
  t.failed('a', 0);
  t.succeeded('a');
  t.failed('a', 1);
  assert.equal(t.retryAfterSeconds('a', 2), 0);
  t.failed('a', 2);
  assert.equal(t.retryAfterSeconds('a', 3), 60);
});

test('the table is bounded: the address with the oldest latest failure is forgotten first', () => {
  const t = new AuthThrottle({ maxFailures: 1, maxAddresses: 3 });
  for (const [i, a] of ['a', 'b', 'c'].entries()) t.failed(a, i);
  t.failed('a', 10); // a is now the most recent
  t.failed('d', 11);
  assert.equal(t.size, 3);
  assert.equal(t.retryAfterSeconds('b', 12), 0, 'b was forgotten');
  for (const a of ['a', 'c', 'd']) assert.ok(t.retryAfterSeconds(a, 12) > 0, `${a} is remembered`);
});

test('the defaults are the documented ones', () => {
  assert.deepEqual(DEFAULT_AUTH_THROTTLE, {
    maxFailures: 10,
    windowMs: 60_000,
    maxAddresses: 10_000,
  });
});
