/**
 * `mtls probe HOST:PORT`: a diagnosis report of an mTLS endpoint.
 *
 * 1. Which of TLS 1.0, 1.1, 1.2 and 1.3 the server accepts (one hand-made
 *    ClientHello per version, so the server's policy decides, not ours).
 * 2. Whether it asks for a client certificate, and
 * 3. the CA names of its CertificateRequest, read off the wire (TLS 1.2 sends
 *    it in clear; node:tls has no API for it).
 * 4. Whether our certificate's issuer is among those names.
 * 5. The server chain and when it expires.
 * 6. A full handshake and one request, classified, with
 * 7. one plain-language hint.
 */
import { isIP } from 'node:net';
import { MtlsError } from '../errors/index.js';
import { sendClientHello, type HelloProbeResult } from '../tls/hello-probe.js';
import type { CertificateRequestInfo } from '../tls/tls-record.js';
import {
  TLS_VERSIONS,
  tlsVersionRange,
  type TlsVersionName,
  type TlsVersionRange,
} from '../tls/versions.js';
import type { CertificateSummary, IssuerMatch } from './certificates.js';
import {
  diagnose,
  reportClientCertificate,
  reportTls,
  summarizeChain,
  type ClientCertificateReport,
  type Diagnosis,
  type TlsReport,
} from './diagnose.js';
import { addressFor, type MtlsClientOptions } from './dispatcher.js';
import { performExchange } from './request.js';

/** Options for {@link probeServer}. */
export interface ProbeOptions extends MtlsClientOptions {
  /** `HOST:PORT`, `HOST` (port 443), `[IPv6]:PORT`, or an https:// URL (its path is used for the request). */
  target: string;
  /** Path of the one request (default `/`, or the URL's path). */
  path?: string;
  /** Per-step timeout (default 10 s). */
  timeoutMs?: number;
}

/** Step 1: one version. */
export interface VersionSupport {
  version: TlsVersionName;
  /** True when the server chose this version; null when it could not be told (the connection failed). */
  accepted: boolean | null;
  /** What the server answered. */
  detail: string;
}

/** The CertificateRequest, decoded (steps 2 and 3). */
export interface CertificateRequestReport {
  /** RFC 4514 names; empty means the server accepts any CA (RFC 5246 §7.4.4). */
  acceptableCaNames: string[];
  certificateTypes: string[];
  signatureAlgorithms: string[];
  /** The version of the handshake it was read from. */
  readOver: string;
}

/** The probe's report. */
export interface ProbeResult {
  target: { host: string; port: number; address: string | undefined; path: string };
  /** Step 1. */
  versions: VersionSupport[];
  /** Step 2: null when it cannot be seen (the server speaks only TLS 1.3, which encrypts the request). */
  clientCertificateRequested: boolean | null;
  /** Step 3. */
  certificateRequest: CertificateRequestReport | null;
  /** Our certificate, when credentials were given. */
  clientCertificate: ClientCertificateReport | null;
  /** Step 4: null without credentials or without a CertificateRequest. */
  issuerMatch: IssuerMatch | null;
  /** Step 5: leaf first. */
  serverChain: CertificateSummary[];
  /** Step 6: the full handshake and request. */
  exchange: { offered: TlsVersionRange; status: number | null; tls: TlsReport | null };
  /** Steps 6 and 7: the verdict, its cause and the hint. */
  diagnosis: Diagnosis;
}

/**
 * Splits `HOST:PORT` (or a URL) into host, port and path.
 * @throws MTLS_BAD_ARGUMENT when it cannot be read
 */
export function parseProbeTarget(target: string): { host: string; port: number; path: string } {
  const fail = (): never => {
    throw new MtlsError('MTLS_BAD_ARGUMENT', `"${target}" is not HOST:PORT`, {
      subject: 'target',
      hint: 'Write it as api.example.com:443, 203.0.113.7:8443, [2001:db8::1]:443 or https://api.example.com/path.',
    });
  };
  if (/^https:\/\//i.test(target)) {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      return fail();
    }
    return {
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(url.port || 443),
      path: `${url.pathname}${url.search}`,
    };
  }
  const m =
    /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(target) ?? /^([^:[\]/]+)(?::(\d{1,5}))?$/.exec(target);
  if (!m && isIP(target) === 6) return { host: target, port: 443, path: '/' };
  if (!m) return fail();
  const port = Number(m[2] ?? 443);
  if (port < 1 || port > 65535) fail();
  const host = m[1];
  if (host === undefined) return fail();
  return { host, port, path: '/' };
}

function versionSupport(r: HelloProbeResult): VersionSupport {
  const accepted =
    r.outcome === 'server-hello' || r.outcome === 'alert'
      ? r.accepted
      : r.outcome === 'closed' && r.serverHello
        ? r.accepted
        : null;
  return { version: r.version, accepted, detail: r.detail };
}

/**
 * Probes an mTLS endpoint and diagnoses the full call. Never throws for
 * network or TLS failures: they are the report's verdict.
 * @throws MTLS_BAD_ARGUMENT for a target that cannot be read or an unknown `tls` choice
 */
export async function probeServer(options: ProbeOptions): Promise<ProbeResult> {
  const { host, port, path: urlPath } = parseProbeTarget(options.target);
  const path = options.path ?? urlPath;
  const offered = tlsVersionRange(options.tls ?? '1.2');
  const address = addressFor(options.resolve, host, port);
  const timeoutMs = options.timeoutMs ?? 10_000;

  const hellos = await Promise.all(
    TLS_VERSIONS.map((version) =>
      sendClientHello({ host, port, version, timeoutMs, ...(address ? { address } : {}) }),
    ),
  );
  let versions = hellos.map(versionSupport);
  // A server that speaks some version and hangs up on another refuses that one.
  if (versions.some((v) => v.accepted === true)) {
    versions = versions.map((v, i) =>
      v.accepted === null && hellos[i]?.outcome === 'closed' ? { ...v, accepted: false } : v,
    );
  }
  const serverVersions: Partial<Record<TlsVersionName, boolean>> = {};
  for (const v of versions) if (v.accepted !== null) serverVersions[v.version] = v.accepted;

  // The CertificateRequest and chain from the newest pre-1.3 version the server accepted.
  const plain = [...hellos]
    .reverse()
    .find((h) => h.accepted && h.version !== 'TLSv1.3' && h.certificateRequest !== undefined);
  const request: CertificateRequestInfo | null | undefined = plain?.certificateRequest;

  const credentials = options.credentials;
  const clientCertificate = credentials ? reportClientCertificate(credentials) : null;
  const hostForUrl = isIP(host) === 6 ? `[${host}]` : host;
  const exchange = await performExchange({
    ...options,
    url: `https://${hostForUrl}:${port}${path.startsWith('/') ? path : `/${path}`}`,
    method: 'GET',
    headers: [['user-agent', 'mtlskit-probe']],
    timeoutMs,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? timeoutMs,
  });
  const tls = exchange.trace ? reportTls(exchange.trace, credentials, request) : null;
  const certificateRequest: CertificateRequestReport | null =
    tls &&
    tls.clientCertificateRequested &&
    tls.acceptableCaNames &&
    tls.certificateTypes &&
    tls.signatureAlgorithms
      ? {
          acceptableCaNames: tls.acceptableCaNames,
          certificateTypes: tls.certificateTypes,
          signatureAlgorithms: tls.signatureAlgorithms,
          readOver: exchange.trace?.transcript.certificateRequest
            ? (tls.protocol ?? 'TLSv1.2')
            : (plain?.version ?? 'TLSv1.2'),
        }
      : null;
  const serverChain: CertificateSummary[] =
    tls && tls.serverChain.length > 0 ? tls.serverChain : summarizeChain(plain?.serverCertificates);
  const diagnosis = diagnose(
    {
      trace: exchange.trace,
      ...(exchange.response
        ? { status: exchange.response.status, body: exchange.response.body }
        : { error: exchange.error }),
    },
    {
      credentials,
      ...(clientCertificate ? { clientProblems: clientCertificate.problems } : {}),
      tls: tls ?? undefined,
      offered,
      serverVersions,
    },
  );
  return {
    target: { host, port, address: tls?.address ?? address, path },
    versions,
    clientCertificateRequested: tls?.clientCertificateRequested ?? null,
    certificateRequest,
    clientCertificate,
    issuerMatch: tls?.issuerMatch ?? null,
    serverChain,
    exchange: { offered, status: exchange.response?.status ?? null, tls },
    diagnosis,
  };
}
