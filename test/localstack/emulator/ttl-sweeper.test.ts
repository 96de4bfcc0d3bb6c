/**
 * The local cloud's TTL sweeper, against the emulator with the real SDK: an item whose `expiresAt`
 * (epoch seconds, the idempotency store's TTL attribute) is past is deleted; a live one, and one without
 * the attribute, stay.
 */
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { expect, it } from 'vitest';
import { startEmbeddedCloud } from '../../../localstack/emulator/embedded-cloud.ts';
import { waitFor } from '../../helpers/cloud.ts';

it('deletes the expired item and keeps the live one and the one without a TTL', async ({
  onTestFinished,
}) => {
  const cloud = await startEmbeddedCloud({ ttlSweep: { intervalSeconds: 0.1 } });
  onTestFinished(() => cloud.stop());
  const db = new DynamoDBClient({
    endpoint: cloud.dynamodb,
    region: cloud.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const TableName = 'ttl-sweep';
  await db.send(
    new CreateTableCommand({
      TableName,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  const now = Math.floor(Date.now() / 1000);
  const put = (pk: string, expiresAt?: number) =>
    db.send(
      new PutItemCommand({
        TableName,
        Item: { pk: { S: pk }, ...(expiresAt ? { expiresAt: { N: String(expiresAt) } } : {}) },
      }),
    );
  await put('expired', now - 10);
  await put('live', now + 3600);
  await put('no-ttl');
  const exists = async (pk: string) =>
    (await db.send(new GetItemCommand({ TableName, Key: { pk: { S: pk } }, ConsistentRead: true }))).Item !==
    undefined;
  await waitFor(async () => !(await exists('expired')), { what: 'the expired item to be swept' });
  expect(await exists('live')).toBe(true);
  expect(await exists('no-ttl')).toBe(true);

  // Deletes go out several at a time: a page of many expired items, live ones among them.
  const many = Array.from({ length: 30 }, (_, n) => `expired-${n}`);
  await Promise.all(many.map((pk) => put(pk, now - 10)));
  await Promise.all(['live-a', 'live-b'].map((pk) => put(pk, now + 3600)));
  await waitFor(async () => !(await Promise.all(many.map(exists))).some(Boolean), {
    what: 'all 30 expired items to be swept',
  });
  expect(await exists('live-a')).toBe(true);
  expect(await exists('live-b')).toBe(true);
});
