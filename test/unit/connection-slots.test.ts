/**
 * Per-address connection slots: counted in one process, held by the primary
 * for the instance, and asked of it by a worker that counts alone while the
 * primary does not answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  InstanceConnectionSlots,
  LeasedConnectionSlots,
  LocalConnectionSlots,
} from '../../src/gateway/connection-slots.js';
import { PrimaryQuestions, type PrimaryAnswer } from '../../src/gateway/workers/ask-primary.js';
import type { WorkerMessage } from '../../src/gateway/workers/messages.js';

test('local slots: an address gets its limit, and a slot comes back once however often it is released', () => {
  const slots = new LocalConnectionSlots();
  const a = slots.acquire('127.0.0.5', 2);
  const b = slots.acquire('127.0.0.5', 2);
  assert.ok(a && b);
  assert.equal(slots.acquire('127.0.0.5', 2), null, 'the third is refused');
  assert.ok(slots.acquire('127.0.0.6', 2), 'another address has its own slots');
  a.release();
  a.release();
  assert.equal(slots.held('127.0.0.5'), 1, 'a double release gives back one slot');
  assert.ok(slots.acquire('127.0.0.5', 2));
  assert.equal(slots.acquire('127.0.0.5', 2), null);
});

test("instance slots: one count over every worker, and a dead worker's slots are freed at once", () => {
  const slots = new InstanceConnectionSlots();
  assert.equal(slots.acquire(1, '127.0.0.5', 3), true);
  assert.equal(slots.acquire(2, '127.0.0.5', 3), true);
  assert.equal(slots.acquire(2, '127.0.0.5', 3), true);
  assert.equal(slots.acquire(1, '127.0.0.5', 3), false, 'the limit holds across workers');
  slots.release(1, '127.0.0.9');
  slots.release(3, '127.0.0.5');
  assert.equal(slots.held('127.0.0.5'), 3, 'a slot a worker does not hold is not given back');
  slots.releaseAll(2);
  assert.equal(slots.held('127.0.0.5'), 1, "worker 2's two slots freed");
  slots.release(2, '127.0.0.5');
  assert.equal(slots.held('127.0.0.5'), 1, 'nothing more to give back for the dead worker');
  slots.release(1, '127.0.0.5');
  assert.equal(slots.held('127.0.0.5'), 0);
});

test("a worker's slots: asked of the primary, given back to it, counted alone when it does not answer", async () => {
  const released: string[] = [];
  const answers: Array<boolean | null> = [true, false, null, null];
  let late: (() => void) | null = null;
  const slots = new LeasedConnectionSlots({
    ask: (_ip, _limit, onLateGrant) => {
      late = onLateGrant;
      return Promise.resolve(answers.shift() ?? null);
    },
    release: (ip) => released.push(ip),
  });
  const granted = await slots.acquire('127.0.0.5', 1);
  assert.ok(granted);
  assert.equal(await slots.acquire('127.0.0.5', 1), null, 'refused by the primary');
  const alone = await slots.acquire('127.0.0.5', 1);
  assert.ok(alone, 'no answer: counted in the worker');
  assert.equal(await slots.acquire('127.0.0.5', 1), null, 'the local count holds the limit');
  alone.release();
  assert.deepEqual(released, [], 'a local slot is not given to the primary');
  granted.release();
  granted.release();
  assert.deepEqual(released, ['127.0.0.5'], 'a granted slot goes back to the primary, once');
  (late as unknown as () => void)();
  assert.deepEqual(released, ['127.0.0.5', '127.0.0.5'], 'a late grant is given back at once');
});

test('questions to the primary: an answer by id, a timeout, a quiet window after it, a late answer routed', async () => {
  const sent: WorkerMessage[] = [];
  const logged: string[] = [];
  const logger = {
    warn: (o: { event: string }) => logged.push(o.event),
    info: (o: { event: string }) => logged.push(o.event),
  };
  const q = new PrimaryQuestions({
    send: (m) => sent.push(m),
    timeoutMs: 30,
    bypassMs: 200,
    logger: () => logger as never,
  });
  const ask = (onLate?: (a: PrimaryAnswer) => void): Promise<PrimaryAnswer | null> =>
    q.ask((id) => ({ mtls: 'conn-slot', id, ip: '127.0.0.5', limit: 1 }), onLate);

  const first = ask();
  const id1 = (sent[0] as { id: number }).id;
  q.answer({ mtls: 'conn-slot', id: id1, granted: true });
  assert.deepEqual(await first, { mtls: 'conn-slot', id: id1, granted: true });

  let lateAnswer: PrimaryAnswer | null = null;
  // The question's timer does not hold the process open (unref): this one does.
  const [unanswered] = await Promise.all([
    ask((a) => (lateAnswer = a)),
    new Promise((r) => setTimeout(r, 60)),
  ]);
  assert.equal(unanswered, null, 'no answer within the timeout');
  const id2 = (sent[1] as { id: number }).id;
  assert.equal(await ask(), null, 'inside the quiet window: not asked at all');
  assert.equal(sent.length, 2);
  q.answer({ mtls: 'conn-slot', id: id2, granted: true });
  assert.deepEqual(lateAnswer, { mtls: 'conn-slot', id: id2, granted: true });
  assert.deepEqual(logged, ['primary_unanswered'], 'the outage is logged once');

  await new Promise((r) => setTimeout(r, 220));
  const again = ask();
  const id3 = (sent[2] as { id: number }).id;
  q.answer({ mtls: 'conn-slot', id: id3, granted: false });
  assert.deepEqual(await again, { mtls: 'conn-slot', id: id3, granted: false });
  assert.deepEqual(logged, ['primary_unanswered', 'primary_answered']);
});
