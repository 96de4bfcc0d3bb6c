import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect, createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns';
import { describe, expect, it } from 'vitest';
import { startEmbeddedCloud } from '../../localstack/emulator/embedded-cloud.ts';
import { waitFor } from '../helpers/cloud.ts';
import { FIFO_REDELIVERY_ORDER, itExcept, target } from '../helpers/targets.ts';

const run = promisify(execFile);
const projectRoot = path.resolve(import.meta.dirname, '../..');
// Plain text: CI=true would make picocolors colour the output.
const PLAIN: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
const GROUPS = ['notifications', 'spreadsheets', 'audit', 'ledger'];

/** A `fanout` child process whose output is collected as it comes. */
function fanoutChild(args: string[], env: NodeJS.ProcessEnv = PLAIN) {
  const child = spawn('node', ['cli/fanout.ts', ...args], { cwd: projectRoot, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    /** Polls the output until `find` returns something; fails at once if the child exits first. */
    until<T>(find: (stdout: string) => T | undefined | false, what: string, timeoutMs = 150_000) {
      return waitFor(
        () => {
          if (child.exitCode !== null || child.signalCode !== null)
            throw new Error(`fanout ${args.join(' ')} exited before ${what}:\n${stdout}\n${stderr}`);
          return find(stdout);
        },
        { timeoutMs, intervalMs: 100, what },
      );
    },
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** `fanout …` to completion: exit code and output, never a rejection. */
async function fanout(args: string[], env: NodeJS.ProcessEnv = PLAIN, timeout = 150_000) {
  try {
    const { stdout, stderr } = await run('node', ['cli/fanout.ts', ...args], {
      cwd: projectRoot,
      env,
      timeout,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout: string; stderr: string };
    return { code: e.code ?? 1, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('npm start -- --once (the README command)', () => {
  it('runs the demo on the embedded emulator and exits 0 with every check held', async () => {
    // The README's command as it is: package.json's start script (fanout dev --demo) with --once.
    const { stdout } = await run('npm', ['start', '--', '--once'], {
      cwd: projectRoot,
      timeout: 120_000,
    });
    expect(stdout).toContain('Every check held');
    expect(stdout).toMatch(/│ ledger +│ 15 +│ 15 +│ 0 +│ 0 +│/);
    expect(stdout).not.toContain('FAIL');
  }, 150_000);
});

describe('npm start -- --endpoint URL: an existing cloud', () => {
  interface Round {
    code: number;
    stderr: string;
    checks: { ok: boolean; groups: { group: string; ok: boolean; orderOk: boolean }[] };
  }
  const rounds: Round[] = [];

  it('dev --once --json runs provisioning, runners and the demo on the run’s cloud, twice, and starts nothing', async () => {
    const endpoint = process.env.AWS_ENDPOINT_URL_SQS ?? '';
    const dynamodb = process.env.AWS_ENDPOINT_URL_DYNAMODB ?? '';
    // Only the options point the child at the cloud; a prefix of its own keeps its resources apart.
    const prefix = `dev-${randomUUID().slice(0, 8)}-`;
    const env: NodeJS.ProcessEnv = { ...PLAIN, FANOUT_RESOURCE_PREFIX: prefix };
    for (const name of [
      'AWS_ENDPOINT_URL',
      'AWS_ENDPOINT_URL_SNS',
      'AWS_ENDPOINT_URL_SQS',
      'AWS_ENDPOINT_URL_DYNAMODB',
    ])
      delete env[name];
    // moto and LocalStack serve DynamoDB on the same URL (the default); the embedded cloud on another port.
    const args = [
      '--json',
      '--endpoint',
      endpoint,
      'dev',
      '--demo',
      '--once',
      // A whole demo takes ~30 s on an idle machine; the suite runs two projects at once on 2 cores, and a
      // run with other work on the machine saw a demo on the shared cloud take more than 140 s.
      '--settle-seconds',
      '240',
      ...(dynamodb === endpoint ? [] : ['--dynamodb-endpoint', dynamodb]),
    ];
    for (const round of [1, 2]) {
      const result = await fanout(args, env, 270_000);
      expect(result.stdout.trim().split('\n'), result.stderr).toHaveLength(1); // one JSON document
      const checks = JSON.parse(result.stdout);
      rounds.push({ code: result.code, stderr: result.stderr, checks });
      expect(checks).toMatchObject({
        kind: 'checks',
        settled: true,
        endpoints: { sns: endpoint, sqs: endpoint, dynamodb },
        prefix,
      });
      expect(result.code).toBe(checks.ok ? 0 : 1);
      expect(checks.groups.map((g: { group: string }) => g.group)).toEqual(GROUPS);
      // Everything but FIFO order (next test: a target may get it wrong) holds on every target.
      for (const group of checks.groups) {
        expect(group, group.group).toMatchObject({
          missing: 0,
          doubled: 0,
          unexpected: 0,
          deadFound: group.deadExpected,
          deadReasonsOk: true,
          drained: true,
        });
      }
      expect(result.stderr).toContain(`fanout dev: using the cloud at ${endpoint}`);
      expect(result.stderr).not.toContain('starting the embedded cloud');
      // The second run finds the first one's effects and dead letters and judges only its own.
      if (round === 2) expect(result.stderr).toMatch(/already holds \d+ effects and 6 dead letters/);
    }
    const arns: string[] = [];
    const sns = new SNSClient({});
    let token: string | undefined;
    do {
      const page = await sns.send(new ListTopicsCommand({ NextToken: token }));
      arns.push(...(page.Topics ?? []).map((t) => t.TopicArn ?? ''));
      token = page.NextToken;
    } while (token);
    expect(arns.filter((a) => a.split(':').at(-1)?.startsWith(prefix)).sort()).toEqual(
      ['ledger.fifo', 'orders', 'payments'].map((t) => expect.stringMatching(`:${prefix}${t}$`)),
    );
  }, 600_000);

  itExcept(FIFO_REDELIVERY_ORDER)(
    'keeps FIFO order in the ledger group on that cloud in both runs, so both exit 0 with every check held',
    () => {
      expect(rounds, 'the runs above').toHaveLength(2);
      for (const round of rounds) {
        expect(round.checks.groups.find((g) => g.group === 'ledger')?.orderOk).toBe(true);
        expect(round.checks.ok).toBe(true);
        expect(round.code).toBe(0);
      }
    },
  );

  it.each([
    [
      'an endpoint nothing answers on',
      ['--endpoint', 'http://127.0.0.1:9', 'dev', '--once'],
      /^fanout: cannot reach SNS at http:\/\/127\.0\.0\.1:9 \(.*\): start that cloud, or pass the URL it serves on with --endpoint\n$/,
    ],
    [
      '--port with --endpoint',
      ['--endpoint', 'http://127.0.0.1:9', 'dev', '--port', '5000'],
      /^fanout: --port is for the embedded emulator; with --endpoint nothing is started/,
    ],
    [
      '--orders without --demo',
      ['dev', '--orders', '5'],
      /^fanout: --orders and --settle-seconds are options of the demo: add --demo, or leave them out\n$/,
    ],
    [
      '--dynamodb-endpoint without --endpoint',
      ['dev', '--dynamodb-endpoint', 'http://127.0.0.1:9'],
      /^fanout: --dynamodb-endpoint goes with --endpoint URL/,
    ],
  ])('%s is one line on stderr, exit 1', async (_what, args, message) => {
    const result = await fanout(args);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});

// These start embedded clouds of their own whatever the run's target: they run in the embedded project only.
describe.skipIf(target !== 'embedded')(
  `npm start: the embedded cloud and the live screen${target === 'embedded' ? '' : ` (skipped on ${target}: these start embedded clouds of their own)`}`,
  { concurrent: true },
  () => {
    it('binds 127.0.0.1 only: SNS + SQS and DynamoDB refuse connections on the machine’s other addresses', async ({
      expect,
      onTestFinished,
      skip,
    }) => {
      const cloud = await startEmbeddedCloud();
      onTestFinished(() => cloud.stop());
      const reach = (host: string, port: number) =>
        new Promise<string>((resolve) => {
          const socket = connect(port, host);
          socket.setTimeout(5000, () => {
            socket.destroy();
            resolve('timeout');
          });
          socket.once('connect', () => {
            socket.destroy();
            resolve('connected');
          });
          socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
        });
      const ports = [cloud.sns, cloud.dynamodb].map((url) => Number(new URL(url).port));
      for (const port of ports) expect(await reach('127.0.0.1', port)).toBe('connected');
      const other = Object.values(networkInterfaces())
        .flat()
        .find((a) => a && a.family === 'IPv4' && !a.internal);
      if (!other) return skip('this machine has no IPv4 address but loopback to try from');
      for (const port of ports) expect(await reach(other.address, port)).toBe('ECONNREFUSED');
    });

    it('a busy port is one line on stderr naming --port, exit 1, no stack trace', async ({
      expect,
      onTestFinished,
    }) => {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
      const { port } = server.address() as { port: number };
      const result = await fanout(['dev', '--port', String(port)]);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `fanout: port ${port} (SNS + SQS) on 127.0.0.1 is already in use (another npm start, LocalStack or moto?): stop it, pass --port N to use N and N+1, or --endpoint URL to run on the cloud already there\n`,
      );
    });

    it('after the demo the live screen keeps every group’s figures current (messages published with the hint’s npx fanout publish appear); Ctrl-C stops it all and exits 130', async ({
      expect,
      onTestFinished,
    }) => {
      const dev = fanoutChild(['dev', '--demo', '--port', '0']);
      onTestFinished(() => dev.stop());
      const hint = await dev.until(
        (out) =>
          /^ {2}(?:FANOUT_RESOURCE_PREFIX=\S+ )?npx fanout --endpoint (\S+) publish orders '\{.*\}' --type OrderPlaced --count 4000$/m.exec(
            out,
          ) ?? undefined,
        'the hint to publish from another terminal',
      );
      const endpoint = hint[1];
      expect(dev.stdout()).not.toMatch(/\baws (sns|sqs)\b/); // no global tools
      expect(dev.stdout()).toContain(`npx fanout --endpoint ${endpoint} status --watch`);

      /** The latest figures line of a group: processed, queue. */
      const figures = (group: string) => {
        const lines = [
          ...dev.stdout().matchAll(new RegExp(`^ {2}${group} +processed (\\d+) · queue (\\d+)`, 'gm')),
        ];
        const last = lines.at(-1);
        return last ? { processed: Number(last[1]), queue: Number(last[2]) } : undefined;
      };
      const before = await dev.until(
        () => GROUPS.every((g) => figures(g)) && figures('audit'),
        'the live figures',
      );
      const published = await fanout([
        '--endpoint',
        endpoint,
        'publish',
        'payments',
        '{"paymentId":"p-live","orderId":"o-live","amount":1}',
        '--type',
        'PaymentCaptured',
        '--count',
        '40',
      ]);
      expect(published.stdout).toBe('published 40 of 40 to payments\n');
      const after = await dev.until(
        () => (figures('audit')?.processed ?? 0) >= before.processed + 40 && figures('audit'),
        'the 40 payments in the audit figures',
        60_000,
      );
      expect(after.processed).toBe(before.processed + 40);

      dev.child.kill('SIGINT');
      expect(await dev.exited).toEqual({ code: 130, signal: null });
      expect(dev.stdout()).toMatch(/Stopping…\nStopped the runners and the local cloud\.\n$/);
      expect(dev.stderr()).toBe('');
    }, 200_000);

    it('Ctrl-C during the demo stops the runners and the cloud and exits 130', async ({
      expect,
      onTestFinished,
    }) => {
      const dev = fanoutChild(['dev', '--demo', '--port', '0']);
      onTestFinished(() => dev.stop());
      await dev.until((out) => out.includes('Published the demo'), 'the demo to be published');
      dev.child.kill('SIGINT');
      expect(await dev.exited).toEqual({ code: 130, signal: null });
      expect(dev.stdout()).toContain('Stopped before the demo was judged.');
      expect(dev.stdout()).toMatch(/Stopped the runners and the local cloud\.\n$/);
      expect(dev.stdout()).not.toContain('Every check held');
      expect(dev.stderr()).toBe('');
    }, 200_000);
  },
);
