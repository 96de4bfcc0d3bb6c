/**
 * DynamoDB's TTL for the local cloud: dynalite has none (no UpdateTimeToLive, nothing ever expires), so
 * without this an idempotency table grows by one item per event for as long as the local cloud runs.
 * Every `intervalMs` the sweeper scans each table for items whose TTL attribute (a number, epoch
 * seconds, as on DynamoDB) is in the past and deletes them, each delete conditional on the item still
 * being expired (an item taken over and renewed meanwhile stays). Like DynamoDB, it removes expired
 * items some time after they expire, not at once.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** Settings of {@link startTtlSweeper}. */
export interface TtlSweeperOptions {
  /** The local DynamoDB endpoint (dynalite). */
  readonly endpoint: string;
  readonly region: string;
  /** The TTL attribute; items without it, or with a non-number value, are never removed. */
  readonly attribute: string;
  /** Time between the end of one sweep and the start of the next. */
  readonly intervalMs: number;
}

/** A running sweeper. */
export interface TtlSweeper {
  /** Items removed since the start. */
  readonly removed: () => number;
  /** Stops the timer and waits for a sweep under way. */
  stop(): Promise<void>;
}

/**
 * Conditional deletes in flight at once: one at a time, a sweep removed about 200 items/s under load
 * (`npm run bench -- --scale`), fewer than a busy consumer writes; a few at once keep up.
 */
const DELETES_AT_ONCE = 8;

/** Deletes the item when it is still expired; `false` when it was renewed or taken over meanwhile. */
async function deleteIfExpired(
  db: DynamoDBClient,
  sdk: typeof import('@aws-sdk/client-dynamodb'),
  input: import('@aws-sdk/client-dynamodb').DeleteItemCommandInput,
): Promise<boolean> {
  try {
    await db.send(new sdk.DeleteItemCommand(input));
    return true;
  } catch (error) {
    if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
    return false;
  }
}

async function sweepTable(
  db: DynamoDBClient,
  sdk: typeof import('@aws-sdk/client-dynamodb'),
  table: string,
  attribute: string,
  /** Whether `stop()` was called: the sweep ends after the deletes under way. */
  stopping: () => boolean,
) {
  const { Table } = await db.send(new sdk.DescribeTableCommand({ TableName: table }));
  const keys = (Table?.KeySchema ?? []).map((k) => k.AttributeName as string);
  const now = { ':now': { N: String(Math.floor(Date.now() / 1000)) } };
  const names = { '#ttl': attribute };
  let removed = 0;
  let start: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined;
  do {
    const page = await db.send(
      new sdk.ScanCommand({
        TableName: table,
        FilterExpression: '#ttl < :now',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: now,
        ExclusiveStartKey: start,
      }),
    );
    const items = page.Items ?? [];
    for (let first = 0; first < items.length; first += DELETES_AT_ONCE) {
      if (stopping()) return removed;
      const deletes = items.slice(first, first + DELETES_AT_ONCE).map((item) =>
        deleteIfExpired(db, sdk, {
          TableName: table,
          Key: Object.fromEntries(keys.map((k) => [k, item[k]])),
          ConditionExpression: '#ttl < :now',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: now,
        }),
      );
      const settled = await Promise.allSettled(deletes);
      removed += settled.filter((d) => d.status === 'fulfilled' && d.value).length;
      const failed = settled.find((d) => d.status === 'rejected');
      if (failed) throw failed.reason;
    }
    start = page.LastEvaluatedKey;
  } while (start && !stopping());
  return removed;
}

/** Starts sweeping the tables of the DynamoDB at `endpoint`; the timer does not keep the process alive. */
export function startTtlSweeper(options: TtlSweeperOptions): TtlSweeper {
  let removed = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let client: { db: DynamoDBClient; sdk: typeof import('@aws-sdk/client-dynamodb') } | undefined;

  const sweep = async () => {
    if (!client) {
      const sdk = await import('@aws-sdk/client-dynamodb');
      const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
      client = {
        sdk,
        db: new sdk.DynamoDBClient({ endpoint: options.endpoint, region: options.region, credentials }),
      };
    }
    const { db, sdk } = client;
    let after: string | undefined;
    do {
      const page = await db.send(new sdk.ListTablesCommand({ ExclusiveStartTableName: after }));
      for (const table of page.TableNames ?? []) {
        if (stopped) return;
        // A table deleted during the sweep, or one being created: the next sweep sees it again.
        removed += await sweepTable(db, sdk, table, options.attribute, () => stopped).catch(() => 0);
      }
      after = page.LastEvaluatedTableName;
    } while (after);
  };
  const schedule = () => {
    timer = setTimeout(() => {
      running = sweep()
        .catch(() => {})
        .finally(() => {
          if (!stopped) schedule();
        });
    }, options.intervalMs);
    timer.unref();
  };
  schedule();
  return {
    removed: () => removed,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      client?.db.destroy();
    },
  };
}
