import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { toLambdaRecord } from './lambda-event.ts';

/** A Lambda SQS handler as `functions/<group>.ts` exports it. */
export type SqsLambdaHandler = (
  event: SQSEvent,
  context: { getRemainingTimeInMillis(): number; functionName: string; awsRequestId: string },
) => unknown; // judged by judgeBatchResponse, as Lambda judges whatever a function returns

/** Options of {@link EventSourceRunner}: the group's event source mapping settings. */
export interface EventSourceRunnerOptions {
  readonly group: string;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly region: string;
  readonly handler: SqsLambdaHandler;
  readonly sqs: SQSClient;
  /** Records per invocation (Lambda: up to 10,000). */
  readonly batchSize: number;
  /** Seconds to keep filling a batch (Lambda's MaximumBatchingWindowInSeconds). */
  readonly batchingWindowSeconds: number;
  /** Invocations at once (Lambda's MaximumConcurrency). */
  readonly maxConcurrency: number;
  /** Function timeout: the context's deadline; an invocation running longer fails its whole batch. */
  readonly timeoutSeconds: number;
  /**
   * Long-poll wait of each receive, in seconds.
   * @default 1 (short, so that stop() is quick; Lambda uses 20)
   */
  readonly waitTimeSeconds?: number;
  /**
   * Called after every invocation.
   * @default none
   */
  readonly onInvocation?: (report: InvocationReport) => void;
}

/** What one invocation did, as Lambda's event source mapping would judge it. */
export interface InvocationReport {
  readonly group: string;
  readonly records: number;
  readonly deleted: number;
  readonly retried: number;
  /** Why the whole batch failed (then nothing was deleted), if it did. */
  readonly batchFailure?: string;
}

/**
 * Judges a handler's result the way Lambda's SQS event source mapping does with
 * `ReportBatchItemFailures` (AWS docs, "Implementing partial batch responses"):
 * a null/undefined/empty response or an empty or null `batchItemFailures` is complete success;
 * an `itemIdentifier` that is missing, empty, not a string or not a message id of the batch, or a
 * response that is not an object, fails the whole batch. Returns the ids to retry, or the reason
 * the whole batch failed.
 */
export function judgeBatchResponse(
  response: unknown,
  batch: readonly Pick<SQSRecord, 'messageId'>[],
): { retry: Set<string> } | { batchFailure: string } {
  if (response === undefined || response === null) return { retry: new Set() };
  if (typeof response !== 'object' || Array.isArray(response)) {
    return {
      batchFailure: `the handler returned ${JSON.stringify(response)}, not an SQSBatchResponse object`,
    };
  }
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { retry: new Set() };
  if (!Array.isArray(failures)) {
    return { batchFailure: `batchItemFailures is ${JSON.stringify(failures)}, not an array` };
  }
  const ids = new Set(batch.map((r) => r.messageId));
  const retry = new Set<string>();
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '') {
      return {
        batchFailure: `batchItemFailures has an entry without a valid itemIdentifier: ${JSON.stringify(failure)}`,
      };
    }
    if (!ids.has(id))
      return { batchFailure: `batchItemFailures names '${id}', which is not a message of this batch` };
    retry.add(id);
  }
  return { retry };
}

/**
 * Drives one consumer group's handler the way Lambda's SQS event source mapping does: long-polls
 * batches up to `batchSize` (filling them for up to the batching window), hands the handler
 * Lambda-shaped records and a context whose deadline is the function timeout, deletes what the
 * response acks and leaves the rest to reappear, with up to `maxConcurrency` invocations at once.
 *
 * Hand-written rather than built on sqs-consumer: that poller caps batches at 10, has no batching
 * window, and acks by "return what to delete" where Lambda nacks by "report what failed" — the
 * contract this runner exists to reproduce exactly.
 */
export class EventSourceRunner {
  private readonly options: EventSourceRunnerOptions;
  private running = false;
  private readonly pollers: Promise<void>[] = [];
  private abort = new AbortController();
  private invocation = 0;

  constructor(options: EventSourceRunnerOptions) {
    this.options = options;
  }

  /** Starts `maxConcurrency` pollers. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    for (let i = 0; i < this.options.maxConcurrency; i++) this.pollers.push(this.poll());
  }

  /** Stops polling and waits for invocations in progress to finish. */
  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await Promise.allSettled(this.pollers.splice(0));
  }

  private async poll(): Promise<void> {
    while (this.running) {
      try {
        const messages = await this.receiveBatch();
        if (messages.length > 0) await this.invoke(messages);
      } catch (error) {
        if (!this.running) return;
        // The emulator went away or refused: wait a little and poll again, like the ESM does.
        await new Promise((resolve) => setTimeout(resolve, 200));
        void error;
      }
    }
  }

  private async receiveBatch(): Promise<Message[]> {
    const { batchSize, batchingWindowSeconds } = this.options;
    const windowEnds = Date.now() + batchingWindowSeconds * 1000;
    const batch: Message[] = [];
    do {
      const result = await this.options.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.options.queueUrl,
          MaxNumberOfMessages: Math.min(10, batchSize - batch.length),
          WaitTimeSeconds: batch.length === 0 ? (this.options.waitTimeSeconds ?? 1) : 0,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
        { abortSignal: this.abort.signal },
      );
      batch.push(...(result.Messages ?? []));
      if ((result.Messages ?? []).length === 0 && batch.length > 0 && batchingWindowSeconds > 0) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } while (this.running && batch.length > 0 && batch.length < batchSize && Date.now() < windowEnds);
    return batch;
  }

  private async invoke(messages: Message[]): Promise<void> {
    const { group, timeoutSeconds } = this.options;
    const records = messages.map((m) => toLambdaRecord(m, this.options.queueArn, this.options.region));
    const deadline = Date.now() + timeoutSeconds * 1000;
    const context = {
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      functionName: `fanout-local-${group}`,
      awsRequestId: `local-${group}-${++this.invocation}`,
    };
    let verdict: ReturnType<typeof judgeBatchResponse>;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Task timed out after ${timeoutSeconds} seconds`)),
          timeoutSeconds * 1000,
        );
      });
      const response = await Promise.race([
        Promise.resolve().then(() => this.options.handler({ Records: records }, context)),
        timeout,
      ]);
      verdict = judgeBatchResponse(response, records);
    } catch (error) {
      verdict = { batchFailure: `the handler threw: ${(error as Error)?.message ?? String(error)}` };
    } finally {
      clearTimeout(timer);
    }

    if ('batchFailure' in verdict) {
      // Lambda retries the whole batch: nothing is deleted, every record reappears after the visibility timeout.
      this.options.onInvocation?.({
        group,
        records: records.length,
        deleted: 0,
        retried: records.length,
        batchFailure: verdict.batchFailure,
      });
      return;
    }
    const acked = records.filter((r) => !verdict.retry.has(r.messageId));
    for (let i = 0; i < acked.length; i += 10) {
      await this.options.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.options.queueUrl,
          Entries: acked.slice(i, i + 10).map((r, n) => ({ Id: String(n), ReceiptHandle: r.receiptHandle })),
        }),
      );
    }
    this.options.onInvocation?.({
      group,
      records: records.length,
      deleted: acked.length,
      retried: verdict.retry.size,
    });
  }
}
