import { consumer } from '../lib/index.ts';
import { EffectsLedger } from './shared/effects-ledger.ts';
import { OrderCancelled, OrderPlaced } from './shared/events.ts';

const effects = new EffectsLedger();

/** Appends one spreadsheet row per order event (here: records the row as an effect). */
export const handler = consumer({
  handlers: {
    OrderPlaced: {
      schema: OrderPlaced,
      handle: async (order, context) => {
        await effects.record(context, `row: placed ${order.orderId} ${order.amount}`);
      },
    },
    OrderCancelled: {
      schema: OrderCancelled,
      handle: async (order, context) => {
        await effects.record(context, `row: cancelled ${order.orderId}`);
      },
    },
  },
});
