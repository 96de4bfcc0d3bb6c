import {
  ConditionalCheckFailedException,
  DescribeTimeToLiveCommand,
  PutItemCommand,
  UpdateItemCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  type Check,
  type CheckOutcome,
  describeError,
  no,
  type ProbeContext,
  partial,
  probeTable,
  yes,
} from './support.ts';

// DynamoDB behaviours the idempotency store relies on. Each check owns its table.

/** Runs `write`; true when it was refused with ConditionalCheckFailedException, false when it passed. */
async function refused(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return false;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return true;
    throw error;
  }
}

const claim = (ctx: ProbeContext, table: string, pk: string) =>
  ctx.dynamodb.send(
    new PutItemCommand({
      TableName: table,
      Item: { pk: { S: pk }, status: { S: 'IN_PROGRESS' } },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
    ctx.opts,
  );

const complete = (ctx: ProbeContext, table: string, pk: string, expected: string) =>
  ctx.dynamodb.send(
    new UpdateItemCommand({
      TableName: table,
      Key: { pk: { S: pk } },
      UpdateExpression: 'SET #s = :done',
      ConditionExpression: '#s = :expected',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':done': { S: 'COMPLETED' }, ':expected': { S: expected } },
    }),
    ctx.opts,
  );

const conditionalWrites: Check = {
  id: 'conditional-writes',
  behaviour: 'conditional writes (PutItem, UpdateItem)',
  async run(ctx) {
    const table = await probeTable(ctx, 'conditional');
    const outcomes = [
      ['first claim passes', !(await refused(() => claim(ctx, table, 'k1')))],
      ['second claim refused', await refused(() => claim(ctx, table, 'k1'))],
      ['update on a wrong status refused', await refused(() => complete(ctx, table, 'k1', 'COMPLETED'))],
      [
        'update on the right status passes',
        !(await refused(() => complete(ctx, table, 'k1', 'IN_PROGRESS'))),
      ],
    ] as const;
    const wrong = outcomes.filter(([, held]) => !held).map(([what]) => what);
    if (wrong.length === 0) return yes('attribute_not_exists and attribute comparisons enforced');
    return wrong.length === outcomes.length
      ? no(`not enforced: ${wrong.join('; ')}`)
      : partial(`not so: ${wrong.join('; ')}`);
  },
};

const returnValuesOnFailure: Check = {
  id: 'return-values-on-condition-check-failure',
  behaviour: 'ReturnValuesOnConditionCheckFailure',
  async run(ctx): Promise<CheckOutcome> {
    const table = await probeTable(ctx, 'rvoccf');
    await claim(ctx, table, 'k1');
    try {
      await ctx.dynamodb.send(
        new PutItemCommand({
          TableName: table,
          Item: { pk: { S: 'k1' }, status: { S: 'IN_PROGRESS' } },
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
        ctx.opts,
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException))
        return { result: 'error', detail: describeError(error) };
      const item = error.Item;
      if (item?.pk?.S === 'k1' && item.status?.S === 'IN_PROGRESS')
        return yes('the refused write returns the existing item');
      return no(
        item
          ? 'the refused write returns a different item'
          : 'ConditionalCheckFailedException without the item',
      );
    }
    return { result: 'error', detail: 'the write was not refused although the key exists' };
  },
};

const timeToLive: Check = {
  id: 'ttl',
  behaviour: 'TTL (UpdateTimeToLive / DescribeTimeToLive)',
  async run(ctx) {
    // ensureIdempotencyTable enables TTL on `expiresAt` where the endpoint accepts it.
    const table = await probeTable(ctx, 'ttl');
    const describe = async () => {
      const { TimeToLiveDescription: d } = await ctx.dynamodb.send(
        new DescribeTimeToLiveCommand({ TableName: table }),
        ctx.opts,
      );
      return `${d?.TimeToLiveStatus ?? 'no status'}${d?.AttributeName ? ` on ${d.AttributeName}` : ''}`;
    };
    let status: string;
    try {
      status = await describe();
    } catch (error) {
      return no(`DescribeTimeToLive: ${describeError(error)}`);
    }
    if (/^ENABL/.test(status)) return yes(`UpdateTimeToLive accepted; DescribeTimeToLive: ${status}`);
    try {
      await ctx.dynamodb.send(
        new UpdateTimeToLiveCommand({
          TableName: table,
          TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        }),
        ctx.opts,
      );
    } catch (error) {
      return no(`UpdateTimeToLive: ${describeError(error)}`);
    }
    return partial(`UpdateTimeToLive accepted but DescribeTimeToLive says ${await describe()}`);
  },
};

export const tableChecks: readonly Check[] = [conditionalWrites, returnValuesOnFailure, timeToLive];
