/** Measure 1: DynamoDB requests per processed record, fanout's consumer against Powertools makeIdempotent. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { consumer } from '../../lib/index.ts';
import { powertoolsHandler } from '../baselines.ts';
import { fanoutTable, powertoolsTable, sqsEvent, work } from '../fixtures.ts';
import { type BenchContext, type Comparison, compare, interleave } from '../harness.ts';
import { countRequests } from '../request-counter.ts';

/** Most requests per record: a claim each, and completions gathered into BatchWriteItem calls of 25. */
const GOALS = { 10: 1.1, 100: 1.05 } as const;

export async function dynamodbRequests(ctx: BenchContext): Promise<Comparison[]> {
  const rows: Comparison[] = [];
  for (const size of [10, 100] as const) {
    ctx.log(`DynamoDB requests per record, batch of ${size}`);
    const fanoutDb = new DynamoDBClient({});
    const ptDb = new DynamoDBClient({});
    const fanoutCount = countRequests(fanoutDb);
    const ptCount = countRequests(ptDb);
    const fanout = consumer({
      group: 'bench',
      idempotency: { tableName: await fanoutTable(fanoutDb), client: fanoutDb },
      handle: work(0),
      metrics: false,
    });
    const powertools = powertoolsHandler({
      tableName: await powertoolsTable(ptDb),
      client: ptDb,
      work: work(0),
    });
    const samples = await interleave(
      ctx.rounds,
      async () => {
        fanoutCount.reset();
        await fanout(sqsEvent(size));
        return fanoutCount.total() / size;
      },
      async () => {
        ptCount.reset();
        await powertools(sqsEvent(size));
        return ptCount.total() / size;
      },
    );
    rows.push(
      compare(`DynamoDB requests per record, batch of ${size}`, 'req/record', 'makeIdempotent', samples, {
        text: `≤ ${GOALS[size]} req/record`,
        met: (_ratio, fanout) => fanout <= GOALS[size],
      }),
    );
  }
  return rows;
}
