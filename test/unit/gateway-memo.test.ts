import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedMemo, PerObjectMemo } from '../../src/gateway/memo.js';

test('a bounded memo never holds more than its bound: full, it starts over', () => {
  const m = new BoundedMemo<number>(2);
  m.set('a', 1);
  m.set('b', 2);
  assert.equal(m.get('a'), 1);
  m.set('c', 3);
  assert.equal(m.get('a'), undefined, 'emptied when full');
  assert.equal(m.get('b'), undefined);
  assert.equal(m.get('c'), 3);
  m.clear();
  assert.equal(m.get('c'), undefined);
});

test('a per-object memo computes once per object and key, and remembers a null answer too', () => {
  const memo = new PerObjectMemo<object, string | null>();
  const a = {};
  const b = {};
  let calls = 0;
  const verdict = (v: string | null) => () => {
    calls++;
    return v;
  };
  assert.equal(memo.get(a, 'k', verdict(null)), null);
  assert.equal(memo.get(a, 'k', verdict('other')), null, 'the first answer stands');
  assert.equal(memo.get(a, 'j', verdict('j')), 'j');
  assert.equal(memo.get(b, 'k', verdict('b')), 'b', 'another object, another answer');
  assert.equal(calls, 3);
});
