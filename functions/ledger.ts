import { consumer } from '../lib/index.ts';
import { EffectsLedger } from './shared/effects-ledger.ts';
import { Posting } from './shared/events.ts';

const effects = new EffectsLedger();

/** Applies postings to accounts in order (FIFO queue; message group = account id). */
export const handler = consumer({
  handlers: {
    Posting: {
      schema: Posting,
      handle: async (posting, context) => {
        await effects.append(context, posting.account, posting.seq);
        await effects.record(context, `posted ${posting.amount} to ${posting.account}`);
      },
    },
  },
});
