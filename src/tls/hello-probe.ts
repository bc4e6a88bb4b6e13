/**
 * Sends one hand-made ClientHello over plain TCP and reads the server's
 * plaintext answer: whether it accepts the offered version and, for TLS 1.2
 * and older, its certificate chain and CertificateRequest. The connection is
 * closed before any key exchange, so no client certificate or key is needed
 * and the server's policy, not the local one, decides: node:tls on Node 20
 * (OpenSSL 3) would not even offer TLS 1.0/1.1 without lowering its security
 * level (`DEFAULT@SECLEVEL=0`), whereas a hand-made hello offers any version.
 */
import { connect as netConnect } from 'node:net';
import { HandshakeObserver } from './handshake-tap.js';
import {
  buildClientHello,
  type CertificateRequestInfo,
  type ServerHelloInfo,
  type TlsAlert,
} from './tls-record.js';
import { TLS_VERSION_CODES, type TlsVersionName } from './versions.js';

/** Options for {@link sendClientHello}. */
export interface HelloProbeOptions {
  /** Host name (sent as SNI unless it is an IP address). */
  host: string;
  port: number;
  /** Connect here instead of resolving `host`. */
  address?: string;
  /** The one version to offer. */
  version: TlsVersionName;
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
}

/** How the server answered a ClientHello. */
export type HelloOutcome =
  'server-hello' | 'alert' | 'closed' | 'refused' | 'timeout' | 'not-tls' | 'network-error';

/** The server's answer to one ClientHello. */
export interface HelloProbeResult {
  version: TlsVersionName;
  outcome: HelloOutcome;
  /** The server chose the offered version. */
  accepted: boolean;
  serverHello?: ServerHelloInfo;
  /** The server's fatal alert, else its first warning alert. */
  alert?: TlsAlert;
  /** The server's certificates (DER, leaf first); TLS 1.0–1.2 only. */
  serverCertificates?: Buffer[];
  /**
   * The CertificateRequest; `null` when the whole first flight was read and
   * held none (the server does not ask for a client certificate); absent when
   * it could not be seen (TLS 1.3 encrypts it, or the handshake stopped).
   */
  certificateRequest?: CertificateRequestInfo | null;
  /** `ECONNREFUSED`, `ECONNRESET`, … for network outcomes. */
  errorCode?: string;
  /** One line for humans. */
  detail: string;
}

/** The first fatal (level 2) alert, RFC 5246 §7.2. */
function fatalAlert(alerts: readonly TlsAlert[]): TlsAlert | undefined {
  return alerts.find((a) => a.level === 'fatal');
}

/**
 * Offers one TLS version to a server and reports its answer.
 * Never throws: network failures are outcomes.
 */
export function sendClientHello(options: HelloProbeOptions): Promise<HelloProbeResult> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const offered = TLS_VERSION_CODES[options.version];
  return new Promise((resolve) => {
    const observer = new HandshakeObserver();
    const t = observer.transcript;
    let connected = false;
    let settled = false;
    const socket = netConnect({ host: options.address ?? options.host, port: options.port });
    const finish = (outcome: HelloOutcome, detail: string, errorCode?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const accepted = t.serverHello !== undefined && t.serverHello.version === offered;
      const result: HelloProbeResult = { version: options.version, outcome, accepted, detail };
      if (t.serverHello) result.serverHello = t.serverHello;
      const alert = fatalAlert(t.alertsReceived) ?? t.alertsReceived[0];
      if (alert) result.alert = alert;
      if (t.serverCertificates) result.serverCertificates = t.serverCertificates;
      if (t.certificateRequest) result.certificateRequest = t.certificateRequest;
      else if (t.serverHelloDone) result.certificateRequest = null;
      if (errorCode) result.errorCode = errorCode;
      resolve(result);
    };
    const timer = setTimeout(
      () => finish('timeout', `no answer within ${timeoutMs} ms`, 'ETIMEDOUT'),
      timeoutMs,
    );
    socket.once('connect', () => {
      connected = true;
      socket.write(buildClientHello({ version: options.version, servername: options.host }));
    });
    socket.on('data', (chunk: Buffer) => {
      observer.received(chunk);
      if (t.malformed) {
        finish('not-tls', t.malformed);
        return;
      }
      // Only a fatal alert refuses the hello; a warning (such as unrecognized_name, RFC 6066 §3) may precede a ServerHello.
      const alert = fatalAlert(t.alertsReceived);
      if (alert) {
        finish('alert', `alert ${alert.name} (${alert.code})`);
        return;
      }
      const hello = t.serverHello;
      if (!hello) return;
      const describe = `ServerHello ${hello.versionName} ${hello.cipherName}`;
      if (hello.version !== offered)
        finish('server-hello', `${describe} (answered a different version than offered)`);
      else if (hello.version >= 0x0304)
        finish(
          'server-hello',
          hello.helloRetryRequest ? `${describe} (HelloRetryRequest)` : describe,
        );
      else if (t.serverHelloDone) finish('server-hello', describe);
    });
    socket.once('end', () => {
      if (t.serverHello)
        finish('server-hello', `ServerHello ${t.serverHello.versionName}, then the server closed`);
      else
        finish(
          'closed',
          t.bytesReceived === 0
            ? 'the server closed the connection without answering'
            : 'the server closed the connection mid-answer',
        );
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNREFUSED') finish('refused', 'connection refused', e.code);
      else if (connected && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) {
        finish(
          t.serverHello ? 'server-hello' : 'closed',
          t.serverHello
            ? `ServerHello ${t.serverHello.versionName}, then a reset`
            : 'the server reset the connection without answering',
          e.code,
        );
      } else finish('network-error', e.message, e.code);
    });
  });
}
