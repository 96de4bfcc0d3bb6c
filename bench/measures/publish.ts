/**
 * Measure 5: Publisher against a raw PublishBatch loop at the same concurrency sending the same bytes,
 * with tracing (Publisher's default: each message carries `traceparent`) and without; and SNS requests
 * per message.
 */
import { randomUUID } from 'node:crypto';
import { SNSClient } from '@aws-sdk/client-sns';
import { Publisher } from '../../lib/index.ts';
import { ensureTopic } from '../../localstack/index.ts';
import { orderPlaced, SOURCE } from '../fixtures.ts';
import { type BenchContext, type Comparison, compare, INFORMATIVE, interleave, timed } from '../harness.ts';
import { PUBLISH_CONCURRENCY, rawPublish } from '../raw-loops.ts';
import { countRequests } from '../request-counter.ts';

export async function publish(ctx: BenchContext): Promise<Comparison[]> {
  const topicArn = await ensureTopic(new SNSClient({}), `bench-pub-${randomUUID().slice(0, 8)}`);
  const messages = ctx.quick ? 1000 : 10_000;
  const traced = await publishPair(ctx, topicArn, messages, true);
  const untraced = await publishPair(ctx, topicArn, messages, false);
  return [
    compare(
      'publish messages/s, standard topic (type + traceparent attributes)',
      'messages/s',
      `raw PublishBatch loop sending the same attributes, ${PUBLISH_CONCURRENCY} calls at once`,
      traced.rates,
      { text: '≥ 0.9', met: (r) => r >= 0.9 },
    ),
    compare(
      'the same with tracing: false (type attribute only)',
      'messages/s',
      'raw PublishBatch loop with the type attribute only',
      untraced.rates,
      INFORMATIVE,
    ),
    compare('SNS requests per published message', 'req/message', 'raw PublishBatch loop', traced.requests, {
      text: '≤ 0.1 req/message',
      met: (_r, fanout) => fanout <= 0.1,
    }),
  ];
}

/** Interleaved rounds of Publisher (with `tracing`) and the raw loop sending the same attributes. */
async function publishPair(ctx: BenchContext, topicArn: string, messages: number, tracing: boolean) {
  ctx.log(
    `publish messages/s vs a raw PublishBatch loop, ${PUBLISH_CONCURRENCY} calls at once each, tracing ${tracing ? 'on' : 'off'}`,
  );
  const fanoutSns = new SNSClient({});
  const rawSns = new SNSClient({});
  const fanoutCount = countRequests(fanoutSns);
  const rawCount = countRequests(rawSns);
  const publisher = new Publisher({ topicArn, client: fanoutSns, source: SOURCE, tracing });
  if (publisher.concurrency !== PUBLISH_CONCURRENCY) {
    throw new Error(`Publisher sends ${publisher.concurrency} calls at once; the raw loop must match`);
  }
  const requests = { fanout: [] as number[], baseline: [] as number[] };
  const viaPublisher = async () => {
    fanoutCount.reset();
    const ms = await timed(() =>
      publisher.publishBatch(Array.from({ length: messages }, (_, n) => orderPlaced(n))),
    );
    requests.fanout.push(fanoutCount.total() / messages);
    return messages / (ms / 1000);
  };
  const raw = async () => {
    rawCount.reset();
    const ms = await timed(() => rawPublish(rawSns, topicArn, messages, { traceparent: tracing }));
    requests.baseline.push(rawCount.total() / messages);
    return messages / (ms / 1000);
  };
  return { rates: await interleave(ctx.rounds, viaPublisher, raw), requests };
}
