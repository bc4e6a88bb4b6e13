/**
 * Fuzzes the parsers `mtls probe` runs on a server's bytes: TLS records,
 * handshake reassembly, ServerHello, Certificate, CertificateRequest and
 * alerts, starting from the real first flights of a node:tls server
 * (TLS 1.2 with a CertificateRequest, TLS 1.3, and a protocol_version alert).
 */
import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { connect, type AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:tls';
import { HandshakeObserver } from '../../src/tls/handshake-tap.js';
import {
  CLIENT_CERTIFICATE_TYPES,
  CONTENT_TYPE,
  HANDSHAKE_TYPE,
  HandshakeReader,
  TlsRecordReader,
  alertName,
  buildClientHello,
  cipherSuiteName,
  decodeAlert,
  parseCertificateMessage,
  parseCertificateRequest,
  parseServerHello,
  signatureSchemeName,
} from '../../src/tls/tls-record.js';
import type { TlsVersionName } from '../../src/tls/versions.js';
import { pkiSeeds, type PkiSeeds } from './seeds.js';
import { LONG_RUN, fuzz, selected } from './harness.js';

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
  it(
    'round trip: a TLS 1.0–1.2 server flight built from random fields, split into records and chunks anywhere, reads back as built',
    { skip: !selected('roundtrip') },
    () => {
      const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
      const u24 = (n: number): Buffer => Buffer.from([n >> 16, (n >> 8) & 0xff, n & 0xff]);
      const vec = (len: (n: number) => Buffer, parts: Buffer[]): Buffer => {
        const body = Buffer.concat(parts);
        return Buffer.concat([len(body.length), body]);
      };
      const u8 = (n: number): Buffer => Buffer.from([n]);
      const handshake = (type: number, body: Buffer): Buffer =>
        Buffer.concat([u8(type), u24(body.length), body]);
      const record = (type: number, fragment: Buffer): Buffer =>
        Buffer.concat([u8(type), u16(0x0303), u16(fragment.length), fragment]);
      const bytes = (max: number): fc.Arbitrary<Buffer> =>
        fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b));
      fc.assert(
        fc.property(
          fc.record({
            version: fc.constantFrom(0x0301, 0x0302, 0x0303),
            supportedVersions: fc.boolean(),
            random: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b)),
            sessionId: bytes(32),
            cipherSuite: fc.nat(0xffff),
            extensions: fc.array(
              fc.tuple(
                fc.nat(0xffff).filter((t) => t !== 43),
                bytes(40),
              ),
              { maxLength: 5 },
            ),
            certificates: fc.array(
              bytes(300).filter((b) => b.length > 0),
              { maxLength: 4 },
            ),
            certificateTypes: fc.array(fc.nat(255), { minLength: 1, maxLength: 5 }),
            signatureAlgorithms: fc.array(fc.nat(0xffff), { minLength: 1, maxLength: 8 }),
            authorities: fc.array(bytes(80), { maxLength: 4 }),
            alert: fc.option(fc.tuple(fc.constantFrom(1, 2), fc.nat(255)), { nil: undefined }),
            recordCuts: fc.array(fc.nat(), { maxLength: 6 }),
            chunkCuts: fc.array(fc.nat(), { maxLength: 8 }),
          }),
          (v) => {
            const exts = [
              ...v.extensions.map(([type, data]) => Buffer.concat([u16(type), vec(u16, [data])])),
              ...(v.supportedVersions
                ? [Buffer.concat([u16(43), vec(u16, [u16(v.version)])])]
                : []),
            ];
            const legacyVersion = v.supportedVersions ? 0x0303 : v.version;
            const serverHello = Buffer.concat([
              u16(legacyVersion),
              v.random,
              vec(u8, [v.sessionId]),
              u16(v.cipherSuite),
              u8(0),
              ...(exts.length > 0 ? [vec(u16, exts)] : []),
            ]);
            const certificate = vec(
              u24,
              v.certificates.map((c) => vec(u24, [c])),
            );
            const certificateRequest = Buffer.concat([
              vec(u8, [Buffer.from(v.certificateTypes)]),
              ...(v.version >= 0x0303 ? [vec(u16, v.signatureAlgorithms.map(u16))] : []),
              vec(
                u16,
                v.authorities.map((a) => vec(u16, [a])),
              ),
            ]);
            // RFC 5246 §6.2.1: handshake messages may be split across records at any byte.
            const messages = Buffer.concat([
              handshake(HANDSHAKE_TYPE.serverHello, serverHello),
              handshake(HANDSHAKE_TYPE.certificate, certificate),
              handshake(HANDSHAKE_TYPE.certificateRequest, certificateRequest),
              handshake(HANDSHAKE_TYPE.serverHelloDone, Buffer.alloc(0)),
            ]);
            const cuts = [
              ...new Set(v.recordCuts.map((c) => 1 + (c % (messages.length - 1)))),
            ].sort((a, b) => a - b);
            const records = [0, ...cuts].map((start, i) =>
              record(CONTENT_TYPE.handshake, messages.subarray(start, cuts[i] ?? messages.length)),
            );
            if (v.alert) records.splice(1, 0, record(CONTENT_TYPE.alert, Buffer.from(v.alert)));
            const stream = Buffer.concat(records);
            const observer = new HandshakeObserver();
            let at = 0;
            for (const cut of [...v.chunkCuts.map((c) => c % stream.length)].sort(
              (a, b) => a - b,
            )) {
              observer.received(stream.subarray(at, cut));
              at = cut;
            }
            observer.received(stream.subarray(at));
            const t = observer.transcript;
            assert.equal(t.malformed, undefined);
            assert.equal(t.bytesReceived, stream.length);
            assert.deepEqual(t.serverHello, {
              version: v.version,
              versionName: { 0x0301: 'TLSv1', 0x0302: 'TLSv1.1', 0x0303: 'TLSv1.2' }[v.version],
              cipherSuite: v.cipherSuite,
              cipherName: cipherSuiteName(v.cipherSuite),
              helloRetryRequest: false,
              extensions: [
                ...v.extensions.map(([type]) => type),
                ...(v.supportedVersions ? [43] : []),
              ],
            });
            assert.deepEqual(t.serverCertificates, v.certificates);
            assert.deepEqual(t.certificateRequest, {
              certificateTypes: v.certificateTypes.map(
                (c) => CLIENT_CERTIFICATE_TYPES[c] ?? `type_${c}`,
              ),
              signatureAlgorithms:
                v.version >= 0x0303 ? v.signatureAlgorithms.map(signatureSchemeName) : [],
              certificateAuthorities: v.authorities,
            });
            assert.equal(t.serverHelloDone, true);
            assert.deepEqual(
              t.alertsReceived.map((a) => [a.level, a.code, a.name]),
              v.alert
                ? [[v.alert[0] === 1 ? 'warning' : 'fatal', v.alert[1], alertName(v.alert[1])]]
                : [],
            );
          },
        ),
        { seed: 0x13f022, numRuns: LONG_RUN ? 20_000 : 500 },
      );
    },
  );
});
