#!/usr/bin/env node
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { Command, InvalidArgumentError } from 'commander';
import pc from 'picocolors';
import { FanoutError, handlerFileCheck, resolveTopology, TopologyError } from '../lib/index.ts';
import { peekDeadLetters, purgeDeadLetters, redriveDeadLetters } from './dead-letters.ts';
import { publishFromCli } from './publish.ts';
import { readStatus, type StackStatus } from './status.ts';
import { CliError, groupOf, resolveTarget, type TargetOptions } from './target.ts';
import { DEFAULT_TOPOLOGY_FILE, invalidTopology, loadTopologyFile } from './topology-file.ts';

/** Where fanout itself is installed (its bench lives there); never the project the CLI works on. */
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// `fanout topology | head -1`: the reader went away; stop quietly, as Unix tools do.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_534)
    throw new InvalidArgumentError('a port is a whole number from 0 to 65534');
  return n;
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number ≥ 1');
  return n;
}

interface GlobalOptions extends TargetOptions {
  json?: boolean;
  topology?: string;
}

const program = new Command()
  .name('fanout')
  .description(
    'Operate a fanout stack: run it locally, publish, watch groups, inspect and redrive dead letters.',
  )
  .option('--json', 'print machine-readable JSON instead of tables')
  .option(
    '--topology <file>',
    `the topology module (its default export: defineTopology({ … })), relative to the working directory (default: ${DEFAULT_TOPOLOGY_FILE})`,
  )
  .option(
    '--endpoint <url>',
    'SNS/SQS endpoint (default: AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL, else http://127.0.0.1:4566)',
  )
  .option(
    '--stack <name>',
    'a deployed FanoutStack: resolve topics and queues from its outputs (AWS credentials and region from the usual chain)',
  )
  .showHelpAfterError();

const globals = () => program.opts<GlobalOptions>();
const print = (text: string): void => {
  process.stdout.write(`${text}\n`);
};
const printJson = (value: unknown): void => print(JSON.stringify(value, null, 2));
const loadTopology = () => loadTopologyFile(globals().topology);
const target = async () => resolveTarget(await loadTopology(), globals());
const table = (head: string[]) => new Table({ head, style: { head: [], border: [] } });

program
  .command('dev')
  .description(
    "run your topology locally (emulator, provisioning, every group's handler, live figures): on the embedded emulator, or with --endpoint on a cloud that is already running",
  )
  .option(
    '--project-root <dir>',
    "directory the topology's handler paths resolve against (default: the working directory)",
  )
  .option(
    '--demo',
    "run the reference app's demo traffic and checks (what npm start runs; needs the example topology)",
  )
  .option(
    '--once',
    'with --demo: run the demo once, check it, and exit (status 0 only if every check held); without: start, provision, load every handler, and exit',
  )
  .option(
    '--port <port>',
    'SNS + SQS port of the embedded emulator; DynamoDB uses the next one (default 4566, free ports with --once)',
    port,
  )
  .option(
    '--dynamodb-endpoint <url>',
    'with --endpoint: DynamoDB endpoint of that cloud (default: the --endpoint URL, as on moto and LocalStack)',
  )
  .option('--orders <n>', 'with --demo: orders the demo places (default 20)', positive)
  .option(
    '--settle-seconds <n>',
    'with --demo: how long the demo may take to settle before it is judged (default 90)',
    positive,
  )
  .option('--verbose', "show the handlers' JSON logs and metrics, and at the end one event's trace")
  .action(
    async (options: {
      once?: boolean;
      demo?: boolean;
      projectRoot?: string;
      settleSeconds?: number;
      port?: number;
      dynamodbEndpoint?: string;
      orders?: number;
      verbose?: boolean;
    }) => {
      const { endpoint, stack, json, topology } = globals();
      if (!options.demo && (options.orders !== undefined || options.settleSeconds !== undefined))
        throw new CliError(
          '--orders and --settle-seconds are options of the demo: add --demo, or leave them out',
        );
      if (stack) throw new CliError('dev runs the stack locally; --stack is for a deployed stack');
      if (options.dynamodbEndpoint && !endpoint)
        throw new CliError(
          '--dynamodb-endpoint goes with --endpoint URL (the SNS + SQS endpoint of that cloud)',
        );
      if (endpoint && options.port !== undefined)
        throw new CliError(
          '--port is for the embedded emulator; with --endpoint nothing is started, so leave --port out',
        );
      const [{ runDev, signalExitCode }, { PortInUseError }, traces] = await Promise.all([
        import('./dev.ts'),
        import('../localstack/index.ts'),
        import('./trace.ts'),
      ]);
      const recording = await traces.recordTraces(
        path.join(path.resolve(options.projectRoot ?? '.'), traces.TRACE_FILE),
      );
      // The reference app's demo loads only when asked for: another project's dev run never loads it.
      const demo = options.demo
        ? (await loadDemo()).createDemo({ orders: options.orders, settleSeconds: options.settleSeconds })
        : undefined;
      try {
        const projectRoot = path.resolve(options.projectRoot ?? '.');
        const result = await runDev({
          // Checked whole, handler files included, before the cloud starts.
          topology: await loadTopologyFile(topology, process.cwd(), {
            checkHandlerFile: handlerFileCheck(projectRoot),
          }),
          projectRoot,
          topologyArgument: topology,
          demo,
          once: options.once ?? false,
          port: options.port,
          verbose: options.verbose,
          endpoints: endpoint
            ? { snsSqs: endpoint, dynamodb: options.dynamodbEndpoint ?? endpoint }
            : undefined,
          ...(json ? { out: process.stderr, json: process.stdout } : {}),
        });
        if (options.verbose) traces.printBusiestTrace(recording, json ? process.stderr : process.stdout);
        if (result.stoppedBy) process.exit(signalExitCode(result.stoppedBy));
        process.exitCode = result.ok ? 0 : 1;
      } catch (error) {
        if (!(error instanceof PortInUseError)) throw error;
        throw new CliError(
          `${error.message} (another npm start, LocalStack or moto?): stop it, pass --port N to use N and N+1, or --endpoint URL to run on the cloud already there`,
        );
      }
    },
  );

/**
 * The reference app's demo (`cli/demo/`), which is part of the fanout repository and not of the package: its
 * path is computed, not written in an import, so the package build neither follows nor ships it.
 */
async function loadDemo(): Promise<{
  createDemo(options: { orders?: number; settleSeconds?: number }): import('./dev.ts').DevDemo;
}> {
  const file = path.join(packageRoot, 'cli', 'demo', 'demo-run.ts');
  if (!existsSync(file))
    throw new CliError(
      "--demo runs the reference app's demo, which comes with a clone of the fanout repository, not with the installed package: run fanout dev without --demo, and publish with fanout publish",
    );
  return import(pathToFileURL(file).href);
}

// The bench runs in the fanout repository only (bench/ is not part of the package): elsewhere, no such command.
if (existsSync(path.join(packageRoot, 'bench', 'run.ts'))) registerBench();

function registerBench(): void {
  program
    .command('bench')
    .description(
      'run the benchmarks against Powertools and like-for-like hand-written loops (what npm run bench runs)',
    )
    .option('--quick', 'smaller loads, 2 rounds: a smoke run')
    .action(async (options: { quick?: boolean }) => {
      const { spawnSync } = await import('node:child_process');
      const json = globals().json;
      const started = Date.now();
      const result = spawnSync(process.execPath, ['bench/run.ts', ...(options.quick ? ['--quick'] : [])], {
        cwd: packageRoot,
        // With --json the bench's own table goes to stderr and stdout carries only the JSON.
        stdio: json ? ['inherit', process.stderr, 'inherit'] : 'inherit',
      });
      process.exitCode = result.status ?? 1;
      if (json) printJson(await benchSummary(result.status, started));
    });
}

/** Where `bench/run.ts` wrote its results, with the figures of each comparison. */
async function benchSummary(status: number | null, started: number) {
  const { readFileSync, statSync } = await import('node:fs');
  const dir = path.join(packageRoot, 'bench', 'results');
  const files = {
    json: path.join(dir, 'latest.json'),
    markdown: path.join(dir, 'latest.md'),
    chart: path.join(dir, 'ratios.svg'),
  };
  const fresh = (() => {
    try {
      return statSync(files.json).mtimeMs >= started - 1000;
    } catch {
      return false;
    }
  })();
  if (status !== 0 || !fresh) return { ok: false, exitStatus: status, files };
  const { date, machine, quick, rounds, results } = JSON.parse(readFileSync(files.json, 'utf8')) as {
    date: string;
    machine: string;
    quick: boolean;
    rounds: number;
    results: { samples?: unknown }[];
  };
  // Each comparison's figures (measure, medians, ratio, goal, met), without the raw samples.
  return {
    ok: true,
    files,
    date,
    machine,
    quick,
    rounds,
    results: results.map(({ samples: _, ...row }) => row),
  };
}

program
  .command('topology')
  .description(
    'show the topics and consumer groups of the topology (--topology, default infra/topology.ts) as a tree',
  )
  .action(async () => {
    const topology = resolveTopology(await loadTopology());
    if (globals().json) return printJson(topology);
    for (const topic of topology.topics) {
      print(`${pc.bold(topic.name)}${topic.fifo ? pc.dim(' (FIFO)') : ''}`);
      const subscribers = topology.groups.filter((g) => g.subscribe.includes(topic.name));
      subscribers.forEach((g, i) => {
        const last = i === subscribers.length - 1;
        const filter = g.filter
          ? ` filter ${g.filterScope === 'MessageBody' ? 'body ' : ''}${JSON.stringify(g.filter)}`
          : '';
        print(
          `${last ? '└─' : '├─'} ${g.name}${pc.dim(`  batch ${g.batchSize}${g.batchingWindowSeconds ? ` / ${g.batchingWindowSeconds}s window` : ''}, concurrency ${g.maxConcurrency}, DLQ after ${g.maxReceiveCount} receives${filter}`)}`,
        );
      });
    }
  });

program
  .command('publish')
  .description('publish an event to a topic: fanout publish orders \'{"orderId":"o-1"}\' --type OrderPlaced')
  .argument('<topic>', 'topic name from the topology')
  .argument('<payload>', 'JSON data (or a whole { type, data } envelope), @file.json, or - for stdin')
  .option('--type <type>', 'event type (also the `type` message attribute)')
  .option(
    '--attr <key=value>',
    'extra message attribute (repeatable)',
    (v: string, all: string[]) => [...all, v],
    [] as string[],
  )
  .option('--group-id <id>', 'message group id (FIFO topics)')
  .option(
    '--id <id>',
    'event id: re-publish an event under its id (consumers that applied it skip it); default: a fresh id',
  )
  .option('--count <n>', 'publish N copies with fresh ids (a quick load generator)', positive, 1)
  .action(
    async (
      topic: string,
      payload: string,
      options: { type?: string; attr: string[]; groupId?: string; id?: string; count: number },
    ) => {
      const t = await target();
      const bar =
        options.count > 1 && !globals().json && process.stderr.isTTY
          ? new cliProgress.SingleBar(
              { format: ' publishing |{bar}| {value}/{total}', stream: process.stderr },
              cliProgress.Presets.shades_classic,
            )
          : undefined;
      bar?.start(options.count, 0);
      const results = await publishFromCli(
        t,
        {
          topic,
          payload,
          type: options.type,
          attributes: options.attr,
          groupId: options.groupId,
          id: options.id,
          count: options.count,
        },
        (done) => bar?.update(done),
      ).finally(() => bar?.stop());
      const failed = results.filter((r) => !r.ok);
      if (globals().json)
        printJson({
          topic,
          published: results.length - failed.length,
          failed: failed.length,
          results: results.map((r) => (r.ok ? r : { ok: false, id: r.id, error: r.error.message })),
        });
      else {
        print(
          `published ${results.length - failed.length} of ${results.length} to ${topic}${results.length === 1 && results[0].ok ? ` (id ${results[0].id})` : ''}`,
        );
        for (const f of failed.slice(0, 5))
          if (!f.ok) process.stderr.write(`${pc.red(`fanout: not published: ${f.error.message}`)}\n`);
      }
      if (failed.length > 0) process.exitCode = 1;
    },
  );

function renderStatus(status: StackStatus): string {
  const groups = table(['group', 'visible', 'in flight', 'delayed', 'DLQ', 'oldest (s)', '']);
  for (const g of status.groups) {
    const flag =
      g.deadLetters > 0
        ? pc.red('dead letters')
        : g.fallingBehind
          ? pc.yellow('falling behind')
          : pc.green('ok');
    groups.push([
      g.group,
      g.visible,
      g.inFlight,
      g.delayed,
      g.deadLetters > 0 ? pc.red(String(g.deadLetters)) : '0',
      g.oldestMessageSeconds ?? '–',
      flag,
    ]);
  }
  const topics = table(['topic', 'subscriptions', 'topology', '']);
  for (const t of status.topics) {
    const problems = !t.exists
      ? ['topic missing: not provisioned here']
      : [
          ...(t.missing.length > 0 ? [`not subscribed: ${t.missing.join(', ')}`] : []),
          ...(t.unexpected > 0 ? [`${t.unexpected} not in the topology`] : []),
          ...(t.missing.length === 0 && t.unexpected === 0 && !t.matchesTopology
            ? [`${t.subscriptions - t.expected} duplicate`]
            : []),
        ];
    topics.push([
      t.topic,
      t.matchesTopology ? t.subscriptions : pc.red(String(t.subscriptions)),
      t.expected,
      problems.length > 0 ? pc.red(`MISMATCH: ${problems.join('; ')}`) : pc.green('ok'),
    ]);
  }
  return `${pc.dim(status.target)}\n${groups.toString()}\n${topics.toString()}`;
}

program
  .command('trace')
  .description(
    `show one event's path across groups and hops as a tree, from the spans \`fanout dev\` records in .fanout/traces.jsonl`,
  )
  .argument('<id>', 'an event id (or a trace id)')
  .option('--file <path>', 'read the spans from this file instead (one JSON span per line)')
  .action(async (id: string, options: { file?: string }) => {
    const { readSpans, renderTraceTree, spansOfEvent, TRACE_FILE } = await import('./trace.ts');
    const file = options.file ? path.resolve(options.file) : path.resolve(TRACE_FILE);
    const spans = spansOfEvent(readSpans(file), id);
    if (spans.length === 0) throw new CliError(`no recorded span carries event or trace '${id}' in ${file}`);
    if (globals().json) printJson(spans);
    else print(renderTraceTree(spans).join('\n'));
  });

program
  .command('status')
  .description(
    'per group: visible, in flight, delayed, DLQ depth, age of oldest message; per topic: subscriptions',
  )
  .option('--watch', 'refresh until Ctrl-C (with --json: one JSON object per line, per refresh)')
  .option('--interval <seconds>', 'seconds between refreshes with --watch', positive, 2)
  .action(async (options: { watch?: boolean; interval: number }) => {
    const t = await target();
    // Ctrl-C ends a watch: nothing to clean up, exit status 130 as for any interrupted command.
    if (options.watch) process.once('SIGINT', () => process.exit(130));
    for (;;) {
      const status = await readStatus(t);
      if (globals().json) {
        if (options.watch) print(JSON.stringify({ at: new Date().toISOString(), ...status }));
        else printJson(status);
      } else {
        if (options.watch && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
        print(renderStatus(status));
      }
      if (!options.watch) return;
      await new Promise((resolve) => setTimeout(resolve, options.interval * 1000));
    }
  });

program
  .command('probe')
  .description(
    'measure the SNS/SQS/DynamoDB behaviours fanout depends on at --endpoint, AWS_ENDPOINT_URL_*, or (neither set) a fresh embedded emulator',
  )
  .action(async () => {
    const { runCapabilityProbe, ProbeUnreachableError } = await import('../localstack/index.ts');
    const report = await runCapabilityProbe({ endpoint: globals().endpoint }).catch((error: unknown) => {
      throw error instanceof ProbeUnreachableError ? new CliError(error.message) : error;
    });
    if (globals().json) return printJson(report.results);
    const colour = { yes: pc.green, no: pc.red, partial: pc.yellow, error: pc.magenta };
    const view = table(['behaviour', 'result', 'detail']);
    for (const r of report.results) view.push([r.behaviour, colour[r.result](r.result), r.detail]);
    print(
      `${pc.dim(`${report.target}: ${report.results.length} checks in ${(report.durationMs / 1000).toFixed(1)} s`)}\n${view.toString()}`,
    );
  });

const dlq = program.command('dlq').description('inspect, redrive or purge a group’s dead letters');

dlq
  .command('peek')
  .description('show dead letters without consuming them')
  .argument('<group>', 'consumer group')
  .option('--limit <n>', 'at most this many', positive, 10)
  .action(async (name: string, options: { limit: number }) => {
    const t = await target();
    const letters = await peekDeadLetters(t.sqs, groupOf(t, name), options.limit);
    if (globals().json) return printJson({ group: name, deadLetters: letters });
    if (letters.length === 0) return print(`no dead letters in ${name}`);
    const view = table(['message id', 'reason', 'receives', 'sent', 'body']);
    for (const l of letters) {
      view.push([
        l.messageId,
        `${l.reason}${l.detail ? `\n${l.detail.slice(0, 60)}` : ''}`,
        l.receiveCount,
        l.sentAt ?? '–',
        l.body.length > 60 ? `${l.body.slice(0, 57)}…` : l.body,
      ]);
    }
    print(view.toString());
  });

dlq
  .command('redrive')
  .description(
    "move dead letters back to the group's queue (SQS move task, or copy when not supported or --limit is given)",
  )
  .argument('<group>', 'consumer group')
  .option('--limit <n>', 'move at most this many', positive)
  .action(async (name: string, options: { limit?: number }) => {
    const t = await target();
    const result = await redriveDeadLetters(t.sqs, groupOf(t, name), { limit: options.limit });
    if (result.failed.length > 0 || result.undeleted.length > 0) process.exitCode = 1;
    if (globals().json) return printJson({ group: name, ...result });
    if (result.method === 'move-task')
      print(`started an SQS message move task for ${name} (${result.taskHandle})`);
    else print(`moved ${result.moved.length} dead letters back to ${name}`);
    for (const f of result.failed)
      print(pc.red(`  not moved (still in the DLQ): ${f.messageId}: ${f.error}`));
    for (const id of result.undeleted)
      print(
        pc.yellow(`  sent but still in the DLQ: ${id} (the consumer's idempotency skips the second copy)`),
      );
  });

dlq
  .command('purge')
  .description('delete every dead letter of a group (asks first)')
  .argument('<group>', 'consumer group')
  .option('--yes', 'do not ask')
  .action(async (name: string, options: { yes?: boolean }) => {
    const t = await target();
    const group = groupOf(t, name);
    if (!options.yes) {
      if (!process.stdin.isTTY)
        throw new CliError(`refusing to purge ${name} without a terminal to confirm in; pass --yes`);
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      const answer = await rl.question(`Delete every dead letter of ${name} on ${t.description}? [y/N] `);
      rl.close();
      if (!/^y(es)?$/i.test(answer.trim())) return print('nothing deleted');
    }
    await purgeDeadLetters(t.sqs, group);
    if (globals().json) printJson({ group: name, purged: true });
    else print(`purged the DLQ of ${name}`);
  });

try {
  await program.parseAsync();
} catch (error) {
  const message =
    error instanceof TopologyError
      ? invalidTopology(path.resolve(globals().topology ?? DEFAULT_TOPOLOGY_FILE), error).message
      : error instanceof CliError || error instanceof FanoutError
        ? (error as Error).message
        : `unexpected error: ${(error as Error)?.stack ?? error}`;
  process.stderr.write(`fanout: ${message}\n`);
  process.exitCode = 1;
}
