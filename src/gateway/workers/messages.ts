/**
 * The messages the supervising primary and its gateway workers exchange over
 * the cluster IPC channel (JSON, one object per message). Every message
 * carries `mtls` (its kind) so that other users of the channel (prom-client,
 * Node's own cluster traffic) are never mistaken for ours.
 */
import type { AddressInfo } from 'node:net';
import { toMtlsError } from '../../errors/index.js';
import type { GatewayConfig } from '../config.js';
import type { WireCredentials } from '../credentials.js';
import type { HealthState } from '../health.js';
import type { RequestRate } from '../registry/types.js';

/** An error crossing the process boundary (an `MtlsError` in JSON form). */
export interface WireError {
  code: string;
  message: string;
  hint?: string;
  subject?: string;
}

/** The JSON form of an error, to cross the process boundary. */
export function toWireError(e: unknown): WireError {
  const err = toMtlsError(e);
  return {
    code: err.code,
    message: err.message,
    hint: err.hint,
    ...(err.subject === undefined ? {} : { subject: err.subject }),
  };
}

/** What a worker answers to {@link WorkerReloadRequest}. */
export type WireReloadResult =
  | { ok: true; subject: string; notAfter: string; fingerprint: string }
  | { ok: false; error: WireError };

/** Primary → worker: start serving with this configuration (ops listener and admin API already removed). */
export interface WorkerStartMessage {
  mtls: 'start';
  config: GatewayConfig;
  /** The credentials the instance serves with, loaded by the primary (credentials.ts). */
  credentials: WireCredentials;
  /** The worker's slot, 1…N; a restarted worker takes over its predecessor's slot. */
  slot: number;
  /** N: how many workers share the instance (the size of a rate lease depends on it). */
  workers: number;
}

/** Primary → worker: report health (and metrics when asked). */
export interface WorkerStatusRequest {
  mtls: 'status';
  id: number;
  metrics: boolean;
}

/** Primary → worker: serve with these credentials, which the primary loaded again. */
export interface WorkerReloadRequest {
  mtls: 'reload-credential';
  id: number;
  credentials: WireCredentials;
}

/** Primary → worker: drain and exit 0. */
export interface WorkerDrainMessage {
  mtls: 'drain';
}

/**
 * Primary → worker: the drain follows in `drainDelayMs`; ask kept-alive
 * clients to reconnect (through the balancer, which is taking the instance
 * out) and go on accepting.
 */
export interface WorkerDrainNoticeMessage {
  mtls: 'drain-notice';
}

/** Primary → worker: the answer to a {@link WorkerRateLeaseRequest}. */
export interface WorkerRateLeaseGrant {
  mtls: 'rate-lease';
  id: number;
  granted: number;
  retryAfterSeconds: number;
  retryAfterMs: number;
}

/** Primary → worker: the answer to a {@link WorkerConnectionSlotRequest}. */
export interface WorkerConnectionSlotGrant {
  mtls: 'conn-slot';
  id: number;
  /** False when the address already holds `limit` connections on the instance. */
  granted: boolean;
}

/** Everything the primary sends. */
export type PrimaryMessage =
  | WorkerStartMessage
  | WorkerStatusRequest
  | WorkerReloadRequest
  | WorkerDrainMessage
  | WorkerDrainNoticeMessage
  | WorkerRateLeaseGrant
  | WorkerConnectionSlotGrant;

/** Worker → primary: the worker listens for messages; the primary sends {@link WorkerStartMessage} next. */
export interface WorkerHelloMessage {
  mtls: 'hello';
}

/** Worker → primary: the gateway is serving. */
export interface WorkerReadyMessage {
  mtls: 'ready';
  address: AddressInfo;
}

/** Worker → primary: `startGateway` failed; the worker exits next. */
export interface WorkerStartFailedMessage {
  mtls: 'start-failed';
  error: WireError;
}

/** Worker → primary: the answer to a {@link WorkerStatusRequest}. */
export interface WorkerStatusMessage {
  mtls: 'status';
  id: number;
  health: HealthState;
  /** `getMetricsAsJSON()` of the worker's prom-client registry, when asked (the input of `AggregatorRegistry.aggregate`). */
  metrics: object[] | null;
}

/** Worker → primary: the answer to a {@link WorkerReloadRequest}. */
export interface WorkerReloadMessage {
  mtls: 'reload-credential';
  id: number;
  result: WireReloadResult;
}

/** Worker → primary: tokens of an institution's request rate bucket, up to `want` (rate-limit.ts). */
export interface WorkerRateLeaseRequest {
  mtls: 'rate-lease';
  id: number;
  institution: string;
  want: number;
  /** The institution's rate as the worker's trust snapshot has it (its own, or the configured one). */
  rate: RequestRate;
}

/** Worker → primary: one of the instance's `limit` connection slots for `ip` (connection-slots.ts). */
export interface WorkerConnectionSlotRequest {
  mtls: 'conn-slot';
  id: number;
  ip: string;
  limit: number;
}

/** Worker → primary: a connection that held a granted slot closed. */
export interface WorkerConnectionSlotRelease {
  mtls: 'conn-slot-release';
  ip: string;
}

/** Everything a worker sends. */
export type WorkerMessage =
  | WorkerHelloMessage
  | WorkerReadyMessage
  | WorkerStartFailedMessage
  | WorkerStatusMessage
  | WorkerReloadMessage
  | WorkerRateLeaseRequest
  | WorkerConnectionSlotRequest
  | WorkerConnectionSlotRelease;

const PRIMARY_KINDS = new Set([
  'start',
  'status',
  'reload-credential',
  'drain',
  'drain-notice',
  'rate-lease',
  'conn-slot',
]);
const WORKER_KINDS = new Set([
  'hello',
  'ready',
  'start-failed',
  'status',
  'reload-credential',
  'rate-lease',
  'conn-slot',
  'conn-slot-release',
]);

/** True when `m` is one of the primary's messages. */
export function isPrimaryMessage(m: unknown): m is PrimaryMessage {
  return (
    typeof m === 'object' &&
    m !== null &&
    'mtls' in m &&
    typeof m.mtls === 'string' &&
    PRIMARY_KINDS.has(m.mtls)
  );
}

/** True when `m` is one of a worker's messages. */
export function isWorkerMessage(m: unknown): m is WorkerMessage {
  return (
    typeof m === 'object' &&
    m !== null &&
    'mtls' in m &&
    typeof m.mtls === 'string' &&
    WORKER_KINDS.has(m.mtls)
  );
}
