/**
 * fanout vs the field's standard (Powertools batch + idempotency) and vs the emulator's own ceiling,
 * on the same embedded emulators, the same events and the same handler work, interleaved A B A B.
 * `npm run bench` (a few minutes on 2 cores) or `npm run bench -- --quick` (a smoke run).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PublishBatchCommand, type PublishBatchRequestEntry, SNSClient } from '@aws-sdk/client-sns';
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import Table from 'cli-table3';
import * as esbuild from 'esbuild';
import { consumer, createEnvelope, createSqsClient, Publisher } from '../lib/index.ts';
import { startEmbeddedCloud } from '../localstack/embedded-cloud.ts';
import { EventSourceRunner } from '../localstack/event-source-runner.ts';
import {
  ensureIdempotencyTable,
  ensureQueue,
  ensureSubscription,
  ensureTopic,
} from '../localstack/resources.ts';
import { powertoolsHandler } from './baselines.ts';
import { type Comparison, compare, INFORMATIVE, interleave, median, timed } from './harness.ts';
import { ratioChart } from './ratio-chart.ts';
import { countRequests } from './request-counter.ts';

const quick = process.argv.includes('--quick');
const rounds = quick ? 2 : 5;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
delete process.env.POWERTOOLS_IDEMPOTENCY_DISABLED;

const cloud = await startEmbeddedCloud();
Object.assign(process.env, cloud.env);
const results: Comparison[] = [];
const notes: Record<string, unknown> = {};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (line: string) => process.stderr.write(`${line}\n`);

/** A batch of `size` records as Lambda delivers them, each a fresh event. */
function batch(size: number, groups = 0): SQSEvent {
  const queueArn = `arn:aws:sqs:us-east-1:000000000000:bench${groups ? '.fifo' : ''}`;
  return {
    Records: Array.from({ length: size }, (_, n): SQSRecord => {
      const envelope = createEnvelope(
        { type: 'OrderPlaced', data: { n, orderId: `o-${n}` } },
        { source: 'bench' },
      );
      return {
        messageId: randomUUID(),
        receiptHandle: randomUUID(),
        body: JSON.stringify(envelope),
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: '0',
          SenderId: 'bench',
          ApproximateFirstReceiveTimestamp: '0',
          ...(groups ? { MessageGroupId: `g-${n % groups}` } : {}),
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: queueArn,
        awsRegion: 'us-east-1',
      };
    }),
  };
}

async function powertoolsTable(client: DynamoDBClient) {
  const name = `pt-${randomUUID().slice(0, 8)}`;
  await client.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return name;
}

async function fanoutTable(client: DynamoDBClient) {
  const name = `fo-${randomUUID().slice(0, 8)}`;
  await ensureIdempotencyTable(client, name);
  return name;
}

const work = (ms: number) => async (): Promise<void> => {
  if (ms > 0) await sleep(ms);
};

// 1. DynamoDB requests per processed record.
for (const size of [10, 100]) {
  log(`1. DynamoDB requests per record, batch of ${size}`);
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
    rounds,
    async () => {
      fanoutCount.reset();
      await fanout(batch(size));
      return fanoutCount.total() / size;
    },
    async () => {
      ptCount.reset();
      await powertools(batch(size));
      return ptCount.total() / size;
    },
  );
  results.push(
    compare(
      `DynamoDB requests per record (batch of ${size})`,
      'req/record',
      'Powertools makeIdempotent',
      samples,
      {
        // Completions are written soon after each record, gathered: a batch of 100 still needs ~4 writes.
        text: `≤ ${size === 10 ? '1.1' : '1.05'} req/record (Powertools 2.0)`,
        met: (_r, f) => f <= (size === 10 ? 1.1 : 1.05),
      },
    ),
  );
}

// 2. FIFO batch wall time: 10 records, handler awaits 50 ms of I/O.
for (const groups of [10, 1]) {
  log(`2. FIFO batch wall time, ${groups} message group(s)`);
  const fanout = consumer({ group: 'bench', idempotency: false, handle: work(50), metrics: false });
  const powertools = powertoolsHandler({ work: work(50), fifo: true });
  const samples = await interleave(
    rounds,
    () => timed(() => fanout(batch(10, groups))),
    () => timed(() => powertools(batch(10, groups))),
  );
  results.push(
    compare(
      `FIFO batch of 10, ${groups} group(s), 50 ms I/O`,
      'ms',
      'SqsFifoPartialProcessorAsync',
      samples,
      {
        text: groups === 10 ? '≥ 8× faster' : 'equal (order forces sequential)',
        met: (r) => (groups === 10 ? r <= 1 / 8 : r <= 1.1),
      },
    ),
  );
}

// 3. Records per second through consumer + idempotency on the DynamoDB emulator.
for (const ms of [0, 5]) {
  log(`3. records/s with idempotency, ${ms} ms handler`);
  const db = new DynamoDBClient({});
  const batches = quick ? 10 : 30;
  const fanout = consumer({
    group: 'bench',
    idempotency: { tableName: await fanoutTable(db), client: db },
    handle: work(ms),
    metrics: false,
  });
  const powertools = powertoolsHandler({ tableName: await powertoolsTable(db), client: db, work: work(ms) });
  const rate = (handler: (e: SQSEvent) => Promise<unknown>) => async () => {
    const events = Array.from({ length: batches }, () => batch(10));
    const elapsed = await timed(async () => {
      for (const event of events) await handler(event);
    });
    return (batches * 10) / (elapsed / 1000);
  };
  const samples = await interleave(rounds, rate(fanout), rate(powertools));
  results.push(
    compare(
      `records/s, standard queue, ${ms ? `${ms} ms` : 'no-op'} handler`,
      'records/s',
      'Powertools BatchProcessor + makeIdempotent',
      samples,
      {
        text: '≥ 1.5×',
        met: (r) => r >= 1.5,
      },
    ),
  );
}

// 4. Local end-to-end throughput vs the emulator's raw ceiling.
{
  log('4. local end-to-end throughput vs a bare receive + delete loop');
  const sqs = createSqsClient();
  const sns = new SNSClient({});
  const db = new DynamoDBClient({});
  const messages = quick ? 200 : 600;
  const concurrency = 2;
  const table = await fanoutTable(db);
  const idempotent = consumer({
    idempotency: { tableName: table, client: db },
    handle: async () => {},
    metrics: false,
  });
  const plain = consumer({ idempotency: false, handle: async () => {}, metrics: false });
  const endToEnd = (handler: typeof plain) => async () => {
    const topicArn = await ensureTopic(sns, `bench-${randomUUID().slice(0, 8)}`);
    const queues = await Promise.all(
      [1, 2, 3].map((n) =>
        ensureQueue(sqs, {
          name: `bench-e2e-${n}-${randomUUID().slice(0, 8)}`,
          visibilityTimeoutSeconds: 30,
        }),
      ),
    );
    for (const q of queues) await ensureSubscription(sns, topicArn, q.arn);
    let processed = 0;
    const runners = queues.map(
      (q) =>
        new EventSourceRunner({
          group: q.name,
          queueUrl: q.url,
          queueArn: q.arn,
          region: 'us-east-1',
          handler: async (event: SQSEvent) => {
            const response = await handler(event);
            processed += event.Records.length - response.batchItemFailures.length;
            return response;
          },
          sqs,
          batchSize: 10,
          batchingWindowSeconds: 0,
          maxConcurrency: concurrency,
          timeoutSeconds: 30,
          waitTimeSeconds: 0,
        }),
    );
    const publisher = new Publisher({ topicArn, client: sns });
    const started = performance.now();
    for (const r of runners) r.start();
    await publisher.publishBatch(
      Array.from({ length: messages }, (_, n) => ({ type: 'OrderPlaced', data: { n } })),
    );
    while (processed < messages * 3) await sleep(5);
    const elapsed = performance.now() - started;
    await Promise.all(runners.map((r) => r.stop()));
    return (messages * 3) / (elapsed / 1000);
  };
  const ceiling = async () => {
    const queues = await Promise.all(
      [1, 2, 3].map((n) =>
        ensureQueue(sqs, {
          name: `bench-raw-${n}-${randomUUID().slice(0, 8)}`,
          visibilityTimeoutSeconds: 30,
        }),
      ),
    );
    for (const q of queues) {
      for (let i = 0; i < messages; i += 10) {
        await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: q.url,
            Entries: Array.from({ length: Math.min(10, messages - i) }, (_, n) => ({
              Id: String(n),
              MessageBody: '{"x":1}',
            })),
          }),
        );
      }
    }
    let done = 0;
    const started = performance.now();
    const loop = async (url: string) => {
      while (done < messages * 3) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
        );
        if (Messages.length === 0) {
          if (done >= messages * 3) return;
          await sleep(5);
          continue;
        }
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: url,
            Entries: Messages.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
        done += Messages.length;
      }
    };
    await Promise.all(queues.flatMap((q) => Array.from({ length: concurrency }, () => loop(q.url))));
    return (messages * 3) / ((performance.now() - started) / 1000);
  };
  const samples = await interleave(rounds, endToEnd(idempotent), ceiling);
  results.push(
    compare(
      'local end-to-end deliveries/s (publish → 3 groups → idempotent handler)',
      'deliveries/s',
      'bare receive + delete loop (ceiling)',
      samples,
      {
        text: '≥ 0.7 of the ceiling',
        met: (r) => r >= 0.7,
      },
    ),
  );
  // Informative: the same pipeline without the DynamoDB claims shows where the time goes.
  const withoutDynamo = await interleave(rounds, endToEnd(plain), ceiling);
  results.push(
    compare(
      'the same, idempotency off (where the time goes)',
      'deliveries/s',
      'bare receive + delete loop (ceiling)',
      withoutDynamo,
      INFORMATIVE,
    ),
  );
  // Informative: dynalite's own ceiling for the one conditional write an idempotent delivery needs, at the
  // same number of concurrent writers. No claim-per-record design can beat this ratio on dynalite.
  const dynaliteCeiling = async () => {
    const writes = messages * 3;
    const claimTable = await fanoutTable(db);
    let next = 0;
    const started = performance.now();
    const writer = async () => {
      while (next < writes) {
        const n = next++;
        await db.send(
          new PutItemCommand({
            TableName: claimTable,
            Item: { pk: { S: `bench#${n}` }, status: { S: 'IN_PROGRESS' } },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
      }
    };
    await Promise.all(Array.from({ length: 3 * concurrency }, writer));
    return writes / ((performance.now() - started) / 1000);
  };
  const dynaliteBound = await interleave(rounds, dynaliteCeiling, ceiling);
  results.push(
    compare(
      "dynalite's own ceiling: bare conditional PutItem/s, same concurrency (bounds the first row)",
      'writes/s',
      'bare receive + delete loop (ceiling)',
      dynaliteBound,
      INFORMATIVE,
    ),
  );
  notes.endToEnd = { messages, groups: 3, concurrencyPerGroup: concurrency };
}

// 5. Publisher vs a raw PublishBatch loop.
{
  log('5. publisher vs raw PublishBatch loop');
  const sns = new SNSClient({});
  const counter = countRequests(sns);
  const topicArn = await ensureTopic(sns, `bench-pub-${randomUUID().slice(0, 8)}`);
  const messages = quick ? 500 : 2000;
  const publisher = new Publisher({ topicArn, client: sns });
  const viaPublisher = async () => {
    counter.reset();
    const ms = await timed(() =>
      publisher.publishBatch(
        Array.from({ length: messages }, (_, n) => ({ type: 'OrderPlaced', data: { n } })),
      ),
    );
    notes.snsRequestsPerMessage = counter.total() / messages;
    return messages / (ms / 1000);
  };
  const raw = async () => {
    const ms = await timed(async () => {
      for (let i = 0; i < messages; i += 10) {
        const entries: PublishBatchRequestEntry[] = Array.from({ length: 10 }, (_, n) => {
          const envelope = createEnvelope({ type: 'OrderPlaced', data: { n: i + n } }, { source: 'bench' });
          return {
            Id: String(n),
            Message: JSON.stringify(envelope),
            MessageAttributes: { type: { DataType: 'String', StringValue: 'OrderPlaced' } },
          };
        });
        await sns.send(new PublishBatchCommand({ TopicArn: topicArn, PublishBatchRequestEntries: entries }));
      }
    });
    return messages / (ms / 1000);
  };
  const samples = await interleave(rounds, viaPublisher, raw);
  results.push(
    compare('publish messages/s', 'messages/s', 'raw PublishBatch loop', samples, {
      text: '≥ 0.9',
      met: (r) => r >= 0.9,
    }),
  );
}

// 6. Bundle size and cold import time of one consumer handler with the same features.
{
  log('6. bundle size and cold import time');
  const out = path.join(root, 'bench', 'results', 'bundles');
  mkdirSync(out, { recursive: true });
  const bundle = async (entry: string, name: string) => {
    const outfile = path.join(out, `${name}.mjs`);
    await esbuild.build({
      entryPoints: [path.join(root, entry)],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'node',
      target: 'node24',
      outfile,
      external: ['@aws-sdk/*'],
      mainFields: ['module', 'main'],
      banner: {
        js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);",
      },
      logLevel: 'silent',
    });
    return outfile;
  };
  const fanoutFile = await bundle('bench/bundle-entries/fanout-handler.ts', 'fanout');
  const ptFile = await bundle('bench/bundle-entries/powertools-handler.ts', 'powertools');
  const size = (file: string) => Number(execFileSync('stat', ['-c', '%s', file]).toString().trim());
  const importMs = (file: string) => {
    const script = `const t=performance.now();await import(${JSON.stringify(file)});console.log(performance.now()-t)`;
    return Number(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env, FANOUT_IDEMPOTENCY_TABLE: 't', POWERTOOLS_IDEMPOTENCY_TABLE: 't' },
      })
        .toString()
        .trim(),
    );
  };
  results.push(
    compare(
      'bundle size of one consumer handler (minified, SDK external)',
      'KiB',
      'Powertools batch + idempotency + logger + metrics',
      {
        fanout: [size(fanoutFile) / 1024],
        baseline: [size(ptFile) / 1024],
      },
      { text: '≤ 1.0×', met: (r) => r <= 1.0 },
    ),
  );
  const samples = await interleave(
    quick ? 3 : 9,
    async () => importMs(fanoutFile),
    async () => importMs(ptFile),
  );
  results.push(
    compare('cold import time of that bundle', 'ms', 'Powertools bundle', samples, {
      text: '≤ 1.0× (informative)',
      met: (r) => r <= 1.0,
    }),
  );
}

await cloud.stop();

// Report.
const fmt = (n: number) =>
  Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2);
const table = new Table({
  head: ['measure', 'fanout', 'baseline', 'ratio', 'goal', 'met'],
  style: { head: [], border: [] },
});
for (const r of results) {
  table.push([
    `${r.measure}\n(${r.unit}; baseline: ${r.baselineName})`,
    fmt(r.fanout),
    fmt(r.baseline),
    `${fmt(r.ratio)}×`,
    r.goal,
    r.met ? 'yes' : 'NO',
  ]);
}
const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
process.stdout.write(
  `${table.toString()}\n${machine}; ${rounds} interleaved rounds, medians${quick ? ' (--quick)' : ''}\n`,
);
const resultsDir = path.join(root, 'bench', 'results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(
  path.join(resultsDir, 'latest.json'),
  JSON.stringify(
    { date: new Date().toISOString(), machine, quick, rounds, medianOf: median.name, results, notes },
    null,
    2,
  ),
);
const markdown = [
  '| measure | unit | fanout | baseline | ratio | goal | met |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  ...results.map(
    (r) =>
      `| ${r.measure} (vs ${r.baselineName}) | ${r.unit} | ${fmt(r.fanout)} | ${fmt(r.baseline)} | ${fmt(r.ratio)}× | ${r.goal} | ${r.met ? 'yes' : 'no'} |`,
  ),
].join('\n');
writeFileSync(
  path.join(resultsDir, 'latest.md'),
  `${markdown}\n\n${machine}; SNS requests per published message: ${notes.snsRequestsPerMessage}\n`,
);
writeFileSync(
  path.join(resultsDir, 'ratios.svg'),
  ratioChart(
    results,
    `${machine}; ${rounds} interleaved rounds, medians; npm run bench${quick ? ' -- --quick' : ''}, ${new Date().toISOString().slice(0, 10)}`,
  ),
);
process.stdout.write(
  `SNS requests per published message: ${notes.snsRequestsPerMessage}\nraw figures: bench/results/latest.json, chart: bench/results/ratios.svg\n`,
);
