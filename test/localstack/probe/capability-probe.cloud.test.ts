import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns';
import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSqsClient } from '../../../lib/queue-address.ts';
import { prefixed } from '../../../lib/resource-names.ts';
import {
  CHECKS,
  type ProbeReport,
  type ProbeVerdict,
  runCapabilityProbe,
} from '../../../localstack/probe/capability-probe.ts';
import { type TargetName, target } from '../../helpers/targets.ts';

// The capability probe against the run's cloud. Its results on the embedded emulator and on moto are
// facts docs/LOCAL.md states ("Capability probe"): when an emulator changes, this test says so.
// Checks whose outcome depends on timing under load are not pinned.

const EXPECTED: Partial<Record<TargetName, Record<string, ProbeVerdict>>> = {
  embedded: {
    redrive: 'yes',
    'fifo-several-per-group': 'no', // fauxqs: at most 1 message per FIFO group per receive
    'fifo-order-after-nack': 'yes',
    'fifo-group-lock': 'yes',
    'message-move-tasks': 'no', // fauxqs: InvalidAction
    'filter-message-attributes': 'yes',
    'filter-message-body': 'yes',
    'raw-delivery': 'yes',
    'publish-batch-partial-failure': 'yes',
    'message-size-limit': 'yes',
    'conditional-writes': 'yes',
    'return-values-on-condition-check-failure': 'no', // dynalite
    ttl: 'no', // dynalite: UnknownOperationException
  },
  moto: {
    redrive: 'yes',
    'fifo-several-per-group': 'yes',
    'fifo-group-lock': 'no', // a long poll's stale copy of the locked groups
    'message-move-tasks': 'no', // HTTP 500
    'filter-message-attributes': 'yes',
    'filter-message-body': 'yes',
    'raw-delivery': 'yes',
    'publish-batch-partial-failure': 'no', // an invalid entry fails the whole call
    'message-size-limit': 'yes',
    'conditional-writes': 'yes',
    'return-values-on-condition-check-failure': 'yes',
    ttl: 'yes',
  },
};

const projectRoot = path.resolve(import.meta.dirname, '../../..');
const exec = promisify(execFile);

async function fanout(...args: string[]) {
  try {
    const { stdout, stderr } = await exec('node', ['cli/fanout.ts', ...args], {
      cwd: projectRoot,
      env: { ...process.env, NO_COLOR: '1' },
      timeout: 90_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout: string; stderr: string };
    return { code: e.code ?? 1, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Everything this file's probes named (`<FANOUT_RESOURCE_PREFIX>fanout-probe-…`) on the run's cloud. */
async function probeLeftovers() {
  const name = prefixed('fanout-probe-');
  const [queues, topics, tables] = await Promise.all([
    createSqsClient().send(new ListQueuesCommand({ QueueNamePrefix: name })),
    new SNSClient({}).send(new ListTopicsCommand({})),
    new DynamoDBClient({}).send(new ListTablesCommand({})),
  ]);
  return [
    ...(queues.QueueUrls ?? []),
    ...(topics.Topics ?? []).map((t) => t.TopicArn ?? '').filter((arn) => arn.includes(`:${name}`)),
    ...(tables.TableNames ?? []).filter((table) => table.startsWith(name)),
  ];
}

describe(`capability probe on ${target}`, () => {
  let report: ProbeReport;

  beforeAll(async () => {
    report = await runCapabilityProbe();
  }, 90_000);

  it('measures every behaviour once, each in a few seconds, the whole probe within a minute', () => {
    expect(report.results.map((r) => r.id)).toEqual(CHECKS.map((c) => c.id));
    expect(report.durationMs).toBeLessThan(60_000);
    for (const r of report.results) {
      expect(['yes', 'no', 'partial', 'error'], r.id).toContain(r.result);
      expect(r.detail, r.id).toMatch(/^[^\n]+$/);
      expect(r.durationMs, r.id).toBeLessThan(30_000);
    }
    expect(
      report.results.filter((r) => r.result === 'error'),
      'checks that could not measure',
    ).toEqual([]);
  });

  it('finds what docs/LOCAL.md states for this target', () => {
    const expected = EXPECTED[target];
    if (!expected) return console.info(`no documented probe results for ${target}: shape checked only`);
    const found = Object.fromEntries(
      report.results.filter((r) => r.id in expected).map((r) => [r.id, `${r.result}: ${r.detail}`]),
    );
    const wanted = Object.fromEntries(
      Object.entries(expected).map(([id, result]) => [id, expect.stringMatching(new RegExp(`^${result}: `))]),
    );
    expect(found).toEqual(wanted);
  });

  it('deletes every queue, topic and table it created', async () => {
    expect(await probeLeftovers()).toEqual([]);
  });

  it('prints a JSON array with --json through the CLI, exit status 0', async () => {
    const result = await fanout('--json', 'probe');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as Record<string, unknown>[];
    expect(Array.isArray(printed)).toBe(true);
    expect(printed.map((r) => r.id)).toEqual(CHECKS.map((c) => c.id));
    for (const r of printed) {
      expect(Object.keys(r).sort()).toEqual(['behaviour', 'detail', 'durationMs', 'id', 'result']);
      expect(['yes', 'no', 'partial', 'error']).toContain(r.result);
    }
    expect(await probeLeftovers()).toEqual([]);
  }, 90_000);

  it('is one line on stderr and exit status 1 when the endpoint answers nothing', async () => {
    const closed = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const result = await fanout('probe', '--endpoint', `http://127.0.0.1:${closed}`);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      new RegExp(`^fanout: cannot reach http://127\\.0\\.0\\.1:${closed} .+\\n$`),
    );
    expect(result.stderr.split('\n')).toHaveLength(2);
  });
});
