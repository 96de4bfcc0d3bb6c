import { SNSClient } from '@aws-sdk/client-sns';
import { describe, expect, it } from 'vitest';
import { consumer, MessageTooLargeError, Publisher, PublishValidationError } from '../../lib/index.ts';
import { ensureSubscription, ensureTopic } from '../../localstack/provisioning/resources.ts';
import {
  clients,
  countRequests,
  deleteAcked,
  groupQueue,
  queueDepth,
  receiveExactly,
  uniqueName,
} from '../helpers/cloud.ts';

async function topicWithQueue(fifo = false) {
  const { sns } = clients();
  const topicArn = await ensureTopic(sns, uniqueName('topic', fifo));
  const group = await groupQueue({ fifo });
  await ensureSubscription(sns, topicArn, group.queue.arn);
  return { topicArn, ...group };
}

describe('Publisher on the emulator', () => {
  it('publishes 25 messages in 3 PublishBatch calls and answers one result per message, in order', async () => {
    const { topicArn, queue } = await topicWithQueue();
    const client = new SNSClient({});
    const requests = countRequests(client);
    const publisher = new Publisher({ topicArn, client, source: 'test' });
    const inputs = Array.from({ length: 25 }, (_, n) => ({
      type: 'OrderPlaced',
      data: { n },
      id: `order-${n}`,
    }));

    const results = await publisher.publishBatch(inputs);

    expect(results.map((r) => r.ok && r.id)).toEqual(inputs.map((i) => i.id));
    expect(requests.counts.get('PublishBatchCommand')).toBe(3);
    const delivered = await receiveExactly(queue, 25);
    expect(new Set(delivered.map((r) => JSON.parse(r.body).id))).toEqual(new Set(inputs.map((i) => i.id)));
    expect(delivered.every((r) => r.messageAttributes.type?.stringValue === 'OrderPlaced')).toBe(true);
  });

  it('sends FIFO group and deduplication ids; a republished event is dropped by SNS', async () => {
    const { topicArn, queue } = await topicWithQueue(true);
    const publisher = new Publisher({ topicArn, source: 'test' });
    await publisher.publish({ type: 'Posted', data: { n: 1 }, id: 'e-1', groupId: 'account-1' });
    await publisher.publish({ type: 'Posted', data: { n: 1 }, id: 'e-1', groupId: 'account-1' });
    await publisher.publish({ type: 'Posted', data: { n: 2 }, id: 'e-2', groupId: 'account-1' });
    // A FIFO group hands out its next message only once the one in flight is deleted.
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const [record] = await receiveExactly(queue, 1);
      expect(record.attributes.MessageGroupId).toBe('account-1');
      ids.push(JSON.parse(record.body).id);
      await deleteAcked(queue, [record], { batchItemFailures: [] });
    }
    expect(ids).toEqual(['e-1', 'e-2']);
    expect(await queueDepth(queue)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('rejects a message over the size limit with a typed error naming the size and the limit', async () => {
    const { topicArn } = await topicWithQueue();
    const publisher = new Publisher({ topicArn });
    const big = 'x'.repeat(262_144);
    const error = await publisher.publish({ type: 'Big', data: big, id: 'big-1' }).catch((e) => e);
    expect(error).toBeInstanceOf(MessageTooLargeError);
    expect(error.limit).toBe(262_144);
    expect(error.size).toBeGreaterThan(262_144);
    expect(error.message).toMatch(/message 'big-1' is \d+ bytes .* at most 262144 bytes/);
  });

  it('publishes a message exactly at the size limit', async () => {
    const { topicArn, queue } = await topicWithQueue();
    const publisher = new Publisher({ topicArn });
    const probe = JSON.stringify({ ...(await envelopeOf(publisher)), data: '' });
    // body + attribute 'type' (4) + 'String' (6) + 'Exact' (5)
    // + attribute 'traceparent' (11) + 'String' (6) + its 55-character value
    const room = 262_144 - Buffer.byteLength(probe) - 4 - 6 - 5 - 11 - 6 - 55;
    await publisher.publish({
      type: 'Exact',
      data: 'y'.repeat(room),
      id: 'exact',
      time: FIXED_TIME,
      source: 'test',
    });
    const [record] = await receiveExactly(queue, 1);
    expect(Buffer.byteLength(record.body)).toBe(262_144 - 15 - 72);
  });

  it('carries the correlation id of the message being handled into what the handler publishes', async () => {
    const upstream = await topicWithQueue();
    const downstream = await topicWithQueue();
    const first = new Publisher({ topicArn: upstream.topicArn, source: 'test' });
    const next = new Publisher({ topicArn: downstream.topicArn, source: 'test' });
    const placed = await first.publish({ type: 'OrderPlaced', data: {}, correlationId: 'flow-42' });
    const handler = consumer({
      group: upstream.group,
      idempotency: false,
      handle: async () => {
        await next.publish({ type: 'InvoiceRequested', data: {} });
      },
    });
    await handler({ Records: await receiveExactly(upstream.queue, 1) });
    const [published] = await receiveExactly(downstream.queue, 1);
    const body = JSON.parse(published.body);
    expect(body.correlationid).toBe('flow-42');
    expect(body.causationid).toBe(placed.id);
  });

  it('gives per-entry results: invalid entries fail with the field named, valid ones are published', async () => {
    const { topicArn, queue } = await topicWithQueue();
    const publisher = new Publisher({ topicArn });
    const results = await publisher.publishBatch([
      { type: 'OrderPlaced', data: {}, id: 'ok-1' },
      { type: 'OrderPlaced', data: {}, id: 'bad-1', groupId: 'g' },
      { type: 'OrderPlaced', data: {}, id: 'ok-2' },
    ]);
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    const failure = results[1];
    expect(!failure.ok && failure.error).toBeInstanceOf(PublishValidationError);
    expect(!failure.ok && (failure.error as PublishValidationError).field).toBe('groupId');
    expect(await receiveExactly(queue, 2)).toHaveLength(2);
  });

  it('fails every entry with a clear error when SNS cannot be reached', async () => {
    const publisher = new Publisher({
      topicArn: 'arn:aws:sns:us-east-1:000000000000:orders',
      client: new SNSClient({ endpoint: 'http://127.0.0.1:9', maxAttempts: 1 }),
    });
    const error = await publisher.publish({ type: 'OrderPlaced', data: {}, id: 'lost?' }).catch((e) => e);
    expect(error.code).toBe('FANOUT_PUBLISH_FAILED');
    expect(error.message).toMatch(/message 'lost\?' was not published/);
  });
});

const FIXED_TIME = '2026-01-01T00:00:00.000Z';

async function envelopeOf(publisher: Publisher) {
  const { createEnvelope } = await import('../../lib/index.ts');
  return createEnvelope(
    { type: 'Exact', data: '', id: 'exact', time: FIXED_TIME, source: 'test' },
    { source: publisher.source },
  );
}
