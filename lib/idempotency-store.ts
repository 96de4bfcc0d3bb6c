import { createHash } from 'node:crypto';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import stableStringify from 'safe-stable-stringify';
import { DYNAMODB_MAX_BATCH_WRITE_ITEMS, MAX_PARTITION_KEY_BYTES } from './aws-limits.ts';
import { IDEMPOTENCY_TABLE_VARIABLE } from './environment.ts';
import { ConfigError, IdempotencyKeyError, IdempotencyStoreError } from './errors.ts';

/** Attempts of a claim whose key keeps changing between the write and the read. */
const CLAIM_ATTEMPTS = 3;

/** Options of the DynamoDB idempotency store. */
export interface IdempotencyStoreOptions {
  /**
   * Name of the idempotency table (partition key `pk`, string; TTL attribute `expiresAt`).
   * @default process.env.FANOUT_IDEMPOTENCY_TABLE
   */
  readonly tableName?: string;
  /**
   * DynamoDB client to use.
   * @default a new client configured from the environment (`AWS_ENDPOINT_URL_DYNAMODB` works)
   */
  readonly client?: DynamoDBClient;
  /**
   * How long a COMPLETED key is remembered, in seconds: a duplicate arriving later runs again.
   * Set it longer than the longest time a duplicate can arrive (SQS retention, publisher retries).
   * @default 86400 (one day)
   */
  readonly completedTtlSeconds?: number;
}

/** Outcome of claiming a key. */
export type ClaimResult =
  /** The key is ours until `leaseExpiresAt` (epoch ms): run the handler, then complete or release it. */
  | { readonly status: 'claimed'; readonly leaseExpiresAt: number }
  /** The key was completed before: a duplicate. Ack without running the handler. */
  | { readonly status: 'completed' }
  /** Another invocation holds a live lease on the key: nack and retry later. */
  | { readonly status: 'in-progress'; readonly leaseExpiresAt: number }
  /** The key was used before for a different payload. */
  | { readonly status: 'payload-mismatch' };

/** What to write for a claimed key once its record has run. */
export interface KeyWrite {
  readonly key: string;
  /** `completed`: remember the key until the TTL. `released`: forget it so a retry can run at once. */
  readonly state: 'completed' | 'released';
  readonly payloadHash: string;
}

/** SHA-256 of a payload in canonical JSON (key order does not matter). */
export function payloadHash(data: unknown): string {
  return createHash('sha256')
    .update(stableStringify(data) ?? 'undefined')
    .digest('base64url');
}

/**
 * Idempotency keys in DynamoDB.
 *
 * Claims are one conditional `PutItem` each (the condition also takes over expired leases and
 * expired-but-not-yet-deleted items, and `ReturnValuesOnConditionCheckFailure` returns the
 * existing item, so a duplicate costs one request). Completions and releases go out together in
 * `BatchWriteItem` calls of up to 25 (the consumer gathers the records that finish together), so a
 * batch of N successful records costs about N + ⌈N/25⌉ requests instead of 2N.
 */
export class IdempotencyStore {
  readonly tableName: string;
  readonly client: DynamoDBClient;
  readonly completedTtlSeconds: number;

  constructor(options: IdempotencyStoreOptions = {}) {
    const tableName = options.tableName ?? process.env[IDEMPOTENCY_TABLE_VARIABLE];
    if (!tableName) {
      throw new ConfigError(
        'idempotency.tableName',
        'no idempotency table is configured',
        'Pass idempotency: { tableName } or set FANOUT_IDEMPOTENCY_TABLE (the stack sets it for you)',
      );
    }
    const ttl = options.completedTtlSeconds ?? 86_400;
    if (!Number.isFinite(ttl) || ttl <= 0) {
      throw new ConfigError(
        'idempotency.completedTtlSeconds',
        `must be a positive number of seconds (given ${ttl})`,
        'Use e.g. 86400 for one day',
      );
    }
    this.tableName = tableName;
    this.client = options.client ?? new DynamoDBClient({});
    this.completedTtlSeconds = ttl;
  }

  /**
   * Builds the table key for `key` in consumer group `group` (`group#key`).
   * @throws IdempotencyKeyError when the key is empty or longer than DynamoDB allows.
   */
  static tableKey(group: string, key: string): string {
    if (typeof key !== 'string' || key.length === 0) {
      throw new IdempotencyKeyError(
        `the idempotency key of group '${group}' is empty; derive it from a field every event has (default: the event id)`,
      );
    }
    const tableKey = `${group}#${key}`;
    const bytes = Buffer.byteLength(tableKey, 'utf8');
    if (bytes > MAX_PARTITION_KEY_BYTES) {
      throw new IdempotencyKeyError(
        `the idempotency key '${key.slice(0, 40)}…' of group '${group}' is ${bytes} bytes with its group prefix; ` +
          `DynamoDB allows ${MAX_PARTITION_KEY_BYTES}. Derive a shorter key, e.g. a hash of the long one`,
      );
    }
    return tableKey;
  }

  /**
   * Claims `key` (a table key from {@link IdempotencyStore.tableKey}) with a lease of `leaseMs`.
   * `signal` aborts the call (the consumer passes its time budget).
   */
  async claim(
    key: string,
    hash: string,
    leaseMs: number,
    options: { now?: number; signal?: AbortSignal } = {},
  ): Promise<ClaimResult> {
    const now = options.now ?? Date.now();
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      try {
        await this.client.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: {
              pk: { S: key },
              status: { S: 'IN_PROGRESS' },
              leaseExpiresAt: { N: String(now + leaseMs) },
              expiresAt: { N: String(Math.ceil((now + leaseMs) / 1000) + this.completedTtlSeconds) },
              payloadHash: { S: hash },
            },
            ConditionExpression:
              'attribute_not_exists(pk) OR (#status = :inProgress AND leaseExpiresAt < :now) OR expiresAt < :nowSeconds',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: {
              ':inProgress': { S: 'IN_PROGRESS' },
              ':now': { N: String(now) },
              ':nowSeconds': { N: String(Math.floor(now / 1000)) },
            },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
          { abortSignal: options.signal },
        );
        return { status: 'claimed', leaseExpiresAt: now + leaseMs };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        // DynamoDB returns the item that failed the condition; emulators that do not need a read.
        const existing = error.Item ?? (await this.read(key, options.signal));
        if (existing === undefined) continue; // released between our write and read: claim again
        return classify(existing, hash);
      }
    }
    throw new IdempotencyStoreError(
      `idempotency key '${key}' kept changing while it was being claimed (${CLAIM_ATTEMPTS} attempts); the record is retried`,
    );
  }

  /**
   * Extends a lease this caller holds to `newLeaseExpiresAt`, for a handler that runs longer than half
   * its lease. `heldExpiries` are the expiries it may have written (the claim's, and a renewal whose
   * answer was lost). Resolves `false` when the key is no longer held with one of them (the lease
   * expired and another delivery took the key over).
   */
  async renewLease(
    key: string,
    heldExpiries: readonly number[],
    newLeaseExpiresAt: number,
    options: { signal?: AbortSignal } = {},
  ): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { pk: { S: key } },
          UpdateExpression: 'SET leaseExpiresAt = :new, expiresAt = :expires',
          ConditionExpression: `#status = :inProgress AND leaseExpiresAt IN (${heldExpiries.map((_, n) => `:held${n}`).join(', ')})`,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':new': { N: String(newLeaseExpiresAt) },
            ':expires': { N: String(Math.ceil(newLeaseExpiresAt / 1000) + this.completedTtlSeconds) },
            ':inProgress': { S: 'IN_PROGRESS' },
            ...Object.fromEntries(heldExpiries.map((expiry, n) => [`:held${n}`, { N: String(expiry) }])),
          },
        }),
        { abortSignal: options.signal },
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Writes up to 25 completions and releases in one `BatchWriteItem` call and resolves with the keys
   * DynamoDB left unprocessed (retrying them is the caller's choice). Completion is unconditional:
   * the caller holds the lease.
   */
  async writeKeys(
    writes: readonly KeyWrite[],
    options: { now?: number; signal?: AbortSignal } = {},
  ): Promise<Set<string>> {
    if (writes.length > DYNAMODB_MAX_BATCH_WRITE_ITEMS) {
      throw new IdempotencyStoreError(
        `writeKeys takes at most ${DYNAMODB_MAX_BATCH_WRITE_ITEMS} keys (given ${writes.length}); split the writes`,
      );
    }
    const now = options.now ?? Date.now();
    const byKey = new Map(writes.map((w) => [w.key, w]));
    const requests: WriteRequest[] = [...byKey.values()].map((w) =>
      w.state === 'completed'
        ? {
            PutRequest: {
              Item: {
                pk: { S: w.key },
                status: { S: 'COMPLETED' },
                expiresAt: { N: String(Math.ceil(now / 1000) + this.completedTtlSeconds) },
                payloadHash: { S: w.payloadHash },
              },
            },
          }
        : { DeleteRequest: { Key: { pk: { S: w.key } } } },
    );
    if (requests.length === 0) return new Set();
    const result = await this.client.send(
      new BatchWriteItemCommand({ RequestItems: { [this.tableName]: requests } }),
      { abortSignal: options.signal },
    );
    const unprocessed = result.UnprocessedItems?.[this.tableName] ?? [];
    return new Set(
      unprocessed.map((r) => r.PutRequest?.Item?.pk?.S ?? r.DeleteRequest?.Key?.pk?.S ?? '').filter(Boolean),
    );
  }

  private async read(key: string, signal?: AbortSignal): Promise<Record<string, AttributeValue> | undefined> {
    const result = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: { pk: { S: key } }, ConsistentRead: true }),
      { abortSignal: signal },
    );
    return result.Item;
  }
}

function classify(item: Record<string, AttributeValue>, hash: string): ClaimResult {
  const storedHash = item.payloadHash?.S;
  // '' means "not compared" (validatePayload: false), on either side.
  if (storedHash && hash && storedHash !== hash) return { status: 'payload-mismatch' };
  if (item.status?.S === 'COMPLETED') return { status: 'completed' };
  return { status: 'in-progress', leaseExpiresAt: Number(item.leaseExpiresAt?.N ?? 0) };
}
