import { DynamoDBClient, ScanCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { HandlerContext } from '../../lib/index.ts';

/**
 * The variable the example handlers read the effects table's name from: set by the reference stack
 * (`infra/fanout-stack.ts`) and, locally, by the demo's setup (`cli/demo/example-setup.ts`).
 */
export const EFFECTS_TABLE_VARIABLE = 'FANOUT_EFFECTS_TABLE';

/**
 * Where the example handlers record their side effects, so that "applied exactly once" can be
 * checked from outside: one item per (group, event) whose `applied` counter is ADDed to on every
 * application (a duplicate effect shows as 2), and per-key streams for order checks.
 * Keys start with the group name, which the stack's IAM policy restricts each function to.
 *
 * The ledger is the demo's instrument, not part of the example's work: where no table is set (a plain
 * `fanout dev` of this repository, a stack built with `effectsTable: false`) the handlers run and nothing
 * is recorded.
 */
export class EffectsLedger {
  readonly tableName: string | undefined;
  readonly client: DynamoDBClient;

  constructor(tableName = process.env[EFFECTS_TABLE_VARIABLE], client = new DynamoDBClient({})) {
    this.tableName = tableName || undefined;
    this.client = client;
  }

  /** Records one application of the current event's effect (nothing without a table). */
  async record(context: HandlerContext, summary: string): Promise<void> {
    if (!this.tableName) return;
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: `${context.group}#${context.envelope.id}` } },
        UpdateExpression: 'ADD applied :one SET summary = :summary, eventType = :type',
        ExpressionAttributeValues: {
          ':one': { N: '1' },
          ':summary': { S: summary },
          ':type': { S: context.envelope.type },
        },
      }),
    );
  }

  /** Appends `value` to the ordered stream `stream` of the group (e.g. an account's postings); nothing without a table. */
  async append(context: HandlerContext, stream: string, value: number): Promise<void> {
    if (!this.tableName) return;
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: `${context.group}#stream#${stream}` } },
        UpdateExpression: 'SET entries = list_append(if_not_exists(entries, :empty), :value)',
        ExpressionAttributeValues: { ':empty': { L: [] }, ':value': { L: [{ N: String(value) }] } },
      }),
    );
  }

  /** Every recorded effect: `group#eventId` → times applied, and streams `group#stream#key` → entries. */
  async readAll(): Promise<{ applied: Map<string, number>; streams: Map<string, number[]> }> {
    if (!this.tableName)
      throw new Error(
        `${EFFECTS_TABLE_VARIABLE} is not set, so there is no effects table to read: pass the table's name, or run the demo's setup (cli/demo/example-setup.ts)`,
      );
    const applied = new Map<string, number>();
    const streams = new Map<string, number[]>();
    let start: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({ TableName: this.tableName, ConsistentRead: true, ExclusiveStartKey: start }),
      );
      for (const item of page.Items ?? []) {
        const pk = item.pk?.S ?? '';
        if (item.entries?.L)
          streams.set(
            pk,
            item.entries.L.map((v) => Number(v.N)),
          );
        else applied.set(pk, Number(item.applied?.N ?? 0));
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return { applied, streams };
  }
}
