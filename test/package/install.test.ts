/**
 * fanout as a package, tried the way a new user would from another project: `npm pack` → install the
 * tarball into a fresh scratch project (from the npm cache) → plain `tsc` (nodenext, strict,
 * skipLibCheck false) compiles a handler built with `consumer` from `fanout` and a CDK app that places
 * `FanoutTopology` from `fanout/cdk` in the user's own Stack next to the user's own topic → the app
 * synthesizes → the handler runs on the embedded cloud from `fanout/local`. Also measures the install
 * footprint of a runtime-only install (the tarball alone) and of the full install.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '../..');
const node = process.execPath;
const installed = (name: string) =>
  JSON.parse(readFileSync(path.join(repo, 'node_modules', name, 'package.json'), 'utf8')).version as string;

/** What a user's project adds beside fanout for the CDK app, the local run and the compiler. */
const PEERS = ['aws-cdk-lib', 'constructs', 'esbuild', 'fauxqs', 'dynalite', 'typescript', '@types/node'];

function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  try {
    return execFileSync(command, args, { cwd, env, encoding: 'utf8', stdio: 'pipe', timeout: 240_000 });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${command} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}\n${e.stderr ?? e.message}`,
    );
  }
}

/** Disk use of a folder, in bytes (files only, symlinks not followed). */
function diskBytes(folder: string): number {
  let total = 0;
  for (const entry of readdirSync(folder, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += statSync(path.join(entry.parentPath, entry.name)).size;
  }
  return total;
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

function npmInstall(project: string, dependencies: Record<string, string>) {
  writeFileSync(
    path.join(project, 'package.json'),
    JSON.stringify({ name: path.basename(project), private: true, type: 'module', dependencies }, null, 2),
  );
  // --prefer-offline: every tarball comes from the npm cache the repository's own install filled.
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], project);
}

const TOPOLOGY = `import { defineTopology } from 'fanout';

export default defineTopology({
  topics: { orders: {}, payments: {} },
  groups: { billing: { subscribe: ['orders'], handler: 'src/billing.ts', publishes: ['payments'] } },
});
`;

const HANDLER = `import { appendFile } from 'node:fs/promises';
import { consumer, Publisher, topicArn } from 'fanout';

const payments = new Publisher({ topicArn: topicArn('payments') });

interface OrderPlaced {
  readonly orderId: string;
}

export const handler = consumer({
  handlers: {
    OrderPlaced: {
      handle: async (order: OrderPlaced, { envelope }) => {
        const request = await payments.publish({ type: 'PaymentRequested', data: { orderId: order.orderId } });
        await appendFile(
          process.env.BILLING_EFFECTS_FILE ?? 'effects.txt',
          \`\${envelope.id} \${order.orderId} \${request.type}\\n\`,
        );
      },
    },
  },
});
`;

const CDK_APP = `import { App, Stack, aws_sns as sns } from 'aws-cdk-lib';
import { FanoutTopology } from 'fanout/cdk';
import topology from './topology.js';

const app = new App();
const stack = new Stack(app, 'UserStack');
const orders = new sns.Topic(stack, 'UserOrders', { topicName: 'user-orders' });
new FanoutTopology(stack, 'Fanout', {
  topology,
  projectRoot: process.cwd(),
  existingTopics: { orders },
});
app.synth();
`;

const LOCAL_RUN = `import { Publisher } from 'fanout';
import { type InvocationReport, startLocalStack } from 'fanout/local';
import topology from './topology.js';

let applied!: (report: InvocationReport) => void;
const invocation = new Promise<InvocationReport>((resolve) => {
  applied = resolve;
});
const stack = await startLocalStack({
  topology,
  projectRoot: process.cwd(),
  onInvocation: (report) => {
    if (report.deleted > 0) applied(report);
  },
});
try {
  const topicArn = stack.provisioned.topics.get('orders');
  if (!topicArn) throw new Error('orders was not provisioned');
  const published = await new Publisher({ topicArn }).publish({ type: 'OrderPlaced', data: { orderId: 'o-1' } });
  const report = await invocation;
  console.log(JSON.stringify({ published: published.id, group: report.group, deleted: report.deleted }));
} finally {
  await stack.stop();
}
`;

/** Packages that importing the runtime entry point must not load. */
const NOT_FOR_THE_RUNTIME = [
  'aws-cdk-lib',
  'constructs',
  'commander',
  'cli-table3',
  'cli-progress',
  'fauxqs',
  'dynalite',
];

describe('fanout installed from its packed tarball into a fresh project', () => {
  let work: string;
  let project: string;
  const footprint: Record<string, number> = {};

  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), 'fanout-package-'));
    run('npm', ['pack', '--pack-destination', work, '--loglevel=error'], repo);
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack wrote no tarball into ${work}`);
    const fanout = `file:${path.join(work, tarball)}`;

    const runtimeOnly = path.join(work, 'runtime-only');
    mkdirSync(runtimeOnly);
    npmInstall(runtimeOnly, { fanout });
    footprint.runtimeOnly = diskBytes(path.join(runtimeOnly, 'node_modules'));

    project = path.join(work, 'user-project');
    mkdirSync(path.join(project, 'src'), { recursive: true });
    npmInstall(project, { fanout, ...Object.fromEntries(PEERS.map((p) => [p, installed(p)])) });
    footprint.full = diskBytes(path.join(project, 'node_modules'));
    process.stdout.write(
      `install footprint: runtime-only ${mib(footprint.runtimeOnly)}, full (with ${PEERS.join(', ')}) ${mib(footprint.full)}\n`,
    );
  }, 480_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('a runtime-only install does not install the CDK or the emulators', () => {
    const modules = readdirSync(path.join(work, 'runtime-only', 'node_modules'));
    expect(modules).toContain('fanout');
    for (const absent of ['aws-cdk-lib', 'constructs', 'fauxqs', 'dynalite', 'esbuild']) {
      expect(modules, `${absent} came with a runtime-only install`).not.toContain(absent);
    }
    expect(footprint.runtimeOnly).toBeLessThan(footprint.full / 3);
  });

  it('importing fanout loads neither the CDK, nor the CLI libraries, nor the emulators', () => {
    // An ESM resolve hook prints the URL of every module the import resolves.
    const hook = path.join(work, 'print-resolved.mjs');
    writeFileSync(
      hook,
      `export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  process.stderr.write(resolved.url + '\\n');
  return resolved;
}`,
    );
    const register = path.join(work, 'register-hook.mjs');
    writeFileSync(
      register,
      `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${hook}`)});\n`,
    );
    const child = spawnSync(
      node,
      ['--import', register, '--input-type=module', '-e', "await import('fanout');"],
      {
        cwd: project,
        encoding: 'utf8',
      },
    );
    expect(child.status, child.stderr).toBe(0);
    const urls = child.stderr.split('\n').filter((line) => line.startsWith('file:'));
    expect(urls.some((url) => url.includes('/node_modules/fanout/dist/lib/index.js'))).toBe(true);
    for (const name of NOT_FOR_THE_RUNTIME) {
      expect(urls.filter((url) => url.includes(`/node_modules/${name}/`))).toEqual([]);
    }
  });

  it('plain tsc (nodenext, strict, skipLibCheck false) compiles a handler and a CDK app against the package', () => {
    writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify(
        {
          compilerOptions: {
            target: 'ES2022',
            lib: ['ES2022'],
            module: 'nodenext',
            moduleResolution: 'nodenext',
            strict: true,
            skipLibCheck: false,
            types: ['node'],
            rootDir: 'src',
            outDir: 'dist',
          },
          include: ['src'],
        },
        null,
        2,
      ),
    );
    writeFileSync(path.join(project, 'src', 'topology.ts'), TOPOLOGY);
    writeFileSync(path.join(project, 'src', 'billing.ts'), HANDLER);
    writeFileSync(path.join(project, 'src', 'app.ts'), CDK_APP);
    writeFileSync(path.join(project, 'src', 'local-run.ts'), LOCAL_RUN);
    run(
      node,
      [path.join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'],
      project,
    );
    expect(readdirSync(path.join(project, 'dist')).sort()).toEqual([
      'app.js',
      'billing.js',
      'local-run.js',
      'topology.js',
    ]);
  });

  it('cdk synth of the CDK app makes FanoutTopology in the user stack, subscribed to the user topic', () => {
    const outdir = path.join(project, 'cdk.out');
    // The CDK CLI (the repository's own aws-cdk, the version a user pins beside aws-cdk-lib), offline.
    const cdk = path.join(repo, 'node_modules', 'aws-cdk', 'bin', 'cdk');
    run(
      node,
      [cdk, 'synth', '--app', 'node dist/app.js', '--output', outdir, '--quiet', '--no-notices'],
      project,
      { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true', AWS_EC2_METADATA_DISABLED: 'true' },
    );
    const template = JSON.parse(readFileSync(path.join(outdir, 'UserStack.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
    };
    const resources = Object.entries(template.Resources);
    const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);
    const topics = ofType('AWS::SNS::Topic');
    expect(topics).toHaveLength(2);
    const userTopic = topics.find(([, r]) => r.Properties?.TopicName === 'user-orders');
    expect(userTopic, 'the user topic is used as is, not created again').toBeDefined();
    const [userTopicId] = userTopic ?? [''];
    expect(ofType('AWS::SQS::Queue')).toHaveLength(2);
    const queue = ofType('AWS::SQS::Queue').find(([, r]) => r.Properties?.RedrivePolicy);
    expect(queue, 'a queue with a redrive policy to its DLQ').toBeDefined();
    const mappings = ofType('AWS::Lambda::EventSourceMapping');
    expect(mappings).toHaveLength(1);
    expect(mappings[0][1].Properties?.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    const subscriptions = ofType('AWS::SNS::Subscription');
    expect(subscriptions).toHaveLength(1);
    expect(subscriptions[0][1].Properties).toMatchObject({
      Protocol: 'sqs',
      RawMessageDelivery: true,
      TopicArn: { Ref: userTopicId },
    });
    const billing = ofType('AWS::Lambda::Function').find(
      ([, r]) =>
        (r.Properties?.Environment as { Variables?: Record<string, unknown> })?.Variables?.FANOUT_GROUP ===
        'billing',
    );
    expect(billing, 'the billing function').toBeDefined();
    const environment = billing?.[1].Properties?.Environment as
      | { Variables: Record<string, unknown> }
      | undefined;
    expect(environment?.Variables).toHaveProperty('FANOUT_TOPIC_PAYMENTS_ARN');
  });

  it('the handler runs on the embedded cloud from fanout/local', () => {
    const effects = path.join(project, 'effects.txt');
    const output = run(node, ['dist/local-run.js'], project, {
      ...process.env,
      BILLING_EFFECTS_FILE: effects,
    });
    const result = JSON.parse(output.trim().split('\n').at(-1) ?? '{}');
    expect(result).toMatchObject({ group: 'billing', deleted: 1 });
    expect(readFileSync(effects, 'utf8').trim()).toMatch(/ o-1 PaymentRequested$/);
  });
});
