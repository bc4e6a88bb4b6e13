/**
 * The address a TCP server is bound to. `server.address()` is typed for pipes
 * and unbound servers too; a gateway server listens on TCP, so anything else
 * is a bug, reported rather than passed on as a wrong type.
 */
import type { AddressInfo, Server } from 'node:net';
import { MtlsError } from '../errors/index.js';

/**
 * The bound TCP address of a listening server.
 * @param what - the server, for the message (`the ops server`, …)
 * @throws MTLS_INTERNAL when it is not listening on TCP
 */
export function boundAddress(server: Server, what: string): AddressInfo {
  const address = server.address();
  if (address === null || typeof address === 'string')
    throw new MtlsError('MTLS_INTERNAL', `${what} is not listening on a TCP port`);
  return address;
}
