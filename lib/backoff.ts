import { SQS_MAX_VISIBILITY_TIMEOUT_SECONDS } from './aws-limits.ts';

/**
 * Exponential backoff with "equal jitter": the delay for `attempt` (1-based) is
 * `min(max, base × 2^(attempt−1))`, of which the first half is fixed and the second half random.
 * The fixed half guarantees a failing dependency gets a pause; the random half spreads the retries
 * of records that failed together.
 */
export function exponentialBackoff(
  attempt: number,
  base: number,
  max: number,
  random: () => number = Math.random,
) {
  const exponent = Math.max(0, Math.floor(attempt) - 1);
  const ceiling = Math.min(max, base * 2 ** Math.min(exponent, 52));
  return ceiling / 2 + random() * (ceiling / 2);
}

/** How the consumer spreads out retries of a nacked record. */
export interface BackoffOptions {
  /**
   * Visibility timeout, in seconds, after the first failed receive; doubles with every receive.
   * @default 2
   */
  readonly baseSeconds?: number;
  /**
   * Upper bound of the visibility timeout, in seconds (SQS allows at most 43200).
   * @default 900
   */
  readonly maxSeconds?: number;
}

/**
 * Visibility timeout (whole seconds) to give a record nacked on its `receiveCount`-th receive,
 * bounded by `maxSeconds` and the SQS maximum.
 */
export function nackVisibilityTimeout(
  receiveCount: number,
  options: Required<BackoffOptions>,
  random: () => number = Math.random,
): number {
  const max = Math.min(options.maxSeconds, SQS_MAX_VISIBILITY_TIMEOUT_SECONDS);
  return Math.min(max, Math.ceil(exponentialBackoff(receiveCount, options.baseSeconds, max, random)));
}
