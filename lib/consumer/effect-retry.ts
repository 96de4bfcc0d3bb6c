import { exponentialBackoff } from '../backoff.ts';

/** Most attempts of one batch of effects (idempotency writes, DLQ sends) within an invocation. */
export const EFFECT_ATTEMPTS = 8;

/**
 * Runs `attempt` on `items` until every item is done, the attempts run out, or `signal` fires (the
 * invocation's phase ended). `attempt` resolves with the items still to do; a rejection retries all
 * of them. Pauses between attempts grow exponentially (25 ms to 1 s, jittered). Resolves with the
 * items never done.
 */
export async function retryUntilDone<T>(
  items: readonly T[],
  attempt: (pending: readonly T[]) => Promise<readonly T[]>,
  signal: () => AbortSignal,
): Promise<readonly T[]> {
  let pending = items;
  for (let n = 1; pending.length > 0 && n <= EFFECT_ATTEMPTS; n++) {
    if (n > 1 && !(await pause(exponentialBackoff(n - 1, 25, 1000), signal()))) break;
    const current = signal();
    if (current.aborted) break;
    try {
      pending = await attempt(pending);
    } catch {
      if (current.aborted) break;
    }
  }
  return pending;
}

/** Waits `ms`; resolves `false` at once if `signal` fires first. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (finished: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(finished);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
