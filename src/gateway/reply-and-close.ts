/**
 * The last answer on a connection the gateway gives up on (a malformed or
 * timed-out request, a refused Upgrade): written, then the connection closed
 * for good, whatever the client does.
 */
import type { Duplex } from 'node:stream';

/**
 * How long the last answer may take to be handed to the kernel before the
 * socket is destroyed without it: only a client that reads nothing (its
 * receive window full of earlier answers) takes longer, and it must not hold
 * the connection.
 */
const REPLY_FLUSH_GRACE_MS = 1_000;

/**
 * Writes `reply` as the last bytes of the connection, then destroys the
 * socket once they (and TLS close_notify) are handed to the kernel, or after
 * {@link REPLY_FLUSH_GRACE_MS} when they cannot be.
 *
 * A bare `socket.end(reply)` closes only the gateway's side: the socket stays
 * open, and node:http keeps reading and parsing what the client sends, until
 * the client closes its own side, which a client that keeps sending (a body
 * one byte at a time) or never reads the answer need never do. Destroying it
 * is what closes the connection, and what ends a response in progress on it
 * (the proxy aborts the upstream request on the response's `close`).
 */
export function replyAndClose(socket: Duplex, reply: string): void {
  const timer = setTimeout(() => socket.destroy(), REPLY_FLUSH_GRACE_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.end(reply, () => socket.destroy());
}
