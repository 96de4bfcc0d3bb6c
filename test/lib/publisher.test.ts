import type { PublishBatchCommand, SNSClient } from '@aws-sdk/client-sns';
import { describe, expect, it } from 'vitest';
import { ConfigError, Publisher, PublishFailedError, PublishValidationError } from '../../lib/index.ts';
import { chunkEntries } from '../../lib/publisher.ts';

const TOPIC = 'arn:aws:sns:us-east-1:000000000000:orders';
const FIFO_TOPIC = 'arn:aws:sns:us-east-1:000000000000:ledger.fifo';

/** A stand-in SNS client for the retry logic: answers each PublishBatch from a script. */
function scriptedSns(script: (ids: string[], call: number) => { failed: string[]; senderFault?: boolean }) {
  const calls: string[][] = [];
  const client = {
    send: async (command: PublishBatchCommand) => {
      const ids = (command.input.PublishBatchRequestEntries ?? []).map((e) => e.Id ?? '');
      calls.push(ids);
      const { failed, senderFault = false } = script(ids, calls.length);
      return {
        Successful: ids
          .filter((id) => !failed.includes(id))
          .map((id) => ({ Id: id, MessageId: `sns-${id}` })),
        Failed: failed.map((id) => ({
          Id: id,
          Code: 'InternalError',
          Message: 'try again',
          SenderFault: senderFault,
        })),
      };
    },
  } as unknown as SNSClient;
  return { client, calls };
}

describe('chunkEntries', () => {
  it('splits at 10 entries and at the byte limit, keeping order', () => {
    const entries = Array.from({ length: 23 }, (_, n) => ({ n, bytes: 100 }));
    expect(chunkEntries(entries, 10_000).map((c) => c.length)).toEqual([10, 10, 3]);
    expect(chunkEntries(entries, 250).map((c) => c.length)).toEqual(
      Array(12).fill(2).slice(0, 11).concat([1]),
    );
    expect(chunkEntries(entries, 250).flat()).toEqual(entries);
  });
});

describe('Publisher retries', () => {
  it('retries only the entries SNS reported failed, until they succeed', async () => {
    const { client, calls } = scriptedSns((ids, call) => ({ failed: call === 1 ? ids.slice(0, 2) : [] }));
    const publisher = new Publisher({ topicArn: TOPIC, client, retryBaseDelayMs: 1 });
    const results = await publisher.publishBatch(
      Array.from({ length: 5 }, (_, n) => ({ type: 'T', data: n })),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    expect(calls).toEqual([
      ['0', '1', '2', '3', '4'],
      ['0', '1'],
    ]);
  });

  it('gives up after maxAttempts with a PublishFailedError per entry', async () => {
    const { client, calls } = scriptedSns((ids) => ({ failed: ids }));
    const publisher = new Publisher({ topicArn: TOPIC, client, retryBaseDelayMs: 1, maxAttempts: 3 });
    const [result] = await publisher.publishBatch([{ type: 'T', data: 1, id: 'e-1' }]);
    expect(calls).toHaveLength(3);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toBeInstanceOf(PublishFailedError);
    expect(!result.ok && result.error.message).toMatch(/'e-1' was not published: InternalError/);
  });

  it('does not retry entries SNS blames on the sender', async () => {
    const { client, calls } = scriptedSns((ids) => ({ failed: ids, senderFault: true }));
    const publisher = new Publisher({ topicArn: TOPIC, client, retryBaseDelayMs: 1 });
    const error = await publisher.publish({ type: 'T', data: 1 }).catch((e) => e);
    expect(calls).toHaveLength(1);
    expect(error.senderFault).toBe(true);
  });
});

describe('Publisher validation (nothing is sent)', () => {
  const { client, calls } = scriptedSns(() => ({ failed: [] }));
  const standard = new Publisher({ topicArn: TOPIC, client });
  const fifo = new Publisher({ topicArn: FIFO_TOPIC, client });

  it.each([
    ['an empty type', standard, { type: '', data: 1 }, 'type', /'type' must be a non-empty string/],
    [
      'a FIFO message without groupId',
      fifo,
      { type: 'T', data: 1 },
      'groupId',
      /is FIFO, so 'groupId' is required/,
    ],
    [
      'an invalid FIFO groupId',
      fifo,
      { type: 'T', data: 1, groupId: 'has space' },
      'groupId',
      /1 to 128 characters/,
    ],
    [
      'a too long deduplicationId',
      fifo,
      { type: 'T', data: 1, groupId: 'g', deduplicationId: 'd'.repeat(129) },
      'deduplicationId',
      /invalid/,
    ],
    [
      'a groupId on a standard topic',
      standard,
      { type: 'T', data: 1, groupId: 'g' },
      'groupId',
      /FIFO topics only/,
    ],
    [
      'more attributes than raw delivery allows',
      standard,
      {
        type: 'T',
        data: 1,
        attributes: Object.fromEntries(Array.from({ length: 9 }, (_, n) => [`a${n}`, 'v'])),
      },
      'attributes',
      /11 message attributes \(9 of yours plus fanout's 'type' and 'traceparent'\).* at most 10 .*Pass at most 8/,
    ],
    [
      'the reserved type attribute',
      standard,
      { type: 'T', data: 1, attributes: { type: 'x' } },
      'attributes',
      /reserved/,
    ],
    [
      'the reserved traceparent attribute',
      standard,
      { type: 'T', data: 1, attributes: { traceparent: 'x' } },
      'attributes',
      /attribute 'traceparent' is reserved; fanout sets it \(the trace context\)/,
    ],
    [
      'an invalid attribute name',
      standard,
      { type: 'T', data: 1, attributes: { 'AWS.x': 'v' } },
      'attributes',
      /invalid/,
    ],
    ['data that is not JSON', standard, { type: 'T', data: undefined }, 'data', /not JSON-serialisable/],
  ])('rejects %s, naming the field', async (_name, publisher, input, field, message) => {
    const before = calls.length;
    const error = await publisher.publish(input as never).catch((e) => e);
    expect(error).toBeInstanceOf(PublishValidationError);
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
    expect(calls.length).toBe(before);
  });

  it('rejects a topic that is not an ARN with a ConfigError naming topicArn', () => {
    expect(() => new Publisher({ topicArn: 'orders' })).toThrow(ConfigError);
    expect(() => new Publisher({ topicArn: 'orders' })).toThrow(/^topicArn: must be an SNS topic ARN/);
  });
});

describe('Publisher concurrency', () => {
  async function peakInFlight(topicArn: string) {
    let inFlight = 0;
    let peak = 0;
    const client = {
      send: async (command: PublishBatchCommand) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight--;
        const ids = (command.input.PublishBatchRequestEntries ?? []).map((e) => e.Id ?? '');
        return { Successful: ids.map((id) => ({ Id: id, MessageId: id })), Failed: [] };
      },
    } as unknown as SNSClient;
    const publisher = new Publisher({ topicArn, client });
    const inputs = Array.from({ length: 100 }, (_, n) => ({
      type: 'T',
      data: n,
      groupId: topicArn.endsWith('.fifo') ? 'g' : undefined,
    }));
    const results = await publisher.publishBatch(inputs);
    expect(results.every((r) => r.ok)).toBe(true);
    return peak;
  }

  it('sends up to 4 PublishBatch calls at once on a standard topic', async () => {
    expect(await peakInFlight(TOPIC)).toBe(4);
  });

  it('sends one at a time on a FIFO topic, so a message group stays in order', async () => {
    expect(await peakInFlight(FIFO_TOPIC)).toBe(1);
  });
});
