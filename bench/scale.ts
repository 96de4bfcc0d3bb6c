/**
 * `npm run bench -- --scale N`: one long local run of N deliveries (publish → SNS → 2 queues → local
 * event source mapping → idempotent no-op consumer → delete), reported per window of 10,000 deliveries:
 * throughput, DynamoDB requests per record, and the memory of the runner and of the emulators. The
 * consumer keeps idempotency keys `--ttl-seconds` (default 30) so that, within the run, items expire and
 * the local cloud's TTL sweeper (every `--sweep-seconds`, default 10) has something to remove: with it the
 * emulators' memory stays bounded; without it (`--sweep-seconds=0`) dynalite keeps every item.
 * The emulators run in a child process by default here (`--isolation process`), so that the runner's
 * and the emulators' RSS are each their own process's; `--isolation worker` is `npm start`'s layout.
 */
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { consumer, Publisher } from '../lib/index.ts';
import {
  type EmbeddedCloud,
  type EmulatorIsolation,
  EventSourceRunner,
  startEmbeddedCloud,
} from '../localstack/index.ts';
import { fanOutTopic, fanoutTable, orderPlaced, SOURCE, sleep } from './fixtures.ts';
import { countRequests } from './request-counter.ts';

/** Deliveries per reported window. */
export const WINDOW = Number(process.env.FANOUT_SCALE_WINDOW ?? 10_000);
const GROUPS = 2;

/** One window's figures. */
export interface ScaleWindow {
  readonly deliveries: number;
  readonly seconds: number;
  readonly deliveriesPerSecond: number;
  readonly dynamodbRequestsPerRecord: number;
  readonly runnerRssMiB: number;
  readonly runnerHeapMiB: number;
  /** RSS of the emulators' process: the child's with isolation 'process', else the runner's own. */
  readonly emulatorRssMiB: number;
  /** V8 heap in use by the emulators (their worker's own heap with isolation 'worker'). */
  readonly emulatorHeapMiB: number;
  /** Items in the idempotency table at the end of the window (what the TTL sweeper has not removed). */
  readonly idempotencyItems: number;
  /** The machine's 1-minute load average at the end of the window (the machine is shared). */
  readonly loadAverage: number;
}

/** What {@link scaleRun} is given. */
export interface ScaleOptions {
  readonly deliveries: number;
  readonly isolation?: EmulatorIsolation;
  readonly ttlSeconds: number;
  /** 0: no sweeper. */
  readonly sweepSeconds: number;
  readonly log: (line: string) => void;
}

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

async function topology(cloud: EmbeddedCloud) {
  const config = { region: cloud.region };
  const sqs = new SQSClient({ ...config, endpoint: cloud.sqs });
  const sns = new SNSClient({ ...config, endpoint: cloud.sns });
  const db = new DynamoDBClient({ ...config, endpoint: cloud.dynamodb });
  const { topicArn, queues } = await fanOutTopic({ sqs, sns }, 'bench-scale', GROUPS);
  return { sqs, sns, db, topicArn, queues, tableName: await fanoutTable(db) };
}

/** Items in `tableName` (paged COUNT scans, through a client the request counter does not see). */
async function itemCount(db: DynamoDBClient, tableName: string): Promise<number> {
  let count = 0;
  let start: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined;
  do {
    const page = await db.send(
      new ScanCommand({ TableName: tableName, Select: 'COUNT', ExclusiveStartKey: start }),
    );
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey;
  } while (start);
  return count;
}

/** Runs the scale run and returns its windows. */
export async function scaleRun(options: ScaleOptions): Promise<ScaleWindow[]> {
  const cloud = await startEmbeddedCloud({
    isolation: options.isolation,
    ttlSweep: options.sweepSeconds > 0 ? { intervalSeconds: options.sweepSeconds } : false,
  });
  Object.assign(process.env, cloud.env);
  try {
    const { sqs, sns, db, topicArn, queues, tableName } = await topology(cloud);
    const counter = new DynamoDBClient({ region: cloud.region, endpoint: cloud.dynamodb });
    const dynamodbRequests = countRequests(db);
    const handler = consumer({
      idempotency: { client: db, tableName, completedTtlSeconds: options.ttlSeconds },
      handle: async () => {},
      metrics: false,
    });
    let deleted = 0;
    const runners = queues.map(
      (q) =>
        new EventSourceRunner({
          group: q.name,
          queueUrl: q.url,
          queueArn: q.arn,
          region: cloud.region,
          handler,
          sqs,
          batchSize: 10,
          batchingWindowSeconds: 0,
          maxConcurrency: 2,
          timeoutSeconds: 30,
          waitTimeSeconds: 1,
          onInvocation: (report) => {
            deleted += report.deleted;
          },
        }),
    );
    const publisher = new Publisher({ topicArn, client: sns, source: SOURCE });
    for (const r of runners) r.start();
    const windows: ScaleWindow[] = [];
    let published = 0;
    try {
      while (deleted < options.deliveries) {
        const size = Math.min(WINDOW, options.deliveries - deleted);
        const messages = Math.ceil(size / GROUPS);
        const target = deleted + messages * GROUPS;
        dynamodbRequests.reset();
        const startDeleted = deleted;
        const started = performance.now();
        await publisher.publishBatch(Array.from({ length: messages }, (_, n) => orderPlaced(published + n)));
        published += messages;
        while (deleted < target) await sleep(5);
        const seconds = (performance.now() - started) / 1000;
        const records = deleted - startDeleted;
        const emulator = await cloud.usage();
        const idempotencyItems = await itemCount(counter, tableName);
        const window: ScaleWindow = {
          deliveries: deleted,
          seconds: Number(seconds.toFixed(1)),
          deliveriesPerSecond: Math.round(records / seconds),
          dynamodbRequestsPerRecord: Number((dynamodbRequests.total() / records).toFixed(3)),
          runnerRssMiB: mib(process.memoryUsage.rss()),
          runnerHeapMiB: mib(process.memoryUsage().heapUsed),
          emulatorRssMiB: mib(emulator.rssBytes),
          emulatorHeapMiB: mib(emulator.heapUsedBytes),
          idempotencyItems,
          loadAverage: Number(os.loadavg()[0].toFixed(1)),
        };
        windows.push(window);
        options.log(`scale: ${JSON.stringify(window)}`);
      }
    } finally {
      await Promise.all(runners.map((r) => r.stop()));
    }
    return windows;
  } finally {
    await cloud.stop();
  }
}

/** The windows as a Markdown table. */
export function scaleTable(windows: readonly ScaleWindow[]): string {
  return [
    '| deliveries | seconds | deliveries/s | DynamoDB req/record | runner RSS MiB | runner heap MiB | emulator RSS MiB | emulator heap MiB | idempotency items | load average |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...windows.map(
      (w) =>
        `| ${w.deliveries} | ${w.seconds} | ${w.deliveriesPerSecond} | ${w.dynamodbRequestsPerRecord} | ${w.runnerRssMiB} | ${w.runnerHeapMiB} | ${w.emulatorRssMiB} | ${w.emulatorHeapMiB} | ${w.idempotencyItems} | ${w.loadAverage} |`,
    ),
  ].join('\n');
}

/** Runs `--scale N` from the command line and writes bench/results/scale.{json,md}. */
export async function scaleCommand(args: readonly string[], root: string): Promise<void> {
  const value = (name: string) => {
    const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
    if (i < 0) return undefined;
    return args[i].includes('=') ? args[i].slice(args[i].indexOf('=') + 1) : args[i + 1];
  };
  const number = (name: string, fallback: number) => {
    const raw = value(name);
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(n) || n < 0) {
      process.stderr.write(`--${name}: ${raw} is not a whole number ≥ 0; pass e.g. --${name}=${fallback}\n`);
      process.exit(2);
    }
    return n;
  };
  const isolation = value('isolation') as EmulatorIsolation | undefined;
  if (isolation && !['worker', 'process', 'in-process'].includes(isolation)) {
    process.stderr.write(`--isolation: ${isolation} is not one of worker, process, in-process\n`);
    process.exit(2);
  }
  const options = {
    deliveries: number('scale', 100_000),
    isolation: isolation ?? 'process',
    ttlSeconds: number('ttl-seconds', 30),
    sweepSeconds: number('sweep-seconds', 10),
  };
  const started = Date.now();
  const windows = await scaleRun({ ...options, log: (line) => process.stderr.write(`${line}\n`) });
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  const table = scaleTable(windows);
  const dir = path.join(root, 'bench', 'results');
  writeFileSync(
    path.join(dir, 'scale.json'),
    `${JSON.stringify({ date: new Date().toISOString(), options, minutes, windows }, null, 2)}\n`,
  );
  writeFileSync(path.join(dir, 'scale.md'), `${table}\n`);
  process.stdout.write(`${table}\n${options.deliveries} deliveries in ${minutes} min\n`);
}
