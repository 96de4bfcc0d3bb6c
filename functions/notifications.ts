import { consumer } from '../lib/index.ts';
import { EffectsLedger } from './shared/effects-ledger.ts';
import { OrderPlaced } from './shared/events.ts';

const effects = new EffectsLedger();

/** Tells the customer their order was placed (here: records the notification as an effect). */
export const handler = consumer({
  handlers: {
    OrderPlaced: {
      schema: OrderPlaced,
      handle: async (order, context) => {
        await effects.record(context, `notified ${order.customer} about ${order.orderId}`);
      },
    },
  },
});
