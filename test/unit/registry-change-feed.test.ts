/**
 * The change feed never loses a change to timing: a tick that arrives while
 * the registry is still reading the version counter for an earlier tick gets a
 * read of its own. On PostgreSQL that is the usual shape of a change made just
 * as LISTEN was established (the catch-up read and the NOTIFY overlap), and
 * there the next tick only comes with the next write, so a dropped tick would
 * leave a gateway on the old trust indefinitely.
 *
 * The store is a real SQLite registry; only the driver's feed (the ticks) and
 * the moment a read returns are in the test's hands.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type {
  SqlDriver,
  SqlQuery,
  SqlTransactionMode,
} from '../../src/gateway/registry/sql-driver.js';
import { openSqliteRegistry, SqliteRegistry } from '../../src/gateway/registry/sqlite-registry.js';
import type { RegistryChange } from '../../src/gateway/registry/types.js';
import { tempDir } from '../helpers/pki.js';

/** A SQLite registry whose driver the test can reach. */
class ProbedRegistry extends SqliteRegistry {
  get probedDriver(): SqlDriver {
    return this.driver;
  }
}

/**
 * A SQLite registry at `path` whose change feed the test drives: `tick()`
 * stands for a NOTIFY or a poll timer, and the first read of the version
 * counter finishes (it saw the store as it was) but returns only on
 * `release()`. The registry is closed when the test ends.
 */
async function heldFeedRegistry(
  t: { after: (fn: () => unknown) => void },
  path: string,
): Promise<{
  reg: ProbedRegistry;
  seen: RegistryChange[];
  tick: () => void;
  /** Resolves once the first read is held. */
  readHeld: () => Promise<void>;
  release: () => void;
}> {
  const reg = new ProbedRegistry(path);
  await reg.init();
  t.after(() => reg.close());
  const driver = reg.probedDriver;
  let tick: (() => void) | undefined;
  driver.watch = (fn) => {
    tick = fn;
    return () => undefined;
  };
  let release: (() => void) | undefined;
  let heldReads = 0;
  const transaction = driver.transaction.bind(driver);
  driver.transaction = async <T>(
    mode: SqlTransactionMode,
    fn: (q: SqlQuery) => Promise<T>,
  ): Promise<T> => {
    const result = await transaction(mode, fn);
    if (mode === 'read' && release === undefined) {
      heldReads++;
      await new Promise<void>((r) => (release = r));
    }
    return result;
  };
  const seen: RegistryChange[] = [];
  t.after(reg.onChange((c) => seen.push(c)));
  const started = tick;
  assert.ok(started, 'the registry started the feed');
  return {
    reg,
    seen,
    tick: started,
    readHeld: async () => {
      while (heldReads === 0) await new Promise((r) => setImmediate(r));
    },
    release: () => release?.(),
  };
}

test('a tick during a read of the version counter gets a read of its own: the change is reported', async (t) => {
  const { dir, cleanup } = tempDir('mtlskit-feed-');
  t.after(cleanup);
  const path = join(dir, 'registry.db');
  const writer = await openSqliteRegistry(path);
  t.after(() => writer.close());
  const { seen, tick, readHeld, release } = await heldFeedRegistry(t, path);

  tick(); // the read of the version counter starts, and sees the old version
  await readHeld();
  await writer.createInstitution({ id: 'late', name: 'Late' });
  tick(); // the NOTIFY of that write, while the first read is still out
  release();

  const deadline = Date.now() + 2_000;
  while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(
    seen.map((c) => c.institutionId),
    ['late'],
    'the write is reported once, naming its institution',
  );
  assert.equal(seen[0]?.version, await writer.version());
});

test("a read that saw the store before this process's own write, returning after the write was reported, reports nothing more", async (t) => {
  const { dir, cleanup } = tempDir('mtlskit-feed-');
  t.after(cleanup);
  const path = join(dir, 'registry.db');
  const { reg, seen, tick, readHeld, release } = await heldFeedRegistry(t, path);

  tick(); // a poll reads the version counter before the write below
  await readHeld();
  await reg.createInstitution({ id: 'own', name: 'Own' });
  assert.deepEqual(
    seen.map((c) => c.institutionId),
    ['own'],
    'the writer hears its own change at once',
  );
  release(); // the poll's older reading comes back now
  await new Promise((r) => setTimeout(r, 50));
  tick(); // and a later poll reads the store as it is
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(
    seen.map((c) => [c.institutionId, c.version]),
    [['own', await reg.version()]],
    'no full reload for a reading that was merely older, and no second report of the write',
  );
});
