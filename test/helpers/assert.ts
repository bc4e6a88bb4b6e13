/**
 * Assertions that also narrow the type, for the places where a test knows a
 * value is there (a map entry, a regex group, the first row) and says so.
 */
import assert from 'node:assert/strict';
import { MtlsError } from '../../src/errors/index.js';

/** Fails the test with `what` when `value` is null or undefined; otherwise returns it. */
export function defined<T>(value: T, what: string): NonNullable<T> {
  assert.ok(value !== undefined && value !== null, `expected ${what}`);
  return value;
}

/** `arr[i]`, failing the test when there is no such element. */
export function at<T>(arr: readonly T[], i: number, what = `element ${String(i)}`): T {
  const value = arr[i];
  assert.ok(value !== undefined, `expected ${what} (length ${String(arr.length)})`);
  return value;
}

/** The `code` of a Node.js system error (ECONNRESET…), else its message; for `.then(…, errorCode)`. */
export function errorCode(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as NodeJS.ErrnoException).code;
  return code ?? e.message;
}

/**
 * A predicate for `assert.rejects`/`assert.throws`: the error is an MtlsError
 * with `code`, and its message matches `re` when given.
 */
export function assertCode(code: string, re?: RegExp): (e: unknown) => boolean {
  return (e: unknown): boolean => {
    assert.ok(e instanceof MtlsError, `expected MtlsError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  };
}
