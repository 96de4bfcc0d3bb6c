import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BATCH_CHANNEL,
  type BatchReport,
  defineTopology,
  PAYLOAD_BUCKET_VARIABLE,
  Publisher,
} from '../../lib/index.ts';
import { type LocalStack, startLocalStack } from '../../localstack/local-stack.ts';
import { waitFor } from '../helpers/cloud.ts';
import { startTestCloud } from '../helpers/test-cloud.ts';

const projectRoot = path.resolve(import.meta.dirname, '../..');

/** Two groups of the example's audit handler on a topic that offloads large payloads. */
const topology = defineTopology({
  topics: { reports: { largePayloads: true } },
  groups: {
    audit: { subscribe: ['reports'], handler: 'functions/audit.ts' },
    'audit-copy': { subscribe: ['reports'], handler: 'functions/audit.ts' },
  },
});

describe('large payloads on a local stack (runners drive the handlers like Lambda)', () => {
  let cloud: { stop(): Promise<void> };
  let stack: LocalStack;
  const processed = new Map<string, number>();
  const failed = { count: 0 };
  const onBatch = (message: unknown) => {
    const report = message as BatchReport;
    processed.set(report.group, (processed.get(report.group) ?? 0) + report.counts.processed);
    failed.count += report.counts.failed + report.counts.poison;
  };

  beforeAll(async () => {
    cloud = await startTestCloud();
    subscribe(BATCH_CHANNEL, onBatch);
    stack = await startLocalStack({ topology, projectRoot, embedded: false });
  });
  afterAll(async () => {
    unsubscribe(BATCH_CHANNEL, onBatch);
    await stack?.stop();
    await cloud?.stop();
  });

  it('provisions the payload bucket, sets FANOUT_PAYLOAD_BUCKET, and a 2 MiB event is handled once by each group', async () => {
    expect(stack.provisioned.payloadBucket).toBeDefined();
    expect(process.env[PAYLOAD_BUCKET_VARIABLE]).toBe(stack.provisioned.payloadBucket);
    // The bucket comes from the environment, as in a Lambda function of the stack.
    const publisher = new Publisher({
      topicArn: stack.provisioned.topics.get('reports') ?? '',
      largePayloads: {},
    });
    await publisher.publish({ type: 'ReportReady', data: { blob: 'r'.repeat(2 * 1024 * 1024) } });
    const groups = [...stack.provisioned.groups.keys()];
    await waitFor(() => groups.every((g) => (processed.get(g) ?? 0) >= 1), {
      timeoutMs: 20_000,
      what: 'both groups to handle the offloaded event',
    });
    expect(Object.fromEntries(processed)).toEqual({ audit: 1, 'audit-copy': 1 });
    expect(failed.count).toBe(0);
  }, 40_000);
});
