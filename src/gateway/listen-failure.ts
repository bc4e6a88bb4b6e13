/**
 * The error for a listener that cannot be bound, shared by every listener
 * (the mTLS listener, the ops listener, the admin API) and every process that
 * binds one (the gateway, the primary of workers): one code, MTLS_NETWORK,
 * naming the address and its configuration key.
 */
import { MtlsError } from '../errors/index.js';
import { errorCode, systemErrorText } from '../errors/mtls-error.js';
import { formatListenAddress, type ListenAddress } from './config-keys.js';

/**
 * Turns a listen error into MTLS_NETWORK naming the address, the key that
 * set it and the cause, with the fix for that cause; an MtlsError passes
 * through unchanged.
 * @param key - the configuration key of the listener (`listen`, `ops.listen`, `admin.listen`)
 */
export function listenFailure(e: unknown, key: string, address: ListenAddress): MtlsError {
  if (e instanceof MtlsError) return e;
  const where = formatListenAddress(address);
  const code = errorCode(e);
  const hint =
    code === 'EADDRINUSE'
      ? `Another process holds ${where} (\`ss -ltnp 'sport = :${address.port}'\` names it): stop it, or give ${key} another port.`
      : code === 'EACCES'
        ? `Ports below 1024 need privileges: give ${key} a port above 1023 (behind the balancer), or grant CAP_NET_BIND_SERVICE.`
        : code === 'EADDRNOTAVAIL'
          ? `${address.host} is not an address of this host: give ${key} one of its own, or 0.0.0.0.`
          : `Check the address given for ${key}.`;
  return new MtlsError(
    'MTLS_NETWORK',
    `cannot listen on ${where} (${key}): ${systemErrorText(e)}`,
    { subject: key, cause: e, hint },
  );
}
