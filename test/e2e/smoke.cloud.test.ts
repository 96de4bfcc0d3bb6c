import { describe, expect, it } from 'vitest';
import { consumer, Publisher } from '../../lib/index.ts';
import { ensureSubscription, ensureTopic } from '../../localstack/provisioning/resources.ts';
import { clients, groupQueue, idempotencyTable, receiveExactly, uniqueName } from '../helpers/cloud.ts';

describe('smoke', () => {
  it('publishes through SNS and consumes with idempotency', async () => {
    const { sns } = clients();
    const topicArn = await ensureTopic(sns, uniqueName('orders'));
    const { queue, group } = await groupQueue();
    await ensureSubscription(sns, topicArn, queue.arn);
    const table = await idempotencyTable();
    const publisher = new Publisher({ topicArn, source: 'test' });
    const env = await publisher.publish({ type: 'OrderPlaced', data: { orderId: 'o-1' } });
    const records = await receiveExactly(queue, 1);
    const seen: unknown[] = [];
    const handler = consumer({
      group,
      handle: (data) => void seen.push(data),
      idempotency: { tableName: table },
    });
    const response = await handler({ Records: records });
    expect(response.batchItemFailures).toEqual([]);
    expect(seen).toEqual([{ orderId: 'o-1' }]);
    const again = await handler({ Records: records });
    expect(again.batchItemFailures).toEqual([]);
    expect(seen).toHaveLength(1);
    expect(records[0].messageAttributes.type?.stringValue).toBe('OrderPlaced');
    expect(JSON.parse(records[0].body).id).toBe(env.id);
  });
});
