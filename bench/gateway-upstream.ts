/**
 * The fixed upstream of `npm run bench:gateway`, in its own process: every
 * request gets the same small JSON answer (with Content-Length, keep-alive),
 * so both servers under test forward to exactly the same thing. Sends its
 * port to the parent over IPC.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const body = Buffer.from('{"ok":true,"service":"bench-upstream"}\n');
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
process.on('disconnect', () => process.exit(0));
