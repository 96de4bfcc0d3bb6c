// One consumer handler with fanout: partial batch response, schema validation, DynamoDB idempotency,
// poison to DLQ, backoff, structured logs and EMF metrics.
import { z } from 'zod';
import { consumer } from '../../lib/index.ts';

const OrderPlaced = z.object({ orderId: z.string(), amount: z.number() });

export const handler = consumer({
  handlers: { OrderPlaced: { schema: OrderPlaced, handle: async () => {} } },
});
