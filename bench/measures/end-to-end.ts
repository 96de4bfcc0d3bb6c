/**
 * Measure 4: local end-to-end deliveries per second — publish through SNS to 3 queues (consumer groups),
 * receive, handle idempotently, delete — against a hand-written loop doing exactly the AWS work one
 * idempotent delivery needs, with the same topology, messages, concurrency and timing.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { consumer, createSqsClient, Publisher } from '../../lib/index.ts';
import { type CloudEndpoints, EventSourceRunner } from '../../localstack/index.ts';
import { fanOutTopic, fanoutTable, orderPlaced, SOURCE, sleep } from '../fixtures.ts';
import {
  type BenchContext,
  type Comparison,
  compare,
  INFORMATIVE,
  interleave,
  pair,
  rotate,
} from '../harness.ts';
import { rawDelivery, rawPublish } from '../raw-loops.ts';
import { countRequests } from '../request-counter.ts';

/** Consumer groups: queues subscribed to the topic (raw delivery). */
const GROUPS = 3;
/** Invocations at once per group (the event source mapping's MaximumConcurrency); 10 records each. */
const CONCURRENCY_PER_GROUP = 2;
/** Long-poll wait of every receive, on both sides (Lambda's event source mapping long-polls too). */
const WAIT_TIME_SECONDS = 1;

/** One side's SDK clients, each with a request counter: on the cloud of the SDK variables, or on `cloud`. */
function clients(cloud?: CloudEndpoints) {
  const at = (endpoint: string) => (cloud ? { endpoint, region: cloud.region } : {});
  const sqs = cloud ? new SQSClient(at(cloud.sqs)) : createSqsClient();
  const sns = new SNSClient(at(cloud?.sns ?? ''));
  const db = new DynamoDBClient(at(cloud?.dynamodb ?? ''));
  const counters = { sqs: countRequests(sqs), sns: countRequests(sns), dynamodb: countRequests(db) };
  return {
    sqs,
    sns,
    db,
    /** Requests per delivery by service since the last call, and resets the counters. */
    perDelivery(deliveries: number) {
      const mix = Object.fromEntries(
        Object.entries(counters).map(([service, c]) => [
          service,
          Number((c.total() / deliveries).toFixed(3)),
        ]),
      );
      for (const c of Object.values(counters)) c.reset();
      return mix;
    },
  };
}
type Clients = ReturnType<typeof clients>;

/** A fresh topic with {@link GROUPS} subscribed queues (created outside the timed part). */
function topology(clients: Clients) {
  return fanOutTopic(clients, 'bench-e2e', GROUPS);
}

/** Waits until `done()` reaches `total`. */
async function until(done: () => number, total: number) {
  while (done() < total) await sleep(2);
}

/** What {@link fanoutPipeline} runs. */
export interface PipelineOptions {
  /** Events published per run (each delivered to {@link GROUPS} queues). */
  readonly messages: number;
  readonly idempotent: boolean;
  /** Where each run leaves its requests per delivery, by side. */
  readonly mixes: Record<string, unknown>;
  /** The cloud to run on; the SDK variables' cloud when absent. */
  readonly cloud?: CloudEndpoints;
  /** The key of this side in `mixes`. */
  readonly label?: string;
}

/**
 * fanout end to end: a fresh topic and queues per run, Publisher, then the local event source mapping
 * invoking a consumer() per group. Returns the run: deliveries/s from the start of the consumers to the
 * last delete.
 */
export async function fanoutPipeline({ messages, idempotent, mixes, cloud, label }: PipelineOptions) {
  const deliveries = messages * GROUPS;
  const side = clients(cloud);
  const tableName = idempotent ? await fanoutTable(side.db) : undefined;
  const handler = consumer({
    idempotency: tableName ? { client: side.db, tableName } : false,
    handle: async () => {},
    metrics: false,
  });
  return async () => {
    const { topicArn, queues } = await topology(side);
    let deleted = 0;
    const runners = queues.map(
      (q) =>
        new EventSourceRunner({
          group: q.name,
          queueUrl: q.url,
          queueArn: q.arn,
          region: 'us-east-1',
          handler,
          sqs: side.sqs,
          batchSize: 10,
          batchingWindowSeconds: 0,
          maxConcurrency: CONCURRENCY_PER_GROUP,
          timeoutSeconds: 30,
          waitTimeSeconds: WAIT_TIME_SECONDS,
          onInvocation: (report) => {
            deleted += report.deleted;
          },
        }),
    );
    const publisher = new Publisher({ topicArn, client: side.sns, source: SOURCE });
    side.perDelivery(1);
    const started = performance.now();
    for (const r of runners) r.start();
    await publisher.publishBatch(Array.from({ length: messages }, (_, n) => orderPlaced(n)));
    await until(() => deleted, deliveries);
    const elapsed = performance.now() - started;
    await Promise.all(runners.map((r) => r.stop()));
    mixes[label ?? `fanout${idempotent ? '' : ', idempotency off'}`] = side.perDelivery(deliveries);
    return deliveries / (elapsed / 1000);
  };
}

export async function endToEnd(ctx: BenchContext): Promise<Comparison[]> {
  const messages = ctx.quick ? 400 : 600;
  const deliveries = messages * GROUPS;
  const mixes: Record<string, unknown> = {};

  const pipeline = (idempotent: boolean) => fanoutPipeline({ messages, idempotent, mixes });

  /** The baseline: a raw PublishBatch loop while hand-written receive (+ DynamoDB) + delete loops run. */
  const handWritten = async (requests?: 'one-put' | 'fanout-requests') => {
    const side = clients();
    const tableName = requests ? await fanoutTable(side.db) : undefined;
    return async () => {
      const { topicArn, queues } = await topology(side);
      let deleted = 0;
      const stop = new AbortController();
      side.perDelivery(1);
      const started = performance.now();
      const loops = rawDelivery(
        {
          sqs: side.sqs,
          queues,
          loopsPerQueue: CONCURRENCY_PER_GROUP,
          waitTimeSeconds: WAIT_TIME_SECONDS,
          idempotency: requests && tableName ? { db: side.db, tableName, requests } : undefined,
          onDeleted: (count) => {
            deleted += count;
          },
        },
        stop.signal,
      );
      await rawPublish(side.sns, topicArn, messages, { traceparent: true });
      await until(() => deleted, deliveries);
      const elapsed = performance.now() - started;
      stop.abort();
      await loops;
      mixes[`hand-written, ${requests ?? 'no DynamoDB'}`] = side.perDelivery(deliveries);
      return deliveries / (elapsed / 1000);
    };
  };

  ctx.log('end-to-end deliveries/s, idempotent: fanout and two hand-written loops, rotating');
  const idempotent = await rotate(ctx.rounds, {
    fanout: await pipeline(true),
    onePut: await handWritten('one-put'),
    fanoutRequests: await handWritten('fanout-requests'),
  });
  ctx.log('end-to-end deliveries/s, idempotency off, vs the hand-written loop without DynamoDB');
  const plain = await interleave(ctx.rounds, await pipeline(false), await handWritten());
  ctx.notes.endToEnd = {
    messages,
    groups: GROUPS,
    invocationsAtOncePerGroup: CONCURRENCY_PER_GROUP,
    recordsPerInvocation: 10,
    receiveWaitTimeSeconds: WAIT_TIME_SECONDS,
    requestsPerDelivery: mixes,
  };
  return [
    compare(
      `end-to-end deliveries/s: publish → SNS → ${GROUPS} queues → idempotent no-op handler`,
      'deliveries/s',
      'hand-written loop: the same publish; receive, 1 conditional PutItem per message, delete',
      pair(idempotent.fanout, idempotent.onePut),
      { text: '≥ 0.8', met: (r) => r >= 0.8 },
    ),
    compare(
      "the same, against a loop making fanout's own requests",
      'deliveries/s',
      "that loop making fanout's DynamoDB requests: its claim PutItem, then 1 BatchWriteItem of completions per batch",
      pair(idempotent.fanout, idempotent.fanoutRequests),
      INFORMATIVE,
    ),
    compare(
      'the same with idempotency off',
      'deliveries/s',
      'that loop without DynamoDB',
      plain,
      INFORMATIVE,
    ),
  ];
}
