/**
 * The types of `handlers`: each route's data is inferred from its schema or from its handler's own
 * parameter type (found by an adversarial review: it was `any`). `npm test` type-checks this file, so each
 * `@ts-expect-error` below fails the run if the line it marks stops being an error.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { consumer } from '../../../lib/index.ts';

const Payment = z.object({ paymentId: z.string(), amount: z.number() });

describe('consumer handlers types', () => {
  it('infers each route from its schema, checks an annotation against it, and leaves an unvalidated route unknown', () => {
    const handler = consumer({
      group: 'types',
      idempotency: false,
      handlers: {
        PaymentCaptured: {
          schema: Payment,
          handle: (payment) => {
            expectTypeOf(payment).toEqualTypeOf<{ paymentId: string; amount: number }>();
            // @ts-expect-error amount is a number, as the schema says
            const amount: string = payment.amount;
            return amount;
          },
        },
        OrderPlaced: (order: { orderId: string }) => {
          expectTypeOf(order.orderId).toBeString();
        },
        Unchecked: (data) => {
          expectTypeOf(data).toBeUnknown();
        },
      },
    });
    consumer({
      group: 'types',
      idempotency: false,
      handlers: {
        PaymentCaptured: {
          schema: Payment,
          // @ts-expect-error a handler whose parameter disagrees with the schema is refused
          handle: (payment: { totallyDifferent: boolean }) => payment,
        },
      },
    });
    expect(typeof handler).toBe('function');
  });
});
