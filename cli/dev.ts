import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { constants } from 'node:os';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { TopologyDefinition } from '../lib/index.ts';
import {
  BATCH_CHANNEL,
  type BatchReport,
  createSqsClient,
  RESOURCE_PREFIX_VARIABLE,
  resourcePrefix,
} from '../lib/index.ts';
import type { InvocationReport, ProvisionedStack, SqsLambdaHandler } from '../localstack/index.ts';
import { type LocalStack, startLocalStack } from '../localstack/index.ts';
import { readFigures } from './queue-figures.ts';
import { CliError, DEFAULT_LOCAL_ENDPOINT } from './target.ts';

/**
 * What `fanout dev --demo` adds to a dev run: the reference app's demo. The CLI loads it only when asked
 * for it (`cli/demo/demo-run.ts`), so a dev run in another project never loads the example app.
 */
export interface DevDemo {
  /** Wraps each group's handler before its runner drives it (the demo's fault injection). */
  readonly wrapHandler?: (group: string, handler: SqsLambdaHandler) => SqsLambdaHandler;
  /** Makes the example app's own resources (its effects table) before the handlers load. */
  readonly setup?: (provisioned: ProvisionedStack) => Promise<Record<string, string> | undefined>;
  /** Arguments of `npx fanout …` in the "from another terminal" hint that publish to the demo's topology. */
  readonly publishHint: string;
  /** Publishes the demo, shows its progress, judges it; resolves whether every check held. */
  run(run: DevRun): Promise<boolean>;
}

/** Options of the dev command (`fanout dev`; `npm start` = `fanout dev --demo`). */
export interface DevOptions {
  readonly topology: TopologyDefinition;
  /** Directory the topology's handler paths are relative to. */
  readonly projectRoot: string;
  /**
   * With a demo: run it once, print the checks and return. Without: start the stack (provisioning and
   * every handler loaded) and return at once. Otherwise keep serving until Ctrl-C.
   */
  readonly once: boolean;
  /**
   * The reference app's demo to run once the stack is up.
   * @default none: the topology runs with no traffic but what you publish
   */
  readonly demo?: DevDemo;
  /**
   * The `--topology` file as given on the command line, repeated in the "from another terminal" hints.
   * @default none: the hints rely on the default, infra/topology.ts
   */
  readonly topologyArgument?: string;
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

/** A group's figures from its consumer's batch reports. */
export interface GroupTally {
  processed: number;
  retried: number;
  duplicates: number;
  poison: number;
  failedBatches: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Ctrl-C and SIGTERM: the first stops the run (whatever waits on `pause` wakes), a second exits at once. */
export class StopSignals {
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
export class BatchTallies {
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
export interface DevRun {
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
 * Starts the local cloud (or uses the one at `endpoints`), provisions the topology and runs every
 * group's handler. With a demo, runs it (traffic, progress, checks). Without `once` it then keeps the
 * runners going and every group's figures live until SIGINT/SIGTERM. Stops everything it started
 * before it returns, also on Ctrl-C (then `stoppedBy` says so).
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
    const ok = options.demo ? await options.demo.run(run) : true;
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
    wrapHandler: options.demo?.wrapHandler,
    setup: options.demo?.setup,
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

/** How to publish to the first topic of a topology: a one-event example. */
function publishHint({ topology }: ProvisionedStack): string {
  const topic = topology.topics[0];
  if (!topic) return 'publish <topic> \'{"hello":"world"}\' --type Hello';
  return `publish ${topic.name} '{"hello":"world"}' --type Hello${topic.fifo ? ' --group-id g-1' : ''}`;
}

/** After the demo (without --once): how to publish, watch and inspect from another terminal. */
function printNextSteps({ stack, endpoints, prefix, print, options }: DevRun): void {
  print();
  print(
    `The ${stack.cloud ? 'local cloud keeps running' : 'runners keep running'}; Ctrl-C stops ${stack.cloud ? 'it' : 'them'}. From another terminal:`,
  );
  const fanout = [
    ...(prefix ? [`${RESOURCE_PREFIX_VARIABLE}=${prefix}`] : []),
    'npx fanout',
    ...(endpoints.sns === DEFAULT_LOCAL_ENDPOINT ? [] : [`--endpoint ${endpoints.sns}`]),
    ...(options.topologyArgument ? [`--topology ${options.topologyArgument}`] : []),
  ].join(' ');
  const groups = stack.provisioned.topology.groups;
  print(`  ${fanout} ${options.demo?.publishHint ?? publishHint(stack.provisioned)}`);
  print(`  ${fanout} status --watch`);
  if (groups[0]) print(`  ${fanout} dlq peek ${groups[0].name}`);
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
