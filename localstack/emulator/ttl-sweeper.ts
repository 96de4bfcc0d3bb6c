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

async function sweepTable(
  db: DynamoDBClient,
  sdk: typeof import('@aws-sdk/client-dynamodb'),
  table: string,
  attribute: string,
  /** Whether `stop()` was called: the sweep ends after the current delete. */
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
    for (const item of page.Items ?? []) {
      if (stopping()) return removed;
      const key = Object.fromEntries(keys.map((k) => [k, item[k]]));
      try {
        await db.send(
          new sdk.DeleteItemCommand({
            TableName: table,
            Key: key,
            ConditionExpression: '#ttl < :now',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: now,
          }),
        );
        removed++;
      } catch (error) {
        if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
      }
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
