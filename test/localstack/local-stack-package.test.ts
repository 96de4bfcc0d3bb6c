import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TopologyDefinition, topicArnVariable } from '../../lib/index.ts';
import {
  BUNDLED_MODULES_DIR,
  type LocalStack,
  LocalStackRunningError,
  localTables,
  ModuleLoadError,
  startLocalStack,
} from '../../localstack/index.ts';
import { target } from '../helpers/targets.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const exec = promisify(execFile);

/** Every variable the stack may set, and the groups' own. */
const STACK_VARIABLE =
  /^(AWS_ENDPOINT_URL(_\w+)?|AWS_REGION|AWS_DEFAULT_REGION|AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|FANOUT_\w+|PACKAGE_TEST_\w+)$/;
const stackVariables = () =>
  Object.fromEntries(Object.entries(process.env).filter(([name]) => STACK_VARIABLE.test(name)));

// Each stack here starts an embedded cloud of its own, whatever the run's target: the test is about this
// process, not about the run's cloud.
describe.skipIf(target !== 'embedded')(
  `fanout/local in a project of its own${target === 'embedded' ? '' : ` (skipped on ${target}: it starts embedded clouds of its own)`}`,
  () => {
    let project = '';
    const topology: TopologyDefinition = {
      topics: { invoices: {} },
      groups: {
        mailer: {
          subscribe: ['invoices'],
          handler: 'functions/mailer.ts',
          environment: { PACKAGE_TEST_GREETING: 'hello' },
        },
      },
    };

    beforeAll(() => {
      project = mkdtempSync(path.join(tmpdir(), 'fanout-local-'));
      // The project's own dependencies: its bundled handler's bare imports resolve from here.
      symlinkSync(path.join(repo, 'node_modules'), path.join(project, 'node_modules'));
      mkdirSync(path.join(project, 'functions'));
      // What tsc (nodenext) and esbuild accept, and Node's type stripping does not: './shared.js' for
      // shared.ts, and an enum.
      writeFileSync(path.join(project, 'functions/shared.ts'), 'export const prefix: string = "seen";\n');
      writeFileSync(
        path.join(project, 'functions/mailer.ts'),
        [
          "import stringify from 'safe-stable-stringify';",
          "import { prefix } from './shared.js';",
          "enum Kind { Mail = 'mail' }",
          'export const handler = async (event: { Records: unknown[] }) => {',
          '  const seen = ((globalThis as { fanoutPackageSeen?: string[] }).fanoutPackageSeen ??= []);',
          '  for (const _ of event.Records) seen.push(stringify([prefix, Kind.Mail, process.env.PACKAGE_TEST_GREETING]));',
          '  return { batchItemFailures: [] };',
          '};',
          '',
        ].join('\n'),
      );
      writeFileSync(path.join(project, 'functions/no-handler.ts'), 'export const other = 1;\n');
    });
    afterAll(() => {
      if (project) rmSync(project, { recursive: true, force: true });
    });

    describe('a running stack', () => {
      let stack: LocalStack | undefined;
      let before: Record<string, string | undefined> = {};
      let setupSawTopics: string[] = [];
      let tables: string[] = [];

      beforeAll(async () => {
        before = stackVariables();
        stack = await startLocalStack({
          topology,
          projectRoot: project,
          // The app's own resource, made before any handler loads, named in a variable of its own.
          setup: async (provisioned) => {
            setupSawTopics = [...provisioned.topics.keys()];
            return { PACKAGE_TEST_LEDGER: 'ledger-table' };
          },
        });
        tables = (await new DynamoDBClient({}).send(new ListTablesCommand({}))).TableNames ?? [];
      }, 60_000);
      afterAll(async () => {
        await stack?.stop();
      });

      it('is the only one of its process: a second startLocalStack is one line saying so', async () => {
        const second = startLocalStack({ topology, projectRoot: project, embedded: false });
        await expect(second).rejects.toBeInstanceOf(LocalStackRunningError);
        await expect(second).rejects.toThrow(
          /^a local stack is already running in this process \(the SDK clients read .*process\.env.*\): stop\(\) it first, or run the second in another process$/,
        );
      });

      it('sets its endpoints, region, credentials, tables, topic ARNs and the groups’ environment while it runs, and stop() restores every one', async () => {
        const running = stackVariables();
        expect(running.AWS_ENDPOINT_URL_SNS).toBe(stack?.cloud?.sns);
        expect(running.AWS_ENDPOINT_URL_SQS).toBe(stack?.cloud?.sqs);
        expect(running.AWS_ENDPOINT_URL_DYNAMODB).toBe(stack?.cloud?.dynamodb);
        expect(running.AWS_ENDPOINT_URL_SNS).not.toBe(before.AWS_ENDPOINT_URL_SNS);
        expect(running[topicArnVariable('invoices')]).toBe(stack?.provisioned.topics.get('invoices'));
        expect(running.FANOUT_IDEMPOTENCY_TABLE).toBeDefined();
        expect(running.PACKAGE_TEST_GREETING).toBe('hello');
        expect(setupSawTopics).toEqual(['invoices']);
        expect(running.PACKAGE_TEST_LEDGER).toBe('ledger-table');
        expect(running.FANOUT_EFFECTS_TABLE).toBeUndefined();
        await stack?.stop();
        stack = undefined;
        expect(stackVariables()).toEqual(before);
        expect(process.env.PACKAGE_TEST_GREETING).toBeUndefined();
        expect(process.env.PACKAGE_TEST_LEDGER).toBeUndefined();
      }, 30_000);

      it("provisions what the topology declares and nothing of the reference app's (no effects table)", () => {
        expect(tables).toEqual([localTables().idempotency]);
      });
    });

    it('a setup that returns a variable the stack sets itself is one line naming it; nothing is left set', async () => {
      const before = stackVariables();
      const hijack = startLocalStack({
        topology,
        projectRoot: project,
        setup: async () => ({ AWS_ENDPOINT_URL_SQS: 'http://nowhere:1' }),
      });
      await expect(hijack).rejects.toThrow(
        /^setup: returned AWS_ENDPOINT_URL_SQS, which the local stack sets itself \(given "http:\/\/nowhere:1"\)\. Return variables of your own names for your own resources$/,
      );
      expect(stackVariables()).toEqual(before);
    }, 60_000);

    it('takes the working directory as projectRoot when none is given', async () => {
      const cwd = process.cwd();
      process.chdir(project);
      try {
        const stack = await startLocalStack({ topology });
        expect(stack.runners.has('mailer')).toBe(true);
        await stack.stop();
      } finally {
        process.chdir(cwd);
      }
    }, 60_000);

    it('after stop(), a stack starts again; one that fails to start restores the environment and lets the next start', async () => {
      const before = stackVariables();
      const failing = startLocalStack({
        topology: {
          ...topology,
          groups: { mailer: { subscribe: ['invoices'], handler: 'functions/no-handler.ts' } },
        },
        projectRoot: project,
      });
      await expect(failing).rejects.toBeInstanceOf(ModuleLoadError);
      await expect(failing).rejects.toThrow(
        `group 'mailer': ${path.join(project, 'functions/no-handler.ts')} does not export a handler function: add export const handler = consumer({ … })`,
      );
      expect(stackVariables()).toEqual(before);
      const again = await startLocalStack({ topology, projectRoot: project });
      await again.stop();
      expect(stackVariables()).toEqual(before);
    }, 60_000);

    // In plain Node, as a project runs it (under vitest, vite's own loader would resolve the module).
    it("runs, in plain Node, a handler that imports './shared.js' (shared.ts) and declares an enum: bundled under .fanout/modules", async () => {
      writeFileSync(
        path.join(project, 'start.ts'),
        [
          `import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';`,
          `import { startLocalStack } from ${JSON.stringify(pathToFileURL(path.join(repo, 'localstack/index.ts')).href)};`,
          `const stack = await startLocalStack({ topology: ${JSON.stringify(topology)}, projectRoot: process.cwd() });`,
          `await new SNSClient({}).send(new PublishCommand({ TopicArn: stack.provisioned.topics.get('invoices'), Message: '{}' }));`,
          'const g = globalThis as { fanoutPackageSeen?: string[] };',
          'const deadline = Date.now() + 20_000;',
          'while (!g.fanoutPackageSeen?.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));',
          'await stack.stop();',
          'process.stdout.write(JSON.stringify(g.fanoutPackageSeen ?? []));',
          '',
        ].join('\n'),
      );
      const { stdout } = await exec(path.join(repo, 'node_modules/.bin/node'), ['start.ts'], {
        cwd: project,
        timeout: 60_000,
      });
      expect(JSON.parse(stdout)).toEqual(['["seen","mail","hello"]']);
      expect(
        readdirSync(path.join(project, BUNDLED_MODULES_DIR)).filter((f) => /^mailer-\w+\.mjs$/.test(f)),
      ).toHaveLength(1);
    }, 70_000);
  },
);
