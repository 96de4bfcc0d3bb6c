import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { DeadLetterQueueLocator, DeadLetterSender } from '../dead-letter-sender.ts';
import { DEAD_LETTER_QUEUE_URL_VARIABLE, GROUP_VARIABLE } from '../environment.ts';
import { ConfigError } from '../errors.ts';
import { createS3Client } from '../payload-offload.ts';
import { createSqsClient, parseQueueArn, queueUrlFromArn } from '../queue-address.ts';
import { groupOfQueueName } from '../resource-names.ts';
import { createTelemetry, type Telemetry } from '../telemetry.ts';
import { changeVisibility } from '../visibility.ts';
import { logFields } from './batch-item.ts';
import { decodeBatch, markInBatchDuplicates, resolveOffloaded } from './decode-stage.ts';
import { KeyWriter } from './key-writer.ts';
import { type ConsumerConfig, type ConsumerOptions, resolveConsumerConfig } from './options.ts';
import type { RecordOutcome } from './record-outcome.ts';
import { buildRouter } from './router.ts';
import { runStage } from './run-stage.ts';
import { type SettledRecord, settleBatch } from './settle-stage.ts';
import { TimeBudget } from './time-budget.ts';

/** The lease of a claim made with no invocation deadline (renewed while its handler runs). */
export const UNBOUNDED_LEASE_MS = 60_000;

/**
 * Invocations of any consumer under way in this process. On Lambda one at a time (an execution
 * environment takes one invocation at a time), and a batch then starts its lanes apart; several when
 * the local event source runner or a test invokes handlers concurrently in one process, where they
 * already keep the event loop and the emulator busy and starting lanes apart only slows each down
 * (measured: `npm run bench`, records/s and end-to-end rows, docs/BENCHMARKS.md).
 */
let invocationsInProcess = 0;

/** A Lambda SQS handler answering with a partial batch response. */
export type BatchHandler = (
  event: SQSEvent,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
) => Promise<SQSBatchResponse>;

/**
 * Builds a Lambda SQS handler that answers with a partial batch response.
 *
 * A batch goes through five stages: decode (route, validate, key) → in-batch duplicates → run (claims,
 * handlers and each record's own effects, in FIFO lanes, within the time budget) → settle (the verdict
 * gives each record its fate: ack, or nack with a visibility timeout) → respond. A record whose handler
 * throws is nacked; poison (unparseable, invalid, unknown type) goes to the DLQ with its reason and is
 * acked; everything else is acked. The handler never throws for one record, and answers before the
 * invocation's deadline even when AWS calls hang.
 */
export function consumer<T = unknown, D = Record<string, unknown>>(
  options: ConsumerOptions<T, D>,
): BatchHandler {
  const routeOf = buildRouter(options);
  const config = resolveConsumerConfig(options);
  const sqs = options.sqsClient ?? createSqsClient();
  // Made on the first offloaded record: a consumer that never meets one never loads the S3 package.
  let s3: Promise<S3Client> | undefined = options.s3Client && Promise.resolve(options.s3Client);
  const s3Client = () => {
    s3 ??= createS3Client().catch((error: unknown) => {
      s3 = undefined; // not cached: the next offloaded record tries again
      throw error;
    });
    return s3;
  };
  const perGroup = new Map<string, { telemetry: Telemetry; locator: DeadLetterQueueLocator }>();
  const groupParts = (group: string) => {
    let parts = perGroup.get(group);
    if (!parts) {
      const dlqUrl = options.deadLetterQueueUrl ?? process.env[DEAD_LETTER_QUEUE_URL_VARIABLE];
      parts = {
        telemetry: createTelemetry(group, options),
        locator: new DeadLetterQueueLocator(sqs, dlqUrl),
      };
      perGroup.set(group, parts);
    }
    return parts;
  };

  return async (event, context) => {
    const records = event?.Records ?? [];
    if (records.length === 0) return { batchItemFailures: [] };
    const group = options.group ?? process.env[GROUP_VARIABLE] ?? groupFromArn(records[0].eventSourceARN);
    const remainingMs = remainingTimeOf(context);
    const budget = new TimeBudget(remainingMs, config);
    invocationsInProcess++;
    try {
      return await handleBatch(records, {
        group,
        config,
        budget,
        sqs,
        s3Client,
        routeOf,
        ...groupParts(group),
      });
    } finally {
      invocationsInProcess--;
      budget.dispose();
    }
  };
}

interface BatchContext {
  readonly group: string;
  readonly config: ConsumerConfig;
  readonly budget: TimeBudget;
  readonly sqs: SQSClient;
  readonly s3Client: () => Promise<S3Client>;
  readonly routeOf: ReturnType<typeof buildRouter>;
  readonly telemetry: Telemetry;
  readonly locator: DeadLetterQueueLocator;
}

async function handleBatch(records: SQSRecord[], batch: BatchContext): Promise<SQSBatchResponse> {
  const { group, config, budget, sqs, telemetry } = batch;
  const fifo = records[0].eventSourceARN?.endsWith('.fifo') ?? false;

  // 1–2. Decode, route, validate, key; in-batch duplicates.
  const startsEnd = budget.until(budget.startBy);
  const decodeContext = {
    group,
    fifo,
    routeOf: batch.routeOf,
    config,
    startsEnd: startsEnd.reached,
    // Offloaded payloads are read in the claim phase: a slow S3 call is aborted when handlers are abandoned.
    payloads: { client: batch.s3Client, signal: () => budget.signal('claim') },
  };
  const decoded = await decodeBatch(records, decodeContext);
  const items = markInBatchDuplicates(decoded);
  const handlersDone = Promise.withResolvers<void>();

  // 3. Run, until every lane is done or the abandon margin is reached; then let effects finish.
  const activity = { running: 0 };
  const busy = () => activity.running > 0;
  const effectsSignal = () => budget.signal('effects');
  const run = runStage(items, {
    group,
    concurrency: config.concurrency,
    startLanesApart: invocationsInProcess === 1,
    budget,
    store: config.store,
    leaseMs: () => config.leaseMs ?? (budget.bounded ? budget.msUntil(budget.deadline) : UNBOUNDED_LEASE_MS),
    validatePayload: config.validatePayload,
    keyWriter: config.store && new KeyWriter(config.store, effectsSignal, busy),
    deadLetters: new DeadLetterSender({
      sqs,
      group,
      locator: batch.locator,
      signal: effectsSignal,
      busy,
      maxMessageBytes: config.deadLetterMaxMessageBytes,
    }),
    logger: telemetry.logger,
    activity,
    resolveOffloaded: (item) => resolveOffloaded(item, decodeContext),
    handlersDone: handlersDone.promise,
  });
  const abandon = budget.until(budget.abandonAt);
  await Promise.race([run.finished, abandon.reached]);
  abandon.cancel();
  startsEnd.cancel();
  handlersDone.resolve();
  const effectsEnd = budget.until(budget.endOf('effects'));
  await Promise.race([run.effectsSettled(), effectsEnd.reached]);
  effectsEnd.cancel();

  // 4. Settle: the verdict gives every record its fate.
  const settlement = settleBatch(items, run.outcomes, { backoff: config.backoff, now: Date.now() });
  logFates(telemetry.logger, settlement.records);
  const sourceArn = records[0].eventSourceARN;
  if (settlement.visibilityChanges.length > 0 && parseQueueArn(sourceArn ?? '')) {
    // Without a source queue ARN (a hand-made event) there is no queue to address: the queue's own
    // visibility timeout applies.
    await changeVisibility(
      sqs,
      queueUrlFromArn(sourceArn),
      settlement.visibilityChanges,
      budget.signal('respond'),
    );
  }
  telemetry.reportBatch(settlement.counts, settlement.handlerDurationsMs);

  // 5. Respond: Lambda's contract is ids in batch order, only records of this batch.
  return { batchItemFailures: settlement.nacked.map((id) => ({ itemIdentifier: id })) };
}

/** One log line per record that did not simply succeed. */
function logFates(logger: Telemetry['logger'], records: readonly SettledRecord[]): void {
  for (const { item, outcome, fate } of records) {
    const line = fateLog(outcome);
    if (!line) continue;
    try {
      logger[line[0]](line[1], {
        ...logFields(item),
        ...(fate.ack ? {} : { retryInSeconds: fate.visibilitySeconds }),
        ...('reason' in outcome ? { reason: outcome.reason, detail: outcome.detail } : {}),
        ...('error' in outcome ? { error: outcome.error as Error } : {}),
      });
    } catch {
      // A value the logger cannot read (e.g. a thrown Proxy) must not fail the batch.
      logger[line[0]](line[1], logFields(item));
    }
  }
}

function fateLog(outcome: RecordOutcome): ['info' | 'warn' | 'error', string] | undefined {
  switch (outcome.kind) {
    case 'processed':
      return outcome.completion === 'not-stored' || outcome.completion === 'pending'
        ? [
            'error',
            'handled, but its COMPLETED key could not be stored in time; a duplicate arriving after the lease would run again',
          ]
        : undefined;
    case 'duplicate':
      return ['info', 'duplicate skipped'];
    case 'in-progress':
      return ['info', 'another delivery holds this key; nacked until its lease ends'];
    case 'claim-failed':
      return ['warn', 'could not claim the idempotency key; nacked'];
    case 'failed':
      return ['warn', 'record failed; nacked'];
    case 'dead-lettered':
      return ['error', 'poison record sent to the DLQ'];
    case 'dead-letter-failed':
      return [
        'error',
        'poison record could not be sent to the DLQ; nacked (the redrive policy will dead-letter it)',
      ];
    case 'leader-not-done':
      return ['info', 'an earlier record with the same key did not succeed; nacked'];
    case 'not-started':
      return undefined;
    case 'abandoned':
      return [
        'error',
        'record still being claimed or handled when the invocation had to answer; nacked (a claim it holds expires with the invocation)',
      ];
  }
}

/** The invocation's remaining time in ms: `Infinity` without a Lambda context. */
function remainingTimeOf(context: Pick<Context, 'getRemainingTimeInMillis'> | undefined): number {
  if (typeof context?.getRemainingTimeInMillis !== 'function') return Number.POSITIVE_INFINITY;
  let remaining: unknown;
  try {
    remaining = context.getRemainingTimeInMillis();
  } catch (error) {
    remaining = `an error (${(error as Error)?.message ?? String(error)})`;
  }
  if (typeof remaining !== 'number' || Number.isNaN(remaining)) {
    throw new ConfigError(
      'context.getRemainingTimeInMillis',
      `returned ${String(remaining)}, not a number of milliseconds`,
      'Pass the Lambda context, or one whose getRemainingTimeInMillis() returns the milliseconds left',
    );
  }
  return Math.max(0, remaining);
}

function groupFromArn(arn: string | undefined): string {
  const name = arn ? parseQueueArn(arn)?.name : undefined;
  if (!name) {
    throw new ConfigError(
      'group',
      'no consumer group is configured and the records carry no SQS eventSourceARN',
      "Pass consumer({ group: 'name' }) or set FANOUT_GROUP",
    );
  }
  return groupOfQueueName(name);
}
