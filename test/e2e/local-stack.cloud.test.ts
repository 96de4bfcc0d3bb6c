import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withDemoFaults } from '../../cli/demo/demo-faults.ts';
import { exampleEffectsTable, exampleLocalSetup } from '../../cli/demo/example-setup.ts';
import { EffectsLedger } from '../../functions/shared/effects-ledger.ts';
import topology from '../../infra/topology.ts';
import { BATCH_CHANNEL, type BatchReport, createSqsClient, Publisher } from '../../lib/index.ts';
import { type LocalStack, startLocalStack } from '../../localstack/local-stack.ts';
import { waitFor } from '../helpers/cloud.ts';
import { FIFO_REDELIVERY_ORDER, itExcept } from '../helpers/targets.ts';
import { startTestCloud } from '../helpers/test-cloud.ts';
import { runExampleScenario } from './scenario.ts';

const projectRoot = path.resolve(import.meta.dirname, '../..');

// One embedded cloud for this file: handler modules (and their SDK clients) load once per process.
let cloud: { stop(): Promise<void> };
beforeAll(async () => {
  cloud = await startTestCloud();
});
afterAll(async () => {
  await cloud?.stop();
});

describe('the example stack on the embedded emulator, end to end', () => {
  let stack: LocalStack;
  const counts = { duplicate: 0, failed: 0 };
  const onBatch = (m: unknown) => {
    counts.duplicate += (m as BatchReport).counts.duplicate;
    counts.failed += (m as BatchReport).counts.failed;
  };

  beforeAll(async () => {
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
    await stack?.stop();
  });

  let scenario: Awaited<ReturnType<typeof runExampleScenario>> | undefined;

  it('applies every effect exactly once through retries, duplicates and poison', async () => {
    scenario = await runExampleScenario(stack.provisioned, createSqsClient());
    expect(counts.failed).toBeGreaterThan(0); // transient failures were injected and retried
    expect(counts.duplicate).toBeGreaterThanOrEqual(2); // duplicate publish + duplicate delivery were skipped
  }, 120_000);

  itExcept(FIFO_REDELIVERY_ORDER)('keeps FIFO order per account in the ledger group', () => {
    expect(scenario, 'the scenario above ran').toBeDefined();
    expect(scenario?.byGroup.ledger.orderOk).toBe(true);
  });
});

describe('a consumer group added to the topology', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    const withBilling = {
      ...topology,
      groups: { ...topology.groups, billing: { subscribe: ['payments'], handler: 'functions/audit.ts' } },
    };
    stack = await startLocalStack({
      topology: withBilling,
      projectRoot,
      embedded: false,
      setup: exampleLocalSetup,
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('is provisioned and consuming with no other change', async () => {
    expect(stack.runners.has('billing')).toBe(true);
    const payments = new Publisher({ topicArn: stack.provisioned.topics.get('payments') ?? '' });
    const event = await payments.publish({
      type: 'PaymentCaptured',
      data: { paymentId: 'p-new', orderId: 'o-1', amount: 3 },
    });
    const ledger = new EffectsLedger(exampleEffectsTable());
    const applied = await waitFor(async () => (await ledger.readAll()).applied.get(`billing#${event.id}`), {
      what: 'the billing group to apply the payment',
    });
    expect(applied).toBe(1);
  });
});
