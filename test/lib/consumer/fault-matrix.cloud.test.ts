import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { consumer, POISON_REASON_ATTRIBUTE } from '../../../lib/index.ts';
import { groupQueue, idempotencyTable, receiveRecords } from '../../helpers/cloud.ts';
import { type Fault, type FaultProxy, startFaultProxy } from '../../helpers/fault-proxy.ts';
import { envelope, lambdaContext, sqsRecord } from '../../helpers/sqs-events.ts';

/**
 * The fault matrix: every AWS call the consumer makes × {error, slower than the deadline, partial
 * failure} × {standard, FIFO}. Faults are injected by a proxy between the real SDK and the real
 * emulator (test/helpers/fault-proxy.ts), on the first invocation only; the batch is then redelivered
 * the way Lambda would (nacked records again, with their receive count raised) until nothing is left.
 * Every case asserts the documented outcome (docs/RUNTIME.md, "Fault matrix"):
 * - every invocation answers before its deadline;
 * - every valid event's effect is applied exactly once, and within a FIFO group in publish order;
 * - the poison record ends in the DLQ with its reason;
 * - the fault was really hit.
 */

const MATRIX: Record<string, { service: 'dynamodb' | 'sqs'; call: string; faults: Fault[] }> = {
  PutItem: { service: 'dynamodb', call: 'claim', faults: ['error', 'slow'] },
  GetItem: { service: 'dynamodb', call: 'duplicate look-up', faults: ['error', 'slow'] },
  BatchWriteItem: {
    service: 'dynamodb',
    call: 'completion/release writes',
    faults: ['error', 'slow', 'partial'],
  },
  GetQueueAttributes: { service: 'sqs', call: 'DLQ look-up', faults: ['error', 'slow'] },
  SendMessageBatch: { service: 'sqs', call: 'DLQ send', faults: ['error', 'slow', 'partial'] },
  ChangeMessageVisibilityBatch: {
    service: 'sqs',
    call: 'visibility changes',
    faults: ['error', 'slow', 'partial'],
  },
};

const BUDGET_MS = 1500;
const SLOW_MS = 2500; // longer than the whole invocation
const proxies: FaultProxy[] = [];
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
});

const cases = Object.entries(MATRIX).flatMap(([operation, { service, call, faults }]) =>
  faults.flatMap((fault) =>
    (['standard', 'fifo'] as const).map((queueKind) => ({ operation, service, call, fault, queueKind })),
  ),
);

describe.concurrent('fault matrix: every AWS call of the consumer × error / slow / partial × standard / FIFO', () => {
  it.for(cases)(
    '$operation ($call) $fault on $queueKind',
    async ({ operation, service, fault, queueKind }, test) => {
      const fifo = queueKind === 'fifo';
      const dynamoProxy = await startFaultProxy(process.env.AWS_ENDPOINT_URL_DYNAMODB as string);
      const sqsProxy = await startFaultProxy(process.env.AWS_ENDPOINT_URL_SQS as string);
      proxies.push(dynamoProxy, sqsProxy);
      const proxy = service === 'dynamodb' ? dynamoProxy : sqsProxy;
      const { queue, dlq, group } = await groupQueue({ fifo, maxReceiveCount: 10 });
      const table = await idempotencyTable();
      const dynamodb = new DynamoDBClient({ endpoint: dynamoProxy.url });
      const sqs = new SQSClient({ endpoint: sqsProxy.url, useQueueUrlAsEndpoint: false });

      // The batch: FIFO groups g1 = [poison, e1, e2], g2 = [e3, f1 (fails once), e4], g3 = [e0 again, e5].
      const events = Object.fromEntries(
        ['e0', 'e1', 'e2', 'e3', 'f1', 'e4', 'e5'].map((name) => [name, envelope('OrderPlaced', { name })]),
      );
      const at = (body: unknown, groupId: string) =>
        sqsRecord(body, { queueArn: queue.arn, ...(fifo ? { groupId } : {}) });
      const batch: SQSRecord[] = [
        at('not json', 'g1'),
        at(events.e1, 'g1'),
        at(events.e2, 'g1'),
        at(events.e3, 'g2'),
        at(events.f1, 'g2'),
        at(events.e4, 'g2'),
        at(events.e0, 'g3'),
        at(events.e5, 'g3'),
      ];
      const applied: string[] = [];
      let f1Attempts = 0;
      const build = () =>
        consumer<{ name: string }>({
          group,
          idempotency: { tableName: table, client: dynamodb },
          sqsClient: sqs,
          handle: ({ name }) => {
            if (name === 'f1' && ++f1Attempts === 1) throw new Error('transient failure');
            applied.push(name);
          },
        });

      // e0 was handled before: its redelivery in the batch is a duplicate (claim fails, then the look-up).
      expect(
        (await build()({ Records: [at(events.e0, 'g3')] }, lambdaContext(BUDGET_MS))).batchItemFailures,
      ).toEqual([]);
      applied.length = 0;

      const handler = build();
      let pending = batch;
      const late: number[] = [];
      const started = Date.now();
      for (let round = 0; pending.length > 0 && Date.now() - started < 25_000; round++) {
        proxy.setRules(round === 0 ? [{ operation, fault, delayMs: SLOW_MS }] : []);
        const invokedAt = Date.now();
        const { batchItemFailures } = await handler({ Records: pending }, lambdaContext(BUDGET_MS));
        const took = Date.now() - invokedAt;
        if (took >= BUDGET_MS) late.push(took);
        const nacked = new Set(batchItemFailures.map((f) => f.itemIdentifier));
        const next = pending.filter((r) => nacked.has(r.messageId)).map(redelivered);
        if (next.length === pending.length && round > 0)
          await new Promise((resolve) => setTimeout(resolve, 200));
        pending = next;
      }
      proxy.setRules([]);

      expect(late, 'invocations that answered after their deadline (ms)').toEqual([]);
      expect(pending, 'records never acked').toEqual([]);
      if (operation === 'GetItem' && (proxy.seen.get('GetItem') ?? 0) === 0) {
        // AWS, LocalStack and moto return the item on a failed condition: there is no look-up to break.
        const reason =
          'this target returns the item on a failed claim (ReturnValuesOnConditionCheckFailure): no GetItem to break';
        console.info(`skipped: ${operation} ${fault} on ${queueKind}: ${reason}`);
        test.skip(reason);
      }
      expect(proxy.faulted.get(operation) ?? 0, `${operation} calls faulted`).toBeGreaterThan(0);
      expect([...applied].sort(), 'effects applied').toEqual(['e1', 'e2', 'e3', 'e4', 'e5', 'f1']);
      if (fifo) {
        expect(applied.filter((n) => ['e1', 'e2'].includes(n))).toEqual(['e1', 'e2']);
        expect(applied.filter((n) => ['e3', 'f1', 'e4'].includes(n))).toEqual(['e3', 'f1', 'e4']);
      }
      const dead = await receiveRecords(dlq, 10, 0);
      expect(dead.length, 'copies of the poison record in the DLQ').toBeGreaterThanOrEqual(1);
      for (const copy of dead) {
        expect(copy.body).toBe('not json');
        expect(copy.messageAttributes[POISON_REASON_ATTRIBUTE]?.stringValue).toBe('unparseable-body');
      }
      // Only a DLQ send whose answer is lost can leave a second copy (a standard DLQ has no deduplication).
      if (!(operation === 'SendMessageBatch' && fault === 'slow' && !fifo)) expect(dead).toHaveLength(1);
    },
  );
});

/** The record as SQS delivers it again: same message, one more receive. */
function redelivered(record: SQSRecord): SQSRecord {
  const count = Number(record.attributes.ApproximateReceiveCount) + 1;
  return { ...record, attributes: { ...record.attributes, ApproximateReceiveCount: String(count) } };
}
