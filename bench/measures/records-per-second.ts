/**
 * Measure 3: records per second through a consumer with DynamoDB idempotency, one batch of 10 after the
 * other (as one Lambda instance takes them), fanout against Powertools BatchProcessor + makeIdempotent.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { consumer } from '../../lib/index.ts';
import { powertoolsHandler } from '../baselines.ts';
import { fanoutTable, powertoolsTable, sqsEvent, work } from '../fixtures.ts';
import { type BenchContext, type Comparison, compare, interleave, timed } from '../harness.ts';

/** Handler work per record, in ms: none, and 5 ms of awaited I/O. */
export const HANDLER_MS = [0, 5] as const;

/**
 * `makeConsumer` is fanout's `consumer` unless given (an experiment may pass an older build's, with
 * the same options).
 */
export async function recordsPerSecond(
  ctx: BenchContext,
  makeConsumer: typeof consumer = consumer,
): Promise<Comparison[]> {
  const rows: Comparison[] = [];
  const batches = ctx.quick ? 10 : 100;
  for (const ms of HANDLER_MS) {
    ctx.log(`records/s with idempotency, ${ms} ms handler`);
    const db = new DynamoDBClient({});
    const fanout = makeConsumer({
      group: 'bench',
      idempotency: { tableName: await fanoutTable(db), client: db },
      handle: work(ms),
      metrics: false,
    });
    const powertools = powertoolsHandler({
      tableName: await powertoolsTable(db),
      client: db,
      work: work(ms),
    });
    const rate = (handler: (event: SQSEvent) => Promise<unknown>) => async () => {
      const events = Array.from({ length: batches }, () => sqsEvent(10));
      const elapsed = await timed(async () => {
        for (const event of events) await handler(event);
      });
      return (batches * 10) / (elapsed / 1000);
    };
    const samples = await interleave(ctx.rounds, rate(fanout), rate(powertools));
    rows.push(
      compare(
        `records/s with idempotency, ${ms ? `${ms} ms` : 'no-op'} handler, batches of 10`,
        'records/s',
        'BatchProcessor + makeIdempotent',
        samples,
        { text: '≥ 1.5×', met: (r) => r >= 1.5 },
      ),
    );
  }
  return rows;
}
