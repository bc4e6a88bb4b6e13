/**
 * The questions a worker asks its primary on the serving path and waits for:
 * request rate leases (rate-limit.ts) and per-address connection slots
 * (connection-slots.ts). Both hold the instance's shared counts, and both
 * guard capacity, not trust, so a primary that does not answer must not stop
 * the worker from serving.
 *
 * A question unanswered within `timeoutMs` resolves null (the caller takes
 * its fallback), and for `bypassMs` after that no question is asked at all:
 * a stalled primary costs one wait every few seconds, not one per request or
 * connection. The outage is logged once when it starts and once when answers
 * come again.
 */
import type { Logger } from 'pino';
import type { WorkerConnectionSlotGrant, WorkerMessage, WorkerRateLeaseGrant } from './messages.js';

/** An answer of the primary to a question of {@link PrimaryQuestions}. */
export type PrimaryAnswer = WorkerRateLeaseGrant | WorkerConnectionSlotGrant;

/** Options for {@link PrimaryQuestions}. */
export interface PrimaryQuestionsOptions {
  send: (m: WorkerMessage) => void;
  /** How long a question waits for its answer. */
  timeoutMs: number;
  /** How long no question is asked after one went unanswered. */
  bypassMs: number;
  /** The worker's logger, once it has one. */
  logger: () => Logger | null;
}

/** A worker's questions to its primary, matched to their answers by id. */
export class PrimaryQuestions {
  private ids = 0;
  private readonly waiting = new Map<number, (answer: PrimaryAnswer) => void>();
  /** Questions that timed out but whose answer must still be acted on (a slot granted late). */
  private readonly late = new Map<number, (answer: PrimaryAnswer) => void>();
  private bypassUntil = 0;
  private unanswered = false;

  constructor(private readonly options: PrimaryQuestionsOptions) {}

  /**
   * Sends the question `build(id)` makes and resolves with its answer, or
   * null when the primary does not answer in time or is in an outage window.
   * `onLate` receives an answer that arrives after the null.
   */
  ask(
    build: (id: number) => WorkerMessage,
    onLate?: (answer: PrimaryAnswer) => void,
  ): Promise<PrimaryAnswer | null> {
    if (performance.now() < this.bypassUntil) return Promise.resolve(null);
    return new Promise((resolve) => {
      const id = ++this.ids;
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        if (onLate) this.late.set(id, onLate);
        this.bypassUntil = performance.now() + this.options.bypassMs;
        if (!this.unanswered) {
          this.unanswered = true;
          this.options
            .logger()
            ?.warn(
              { event: 'primary_unanswered', timeoutMs: this.options.timeoutMs },
              `the primary did not answer within ${this.options.timeoutMs} ms; until it answers again, requests pass without the instance's request rate limit and limits.maxConnectionsPerIp counts in this worker alone`,
            );
        }
        resolve(null);
      }, this.options.timeoutMs);
      timer.unref();
      this.waiting.set(id, (answer) => {
        clearTimeout(timer);
        if (this.unanswered) {
          this.unanswered = false;
          this.options
            .logger()
            ?.info(
              { event: 'primary_answered' },
              'the primary answers again; the request rate limit and limits.maxConnectionsPerIp hold for the instance',
            );
        }
        resolve(answer);
      });
      this.options.send(build(id));
    });
  }

  /** Routes an answer to its question (or to its late handler). */
  answer(m: PrimaryAnswer): void {
    const waiter = this.waiting.get(m.id);
    if (waiter) {
      this.waiting.delete(m.id);
      waiter(m);
      return;
    }
    const late = this.late.get(m.id);
    this.late.delete(m.id);
    late?.(m);
  }
}
