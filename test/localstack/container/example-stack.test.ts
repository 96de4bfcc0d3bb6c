import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleLocalSetup } from '../../../cli/demo/example-setup.ts';
import topology from '../../../infra/topology.ts';
import { createSqsClient } from '../../../lib/index.ts';
import {
  dockerAvailability,
  type LocalStackContainer,
  startLocalStackContainer,
} from '../../../localstack/container/localstack-container.ts';
import { type LocalStack, startLocalStack } from '../../../localstack/local-stack.ts';
import { runExampleScenario } from '../../e2e/scenario.ts';

// The same end-to-end scenario as test/e2e, on LocalStack: provisioned through the same code,
// driven by the same runner. Skipped, with the reason printed, only where Docker is absent.
const docker = await dockerAvailability();
if (!docker.ok) console.warn(`LocalStack suite skipped: ${docker.reason}`);
const projectRoot = path.resolve(import.meta.dirname, '../../..');

describe.skipIf(!docker.ok)(
  `the example stack on LocalStack${docker.ok ? '' : ` (skipped: ${docker.reason})`}`,
  () => {
    let localstack: LocalStackContainer;
    let stack: LocalStack;

    beforeAll(async () => {
      localstack = await startLocalStackContainer();
      Object.assign(process.env, localstack.env);
      stack = await startLocalStack({ topology, projectRoot, embedded: false, setup: exampleLocalSetup });
    }, 180_000);
    afterAll(async () => {
      await stack?.stop();
      await localstack?.stop();
    });

    it('applies every effect exactly once, dead-letters poison with its reason and keeps FIFO order', async () => {
      const { byGroup } = await runExampleScenario(stack.provisioned, createSqsClient(), 150_000);
      expect(byGroup.ledger.orderOk).toBe(true);
    }, 200_000);
  },
);
