import { randomUUID } from 'node:crypto';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DemoPlan } from '../../cli/demo/demo-traffic.ts';
import { Publisher, type PublishInput } from '../../lib/index.ts';
import type { ProvisionedStack } from '../../localstack/provisioning/provision.ts';
import { provisionedGroup } from '../helpers/cloud.ts';

/** Deterministic pseudo-random numbers (mulberry32), so a failing chaos run can be replayed by seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ChaosFigures {
  published: number;
  duplicatePublishes: number;
  duplicateDeliveries: number;
  poison: number;
  transient: number;
}

type Event = PublishInput & { id: string; type: string };

/**
 * Publishes `size` events over the example topics: ~50% orders, ~20% payments, ~30% FIFO postings;
 * 20% fail transiently once; 5% are published twice (same id); 2% are delivered twice (the same
 * message sent to a queue again); orders and payments arrive shuffled; 0.5% are poison (half not
 * JSON, half schema-invalid orders). Returns what each group must end with, as the demo does.
 */
export async function publishChaos(stack: ProvisionedStack, sqs: SQSClient, size: number, seed: number) {
  const random = seededRandom(seed);
  const sns = new SNSClient({});
  const publisher = (topic: string) =>
    new Publisher({ topicArn: stack.topics.get(topic) ?? '', client: sns, source: 'chaos' });
  const plan: DemoPlan = {
    delivered: new Map(),
    expectedEffects: new Map(),
    expectedDead: new Map(),
    expectedStreams: new Map(),
  };
  for (const g of stack.topology.groups) {
    plan.expectedEffects.set(g.name, new Set());
    plan.expectedDead.set(g.name, new Map());
    plan.delivered.set(g.name, 0);
  }
  const effect = (group: string, id: string) => plan.expectedEffects.get(group)?.add(id);
  const dead = (group: string, reason: string) => {
    const d = plan.expectedDead.get(group);
    d?.set(reason, (d.get(reason) ?? 0) + 1);
  };
  const figures: ChaosFigures = {
    published: 0,
    duplicatePublishes: 0,
    duplicateDeliveries: 0,
    poison: 0,
    transient: 0,
  };
  const faults = () => {
    if (random() < 0.2) {
      figures.transient++;
      return { failuresBeforeSuccess: 1 };
    }
    return {};
  };

  const orders: Event[] = [];
  const payments: Event[] = [];
  const postings: Event[] = [];
  const poisonCount = Math.max(2, Math.round(size * 0.005));
  const accounts = Math.max(1, Math.round((size * 0.3) / 10));
  for (let a = 0; a < accounts; a++) {
    for (let seq = 1; seq <= 10; seq++) {
      postings.push({
        id: randomUUID(),
        type: 'Posting',
        groupId: `acct-${a}`,
        data: { account: `acct-${a}`, seq, amount: seq, ...faults() },
      });
    }
    plan.expectedStreams.set(
      `ledger#stream#acct-${a}`,
      Array.from({ length: 10 }, (_, i) => i + 1),
    );
  }
  const rest = size - postings.length - poisonCount;
  for (let n = 0; n < rest; n++) {
    if (random() < 0.7) {
      const placed = random() < 0.8;
      orders.push(
        placed
          ? {
              id: randomUUID(),
              type: 'OrderPlaced',
              data: { orderId: `o-${n}`, customer: `c-${n % 97}`, amount: 1 + n, ...faults() },
            }
          : { id: randomUUID(), type: 'OrderCancelled', data: { orderId: `o-${n}`, ...faults() } },
      );
    } else {
      payments.push({
        id: randomUUID(),
        type: 'PaymentCaptured',
        data: { paymentId: `p-${n}`, orderId: `o-${n}`, amount: 1 + n, ...faults() },
      });
    }
  }
  for (const o of orders) {
    effect('spreadsheets', o.id);
    effect('audit', o.id);
    if (o.type === 'OrderPlaced') effect('notifications', o.id);
  }
  for (const p of payments) effect('audit', p.id);
  for (const p of postings) effect('ledger', p.id);

  // Poison: half schema-invalid orders (audit takes any payload), half not JSON at all.
  const invalid: Event[] = Array.from({ length: Math.ceil(poisonCount / 2) }, () => ({
    id: randomUUID(),
    type: 'OrderPlaced',
    data: { orderId: 'bad', customer: 'x', amount: -1 },
  }));
  for (const i of invalid) {
    dead('notifications', 'schema-invalid');
    dead('spreadsheets', 'schema-invalid');
    effect('audit', i.id);
  }
  const garbage = poisonCount - invalid.length;
  for (let g = 0; g < garbage; g++)
    for (const group of ['notifications', 'spreadsheets', 'audit']) dead(group, 'unparseable-body');
  figures.poison = poisonCount;

  // Duplicate publishes (same event id) and shuffled arrival.
  const again = (events: Event[]) => events.filter(() => random() < 0.05);
  const orderStream = shuffle([...orders, ...again(orders), ...invalid], random);
  const paymentStream = shuffle([...payments, ...again(payments)], random);
  figures.duplicatePublishes =
    orderStream.length + paymentStream.length - orders.length - payments.length - invalid.length;

  const publishAll = async (topic: string, events: Event[]) => {
    for (let i = 0; i < events.length; i += 500) {
      const results = await publisher(topic).publishBatch(events.slice(i, i + 500));
      const failed = results.filter((r) => !r.ok);
      if (failed.length) throw new Error(`chaos: ${failed.length} publishes failed`);
    }
    figures.published += events.length;
  };
  await Promise.all([
    publishAll('orders', orderStream),
    publishAll('payments', paymentStream),
    publishAll('ledger.fifo', postings),
  ]);
  for (let g = 0; g < garbage; g++) {
    await sns.send(
      new PublishCommand({
        TopicArn: stack.topics.get('orders'),
        Message: `garbage ${g}`,
        MessageAttributes: { type: { DataType: 'String', StringValue: 'OrderPlaced' } },
      }),
    );
    figures.published++;
  }

  // Duplicate deliveries: the same envelope sent straight to a group's queue again.
  const redeliver = orders.filter(() => random() < 0.02);
  const queueUrl = provisionedGroup(stack, 'spreadsheets').queue.url;
  for (let i = 0; i < redeliver.length; i += 10) {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: redeliver.slice(i, i + 10).map((e, n) => ({
          Id: String(n),
          MessageBody: JSON.stringify({
            specversion: '1.0',
            id: e.id,
            type: e.type,
            source: 'chaos',
            time: new Date().toISOString(),
            datacontenttype: 'application/json',
            correlationid: e.id,
            data: e.data,
          }),
          MessageAttributes: { type: { DataType: 'String', StringValue: e.type } },
        })),
      }),
    );
  }
  figures.duplicateDeliveries = redeliver.length;
  return { plan, figures };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
