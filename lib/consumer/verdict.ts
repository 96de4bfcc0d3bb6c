import { SQS_MAX_VISIBILITY_TIMEOUT_SECONDS } from '../aws-limits.ts';
import { type BackoffOptions, nackVisibilityTimeout } from '../backoff.ts';
import type { RecordOutcome } from './record-outcome.ts';

/**
 * A record's fate: acked (Lambda deletes it), or nacked (its id goes into `batchItemFailures`) with
 * the visibility timeout it gets; `visibilitySeconds` undefined leaves the queue's own.
 */
export type Fate = { readonly ack: true } | { readonly ack: false; readonly visibilitySeconds?: number };

/** What the verdict needs besides the outcome. */
export interface VerdictContext {
  readonly receiveCount: number;
  /** Backoff of nacked records; `undefined` leaves the queue's visibility timeout. */
  readonly backoff: Required<BackoffOptions> | undefined;
  /** Epoch ms now (lease arithmetic). */
  readonly now: number;
  /** The visibility of the record that broke this record's FIFO lane, for `not-started: order`. */
  readonly laneVisibilitySeconds?: number;
  readonly random?: () => number;
}

/** Whether an outcome is acked. Order-only: a record that is not acked stops its FIFO lane. */
export function isAcked(outcome: RecordOutcome): boolean {
  return outcome.kind === 'processed' || outcome.kind === 'duplicate' || outcome.kind === 'dead-lettered';
}

/**
 * The one place a record's fate is decided.
 *
 * - processed, duplicate, dead-lettered → ack. A processed record is acked even when its COMPLETED
 *   write could not be stored: nacking would run the handler again for sure once the lease ends,
 *   acking runs it again only if a duplicate arrives after the lease (see docs/RUNTIME.md).
 * - failed, claim-failed, dead-letter-failed, leader-not-done → nack with backoff.
 * - A key held by a lease (another delivery's, or ours when a release could not be written) → nack
 *   visible again no sooner than the lease ends, so the retry is not spent on a key still held.
 * - not-started: deadline → nack, visible at once; not-started: order → the visibility of the record
 *   that broke its lane; abandoned → nack, the queue's visibility timeout (≥ the function timeout).
 */
export function verdictOf(outcome: RecordOutcome, context: VerdictContext): Fate {
  const backoff = () =>
    context.backoff
      ? nackVisibilityTimeout(context.receiveCount, context.backoff, context.random)
      : undefined;
  const afterLease = (leaseExpiresAt: number | undefined) => {
    const wait = backoff();
    if (leaseExpiresAt === undefined || wait === undefined) return wait;
    const leaseSeconds = Math.ceil(Math.max(0, leaseExpiresAt - context.now) / 1000);
    return Math.min(SQS_MAX_VISIBILITY_TIMEOUT_SECONDS, Math.max(wait, leaseSeconds));
  };
  switch (outcome.kind) {
    case 'processed':
    case 'duplicate':
    case 'dead-lettered':
      return { ack: true };
    case 'in-progress':
      return { ack: false, visibilitySeconds: afterLease(outcome.leaseExpiresAt) };
    case 'failed':
    case 'dead-letter-failed':
      return { ack: false, visibilitySeconds: afterLease(outcome.leaseExpiresAt) };
    case 'claim-failed':
    case 'leader-not-done':
      return { ack: false, visibilitySeconds: backoff() };
    case 'not-started':
      return {
        ack: false,
        visibilitySeconds: outcome.because === 'deadline' ? 0 : context.laneVisibilitySeconds,
      };
    case 'abandoned':
      return { ack: false };
  }
}
