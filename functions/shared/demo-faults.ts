import type { HandlerContext } from '../../lib/index.ts';

/** A failure the demo asks for, to show retries with backoff. */
export class InjectedFailure extends Error {}

/**
 * Fails while the record has been received at most `failuresBeforeSuccess` times, so the demo's
 * "flaky dependency" recovers after a known number of retries.
 */
export function failIfAsked(data: { failuresBeforeSuccess?: number }, context: HandlerContext): void {
  const failures = data.failuresBeforeSuccess ?? 0;
  if (context.receiveCount <= failures) {
    throw new InjectedFailure(`injected failure ${context.receiveCount} of ${failures}`);
  }
}
