/**
 * The floor for `npm run bench:gateway -- --floor`: a bare node:tls server
 * with the gateway's TLS settings (TLS 1.2 only, the same ciphers, client
 * certificate required and verified by OpenSSL, no tickets) that answers
 * every request with a fixed response, without HTTP parsing, policy, audit
 * or upstream. What it costs per connection is what Node and OpenSSL cost;
 * the gateway's CPU beyond it is the gateway's own. Run as its own process;
 * sends its port to the parent over IPC.
 */
import { constants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { TLS12_AEAD_CIPHERS } from '../src/tls/versions.js';

const [certFile, keyFile, caFile] = process.argv.slice(2) as [string, string, string];
const response = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 39\r\n\r\n{"ok":true,"service":"bench-upstream"}\n',
);
const server = tls.createServer(
  {
    cert: readFileSync(certFile),
    key: readFileSync(keyFile),
    ca: [readFileSync(caFile, 'utf8')],
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.2',
    ciphers: TLS12_AEAD_CIPHERS,
    honorCipherOrder: true,
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_NO_TICKET,
  },
  (socket) => {
    let seen = '';
    socket.on('data', (d: Buffer) => {
      seen += d.toString('latin1');
      // One response per complete request head (the bench sends no bodies).
      let end: number;
      while ((end = seen.indexOf('\r\n\r\n')) >= 0) {
        const head = seen.slice(0, end);
        seen = seen.slice(end + 4);
        if (/\r\nconnection:\s*close/i.test(head)) socket.end(response);
        else socket.write(response);
      }
    });
    socket.on('error', () => socket.destroy());
  },
);
server.listen(0, '127.0.0.1', () =>
  process.send?.({ port: (server.address() as AddressInfo).port }),
);
process.on('disconnect', () => process.exit(0));
