/**
 * System errors in messages are words a reader understands, with the errno
 * name kept for searching; anything else keeps its own message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { systemErrorText } from '../../src/errors/mtls-error.js';

test('a real system error reads as words with its errno name', async () => {
  const e: unknown = await readFile('/nonexistent-mtlskit-path/x').catch((err: unknown) => err);
  assert.equal(systemErrorText(e), 'no such file or directory (ENOENT)');
  assert.equal(
    systemErrorText(Object.assign(new Error('x'), { code: 'EACCES' })),
    'permission denied (EACCES)',
  );
});

test('an unknown code stays as it is; an error without a code gives its message', () => {
  assert.equal(systemErrorText(Object.assign(new Error('x'), { code: 'EWHATEVER' })), 'EWHATEVER');
  assert.equal(systemErrorText(new Error('disk on fire')), 'disk on fire');
  assert.equal(systemErrorText('plain text'), 'plain text');
});
