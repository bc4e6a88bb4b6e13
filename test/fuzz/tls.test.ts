/**
 * Fuzzes the parsers `mtls probe` runs on a server's bytes: TLS records,
 * handshake reassembly, ServerHello, Certificate, CertificateRequest and
 * alerts, starting from the real first flights of a node:tls server
 * (TLS 1.2 with a CertificateRequest, TLS 1.3, and a protocol_version alert).
 */
import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:tls';
import { HandshakeObserver } from '../../src/tls/handshake-tap.js';
import {
  CONTENT_TYPE,
  HANDSHAKE_TYPE,
  HandshakeReader,
  TlsRecordReader,
  buildClientHello,
  decodeAlert,
  parseCertificateMessage,
  parseCertificateRequest,
  parseServerHello,
} from '../../src/tls/tls-record.js';
import type { TlsVersionName } from '../../src/tls/versions.js';
import { pkiSeeds, type PkiSeeds } from './seeds.js';
import { fuzz, selected } from './harness.js';

/** Reads one server flight with the probe's parsers, throwing what they throw. */
function decodeServerFlight(bytes: Buffer): unknown[] {
  const records = new TlsRecordReader();
  const handshakes = new HandshakeReader();
  const out: unknown[] = [];
  let version = 0x0303;
  for (const record of records.push(bytes)) {
    if (record.type === CONTENT_TYPE.changeCipherSpec) break;
    if (record.type === CONTENT_TYPE.alert) out.push(decodeAlert(record.fragment));
    if (record.type !== CONTENT_TYPE.handshake) continue;
    for (const msg of handshakes.push(record.fragment)) {
      if (msg.type === HANDSHAKE_TYPE.serverHello) {
        const hello = parseServerHello(msg.body);
        version = hello.version;
        out.push(hello);
      } else if (msg.type === HANDSHAKE_TYPE.certificate)
        out.push(parseCertificateMessage(msg.body));
      else if (msg.type === HANDSHAKE_TYPE.certificateRequest)
        out.push(parseCertificateRequest(msg.body, version));
    }
  }
  return out;
}

/** Sends a ClientHello for `version` and collects the server's bytes until it has sent its flight. */
function captureFlight(port: number, version: TlsVersionName): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const observer = new HandshakeObserver();
    const chunks: Buffer[] = [];
    const done = (): void => {
      socket.destroy();
      resolve(Buffer.concat(chunks));
    };
    socket.on('connect', () =>
      socket.write(buildClientHello({ version, servername: 'localhost' })),
    );
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      observer.received(c);
      const t = observer.transcript;
      if (
        t.serverHelloDone ||
        t.alertsReceived.length > 0 ||
        (t.serverHello?.version ?? 0) >= 0x0304
      )
        done();
    });
    socket.on('end', done);
    socket.on('error', (e) => (chunks.length ? done() : reject(e)));
  });
}

describe('fuzz: TLS records and handshake messages from a server', () => {
  let s: PkiSeeds;
  let server: Server;
  const flights: Buffer[] = [];
  before(async () => {
    s = await pkiSeeds();
    server = createServer({
      key: s.server.keyPem,
      cert: s.server.certPem + s.intermediate.certPem,
      ca: s.root.certPem + s.intermediate.certPem,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    for (const v of ['TLSv1.2', 'TLSv1.3', 'TLSv1'] as const)
      flights.push(await captureFlight(port, v));
    assert.ok(flights.every((f) => f.length > 0));
  });
  after(async () => {
    s.cleanup();
    await new Promise((r) => server.close(r));
  });

  it('the captured TLS 1.2 flight decodes to a ServerHello, the chain and a CertificateRequest', () => {
    const out = decodeServerFlight(flights[0] as Buffer);
    assert.ok(out.some((m) => Array.isArray(m) && m.length === 2));
    assert.ok(
      out.some((m) => typeof m === 'object' && m !== null && 'certificateAuthorities' in m),
    );
  });

  it('tls-server-flight', { skip: !selected('tls-server-flight') }, async () => {
    await fuzz({
      name: 'tls-server-flight',
      seeds: flights,
      runs: 3000,
      parse: (b) => {
        // The observer `mtls probe` uses must never throw, in one chunk or split, and
        // must call the bytes malformed exactly when the parsers refuse them.
        let parsed: unknown[] | undefined;
        let failure: unknown;
        try {
          parsed = decodeServerFlight(b);
        } catch (e) {
          failure = e;
        }
        for (const split of [b.length, b.length >> 1, 5]) {
          const observer = new HandshakeObserver();
          observer.received(b.subarray(0, split));
          observer.received(b.subarray(split));
          const malformed = observer.transcript.malformed;
          if (failure === undefined && malformed !== undefined)
            throw new Error(`the observer called parseable bytes malformed: ${malformed}`);
        }
        if (failure !== undefined)
          throw failure instanceof Error ? failure : new Error(JSON.stringify(failure));
        return parsed;
      },
    });
  });
});
