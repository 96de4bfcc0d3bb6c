/**
 * In-batch duplicates when claims answer without I/O, as an in-memory `IdempotencyStore` in a user's
 * unit tests does: lanes that start apart must not change which record is the leader's follower.
 * (Against the emulator with the real SDK: consumer-seams.cloud.test.ts.) The store here is a fake of
 * the store's contract, not of AWS: this tests the pipeline's ordering logic only.
 */
import { describe, expect, it } from 'vitest';
import { type ClaimResult, consumer, IdempotencyStore } from '../../../lib/index.ts';
import { envelope, lambdaContext, sqsEvent, sqsRecord } from '../../helpers/sqs-events.ts';

/** Claims every key at once, in memory, with no I/O. */
class InstantStore extends IdempotencyStore {
  override async claim(_key: string, _hash: string, leaseMs: number): Promise<ClaimResult> {
    return { status: 'claimed', leaseExpiresAt: Date.now() + leaseMs };
  }
  override async writeKeys(): Promise<Set<string>> {
    return new Set();
  }
}

describe('an in-batch duplicate in another message group, with claims that need no I/O', () => {
  // Lanes: g1 = [A, C], g2 = [B]; C has B's event id, so C follows B.
  const first = envelope('LedgerEntry', { n: 0 });
  const second = envelope('LedgerEntry', { n: 1 });
  const batch = () =>
    sqsEvent([
      sqsRecord(first, { messageId: 'A', groupId: 'g1' }),
      sqsRecord(second, { messageId: 'B', groupId: 'g2' }),
      sqsRecord(second, { messageId: 'C', groupId: 'g1' }),
    ]);
  const handled: string[] = [];
  const handler = consumer({
    group: 'ledger',
    idempotency: { store: new InstantStore({ tableName: 'unused' }) },
    handle: (data) => {
      handled.push(String((data as { n: number }).n));
    },
    metrics: false,
  });

  it('is acked as a duplicate of its leader when the invocation is alone in the process', async () => {
    handled.length = 0;
    expect(await handler(batch(), lambdaContext(10_000))).toEqual({ batchItemFailures: [] });
    expect(handled.sort()).toEqual(['0', '1']);
  });

  it('is acked the same way when two invocations run at once', async () => {
    handled.length = 0;
    const answers = await Promise.all([
      handler(batch(), lambdaContext(10_000)),
      handler(batch(), lambdaContext(10_000)),
    ]);
    expect(answers).toEqual([{ batchItemFailures: [] }, { batchItemFailures: [] }]);
    expect(handled.sort()).toEqual(['0', '0', '1', '1']);
  });
});
