/**
 * The reference app's demo as `fanout dev --demo` (`npm start`) runs it: fault injection around the
 * handlers, the demo traffic, progress bars, and the checks table. The CLI loads this module only when
 * asked for the demo, so that `fanout dev` in another project never loads the example app.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { EffectsLedger } from '../../functions/shared/effects-ledger.ts';
import type { ProvisionedStack } from '../../localstack/index.ts';
import type { DevDemo, DevRun, GroupTally } from '../dev.ts';
import { CliError } from '../target.ts';
import { withDemoFaults } from './demo-faults.ts';
import {
  checkDemo,
  DEMO_GROUPS,
  type DemoOptions,
  type DemoPlan,
  demoSettled,
  type GroupCheck,
  peekReasons,
  publishDemoTraffic,
  readFigures,
} from './demo-traffic.ts';
import { exampleEffectsTable, exampleLocalSetup } from './example-setup.ts';

/** Options of the demo run. */
export interface DemoRunOptions extends DemoOptions {
  /**
   * Seconds to wait for the demo to settle before judging it.
   * @default 90
   */
  readonly settleSeconds?: number;
}

/** What the cloud held before the demo: effects, FIFO streams and dead letters of earlier runs. */
interface Snapshot {
  /** Recorded effects per group. */
  readonly effects: ReadonlyMap<string, number>;
  readonly streams: ReadonlyMap<string, number[]>;
  /** Dead letters per group, by reason. */
  readonly dead: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

/** A group of the topology the demo does not know: reported after the demo, never judged. */
export interface OtherGroupReport {
  readonly group: string;
  /** Records its handler processed (applied) during the run. */
  readonly processed: number;
  readonly retried: number;
  /** Dead letters in its DLQ now. */
  readonly deadLetters: number;
  /** Those dead letters by reason (`redrive` = moved by the queue's redrive policy). */
  readonly deadReasons: Readonly<Record<string, number>>;
  /** Its queue was empty when the demo was judged. */
  readonly drained: boolean;
}

const sum = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0);

/** The topics of the example topology the demo publishes to. */
const DEMO_TOPICS = ['orders', 'payments', 'ledger.fifo'];

/** The demo as `fanout dev --demo` runs it. */
export function createDemo(options: DemoRunOptions = {}): DevDemo {
  return {
    wrapHandler: withDemoFaults,
    setup: exampleLocalSetup,
    publishHint: `publish orders '{"orderId":"o-1","customer":"me","amount":5}' --type OrderPlaced --count 4000`,
    run: (run) => runDemo(run, options),
  };
}

/** Publishes the demo, shows its progress until it settles, judges it; resolves whether every check held. */
async function runDemo(run: DevRun, options: DemoRunOptions): Promise<boolean> {
  const { stack, sqs, print, signals } = run;
  const { provisioned } = stack;
  const missing = DEMO_TOPICS.filter((t) => !provisioned.topics.has(t));
  if (missing.length > 0)
    throw new CliError(
      `--demo publishes the reference app's demo to its topics ${DEMO_TOPICS.join(', ')}, and this topology lacks ${missing.join(', ')}: leave --demo out to run your own topology`,
    );
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
  const settled = await showDemoProgress(run, plan, before, options.settleSeconds ?? 90);
  print();
  if (signals.stoppedBy) {
    print('Stopped before the demo was judged.');
    return false;
  }
  let checks = await checkDemo(provisioned, plan, sqs);
  if (earlierEffects + earlierDead > 0)
    checks = onlyThisRun(checks, plan, before, await snapshot(provisioned, sqs));
  const others = await reportOtherGroups(run);
  return reportChecks(run, checks, others, settled, published, options.settleSeconds ?? 90);
}

/** Groups of the topology that the demo does not know. */
const otherGroups = (stack: ProvisionedStack) =>
  stack.topology.groups.map((g) => g.name).filter((g) => !DEMO_GROUPS.includes(g));

/** Progress bars per group until the demo settles (or the wait ends); resolves whether it settled. */
async function showDemoProgress(
  run: DevRun,
  plan: DemoPlan,
  before: Snapshot,
  settleSeconds: number,
): Promise<boolean> {
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
  const known = provisioned.topology.groups.filter((g) => plan.expectedEffects.has(g.name));
  const width = Math.max(...known.map((g) => g.name.length));
  const groupBars = new Map(
    known.map((g) => [
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
  const others = otherGroups(provisioned);
  let othersDrained = false;
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
    othersDrained = others.every(
      (g) => (figures.get(g)?.visible ?? 0) + (figures.get(g)?.inFlight ?? 0) === 0,
    );
  };
  const deadline = Date.now() + settleSeconds * 1000;
  let settled = false;
  // The demo's groups decide; other groups get the same wait to drain, so that their report is complete.
  while (!(settled && othersDrained) && !signals.stoppedBy && Date.now() < deadline) {
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

/** Figures of every group the demo does not know: what it applied and dead-lettered, by reason. */
async function reportOtherGroups(run: DevRun): Promise<OtherGroupReport[]> {
  const { provisioned } = run.stack;
  const figures = await readFigures(provisioned, run.sqs);
  return Promise.all(
    otherGroups(provisioned).map(async (group) => {
      const t = run.tallies.tally(group);
      const f = figures.get(group);
      const reasons = await peekReasons(run.sqs, provisioned.groups.get(group)?.dlq.url);
      return {
        group,
        processed: t.processed,
        retried: t.retried,
        deadLetters: f?.dead ?? 0,
        deadReasons: Object.fromEntries(reasons),
        drained: f !== undefined && f.visible === 0 && f.inFlight === 0,
      };
    }),
  );
}

/** Prints the checks table, the other groups and the verdict, emits them as JSON; resolves whether every check held. */
function reportChecks(
  run: DevRun,
  checks: readonly GroupCheck[],
  others: readonly OtherGroupReport[],
  settled: boolean,
  published: number,
  settleSeconds: number,
): boolean {
  const { print, emit, tallies, endpoints, prefix } = run;
  print(renderChecks(checks, tallies.byGroup));
  if (others.length > 0) {
    print('Groups the demo does not know (reported, not judged):');
    print(renderOthers(others));
  }
  for (const failure of tallies.batchFailures.slice(0, 5)) print(`  whole batch failed: ${failure}`);
  const ok = settled && checks.every((c) => c.ok);
  print(
    ok
      ? 'Every check held: each effect applied exactly once, poison dead-lettered with its reason, FIFO order kept.'
      : settled
        ? 'Some checks FAILED (see the table above).'
        : `Some checks FAILED: the demo did not settle within ${settleSeconds} s (see the table above).`,
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
    otherGroups: others,
    batchFailures: tallies.batchFailures,
  });
  return ok;
}

/** Effects, FIFO streams and dead letters (by reason) the cloud holds now. */
async function snapshot(stack: ProvisionedStack, sqs: SQSClient): Promise<Snapshot> {
  const { applied, streams } = await new EffectsLedger(exampleEffectsTable()).readAll();
  const effects = new Map<string, number>();
  for (const key of applied.keys()) {
    const group = key.slice(0, key.indexOf('#'));
    effects.set(group, (effects.get(group) ?? 0) + 1);
  }
  const dead = new Map<string, Map<string, number>>();
  await Promise.all(
    [...stack.groups.keys()].map(async (group) => {
      dead.set(group, await peekReasons(sqs, stack.groups.get(group)?.dlq.url));
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

function renderOthers(others: readonly OtherGroupReport[]): string {
  const table = new Table({
    head: ['group', 'applied', 'retried', 'DLQ', 'DLQ reasons', 'queue empty'],
    style: { head: [], border: [] },
  });
  for (const o of others) {
    const reasons = Object.entries(o.deadReasons).map(([reason, n]) => `${reason} ${n}`);
    table.push([
      o.group,
      o.processed,
      o.retried,
      o.deadLetters,
      reasons.join(', ') || '–',
      o.drained ? 'yes' : 'no',
    ]);
  }
  return table.toString();
}
