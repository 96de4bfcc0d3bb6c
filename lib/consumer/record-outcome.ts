/**
 * What happened to one record of a batch: the run stage records it, the verdict turns it into the
 * record's fate (ack or nack with a visibility timeout).
 */
export type RecordOutcome =
  /** The handler succeeded. `completion`: whether the COMPLETED key was stored (`none`: no idempotency). */
  | { readonly kind: 'processed'; readonly durationMs: number; readonly completion: EffectResult }
  /** The key was COMPLETED before (or the in-batch leader with this key succeeded). */
  | { readonly kind: 'duplicate' }
  /** Another delivery holds a live lease on the key until `leaseExpiresAt` (epoch ms). */
  | { readonly kind: 'in-progress'; readonly leaseExpiresAt: number }
  /** The claim call failed (DynamoDB error, throttling, or the call outlived its phase). */
  | { readonly kind: 'claim-failed'; readonly error: unknown }
  /**
   * The handler threw. `release`: whether the claim was released; when it could not be,
   * `leaseExpiresAt` says when another delivery may take the key over.
   */
  | {
      readonly kind: 'failed';
      readonly error: unknown;
      readonly durationMs: number;
      readonly release: EffectResult;
      readonly leaseExpiresAt?: number;
    }
  /** Poison, and its copy is in the DLQ with the reason. */
  | { readonly kind: 'dead-lettered'; readonly reason: string; readonly detail: string }
  /** Poison, but the DLQ send failed; `leaseExpiresAt` is set when a claim could not be released. */
  | {
      readonly kind: 'dead-letter-failed';
      readonly reason: string;
      readonly detail: string;
      readonly leaseExpiresAt?: number;
    }
  /** The in-batch leader with the same key did not succeed: retried after it. */
  | { readonly kind: 'leader-not-done' }
  /** Never started: too close to the deadline, or an earlier record of its FIFO group was nacked. */
  | { readonly kind: 'not-started'; readonly because: 'deadline' | 'order' }
  /** Still claiming or handling when the invocation had to answer (a failure whose release is out is `failed`). */
  | { readonly kind: 'abandoned' };

/**
 * Whether an effect (an idempotency write) is stored: `none` when there was none to make, `pending`
 * while its call is still out when the batch is answered.
 */
export type EffectResult = 'stored' | 'not-stored' | 'pending' | 'none';
