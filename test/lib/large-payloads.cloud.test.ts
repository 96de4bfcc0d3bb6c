import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { publishFromCli } from '../../cli/publish.ts';
import { resolveTarget } from '../../cli/target.ts';
import {
  consumer,
  createS3Client,
  defineTopology,
  EXTENDED_PAYLOAD_SIZE_ATTRIBUTE,
  MessageTooLargeError,
  POINTER_CLASS,
  POISON_DETAIL_ATTRIBUTE,
  POISON_REASON_ATTRIBUTE,
  Publisher,
  PublishFailedError,
  SNS_DEFAULT_MAX_MESSAGE_BYTES,
} from '../../lib/index.ts';
import { ensureBucket, type ProvisionedStack, provisionTopology } from '../../localstack/index.ts';
import {
  countRequests,
  deleteAcked,
  idempotencyTable,
  keyStatus,
  provisionedGroup,
  receiveExactly,
  receiveRecords,
  sendRaw,
} from '../helpers/cloud.ts';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.ts';
import { envelope, lambdaContext } from '../helpers/sqs-events.ts';

/**
 * Large payloads through S3 in the pointer format of AWS's extended clients (docs/LARGE-MESSAGES.md),
 * against the emulator of the run with the real SDK: publish → SNS → two group queues → consumers.
 */

const topology = defineTopology({
  topics: { big: { largePayloads: true }, small: {} },
  groups: {
    archive: { subscribe: ['big'], handler: 'functions/archive.ts' },
    search: { subscribe: ['big'], handler: 'functions/search.ts' },
    inline: { subscribe: ['small'], handler: 'functions/inline.ts' },
  },
});

let stack: ProvisionedStack;
let bucket: string;
const proxies: FaultProxy[] = [];

beforeAll(async () => {
  stack = await provisionTopology(topology);
  bucket = stack.payloadBucket as string;
});
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
});

const topicArn = (name: string) => stack.topics.get(name) as string;
const s3Counter = (client: S3Client) =>
  countRequests(client as unknown as Parameters<typeof countRequests>[0]);

/** A consumer of `group` that records what its handler got, with idempotency and the group's DLQ. */
async function groupConsumer(group: string, s3Client?: S3Client) {
  const table = await idempotencyTable();
  const seen: unknown[] = [];
  const handler = consumer({
    group,
    idempotency: { tableName: table },
    deadLetterQueueUrl: provisionedGroup(stack, group).dlq.url,
    s3Client,
    handle: (data) => {
      seen.push(data);
    },
  });
  return { handler, seen };
}

/** Receives and deletes `count` records of a group (the copy another test does not look at). */
async function drain(group: string, count = 1) {
  const { queue } = provisionedGroup(stack, group);
  const records = await receiveExactly(queue, count);
  await deleteAcked(queue, records, { batchItemFailures: [] });
  return records;
}

/** Receives `count` records of a group and runs them through `handler` as one Lambda batch; deletes the acked. */
async function deliver(
  group: string,
  handler: Awaited<ReturnType<typeof groupConsumer>>['handler'],
  count = 1,
  budgetMs = 10_000,
) {
  const { queue } = provisionedGroup(stack, group);
  const records = await receiveExactly(queue, count);
  const response = await handler({ Records: records }, lambdaContext(budgetMs));
  await deleteAcked(queue, records, response);
  return { records, response };
}

describe('large payloads through S3 (extended-client pointers)', () => {
  it('a 5 MiB payload is published with 1 PutObject, fanned out to two groups, and applied once in each with 1 GetObject per group', async () => {
    const s3 = await createS3Client();
    const puts = s3Counter(s3);
    const publisher = new Publisher({ topicArn: topicArn('big'), largePayloads: { bucket, client: s3 } });
    const blob = 'x'.repeat(5 * 1024 * 1024);
    const sent = await publisher.publish({ type: 'ReportReady', data: { blob } });
    expect(puts.counts.get('PutObjectCommand')).toBe(1);

    for (const group of ['archive', 'search']) {
      const s3Reader = await createS3Client();
      const gets = s3Counter(s3Reader);
      const { handler, seen } = await groupConsumer(group, s3Reader);
      const { records, response } = await deliver(group, handler);
      expect(response.batchItemFailures).toEqual([]);
      expect(seen).toEqual([{ blob }]);
      expect(gets.counts.get('GetObjectCommand')).toBe(1);
      // The record on the queue is the pointer, with the marker attribute (raw delivery passes it on).
      expect(JSON.parse(records[0].body)[0]).toBe(POINTER_CLASS);
      expect(records[0].messageAttributes.type?.stringValue).toBe('ReportReady');

      // A redelivery is read again (1 more GetObject) and is a duplicate: the handler does not run again.
      const again = await handler({ Records: records }, lambdaContext(10_000));
      expect(again.batchItemFailures).toEqual([]);
      expect(seen).toHaveLength(1);
      expect(gets.counts.get('GetObjectCommand')).toBe(2);
    }
    expect(sent.data).toEqual({ blob });
  });

  it('an offloaded record is settled as its own batch item: a stored completion logs no error (found by an adversarial review)', async () => {
    const publisher = new Publisher({ topicArn: topicArn('big'), largePayloads: { bucket, mode: 'always' } });
    const sent = await publisher.publish({ type: 'ReportReady', data: { n: 1 } });
    await drain('search');
    const logger = new Logger({ serviceName: 'large-payloads-test', logLevel: 'SILENT' });
    const errors = vi.spyOn(logger, 'error');
    const table = await idempotencyTable();
    const seen: unknown[] = [];
    const handler = consumer({
      group: 'archive',
      idempotency: { tableName: table },
      logger,
      handle: (data) => void seen.push(data),
    });
    const { response } = await deliver('archive', handler);
    expect(response.batchItemFailures).toEqual([]);
    expect(seen).toEqual([{ n: 1 }]);
    // Before the fix the completion landed under the resolved item, and the batch was answered with the
    // batch item's stale 'pending': "handled, but its COMPLETED key could not be stored in time".
    expect(errors).not.toHaveBeenCalled();
    expect(await keyStatus(table, `archive#${sent.id}`)).toBe('COMPLETED');
  });

  it('the published pointer is exactly the extended clients’ format: body, marker attribute and S3 object', async () => {
    const publisher = new Publisher({
      topicArn: topicArn('big'),
      largePayloads: { bucket, mode: 'always' },
    });
    const sent = await publisher.publish({ type: 'Tiny', data: { n: 1 } });
    const [record] = await drain('archive');
    await drain('search');

    // What the Java and Python clients read: a two-element array, the class name, bucket and key …
    const body = JSON.parse(record.body);
    expect(body).toEqual([POINTER_CLASS, { s3BucketName: bucket, s3Key: expect.any(String) }]);
    expect(Object.keys(body[1])).toEqual(['s3BucketName', 's3Key']);
    // … marked by the Number attribute ExtendedPayloadSize = the payload's size in bytes …
    const marker = record.messageAttributes[EXTENDED_PAYLOAD_SIZE_ATTRIBUTE];
    expect(marker?.dataType).toBe('Number');
    // … and the object holds the message the publisher would have sent inline.
    const object = await (await createS3Client()).send(
      new GetObjectCommand({ Bucket: bucket, Key: body[1].s3Key }),
    );
    const stored = await object.Body?.transformToString('utf-8');
    expect(JSON.parse(stored as string)).toMatchObject({ id: sent.id, type: 'Tiny', data: { n: 1 } });
    expect(Number(marker?.stringValue)).toBe(Buffer.byteLength(stored as string));
  });

  it('a pointer published raw as the Java/Python SNS extended client builds it is read; the handler gets the payload', async () => {
    // What AmazonSNSExtendedClient / sns-extended-client send: the payload in S3 under a UUID key, the
    // pointer array as the message, ExtendedPayloadSize (Number) beside the caller's own attributes.
    const payload = JSON.stringify({ orderId: 'o-42', lines: Array.from({ length: 3 }, (_, n) => n) });
    const key = randomUUID();
    await (await createS3Client()).send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: payload }));
    await new SNSClient({}).send(
      new PublishCommand({
        TopicArn: topicArn('big'),
        Message: `["${POINTER_CLASS}",{"s3BucketName":"${bucket}","s3Key":"${key}"}]`,
        MessageAttributes: {
          type: { DataType: 'String', StringValue: 'OrderPlaced' },
          ExtendedPayloadSize: { DataType: 'Number', StringValue: String(Buffer.byteLength(payload)) },
        },
      }),
    );
    await drain('search');
    const { handler, seen } = await groupConsumer('archive');
    const { response } = await deliver('archive', handler);
    expect(response.batchItemFailures).toEqual([]);
    expect(seen).toEqual([JSON.parse(payload)]);
  });

  it.each([
    // ExtendedClientConfiguration's useLegacyReservedAttributeName is true unless set otherwise.
    [
      'the Java SQS extended client with its defaults (current class name, legacy SQSLargePayloadSize attribute)',
      POINTER_CLASS,
    ],
    [
      'an older Java SQS extended client (legacy class and attribute)',
      'com.amazon.sqs.javamessaging.MessageS3Pointer',
    ],
  ])('a pointer sent straight to a queue by %s is read', async (_client, pointerClass) => {
    const payload = JSON.stringify({ pointerClass });
    const key = randomUUID();
    await (await createS3Client()).send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: payload }));
    const { queue } = provisionedGroup(stack, 'inline');
    await sendRaw(queue, JSON.stringify([pointerClass, { s3BucketName: bucket, s3Key: key }]), {
      MessageAttributes: {
        type: { DataType: 'String', StringValue: 'Legacy' },
        SQSLargePayloadSize: { DataType: 'Number', StringValue: String(payload.length) },
      },
    });
    const { handler, seen } = await groupConsumer('inline');
    const { response } = await deliver('inline', handler);
    expect(response.batchItemFailures).toEqual([]);
    expect(seen).toEqual([{ pointerClass }]);
  });

  it('a pointer whose object is missing is dead-lettered as payload-missing with bucket and key; the DLQ copy keeps the pointer', async () => {
    const key = `missing-${randomUUID()}`;
    const pointer = JSON.stringify([POINTER_CLASS, { s3BucketName: bucket, s3Key: key }]);
    await sendRaw(provisionedGroup(stack, 'inline').queue, pointer, {
      MessageAttributes: { ExtendedPayloadSize: { DataType: 'Number', StringValue: '123' } },
    });
    const { handler, seen } = await groupConsumer('inline');
    const { response } = await deliver('inline', handler);
    expect(response.batchItemFailures).toEqual([]); // acked: it is in the DLQ
    expect(seen).toEqual([]);
    const [dead] = await receiveExactly(provisionedGroup(stack, 'inline').dlq, 1);
    expect(dead.messageAttributes[POISON_REASON_ATTRIBUTE]?.stringValue).toBe('payload-missing');
    expect(dead.messageAttributes[POISON_DETAIL_ATTRIBUTE]?.stringValue).toContain(`s3://${bucket}/${key}`);
    expect(dead.body).toBe(pointer);
    expect(dead.messageAttributes[EXTENDED_PAYLOAD_SIZE_ATTRIBUTE]?.stringValue).toBe('123');
    await deleteAcked(provisionedGroup(stack, 'inline').dlq, [dead], { batchItemFailures: [] });
  });

  it('size boundary: exactly at the limit is sent inline, one byte over is offloaded; without largePayloads one byte over is MessageTooLargeError', async () => {
    const limit = SNS_DEFAULT_MAX_MESSAGE_BYTES;
    const time = new Date().toISOString();
    const input = (id: string, filler: number) => ({
      id,
      time,
      type: 'Sized',
      data: 'y'.repeat(filler),
    });
    // The size of a message with 0 filler characters, as the publisher counts it (its own error says).
    const probe = new Publisher({ topicArn: topicArn('small'), maxMessageBytes: 1 });
    const overhead = await probe.publish(input('sized-00001', 0)).then(
      () => Number.NaN,
      (error: MessageTooLargeError) => error.size,
    );
    const s3 = await createS3Client();
    const puts = s3Counter(s3);
    const publisher = new Publisher({ topicArn: topicArn('big'), largePayloads: { bucket, client: s3 } });
    await publisher.publish(input('sized-00002', limit - overhead));
    expect(puts.counts.get('PutObjectCommand') ?? 0).toBe(0);
    await publisher.publish(input('sized-00003', limit - overhead + 1));
    expect(puts.counts.get('PutObjectCommand')).toBe(1);

    const records = await drain('archive', 2);
    await drain('search', 2);
    const byKind = (r: SQSRecord) =>
      EXTENDED_PAYLOAD_SIZE_ATTRIBUTE in r.messageAttributes ? 'pointer' : 'inline';
    const inline = records.find((r) => byKind(r) === 'inline') as SQSRecord;
    expect(JSON.parse(inline.body).id).toBe('sized-00002');
    expect(records.filter((r) => byKind(r) === 'pointer')).toHaveLength(1);

    const plain = new Publisher({ topicArn: topicArn('small') });
    const error = await plain.publish(input('sized-00004', limit - overhead + 1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MessageTooLargeError);
    expect((error as MessageTooLargeError).size).toBe(limit + 1);
    expect((error as Error).message).toContain(`${limit + 1} bytes`);
    expect((error as Error).message).toContain(`at most ${limit} bytes`);
    expect((error as Error).message).toContain('largePayloads');
  });

  it('S3 failing at the PutObject call fails only that message (PublishFailedError), publishes nothing of it, and publishes the others', async () => {
    const proxy = await startFaultProxy(process.env.AWS_ENDPOINT_URL_S3 as string);
    proxies.push(proxy);
    const s3 = new S3Client({ endpoint: proxy.url, forcePathStyle: true, maxAttempts: 2 });
    proxy.setRules([{ operation: 'PutObject', fault: 'error' }]);
    const publisher = new Publisher({ topicArn: topicArn('big'), largePayloads: { bucket, client: s3 } });
    const results = await publisher.publishBatch([
      { type: 'Big', id: 'put-fails-big', data: 'z'.repeat(300_000) },
      { type: 'Small', id: 'put-fails-small', data: 1 },
    ]);
    expect(proxy.faulted.get('PutObject')).toBeGreaterThan(0);
    expect(results[0].ok).toBe(false);
    expect(!results[0].ok && results[0].error).toBeInstanceOf(PublishFailedError);
    expect(results[1].ok).toBe(true);
    for (const group of ['archive', 'search']) {
      const [only] = await drain(group, 1);
      expect(JSON.parse(only.body).id).toBe('put-fails-small');
      expect(await receiveRecords(provisionedGroup(stack, group).queue, 10, 1)).toEqual([]);
    }
  });

  describe('S3 faults at the GetObject call', () => {
    async function pointerOnInlineQueue() {
      const key = randomUUID();
      await (await createS3Client()).send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{"ok":true}' }),
      );
      await sendRaw(
        provisionedGroup(stack, 'inline').queue,
        JSON.stringify([POINTER_CLASS, { s3BucketName: bucket, s3Key: key }]),
        {
          MessageAttributes: { ExtendedPayloadSize: { DataType: 'Number', StringValue: '11' } },
        },
      );
    }
    async function proxiedS3() {
      const proxy = await startFaultProxy(process.env.AWS_ENDPOINT_URL_S3 as string);
      proxies.push(proxy);
      return { proxy, s3: new S3Client({ endpoint: proxy.url, forcePathStyle: true, maxAttempts: 2 }) };
    }

    it('an S3 error is a nack (retried), not poison; the retry reads the payload', async () => {
      await pointerOnInlineQueue();
      const { proxy, s3 } = await proxiedS3();
      const { handler, seen } = await groupConsumer('inline', s3);
      const { queue, dlq } = provisionedGroup(stack, 'inline');
      const records = await receiveExactly(queue, 1);
      proxy.setRules([{ operation: 'GetObject', fault: 'error' }]);
      const first = await handler({ Records: records }, lambdaContext(10_000));
      expect(first.batchItemFailures).toEqual([{ itemIdentifier: records[0].messageId }]);
      expect(proxy.faulted.get('GetObject')).toBeGreaterThan(0);
      expect(seen).toEqual([]);
      expect(await receiveRecords(dlq, 10, 0)).toEqual([]);

      proxy.setRules([]);
      const second = await handler({ Records: records }, lambdaContext(10_000));
      expect(second.batchItemFailures).toEqual([]);
      expect(seen).toEqual([{ ok: true }]);
      await deleteAcked(queue, records, second);
    });

    it('a GetObject slower than the invocation: the invocation still answers in time, the record is nacked', async () => {
      await pointerOnInlineQueue();
      const { proxy, s3 } = await proxiedS3();
      const { handler, seen } = await groupConsumer('inline', s3);
      const { queue, dlq } = provisionedGroup(stack, 'inline');
      const records = await receiveExactly(queue, 1);
      proxy.setRules([{ operation: 'GetObject', fault: 'slow', delayMs: 3000 }]);
      const budgetMs = 1500;
      const started = Date.now();
      const response = await handler({ Records: records }, lambdaContext(budgetMs));
      expect(Date.now() - started).toBeLessThan(budgetMs);
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: records[0].messageId }]);
      expect(proxy.faulted.get('GetObject')).toBeGreaterThan(0);
      expect(seen).toEqual([]);
      expect(await receiveRecords(dlq, 10, 0)).toEqual([]);
      proxy.setRules([]);
      await deleteAcked(queue, records, await handler({ Records: records }, lambdaContext(10_000)));
      expect(seen).toEqual([{ ok: true }]);
    });

    it('a pointer to a bucket that does not exist is nacked (retried), not dead-lettered: only a missing key is final', async () => {
      const { queue, dlq } = provisionedGroup(stack, 'inline');
      await sendRaw(
        queue,
        JSON.stringify([POINTER_CLASS, { s3BucketName: `no-such-${randomUUID()}`, s3Key: 'k' }]),
        {
          MessageAttributes: { ExtendedPayloadSize: { DataType: 'Number', StringValue: '11' } },
        },
      );
      const { handler, seen } = await groupConsumer('inline');
      const records = await receiveExactly(queue, 1);
      const response = await handler({ Records: records }, lambdaContext(10_000));
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: records[0].messageId }]);
      expect(seen).toEqual([]);
      expect(await receiveRecords(dlq, 10, 0)).toEqual([]);
      await deleteAcked(queue, records, { batchItemFailures: [] });
    });

    it('a slow GetObject holds only its own record: the inline records of the batch run at once (found by an adversarial review)', async () => {
      await pointerOnInlineQueue();
      const { queue } = provisionedGroup(stack, 'inline');
      for (const n of [1, 2, 3]) {
        await sendRaw(queue, JSON.stringify(envelope('Inline', { n })), {
          MessageAttributes: { type: { DataType: 'String', StringValue: 'Inline' } },
        });
      }
      const { proxy, s3 } = await proxiedS3();
      const { handler, seen } = await groupConsumer('inline', s3);
      const records = await receiveExactly(queue, 4);
      const pointer = records.find((r) => r.messageAttributes.ExtendedPayloadSize);
      proxy.setRules([{ operation: 'GetObject', fault: 'slow', delayMs: 8000 }]);
      const budgetMs = 3000;
      const started = Date.now();
      const response = await handler({ Records: records }, lambdaContext(budgetMs));
      expect(Date.now() - started).toBeLessThan(budgetMs);
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: pointer?.messageId }]);
      expect(seen).toEqual(expect.arrayContaining([{ n: 1 }, { n: 2 }, { n: 3 }]));
      expect(seen).toHaveLength(3);
      proxy.setRules([]);
      const retry = records.filter((r) => r === pointer);
      await deleteAcked(queue, records, response);
      await deleteAcked(queue, retry, await handler({ Records: retry }, lambdaContext(10_000)));
      expect(seen).toContainEqual({ ok: true });
    });
  });

  it('fanout publish @file offloads a 1 MiB body on a topic with largePayloads; the consumer gets it whole', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'fanout-large-')), 'big.json');
    const data = { text: 'w'.repeat(1024 * 1024) };
    writeFileSync(file, JSON.stringify(data));
    const target = await resolveTarget(topology, { endpoint: process.env.AWS_ENDPOINT_URL_SQS });
    const results = await publishFromCli(target, {
      topic: 'big',
      payload: `@${file}`,
      type: 'ReportReady',
      attributes: [],
      count: 1,
    });
    expect(results.map((r) => r.ok)).toEqual([true]);
    await drain('search');
    const { handler, seen } = await groupConsumer('archive');
    const { records, response } = await deliver('archive', handler);
    expect(EXTENDED_PAYLOAD_SIZE_ATTRIBUTE in records[0].messageAttributes).toBe(true);
    expect(response.batchItemFailures).toEqual([]);
    expect(seen).toEqual([data]);
  });

  it('provisioning creates the payload bucket idempotently, named after the resource prefix', async () => {
    expect(bucket).toBe(`${process.env.FANOUT_RESOURCE_PREFIX}fanout-payloads`.toLowerCase());
    await expect(ensureBucket(await createS3Client(), bucket)).resolves.toBe(bucket);
    const again = await provisionTopology(topology);
    expect(again.payloadBucket).toBe(bucket);
    const none = await provisionTopology(
      defineTopology({
        topics: { only: {} },
        groups: { g: { subscribe: ['only'], handler: 'functions/g.ts' } },
      }),
    );
    expect(none.payloadBucket).toBeUndefined();
  });
});
