/**
 * Watches the bytes of a TLS connection made by node:tls and decodes its
 * plaintext part: the server's ServerHello, Certificate and CertificateRequest,
 * the certificate the client sent, and alerts in either direction.
 *
 * node:tls reads a plain `net.Socket` through its native handle, so nothing is
 * visible from JS. Handing it a Duplex instead makes it go through a JS stream
 * wrapper, and that Duplex sees every byte. Everything a TLS 1.2 peer sends
 * before its ChangeCipherSpec is plaintext (RFC 5246 §7.1); in TLS 1.3 only the
 * hellos are (RFC 8446 §2).
 */
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import {
  CONTENT_TYPE,
  HANDSHAKE_TYPE,
  HandshakeReader,
  TlsRecordReader,
  decodeAlert,
  parseCertificateMessage,
  parseCertificateRequest,
  parseServerHello,
  type CertificateRequestInfo,
  type ServerHelloInfo,
  type TlsAlert,
} from './tls-record.js';
import { errorMessage } from '../errors/mtls-error.js';

/** What was seen in clear on one connection. */
export interface HandshakeTranscript {
  /** Raw bytes received from and sent to the server. */
  bytesReceived: number;
  bytesSent: number;
  serverHello?: ServerHelloInfo;
  /** The server's certificates as sent (DER, leaf first); TLS 1.0–1.2 only. */
  serverCertificates?: Buffer[];
  /** The server's CertificateRequest; TLS 1.0–1.2 only. */
  certificateRequest?: CertificateRequestInfo;
  /** True once ServerHelloDone was seen: the server's whole first flight was read in clear. */
  serverHelloDone: boolean;
  /** The client's Certificate message (DER list; empty = no certificate sent); TLS 1.0–1.2 only. */
  clientCertificates?: Buffer[];
  /** Plaintext alerts from the server. */
  alertsReceived: TlsAlert[];
  /** Plaintext alerts we sent. */
  alertsSent: TlsAlert[];
  /** Set when the server's bytes were not TLS or a message was malformed. */
  malformed?: string;
}

/** Creates an empty transcript. */
export function emptyTranscript(): HandshakeTranscript {
  return {
    bytesReceived: 0,
    bytesSent: 0,
    serverHelloDone: false,
    alertsReceived: [],
    alertsSent: [],
  };
}

/** Decodes one direction of a connection into a transcript. */
class DirectionDecoder {
  private readonly records = new TlsRecordReader();
  private readonly handshakes = new HandshakeReader();
  private encrypted = false;
  private broken = false;

  constructor(
    private readonly transcript: HandshakeTranscript,
    private readonly fromServer: boolean,
  ) {}

  push(chunk: Uint8Array): void {
    if (this.fromServer) this.transcript.bytesReceived += chunk.length;
    else this.transcript.bytesSent += chunk.length;
    if (this.broken || this.encrypted) return;
    try {
      for (const record of this.records.push(chunk)) {
        if (this.encrypted) return;
        if (record.type === CONTENT_TYPE.changeCipherSpec) {
          this.encrypted = true;
        } else if (record.type === CONTENT_TYPE.alert) {
          const alert = decodeAlert(record.fragment);
          if (alert)
            (this.fromServer ? this.transcript.alertsReceived : this.transcript.alertsSent).push(
              alert,
            );
        } else if (record.type === CONTENT_TYPE.handshake) {
          for (const msg of this.handshakes.push(record.fragment))
            this.onMessage(msg.type, msg.body);
        }
      }
    } catch (e) {
      this.broken = true;
      if (this.fromServer) this.transcript.malformed = errorMessage(e);
    }
  }

  private onMessage(type: number, body: Buffer): void {
    const t = this.transcript;
    const tls13 = (t.serverHello?.version ?? 0) >= 0x0304;
    if (this.fromServer) {
      if (type === HANDSHAKE_TYPE.serverHello) {
        t.serverHello = parseServerHello(body);
      } else if (type === HANDSHAKE_TYPE.certificate && !tls13) {
        t.serverCertificates = parseCertificateMessage(body);
      } else if (type === HANDSHAKE_TYPE.certificateRequest && !tls13) {
        t.certificateRequest = parseCertificateRequest(body, t.serverHello?.version ?? 0x0303);
      } else if (type === HANDSHAKE_TYPE.serverHelloDone) {
        t.serverHelloDone = true;
      }
    } else if (type === HANDSHAKE_TYPE.certificate && !tls13) {
      t.clientCertificates = parseCertificateMessage(body);
    }
  }
}

/** Feeds the bytes of both directions into a {@link HandshakeTranscript}. */
export class HandshakeObserver {
  /** The transcript being filled. */
  readonly transcript: HandshakeTranscript = emptyTranscript();
  private readonly inbound = new DirectionDecoder(this.transcript, true);
  private readonly outbound = new DirectionDecoder(this.transcript, false);

  /** Bytes that came from the server. */
  received(chunk: Uint8Array): void {
    this.inbound.push(chunk);
  }

  /** Bytes that went to the server. */
  sent(chunk: Uint8Array): void {
    this.outbound.push(chunk);
  }
}

/**
 * Wraps a TCP socket in a Duplex that reports every byte to `observer`, for
 * `tls.connect({ socket })`. Errors, end-of-stream and back-pressure pass
 * through unchanged.
 */
export function tapSocket(raw: Socket, observer: HandshakeObserver): Duplex {
  const tapped = new Duplex({
    read() {
      raw.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      observer.sent(chunk);
      raw.write(chunk, (err) => callback(err ?? null));
    },
    final(callback) {
      raw.end(() => callback());
    },
    destroy(err, callback) {
      raw.destroy();
      callback(err);
    },
  });
  raw.on('data', (chunk: Buffer) => {
    observer.received(chunk);
    if (!tapped.push(chunk)) raw.pause();
  });
  raw.on('end', () => tapped.push(null));
  raw.on('error', (err) => tapped.destroy(err));
  // The TLS layer does not always shut down its side of a JS stream after the
  // peer's FIN, so the Duplex ends when the TCP socket closes, once the TLS
  // layer has read everything that came before the FIN.
  raw.on('close', () => {
    if (tapped.destroyed) return;
    if (tapped.readableEnded) tapped.destroy();
    else {
      tapped.push(null);
      tapped.once('end', () => tapped.destroy());
    }
  });
  return tapped;
}
