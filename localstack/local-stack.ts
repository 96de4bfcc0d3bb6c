import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  createSqsClient,
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

/** Options of {@link startLocalStack}. */
export interface LocalStackOptions {
  readonly topology: TopologyDefinition;
  /** Directory the topology's handler paths are relative to. */
  readonly projectRoot: string;
  /**
   * Start the embedded emulator with these options; `false` uses the endpoints already in the
   * environment (`AWS_ENDPOINT_URL…`: LocalStack, or an AWS account).
   * @default {} (embedded, free ports)
   */
  readonly embedded?: EmbeddedCloudOptions | false;
  /** Called after every invocation of any group. */
  readonly onInvocation?: (report: InvocationReport) => void;
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
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  // The whole topology, handler files included, is checked before anything starts.
  resolveTopology(options.topology, { checkHandlerFile: handlerFileCheck(options.projectRoot) });
  const cloud = options.embedded === false ? undefined : await startEmbeddedCloud(options.embedded ?? {});
  try {
    if (cloud) Object.assign(process.env, cloud.env);
    const tables = localTables();
    process.env[IDEMPOTENCY_TABLE_VARIABLE] = tables.idempotency;
    process.env.FANOUT_EFFECTS_TABLE = tables.effects;
    const provisioned = await provisionTopology(options.topology);
    // Publishers of topics with largePayloads (handlers, the CLI) find the bucket here, as on AWS.
    if (provisioned.payloadBucket) process.env[PAYLOAD_BUCKET_VARIABLE] = provisioned.payloadBucket;
    // Every group runs in this process, so every topic's ARN is there under the name a group that
    // `publishes` to it reads (`topicArn('<name>')`), as the stack sets it in Lambda.
    for (const [name, arn] of provisioned.topics) process.env[topicArnVariable(name)] = arn;
    Object.assign(process.env, sharedEnvironment(provisioned.topology.groups));
    const sqs = createSqsClient();
    const region = process.env.AWS_REGION ?? 'us-east-1';
    const runners = new Map<string, EventSourceRunner>();
    for (const group of provisioned.topology.groups) {
      const modulePath = path.resolve(options.projectRoot, group.handler);
      const module = (await import(pathToFileURL(modulePath).href)) as { handler?: SqsLambdaHandler };
      if (typeof module.handler !== 'function') {
        throw new Error(
          `group '${group.name}': ${group.handler} does not export a handler function (export const handler = consumer({ … }))`,
        );
      }
      const { queue } = provisioned.groups.get(group.name) ?? { queue: undefined };
      if (!queue) throw new Error(`group '${group.name}' was not provisioned`);
      const runner = new EventSourceRunner({
        group: group.name,
        queueUrl: queue.url,
        queueArn: queue.arn,
        region,
        handler: options.wrapHandler?.(group.name, module.handler) ?? module.handler,
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
    return {
      cloud,
      provisioned,
      runners,
      async stop() {
        await Promise.all([...runners.values()].map((r) => r.stop()));
        await cloud?.stop();
      },
    };
  } catch (error) {
    await cloud?.stop();
    throw error;
  }
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
