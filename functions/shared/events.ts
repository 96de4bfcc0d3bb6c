import { z } from 'zod';

/** The example app's events (the `data` of each envelope), one schema per event type. */
export const OrderPlaced = z.object({
  orderId: z.string().min(1),
  customer: z.string().min(1),
  amount: z.number().positive(),
});
export const OrderCancelled = z.object({
  orderId: z.string().min(1),
  reason: z.string().optional(),
});
export const PaymentCaptured = z.object({
  paymentId: z.string().min(1),
  orderId: z.string().min(1),
  amount: z.number().positive(),
});
/** A ledger posting; `seq` counts the postings of one account from 1. */
export const Posting = z.object({
  account: z.string().min(1),
  seq: z.number().int().positive(),
  amount: z.number(),
});

export type OrderPlaced = z.infer<typeof OrderPlaced>;
export type PaymentCaptured = z.infer<typeof PaymentCaptured>;
export type Posting = z.infer<typeof Posting>;
