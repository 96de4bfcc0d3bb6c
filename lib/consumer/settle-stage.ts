import type { BackoffOptions } from '../backoff.ts';
import type { BatchCounts } from '../telemetry.ts';
import type { VisibilityChange } from '../visibility.ts';
import type { BatchItem } from './batch-item.ts';
import type { RecordOutcome } from './record-outcome.ts';
import { type Fate, verdictOf } from './verdict.ts';

/** One record's outcome and the fate the verdict gave it. */
export interface SettledRecord {
  readonly item: BatchItem;
  readonly outcome: RecordOutcome;
  readonly fate: Fate;
}

/** What the consumer answers and changes once the batch has run. */
export interface BatchSettlement {
  readonly records: readonly SettledRecord[];
  /** Message ids to put in `batchItemFailures`, in batch order. */
  readonly nacked: readonly string[];
  /** Visibility timeouts to set on nacked records. */
  readonly visibilityChanges: readonly VisibilityChange[];
  readonly counts: BatchCounts;
  readonly handlerDurationsMs: readonly number[];
}

/**
 * Stage 4, settle: a pure function of the outcomes. Every record gets its fate from the verdict
 * (an item with no outcome never started: the deadline came first); a FIFO record not started because
 * an earlier record of its group was nacked gets that record's visibility, so the group comes back
 * together and in order.
 */
export function settleBatch(
  items: readonly BatchItem[],
  outcomes: ReadonlyMap<BatchItem, RecordOutcome>,
  options: { backoff: Required<BackoffOptions> | undefined; now: number; random?: () => number },
): BatchSettlement {
  const laneVisibility = new Map<string, number | undefined>();
  const counts: BatchCounts = { processed: 0, failed: 0, duplicate: 0, poison: 0, deferred: 0, abandoned: 0 };
  const records: SettledRecord[] = [];
  const handlerDurationsMs: number[] = [];
  for (const item of items) {
    const outcome = outcomes.get(item) ?? { kind: 'not-started', because: 'deadline' };
    const fate = verdictOf(outcome, {
      receiveCount: item.receiveCount,
      backoff: options.backoff,
      now: options.now,
      random: options.random,
      laneVisibilitySeconds: item.lane === undefined ? undefined : laneVisibility.get(item.lane),
    });
    if (!fate.ack && item.lane !== undefined && !laneVisibility.has(item.lane)) {
      laneVisibility.set(item.lane, fate.visibilitySeconds);
    }
    counts[countOf(outcome)]++;
    if (outcome.kind === 'processed' || outcome.kind === 'failed')
      handlerDurationsMs.push(outcome.durationMs);
    records.push({ item, outcome, fate });
  }
  const nackedRecords = records.filter((r) => !r.fate.ack);
  return {
    records,
    nacked: nackedRecords.map((r) => r.item.record.messageId),
    visibilityChanges: nackedRecords.flatMap(({ item, fate }) =>
      !fate.ack && fate.visibilitySeconds !== undefined
        ? [{ receiptHandle: item.record.receiptHandle, seconds: fate.visibilitySeconds }]
        : [],
    ),
    counts,
    handlerDurationsMs,
  };
}

/** The counter a record's outcome adds to. */
function countOf(outcome: RecordOutcome): keyof BatchCounts {
  switch (outcome.kind) {
    case 'processed':
      return 'processed';
    case 'duplicate':
      return 'duplicate';
    case 'dead-lettered':
      return 'poison';
    case 'failed':
    case 'claim-failed':
    case 'dead-letter-failed':
      return 'failed';
    case 'abandoned':
      return 'abandoned';
    default:
      return 'deferred';
  }
}
