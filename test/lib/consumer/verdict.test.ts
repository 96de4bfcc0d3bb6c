import { describe, expect, it } from 'vitest';
import type { BatchItem } from '../../../lib/consumer/batch-item.ts';
import type { RecordOutcome } from '../../../lib/consumer/record-outcome.ts';
import { settleBatch } from '../../../lib/consumer/settle-stage.ts';
import { isAcked, verdictOf } from '../../../lib/consumer/verdict.ts';
import { sqsRecord } from '../../helpers/sqs-events.ts';

const backoff = { baseSeconds: 2, maxSeconds: 900 };
const now = 1_000_000;
const context = { receiveCount: 1, backoff, now, random: () => 0 }; // backoff at receive 1: 1 s

describe('verdict: the one place a record becomes acked or nacked', () => {
  it.each<[string, RecordOutcome, ReturnType<typeof verdictOf>]>([
    [
      'processed, completion stored',
      { kind: 'processed', durationMs: 1, completion: 'stored' },
      { ack: true },
    ],
    // Acked even when its COMPLETED key could not be stored: a nack would re-run it for certain.
    [
      'processed, completion not stored',
      { kind: 'processed', durationMs: 1, completion: 'not-stored' },
      { ack: true },
    ],
    ['duplicate', { kind: 'duplicate' }, { ack: true }],
    ['dead-lettered', { kind: 'dead-lettered', reason: 'r', detail: 'd' }, { ack: true }],
    ['claim failed', { kind: 'claim-failed', error: new Error('x') }, { ack: false, visibilitySeconds: 1 }],
    [
      'failed, claim released',
      { kind: 'failed', error: new Error('x'), durationMs: 1, release: 'stored' },
      { ack: false, visibilitySeconds: 1 },
    ],
    [
      'failed, release not stored: waits for its own lease',
      {
        kind: 'failed',
        error: new Error('x'),
        durationMs: 1,
        release: 'not-stored',
        leaseExpiresAt: now + 30_500,
      },
      { ack: false, visibilitySeconds: 31 },
    ],
    [
      'in progress elsewhere: waits for that lease',
      { kind: 'in-progress', leaseExpiresAt: now + 14_200 },
      { ack: false, visibilitySeconds: 15 },
    ],
    [
      'in progress, lease already over: backoff',
      { kind: 'in-progress', leaseExpiresAt: now - 5 },
      { ack: false, visibilitySeconds: 1 },
    ],
    [
      'dead-letter failed',
      { kind: 'dead-letter-failed', reason: 'r', detail: 'd' },
      { ack: false, visibilitySeconds: 1 },
    ],
    ['leader not done', { kind: 'leader-not-done' }, { ack: false, visibilitySeconds: 1 }],
    [
      'not started: deadline',
      { kind: 'not-started', because: 'deadline' },
      { ack: false, visibilitySeconds: 0 },
    ],
    ['abandoned: the queue visibility', { kind: 'abandoned' }, { ack: false }],
  ])('%s', (_name, outcome, fate) => {
    expect(verdictOf(outcome, context)).toEqual(fate);
    expect(isAcked(outcome)).toBe(fate.ack);
  });

  it('caps a lease wait at SQS maximum visibility timeout', () => {
    const fate = verdictOf({ kind: 'in-progress', leaseExpiresAt: now + 86_400_000 }, context);
    expect(fate).toEqual({ ack: false, visibilitySeconds: 43_200 });
  });

  it('leaves the visibility to the queue when backoff is off', () => {
    const off = { ...context, backoff: undefined };
    expect(verdictOf({ kind: 'claim-failed', error: 1 }, off)).toEqual({
      ack: false,
      visibilitySeconds: undefined,
    });
    expect(verdictOf({ kind: 'in-progress', leaseExpiresAt: now + 9000 }, off)).toEqual({
      ack: false,
      visibilitySeconds: undefined,
    });
  });
});

describe('settle: outcomes in, response and visibility changes out (pure)', () => {
  const item = (groupId?: string, receiveCount = 1): BatchItem => ({
    kind: 'poison',
    reason: 'r',
    detail: 'd',
    record: sqsRecord('x', { groupId, receiveCount }),
    receiveCount,
    lane: groupId,
  });

  it('nacks in batch order, gives a FIFO group the visibility of the record that broke it, and counts', () => {
    const [a1, a2, a3, b1] = [item('a'), item('a'), item('a'), item('b')];
    const outcomes = new Map<BatchItem, RecordOutcome>([
      [a1, { kind: 'processed', durationMs: 5, completion: 'stored' }],
      [a2, { kind: 'failed', error: new Error('x'), durationMs: 7, release: 'stored' }],
      [a3, { kind: 'not-started', because: 'order' }],
      [b1, { kind: 'dead-lettered', reason: 'r', detail: 'd' }],
    ]);
    const settled = settleBatch([a1, a2, a3, b1], outcomes, { backoff, now, random: () => 0 });
    expect(settled.nacked).toEqual([a2.record.messageId, a3.record.messageId]);
    expect(settled.visibilityChanges).toEqual([
      { receiptHandle: a2.record.receiptHandle, seconds: 1 },
      { receiptHandle: a3.record.receiptHandle, seconds: 1 },
    ]);
    expect(settled.counts).toEqual({
      processed: 1,
      failed: 1,
      duplicate: 0,
      poison: 1,
      deferred: 1,
      abandoned: 0,
    });
    expect(settled.handlerDurationsMs).toEqual([5, 7]);
  });

  it('treats a record with no outcome as never started (the deadline came first): nacked, visible at once', () => {
    const lone = item();
    const settled = settleBatch([lone], new Map(), { backoff, now });
    expect(settled.nacked).toEqual([lone.record.messageId]);
    expect(settled.visibilityChanges).toEqual([{ receiptHandle: lone.record.receiptHandle, seconds: 0 }]);
  });

  it('leaves an abandoned record to the queue visibility timeout (no change)', () => {
    const running = item();
    const settled = settleBatch([running], new Map([[running, { kind: 'abandoned' } as RecordOutcome]]), {
      backoff,
      now,
    });
    expect(settled.nacked).toEqual([running.record.messageId]);
    expect(settled.visibilityChanges).toEqual([]);
  });
});
