/** What every measure shares: Lambda-shaped events, idempotency tables, handler work. */
import { randomUUID } from 'node:crypto';
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { createEnvelope } from '../lib/index.ts';
import {
  ensureIdempotencyTable,
  ensureQueue,
  ensureSubscription,
  ensureTopic,
  type QueueRef,
} from '../localstack/index.ts';

/** The `source` of every event the bench publishes or builds (the same on both sides). */
export const SOURCE = 'bench';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A handler's per-record work: awaits `ms` of I/O (none for 0). */
export const work = (ms: number) => async (): Promise<void> => {
  if (ms > 0) await sleep(ms);
};

/** The message a publisher sends for record `n`: an `OrderPlaced` event. */
export const orderPlaced = (n: number) => ({ type: 'OrderPlaced', data: { n, orderId: `o-${n}` } });

/** A batch of `size` records as Lambda delivers them, each a fresh event (FIFO with `groups` > 0). */
export function sqsEvent(size: number, groups = 0): SQSEvent {
  const queueArn = `arn:aws:sqs:us-east-1:000000000000:bench${groups ? '.fifo' : ''}`;
  return {
    Records: Array.from({ length: size }, (_, n): SQSRecord => {
      const envelope = createEnvelope(orderPlaced(n), { source: SOURCE });
      return {
        messageId: randomUUID(),
        receiptHandle: randomUUID(),
        body: JSON.stringify(envelope),
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: '0',
          SenderId: 'bench',
          ApproximateFirstReceiveTimestamp: '0',
          ...(groups ? { MessageGroupId: `g-${n % groups}` } : {}),
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: queueArn,
        awsRegion: 'us-east-1',
      };
    }),
  };
}

/** A fresh table as Powertools' DynamoDBPersistenceLayer expects it (partition key `id`). */
export async function powertoolsTable(client: DynamoDBClient): Promise<string> {
  const name = `pt-${randomUUID().slice(0, 8)}`;
  await client.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return name;
}

/** A fresh fanout idempotency table (partition key `pk`). */
export async function fanoutTable(client: DynamoDBClient): Promise<string> {
  const name = `fo-${randomUUID().slice(0, 8)}`;
  await ensureIdempotencyTable(client, name);
  return name;
}

/** A fresh topic `<name>-<id>` with `groups` subscribed queues (raw delivery), made outside any timed part. */
export async function fanOutTopic(
  clients: { readonly sns: SNSClient; readonly sqs: SQSClient },
  name: string,
  groups: number,
): Promise<{ topicArn: string; queues: QueueRef[] }> {
  const id = randomUUID().slice(0, 8);
  const topicArn = await ensureTopic(clients.sns, `${name}-${id}`);
  const queues = await Promise.all(
    Array.from({ length: groups }, (_, n) =>
      ensureQueue(clients.sqs, { name: `${name}-${id}-${n + 1}`, visibilityTimeoutSeconds: 30 }),
    ),
  );
  for (const q of queues) await ensureSubscription(clients.sns, topicArn, q.arn);
  return { topicArn, queues };
}
