/** What every measure shares: Lambda-shaped events, idempotency tables, handler work. */
import { randomUUID } from 'node:crypto';
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { createEnvelope } from '../lib/index.ts';
import { ensureIdempotencyTable } from '../localstack/index.ts';

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
