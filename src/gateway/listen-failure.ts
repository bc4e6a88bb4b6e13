/**
 * The error for a listener that cannot be bound, shared by every process that
 * binds one (the gateway, the primary of workers).
 */
import { MtlsError } from '../errors/index.js';
import { errorCode, systemErrorText } from '../errors/mtls-error.js';

/**
 * Turns a listen error into MTLS_NETWORK naming the cause (a taken port is
 * said so); an MtlsError passes through unchanged.
 * @param subject - the configuration key of the listener that failed
 * @param hint - how to fix it
 */
export function listenFailure(e: unknown, subject: string, hint: string): MtlsError {
  if (e instanceof MtlsError) return e;
  const code = errorCode(e);
  return new MtlsError(
    'MTLS_NETWORK',
    `cannot listen: ${systemErrorText(e)}${code === 'EADDRINUSE' ? ' (the port is taken)' : ''}`,
    { subject, cause: e, hint },
  );
}
