import { randomUUID } from 'node:crypto';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { createSqsClient } from '../../lib/index.ts';
import type { ProvisionedStack } from '../../localstack/provisioning/provision.ts';
import {
  ensureIdempotencyTable,
  ensureQueue,
  type QueueRef,
} from '../../localstack/provisioning/resources.ts';
import { toLambdaRecord } from '../../localstack/runner/lambda-event.ts';

/** A name no other test uses (queues, topics and tables share one emulator per run). */
export function uniqueName(prefix: string, fifo = false): string {
  return `${prefix}-${randomUUID().slice(0, 8)}${fifo ? '.fifo' : ''}`;
}

/** Counts the requests a client sends, by command name. */
type Next = (args: unknown) => Promise<unknown>;
interface MiddlewareClient {
  middlewareStack: {
    add(middleware: (next: Next, context: { commandName?: string }) => Next, options: object): void;
  };
}

export function countRequests(client: SNSClient | DynamoDBClient | ReturnType<typeof createSqsClient>) {
  const counts = new Map<string, number>();
  (client as unknown as MiddlewareClient).middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? 'unknown';
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: `count-${randomUUID()}` },
  );
  return {
    counts,
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    reset: () => counts.clear(),
  };
}

export const clients = () => ({
  sqs: createSqsClient(),
  sns: new SNSClient({}),
  dynamodb: new DynamoDBClient({}),
});

/** Polls `check` until it returns a value that is not undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 10_000, intervalMs = 50, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A group queue with its DLQ, and an idempotency table. */
export async function groupQueue(
  options: { fifo?: boolean; maxReceiveCount?: number; visibility?: number; maxMessageBytes?: number } = {},
) {
  const { sqs } = clients();
  const name = uniqueName('group');
  const dlq = await ensureQueue(sqs, {
    name: `${name}-dlq${options.fifo ? '.fifo' : ''}`,
    fifo: options.fifo,
    maxMessageBytes: options.maxMessageBytes,
  });
  const queue = await ensureQueue(sqs, {
    name: `${name}${options.fifo ? '.fifo' : ''}`,
    fifo: options.fifo,
    maxMessageBytes: options.maxMessageBytes,
    visibilityTimeoutSeconds: options.visibility ?? 30,
    deadLetter: { arn: dlq.arn, maxReceiveCount: options.maxReceiveCount ?? 5 },
  });
  return { queue, dlq, group: name };
}

export async function idempotencyTable(): Promise<string> {
  const name = uniqueName('idempotency');
  await ensureIdempotencyTable(clients().dynamodb, name);
  return name;
}

/** Receives up to `max` messages (one call, short wait) as Lambda records. */
export async function receiveRecords(queue: QueueRef, max = 10, waitSeconds = 1) {
  const { sqs } = clients();
  const result = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queue.url,
      MaxNumberOfMessages: max,
      WaitTimeSeconds: waitSeconds,
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
  );
  return (result.Messages ?? []).map((m: Message) => toLambdaRecord(m, queue.arn, 'us-east-1'));
}

/** Receives until `count` records have arrived (several calls), as Lambda records. */
export async function receiveExactly(queue: QueueRef, count: number, timeoutMs = 10_000) {
  const records: ReturnType<typeof toLambdaRecord>[] = [];
  await waitFor(
    async () => {
      records.push(...(await receiveRecords(queue, Math.min(10, count - records.length), 0)));
      return records.length >= count;
    },
    { timeoutMs, what: `${count} messages on ${queue.name}` },
  );
  return records;
}

export async function sendRaw(queue: QueueRef, body: string, extra: Record<string, unknown> = {}) {
  await clients().sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: body, ...extra }));
}

/** The queue and DLQ provisioned for `group`; throws if the stack has no such group. */
export function provisionedGroup(stack: ProvisionedStack, group: string): { queue: QueueRef; dlq: QueueRef } {
  const queues = stack.groups.get(group);
  if (!queues)
    throw new Error(`group '${group}' was not provisioned (groups: ${[...stack.groups.keys()].join(', ')})`);
  return queues;
}

/** Approximate visible + in-flight counts of a queue. */
export async function queueDepth(queue: QueueRef) {
  const result = await clients().sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queue.url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: Number(result.Attributes?.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(result.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
  };
}

/** Sends envelopes straight to a queue, as SNS raw delivery would (body = envelope, `type` attribute). */
export async function sendEnvelopes(
  queue: QueueRef,
  envelopes: readonly { id: string; type: string }[],
  groupOf?: (index: number) => string,
) {
  const { sqs } = clients();
  for (let i = 0; i < envelopes.length; i += 10) {
    const chunk = envelopes.slice(i, i + 10);
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.url,
        Entries: chunk.map((e, n) => ({
          Id: String(n),
          MessageBody: JSON.stringify(e),
          MessageAttributes: { type: { DataType: 'String', StringValue: e.type } },
          ...(groupOf ? { MessageGroupId: groupOf(i + n), MessageDeduplicationId: `${e.id}-${i + n}` } : {}),
        })),
      }),
    );
  }
}

/** Deletes the records of a batch that the handler did not report as failures (what Lambda does). */
export async function deleteAcked(queue: QueueRef, records: SQSRecord[], response: SQSBatchResponse) {
  const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
  const acked = records.filter((r) => !failed.has(r.messageId));
  for (let i = 0; i < acked.length; i += 10) {
    await clients().sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queue.url,
        Entries: acked.slice(i, i + 10).map((r, n) => ({ Id: String(n), ReceiptHandle: r.receiptHandle })),
      }),
    );
  }
  return acked;
}

/** The `status` of an idempotency key (`IN_PROGRESS`, `COMPLETED`), read consistently; undefined when absent. */
export async function keyStatus(table: string, key: string): Promise<string | undefined> {
  const { Item } = await clients().dynamodb.send(
    new GetItemCommand({ TableName: table, Key: { pk: { S: key } }, ConsistentRead: true }),
  );
  return Item?.status?.S;
}
