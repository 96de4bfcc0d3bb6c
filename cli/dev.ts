import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { constants } from 'node:os';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { EffectsLedger } from '../functions/shared/effects-ledger.ts';
import type { TopologyDefinition } from '../lib/index.ts';
import {
  BATCH_CHANNEL,
  type BatchReport,
  createSqsClient,
  POISON_REASON_ATTRIBUTE,
  RESOURCE_PREFIX_VARIABLE,
  resourcePrefix,
} from '../lib/index.ts';
import {
  checkDemo,
  type DemoOptions,
  type DemoPlan,
  demoSettled,
  type GroupCheck,
  publishDemoTraffic,
  readAllMessages,
  readFigures,
} from '../localstack/demo/demo-traffic.ts';
import type { InvocationReport, ProvisionedStack } from '../localstack/index.ts';
import { type LocalStack, startLocalStack } from '../localstack/index.ts';
import { CliError, DEFAULT_LOCAL_ENDPOINT } from './target.ts';

/** Options of the dev command (`npm start`, `fanout dev`). */
export interface DevOptions extends DemoOptions {
  readonly topology: TopologyDefinition;
  readonly projectRoot: string;
  /** Run the demo once, print the checks and return; otherwise keep serving until Ctrl-C. */
  readonly once: boolean;
  /**
   * Port of SNS + SQS of the embedded cloud; DynamoDB listens on the next one. `0` picks free ports.
   * @default 4566 (0 with `once`)
   */
  readonly port?: number;
  /**
   * Run against a cloud that is already running (LocalStack, moto, another `npm start`) at these
   * endpoints instead of starting the embedded one. moto and LocalStack serve every service on one URL.
   * @default the embedded cloud
   */
  readonly endpoints?: { readonly snsSqs: string; readonly dynamodb: string };
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
  /** Where to write what a person reads; defaults to the process's stdout. */
  readonly out?: NodeJS.WritableStream;
  /**
   * Where to write JSON, one document per line: the checks after the demo (`kind: 'checks'`), then,
   * without `once`, the figures whenever they change (`kind: 'figures'`). Nothing when not given.
   */
  readonly json?: NodeJS.WritableStream;
}

/** How a dev run ended. */
export interface DevResult {
  /** The demo settled and every check held. */
  readonly ok: boolean;
  /** The signal (Ctrl-C: SIGINT) that stopped the run, if one did; the runners and the cloud are stopped. */
  readonly stoppedBy?: NodeJS.Signals;
}

/** The exit status of a process that stops on `signal`: 128 + its number (SIGINT: 130), as shells report. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

interface GroupTally {
  processed: number;
  retried: number;
  duplicates: number;
  poison: number;
  failedBatches: number;
}

/** What the cloud held before the demo: effects, FIFO streams and dead letters of earlier runs. */
interface Snapshot {
  /** Recorded effects per group. */
  readonly effects: ReadonlyMap<string, number>;
  readonly streams: ReadonlyMap<string, number[]>;
  /** Dead letters per group, by reason. */
  readonly dead: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sum = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0);

/** Ctrl-C and SIGTERM: the first stops the run (whatever waits on `pause` wakes), a second exits at once. */
class StopSignals {
  stoppedBy: NodeJS.Signals | undefined;
  private wake = () => {};
  private readonly stopped = new Promise<void>((resolve) => {
    this.wake = resolve;
  });
  private readonly onSignal = (signal: NodeJS.Signals) => {
    if (this.stoppedBy) process.exit(signalExitCode(signal));
    this.stoppedBy = signal;
    this.print('\nStopping…');
    this.wake();
  };

  private readonly print: (line?: string) => void;

  constructor(print: (line?: string) => void) {
    this.print = print;
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  /** Waits `ms`, or less if the run is stopped meanwhile. */
  pause = (ms: number): Promise<unknown> => Promise.race([sleep(ms), this.stopped]);

  dispose(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}

/** Per-group figures from the consumers' batch reports and the runners' invocation reports. */
class BatchTallies {
  readonly byGroup = new Map<string, GroupTally>();
  readonly batchFailures: string[] = [];

  tally = (group: string): GroupTally => {
    let t = this.byGroup.get(group);
    if (!t) {
      t = { processed: 0, retried: 0, duplicates: 0, poison: 0, failedBatches: 0 };
      this.byGroup.set(group, t);
    }
    return t;
  };

  onBatch = (message: unknown): void => {
    const { group, counts } = message as BatchReport;
    const t = this.tally(group);
    t.processed += counts.processed;
    t.retried += counts.failed + counts.deferred + counts.abandoned;
    t.duplicates += counts.duplicate;
    t.poison += counts.poison;
  };

  onInvocation = (report: InvocationReport): void => {
    if (!report.batchFailure) return;
    this.tally(report.group).failedBatches++;
    this.batchFailures.push(`${report.group}: ${report.batchFailure}`);
  };
}

/** What a dev run works with once its stack is up. */
interface DevRun {
  readonly options: DevOptions;
  readonly stack: LocalStack;
  readonly sqs: SQSClient;
  readonly endpoints: { readonly sns: string; readonly sqs: string; readonly dynamodb: string };
  readonly prefix: string;
  readonly tallies: BatchTallies;
  readonly signals: StopSignals;
  readonly print: (line?: string) => void;
  readonly emit: (document: object) => void;
}

/**
 * Starts the local cloud (or uses the one at `endpoints`), provisions the topology, runs every group,
 * publishes the demo traffic, shows live per-group figures and then a table checking every group's
 * effects were applied exactly once. Without `once` it then keeps the runners going and the figures
 * live until SIGINT/SIGTERM. On a cloud that already holds effects or dead letters of earlier runs, the
 * checks count only what this run added. Stops everything it started before it returns, also on
 * Ctrl-C (then `stoppedBy` says so).
 */
export async function runDev(options: DevOptions): Promise<DevResult> {
  const out = options.out ?? process.stdout;
  const print = (line = '') => void out.write(`${line}\n`);
  const emit = (document: object) => void options.json?.write(`${JSON.stringify(document)}\n`);
  const signals = new StopSignals(print);
  const tallies = new BatchTallies();
  if (!options.verbose) {
    process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
    process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  }
  let stack: LocalStack | undefined;
  subscribe(BATCH_CHANNEL, tallies.onBatch);
  try {
    stack = await startDevStack(options, tallies, print);
    const run: DevRun = {
      ...describeStack(stack),
      options,
      stack,
      sqs: createSqsClient(),
      tallies,
      signals,
      print,
      emit,
    };
    printStack(run);
    if (signals.stoppedBy) return { ok: false, stoppedBy: signals.stoppedBy };
    const ok = await runDemo(run);
    if (signals.stoppedBy || options.once) return { ok, stoppedBy: signals.stoppedBy };
    printNextSteps(run);
    await showLiveFigures(
      stack.provisioned,
      run.sqs,
      tallies.tally,
      out,
      emit,
      () => signals.stoppedBy !== undefined,
      signals.pause,
    );
    return { ok, stoppedBy: signals.stoppedBy };
  } finally {
    signals.dispose();
    unsubscribe(BATCH_CHANNEL, tallies.onBatch);
    await stack?.stop();
    if (signals.stoppedBy)
      print(stack?.cloud ? 'Stopped the runners and the local cloud.' : 'Stopped the runners.');
  }
}

/** Starts the embedded cloud (or checks the given one answers), provisions, starts the runners. */
async function startDevStack(options: DevOptions, tallies: BatchTallies, print: (line?: string) => void) {
  if (options.endpoints) {
    print(
      `fanout dev: using the cloud at ${options.endpoints.snsSqs} (DynamoDB ${options.endpoints.dynamodb}); nothing is started`,
    );
    await useExistingCloud(options.endpoints);
  } else print('fanout dev: starting the embedded cloud (SNS + SQS: fauxqs, DynamoDB: dynalite)…');
  const port = options.port ?? (options.once ? 0 : 4566);
  return startLocalStack({
    topology: options.topology,
    projectRoot: options.projectRoot,
    embedded: options.endpoints ? false : { snsSqsPort: port, dynamodbPort: port === 0 ? 0 : port + 1 },
    onInvocation: tallies.onInvocation,
  });
}

function describeStack(stack: LocalStack) {
  return {
    endpoints: {
      sns: stack.cloud?.sns ?? process.env.AWS_ENDPOINT_URL_SNS ?? '',
      sqs: stack.cloud?.sqs ?? process.env.AWS_ENDPOINT_URL_SQS ?? '',
      dynamodb: stack.cloud?.dynamodb ?? process.env.AWS_ENDPOINT_URL_DYNAMODB ?? '',
    },
    prefix: resourcePrefix(),
  };
}

function printStack({ stack, endpoints, prefix, print }: DevRun): void {
  const { provisioned } = stack;
  print(`  SNS + SQS  ${endpoints.sns}`);
  print(`  DynamoDB   ${endpoints.dynamodb}`);
  if (prefix) print(`  names      ${prefix}… (${RESOURCE_PREFIX_VARIABLE})`);
  print(`  topics     ${[...provisioned.topics.keys()].join(', ')}`);
  print(
    `  groups     ${provisioned.topology.groups.map((g) => `${g.name}${g.fifo ? ' (FIFO)' : ''}`).join(', ')}`,
  );
  print();
}

/** Publishes the demo, shows its progress until it settles, judges it; resolves whether every check held. */
async function runDemo(run: DevRun): Promise<boolean> {
  const { stack, sqs, print, options, signals } = run;
  const { provisioned } = stack;
  const before = await snapshot(provisioned, sqs);
  const earlierEffects = sum(before.effects.values());
  const earlierDead = sum([...before.dead.values()].map((d) => sum(d.values())));
  if (earlierEffects + earlierDead > 0)
    print(
      `The cloud already holds ${earlierEffects} effects and ${earlierDead} dead letters of earlier runs: the checks count only what this run adds.`,
    );
  const plan = await publishDemoTraffic(provisioned, options);
  const published = sum(plan.delivered.values());
  print(
    `Published the demo: ${published} deliveries across ${plan.delivered.size} groups (duplicates, transient failures and poison included).`,
  );
  const settled = await showDemoProgress(run, plan, before);
  print();
  if (signals.stoppedBy) {
    print('Stopped before the demo was judged.');
    return false;
  }
  let checks = await checkDemo(provisioned, plan, sqs);
  if (earlierEffects + earlierDead > 0)
    checks = onlyThisRun(checks, plan, before, await snapshot(provisioned, sqs));
  return reportChecks(run, checks, settled, published);
}

/** Progress bars per group until the demo settles (or the wait ends); resolves whether it settled. */
async function showDemoProgress(run: DevRun, plan: DemoPlan, before: Snapshot): Promise<boolean> {
  const { stack, sqs, options, signals, tallies } = run;
  const { provisioned } = stack;
  const bars = new cliProgress.MultiBar(
    {
      format:
        ' {group} |{bar}| {value}/{total} applied · queue {visible} · in flight {inFlight} · retried {retried} · dup skipped {duplicates} · DLQ {dead}',
      barsize: 20,
      hideCursor: true,
      clearOnComplete: false,
      noTTYOutput: true,
      notTTYSchedule: 2000,
      stream: (options.out ?? process.stdout) as NodeJS.WriteStream,
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
      const t = tallies.tally(group);
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
  while (!settled && !signals.stoppedBy && Date.now() < deadline) {
    await signals.pause(250);
    await refresh();
    settled =
      (await demoSettled(provisioned, plan, sqs)) &&
      (await deadLettersArrived(provisioned, plan, before, sqs));
  }
  await refresh();
  bars.stop();
  return settled;
}

/** Prints the checks table and verdict, emits them as JSON; resolves whether every check held. */
function reportChecks(
  run: DevRun,
  checks: readonly GroupCheck[],
  settled: boolean,
  published: number,
): boolean {
  const { print, emit, tallies, options, endpoints, prefix } = run;
  print(renderChecks(checks, tallies.byGroup));
  for (const failure of tallies.batchFailures.slice(0, 5)) print(`  whole batch failed: ${failure}`);
  const ok = settled && checks.every((c) => c.ok);
  print(
    ok
      ? 'Every check held: each effect applied exactly once, poison dead-lettered with its reason, FIFO order kept.'
      : settled
        ? 'Some checks FAILED (see the table above).'
        : `Some checks FAILED: the demo did not settle within ${options.settleSeconds ?? 90} s (see the table above).`,
  );
  emit({
    kind: 'checks',
    ok,
    settled,
    endpoints,
    ...(prefix ? { prefix } : {}),
    published,
    groups: checks.map((c) => ({
      ...c,
      retried: tallies.byGroup.get(c.group)?.retried ?? 0,
      duplicatesSkipped: tallies.byGroup.get(c.group)?.duplicates ?? 0,
    })),
    batchFailures: tallies.batchFailures,
  });
  return ok;
}

/** After the demo (without --once): how to publish, watch and inspect from another terminal. */
function printNextSteps({ stack, endpoints, prefix, print }: DevRun): void {
  print();
  print(
    `The ${stack.cloud ? 'local cloud keeps running' : 'runners keep running'}; Ctrl-C stops ${stack.cloud ? 'it' : 'them'}. From another terminal:`,
  );
  const fanout = `${prefix ? `${RESOURCE_PREFIX_VARIABLE}=${prefix} ` : ''}npx fanout${endpoints.sns === DEFAULT_LOCAL_ENDPOINT ? '' : ` --endpoint ${endpoints.sns}`}`;
  print(
    `  ${fanout} publish orders '{"orderId":"o-1","customer":"me","amount":5}' --type OrderPlaced --count 4000`,
  );
  print(`  ${fanout} status --watch`);
  print(`  ${fanout} dlq peek notifications`);
  print();
  print('Live figures (processed and retried since the start):');
}

/** Points the SDK at an existing cloud, and fails with one line naming the option when it does not answer. */
async function useExistingCloud(endpoints: { snsSqs: string; dynamodb: string }): Promise<void> {
  process.env.AWS_ENDPOINT_URL_SNS = endpoints.snsSqs;
  process.env.AWS_ENDPOINT_URL_SQS = endpoints.snsSqs;
  process.env.AWS_ENDPOINT_URL_DYNAMODB = endpoints.dynamodb;
  process.env.AWS_REGION ??= 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  const firstLine = (error: unknown) => (error as Error).message.split('\n')[0];
  try {
    await new SNSClient({ maxAttempts: 1 }).send(new ListTopicsCommand({}));
  } catch (error) {
    throw new CliError(
      `cannot reach SNS at ${endpoints.snsSqs} (${firstLine(error)}): start that cloud, or pass the URL it serves on with --endpoint`,
    );
  }
  try {
    await new DynamoDBClient({ maxAttempts: 1 }).send(new ListTablesCommand({ Limit: 1 }));
  } catch (error) {
    throw new CliError(
      `cannot reach DynamoDB at ${endpoints.dynamodb} (${firstLine(error)}): pass the URL it serves on with --dynamodb-endpoint (default: the --endpoint URL)`,
    );
  }
}

/** Effects, FIFO streams and dead letters (by reason) the cloud holds now. */
async function snapshot(stack: ProvisionedStack, sqs: SQSClient): Promise<Snapshot> {
  const { applied, streams } = await new EffectsLedger(stack.tables.effects).readAll();
  const effects = new Map<string, number>();
  for (const key of applied.keys()) {
    const group = key.slice(0, key.indexOf('#'));
    effects.set(group, (effects.get(group) ?? 0) + 1);
  }
  const dead = new Map<string, Map<string, number>>();
  await Promise.all(
    [...stack.groups].map(async ([group, { dlq }]) => {
      const reasons = new Map<string, number>();
      for (const m of await readAllMessages(sqs, dlq.url)) {
        const reason = m.MessageAttributes?.[POISON_REASON_ATTRIBUTE]?.StringValue ?? 'redrive';
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      }
      dead.set(group, reasons);
    }),
  );
  return { effects, streams, dead };
}

/** Every group's DLQ holds its earlier dead letters plus every dead letter the demo expects. */
async function deadLettersArrived(
  stack: ProvisionedStack,
  plan: DemoPlan,
  before: Snapshot,
  sqs: SQSClient,
): Promise<boolean> {
  const figures = await readFigures(stack, sqs);
  return [...plan.expectedDead].every(
    ([group, dead]) =>
      (figures.get(group)?.dead ?? 0) >= sum(before.dead.get(group)?.values() ?? []) + sum(dead.values()),
  );
}

/** The checks of `checkDemo` on a cloud that held earlier runs' effects and dead letters: only this run's. */
function onlyThisRun(
  checks: readonly GroupCheck[],
  plan: DemoPlan,
  before: Snapshot,
  after: Snapshot,
): GroupCheck[] {
  return checks.map((c) => {
    const unexpected = Math.max(0, c.unexpected - (before.effects.get(c.group) ?? 0));
    const earlierDead = before.dead.get(c.group) ?? new Map<string, number>();
    const deadFound = c.deadFound - sum(earlierDead.values());
    const deadReasonsOk = [...(plan.expectedDead.get(c.group) ?? new Map<string, number>())].every(
      ([reason, count]) =>
        (after.dead.get(c.group)?.get(reason) ?? 0) - (earlierDead.get(reason) ?? 0) === count,
    );
    const orderOk = [...plan.expectedStreams]
      .filter(([key]) => key.startsWith(`${c.group}#`))
      .every(
        ([key, order]) =>
          JSON.stringify((after.streams.get(key) ?? []).slice(before.streams.get(key)?.length ?? 0)) ===
          JSON.stringify(order),
      );
    return {
      ...c,
      unexpected,
      deadFound,
      deadReasonsOk,
      orderOk,
      ok:
        c.missing === 0 &&
        c.doubled === 0 &&
        unexpected === 0 &&
        deadFound === c.deadExpected &&
        deadReasonsOk &&
        orderOk &&
        c.drained,
    };
  });
}

/**
 * Every group's figures, refreshed every second until `done()`: redrawn in place on a terminal; else
 * one line per group whose figures changed. JSON (`kind: 'figures'`) whenever anything changed.
 */
async function showLiveFigures(
  stack: ProvisionedStack,
  sqs: SQSClient,
  tally: (group: string) => GroupTally,
  out: NodeJS.WritableStream,
  emit: (document: object) => void,
  done: () => boolean,
  pause: (ms: number) => Promise<unknown>,
): Promise<void> {
  const tty = (out as NodeJS.WriteStream).isTTY === true;
  const groups = stack.topology.groups.map((g) => g.name);
  const width = Math.max(...groups.map((g) => g.length));
  let shown: string[] = [];
  let failing = false;
  while (!done()) {
    let figures: Awaited<ReturnType<typeof readFigures>>;
    try {
      figures = await readFigures(stack, sqs);
      failing = false;
    } catch (error) {
      if (!failing)
        out.write(`  cannot read the queues (${(error as Error).message.split('\n')[0]}); retrying…\n`);
      failing = true;
      await pause(1000);
      continue;
    }
    const rows = groups.map((group) => {
      const t = tally(group);
      const f = figures.get(group);
      return {
        group,
        processed: t.processed,
        visible: f?.visible ?? 0,
        inFlight: f?.inFlight ?? 0,
        retried: t.retried,
        duplicatesSkipped: t.duplicates,
        deadLetters: f?.dead ?? 0,
      };
    });
    const lines = rows.map(
      (r) =>
        `  ${r.group.padEnd(width)}  processed ${r.processed} · queue ${r.visible} · in flight ${r.inFlight} · retried ${r.retried} · dup skipped ${r.duplicatesSkipped} · DLQ ${r.deadLetters}`,
    );
    if (lines.some((line, i) => line !== shown[i])) {
      if (tty) {
        if (shown.length > 0) out.write(`\x1b[${shown.length}A`);
        for (const line of lines) out.write(`\x1b[2K${line}\n`);
      } else for (const [i, line] of lines.entries()) if (line !== shown[i]) out.write(`${line}\n`);
      emit({ kind: 'figures', at: new Date().toISOString(), groups: rows });
      shown = lines;
    }
    await pause(1000);
  }
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
