/**
 * Large payloads through S3 (the "claim check" of AWS's extended clients): the publisher writes a
 * payload too large for the topic to the payload bucket and publishes a pointer instead
 * (lib/payload-pointer.ts); the consumer reads the payload back before anything else looks at it.
 * Objects are never deleted here: every consumer group reads the same object, so a bucket lifecycle
 * rule expires them (see docs/LARGE-MESSAGES.md).
 */
import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { MessageAttributeValue } from '@aws-sdk/client-sns';
import { PAYLOAD_BUCKET_VARIABLE } from './environment.ts';
import { ConfigError, PayloadUnavailableError, PoisonMessageError } from './errors.ts';
import {
  EXTENDED_PAYLOAD_SIZE_ATTRIBUTE,
  findPointer,
  LEGACY_PAYLOAD_SIZE_ATTRIBUTE,
  type PayloadPointer,
  pointerAttribute,
  pointerBody,
} from './payload-pointer.ts';

/** When a publisher offloads a payload to S3. */
export type OffloadMode =
  /** Only a message larger than the topic's limit (body plus attributes). */
  | 'oversize'
  /** Every message (as the extended clients' `alwaysThroughS3`). */
  | 'always';

/** Large-payload options of a {@link Publisher}. */
export interface LargePayloadOptions {
  /**
   * The bucket payloads are written to.
   * @default process.env.FANOUT_PAYLOAD_BUCKET (set by the stack and by fanout/local on topics with largePayloads)
   */
  readonly bucket?: string;
  /**
   * Which messages go through S3.
   * @default 'oversize'
   */
  readonly mode?: OffloadMode;
  /**
   * Prefix of the object keys (the key is the prefix plus a random UUID, as the extended clients do).
   * @default ''
   */
  readonly keyPrefix?: string;
  /**
   * S3 client to write with.
   * @default a client configured from the environment (`AWS_ENDPOINT_URL_S3` works; path-style addressing then)
   */
  readonly client?: S3Client;
}

let s3Package: Promise<typeof import('@aws-sdk/client-s3')> | undefined;

/**
 * The S3 client package, imported on first use: a consumer or publisher that never meets a large
 * payload never pays for loading it (about 50 ms of a cold start).
 */
function loadS3Package(): Promise<typeof import('@aws-sdk/client-s3')> {
  s3Package ??= import('@aws-sdk/client-s3').catch((error: unknown) => {
    s3Package = undefined; // not cached: the next use tries again
    throw error;
  });
  return s3Package;
}

/**
 * An S3 client from the environment. With a custom endpoint (`AWS_ENDPOINT_URL_S3` or
 * `AWS_ENDPOINT_URL`: an emulator) it addresses buckets path-style, which emulators need.
 * Asynchronous because `@aws-sdk/client-s3` is loaded on first use.
 */
export async function createS3Client(env: NodeJS.ProcessEnv = process.env): Promise<S3Client> {
  const { S3Client } = await loadS3Package();
  const custom = Boolean(env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL);
  return new S3Client(custom ? { forcePathStyle: true } : {});
}

/** A message body and attributes as the publisher sends them. */
export interface OutgoingMessage {
  readonly body: string;
  readonly attributes: Record<string, MessageAttributeValue>;
}

/** Writes payloads for a publisher and turns messages into pointer messages. */
export class PayloadOffloader {
  readonly bucket: string;
  readonly mode: OffloadMode;
  readonly keyPrefix: string;
  private readonly given: S3Client | undefined;
  private created: Promise<S3Client> | undefined;

  constructor(options: LargePayloadOptions) {
    const bucket = options.bucket ?? process.env[PAYLOAD_BUCKET_VARIABLE];
    if (!bucket) {
      throw new ConfigError(
        'largePayloads.bucket',
        `no payload bucket is given and ${PAYLOAD_BUCKET_VARIABLE} is not set`,
        `Pass largePayloads: { bucket: 'my-payloads' }, or set ${PAYLOAD_BUCKET_VARIABLE} (the stack and fanout/local set it for topics with largePayloads: true)`,
      );
    }
    const mode = options.mode ?? 'oversize';
    if (mode !== 'oversize' && mode !== 'always') {
      throw new ConfigError(
        'largePayloads.mode',
        `must be 'oversize' or 'always' (given ${JSON.stringify(mode)})`,
        "Use 'oversize' to offload only messages over the topic's limit",
      );
    }
    this.bucket = bucket;
    this.mode = mode;
    this.keyPrefix = options.keyPrefix ?? '';
    // The rule of AWS's extended clients, so the keys they read and fanout writes agree.
    if (
      this.keyPrefix.length > 988 ||
      !/^[A-Za-z0-9./_-]*$/.test(this.keyPrefix) ||
      /^[./]/.test(this.keyPrefix) ||
      this.keyPrefix.includes('..')
    ) {
      throw new ConfigError(
        'largePayloads.keyPrefix',
        `must be at most 988 letters, digits, '.', '/', '_' or '-', not starting with '.' or '/' and without '..' (given ${JSON.stringify(this.keyPrefix)})`,
        "Use e.g. 'payloads/'",
      );
    }
    this.given = options.client;
  }

  /** The client given in the options, or one made from the environment on first use. */
  private client(): Promise<S3Client> {
    if (this.given) return Promise.resolve(this.given);
    this.created ??= createS3Client().catch((error: unknown) => {
      this.created = undefined;
      throw error;
    });
    return this.created;
  }

  /** Whether a message of `bytes` (body plus attributes) goes through S3 on a topic of `limit`. */
  shouldOffload(bytes: number, limit: number): boolean {
    return this.mode === 'always' || bytes > limit;
  }

  /**
   * Writes the body to S3 (one PutObject) and answers the pointer message: the pointer body and the
   * original attributes plus the `ExtendedPayloadSize` marker.
   * @throws PayloadUnavailableError when the write fails.
   */
  async offload(message: OutgoingMessage): Promise<OutgoingMessage> {
    const key = `${this.keyPrefix}${randomUUID()}`;
    const payload = Buffer.from(message.body, 'utf8');
    try {
      const [client, { PutObjectCommand }] = await Promise.all([this.client(), loadS3Package()]);
      await client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: payload,
          ContentType: 'application/json',
        }),
      );
    } catch (error) {
      throw new PayloadUnavailableError('write', this.bucket, key, error);
    }
    return {
      body: pointerBody({ bucket: this.bucket, key }),
      attributes: { ...message.attributes, ...pointerAttribute(payload.length) },
    };
  }
}

/** Whether user attributes take a name the pointer format reserves. */
export function reservedPayloadAttribute(names: Iterable<string>): string | undefined {
  for (const name of names) {
    if (name === EXTENDED_PAYLOAD_SIZE_ATTRIBUTE || name === LEGACY_PAYLOAD_SIZE_ATTRIBUTE) return name;
  }
  return undefined;
}

/**
 * Reads an offloaded payload (one GetObject), bounded by `signal`.
 * @throws PoisonMessageError (`payload-missing`) when the object does not exist (NoSuchKey): retrying
 *   cannot bring it back.
 * @throws PayloadUnavailableError for any other failure (throttling, 5xx, timeout, abort): retried.
 */
export async function fetchPayload(
  client: S3Client,
  pointer: PayloadPointer,
  signal: AbortSignal,
): Promise<string> {
  try {
    const { GetObjectCommand } = await loadS3Package();
    const answer = await client.send(new GetObjectCommand({ Bucket: pointer.bucket, Key: pointer.key }), {
      abortSignal: signal,
    });
    if (!answer.Body) throw new Error('GetObject answered without a body');
    return await untilAborted(answer.Body.transformToString('utf-8'), signal);
  } catch (error) {
    const name = (error as Error)?.name;
    // Only a missing key is final, as in AWS's extended clients; a missing bucket is a misconfiguration
    // (or a bucket not created yet) that retries may outlive, so it is nacked like any other failure.
    if (!signal.aborted && name === 'NoSuchKey') {
      throw new PoisonMessageError(
        'payload-missing',
        `the offloaded payload s3://${pointer.bucket}/${pointer.key} does not exist (${name}); it may have expired before the message was read, or been deleted`,
      );
    }
    throw new PayloadUnavailableError(
      'read',
      pointer.bucket,
      pointer.key,
      signal.aborted ? signal.reason : error,
    );
  }
}

/** `promise`, or the signal's reason once it fires (a body stream that stalls cannot hold the caller). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Where a consumer reads offloaded payloads: the client (built on first use) and each read's signal. */
export interface PayloadSource {
  readonly client: () => Promise<S3Client>;
  /** The abort signal of one read: the invocation's time budget. */
  readonly signal: () => AbortSignal;
}

/** A record's body and attributes, in the Lambda record's shape. */
interface RecordLike {
  readonly body: string;
  readonly messageAttributes?: Readonly<Record<string, unknown>>;
}

/**
 * The record with its offloaded payload in place of the pointer (the same record when its payload is
 * inline). Raw delivery and the SNS notification wrapper are both read.
 * @throws PoisonMessageError (`payload-missing`, `unparseable-body`) or PayloadUnavailableError (retry).
 */
export async function resolvePayload<R extends RecordLike>(record: R, source: PayloadSource): Promise<R> {
  const found = findPointer(record);
  if (!found) return record;
  const { bucket, key } = found.pointer;
  // A client that cannot be made (the S3 package failed to load) is a failed read: retried, never poison.
  const client = await source.client().catch((error: unknown) => {
    throw new PayloadUnavailableError('read', bucket, key, error);
  });
  const payload = await fetchPayload(client, found.pointer, source.signal());
  return { ...record, body: found.withPayload(payload) };
}
