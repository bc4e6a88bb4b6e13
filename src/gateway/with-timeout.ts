/**
 * A bound on a wait: the promise's value, or an MTLS_TIMEOUT rejection once
 * `ms` have passed. The promise itself is not cancelled; whatever it holds
 * (a hung socket) is left to its owner.
 */
import { MtlsError } from '../errors/index.js';

/**
 * Resolves as `p` does, or rejects with MTLS_TIMEOUT ("`what` did not finish
 * within `ms` ms") first.
 */
export function withTimeout<T>(p: Promise<T>, ms: number, what = 'the operation'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new MtlsError('MTLS_TIMEOUT', `${what} did not finish within ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
