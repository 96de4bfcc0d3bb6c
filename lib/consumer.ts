import type { SQSClient } from '@aws-sdk/client-sqs';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { type BackoffOptions, nackVisibilityTimeout } from './backoff.ts';
import { runScheduled, type ScheduledOutcome } from './batch-scheduler.ts';
import { DeadLetterSender, type PoisonRecord } from './dead-letter-sender.ts';
import type { Envelope } from './envelope.ts';
import { ConfigError, IdempotencyKeyError, PoisonMessageError, type PoisonReason } from './errors.ts';
import {
  IdempotencyStore,
  type IdempotencyStoreOptions,
  payloadHash,
  type Settlement,
} from './idempotency-store.ts';
import { runWithHandlingContext } from './message-context.ts';
import { createSqsClient, parseQueueArn, queueUrlFromArn } from './queue-address.ts';
import { decodeRecord } from './record-decoder.ts';
import { type BatchCounts, createTelemetry, type Telemetry, type TelemetryOptions } from './telemetry.ts';
import { changeVisibility, type VisibilityChange } from './visibility.ts';

/** What a handler gets besides the validated data. */
export interface HandlerContext {
  /** The whole event envelope (id, type, source, time, correlation id, data). */
  readonly envelope: Envelope;
  /** The SQS record as Lambda delivered it. */
  readonly record: SQSRecord;
  /** The consumer group. */
  readonly group: string;
  /** How many times SQS has delivered this record (1 on the first try). */
  readonly receiveCount: number;
  /** The consumer's logger. */
  readonly logger: Telemetry['logger'];
}

/** Handles one message. Throw to nack it (it is retried); throw {@link PoisonMessageError} to dead-letter it. */
export type MessageHandler<T> = (data: T, context: HandlerContext) => unknown;

/** The handler of one event type, with an optional schema for its data. */
export interface TypeRoute<T> {
  /** Any Standard Schema (zod, valibot, arktype…); a record failing it is poison. */
  readonly schema?: StandardSchemaV1<unknown, T>;
  readonly handle: MessageHandler<T>;
}

/** Idempotency options of a consumer. */
export interface IdempotencyOptions extends IdempotencyStoreOptions {
  /**
   * Derives the idempotency key of an event (unique within the group).
   * @default the event id (`envelope.id`)
   */
  readonly key?: (envelope: Envelope) => string;
  /**
   * How long a claim stays IN_PROGRESS before another delivery may take it over, in seconds.
   * @default the invocation's remaining time (60 s outside Lambda)
   */
  readonly leaseSeconds?: number;
  /**
   * Whether the same key with a different payload is reported (dead-lettered as `payload-mismatch`).
   * @default true
   */
  readonly validatePayload?: boolean;
  /**
   * A store to use instead of building one from the other options (e.g. shared between handlers).
   * @default a store built from the options above
   */
  readonly store?: IdempotencyStore;
}

/** Options of {@link consumer}. */
export interface ConsumerOptions<T = unknown> extends TelemetryOptions {
  /**
   * Name of the consumer group: namespaces idempotency keys, names logs and metrics.
   * @default process.env.FANOUT_GROUP, else the source queue's name without `.fifo`
   */
  readonly group?: string;
  /** Handles every message whatever its type. Give either `handle` or `handlers`. */
  readonly handle?: MessageHandler<T>;
  /**
   * Schema of `data` for `handle`; a record failing it is poison.
   * @default no validation
   */
  readonly schema?: StandardSchemaV1<unknown, T>;
  /**
   * Handlers by event type. A record of a type not listed here is poison.
   * Give either `handle` or `handlers`.
   */
  // biome-ignore lint/suspicious/noExplicitAny: each route has its own data type
  readonly handlers?: Readonly<Record<string, MessageHandler<any> | TypeRoute<any>>>;
  /**
   * DynamoDB idempotency, or `false` to turn it off (every delivery runs the handler).
   * @default on, with the table in FANOUT_IDEMPOTENCY_TABLE
   */
  readonly idempotency?: IdempotencyOptions | false;
  /**
   * Records handled at once (on FIFO queues: message groups handled at once).
   * @default 10
   */
  readonly concurrency?: number;
  /**
   * Backoff of nacked records through their visibility timeout, or `false` to leave the queue's.
   * @default { baseSeconds: 2, maxSeconds: 900 }
   */
  readonly backoff?: BackoffOptions | false;
  /**
   * Records are not started once the invocation has less than this many milliseconds left; they are
   * nacked and come back at once. Never more than a fifth of the time the batch started with.
   * @default 3000
   */
  readonly deadlineMarginMs?: number;
  /**
   * When the invocation has this many milliseconds left, records still running are nacked and the
   * batch response is returned, so a hung handler cannot time out the whole batch. Never more than a
   * tenth of the time the batch started with.
   * @default 1000
   */
  readonly abandonMarginMs?: number;
  /**
   * DLQ for poison records.
   * @default process.env.FANOUT_DLQ_URL, else the DLQ in the source queue's redrive policy
   */
  readonly deadLetterQueueUrl?: string;
  /**
   * SQS client for DLQ sends and visibility changes.
   * @default a client configured from the environment
   */
  readonly sqsClient?: SQSClient;
}

/** How one record ended. */
type RecordResult =
  | { kind: 'processed'; claimed: boolean; durationMs: number }
  | { kind: 'duplicate' }
  | { kind: 'in-progress' }
  | { kind: 'failed'; error: unknown; claimed: boolean; durationMs?: number }
  | { kind: 'poison'; reason: string; detail: string; claimed: boolean };

interface PreparedRecord {
  readonly record: SQSRecord;
  readonly envelope: Envelope;
  readonly data: unknown;
  readonly route: TypeRoute<unknown>;
  readonly key?: string;
  readonly hash?: string;
}

type Prepared = PreparedRecord | { readonly record: SQSRecord; readonly poison: PoisonMessageError };

const DEFAULT_BACKOFF = { baseSeconds: 2, maxSeconds: 900 };

/**
 * Builds a Lambda SQS handler that answers with a partial batch response.
 *
 * Per record: decode (raw, SNS-wrapped or plain) → validate → idempotency claim → handle → settle.
 * A record whose handler throws is nacked (its id is in `batchItemFailures`, its visibility timeout
 * raised with backoff); poison records (unparseable, invalid, unknown type) are sent to the DLQ with
 * the reason and acked; every other record is acked. The handler never throws for one record.
 */
export function consumer<T = unknown>(
  options: ConsumerOptions<T>,
): (event: SQSEvent, context?: Pick<Context, 'getRemainingTimeInMillis'>) => Promise<SQSBatchResponse> {
  const routeOf = buildRouter(options);
  const concurrency = options.concurrency ?? 10;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new ConfigError('concurrency', `must be a whole number ≥ 1 (given ${concurrency})`, 'Use e.g. 10');
  }
  const backoff = options.backoff === false ? undefined : { ...DEFAULT_BACKOFF, ...options.backoff };
  if (backoff && !(backoff.baseSeconds >= 0 && backoff.maxSeconds >= backoff.baseSeconds)) {
    throw new ConfigError(
      'backoff',
      `needs 0 ≤ baseSeconds ≤ maxSeconds (given ${backoff.baseSeconds} and ${backoff.maxSeconds})`,
      'Use e.g. { baseSeconds: 2, maxSeconds: 900 }',
    );
  }
  const deadlineMarginMs = options.deadlineMarginMs ?? 3000;
  const abandonMarginMs = options.abandonMarginMs ?? 1000;
  const idempotency = options.idempotency === false ? undefined : (options.idempotency ?? {});
  const store = idempotency && (idempotency.store ?? new IdempotencyStore(idempotency));
  const keyOf = idempotency?.key ?? ((envelope: Envelope) => envelope.id);
  const validatePayload = idempotency?.validatePayload ?? true;
  const sqs = options.sqsClient ?? createSqsClient();
  const perGroup = new Map<string, { telemetry: Telemetry; deadLetters: DeadLetterSender }>();

  const groupParts = (group: string) => {
    let parts = perGroup.get(group);
    if (!parts) {
      parts = {
        telemetry: createTelemetry(group, options),
        deadLetters: new DeadLetterSender(
          sqs,
          group,
          options.deadLetterQueueUrl ?? process.env.FANOUT_DLQ_URL,
        ),
      };
      perGroup.set(group, parts);
    }
    return parts;
  };

  return async (event, context) => {
    const records = event?.Records ?? [];
    if (records.length === 0) return { batchItemFailures: [] };
    const group = options.group ?? process.env.FANOUT_GROUP ?? groupFromArn(records[0].eventSourceARN);
    const { telemetry, deadLetters } = groupParts(group);
    const { logger } = telemetry;
    const remaining = () => context?.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY;
    const fifo = records[0].eventSourceARN?.endsWith('.fifo') ?? false;
    const leaseMs = idempotency?.leaseSeconds
      ? idempotency.leaseSeconds * 1000
      : Number.isFinite(remaining())
        ? remaining()
        : 60_000;

    // 1. Decode, route, validate and key every record; poison is known before anything runs.
    const prepared: Prepared[] = await Promise.all(
      records.map(async (record): Promise<Prepared> => {
        try {
          const { envelope } = decodeRecord(record);
          const route = routeOf(envelope.type);
          const data = route.schema ? await validate(route.schema, envelope) : envelope.data;
          if (!store) return { record, envelope, data, route };
          const key = IdempotencyStore.tableKey(group, deriveKey(keyOf, envelope));
          return {
            record,
            envelope,
            data,
            route,
            key,
            hash: validatePayload ? payloadHash(envelope.data) : '',
          };
        } catch (error) {
          if (error instanceof PoisonMessageError) return { record, poison: error };
          if (error instanceof IdempotencyKeyError) {
            return { record, poison: new PoisonMessageError('invalid-idempotency-key', error.message) };
          }
          throw error;
        }
      }),
    );

    // 2. In-batch duplicates (same key twice in one standard-queue batch): only the first runs.
    const runnable: PreparedRecord[] = [];
    const followers = new Map<PreparedRecord, PreparedRecord>();
    const leaders = new Map<string, PreparedRecord>();
    for (const p of prepared) {
      if ('poison' in p) continue;
      const leader = p.key !== undefined && !fifo ? leaders.get(p.key) : undefined;
      if (leader) followers.set(p, leader);
      else {
        if (p.key !== undefined) leaders.set(p.key, p);
        runnable.push(p);
      }
    }

    // 3. Run: lanes per FIFO message group, concurrency limit, deadline.
    const runOne = async (p: PreparedRecord): Promise<RecordResult> => {
      const receiveCount = Number(p.record.attributes?.ApproximateReceiveCount ?? '1');
      let claimed = false;
      if (store && p.key !== undefined) {
        try {
          const claim = await store.claim(p.key, p.hash ?? '', leaseMs);
          if (claim.status === 'completed') return { kind: 'duplicate' };
          if (claim.status === 'in-progress') return { kind: 'in-progress' };
          if (claim.status === 'payload-mismatch') return mismatch(p);
          claimed = true;
        } catch (error) {
          return { kind: 'failed', error, claimed: false };
        }
      }
      const started = performance.now();
      try {
        await runWithHandlingContext(
          { messageId: p.envelope.id, correlationId: p.envelope.correlationid, group },
          () =>
            p.route.handle(p.data, { envelope: p.envelope, record: p.record, group, receiveCount, logger }),
        );
        return { kind: 'processed', claimed, durationMs: performance.now() - started };
      } catch (error) {
        const durationMs = performance.now() - started;
        if (error instanceof PoisonMessageError) {
          return { kind: 'poison', reason: error.reason, detail: error.message, claimed };
        }
        return { kind: 'failed', error, claimed, durationMs };
      }
    };

    // Margins never take more than a fifth (stop starting) and a tenth (abandon) of the invocation,
    // so a short function timeout still runs its first records instead of deferring them forever.
    const budget = remaining();
    const stopStartingMs = Math.min(deadlineMarginMs, budget * 0.2);
    const abandonMs = Math.min(abandonMarginMs, budget * 0.1);
    const outcomes = new Map<PreparedRecord, ScheduledOutcome<RecordResult>>();
    const schedule = runScheduled(runnable, {
      laneOf: (p) => (fifo ? (p.record.attributes?.MessageGroupId ?? '') : undefined),
      concurrency,
      canStart: () => remaining() > stopStartingMs,
      run: runOne,
      failed: (r) => r.kind === 'failed' || r.kind === 'in-progress',
      onOutcome: (p, o) => outcomes.set(p, o),
    });
    const abandonAfter = remaining() - abandonMs;
    if (Number.isFinite(abandonAfter)) {
      let timer: NodeJS.Timeout | undefined;
      const abandon = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, abandonAfter));
      });
      await Promise.race([schedule, abandon]);
      clearTimeout(timer);
    } else {
      await schedule;
    }

    // 4. Settle: idempotency, DLQ, visibility; build the partial batch response.
    const counts: BatchCounts = { processed: 0, failed: 0, duplicate: 0, poison: 0, deferred: 0 };
    const durations: number[] = [];
    const settlements: Settlement[] = [];
    const poison: PoisonRecord[] = [];
    const nacks = new Map<string, { record: SQSRecord; seconds?: number }>();
    const laneDelay = new Map<string, number>();
    const backoffSeconds = (record: SQSRecord) =>
      backoff
        ? nackVisibilityTimeout(Number(record.attributes?.ApproximateReceiveCount ?? '1'), backoff)
        : undefined;

    const settle = (p: PreparedRecord, result: RecordResult) => {
      const { record } = p;
      const log = {
        messageId: record.messageId,
        eventId: p.envelope.id,
        correlationId: p.envelope.correlationid,
      };
      switch (result.kind) {
        case 'processed':
          counts.processed++;
          durations.push(result.durationMs);
          if (result.claimed && p.key)
            settlements.push({ key: p.key, outcome: 'completed', payloadHash: p.hash ?? '' });
          return;
        case 'duplicate':
          counts.duplicate++;
          logger.info('duplicate skipped', log);
          return;
        case 'in-progress': {
          counts.deferred++;
          nacks.set(record.messageId, { record, seconds: backoffSeconds(record) });
          logger.info('another delivery holds this key; nacked for a retry', log);
          return;
        }
        case 'failed': {
          counts.failed++;
          if (result.durationMs !== undefined) durations.push(result.durationMs);
          if (result.claimed && p.key)
            settlements.push({ key: p.key, outcome: 'released', payloadHash: p.hash ?? '' });
          const seconds = backoffSeconds(record);
          if (fifo && seconds !== undefined) laneDelay.set(record.attributes?.MessageGroupId ?? '', seconds);
          nacks.set(record.messageId, { record, seconds });
          logger.warn('record failed; nacked', {
            ...log,
            error: result.error as Error,
            retryInSeconds: seconds,
          });
          return;
        }
        case 'poison':
          if (result.claimed && p.key)
            settlements.push({ key: p.key, outcome: 'released', payloadHash: p.hash ?? '' });
          poison.push({ record, reason: result.reason, detail: result.detail });
          return;
      }
    };

    for (const p of prepared) {
      if ('poison' in p) {
        poison.push({ record: p.record, reason: p.poison.reason, detail: p.poison.message });
        continue;
      }
      const leader = followers.get(p);
      const outcome = outcomes.get(leader ?? p);
      const log = {
        messageId: p.record.messageId,
        eventId: p.envelope.id,
        correlationId: p.envelope.correlationid,
      };
      if (leader) {
        const done =
          outcome?.kind === 'ran' &&
          (outcome.result.kind === 'processed' || outcome.result.kind === 'duplicate');
        if (done && validatePayload && p.hash !== leader.hash) settle(p, mismatch(p));
        else if (done) settle(p, { kind: 'duplicate' });
        else {
          counts.deferred++;
          nacks.set(p.record.messageId, { record: p.record, seconds: backoffSeconds(p.record) });
        }
      } else if (outcome === undefined) {
        counts.deferred++;
        nacks.set(p.record.messageId, { record: p.record });
        logger.error('record still running at the deadline; nacked (its idempotency lease will expire)', log);
      } else if (outcome.kind === 'ran') {
        settle(p, outcome.result);
      } else {
        counts.deferred++;
        const lane = p.record.attributes?.MessageGroupId ?? '';
        const seconds =
          outcome.kind === 'skipped-deadline' ? 0 : (laneDelay.get(lane) ?? backoffSeconds(p.record));
        nacks.set(p.record.messageId, { record: p.record, seconds });
      }
    }

    if (store && settlements.length > 0) {
      try {
        await store.settle(settlements);
      } catch (error) {
        logger.error(
          'could not settle idempotency keys; completed keys stay IN_PROGRESS until their lease ends',
          {
            error: error as Error,
            keys: settlements.length,
          },
        );
      }
    }

    const sent = await deadLetters.send(poison).catch((error) => {
      logger.error('could not look up the DLQ; poison records are nacked instead', { error: error as Error });
      return new Set<string>();
    });
    for (const p of poison) {
      const log = { messageId: p.record.messageId, reason: p.reason, detail: p.detail };
      if (sent.has(p.record.messageId)) {
        counts.poison++;
        logger.error('poison record sent to the DLQ', log);
      } else {
        counts.failed++;
        nacks.set(p.record.messageId, { record: p.record, seconds: backoffSeconds(p.record) });
        logger.error(
          'poison record could not be sent to the DLQ; nacked (redrive policy will dead-letter it)',
          log,
        );
      }
    }

    const changes: VisibilityChange[] = [];
    for (const { record, seconds } of nacks.values()) {
      if (seconds !== undefined) changes.push({ receiptHandle: record.receiptHandle, seconds });
    }
    if (changes.length > 0) await changeVisibility(sqs, queueUrlFromArn(records[0].eventSourceARN), changes);

    telemetry.publishBatch(counts, durations);
    // Lambda's contract: ids in batch order, only records of this batch.
    return {
      batchItemFailures: records
        .filter((r) => nacks.has(r.messageId))
        .map((r) => ({ itemIdentifier: r.messageId })),
    };
  };
}

function mismatch(p: PreparedRecord): RecordResult {
  return {
    kind: 'poison',
    reason: 'payload-mismatch' satisfies PoisonReason,
    detail: `idempotency key '${p.key}' was already used for a different payload; give each distinct event its own id`,
    claimed: false,
  };
}

function deriveKey(keyOf: (envelope: Envelope) => string, envelope: Envelope): string {
  try {
    return keyOf(envelope);
  } catch (error) {
    throw new IdempotencyKeyError(
      `idempotency.key threw for event '${envelope.id}' of type '${envelope.type}': ${(error as Error).message}`,
    );
  }
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
  return name.replace(/\.fifo$/, '');
}

async function validate(schema: StandardSchemaV1, envelope: Envelope): Promise<unknown> {
  const result = await schema['~standard'].validate(envelope.data);
  if (!result.issues) return result.value;
  const issues = result.issues
    .slice(0, 5)
    .map((issue) => {
      const path = (issue.path ?? [])
        .map((s) => (typeof s === 'object' ? String(s.key) : String(s)))
        .join('.');
      return `${path || '(root)'}: ${issue.message}`;
    })
    .join('; ');
  throw new PoisonMessageError(
    'schema-invalid',
    `event '${envelope.id}' of type '${envelope.type}' fails its schema: ${issues}`,
  );
}

function buildRouter<T>(options: ConsumerOptions<T>): (type: string) => TypeRoute<unknown> {
  if (options === null || typeof options !== 'object') {
    throw new ConfigError(
      'options',
      'consumer() needs an options object',
      'Call consumer({ handle: async (data) => … })',
    );
  }
  const { handle, handlers, schema } = options;
  if ((handle === undefined) === (handlers === undefined)) {
    throw new ConfigError(
      handle === undefined ? 'handle' : 'handlers',
      handle === undefined ? 'neither handle nor handlers is given' : 'both handle and handlers are given',
      'Give handle (one function for every type) or handlers (a function per event type), not both',
    );
  }
  if (handle !== undefined) {
    if (typeof handle !== 'function') {
      throw new ConfigError(
        'handle',
        `must be a function (given ${typeof handle})`,
        'Pass async (data, context) => { … }',
      );
    }
    const route = { schema, handle } as TypeRoute<unknown>;
    return () => route;
  }
  if (schema !== undefined) {
    throw new ConfigError(
      'schema',
      'is for handle only',
      'With handlers, give each type its own { schema, handle }',
    );
  }
  const routes = new Map<string, TypeRoute<unknown>>();
  for (const [type, entry] of Object.entries(handlers ?? {})) {
    const route = typeof entry === 'function' ? { handle: entry } : entry;
    if (typeof route?.handle !== 'function') {
      throw new ConfigError(
        `handlers.${type}`,
        'must be a function or { schema?, handle }',
        'Pass a function',
      );
    }
    routes.set(type, route);
  }
  return (type) => {
    const route = routes.get(type);
    if (!route) {
      throw new PoisonMessageError(
        'unknown-type',
        `no handler for event type '${type}'; this consumer handles ${[...routes.keys()].map((t) => `'${t}'`).join(', ')}`,
      );
    }
    return route;
  };
}
