import { ChangeMessageVisibilityBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** A nacked record and when it should be visible again. */
export interface VisibilityChange {
  readonly receiptHandle: string;
  /** Seconds from now until the record is visible again (0 = at once). */
  readonly seconds: number;
}

/**
 * Sets the visibility timeout of nacked records in ChangeMessageVisibilityBatch calls of 10.
 * Best effort: a record whose change fails keeps the queue's visibility timeout, which only delays
 * its retry. Resolves with the number of changes SQS accepted.
 */
export async function changeVisibility(
  sqs: SQSClient,
  queueUrl: string,
  changes: readonly VisibilityChange[],
): Promise<number> {
  let accepted = 0;
  for (let i = 0; i < changes.length; i += 10) {
    const chunk = changes.slice(i, i + 10);
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
      );
      accepted += result.Successful?.length ?? 0;
    } catch {
      // best effort, see above
    }
  }
  return accepted;
}
