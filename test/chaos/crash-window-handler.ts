import { EffectsLedger } from '../../functions/shared/effects-ledger.ts';
import { consumer } from '../../lib/index.ts';

const effects = new EffectsLedger();

/**
 * Applies its effect, then, on the first delivery of an event that asks for it, kills its own process
 * with SIGKILL: a crash after the side effect and before the consumer settles the idempotency key
 * (the at-least-once window the crash suite documents).
 */
export const handler = consumer<{ crashAfterEffect?: boolean }>({
  handle: async (data, context) => {
    await effects.record(context, `crash-window: ${context.envelope.id}`);
    if (data?.crashAfterEffect && context.receiveCount === 1) process.kill(process.pid, 'SIGKILL');
  },
});
