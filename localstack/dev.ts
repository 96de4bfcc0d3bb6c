import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { createSqsClient } from '../lib/queue-address.ts';
import { BATCH_CHANNEL, type BatchReport } from '../lib/telemetry.ts';
import type { TopologyDefinition } from '../lib/topology.ts';
import {
  checkDemo,
  type DemoOptions,
  demoSettled,
  type GroupCheck,
  publishDemoTraffic,
  readFigures,
} from './demo-traffic.ts';
import type { InvocationReport } from './event-source-runner.ts';
import { startLocalStack } from './local-stack.ts';

/** Options of the dev command (`npm start`, `fanout dev`). */
export interface DevOptions extends DemoOptions {
  readonly topology: TopologyDefinition;
  readonly projectRoot: string;
  /** Run the demo once, print the checks and return; otherwise keep serving until Ctrl-C. */
  readonly once: boolean;
  /**
   * Port of SNS + SQS; DynamoDB listens on the next one. `0` picks free ports.
   * @default 4566 (0 with `once`)
   */
  readonly port?: number;
  /**
   * Seconds to wait for the demo to settle before judging it.
   * @default 90
   */
  readonly settleSeconds?: number;
  /**
   * Show the handlers' JSON logs and EMF metrics (otherwise only the figures and the checks).
   * @default false
   */
  readonly verbose?: boolean;
  /** Where to write; defaults to the process's stdout. */
  readonly out?: NodeJS.WritableStream;
}

interface GroupTally {
  processed: number;
  retried: number;
  duplicates: number;
  poison: number;
  failedBatches: number;
}

/**
 * Starts the local cloud, provisions the topology, runs every group, publishes the demo traffic,
 * shows live per-group figures and then a table checking every group's effects were applied exactly
 * once. Resolves with `true` when every check held.
 */
export async function runDev(options: DevOptions): Promise<boolean> {
  const out = options.out ?? process.stdout;
  const print = (line = '') => out.write(`${line}\n`);
  const port = options.port ?? (options.once ? 0 : 4566);
  const tallies = new Map<string, GroupTally>();
  const tally = (group: string) => {
    let t = tallies.get(group);
    if (!t) {
      t = { processed: 0, retried: 0, duplicates: 0, poison: 0, failedBatches: 0 };
      tallies.set(group, t);
    }
    return t;
  };
  const onBatch = (message: unknown) => {
    const { group, counts } = message as BatchReport;
    const t = tally(group);
    t.processed += counts.processed;
    t.retried += counts.failed + counts.deferred + counts.abandoned;
    t.duplicates += counts.duplicate;
    t.poison += counts.poison;
  };
  const batchFailures: string[] = [];
  const onInvocation = (report: InvocationReport) => {
    if (report.batchFailure) {
      tally(report.group).failedBatches++;
      batchFailures.push(`${report.group}: ${report.batchFailure}`);
    }
  };
  subscribe(BATCH_CHANNEL, onBatch);
  if (!options.verbose) {
    process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
    process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  }

  print('fanout dev: starting the embedded cloud (SNS + SQS: fauxqs, DynamoDB: dynalite)…');
  const stack = await startLocalStack({
    topology: options.topology,
    projectRoot: options.projectRoot,
    embedded: { snsSqsPort: port, dynamodbPort: port === 0 ? 0 : port + 1 },
    onInvocation,
  });
  const sqs = createSqsClient();
  const { cloud, provisioned } = stack;
  print(`  SNS + SQS  ${cloud?.sns}`);
  print(`  DynamoDB   ${cloud?.dynamodb}`);
  print(`  topics     ${[...provisioned.topics.keys()].join(', ')}`);
  print(
    `  groups     ${provisioned.topology.groups.map((g) => `${g.name}${g.fifo ? ' (FIFO)' : ''}`).join(', ')}`,
  );
  print();

  let ok = false;
  try {
    const plan = await publishDemoTraffic(provisioned, options);
    const published = [...plan.delivered.values()].reduce((a, b) => a + b, 0);
    print(
      `Published the demo: ${published} deliveries across ${plan.delivered.size} groups (duplicates, transient failures and poison included).`,
    );

    const bars = new cliProgress.MultiBar(
      {
        format:
          ' {group} |{bar}| {value}/{total} applied · queue {visible} · in flight {inFlight} · retried {retried} · dup skipped {duplicates} · DLQ {dead}',
        barsize: 20,
        hideCursor: true,
        clearOnComplete: false,
        noTTYOutput: true,
        notTTYSchedule: 2000,
        stream: out as NodeJS.WriteStream,
      },
      cliProgress.Presets.shades_classic,
    );
    const width = Math.max(...provisioned.topology.groups.map((g) => g.name.length));
    const groupBars = new Map(
      provisioned.topology.groups.map((g) => [
        g.name,
        bars.create(plan.expectedEffects.get(g.name)?.size ?? 0, 0, {
          group: g.name.padEnd(width),
          visible: 0,
          inFlight: 0,
          retried: 0,
          duplicates: 0,
          dead: 0,
        }),
      ]),
    );
    const refresh = async () => {
      const figures = await readFigures(provisioned, sqs);
      for (const [group, bar] of groupBars) {
        const t = tally(group);
        const f = figures.get(group);
        bar.update(Math.min(t.processed, bar.getTotal()), {
          visible: f?.visible ?? 0,
          inFlight: f?.inFlight ?? 0,
          retried: t.retried,
          duplicates: t.duplicates,
          dead: f?.dead ?? 0,
        });
      }
    };
    const deadline = Date.now() + (options.settleSeconds ?? 90) * 1000;
    let settled = false;
    while (!settled && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      await refresh();
      settled = await demoSettled(provisioned, plan, sqs);
    }
    await refresh();
    bars.stop();
    print();

    const checks = await checkDemo(provisioned, plan, sqs);
    print(renderChecks(checks, tallies));
    for (const failure of batchFailures.slice(0, 5)) print(`  whole batch failed: ${failure}`);
    ok = settled && checks.every((c) => c.ok);
    print(
      ok
        ? 'Every check held: each effect applied exactly once, poison dead-lettered with its reason, FIFO order kept.'
        : 'Some checks FAILED (see the table above).',
    );
  } finally {
    if (options.once) {
      unsubscribe(BATCH_CHANNEL, onBatch);
      await stack.stop();
    }
  }

  if (!options.once) {
    print();
    print('The local cloud keeps running; Ctrl-C stops it. From another terminal:');
    print(
      `  export AWS_ENDPOINT_URL_SNS=${cloud?.sns} AWS_ENDPOINT_URL_SQS=${cloud?.sqs} AWS_ENDPOINT_URL_DYNAMODB=${cloud?.dynamodb}`,
    );
    print('  export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test');
    print(
      `  aws sns publish --endpoint-url ${cloud?.sns} --topic-arn ${provisioned.topics.get('orders') ?? '<topic arn>'} \\`,
    );
    print(
      `    --message '{"specversion":"1.0","id":"my-1","type":"OrderPlaced","source":"cli","data":{"orderId":"o-1","customer":"me","amount":5}}' \\`,
    );
    print('    --message-attributes \'{"type":{"DataType":"String","StringValue":"OrderPlaced"}}\'');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    print('\nStopping…');
    unsubscribe(BATCH_CHANNEL, onBatch);
    await stack.stop();
  }
  return ok;
}

function renderChecks(checks: readonly GroupCheck[], tallies: ReadonlyMap<string, GroupTally>): string {
  const table = new Table({
    head: [
      'group',
      'effects expected',
      'applied once',
      'missing',
      'doubled',
      'retried',
      'dup skipped',
      'DLQ (expected)',
      'order',
      'queue empty',
      'result',
    ],
    style: { head: [], border: [] },
  });
  for (const c of checks) {
    const t = tallies.get(c.group);
    table.push([
      c.group,
      c.expected,
      c.appliedOnce,
      c.missing,
      c.doubled + c.unexpected,
      t?.retried ?? 0,
      t?.duplicates ?? 0,
      `${c.deadFound} (${c.deadExpected})${c.deadReasonsOk ? '' : ' reasons!'}`,
      c.orderOk ? 'kept' : 'BROKEN',
      c.drained ? 'yes' : 'no',
      c.ok ? 'ok' : 'FAIL',
    ]);
  }
  return table.toString();
}
