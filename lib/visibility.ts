import { ChangeMessageVisibilityBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { SQS_MAX_BATCH_ENTRIES } from './aws-limits.ts';

/** A nacked record and when it should be visible again. */
export interface VisibilityChange {
  readonly receiptHandle: string;
  /** Seconds from now until the record is visible again (0 = at once). */
  readonly seconds: number;
}

/**
 * Sets the visibility timeout of nacked records in ChangeMessageVisibilityBatch calls of 10.
 * Best effort: a record whose change fails keeps the queue's visibility timeout, which only delays
 * its retry. `signal` aborts the calls (the consumer's time budget). Resolves with the number of changes SQS accepted.
 */
export async function changeVisibility(
  sqs: SQSClient,
  queueUrl: string,
  changes: readonly VisibilityChange[],
  signal?: AbortSignal,
): Promise<number> {
  const chunks: VisibilityChange[][] = [];
  for (let i = 0; i < changes.length; i += SQS_MAX_BATCH_ENTRIES) {
    chunks.push(changes.slice(i, i + SQS_MAX_BATCH_ENTRIES));
  }
  const accepted = await Promise.all(chunks.map((chunk) => changeChunk(sqs, queueUrl, chunk, signal)));
  return accepted.reduce((a, b) => a + b, 0);
}

async function changeChunk(
  sqs: SQSClient,
  queueUrl: string,
  chunk: readonly VisibilityChange[],
  signal: AbortSignal | undefined,
): Promise<number> {
  if (signal?.aborted) return 0; // the time for it is over: the queue's visibility timeout applies
  try {
    const result = await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((c, n) => ({
          Id: String(n),
          ReceiptHandle: c.receiptHandle,
          VisibilityTimeout: c.seconds,
        })),
      }),
      { abortSignal: signal },
    );
    return result.Successful?.length ?? 0;
  } catch {
    return 0; // best effort, see above
  }
}
