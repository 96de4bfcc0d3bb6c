import { consumer } from '../lib/index.ts';
import { failIfAsked } from './shared/demo-faults.ts';
import { EffectsLedger } from './shared/effects-ledger.ts';

const effects = new EffectsLedger();

/** Keeps an audit trail of every order and payment event, whatever its type. */
export const handler = consumer<{ failuresBeforeSuccess?: number }>({
  handle: async (data, context) => {
    failIfAsked(data ?? {}, context);
    await effects.record(context, `audit: ${context.envelope.type} from ${context.envelope.source}`);
  },
});
