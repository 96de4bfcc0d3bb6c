import { randomBytes } from 'node:crypto';
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteTopicCommand, type SNSClient, UnsubscribeCommand } from '@aws-sdk/client-sns';
import {
  DeleteQueueCommand,
  type Message,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import {
  ensureIdempotencyTable,
  ensureQueue,
  ensureSubscription,
  ensureTopic,
  type FilterSpec,
  type QueueRef,
  type QueueSpec,
} from '../provisioning/resources.ts';

/** What a check found: the behaviour is there (`yes`), missing (`no`), half there, or not measurable. */
export type ProbeVerdict = 'yes' | 'no' | 'partial' | 'error';

/** One measured behaviour. */
export interface ProbeResult {
  /** Stable id, e.g. `fifo-several-per-group`. */
  readonly id: string;
  /** What fanout depends on, in a few words. */
  readonly behaviour: string;
  readonly result: ProbeVerdict;
  /** One line a person can act on, e.g. "1 of 3 messages of group g1 in one receive". */
  readonly detail: string;
  /** How long the check took, cleanup included. */
  readonly durationMs: number;
}

/** What a check hands to its runner; the runner adds its id, behaviour and duration. */
export interface CheckOutcome {
  readonly result: ProbeVerdict;
  readonly detail: string;
}

/** The clients and the bookkeeping one check runs with. */
export interface ProbeContext {
  readonly sqs: SQSClient;
  readonly sns: SNSClient;
  readonly dynamodb: DynamoDBClient;
  /** Pass to every `send` so that a check past its time limit stops at once. */
  readonly opts: { readonly abortSignal: AbortSignal };
  /** A name nothing else uses: `fanout-probe-<what>-<random>` (+ `.fifo`). */
  name(what: string, fifo?: boolean): string;
  /** Registers a cleanup; cleanups run after the check, last registered first, even when it failed. */
  defer(cleanup: () => Promise<unknown>): void;
}

/** A behaviour and the function that measures it. */
export interface Check {
  readonly id: string;
  readonly behaviour: string;
  run(ctx: ProbeContext): Promise<CheckOutcome>;
}

export const yes = (detail: string): CheckOutcome => ({ result: 'yes', detail });
export const no = (detail: string): CheckOutcome => ({ result: 'no', detail });
export const partial = (detail: string): CheckOutcome => ({ result: 'partial', detail });

export function randomSuffix(): string {
  return randomBytes(4).toString('hex');
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One line for an error: HTTP status, error name and (unless `short`) the first line of its message. */
export function describeError(error: unknown, short = false): string {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  const message = String(e?.message ?? error);
  // The SDK could not parse the answer (e.g. an emulator's HTML error page): its name says nothing.
  if (/Deserialization error/.test(message))
    return `${status ? `HTTP ${status}, ` : ''}an answer that is not an AWS error response`;
  if (short) return [status ? `HTTP ${status}` : undefined, e?.name].filter(Boolean).join(' ');
  const line = message.split('\n')[0];
  const text = line.length > 90 ? `${line.slice(0, 87)}…` : line;
  return [status ? `HTTP ${status}` : undefined, e?.name, text ? `(${text})` : undefined]
    .filter(Boolean)
    .join(' ');
}

/** A queue (see {@link ensureQueue}), deleted after the check. */
export async function probeQueue(ctx: ProbeContext, spec: QueueSpec): Promise<QueueRef> {
  const queue = await ensureQueue(ctx.sqs, spec);
  ctx.defer(() => ctx.sqs.send(new DeleteQueueCommand({ QueueUrl: queue.url })));
  return queue;
}

/** A queue and its DLQ (redrive after `maxReceiveCount`), both deleted after the check. */
export async function probeQueueWithDlq(
  ctx: ProbeContext,
  what: string,
  options: { fifo?: boolean; maxReceiveCount?: number; visibilityTimeoutSeconds?: number } = {},
) {
  const base = ctx.name(what);
  const suffix = options.fifo ? '.fifo' : '';
  const dlq = await probeQueue(ctx, { name: `${base}-dlq${suffix}`, fifo: options.fifo });
  const queue = await probeQueue(ctx, {
    name: `${base}${suffix}`,
    fifo: options.fifo,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 30,
    deadLetter: { arn: dlq.arn, maxReceiveCount: options.maxReceiveCount ?? 5 },
  });
  return { queue, dlq };
}

/** A topic (see {@link ensureTopic}), deleted after the check. */
export async function probeTopic(ctx: ProbeContext, name: string): Promise<string> {
  const arn = await ensureTopic(ctx.sns, name);
  ctx.defer(() => ctx.sns.send(new DeleteTopicCommand({ TopicArn: arn })));
  return arn;
}

/**
 * A standard topic and a queue subscribed to it (raw delivery unless told otherwise, optional filter),
 * with the queue policy AWS needs for SNS to deliver; all deleted after the check.
 */
export async function probeSubscribedQueue(
  ctx: ProbeContext,
  what: string,
  options: { filter?: FilterSpec; rawDelivery?: boolean } = {},
) {
  const topicArn = await probeTopic(ctx, ctx.name(what));
  const queue = await probeQueue(ctx, { name: ctx.name(what) });
  await ctx.sqs.send(
    new SetQueueAttributesCommand({
      QueueUrl: queue.url,
      Attributes: {
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: 'sns.amazonaws.com' },
              Action: 'sqs:SendMessage',
              Resource: queue.arn,
              Condition: { ArnEquals: { 'aws:SourceArn': topicArn } },
            },
          ],
        }),
      },
    }),
    ctx.opts,
  );
  const subscriptionArn = await ensureSubscription(
    ctx.sns,
    topicArn,
    queue.arn,
    options.filter,
    options.rawDelivery ?? true,
  );
  ctx.defer(() => ctx.sns.send(new UnsubscribeCommand({ SubscriptionArn: subscriptionArn })));
  return { topicArn, queue };
}

/** An idempotency-shaped table (see {@link ensureIdempotencyTable}), deleted after the check. */
export async function probeTable(ctx: ProbeContext, what: string): Promise<string> {
  const name = ctx.name(what);
  ctx.defer(() => ctx.dynamodb.send(new DeleteTableCommand({ TableName: name })));
  await ensureIdempotencyTable(ctx.dynamodb, name);
  return name;
}

/** One ReceiveMessage call with every attribute. */
export async function receive(
  ctx: ProbeContext,
  queue: QueueRef,
  options: { max?: number; waitSeconds?: number } = {},
): Promise<Message[]> {
  const result = await ctx.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queue.url,
      MaxNumberOfMessages: options.max ?? 10,
      WaitTimeSeconds: options.waitSeconds ?? 1,
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
    ctx.opts,
  );
  return result.Messages ?? [];
}

/**
 * Receives until `done` says so or `timeoutMs` passes; returns every message seen (left in flight, so
 * none is seen twice).
 */
export async function receiveUntil(
  ctx: ProbeContext,
  queue: QueueRef,
  done: (seen: readonly Message[]) => boolean,
  timeoutMs: number,
): Promise<Message[]> {
  const seen: Message[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !done(seen)) {
    const waitSeconds = Math.max(0, Math.min(1, Math.floor((deadline - Date.now()) / 1000)));
    seen.push(...(await receive(ctx, queue, { waitSeconds })));
  }
  return seen;
}
