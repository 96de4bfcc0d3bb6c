import { createHash } from 'node:crypto';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import stableStringify from 'safe-stable-stringify';
import { exponentialBackoff } from './backoff.ts';
import { ConfigError, IdempotencyKeyError } from './errors.ts';

/** DynamoDB's limit on a partition key value, in bytes. */
export const MAX_PARTITION_KEY_BYTES = 2048;
/** BatchWriteItem takes at most this many requests. */
const BATCH_WRITE_LIMIT = 25;
const SETTLE_ATTEMPTS = 5;

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
  /** The key is ours: run the handler, then settle it. */
  | { readonly status: 'claimed' }
  /** The key was completed before: a duplicate. Ack without running the handler. */
  | { readonly status: 'completed' }
  /** Another invocation holds a live lease on the key: nack and retry later. */
  | { readonly status: 'in-progress'; readonly leaseExpiresAt: number }
  /** The key was used before for a different payload. */
  | { readonly status: 'payload-mismatch' };

/** What to do with a claimed key once its record is settled. */
export interface Settlement {
  readonly key: string;
  /** `completed`: remember the key until the TTL. `released`: forget it so a retry can run at once. */
  readonly outcome: 'completed' | 'released';
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
 * existing item, so a duplicate costs one request). Settlements of a whole batch, completions and
 * releases alike, go out together in `BatchWriteItem` calls of 25: a batch of N successful records
 * costs N + ⌈N/25⌉ requests instead of 2N.
 */
export class IdempotencyStore {
  readonly tableName: string;
  readonly client: DynamoDBClient;
  readonly completedTtlSeconds: number;

  constructor(options: IdempotencyStoreOptions = {}) {
    const tableName = options.tableName ?? process.env.FANOUT_IDEMPOTENCY_TABLE;
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

  /** Claims `key` (a table key from {@link IdempotencyStore.tableKey}) with a lease of `leaseMs`. */
  async claim(key: string, hash: string, leaseMs: number, now: number = Date.now()): Promise<ClaimResult> {
    for (let attempt = 0; attempt < 3; attempt++) {
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
        );
        return { status: 'claimed' };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        // DynamoDB returns the item that failed the condition; emulators that do not need a read.
        const existing = error.Item ?? (await this.read(key));
        if (existing === undefined) continue; // released between our write and read: claim again
        return classify(existing, hash);
      }
    }
    throw new Error(`idempotency key '${key}' kept changing while it was being claimed`);
  }

  /**
   * Completes and releases the keys of a batch in as few `BatchWriteItem` calls as possible,
   * retrying unprocessed items with backoff. Completion is unconditional: the caller holds the lease.
   */
  async settle(settlements: readonly Settlement[], now: number = Date.now()): Promise<void> {
    const byKey = new Map(settlements.map((s) => [s.key, s]));
    const requests: WriteRequest[] = [...byKey.values()].map((s) =>
      s.outcome === 'completed'
        ? {
            PutRequest: {
              Item: {
                pk: { S: s.key },
                status: { S: 'COMPLETED' },
                expiresAt: { N: String(Math.ceil(now / 1000) + this.completedTtlSeconds) },
                payloadHash: { S: s.payloadHash },
              },
            },
          }
        : { DeleteRequest: { Key: { pk: { S: s.key } } } },
    );
    for (let i = 0; i < requests.length; i += BATCH_WRITE_LIMIT) {
      await this.writeAll(requests.slice(i, i + BATCH_WRITE_LIMIT));
    }
  }

  private async writeAll(requests: WriteRequest[]): Promise<void> {
    let pending = requests;
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > 1) {
        if (attempt > SETTLE_ATTEMPTS) {
          throw new Error(
            `DynamoDB left ${pending.length} idempotency writes unprocessed after ${SETTLE_ATTEMPTS} attempts on table '${this.tableName}'; raise its capacity`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, exponentialBackoff(attempt - 1, 50, 1000)));
      }
      const result = await this.client.send(
        new BatchWriteItemCommand({ RequestItems: { [this.tableName]: pending } }),
      );
      pending = result.UnprocessedItems?.[this.tableName] ?? [];
    }
  }

  private async read(key: string): Promise<Record<string, AttributeValue> | undefined> {
    const result = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: { pk: { S: key } }, ConsistentRead: true }),
    );
    return result.Item;
  }
}

function classify(item: Record<string, AttributeValue>, hash: string): ClaimResult {
  const storedHash = item.payloadHash?.S;
  if (storedHash !== undefined && storedHash !== hash) return { status: 'payload-mismatch' };
  if (item.status?.S === 'COMPLETED') return { status: 'completed' };
  return { status: 'in-progress', leaseExpiresAt: Number(item.leaseExpiresAt?.N ?? 0) };
}
