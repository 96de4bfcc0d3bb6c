import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withDemoFaults } from '../../cli/demo/demo-faults.ts';
import { checkDemo, demoSettled, readAllMessages } from '../../cli/demo/demo-traffic.ts';
import { exampleLocalSetup } from '../../cli/demo/example-setup.ts';
import topology from '../../infra/topology.ts';
import { BATCH_CHANNEL, type BatchReport, createSqsClient } from '../../lib/index.ts';
import { type LocalStack, startLocalStack } from '../../localstack/local-stack.ts';
import { waitFor } from '../helpers/cloud.ts';
import { startTestCloud } from '../helpers/test-cloud.ts';
import { publishChaos } from './chaos-traffic.ts';

// `npm run test:chaos` runs 10,000 events; `npm test` a smaller run that fits CI's time budget.
const SIZE = Number(process.env.FANOUT_CHAOS_EVENTS ?? 1000);
const SEED = Number(process.env.FANOUT_CHAOS_SEED ?? 42);
const OUTAGE_MS = 4000;
const projectRoot = path.resolve(import.meta.dirname, '../..');

describe(`chaos: ${SIZE} events, transient failures, duplicates, shuffling, poison, an outage`, () => {
  let cloud: { stop(): Promise<void> };
  let stack: LocalStack;
  const totals = { processed: 0, failed: 0, duplicate: 0, poison: 0, deferred: 0, abandoned: 0 };
  const onBatch = (m: unknown) => {
    const { counts } = m as BatchReport;
    for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += counts[key];
  };

  beforeAll(async () => {
    cloud = await startTestCloud();
    subscribe(BATCH_CHANNEL, onBatch);
    stack = await startLocalStack({
      topology,
      projectRoot,
      embedded: false,
      wrapHandler: withDemoFaults,
      setup: exampleLocalSetup,
    });
  });
  afterAll(async () => {
    unsubscribe(BATCH_CHANNEL, onBatch);
    delete process.env.FANOUT_DEMO_OUTAGE;
    await stack?.stop();
    await cloud?.stop();
  });

  it('applies every valid effect exactly once, dead-letters every poison message with its reason, loses nothing', async () => {
    const sqs = createSqsClient();
    // The spreadsheets group's dependency is down for the first seconds, then recovers.
    process.env.FANOUT_DEMO_OUTAGE = `spreadsheets:${Date.now() + OUTAGE_MS}`;
    const started = Date.now();
    const { plan, figures } = await publishChaos(stack.provisioned, sqs, SIZE, SEED);

    await waitFor(() => demoSettled(stack.provisioned, plan, sqs), {
      timeoutMs: 240_000,
      intervalMs: 500,
      what: 'every effect and dead letter',
    });
    const checks = await checkDemo(stack.provisioned, plan, sqs);

    const lost = checks.reduce((n, c) => n + c.missing, 0);
    const doubled = checks.reduce((n, c) => n + c.doubled + c.unexpected, 0);
    const deadLettered = checks.reduce((n, c) => n + c.deadFound, 0);
    console.info(
      `chaos (seed ${SEED}): published ${figures.published} (${figures.duplicatePublishes} duplicate publishes, ` +
        `${figures.duplicateDeliveries} duplicate deliveries, ${figures.transient} transient failures, ${figures.poison} poison), ` +
        `processed ${totals.processed}, retried ${totals.failed + totals.deferred + totals.abandoned}, duplicates suppressed ${totals.duplicate}, ` +
        `dead-lettered ${deadLettered}, lost ${lost}, doubled ${doubled}, in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );

    expect(lost).toBe(0);
    expect(doubled).toBe(0);
    for (const check of checks) {
      expect(check, check.group).toMatchObject({ deadReasonsOk: true, orderOk: true, drained: true });
      expect(check.deadFound, check.group).toBe(check.deadExpected);
    }
    expect(totals.duplicate).toBeGreaterThanOrEqual(figures.duplicateDeliveries);
    expect(totals.failed).toBeGreaterThan(0);
    // Nothing left in flight anywhere, and no dead letter that is not poison.
    for (const [group, { dlq }] of stack.provisioned.groups) {
      const letters = await readAllMessages(sqs, dlq.url);
      expect(
        letters.every((m) => m.MessageAttributes?.['fanout.poison.reason'] !== undefined),
        group,
      ).toBe(true);
    }
  }, 300_000);
});
