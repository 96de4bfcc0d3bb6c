import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleEffectsTable, exampleLocalSetup } from '../../cli/demo/example-setup.ts';
import { EffectsLedger } from '../../functions/shared/effects-ledger.ts';
import { IdempotencyStore, Publisher } from '../../lib/index.ts';
import { localTables, type ProvisionedStack, provisionTopology } from '../../localstack/index.ts';
import { clients, keyStatus, provisionedGroup, queueDepth, waitFor } from '../helpers/cloud.ts';
import { startTestCloud } from '../helpers/test-cloud.ts';
import crashTopology from './crash-topology.ts';

const projectRoot = path.resolve(import.meta.dirname, '../..');
const EVENTS = 400;
const KILLS = 3;
const GROUP = 'crash-audit';

function spawnRunner(): ChildProcess {
  return spawn('node', ['test/chaos/crash-runner.ts', 'test/chaos/crash-topology.ts', '--demo-faults'], {
    cwd: projectRoot,
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

async function running(child: ChildProcess) {
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('running')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`runner exited early (${code})`)));
  });
}

describe('crash: the runner process is SIGKILLed mid-batch and restarted', () => {
  let cloud: { stop(): Promise<void> };
  let stack: ProvisionedStack;
  const children: ChildProcess[] = [];
  const startRunner = () => {
    const child = spawnRunner();
    children.push(child);
    return child;
  };

  beforeAll(async () => {
    cloud = await startTestCloud();
    stack = await provisionTopology(crashTopology);
    await exampleLocalSetup();
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await cloud?.stop();
  });

  it('loses nothing, recovers expired IN_PROGRESS leases, and doubles only what was in flight at a kill', async () => {
    const publisher = new Publisher({ topicArn: stack.topics.get('crashes') ?? '' });
    const events = await publisher.publishBatch(
      Array.from({ length: EVENTS }, (_, n) => ({ type: 'Crash', data: { n, workMs: 100 } })),
    );
    expect(events.every((r) => r.ok)).toBe(true);
    const ledger = new EffectsLedger(exampleEffectsTable());

    for (let kill = 0; kill < KILLS; kill++) {
      const child = startRunner();
      await running(child);
      // Let it get well into its batches, then kill it without warning.
      const before = (await ledger.readAll()).applied.size;
      await waitFor(async () => (await ledger.readAll()).applied.size >= before + 20, {
        what: 'the runner to apply effects',
      });
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }

    const last = startRunner();
    await running(last);
    const applied = await waitFor(
      async () => {
        const { applied } = await ledger.readAll();
        const mine = [...applied].filter(([k]) => k.startsWith(`${GROUP}#`));
        return mine.length === EVENTS &&
          (await queueDepth(provisionedGroup(stack, GROUP).queue)).inFlight === 0
          ? mine
          : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250, what: 'every event applied after the crashes' },
    );
    last.kill('SIGTERM');
    await new Promise((resolve) => last.once('exit', resolve));

    const doubled = applied.filter(([, count]) => count > 1).length;
    // Documented at-least-once window: a record whose effect was applied but whose batch had not
    // settled when the process died runs again once its lease expires. At most what was in flight.
    const inFlightBound = KILLS * crashTopology.groups[GROUP].maxConcurrency * 10;
    console.info(
      `crash: ${EVENTS} events, ${KILLS} SIGKILLs, lost 0, applied twice ${doubled} (bound ${inFlightBound})`,
    );
    expect(applied).toHaveLength(EVENTS);
    expect(doubled).toBeLessThanOrEqual(inFlightBound);

    // Every idempotency key ended COMPLETED: the crashed claims were taken over after their leases.
    const { Items = [] } = await clients().dynamodb.send(
      new ScanCommand({ TableName: localTables().idempotency, ConsistentRead: true }),
    );
    const keys = Items.filter((i) => i.pk?.S?.startsWith(`${GROUP}#`));
    expect(keys).toHaveLength(EVENTS);
    expect(keys.every((i) => i.status?.S === 'COMPLETED')).toBe(true);
    const depth = await queueDepth(provisionedGroup(stack, GROUP).queue);
    expect(depth).toEqual({ visible: 0, inFlight: 0 });
  }, 180_000);

  it('a crash after the side effect, before the key is settled: applied again once the lease expires, then never', async () => {
    const group = 'crash-window';
    const { queue, dlq } = provisionedGroup(stack, group);
    const publisher = new Publisher({ topicArn: stack.topics.get(group) ?? '' });
    const ledger = new EffectsLedger(exampleEffectsTable());
    const statusOf = (eventId: string) =>
      keyStatus(localTables().idempotency, IdempotencyStore.tableKey(group, eventId));

    // Prepare: one event whose first delivery applies its effect and then SIGKILLs the runner process.
    const [published] = await publisher.publishBatch([{ type: 'Crash', data: { crashAfterEffect: true } }]);
    expect(published.ok).toBe(true);
    const id = published.id;
    const crashing = startRunner();
    const signal = await new Promise((resolve) => crashing.once('exit', (_code, signal) => resolve(signal)));

    // The process died between the effect and the settle: applied once, key still IN_PROGRESS (leased).
    expect(signal).toBe('SIGKILL');
    expect((await ledger.readAll()).applied.get(`${group}#${id}`)).toBe(1);
    expect(await statusOf(id)).toBe('IN_PROGRESS');

    // Act: restart. The message reappears after its visibility timeout; once the 2 s lease has expired
    // the retry takes the key over and runs the handler again. This is the documented window.
    const restarted = startRunner();
    await running(restarted);
    await waitFor(
      async () =>
        (await ledger.readAll()).applied.get(`${group}#${id}`) === 2 && (await statusOf(id)) === 'COMPLETED',
      { timeoutMs: 30_000, intervalMs: 200, what: 'the crashed event to be applied again and settled' },
    );

    // Afterwards the key is COMPLETED: a duplicate delivery of the same event is suppressed. A fresh event
    // published with it shows when both have been handled.
    const [duplicate, sentinel] = await publisher.publishBatch([
      { id, type: 'Crash', data: { crashAfterEffect: true } },
      { type: 'Crash', data: {} },
    ]);
    expect(duplicate.ok && sentinel.ok).toBe(true);
    await waitFor(
      async () => {
        const { applied } = await ledger.readAll();
        const depth = await queueDepth(queue);
        return applied.get(`${group}#${sentinel.id}`) === 1 && depth.visible === 0 && depth.inFlight === 0;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'the duplicate and the fresh event to be handled' },
    );
    // The duplicate asks to crash on its first delivery too: had its handler run, the runner would be dead.
    expect(restarted.exitCode ?? restarted.signalCode, 'the runner is still alive').toBeNull();
    expect((await ledger.readAll()).applied.get(`${group}#${id}`)).toBe(2);
    // Suppressed as a duplicate, not dead-lettered (same id and same payload, so no payload mismatch).
    expect(await queueDepth(dlq)).toEqual({ visible: 0, inFlight: 0 });
    restarted.kill('SIGTERM');
    await new Promise((resolve) => restarted.once('exit', resolve));
  }, 90_000);
});
