import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { SQSRecord } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { peekDeadLetters, redriveDeadLetters } from '../../../cli/dead-letters.ts';
import { originalMessage } from '../../../lib/dead-letter-format.ts';
import {
  consumer,
  DEAD_LETTER_MAX_MESSAGE_BYTES_VARIABLE,
  decodeRecord,
  IdempotencyStore,
  POISON_DETAIL_ATTRIBUTE,
  POISON_REASON_ATTRIBUTE,
  SQS_RAISED_MAX_MESSAGE_BYTES,
} from '../../../lib/index.ts';
import {
  clients,
  countRequests,
  deleteAcked,
  groupQueue,
  idempotencyTable,
  keyStatus,
  queueDepth,
  receiveExactly,
  receiveRecords,
  sendEnvelopes,
  sendRaw,
  waitFor,
} from '../../helpers/cloud.ts';
import { type FaultProxy, startFaultProxy } from '../../helpers/fault-proxy.ts';
import { envelope, lambdaContext, sqsRecord } from '../../helpers/sqs-events.ts';

/**
 * The seams around the handlers, each broken on purpose: a test per promise that a review of the
 * consumer once broke (issue 13). Faults come from a proxy in front of the real emulator.
 */

const proxies: FaultProxy[] = [];
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
});

/** SDK clients that reach the emulator through fault proxies. */
async function faultyClients() {
  const dynamoProxy = await startFaultProxy(process.env.AWS_ENDPOINT_URL_DYNAMODB as string);
  const sqsProxy = await startFaultProxy(process.env.AWS_ENDPOINT_URL_SQS as string);
  proxies.push(dynamoProxy, sqsProxy);
  return {
    dynamoProxy,
    sqsProxy,
    dynamodb: new DynamoDBClient({ endpoint: dynamoProxy.url }),
    sqs: new SQSClient({ endpoint: sqsProxy.url, useQueueUrlAsEndpoint: false }),
  };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('completion writes that fail', () => {
  it('retries a failed completion write within the invocation, so a later duplicate is still suppressed', async () => {
    const { queue, group } = await groupQueue();
    const table = await idempotencyTable();
    const { dynamoProxy, dynamodb } = await faultyClients();
    const events = [envelope('OrderPlaced', { n: 1 }), envelope('OrderPlaced', { n: 2 })];
    await sendEnvelopes(queue, events);
    const records = await receiveExactly(queue, 2);
    let runs = 0;
    const handler = consumer({
      group,
      idempotency: { tableName: table, client: dynamodb },
      handle: () => void runs++,
    });

    // Five failures: more than the SDK's own three attempts, so only fanout's retry can store them.
    dynamoProxy.setRules([{ operation: 'BatchWriteItem', fault: 'error', times: 5 }]);
    const first = await handler({ Records: records }, lambdaContext(3000));
    dynamoProxy.setRules([]);

    expect(first.batchItemFailures).toEqual([]);
    expect(dynamoProxy.faulted.get('BatchWriteItem')).toBe(5);
    for (const e of events) expect(await keyStatus(table, `${group}#${e.id}`)).toBe('COMPLETED');
    // The same deliveries again, after the first invocation's lease: duplicates, not second runs.
    expect((await handler({ Records: records }, lambdaContext(3000))).batchItemFailures).toEqual([]);
    expect(runs).toBe(2);
  });

  it('acks a record whose completion cannot be stored at all, and answers before the deadline (the documented window)', async () => {
    const { queue, group } = await groupQueue();
    const table = await idempotencyTable();
    const { dynamoProxy, dynamodb } = await faultyClients();
    const [event] = [envelope('OrderPlaced', { n: 1 })];
    await sendEnvelopes(queue, [event]);
    const records = await receiveExactly(queue, 1);
    let runs = 0;
    // A 4 s lease, longer than the 1 s invocation, so "inside the lease" does not hang on how fast a
    // loaded machine gets from the first answer to the duplicate.
    const handler = consumer({
      group,
      idempotency: { tableName: table, client: dynamodb, leaseSeconds: 4 },
      handle: () => void runs++,
    });

    dynamoProxy.setRules([{ operation: 'BatchWriteItem', fault: 'error' }]);
    const started = Date.now();
    const response = await handler({ Records: records }, lambdaContext(1000));
    expect(Date.now() - started).toBeLessThan(1000);
    dynamoProxy.setRules([]);

    // Acked: nacking would run the handler again for certain once the lease ends.
    expect(response.batchItemFailures).toEqual([]);
    expect(await keyStatus(table, `${group}#${event.id}`)).toBe('IN_PROGRESS');
    // The residual window, as docs/RUNTIME.md states it: a duplicate inside the lease waits ...
    expect((await handler({ Records: records }, lambdaContext(1000))).batchItemFailures).toHaveLength(1);
    // ... and one arriving after the lease runs the handler again.
    await waitFor(
      async () => (await handler({ Records: records }, lambdaContext(1000))).batchItemFailures.length === 0,
      { timeoutMs: 10_000, intervalMs: 200, what: 'a duplicate after the lease to be handled' },
    );
    expect(runs).toBe(2);
  });
});

describe('a failed record whose claim cannot be released', () => {
  it('is retried once its lease ends, not dead-lettered by "in progress" nacks', async () => {
    // maxReceiveCount 2 and a 1 s backoff: nacks that ignore the 4 s lease would dead-letter it.
    const { queue, dlq, group } = await groupQueue({ maxReceiveCount: 2, visibility: 30 });
    const table = await idempotencyTable();
    const { dynamoProxy, dynamodb } = await faultyClients();
    await sendEnvelopes(queue, [envelope('OrderPlaced', { n: 1 })]);
    let attempts = 0;
    let applied = 0;
    const handler = consumer({
      group,
      idempotency: { tableName: table, client: dynamodb },
      backoff: { baseSeconds: 1, maxSeconds: 1 },
      handle: () => {
        attempts++;
        if (attempts === 1) {
          dynamoProxy.setRules([{ operation: 'BatchWriteItem', fault: 'error' }]); // the release fails
          throw new Error('transient');
        }
        applied++;
      },
    });

    const first = await handler({ Records: await receiveExactly(queue, 1) }, lambdaContext(4000));
    dynamoProxy.setRules([]);
    expect(first.batchItemFailures).toHaveLength(1);

    await waitFor(
      async () => {
        const records = await receiveRecords(queue, 1, 1);
        if (records.length > 0) {
          const response = await handler({ Records: records }, lambdaContext(4000));
          if (response.batchItemFailures.length === 0)
            await deleteAcked(queue, records, { batchItemFailures: [] });
        }
        return applied === 1;
      },
      { timeoutMs: 15_000, what: 'the retry after the lease' },
    );
    expect(applied).toBe(1);
    expect(await queueDepth(dlq)).toEqual({ visible: 0, inFlight: 0 });
  });
  it('is nacked until its lease ends, not left to the queue visibility timeout, when its release is still out at the answer', async () => {
    // The release's answer is held back past the deadline: the record's handler has ended (failed),
    // so at the answer it is a failure whose key may be held until the lease ends (8 s, longer than the
    // 4 s invocation and than the 1 s backoff), not a record still running (which would keep the
    // queue's 30 s visibility timeout).
    const { queue, dlq, group } = await groupQueue({ maxReceiveCount: 2, visibility: 30 });
    const table = await idempotencyTable();
    const { dynamoProxy, dynamodb } = await faultyClients();
    await sendEnvelopes(queue, [envelope('OrderPlaced', { n: 1 })]);
    let attempts = 0;
    const handler = consumer({
      group,
      idempotency: { tableName: table, client: dynamodb, leaseSeconds: 8 },
      backoff: { baseSeconds: 1, maxSeconds: 1 },
      handle: () => {
        attempts++;
        if (attempts === 1) {
          dynamoProxy.setRules([{ operation: 'BatchWriteItem', fault: 'slow', delayMs: 10_000, times: 1 }]);
          throw new Error('transient');
        }
      },
    });

    const first = await handler({ Records: await receiveExactly(queue, 1) }, lambdaContext(4000));
    expect(first.batchItemFailures).toHaveLength(1);
    // Not back after the backoff: hidden until the lease ends, about 4.5 s after the answer.
    expect(await receiveRecords(queue, 1, 3)).toEqual([]);
    await waitFor(
      async () => {
        const records = await receiveRecords(queue, 1, 1);
        if (records.length === 0) return undefined;
        const response = await handler({ Records: records }, lambdaContext(4000));
        await deleteAcked(queue, records, response);
        return response.batchItemFailures.length === 0;
      },
      {
        timeoutMs: 15_000,
        what: 'the retry after the 4 s lease, before the queue visibility timeout (30 s)',
      },
    );
    expect(attempts).toBe(2);
    expect(await queueDepth(dlq)).toEqual({ visible: 0, inFlight: 0 });
  });
});

describe('a duplicate delivered while the original runs', () => {
  it('waits for the original instead of being dead-lettered by its nacks', async () => {
    const { queue, dlq, group } = await groupQueue({ maxReceiveCount: 2, visibility: 30 });
    const table = await idempotencyTable();
    const event = envelope('OrderPlaced', { n: 1 });
    await sendEnvelopes(queue, [event, event]); // the same event twice: two SQS messages
    const [original, duplicate] = await receiveExactly(queue, 2);
    let runs = 0;
    let finish: () => void = () => {};
    const handler = consumer({
      group,
      idempotency: { tableName: table },
      backoff: { baseSeconds: 1, maxSeconds: 1 },
      handle: async () => {
        runs++;
        await new Promise<void>((resolve) => {
          finish = resolve;
        });
      },
    });

    const running = handler({ Records: [original] }, lambdaContext(4000));
    await waitFor(() => runs === 1, { what: 'the original to start' });
    expect((await handler({ Records: [duplicate] }, lambdaContext(4000))).batchItemFailures).toHaveLength(1);
    // A poller keeps receiving while the original runs 2.5 s (longer than the duplicate's 1 s backoff),
    // as Lambda's event source mapping would.
    setTimeout(() => finish(), 2500);
    const finished = running.then(async (response) => {
      expect(response.batchItemFailures).toEqual([]);
      await deleteAcked(queue, [original], { batchItemFailures: [] });
    });

    const settled = await waitFor(
      async () => {
        const records = await receiveRecords(queue, 1, 1);
        if (records.length === 0) return undefined;
        const response = await handler({ Records: records }, lambdaContext(4000));
        if (response.batchItemFailures.length > 0) return undefined;
        await deleteAcked(queue, records, { batchItemFailures: [] });
        return records;
      },
      { timeoutMs: 15_000, what: 'the duplicate to come back after the lease' },
    );
    await finished;
    expect(settled).toHaveLength(1);
    expect(runs).toBe(1);
    expect(await queueDepth(dlq)).toEqual({ visible: 0, inFlight: 0 });
  });
});

describe('a lease outside Lambda (no deadline)', () => {
  it('is renewed while a long handler runs, so a duplicate cannot take the key over meanwhile', async () => {
    const { group } = await groupQueue();
    const table = await idempotencyTable();
    const event = envelope('OrderPlaced', { n: 1 });
    const record = sqsRecord(event);
    let runs = 0;
    const handler = consumer({
      group,
      idempotency: { tableName: table, leaseSeconds: 1 },
      handle: async () => {
        runs++;
        await pause(2500);
      },
    });
    const running = handler({ Records: [record] }); // no context: no deadline
    await pause(1600); // a point in time past the first lease of 1 s, while the handler still runs
    const duplicate = await handler({ Records: [{ ...record, messageId: 'another-delivery' }] });
    expect(duplicate.batchItemFailures).toEqual([{ itemIdentifier: 'another-delivery' }]);
    expect((await running).batchItemFailures).toEqual([]);
    expect(runs).toBe(1);
  });
});

describe('a schema that throws', () => {
  it('makes its record poison (schema-invalid, with the error) and never fails the batch', async () => {
    const { queue, dlq, group } = await groupQueue();
    await sendEnvelopes(queue, [envelope('OrderPlaced', { n: 1 }), envelope('OrderPlaced', { n: 13 })]);
    const records = await receiveExactly(queue, 2);
    const throwing: StandardSchemaV1<unknown, { n: number }> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value) => {
          if ((value as { n: number }).n === 13) throw new Error('unlucky number in transform');
          return { value: value as { n: number } };
        },
      },
    };
    const handled: number[] = [];
    const handler = consumer({
      group,
      idempotency: false,
      schema: throwing,
      handle: ({ n }) => void handled.push(n),
    });
    const response = await handler({ Records: records });
    expect(response.batchItemFailures).toEqual([]);
    expect(handled).toEqual([1]);
    const [dead] = await receiveExactly(dlq, 1);
    expect(dead.messageAttributes[POISON_REASON_ATTRIBUTE]?.stringValue).toBe('schema-invalid');
    expect(dead.messageAttributes[POISON_DETAIL_ATTRIBUTE]?.stringValue).toContain(
      'unlucky number in transform',
    );
  });
});

describe('the time budget', () => {
  const budgets = [50, 200, 1000, 3000];
  it.each(
    budgets.flatMap((budget) => [
      { budget, delayMs: budget * 2, slowness: 'slower than the deadline' },
      { budget, delayMs: Math.round(budget / 4), slowness: 'a quarter of the budget' },
    ]),
  )(
    'answers before the deadline with $budget ms left and every DynamoDB and SQS call $slowness',
    async ({ budget, delayMs }) => {
      const { queue, group } = await groupQueue();
      const table = await idempotencyTable();
      const { dynamoProxy, sqsProxy, dynamodb, sqs } = await faultyClients();
      const events = Array.from({ length: 8 }, (_, n) => envelope('OrderPlaced', { n }));
      await sendEnvelopes(queue, events);
      const records = [...(await receiveExactly(queue, 8)), sqsRecord('not json', { queueArn: queue.arn })];
      const handler = consumer<{ n: number }>({
        group,
        idempotency: { tableName: table, client: dynamodb },
        sqsClient: sqs,
        handle: ({ n }) => {
          if (n % 3 === 0) throw new Error('fails');
        },
      });
      // One warm-up invocation first, as a Lambda container has had its first one: a cold SDK client's
      // first calls (code loading, endpoint rules) take milliseconds no timer can bound.
      const warmUp = [0, 1].map((n) => sqsRecord(envelope('OrderPlaced', { n }), { queueArn: queue.arn }));
      await handler(
        { Records: [...warmUp, sqsRecord('not json', { queueArn: queue.arn })] },
        lambdaContext(5000),
      );
      dynamoProxy.setRules([{ operation: '*', fault: 'slow', delayMs }]);
      sqsProxy.setRules([{ operation: '*', fault: 'slow', delayMs }]);

      const started = Date.now();
      const response = await handler({ Records: records }, lambdaContext(budget));
      const took = Date.now() - started;

      expect(took, `answered after ${took} ms of ${budget}`).toBeLessThan(budget);
      // Every record is answered for: acked or nacked, none twice.
      const ids = response.batchItemFailures.map((f) => f.itemIdentifier);
      expect(new Set(ids).size).toBe(ids.length);
      expect(dynamoProxy.seen.get('PutItem') ?? 0).toBeGreaterThan(0);
    },
  );
});

describe('dead-lettering large and many-attribute records', () => {
  it('sends five 250 KiB poison bodies to the DLQ with their reason, in calls under the request limit', async () => {
    const { queue, dlq, group } = await groupQueue();
    const body = `not json ${'x'.repeat(250 * 1024)}`;
    for (let n = 0; n < 5; n++) await sendRaw(queue, `${n}${body}`);
    const records = await receiveExactly(queue, 5);
    const response = await consumer({ group, idempotency: false, handle: () => undefined })({
      Records: records,
    });
    expect(response.batchItemFailures).toEqual([]);
    const dead = await receiveExactly(dlq, 5);
    expect(dead.map((d) => d.messageAttributes[POISON_REASON_ATTRIBUTE]?.stringValue)).toEqual(
      Array(5).fill('unparseable-body'),
    );
  });

  it('dead-letters a 400 KiB poison record with its reason when the DLQ takes 1 MiB, and leaves it to the redrive policy when the DLQ takes 256 KiB', async () => {
    // Queues raised to 1 MiB, as the stack raises them for topics above 256 KiB (maxMessageSizeBytes).
    const { queue, dlq, group } = await groupQueue({ maxMessageBytes: SQS_RAISED_MAX_MESSAGE_BYTES });
    await sendRaw(queue, `not json ${'x'.repeat(400 * 1024)}`);
    const records = await receiveExactly(queue, 1);
    const handle = () => undefined;
    // The default (what every queue takes): the copy does not fit, so the record stays nacked.
    const small = await consumer({ group, idempotency: false, handle })({ Records: records });
    expect(small.batchItemFailures).toEqual([{ itemIdentifier: records[0].messageId }]);
    expect(await queueDepth(dlq)).toEqual({ visible: 0, inFlight: 0 });
    // FANOUT_DLQ_MAX_MESSAGE_BYTES, as the stack sets it on a raised DLQ.
    process.env[DEAD_LETTER_MAX_MESSAGE_BYTES_VARIABLE] = String(SQS_RAISED_MAX_MESSAGE_BYTES);
    try {
      const raised = await consumer({ group, idempotency: false, handle })({ Records: records });
      expect(raised.batchItemFailures).toEqual([]);
    } finally {
      delete process.env[DEAD_LETTER_MAX_MESSAGE_BYTES_VARIABLE];
    }
    const [dead] = await receiveExactly(dlq, 1);
    expect(dead.messageAttributes[POISON_REASON_ATTRIBUTE]?.stringValue).toBe('unparseable-body');
    expect(dead.body).toBe(records[0].body);
  });

  it('refuses a DLQ size SQS does not have, naming the option and the variable', () => {
    expect(() =>
      consumer({ idempotency: false, handle: () => undefined, deadLetterMaxMessageBytes: 2_000_000 }),
    ).toThrow(/deadLetterMaxMessageBytes.*1,024 to 1,048,576 \(given 2000000\)/);
    process.env[DEAD_LETTER_MAX_MESSAGE_BYTES_VARIABLE] = 'lots';
    try {
      expect(() => consumer({ idempotency: false, handle: () => undefined })).toThrow(
        /FANOUT_DLQ_MAX_MESSAGE_BYTES.*\(given lots\)/,
      );
    } finally {
      delete process.env[DEAD_LETTER_MAX_MESSAGE_BYTES_VARIABLE];
    }
  });

  it('keeps the body and all ten original attributes through dead-lettering and redrive', async () => {
    const { queue, dlq, group } = await groupQueue();
    const attributes = {
      type: { DataType: 'String', StringValue: 'OrderCancelled' },
      blob: { DataType: 'Binary', BinaryValue: Buffer.from([0, 1, 2, 254, 255]) },
      ...Object.fromEntries(
        Array.from({ length: 8 }, (_, n) => [`a${n}`, { DataType: 'Number', StringValue: String(n) }]),
      ),
    };
    const body = JSON.stringify({ orderId: 'o-1' }); // a plain JSON body: no envelope
    await clients().sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.url,
        Entries: [{ Id: '0', MessageBody: body, MessageAttributes: attributes }],
      }),
    );
    const [record] = await receiveExactly(queue, 1);
    const before = decodeRecord(record).envelope;
    const handler = consumer({ group, idempotency: false, handlers: { OrderPlaced: () => undefined } });
    expect((await handler({ Records: [record] })).batchItemFailures).toEqual([]);
    const address = { queueUrl: queue.url, queueArn: queue.arn, dlqUrl: dlq.url, dlqArn: dlq.arn };
    const [dead] = await peekDeadLetters(clients().sqs, address, 1);
    expect(dead.reason).toBe('unknown-type');

    const result = await redriveDeadLetters(clients().sqs, address);
    expect(result.moved).toHaveLength(1);
    const [back] = await receiveExactly(queue, 1);
    expect(back.body).toBe(body);
    const original = originalMessage({ Body: back.body, MessageAttributes: sdkAttributes(back) });
    expect(original.MessageAttributes).toEqual(
      Object.fromEntries(
        Object.entries(attributes).map(([name, value]) => [
          name,
          'BinaryValue' in value
            ? { DataType: 'Binary', BinaryValue: Buffer.from(value.BinaryValue) }
            : value,
        ]),
      ),
    );
    expect(decodeRecord(back).envelope.type).toBe(before.type);
  });
});

describe('FIFO order when the DLQ cannot be reached', () => {
  it('stops the message group at a poison record it could not dead-letter', async () => {
    const { dlq, group } = await groupQueue({ fifo: true });
    const fifoArn = 'arn:aws:sqs:us-east-1:000000000000:acct.fifo';
    const batch = [
      sqsRecord('not json', { groupId: 'acct-1', queueArn: fifoArn }),
      sqsRecord(envelope('OrderPlaced', { n: 2 }), { groupId: 'acct-1', queueArn: fifoArn }),
      sqsRecord(envelope('OrderPlaced', { n: 3 }), { groupId: 'acct-1', queueArn: fifoArn }),
      sqsRecord(envelope('OrderPlaced', { n: 9 }), { groupId: 'acct-2', queueArn: fifoArn }),
    ];
    const applied: number[] = [];
    const build = (deadLetterQueueUrl: string) =>
      consumer<{ n: number }>({
        group,
        idempotency: false,
        deadLetterQueueUrl,
        handle: ({ n }) => void applied.push(n),
      });

    const unreachable = await build(`${dlq.url}-missing`)({ Records: batch });
    expect(unreachable.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(
      batch.slice(0, 3).map((r) => r.messageId),
    );
    expect(applied).toEqual([9]);

    const reachable = await build(dlq.url)({ Records: batch.slice(0, 3) });
    expect(reachable.batchItemFailures).toEqual([]);
    expect(applied).toEqual([9, 2, 3]);
    const [dead] = await receiveRecords(dlq, 1, 1);
    expect(dead.messageAttributes[POISON_REASON_ATTRIBUTE]?.stringValue).toBe('unparseable-body');
  });
});

describe('idempotency store errors', () => {
  it('are part of the FanoutError family', async () => {
    const store = new IdempotencyStore({ tableName: 't' });
    await expect(
      store.writeKeys(
        Array.from({ length: 26 }, (_, n) => ({
          key: `k${n}`,
          state: 'completed' as const,
          payloadHash: '',
        })),
      ),
    ).rejects.toMatchObject({
      code: 'FANOUT_IDEMPOTENCY_STORE',
    });
  });
});

/** A Lambda record's attributes in the SDK's shape. */
function sdkAttributes(record: SQSRecord) {
  return Object.fromEntries(
    Object.entries(record.messageAttributes).map(([name, value]) => [
      name,
      value.binaryValue !== undefined
        ? { DataType: value.dataType, BinaryValue: Buffer.from(value.binaryValue, 'base64') }
        : { DataType: value.dataType, StringValue: value.stringValue },
    ]),
  );
}

describe('found by an adversarial review', () => {
  /** Captures the inputs of every command a client sends, by command name. */
  function capture(client: SQSClient) {
    const inputs: { name: string; input: Record<string, unknown> }[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        inputs.push({ name: context.commandName ?? '', input: args.input as Record<string, unknown> });
        return next(args);
      },
      { step: 'initialize', name: `capture-${Math.random()}` },
    );
    return inputs;
  }
  const visibilityOf = (inputs: ReturnType<typeof capture>) =>
    inputs
      .filter((i) => i.name === 'ChangeMessageVisibilityBatchCommand')
      .flatMap((i) => i.input.Entries as { ReceiptHandle: string; VisibilityTimeout: number }[]);

  it('a FIFO batch with the same event twice in a group, and once in another group, runs it once and nacks nothing', async () => {
    const { queue, group } = await groupQueue({ fifo: true });
    const table = await idempotencyTable();
    const ran: string[] = [];
    const handler = consumer<{ n: string }>({
      group,
      idempotency: { tableName: table },
      handle: async ({ n }) => {
        ran.push(n);
        await pause(n === 'slow' ? 300 : 5);
      },
    });
    const [e1, e2, slow] = ['1', '2', 'slow'].map((n) => envelope('OrderPlaced', { n }));
    const at = (e: unknown, groupId: string) => sqsRecord(e, { groupId, queueArn: queue.arn });
    const batch = [at(e1, 'a'), at(e1, 'a'), at(e2, 'a'), at(slow, 'b'), at(e1, 'c')];
    const response = await handler({ Records: batch }, lambdaContext(60_000));
    expect(response.batchItemFailures).toEqual([]);
    expect(ran.filter((n) => n === '1')).toEqual(['1']);
    expect(ran).toContain('2');
  });

  it('a follower of an in-batch leader whose key is held elsewhere waits for that lease too', async () => {
    const { queue, group } = await groupQueue();
    const table = await idempotencyTable();
    const event = envelope('OrderPlaced', { n: 1 });
    const store = new IdempotencyStore({ tableName: table });
    await store.claim(IdempotencyStore.tableKey(group, event.id), '', 600_000); // held for 10 minutes
    const sqs = new SQSClient({});
    const inputs = capture(sqs);
    const handler = consumer({
      group,
      idempotency: { store, validatePayload: false },
      sqsClient: sqs,
      handle: () => {},
    });
    const batch = [sqsRecord(event, { queueArn: queue.arn }), sqsRecord(event, { queueArn: queue.arn })];
    const response = await handler({ Records: batch }, lambdaContext(3000));
    expect(response.batchItemFailures).toHaveLength(2);
    const seconds = visibilityOf(inputs).map((e) => e.VisibilityTimeout);
    expect(seconds).toHaveLength(2);
    for (const s of seconds) expect(s).toBeGreaterThanOrEqual(595);
  });

  it('an async schema that outlives the time to start records cannot make the answer late', async () => {
    const slowSchema: StandardSchemaV1<unknown, unknown> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value) => new Promise((resolve) => setTimeout(() => resolve({ value }), 3000)),
      },
    };
    let ran = 0;
    const handler = consumer({
      group: 'g',
      idempotency: false,
      schema: slowSchema,
      handle: () => void ran++,
    });
    const record = sqsRecord(envelope('OrderPlaced', {}));
    const started = Date.now();
    const response = await handler({ Records: [record] }, lambdaContext(1000));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(ran).toBe(0);
  });

  it.each([
    ['undefined', () => undefined],
    ['issues that are not an array', () => ({ issues: 'bad' })],
    ['an issue path that is not an array', () => ({ issues: [{ message: 'x', path: 'a.b' }] })],
  ])('a schema answering %s makes the record poison, never the batch fail', async (_name, answer) => {
    const { queue, dlq, group } = await groupQueue();
    const odd = {
      '~standard': { version: 1, vendor: 'test', validate: answer },
    } as unknown as StandardSchemaV1<unknown, unknown>;
    const handler = consumer({ group, idempotency: false, schema: odd, handle: () => {} });
    const response = await handler({
      Records: [sqsRecord(envelope('OrderPlaced', {}), { queueArn: queue.arn })],
    });
    expect(response.batchItemFailures).toEqual([]);
    const [dead] = await receiveExactly(dlq, 1);
    expect(dead.messageAttributes[POISON_REASON_ATTRIBUTE]?.stringValue).toBe('schema-invalid');
  });

  it('never starts a record after the answer, even with a start margin below the abandon margin', async () => {
    const started: number[] = [];
    let firstEnded = false;
    const handler = consumer<{ n: number }>({
      group: 'g',
      idempotency: false,
      concurrency: 1,
      deadlineMarginMs: 0,
      abandonMarginMs: 1000,
      backoff: false,
      handle: async ({ n }) => {
        started.push(n);
        if (n === 1) await pause(1500);
        if (n === 1) firstEnded = true;
      },
    });
    const records = [1, 2, 3].map((n) => sqsRecord(envelope('OrderPlaced', { n })));
    const response = await handler({ Records: records }, lambdaContext(2000));
    // The first handler ends after the answer: its lane would go on at once, if anything let it.
    await waitFor(() => firstEnded, { what: 'the first handler to end' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(response.batchItemFailures).toHaveLength(3);
    expect(started).toEqual([1]);
  });

  it('validatePayload: false does not compare with a hash stored by a consumer that compared', async () => {
    const { group } = await groupQueue();
    const table = await idempotencyTable();
    const event = envelope('OrderPlaced', { n: 1 });
    let runs = 0;
    const comparing = consumer({ group, idempotency: { tableName: table }, handle: () => void runs++ });
    const trusting = consumer({
      group,
      idempotency: { tableName: table, validatePayload: false },
      handle: () => void runs++,
    });
    expect((await comparing({ Records: [sqsRecord(event)] })).batchItemFailures).toEqual([]);
    expect((await trusting({ Records: [sqsRecord(event)] })).batchItemFailures).toEqual([]);
    expect(runs).toBe(1);
  });

  it('a context whose remaining time is not a number is a clear ConfigError', async () => {
    const handler = consumer({ group: 'g', idempotency: false, handle: () => {} });
    await expect(
      handler(
        { Records: [sqsRecord(envelope('OrderPlaced', {}))] },
        { getRemainingTimeInMillis: () => Number.NaN },
      ),
    ).rejects.toMatchObject({ code: 'FANOUT_CONFIG', field: 'context.getRemainingTimeInMillis' });
  });

  it('counts a record still running at the answer as Abandoned, and renews no lease inside Lambda', async () => {
    const { subscribe, unsubscribe } = await import('node:diagnostics_channel');
    const { BATCH_CHANNEL } = await import('../../../lib/index.ts');
    const table = await idempotencyTable();
    const dynamodb = new DynamoDBClient({});
    const requests = countRequests(dynamodb);
    const reports: { counts: Record<string, number> }[] = [];
    const onBatch = (message: unknown) => void reports.push(message as { counts: Record<string, number> });
    subscribe(BATCH_CHANNEL, onBatch);
    try {
      const handler = consumer<{ hang: boolean }>({
        group: 'g-abandon',
        idempotency: { tableName: table, client: dynamodb },
        backoff: false,
        handle: ({ hang }) => (hang ? new Promise(() => {}) : pause(1800)),
      });
      await handler({ Records: [sqsRecord(envelope('OrderPlaced', { hang: false }))] }, lambdaContext(4000));
      await handler({ Records: [sqsRecord(envelope('OrderPlaced', { hang: true }))] }, lambdaContext(1000));
      await pause(500); // an observation window: a renewal loop would fire every 100 ms in it
    } finally {
      unsubscribe(BATCH_CHANNEL, onBatch);
    }
    expect(reports.at(-1)?.counts).toMatchObject({ abandoned: 1, deferred: 0 });
    expect(requests.counts.get('UpdateItemCommand') ?? 0).toBe(0);
  });

  it('writes nothing for an abandoned record that finishes after the answer', async () => {
    const table = await idempotencyTable();
    const event = envelope('OrderPlaced', { n: 1 });
    const dynamodb = new DynamoDBClient({});
    const requests = countRequests(dynamodb);
    let ended = false;
    const handler = consumer({
      group: 'g-late',
      idempotency: { tableName: table, client: dynamodb },
      handle: async () => {
        await pause(700);
        ended = true;
      },
    });
    const response = await handler({ Records: [sqsRecord(event)] }, lambdaContext(1000));
    expect(response.batchItemFailures).toHaveLength(1);
    await waitFor(() => ended, { what: 'the abandoned handler to end' });
    // Its completion would be gathered and sent within a turn or two of the event loop.
    for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(requests.counts.get('BatchWriteItemCommand') ?? 0).toBe(0);
    expect(await keyStatus(table, `g-late#${event.id}`)).toBe('IN_PROGRESS');
  });

  it('answers a nack for a hand-made event without a source queue ARN (no queue to change visibility on)', async () => {
    const handler = consumer({
      group: 'g',
      idempotency: false,
      handle: () => {
        throw new Error('fails');
      },
    });
    const record = { ...sqsRecord(envelope('OrderPlaced', {})), eventSourceARN: '' };
    expect((await handler({ Records: [record] })).batchItemFailures).toEqual([
      { itemIdentifier: record.messageId },
    ]);
  });
});
