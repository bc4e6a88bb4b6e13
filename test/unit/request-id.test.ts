/**
 * Request ids are RFC 9562 version-7 UUIDs: the layout python3's uuid module
 * reads (an independent parser), the time they carry, their order in time,
 * and no repeats.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { newRequestId } from '../../src/gateway/request-id.js';

describe('request ids', () => {
  test('python3 reads a version-7, RFC 9562 variant UUID carrying the given time', () => {
    const at = Date.UTC(2026, 11, 7, 1, 2, 3, 456);
    const id = newRequestId(at);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const py = spawnSync(
      'python3',
      [
        '-c',
        'import sys, uuid; u = uuid.UUID(sys.argv[1]); print(u.version, u.variant == uuid.RFC_4122, u.int >> 80)',
        id,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(py.status, 0, py.stderr);
    assert.equal(py.stdout.trim(), `7 True ${at}`);
  });

  test('ids of later milliseconds sort after earlier ones, and 100,000 ids never repeat', () => {
    const t = Date.now();
    const ids = [newRequestId(t), newRequestId(t + 1), newRequestId(t + 1000)];
    assert.deepEqual([...ids].sort(), ids);
    const many = new Set<string>();
    for (let i = 0; i < 100_000; i++) many.add(newRequestId(t));
    assert.equal(many.size, 100_000);
  });
});
