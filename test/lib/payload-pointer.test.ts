import type { S3Client } from '@aws-sdk/client-s3';
import type { PublishBatchCommand, SNSClient } from '@aws-sdk/client-sns';
import { describe, expect, it } from 'vitest';
import { deadLetterCopy, originalMessage } from '../../lib/dead-letter-format.ts';
import {
  ConfigError,
  EXTENDED_PAYLOAD_SIZE_ATTRIBUTE,
  findPointer,
  MessageTooLargeError,
  PAYLOAD_BUCKET_VARIABLE,
  POINTER_CLASS,
  PoisonMessageError,
  Publisher,
  PublishFailedError,
  PublishValidationError,
  parsePointerBody,
  pointerBody,
} from '../../lib/index.ts';

const TOPIC = 'arn:aws:sns:us-east-1:000000000000:reports';
const marker = (size = '10') => ({
  [EXTENDED_PAYLOAD_SIZE_ATTRIBUTE]: {
    dataType: 'Number',
    stringValue: size,
    stringListValues: [],
    binaryListValues: [],
  },
});

describe('pointer format', () => {
  it('writes the byte-exact body of the extended clients and reads it back', () => {
    const body = pointerBody({ bucket: 'payloads', key: 'k-1' });
    expect(body).toBe(
      '["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"payloads","s3Key":"k-1"}]',
    );
    expect(parsePointerBody(body)).toEqual({ bucket: 'payloads', key: 'k-1' });
  });

  it("reads Python's spacing (json.dumps) and a shaded class name", () => {
    expect(
      parsePointerBody(
        '["software.amazon.payloadoffloading.PayloadS3Pointer", {"s3BucketName": "b", "s3Key": "k"}]',
      ),
    ).toEqual({ bucket: 'b', key: 'k' });
    const shaded = JSON.stringify([`awsv2.repackaged.${POINTER_CLASS}`, { s3BucketName: 'b', s3Key: 'k' }]);
    expect(parsePointerBody(shaded)).toEqual({ bucket: 'b', key: 'k' });
  });

  it('reads the legacy class name; refuses other shapes', () => {
    const legacy = JSON.stringify([
      'com.amazon.sqs.javamessaging.MessageS3Pointer',
      { s3BucketName: 'b', s3Key: 'k' },
    ]);
    expect(parsePointerBody(legacy)).toEqual({ bucket: 'b', key: 'k' });
    for (const body of [
      'not json',
      '{"s3BucketName":"b","s3Key":"k"}',
      JSON.stringify(['other.Class', { s3BucketName: 'b', s3Key: 'k' }]),
      JSON.stringify([POINTER_CLASS, { s3BucketName: 'b' }]),
      JSON.stringify([POINTER_CLASS, { s3BucketName: '', s3Key: 'k' }]),
    ])
      expect(parsePointerBody(body), body).toBeUndefined();
  });

  it('finds a pointer by its marker attribute, raw or inside an SNS notification; no marker, no pointer', () => {
    const body = pointerBody({ bucket: 'b', key: 'k' });
    expect(findPointer({ body, messageAttributes: marker() })?.pointer).toEqual({ bucket: 'b', key: 'k' });
    expect(findPointer({ body, messageAttributes: {} })).toBeUndefined();

    const notification = JSON.stringify({
      Type: 'Notification',
      TopicArn: TOPIC,
      Message: body,
      MessageAttributes: { ExtendedPayloadSize: { Type: 'Number', Value: '10' } },
    });
    const found = findPointer({ body: notification, messageAttributes: {} });
    expect(found?.pointer).toEqual({ bucket: 'b', key: 'k' });
    expect(JSON.parse(found?.withPayload('{"a":1}') ?? '{}').Message).toBe('{"a":1}');
  });

  it('a marker on a body that is no pointer is poison (unparseable-body)', () => {
    let thrown: unknown;
    try {
      findPointer({ body: '{"a":1}', messageAttributes: marker() });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(PoisonMessageError);
    expect((thrown as PoisonMessageError).reason).toBe('unparseable-body');
  });

  it('a dead-letter copy keeps the pointer body and the marker attribute, and the original comes back with both', () => {
    const body = pointerBody({ bucket: 'b', key: 'k' });
    const copy = deadLetterCopy({
      body,
      messageAttributes: marker('5242880'),
      messageId: 'm-1',
      reason: 'payload-missing',
      detail: 's3://b/k does not exist',
      group: 'archive',
    });
    expect(copy.MessageBody).toBe(body);
    const back = originalMessage({ Body: copy.MessageBody, MessageAttributes: copy.MessageAttributes });
    expect(back.MessageBody).toBe(body);
    expect(back.MessageAttributes[EXTENDED_PAYLOAD_SIZE_ATTRIBUTE]).toEqual({
      DataType: 'Number',
      StringValue: '5242880',
    });
  });
});

/** Stand-in clients for the publisher's offload logic: S3 fails the keys in `failing`, SNS accepts all. */
function standIns(failPuts = 0) {
  const sent: { Message?: string; MessageAttributes?: Record<string, unknown> }[] = [];
  let puts = 0;
  const s3 = {
    send: async () => {
      if (++puts <= failPuts) throw Object.assign(new Error('slow down'), { name: 'SlowDown' });
      return {};
    },
  } as unknown as S3Client;
  const sns = {
    send: async (command: PublishBatchCommand) => {
      const entries = command.input.PublishBatchRequestEntries ?? [];
      sent.push(...entries);
      return { Successful: entries.map((e) => ({ Id: e.Id, MessageId: `sns-${e.Id}` })), Failed: [] };
    },
  } as unknown as SNSClient;
  return { s3, sns, sent, puts: () => puts };
}

describe('Publisher large payloads', () => {
  it('needs a bucket: the option, else FANOUT_PAYLOAD_BUCKET', () => {
    const saved = process.env[PAYLOAD_BUCKET_VARIABLE];
    delete process.env[PAYLOAD_BUCKET_VARIABLE];
    try {
      expect(() => new Publisher({ topicArn: TOPIC, largePayloads: {} })).toThrow(ConfigError);
      expect(() => new Publisher({ topicArn: TOPIC, largePayloads: {} })).toThrow(
        /^largePayloads\.bucket: .*FANOUT_PAYLOAD_BUCKET/,
      );
      process.env[PAYLOAD_BUCKET_VARIABLE] = 'from-env';
      expect(new Publisher({ topicArn: TOPIC, largePayloads: {} }).offloader?.bucket).toBe('from-env');
    } finally {
      if (saved === undefined) delete process.env[PAYLOAD_BUCKET_VARIABLE];
      else process.env[PAYLOAD_BUCKET_VARIABLE] = saved;
    }
  });

  it('refuses the reserved marker attributes, and an offloaded message with no attribute slot left', async () => {
    const { s3, sns } = standIns();
    const publisher = new Publisher({
      topicArn: TOPIC,
      client: sns,
      largePayloads: { bucket: 'b', client: s3 },
    });
    await expect(
      publisher.publish({ type: 'T', data: 1, attributes: { ExtendedPayloadSize: 1 } }),
    ).rejects.toThrow(/attribute 'ExtendedPayloadSize' is reserved/);
    // 8 of the user's + 'type' + 'traceparent' fill the 10 slots; the pointer's attribute needs an 11th,
    // so the message is refused whatever its size: valid when small must stay valid when it grows.
    const eight = Object.fromEntries(Array.from({ length: 8 }, (_, n) => [`a${n}`, 'v']));
    for (const data of ['small', 'z'.repeat(300_000)]) {
      const error = await publisher.publish({ type: 'T', data, attributes: eight }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PublishValidationError);
      expect((error as Error).message).toMatch(/has 11 message attributes .* keeps one for the S3 pointer/);
    }
    const seven = Object.fromEntries(Array.from({ length: 7 }, (_, n) => [`a${n}`, 'v']));
    await expect(
      publisher.publish({ type: 'T', data: 'z'.repeat(300_000), attributes: seven }),
    ).resolves.toBeDefined();
  });

  it('refuses a keyPrefix the extended clients would not write (found by an adversarial review)', () => {
    for (const keyPrefix of ['/abs', '.hidden', 'a/../b', 'sp ace', 'x'.repeat(989)]) {
      expect(() => new Publisher({ topicArn: TOPIC, largePayloads: { bucket: 'b', keyPrefix } })).toThrow(
        /^largePayloads\.keyPrefix: must be at most 988/,
      );
    }
    expect(
      new Publisher({ topicArn: TOPIC, largePayloads: { bucket: 'b', keyPrefix: 'payloads/2026/' } })
        .offloader?.keyPrefix,
    ).toBe('payloads/2026/');
  });

  it('a failed PutObject fails only that message (PublishFailedError); the others are published', async () => {
    const { s3, sns, sent } = standIns(1);
    const publisher = new Publisher({
      topicArn: TOPIC,
      client: sns,
      largePayloads: { bucket: 'b', client: s3 },
    });
    const results = await publisher.publishBatch([
      { type: 'Big', data: 'z'.repeat(300_000), id: 'big' },
      { type: 'Small', data: 1, id: 'small' },
    ]);
    expect(results[0].ok).toBe(false);
    expect(!results[0].ok && results[0].error).toBeInstanceOf(PublishFailedError);
    expect(!results[0].ok && results[0].error.message).toMatch(/s3:\/\/b\/.*SlowDown/);
    expect(results[1].ok).toBe(true);
    expect(sent.map((e) => JSON.parse(e.Message ?? '{}').id)).toEqual(['small']);
  });

  it("mode 'always' offloads a small message too; without largePayloads a large one names the fix", async () => {
    const { s3, sns, sent, puts } = standIns();
    const publisher = new Publisher({
      topicArn: TOPIC,
      client: sns,
      largePayloads: { bucket: 'b', client: s3, mode: 'always' },
    });
    await publisher.publish({ type: 'T', data: 1 });
    expect(puts()).toBe(1);
    expect(JSON.parse(sent[0].Message ?? '[]')[0]).toBe(POINTER_CLASS);
    const error = await new Publisher({ topicArn: TOPIC, client: sns })
      .publish({ type: 'T', data: 'z'.repeat(300_000) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MessageTooLargeError);
    expect((error as Error).message).toMatch(/largePayloads/);
  });
});
