/**
 * Puts an exchange's outcome, verdict, cause and hint together, and reports
 * what the TLS layer showed (protocol, chains, the CertificateRequest).
 */
import { MtlsError, type ErrorCode } from '../errors/index.js';
import type { ClientCredentials } from '../tls/credentials.js';
import type { CertificateRequestInfo } from '../tls/tls-record.js';
import type { TlsVersionName, TlsVersionRange } from '../tls/versions.js';
import {
  checkClientCertificate,
  decodeCaNames,
  matchIssuer,
  summarizeCertificate,
  type CertificateSummary,
  type ClientCertificateProblem,
  type IssuerMatch,
} from './certificates.js';
import {
  VERDICT_ERROR_CODES,
  classifyOutcome,
  classifyVerdict,
  type ClassifyInput,
  type Outcome,
  type Verdict,
} from './classify.js';
import type { ConnectionTrace } from './connection.js';
import { hintFor } from './hints.js';

/** The diagnosis of one exchange. */
export interface Diagnosis {
  /** True when the call went through (`ok`, or `no-client-cert-requested`: it worked but without mTLS). */
  ok: boolean;
  verdict: Verdict;
  outcome: Outcome;
  /** The likely cause, in one sentence. */
  cause: string;
  /** What to do, in plain language. */
  hint: string;
}

/** What the client can say about its own certificate. */
export interface ClientCertificateReport {
  certificate: CertificateSummary;
  /** The chain that came with it (intermediates, root). */
  chain: CertificateSummary[];
  problems: ClientCertificateProblem[];
}

/** Summarises our credentials and checks them for client authentication. */
export function reportClientCertificate(
  credentials: ClientCredentials,
  at: Date = new Date(),
): ClientCertificateReport {
  const certificate = summarizeCertificate(credentials.certificate, at);
  return {
    certificate,
    chain: credentials.chain.map((c) => summarizeCertificate(c, at)),
    problems: checkClientCertificate(certificate, at),
  };
}

/** The TLS side of an exchange, as `-v` and `--json` show it. */
export interface TlsReport {
  /** The address connected to, and the port. */
  address: string | undefined;
  port: number;
  /** SNI sent. */
  servername: string | undefined;
  /** Negotiated protocol and cipher (from the ServerHello when the handshake did not complete). */
  protocol: string | undefined;
  cipher: string | undefined;
  /** The server chain, leaf first: as node:tls accepted it, else as sent in clear. */
  serverChain: CertificateSummary[];
  /** Whether the server asked for a client certificate; null when it cannot be seen (TLS 1.3 encrypts it). */
  clientCertificateRequested: boolean | null;
  /** The CA names the server accepts client certificates from (RFC 4514); empty = any; null when not seen. */
  acceptableCaNames: string[] | null;
  /** Certificate types and signature algorithms from the CertificateRequest, when seen. */
  certificateTypes: string[] | null;
  signatureAlgorithms: string[] | null;
  /** What we sent in our Certificate message (leaf first; empty = none); null when not visible (TLS 1.3). */
  clientCertificateSent: CertificateSummary[] | null;
  /** Our issuer against the acceptable CA names, when both are known. */
  issuerMatch: IssuerMatch | null;
}

/**
 * Summarises DER certificates (a chain as sent on the wire), leaving out any
 * that cannot be parsed (node:tls judged them already).
 * @param at - the time validity is judged at (default now)
 */
export function summarizeChain(
  ders: readonly Uint8Array[] | undefined,
  at: Date = new Date(),
): CertificateSummary[] {
  const out: CertificateSummary[] = [];
  for (const d of ders ?? []) {
    try {
      out.push(summarizeCertificate(d, at));
    } catch {
      // A certificate our parser rejects is left out of the summary; node:tls judged it already.
    }
  }
  return out;
}

/**
 * Builds the TLS report of a connection.
 * @param request - a CertificateRequest seen elsewhere (the probe's own TLS 1.2 ClientHello) when the trace has none
 */
export function reportTls(
  trace: ConnectionTrace,
  credentials: ClientCredentials | undefined,
  request?: CertificateRequestInfo | null,
  at: Date = new Date(),
): TlsReport {
  const t = trace.transcript;
  const cr = t.certificateRequest ?? (t.serverHelloDone ? null : request);
  const requested = cr ? true : cr === null ? false : null;
  return {
    address: trace.address,
    port: trace.port,
    servername: trace.servername,
    protocol: trace.protocol ?? t.serverHello?.versionName,
    cipher: trace.cipher ?? t.serverHello?.cipherName,
    serverChain: summarizeChain(trace.peerCertificates ?? t.serverCertificates, at),
    clientCertificateRequested: requested,
    acceptableCaNames: cr ? decodeCaNames(cr.certificateAuthorities) : null,
    certificateTypes: cr ? cr.certificateTypes : null,
    signatureAlgorithms: cr ? cr.signatureAlgorithms : null,
    clientCertificateSent: t.clientCertificates ? summarizeChain(t.clientCertificates, at) : null,
    issuerMatch:
      cr && credentials
        ? matchIssuer(credentials.certificate, credentials.chain, cr.certificateAuthorities)
        : null,
  };
}

/** Everything {@link diagnose} takes into account. */
export interface DiagnoseOptions {
  credentials: ClientCredentials | undefined;
  /** Problems with our certificate (default: computed from `credentials`). */
  clientProblems?: ClientCertificateProblem[];
  tls: TlsReport | undefined;
  offered: TlsVersionRange;
  serverVersions?: Partial<Record<TlsVersionName, boolean>>;
}

/** Classifies an exchange and attaches the cause and the hint. */
export function diagnose(input: ClassifyInput, options: DiagnoseOptions): Diagnosis {
  const outcome = classifyOutcome(input);
  const problems =
    options.clientProblems ??
    (options.credentials
      ? checkClientCertificate(summarizeCertificate(options.credentials.certificate))
      : []);
  const { verdict, cause } = classifyVerdict(outcome, {
    hadCredentials: options.credentials !== undefined,
    clientProblems: problems,
    ...(options.tls?.issuerMatch ? { issuerMatch: options.tls.issuerMatch } : {}),
    certificateRequested: options.tls?.clientCertificateRequested ?? null,
    offered: options.offered,
    ...(options.serverVersions ? { serverVersions: options.serverVersions } : {}),
  });
  const hint = hintFor(verdict, {
    ...(outcome.status !== undefined ? { status: outcome.status } : {}),
    ...(options.serverVersions ? { serverVersions: options.serverVersions } : {}),
    offeredMax: options.offered.maxVersion,
    ...(options.tls?.acceptableCaNames ? { acceptableCas: options.tls.acceptableCaNames } : {}),
    handshakeCompleted: input.trace?.secureConnected ?? false,
  });
  return {
    ok: verdict === 'ok' || verdict === 'no-client-cert-requested',
    verdict,
    outcome,
    cause,
    hint,
  };
}

/** The MtlsError for a failed exchange: the cause as message, the hint as hint, the diagnosis in details. */
export function diagnosisError(
  d: Diagnosis,
  target: string,
  extra: Record<string, unknown> = {},
): MtlsError {
  const code: ErrorCode = VERDICT_ERROR_CODES[d.verdict];
  return new MtlsError(code, `${target}: ${d.cause}`, {
    subject: target,
    hint: d.hint,
    details: { verdict: d.verdict, outcome: d.outcome, ...extra },
  });
}
