import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { SQSRecord } from 'aws-lambda';
import {
  SQS_MAX_MESSAGE_BYTES,
  SQS_MIN_MAX_MESSAGE_BYTES,
  SQS_RAISED_MAX_MESSAGE_BYTES,
} from '../aws-limits.ts';
import type { BackoffOptions } from '../backoff.ts';
import type { Envelope } from '../envelope.ts';
import { DEAD_LETTER_MAX_MESSAGE_BYTES_VARIABLE } from '../environment.ts';
import { ConfigError } from '../errors.ts';
import { IdempotencyStore, type IdempotencyStoreOptions } from '../idempotency-store.ts';
import type { Telemetry, TelemetryOptions } from '../telemetry.ts';

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

/**
 * Handlers by event type, each with the data type of its event: inferred from the route's schema, or from
 * the handler's own parameter type; `unknown` (unvalidated JSON) when a route has neither.
 */
export type TypeRoutes<D> = { readonly [K in keyof D]: MessageHandler<D[K]> | TypeRoute<D[K]> };

/** Idempotency options of a consumer. */
export interface IdempotencyOptions extends IdempotencyStoreOptions {
  /**
   * Derives the idempotency key of an event (unique within the group).
   * @default the event id (`envelope.id`)
   */
  readonly key?: (envelope: Envelope) => string;
  /**
   * How long a claim stays IN_PROGRESS before another delivery may take it over, in seconds.
   * @default the invocation's remaining time; outside Lambda (no deadline) 60 s, renewed while the handler runs
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
export interface ConsumerOptions<T = unknown, D = Record<string, unknown>> extends TelemetryOptions {
  /**
   * Name of the consumer group: namespaces idempotency keys, names logs and metrics.
   * @default process.env.FANOUT_GROUP, else the source queue's name without `.fifo` (and without
   * `FANOUT_RESOURCE_PREFIX`, see lib/resource-names.ts)
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
  readonly handlers?: TypeRoutes<D>;
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
   * nacked and come back at once. Never more than half of the time the batch started with.
   * @default 3000
   */
  readonly deadlineMarginMs?: number;
  /**
   * When the invocation has this many milliseconds left, records still running are nacked and the
   * batch response is returned, so a hung handler cannot time out the whole batch. Never more than
   * 40 % of the time the batch started with.
   * @default 1000
   */
  readonly abandonMarginMs?: number;
  /**
   * DLQ for poison records.
   * @default process.env.FANOUT_DLQ_URL, else the DLQ in the source queue's redrive policy
   */
  readonly deadLetterQueueUrl?: string;
  /**
   * The largest message the DLQ takes, in bytes (its `MaximumMessageSize`): a poison record whose copy is
   * larger is left nacked, and the queue's redrive policy moves it after `maxReceiveCount` receives.
   * 1,024–1,048,576.
   * @default process.env.FANOUT_DLQ_MAX_MESSAGE_BYTES (the stack sets 1,048,576 on groups whose topics take
   * messages above 256 KiB), else 262,144 (256 KiB, what every queue takes)
   */
  readonly deadLetterMaxMessageBytes?: number;
  /**
   * SQS client for DLQ sends and visibility changes.
   * @default a client configured from the environment
   */
  readonly sqsClient?: SQSClient;
  /**
   * S3 client that reads offloaded payloads (a record carrying an extended-client payload pointer, see
   * docs/LARGE-MESSAGES.md); it is only used, and only built, when such a record arrives.
   * @default a client configured from the environment (`AWS_ENDPOINT_URL_S3` works; path-style addressing then)
   */
  readonly s3Client?: S3Client;
}

/** The options of a consumer, checked and with their defaults. */
export interface ConsumerConfig {
  readonly concurrency: number;
  readonly backoff: Required<BackoffOptions> | undefined;
  readonly deadlineMarginMs: number;
  readonly abandonMarginMs: number;
  readonly store: IdempotencyStore | undefined;
  readonly keyOf: (envelope: Envelope) => string;
  readonly validatePayload: boolean;
  /** A fixed lease in ms, or `undefined` for the invocation's remaining time. */
  readonly leaseMs: number | undefined;
  /** The DLQ's largest message, in bytes. */
  readonly deadLetterMaxMessageBytes: number;
}

const DEFAULT_BACKOFF = { baseSeconds: 2, maxSeconds: 900 };

/** Checks the options of {@link consumer} and fills in the defaults; throws {@link ConfigError}. */
export function resolveConsumerConfig<T, D>(options: ConsumerOptions<T, D>): ConsumerConfig {
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
  const idempotency = options.idempotency === false ? undefined : (options.idempotency ?? {});
  const leaseSeconds = idempotency?.leaseSeconds;
  if (leaseSeconds !== undefined && !(Number.isFinite(leaseSeconds) && leaseSeconds > 0)) {
    throw new ConfigError(
      'idempotency.leaseSeconds',
      `must be a positive number of seconds (given ${leaseSeconds})`,
      "Leave it out to use the invocation's remaining time",
    );
  }
  return {
    concurrency,
    backoff,
    deadlineMarginMs: margin('deadlineMarginMs', options.deadlineMarginMs ?? 3000),
    abandonMarginMs: margin('abandonMarginMs', options.abandonMarginMs ?? 1000),
    store: idempotency && (idempotency.store ?? new IdempotencyStore(idempotency)),
    keyOf: idempotency?.key ?? ((envelope: Envelope) => envelope.id),
    validatePayload: idempotency?.validatePayload ?? true,
    leaseMs: leaseSeconds === undefined ? undefined : leaseSeconds * 1000,
    deadLetterMaxMessageBytes: deadLetterMaxMessageBytes(options.deadLetterMaxMessageBytes),
  };
}

/** The DLQ's largest message: the option, else {@link DEAD_LETTER_MAX_MESSAGE_BYTES_VARIABLE}, else 256 KiB. */
function deadLetterMaxMessageBytes(option: number | undefined): number {
  const fromEnvironment = process.env[DEAD_LETTER_MAX_MESSAGE_BYTES_VARIABLE];
  const [field, value] =
    option !== undefined
      ? ['deadLetterMaxMessageBytes', option]
      : fromEnvironment
        ? [DEAD_LETTER_MAX_MESSAGE_BYTES_VARIABLE, Number(fromEnvironment)]
        : ['deadLetterMaxMessageBytes', SQS_MAX_MESSAGE_BYTES];
  if (
    !(Number.isInteger(value) && value >= SQS_MIN_MAX_MESSAGE_BYTES && value <= SQS_RAISED_MAX_MESSAGE_BYTES)
  ) {
    throw new ConfigError(
      field,
      `must be a whole number of bytes from 1,024 to ${SQS_RAISED_MAX_MESSAGE_BYTES.toLocaleString('en-US')} (given ${option ?? fromEnvironment})`,
      "Use the DLQ's MaximumMessageSize, e.g. 262144 or 1048576",
    );
  }
  return value;
}

function margin(field: string, value: number): number {
  if (!(Number.isFinite(value) && value >= 0)) {
    throw new ConfigError(field, `must be a number of milliseconds ≥ 0 (given ${value})`, 'Use e.g. 1000');
  }
  return value;
}
