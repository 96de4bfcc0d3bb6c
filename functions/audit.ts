import { consumer } from '../lib/index.ts';
import { EffectsLedger } from './shared/effects-ledger.ts';

const effects = new EffectsLedger();

/** Keeps an audit trail of every order and payment event, whatever its type. */
export const handler = consumer({
  handle: async (_data, context) => {
    await effects.record(context, `audit: ${context.envelope.type} from ${context.envelope.source}`);
  },
});
