import type { HandlerContext } from '../../lib/index.ts';

/** A failure the demo asks for, to show retries with backoff. */
export class InjectedFailure extends Error {}

/**
 * Demo and chaos fault injection, driven by the event and the environment (never used by real
 * handlers): fails while the record has been received at most `failuresBeforeSuccess` times, fails
 * while `FANOUT_DEMO_OUTAGE` (`<group>:<epoch ms>`) says the group's dependency is down, and waits
 * `workMs` to stand for the handler's I/O.
 */
export async function simulateDemoFaults(
  data: { failuresBeforeSuccess?: number; workMs?: number },
  context: HandlerContext,
): Promise<void> {
  const outage = process.env.FANOUT_DEMO_OUTAGE?.split(':');
  if (outage?.[0] === context.group && Date.now() < Number(outage[1])) {
    throw new InjectedFailure(`the dependency of ${context.group} is down (injected outage)`);
  }
  const failures = data.failuresBeforeSuccess ?? 0;
  if (context.receiveCount <= failures) {
    throw new InjectedFailure(`injected failure ${context.receiveCount} of ${failures}`);
  }
  if (data.workMs) await new Promise((resolve) => setTimeout(resolve, data.workMs));
}
