import { randomUUID } from 'node:crypto';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { EffectsLedger } from '../../functions/shared/effects-ledger.ts';
import {
  createSqsClient,
  type Envelope,
  POISON_REASON_ATTRIBUTE,
  Publisher,
  type PublishInput,
  readAllMessages,
} from '../../lib/index.ts';
import type { ProvisionedStack } from '../../localstack/index.ts';
import { type GroupFigures, readFigures } from '../queue-figures.ts';
import { exampleEffectsTable } from './example-setup.ts';

export { type GroupFigures, readAllMessages, readFigures };

/** The groups of the example topology the demo publishes for and judges; any other group is only reported. */
export const DEMO_GROUPS: readonly string[] = ['notifications', 'spreadsheets', 'audit', 'ledger'];

/** What the demo published and what it expects every group to end up with. */
export interface DemoPlan {
  /** Messages delivered to each group's queue (duplicates and poison included). */
  readonly delivered: Map<string, number>;
  /** Event ids whose effect each group must apply exactly once. */
  readonly expectedEffects: Map<string, Set<string>>;
  /** Messages each group must dead-letter, by reason (`redrive` = after maxReceiveCount). */
  readonly expectedDead: Map<string, Map<string, number>>;
  /** Per FIFO stream (`group#stream#key`), the order its entries must have. */
  readonly expectedStreams: Map<string, number[]>;
}

/** Options of the demo traffic. */
export interface DemoOptions {
  /**
   * Orders to place.
   * @default 20
   */
  readonly orders?: number;
  /**
   * Accounts on the FIFO ledger, 5 postings each.
   * @default 3
   */
  readonly accounts?: number;
}

type Routed = PublishInput & { id: string };

/**
 * Publishes the demo: orders (some failing transiently, one published twice, one schema-invalid),
 * a non-JSON message, payments (one that never succeeds), a duplicate delivery straight to a queue,
 * and FIFO ledger postings per account. Returns what every group should end up with.
 * Expects the example topology (`orders`, `payments`, `ledger.fifo`; groups notifications,
 * spreadsheets, audit, ledger: {@link DEMO_GROUPS}); the plan covers only those groups, so other groups a
 * topology adds (e.g. to `orders`) receive the traffic but are not judged.
 */
export async function publishDemoTraffic(
  stack: ProvisionedStack,
  options: DemoOptions = {},
): Promise<DemoPlan> {
  const sns = new SNSClient({});
  const topic = (name: string) => {
    const arn = stack.topics.get(name);
    if (!arn) throw new Error(`the demo needs topic '${name}' of the example topology`);
    return new Publisher({ topicArn: arn, client: sns, source: 'fanout-demo' });
  };
  const plan: DemoPlan = {
    delivered: new Map(),
    expectedEffects: new Map(),
    expectedDead: new Map(),
    expectedStreams: new Map(),
  };
  const groups = stack.topology.groups.map((g) => g.name).filter((g) => DEMO_GROUPS.includes(g));
  for (const g of groups) {
    plan.delivered.set(g, 0);
    plan.expectedEffects.set(g, new Set());
    plan.expectedDead.set(g, new Map());
  }
  const deliver = (group: string, count = 1) =>
    plan.delivered.set(group, (plan.delivered.get(group) ?? 0) + count);
  const expectEffect = (group: string, id: string) => plan.expectedEffects.get(group)?.add(id);
  const expectDead = (group: string, reason: string) => {
    const dead = plan.expectedDead.get(group);
    dead?.set(reason, (dead.get(reason) ?? 0) + 1);
  };

  // Orders: placed (every 4th fails once or twice first), cancelled, one published twice.
  const orderCount = options.orders ?? 20;
  const orders: Routed[] = [];
  for (let n = 1; n <= orderCount; n++) {
    const failuresBeforeSuccess = n % 4 === 0 ? 1 + (n % 8 === 0 ? 1 : 0) : undefined;
    orders.push({
      id: randomUUID(),
      type: 'OrderPlaced',
      data: { orderId: `o-${n}`, customer: `customer-${n % 5}`, amount: 10 + n, failuresBeforeSuccess },
    });
    if (n % 5 === 0)
      orders.push({
        id: randomUUID(),
        type: 'OrderCancelled',
        data: { orderId: `o-${n}`, reason: 'changed mind' },
      });
  }
  const invalid: Routed = {
    id: randomUUID(),
    type: 'OrderPlaced',
    data: { orderId: 'o-bad', customer: 'x', amount: -5 },
  };
  const duplicate = orders[0];
  for (const order of [...orders, duplicate]) {
    deliver('spreadsheets');
    deliver('audit');
    if (order.type === 'OrderPlaced') deliver('notifications');
  }
  for (const order of orders) {
    expectEffect('spreadsheets', order.id);
    expectEffect('audit', order.id);
    if (order.type === 'OrderPlaced') expectEffect('notifications', order.id);
  }
  await publishAll(topic('orders'), [...orders, duplicate, invalid]);
  for (const g of ['notifications', 'spreadsheets']) {
    deliver(g);
    expectDead(g, 'schema-invalid');
  }
  deliver('audit');
  expectEffect('audit', invalid.id); // audit takes any payload

  // A message that is not JSON: poison for every order group.
  await sns.send(
    new PublishCommand({
      TopicArn: stack.topics.get('orders'),
      Message: 'this is not JSON',
      MessageAttributes: { type: { DataType: 'String', StringValue: 'OrderPlaced' } },
    }),
  );
  for (const g of ['notifications', 'spreadsheets', 'audit']) {
    deliver(g);
    expectDead(g, 'unparseable-body');
  }

  // Payments: one whose dependency never recovers ends in the DLQ after maxReceiveCount receives.
  const payments: Routed[] = Array.from({ length: Math.max(2, Math.floor(orderCount / 2)) }, (_, n) => ({
    id: randomUUID(),
    type: 'PaymentCaptured',
    data: {
      paymentId: `p-${n}`,
      orderId: `o-${n + 1}`,
      amount: 10 + n,
      failuresBeforeSuccess: n === 0 ? 99 : undefined,
    },
  }));
  await publishAll(topic('payments'), payments);
  for (const p of payments) {
    deliver('audit');
    if ((p.data as { failuresBeforeSuccess?: number }).failuresBeforeSuccess === 99)
      expectDead('audit', 'redrive');
    else expectEffect('audit', p.id);
  }

  // A duplicate delivery: the same message sent to one queue a second time.
  const spreadsheets = stack.groups.get('spreadsheets')?.queue;
  if (spreadsheets) {
    const again: Envelope = {
      specversion: '1.0',
      id: orders[1].id,
      type: orders[1].type,
      source: 'fanout-demo',
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      correlationid: orders[1].id,
      data: orders[1].data,
    };
    await createSqsClient().send(
      new SendMessageCommand({
        QueueUrl: spreadsheets.url,
        MessageBody: JSON.stringify(again),
        MessageAttributes: { type: { DataType: 'String', StringValue: again.type } },
      }),
    );
    deliver('spreadsheets');
  }

  // FIFO ledger: 5 postings per account, in order; one fails once.
  const ledger = topic('ledger.fifo');
  const postings: Routed[] = [];
  for (let a = 1; a <= (options.accounts ?? 3); a++) {
    const account = `acct-${a}`;
    plan.expectedStreams.set(`ledger#stream#${account}`, [1, 2, 3, 4, 5]);
    for (let seq = 1; seq <= 5; seq++) {
      postings.push({
        id: randomUUID(),
        type: 'Posting',
        groupId: account,
        data: { account, seq, amount: seq * 10, failuresBeforeSuccess: a === 1 && seq === 2 ? 1 : undefined },
      });
    }
  }
  await publishAll(ledger, postings);
  for (const p of postings) {
    deliver('ledger');
    expectEffect('ledger', p.id);
  }
  return plan;
}

async function publishAll(publisher: Publisher, inputs: PublishInput[]) {
  const results = await publisher.publishBatch(inputs);
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0)
    throw new Error(
      `the demo could not publish ${failed.length} messages: ${!failed[0].ok && failed[0].error.message}`,
    );
}

/** The verdict on one group after the demo. */
export interface GroupCheck {
  readonly group: string;
  readonly expected: number;
  readonly appliedOnce: number;
  readonly missing: number;
  readonly doubled: number;
  readonly unexpected: number;
  readonly deadExpected: number;
  readonly deadFound: number;
  readonly deadReasonsOk: boolean;
  readonly orderOk: boolean;
  readonly drained: boolean;
  readonly ok: boolean;
}

/** True once every expected effect is applied and every expected dead letter has arrived. */
export async function demoSettled(stack: ProvisionedStack, plan: DemoPlan, sqs: SQSClient): Promise<boolean> {
  const { applied } = await new EffectsLedger(exampleEffectsTable()).readAll();
  for (const [group, ids] of plan.expectedEffects) {
    for (const id of ids) if (!applied.has(`${group}#${id}`)) return false;
  }
  const figures = await readFigures(stack, sqs);
  for (const [group, dead] of plan.expectedDead) {
    const f = figures.get(group);
    const expected = [...dead.values()].reduce((a, b) => a + b, 0);
    if (!f || f.dead < expected || f.visible + f.inFlight > 0) return false;
  }
  return true;
}

/** Checks every group: effects applied exactly once, dead letters with their reasons, order, empty queues. */
export async function checkDemo(
  stack: ProvisionedStack,
  plan: DemoPlan,
  sqs: SQSClient,
): Promise<GroupCheck[]> {
  const { applied, streams } = await new EffectsLedger(exampleEffectsTable()).readAll();
  const figures = await readFigures(stack, sqs);
  const checks: GroupCheck[] = [];
  for (const [group, ids] of plan.expectedEffects) {
    let appliedOnce = 0;
    let missing = 0;
    let doubled = 0;
    for (const id of ids) {
      const count = applied.get(`${group}#${id}`) ?? 0;
      if (count === 0) missing++;
      else if (count === 1) appliedOnce++;
      else doubled++;
    }
    const unexpected = [...applied.keys()].filter(
      (k) => k.startsWith(`${group}#`) && !ids.has(k.slice(group.length + 1)),
    ).length;
    const deadPlan = plan.expectedDead.get(group) ?? new Map<string, number>();
    const deadExpected = [...deadPlan.values()].reduce((a, b) => a + b, 0);
    const reasons = await peekReasons(sqs, stack.groups.get(group)?.dlq.url ?? '');
    const deadReasonsOk = [...deadPlan].every(([reason, count]) => (reasons.get(reason) ?? 0) === count);
    const orderOk = [...plan.expectedStreams]
      .filter(([key]) => key.startsWith(`${group}#`))
      .every(([key, order]) => JSON.stringify(streams.get(key)) === JSON.stringify(order));
    const f = figures.get(group);
    const drained = f !== undefined && f.visible === 0 && f.inFlight === 0;
    const deadFound = f?.dead ?? 0;
    checks.push({
      group,
      expected: ids.size,
      appliedOnce,
      missing,
      doubled,
      unexpected,
      deadExpected,
      deadFound,
      deadReasonsOk,
      orderOk,
      drained,
      ok:
        missing === 0 &&
        doubled === 0 &&
        unexpected === 0 &&
        deadFound === deadExpected &&
        deadReasonsOk &&
        orderOk &&
        drained,
    });
  }
  return checks;
}

/** Reasons of the dead letters in a DLQ (`redrive` = moved by the queue's redrive policy). */
export async function peekReasons(sqs: SQSClient, url: string | undefined): Promise<Map<string, number>> {
  const reasons = new Map<string, number>();
  if (!url) return reasons;
  for (const m of await readAllMessages(sqs, url)) {
    const reason = m.MessageAttributes?.[POISON_REASON_ATTRIBUTE]?.StringValue ?? 'redrive';
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }
  return reasons;
}
