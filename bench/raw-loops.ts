/**
 * The hand-written baselines: exactly the AWS requests a job needs and nothing else (no validation, no
 * retries, no Lambda-shaped records), at the same concurrency as the fanout code they are compared with.
 */
import { type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PublishBatchCommand, type PublishBatchRequestEntry, type SNSClient } from '@aws-sdk/client-sns';
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { createEnvelope, IdempotencyStore } from '../lib/index.ts';
import { randomId } from '../lib/trace-context.ts';
import { orderPlaced, SOURCE } from './fixtures.ts';

/** PublishBatch calls in flight at once: Publisher's default on a standard topic. */
export const PUBLISH_CONCURRENCY = 4;

/**
 * Publishes `count` OrderPlaced events as Publisher does (the same envelope body, the same `type`
 * message attribute, 10 per PublishBatch call, {@link PUBLISH_CONCURRENCY} calls at once). With
 * `traceparent` (as Publisher's default `tracing: true`), each message also carries a W3C
 * `traceparent` attribute of a new trace, as a hand-written producer propagating traces would send:
 * the same bytes Publisher sends (it also keeps a span per message, which is its own cost).
 */
export async function rawPublish(
  sns: SNSClient,
  topicArn: string,
  count: number,
  options: { readonly traceparent: boolean },
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const first = next;
      next = Math.min(count, next + 10);
      const entries: PublishBatchRequestEntry[] = [];
      for (let n = first; n < next; n++) {
        const envelope = createEnvelope(orderPlaced(n), { source: SOURCE });
        entries.push({
          Id: String(n - first),
          Message: JSON.stringify(envelope),
          MessageAttributes: {
            type: { DataType: 'String', StringValue: envelope.type },
            ...(options.traceparent
              ? { traceparent: { DataType: 'String', StringValue: newTraceparent() } }
              : {}),
          },
        });
      }
      await sns.send(new PublishBatchCommand({ TopicArn: topicArn, PublishBatchRequestEntries: entries }));
    }
  };
  await Promise.all(Array.from({ length: PUBLISH_CONCURRENCY }, worker));
}

/**
 * A W3C `traceparent` of a new sampled trace: version, 16-byte trace id, 8-byte span id, flags. The ids
 * come from the same pooled generator as Publisher's (one `randomBytes` call per id would cost the
 * baseline microseconds per message that Publisher does not pay).
 */
function newTraceparent(): string {
  return `00-${randomId(16)}-${randomId(8)}-01`;
}

/** A payload hash as long as fanout's (SHA-256, base64url), computed once: hashing is not a request. */
const FIXED_HASH = 'x'.repeat(43);

/** Options of {@link rawDelivery}. */
export interface RawDeliveryOptions {
  readonly sqs: SQSClient;
  readonly queues: readonly { readonly name: string; readonly url: string }[];
  /** Receive loops per queue (the pipeline's invocations at once per group). */
  readonly loopsPerQueue: number;
  /** Long-poll wait of each receive, in seconds (the same as the pipeline's runner). */
  readonly waitTimeSeconds: number;
  /**
   * The DynamoDB requests of each batch, none without. `one-put`: one conditional PutItem per message,
   * all the work an idempotent delivery needs. `fanout-requests`: the requests fanout's consumer makes
   * (its claim PutItem per message, then one BatchWriteItem of the completions), made by hand through
   * its IdempotencyStore, without the consumer around them.
   */
  readonly idempotency?: {
    readonly db: DynamoDBClient;
    readonly tableName: string;
    readonly requests: 'one-put' | 'fanout-requests';
  };
  /** Called with the number of messages each DeleteMessageBatch call removed. */
  readonly onDeleted: (count: number) => void;
}

/**
 * What one idempotent delivery needs from AWS, by hand: receive up to 10 messages, one conditional
 * `PutItem` per message (all at once, keyed `queue#event id`), one `DeleteMessageBatch`. Runs until
 * `signal` aborts.
 */
export async function rawDelivery(options: RawDeliveryOptions, signal: AbortSignal): Promise<void> {
  const { sqs, idempotency } = options;
  const expiresAt = { N: String(Math.floor(Date.now() / 1000) + 86_400) };
  const store =
    idempotency && new IdempotencyStore({ client: idempotency.db, tableName: idempotency.tableName });
  const keyOf = (queue: string, body: string | undefined) =>
    `${queue}#${(JSON.parse(body ?? '{}') as { id?: string }).id}`;
  const putOnce = (key: string) =>
    idempotency?.db.send(
      new PutItemCommand({
        TableName: idempotency.tableName,
        Item: { pk: { S: key }, status: { S: 'COMPLETED' }, expiresAt },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  const settle = async (queue: string, messages: readonly Message[]) => {
    if (!idempotency || !store) return;
    const keys = messages.map((m) => keyOf(queue, m.Body));
    if (idempotency.requests === 'one-put') {
      await Promise.all(keys.map(putOnce));
      return;
    }
    await Promise.all(keys.map((key) => store.claim(key, FIXED_HASH, 30_000)));
    await store.writeKeys(keys.map((key) => ({ key, state: 'completed', payloadHash: FIXED_HASH })));
  };
  const loop = async (queue: { name: string; url: string }) => {
    while (!signal.aborted) {
      let messages: Message[];
      try {
        const received = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queue.url,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: options.waitTimeSeconds,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: signal },
        );
        messages = received.Messages ?? [];
      } catch (error) {
        if (signal.aborted) return;
        throw error;
      }
      if (messages.length === 0) continue;
      await settle(queue.name, messages);
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queue.url,
          Entries: messages.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
      options.onDeleted(messages.length);
    }
  };
  await Promise.all(
    options.queues.flatMap((queue) => Array.from({ length: options.loopsPerQueue }, () => loop(queue))),
  );
}
