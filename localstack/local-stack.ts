import * as path from 'node:path';
import {
  ConfigError,
  createSqsClient,
  FanoutError,
  type Group,
  handlerFileCheck,
  IDEMPOTENCY_TABLE_VARIABLE,
  PAYLOAD_BUCKET_VARIABLE,
  resolveTopology,
  type TopologyDefinition,
  TopologyError,
  topicArnVariable,
} from '../lib/index.ts';
import {
  type EmbeddedCloud,
  type EmbeddedCloudOptions,
  startEmbeddedCloud,
} from './emulator/embedded-cloud.ts';
import { localTables, type ProvisionedStack, provisionTopology } from './provisioning/provision.ts';
import {
  EventSourceRunner,
  type InvocationReport,
  type SqsLambdaHandler,
} from './runner/event-source-runner.ts';
import { importModule, ModuleLoadError } from './runner/module-loader.ts';

/** A second {@link startLocalStack} while one runs in this process: both would share one `process.env`. */
export class LocalStackRunningError extends FanoutError {
  constructor() {
    super(
      'FANOUT_LOCAL_STACK_RUNNING',
      'a local stack is already running in this process (the SDK clients read their endpoints, tables and topic ARNs from process.env, so two would interfere): stop() it first, or run the second in another process',
    );
    this.name = 'LocalStackRunningError';
  }
}

/** Whether a stack of this process is running (between startLocalStack and its stop()). */
let running = false;

/**
 * Sets variables of `process.env` and remembers what each was before, so that {@link restore} puts them back
 * (deleting those that were not set).
 */
class EnvironmentChanges {
  readonly #before = new Map<string, string | undefined>();

  set(variables: Record<string, string | undefined>): void {
    for (const [name, value] of Object.entries(variables)) {
      if (value === undefined) continue;
      if (!this.#before.has(name)) this.#before.set(name, process.env[name]);
      process.env[name] = value;
    }
  }

  /** Whether `name` was set through {@link set}. */
  has(name: string): boolean {
    return this.#before.has(name);
  }

  restore(): void {
    for (const [name, value] of this.#before) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    this.#before.clear();
  }
}

/** Options of {@link startLocalStack}. */
export interface LocalStackOptions {
  readonly topology: TopologyDefinition;
  /**
   * Directory the topology's handler paths are relative to.
   * @default process.cwd()
   */
  readonly projectRoot?: string;
  /**
   * Start the embedded emulator with these options; `false` uses the endpoints already in the
   * environment (`AWS_ENDPOINT_URL…`: LocalStack, or an AWS account).
   * @default {} (embedded, free ports)
   */
  readonly embedded?: EmbeddedCloudOptions | false;
  /**
   * Called after every invocation of any group.
   * @default none
   */
  readonly onInvocation?: (report: InvocationReport) => void;
  /**
   * Makes the app's own local resources once the topology is provisioned and before any handler loads (a
   * table your handlers write to, a bucket they read), and returns the environment variables the handlers
   * read them from; `stop()` restores those too. The reference app's demo makes its effects table this way.
   * @default none: only what the topology declares
   */
  readonly setup?: (provisioned: ProvisionedStack) => Promise<Record<string, string> | undefined>;
  /**
   * Long-poll wait of the runners, in seconds.
   * @default 1
   */
  readonly waitTimeSeconds?: number;
  /**
   * Wraps a group's handler before its runner drives it (the reference app's demo injects its faults
   * this way, so that deployed handlers carry none).
   * @default none: the handler as the module exports it
   */
  readonly wrapHandler?: (group: string, handler: SqsLambdaHandler) => SqsLambdaHandler;
}

/** A running local stack: emulator, provisioned topology, one runner per group. */
export interface LocalStack {
  readonly cloud?: EmbeddedCloud;
  readonly provisioned: ProvisionedStack;
  readonly runners: ReadonlyMap<string, EventSourceRunner>;
  stop(): Promise<void>;
}

/**
 * Starts the whole stack locally: the embedded emulator (unless told to use the environment's
 * endpoints), the topology provisioned through the SDK, and every group's `functions/` handler driven
 * by an event-source runner with the group's batch settings.
 *
 * The stack's settings (endpoints, region, credentials, table, bucket and topic-ARN variables, the groups'
 * `environment`) go into `process.env`, where the handlers' SDK clients read them; `stop()` restores every
 * variable it set. One process runs one stack at a time: a second call before the first one's `stop()` is a
 * {@link LocalStackRunningError}.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  if (running) throw new LocalStackRunningError();
  // The whole topology, handler files included, is checked before anything starts.
  const projectRoot = path.resolve(options.projectRoot ?? process.cwd());
  resolveTopology(options.topology, { checkHandlerFile: handlerFileCheck(projectRoot) });
  running = true;
  const env = new EnvironmentChanges();
  const runners = new Map<string, EventSourceRunner>();
  let cloud: EmbeddedCloud | undefined;
  const stop = async () => {
    try {
      await Promise.all([...runners.values()].map((r) => r.stop()));
      await cloud?.stop();
    } finally {
      env.restore();
      running = false;
    }
  };
  try {
    cloud = options.embedded === false ? undefined : await startEmbeddedCloud(options.embedded ?? {});
    if (cloud) env.set(cloud.env);
    const tables = localTables();
    env.set({ [IDEMPOTENCY_TABLE_VARIABLE]: tables.idempotency });
    const provisioned = await provisionTopology(options.topology);
    // Publishers of topics with largePayloads (handlers, the CLI) find the bucket here, as on AWS.
    if (provisioned.payloadBucket) env.set({ [PAYLOAD_BUCKET_VARIABLE]: provisioned.payloadBucket });
    // Every group runs in this process, so every topic's ARN is there under the name a group that
    // `publishes` to it reads (`topicArn('<name>')`), as the stack sets it in Lambda.
    for (const [name, arn] of provisioned.topics) env.set({ [topicArnVariable(name)]: arn });
    env.set(sharedEnvironment(provisioned.topology.groups));
    env.set(ownVariables((await options.setup?.(provisioned)) ?? {}, env));
    const sqs = createSqsClient();
    const region = process.env.AWS_REGION ?? 'us-east-1';
    for (const group of provisioned.topology.groups) {
      const handler = await loadHandler(projectRoot, group);
      const { queue } = provisioned.groups.get(group.name) ?? { queue: undefined };
      if (!queue) throw new Error(`group '${group.name}' was not provisioned`);
      const runner = new EventSourceRunner({
        group: group.name,
        queueUrl: queue.url,
        queueArn: queue.arn,
        region,
        handler: options.wrapHandler?.(group.name, handler) ?? handler,
        sqs,
        batchSize: group.batchSize,
        batchingWindowSeconds: group.batchingWindowSeconds,
        maxConcurrency: group.maxConcurrency,
        timeoutSeconds: group.timeoutSeconds,
        waitTimeSeconds: options.waitTimeSeconds,
        onInvocation: options.onInvocation,
      });
      runners.set(group.name, runner);
    }
    for (const runner of runners.values()) runner.start();
    return { cloud, provisioned, runners, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * The variables a `setup` returned, checked: one the stack set itself (an endpoint, a table, a topic ARN, a
 * group's `environment`) would redirect the stack's own clients or handlers, so it is a ConfigError.
 */
function ownVariables(variables: Record<string, string>, env: EnvironmentChanges): Record<string, string> {
  for (const name of Object.keys(variables)) {
    if (env.has(name))
      throw new ConfigError(
        'setup',
        `returned ${name}, which the local stack sets itself (given ${JSON.stringify(variables[name])})`,
        'Return variables of your own names for your own resources',
      );
  }
  return variables;
}

/** Imports a group's handler module (see {@link importModule}) and returns its `handler` export. */
async function loadHandler(projectRoot: string, group: Group): Promise<SqsLambdaHandler> {
  const file = path.resolve(projectRoot, group.handler);
  const module = await importModule(file, { projectRoot });
  if (typeof module.handler !== 'function') {
    throw new ModuleLoadError(
      file,
      `group '${group.name}': ${file} does not export a handler function: add export const handler = consumer({ … })`,
    );
  }
  return module.handler as SqsLambdaHandler;
}

/**
 * The groups' own `environment`, for one process that runs them all: a variable two groups give different
 * values cannot be both here, so that is an error naming both groups.
 */
function sharedEnvironment(groups: readonly Group[]): Record<string, string> {
  const merged: Record<string, string> = {};
  const owner: Record<string, string> = {};
  for (const group of groups) {
    for (const [variable, value] of Object.entries(group.environment)) {
      if (variable in merged && merged[variable] !== value) {
        throw new TopologyError([
          `groups '${owner[variable]}' and '${group.name}' set environment.${variable} to different values; the local runners share one process, so give the variables different names`,
        ]);
      }
      merged[variable] = value;
      owner[variable] = group.name;
    }
  }
  return merged;
}
