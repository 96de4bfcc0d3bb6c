import { consumer } from '../lib/index.ts';
import { simulateDemoFaults } from './shared/demo-faults.ts';
import { EffectsLedger } from './shared/effects-ledger.ts';

const effects = new EffectsLedger();

/** Keeps an audit trail of every order and payment event, whatever its type. */
export const handler = consumer<{ failuresBeforeSuccess?: number; workMs?: number }>({
  handle: async (data, context) => {
    await simulateDemoFaults(data ?? {}, context);
    await effects.record(context, `audit: ${context.envelope.type} from ${context.envelope.source}`);
  },
});
