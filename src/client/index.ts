/**
 * The mTLS client: requests and probes with a diagnosis of every failure, an
 * undici dispatcher / https agent, and the working call as a snippet for
 * other platforms. How a failure is classified (TLS alerts, HTTP refusals,
 * hints) is internal; its result is the {@link Diagnosis} on each outcome.
 */
import 'reflect-metadata';

export * from './request.js';
export * from './probe.js';
export * from './dispatcher.js';
export type { Diagnosis, ClientCertificateReport, TlsReport, DiagnoseOptions } from './diagnose.js';
export type { Verdict, Outcome, OutcomeKind } from './classify.js';
export * from './snippets/index.js';
