import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  consumer,
  POISON_DETAIL_ATTRIBUTE,
  POISON_GROUP_ATTRIBUTE,
  POISON_REASON_ATTRIBUTE,
  PoisonMessageError,
} from '../../../lib/index.ts';
import {
  deleteAcked,
  groupQueue,
  idempotencyTable,
  queueDepth,
  receiveExactly,
  receiveRecords,
  sendEnvelopes,
  sendRaw,
  waitFor,
} from '../../helpers/cloud.ts';
import { envelope, lambdaContext } from '../../helpers/sqs-events.ts';
import { FIFO_REDELIVERY_ORDER, itExcept } from '../../helpers/targets.ts';

const orderSchema = z.object({ orderId: z.string(), amount: z.number().positive() });

async function oneRecord(queue: Awaited<ReturnType<typeof groupQueue>>['queue']) {
  await sendEnvelopes(queue, [envelope('OrderPlaced', {})]);
  const [record] = await receiveExactly(queue, 1);
  return record;
}

/** Runs a typed consumer over records that should all be poison; resolves with how many it handled. */
async function runPoison(group: string, records: Awaited<ReturnType<typeof receiveExactly>>) {
  let handled = 0;
  const handler = consumer({ group, idempotency: false, handlers: { OrderPlaced: () => void handled++ } });
  const response = await handler({ Records: records });
  expect(response.batchItemFailures).toEqual([]);
  return handled;
}

describe('consumer on the emulator', () => {
  it('sends poison records to the DLQ at once with the reason, acks them, and handles the rest', async () => {
    // Prepare
    const { queue, dlq, group } = await groupQueue();
    const good = envelope('OrderPlaced', { orderId: 'o-1', amount: 5 });
    const invalid = envelope('OrderPlaced', { orderId: 'o-2', amount: -1 });
    const unknown = envelope('OrderShipped', { orderId: 'o-3' });
    await sendEnvelopes(queue, [good, invalid, unknown]);
    await sendRaw(queue, '{not json');
    const records = await receiveExactly(queue, 4);
    const handled: string[] = [];
    const handler = consumer({
      group,
      idempotency: false,
      handlers: {
        OrderPlaced: { schema: orderSchema, handle: (data) => void handled.push(data.orderId) },
      },
    });

    // Act
    const response = await handler({ Records: records });

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(handled).toEqual(['o-1']);
    const dead = await receiveExactly(dlq, 3);
    const reasons = Object.fromEntries(
      dead.map((r) => [r.body, r.messageAttributes[POISON_REASON_ATTRIBUTE]?.stringValue]),
    );
    expect(reasons).toEqual({
      [JSON.stringify(invalid)]: 'schema-invalid',
      [JSON.stringify(unknown)]: 'unknown-type',
      '{not json': 'unparseable-body',
    });
    const schemaDead = dead.find((r) => r.body === JSON.stringify(invalid));
    expect(schemaDead?.messageAttributes[POISON_DETAIL_ATTRIBUTE]?.stringValue).toMatch(/amount/);
    expect(schemaDead?.messageAttributes[POISON_GROUP_ATTRIBUTE]?.stringValue).toBe(group);
    expect(schemaDead?.messageAttributes.type?.stringValue).toBe('OrderPlaced');
  });

  it('dead-letters a record whose handler throws PoisonMessageError, without retries', async () => {
    const { queue, dlq, group } = await groupQueue();
    await sendEnvelopes(queue, [envelope('OrderPlaced', { orderId: 'bad' })]);
    const records = await receiveExactly(queue, 1);
    const handler = consumer({
      group,
      idempotency: false,
      handle: () => {
        throw new PoisonMessageError('rejected-by-handler', 'order bad does not exist');
      },
    });
    const response = await handler({ Records: records });
    expect(response.batchItemFailures).toEqual([]);
    const [dead] = await receiveExactly(dlq, 1);
    expect(dead.messageAttributes[POISON_REASON_ATTRIBUTE]?.stringValue).toBe('rejected-by-handler');
  });

  it('nacks a poison record when its DLQ cannot be reached, so the redrive policy still catches it', async () => {
    const { queue, group } = await groupQueue();
    await sendRaw(queue, 'not json');
    const records = await receiveExactly(queue, 1);
    const handler = consumer({
      group,
      idempotency: false,
      handle: () => undefined,
      deadLetterQueueUrl: `${queue.url}-missing`,
      backoff: false,
    });
    const response = await handler({ Records: records });
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: records[0].messageId }]);
  });

  it('raises the visibility timeout of a nacked record with backoff', async () => {
    // The queue hides a received message for 300 s; the backoff makes it visible after 1–2 s.
    const { queue, group } = await groupQueue({ visibility: 300 });
    await sendEnvelopes(queue, [envelope('OrderPlaced', { orderId: 'o-1' })]);
    const records = await receiveExactly(queue, 1);
    const handler = consumer({
      group,
      idempotency: false,
      backoff: { baseSeconds: 2, maxSeconds: 2 },
      handle: () => {
        throw new Error('dependency down');
      },
    });
    const response = await handler({ Records: records });
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: records[0].messageId }]);
    const again = await waitFor(async () => (await receiveRecords(queue, 1, 0))[0], {
      timeoutMs: 8000,
      what: 'the nacked record to reappear',
    });
    expect(again.messageId).toBe(records[0].messageId);
    expect(again.attributes.ApproximateReceiveCount).toBe('2');
  });

  itExcept(FIFO_REDELIVERY_ORDER)(
    'keeps FIFO order under failure: later records of the failed group are nacked, other groups go on',
    async () => {
      const { queue, group } = await groupQueue({ fifo: true, visibility: 300 });
      const events = [
        envelope('Posted', { account: 'a', n: 1 }),
        envelope('Posted', { account: 'a', n: 2 }),
        envelope('Posted', { account: 'b', n: 1 }),
        envelope('Posted', { account: 'a', n: 3 }),
        envelope('Posted', { account: 'b', n: 2 }),
      ];
      await sendEnvelopes(queue, events, (i) => (events[i].data as { account: string }).account);
      const applied: string[] = [];
      let failedOnce = false;
      const handler = consumer<{ account: string; n: number }>({
        group,
        idempotency: false,
        backoff: { baseSeconds: 1, maxSeconds: 1 },
        handle: async ({ account, n }) => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          if (account === 'a' && n === 2 && !failedOnce) {
            failedOnce = true;
            throw new Error('transient');
          }
          applied.push(`${account}${n}`);
        },
      });

      // Drive the queue like the event source mapping until every record is applied.
      let failedBatch: { order: string[]; nacked: Set<string> } | undefined;
      const label = (body: string) => {
        const { account, n } = JSON.parse(body).data;
        return `${account}${n}`;
      };
      await waitFor(
        async () => {
          const records = await receiveRecords(queue, 10, 0);
          if (records.length > 0) {
            const failedBefore = failedOnce;
            const response = await handler({ Records: records });
            if (!failedBefore && failedOnce) {
              const ids = new Map(records.map((r) => [r.messageId, label(r.body)]));
              failedBatch = {
                order: records.map((r) => label(r.body)),
                nacked: new Set(response.batchItemFailures.map((f) => ids.get(f.itemIdentifier) ?? '?')),
              };
            }
            await deleteAcked(queue, records, response);
          }
          return applied.length === 5;
        },
        { timeoutMs: 15_000, what: 'every FIFO record applied' },
      );

      // In the batch where a2 failed, a2 and every later record of group a were nacked; nothing else was.
      const expectedNacks = failedBatch?.order.filter((x) => x.startsWith('a') && x >= 'a2');
      expect(failedBatch?.nacked).toEqual(new Set(expectedNacks));
      expect(applied.filter((x) => x.startsWith('a'))).toEqual(['a1', 'a2', 'a3']);
      expect(applied.filter((x) => x.startsWith('b'))).toEqual(['b1', 'b2']);
    },
  );

  it('nacks records it has no time to start instead of losing the batch to a timeout', async () => {
    const { queue, group } = await groupQueue();
    const events = Array.from({ length: 6 }, (_, n) => envelope('OrderPlaced', { n }));
    await sendEnvelopes(queue, events);
    const records = await receiveExactly(queue, 6);
    const started: number[] = [];
    const handler = consumer<{ n: number }>({
      group,
      idempotency: false,
      concurrency: 1,
      deadlineMarginMs: 1000,
      abandonMarginMs: 100,
      backoff: false,
      handle: async ({ n }) => {
        started.push(n);
        await new Promise((resolve) => setTimeout(resolve, 300));
      },
    });

    const response = await handler({ Records: records }, lambdaContext(1700));

    const nacked = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    expect(started.length).toBeGreaterThanOrEqual(1);
    expect(started.length).toBeLessThan(6);
    expect(nacked.size).toBe(6 - started.length);
    // every record is either handled or nacked, never both
    const startedIds = new Set(
      records.filter((r) => started.includes(JSON.parse(r.body).data.n)).map((r) => r.messageId),
    );
    for (const id of nacked) expect(startedIds.has(id)).toBe(false);
  });

  it('still runs records when the function timeout is shorter than the default margins', async () => {
    const { queue, group } = await groupQueue();
    await sendEnvelopes(queue, [envelope('OrderPlaced', { n: 1 }), envelope('OrderPlaced', { n: 2 })]);
    const records = await receiveExactly(queue, 2);
    let runs = 0;
    const handler = consumer({ group, idempotency: false, handle: () => void runs++ });
    const response = await handler({ Records: records }, lambdaContext(2000)); // margins default to 3 s and 1 s
    expect(response.batchItemFailures).toEqual([]);
    expect(runs).toBe(2);
  });

  it.each([
    ['an empty body', '', 'unparseable-body'],
    [
      'an SNS notification whose Message is not JSON',
      JSON.stringify({
        Type: 'Notification',
        TopicArn: 'arn:aws:sns:us-east-1:000000000000:orders',
        Message: 'hello',
      }),
      'unparseable-body',
    ],
    [
      'an envelope without an id',
      JSON.stringify({ specversion: '1.0', type: 'OrderPlaced', data: {} }),
      'invalid-envelope',
    ],
    ['a JSON array', '[1,2,3]', 'unknown-type'],
  ])('dead-letters %s with its reason and handles nothing', async (_name, body, reason) => {
    const { queue, dlq, group } = await groupQueue();
    if (body === '') {
      // SQS refuses empty bodies, so this one can only come from a broken producer: build the record.
      const records = [{ ...(await oneRecord(queue)), body: '' }];
      const handled = await runPoison(group, records);
      expect(handled).toBe(0);
    } else {
      await sendRaw(queue, body);
      expect(await runPoison(group, await receiveExactly(queue, 1))).toBe(0);
    }
    const [dead] = await receiveExactly(dlq, 1);
    expect(dead.messageAttributes[POISON_REASON_ATTRIBUTE]?.stringValue).toBe(reason);
  });

  it('returns before the invocation times out when a handler never resolves, nacking that record', async () => {
    const { queue, group } = await groupQueue();
    await sendEnvelopes(queue, [
      envelope('OrderPlaced', { hang: true }),
      envelope('OrderPlaced', { hang: false }),
    ]);
    const records = await receiveExactly(queue, 2);
    const handler = consumer<{ hang: boolean }>({
      group,
      idempotency: false,
      abandonMarginMs: 500,
      deadlineMarginMs: 600,
      backoff: false,
      handle: ({ hang }) => (hang ? new Promise(() => {}) : undefined),
    });
    const started = Date.now();
    const response = await handler({ Records: records }, lambdaContext(1200));
    expect(Date.now() - started).toBeLessThan(1200);
    const hung = records.find((r) => JSON.parse(r.body).data.hang === true);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: hung?.messageId }]);
  });

  it('acks or nacks each of 100 records exactly once under random failures, and retries apply each once', async () => {
    const { queue, group } = await groupQueue({ visibility: 300 });
    const table = await idempotencyTable();
    const events = Array.from({ length: 100 }, (_, n) => envelope('OrderPlaced', { n }));
    await sendEnvelopes(queue, events);
    const records = await receiveExactly(queue, 100, 20_000);
    const effects = new Map<number, number>();
    let failing = true;
    const handler = consumer<{ n: number }>({
      group,
      idempotency: { tableName: table },
      backoff: false,
      concurrency: 16,
      handle: ({ n }) => {
        if (failing && Math.random() < 0.3) throw new Error('random failure');
        effects.set(n, (effects.get(n) ?? 0) + 1);
      },
    });

    const response = await handler({ Records: records });

    const nacked = response.batchItemFailures.map((f) => f.itemIdentifier);
    expect(new Set(nacked).size).toBe(nacked.length);
    expect(nacked.length + effects.size).toBe(100);
    expect(nacked.length).toBeGreaterThan(0);
    for (const id of nacked) {
      const n = JSON.parse(records.find((r) => r.messageId === id)?.body ?? '{}').data.n;
      expect(effects.has(n)).toBe(false);
    }

    // Redeliver the whole batch (acked ones as duplicates): every effect ends up applied exactly once.
    failing = false;
    const retry = await handler({ Records: records });
    expect(retry.batchItemFailures).toEqual([]);
    expect(effects.size).toBe(100);
    expect([...effects.values()].every((count) => count === 1)).toBe(true);
    expect(await queueDepth(queue)).toEqual({ visible: 0, inFlight: 100 });
  });
});
