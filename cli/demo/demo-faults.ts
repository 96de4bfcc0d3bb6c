import { channel } from 'node:diagnostics_channel';
import { ChangeMessageVisibilityBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import {
  BATCH_CHANNEL,
  type BatchReport,
  createSqsClient,
  nackVisibilityTimeout,
  queueUrlFromArn,
} from '../../lib/index.ts';
import type { SqsLambdaHandler } from '../../localstack/index.ts';

/** Environment variable of an injected outage: `<group>:<epoch ms>` = the group's dependency is down until then. */
export const DEMO_OUTAGE_VARIABLE = 'FANOUT_DEMO_OUTAGE';

/** The fault fields the demo (and the chaos tests) put into an event's `data`. */
interface FaultFields {
  /** The record fails while it has been received at most this many times. */
  readonly failuresBeforeSuccess?: number;
  /** Milliseconds of work the batch stands for (the handler's I/O). */
  readonly workMs?: number;
}

const batchChannel = channel(BATCH_CHANNEL);

/** The consumer's default backoff: the retry of a failed record waits 2 s, doubling with every receive. */
const BACKOFF = { baseSeconds: 2, maxSeconds: 900 };

/**
 * Gives the records that fail the consumer's backoff as their visibility timeout, as the consumer does
 * with the records it nacks (else they would wait out the queue's whole visibility timeout).
 */
async function backOff(sqs: SQSClient, records: readonly SQSRecord[]): Promise<void> {
  for (let i = 0; i < records.length; i += 10) {
    const chunk = records.slice(i, i + 10);
    await sqs
      .send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrlFromArn(chunk[0].eventSourceARN),
          Entries: chunk.map((r, n) => ({
            Id: String(n),
            ReceiptHandle: r.receiptHandle,
            VisibilityTimeout: nackVisibilityTimeout(
              Number(r.attributes.ApproximateReceiveCount ?? 1),
              BACKOFF,
            ),
          })),
        }),
      )
      .catch(() => undefined); // best effort, as the consumer's: the queue's visibility timeout applies
  }
}
/** The fault fields of a record's event, or none when the body is not a JSON envelope (the consumer judges it). */
function faultsOf(record: SQSRecord): FaultFields {
  try {
    const data = (JSON.parse(record.body) as { data?: unknown })?.data;
    return data && typeof data === 'object' ? (data as FaultFields) : {};
  } catch {
    return {};
  }
}

/** True while the group's injected outage lasts. */
function outageOf(group: string): boolean {
  const [name, until] = process.env[DEMO_OUTAGE_VARIABLE]?.split(':') ?? [];
  return name === group && Date.now() < Number(until);
}

/**
 * The demo's fault injection, outside the handler: wraps a group's Lambda handler so that records whose
 * event asks for it (`failuresBeforeSuccess`) fail until they have been received that many times, every
 * record fails while {@link DEMO_OUTAGE_VARIABLE} says the group's dependency is down, and the batch waits
 * the largest `workMs` of its records first. Failed records are answered as batch item failures without
 * reaching the handler, and come back after the consumer's backoff (2 s, doubling per receive); on a FIFO queue the later records of a failed record's message group fail too, as
 * the consumer defers them. They are reported on the consumer's batch channel (`failed` and `deferred`),
 * so local figures count them as retries. The deployed handlers carry none of this.
 */
export function withDemoFaults(group: string, handler: SqsLambdaHandler): SqsLambdaHandler {
  const sqs = createSqsClient();
  return async (event, context) => {
    const down = outageOf(group);
    const failedGroups = new Set<string>();
    const failed: SQSRecord[] = [];
    let injected = 0;
    let deferred = 0;
    let workMs = 0;
    const passed = event.Records.filter((record) => {
      const messageGroup = record.attributes.MessageGroupId;
      if (messageGroup !== undefined && failedGroups.has(messageGroup)) {
        deferred++;
        failed.push(record);
        return false;
      }
      const faults = faultsOf(record);
      const receives = Number(record.attributes.ApproximateReceiveCount ?? 1);
      if (down || receives <= (faults.failuresBeforeSuccess ?? 0)) {
        injected++;
        failed.push(record);
        if (messageGroup !== undefined) failedGroups.add(messageGroup);
        return false;
      }
      workMs = Math.max(workMs, faults.workMs ?? 0);
      return true;
    });
    if (failed.length > 0 && batchChannel.hasSubscribers) {
      const counts = { processed: 0, failed: injected, duplicate: 0, poison: 0, deferred, abandoned: 0 };
      batchChannel.publish({ group, counts } satisfies BatchReport);
    }
    if (failed.length > 0) await backOff(sqs, failed);
    if (workMs > 0) await new Promise((resolve) => setTimeout(resolve, workMs));
    if (passed.length === 0)
      return { batchItemFailures: failed.map((r) => ({ itemIdentifier: r.messageId })) };
    const response = (await handler({ Records: passed }, context)) as
      | { batchItemFailures?: { itemIdentifier: string }[] }
      | null
      | undefined;
    if (failed.length === 0) return response;
    return {
      batchItemFailures: [
        ...(response?.batchItemFailures ?? []),
        ...failed.map((r) => ({ itemIdentifier: r.messageId })),
      ],
    };
  };
}
