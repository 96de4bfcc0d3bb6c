import type { SQSClient } from '@aws-sdk/client-sqs';
import { expect } from 'vitest';
import { checkDemo, type DemoPlan, demoSettled, publishDemoTraffic } from '../../cli/demo/demo-traffic.ts';
import type { ProvisionedStack } from '../../localstack/provisioning/provision.ts';
import { waitFor } from '../helpers/cloud.ts';

/**
 * The end-to-end scenario, whatever the target (embedded emulator or LocalStack): publish the demo
 * through lib/, let the runner drive the real functions/ handlers, and check every group.
 */
export async function runExampleScenario(provisioned: ProvisionedStack, sqs: SQSClient, timeoutMs = 90_000) {
  const plan: DemoPlan = await publishDemoTraffic(provisioned, { orders: 12, accounts: 3 });
  await waitFor(() => demoSettled(provisioned, plan, sqs), {
    timeoutMs,
    intervalMs: 250,
    what: 'the demo to settle',
  });
  const checks = await checkDemo(provisioned, plan, sqs);
  const byGroup = Object.fromEntries(checks.map((c) => [c.group, c]));

  // every group received its own copy, and only what its filter lets through
  expect(Object.keys(byGroup).sort()).toEqual(['audit', 'ledger', 'notifications', 'spreadsheets']);
  for (const check of checks) {
    expect(check, check.group).toMatchObject({ missing: 0, doubled: 0, unexpected: 0, drained: true });
    expect(check.appliedOnce, check.group).toBe(check.expected);
  }
  // filter policy: notifications gets OrderPlaced only, spreadsheets every order event
  expect(byGroup.notifications.expected).toBeLessThan(byGroup.spreadsheets.expected);
  // poison and maxReceiveCount dead letters, with their reasons
  expect(byGroup.notifications).toMatchObject({ deadExpected: 2, deadFound: 2, deadReasonsOk: true });
  expect(byGroup.audit).toMatchObject({ deadExpected: 2, deadFound: 2, deadReasonsOk: true });
  // FIFO order per account is for the caller to assert (a known divergence of some emulators)
  expect(byGroup.ledger).toMatchObject({ deadFound: 0 });
  return { plan, checks, byGroup };
}
