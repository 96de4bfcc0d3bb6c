/**
 * In-batch duplicates when claims answer without I/O, as an in-memory `IdempotencyStore` in a user's
 * unit tests does: lanes that start apart must not change which record is the leader's follower.
 * (Against the emulator with the real SDK: consumer-seams.cloud.test.ts.) The store here is a fake of
 * the store's contract, not of AWS: this tests the pipeline's ordering logic only.
 */
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { type ClaimResult, consumer, createEnvelope, IdempotencyStore } from '../../../lib/index.ts';

/** Claims every key at once, in memory, with no I/O. */
class InstantStore extends IdempotencyStore {
  override async claim(_key: string, _hash: string, leaseMs: number): Promise<ClaimResult> {
    return { status: 'claimed', leaseExpiresAt: Date.now() + leaseMs };
  }
  override async writeKeys(): Promise<Set<string>> {
    return new Set();
  }
}

const QUEUE_ARN = 'arn:aws:sqs:us-east-1:000000000000:ledger.fifo';
const record = (messageId: string, group: string, body: object): SQSRecord => ({
  messageId,
  receiptHandle: `handle-${messageId}`,
  body: JSON.stringify(body),
  attributes: {
    ApproximateReceiveCount: '1',
    MessageGroupId: group,
    SentTimestamp: '0',
    SenderId: 'test',
    ApproximateFirstReceiveTimestamp: '0',
  },
  messageAttributes: {},
  md5OfBody: '',
  eventSource: 'aws:sqs',
  eventSourceARN: QUEUE_ARN,
  awsRegion: 'us-east-1',
});

describe('an in-batch duplicate in another message group, with claims that need no I/O', () => {
  // Lanes: g1 = [A, C], g2 = [B]; C has B's event id, so C follows B.
  const first = createEnvelope({ type: 'LedgerEntry', data: { n: 0 } }, { source: 'test' });
  const second = createEnvelope({ type: 'LedgerEntry', data: { n: 1 } }, { source: 'test' });
  const batch = (): SQSEvent => ({
    Records: [record('A', 'g1', first), record('B', 'g2', second), record('C', 'g1', second)],
  });
  const handled: string[] = [];
  const handler = consumer({
    group: 'ledger',
    idempotency: { store: new InstantStore({ tableName: 'unused' }) },
    handle: (data) => {
      handled.push(String((data as { n: number }).n));
    },
    metrics: false,
  });
  const context = { getRemainingTimeInMillis: () => 10_000 };

  it('is acked as a duplicate of its leader when the invocation is alone in the process', async () => {
    handled.length = 0;
    expect(await handler(batch(), context)).toEqual({ batchItemFailures: [] });
    expect(handled.sort()).toEqual(['0', '1']);
  });

  it('is acked the same way when two invocations run at once', async () => {
    handled.length = 0;
    const answers = await Promise.all([handler(batch(), context), handler(batch(), context)]);
    expect(answers).toEqual([{ batchItemFailures: [] }, { batchItemFailures: [] }]);
    expect(handled.sort()).toEqual(['0', '0', '1', '1']);
  });
});
