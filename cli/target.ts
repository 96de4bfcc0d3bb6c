import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import {
  createSqsClient,
  parseOutputDescription,
  prefixed,
  resolveTopology,
  type Topology,
  type TopologyDefinition,
} from '../lib/index.ts';

/** A problem the operator can fix; printed as one line, exit status 1. */
export class CliError extends Error {}

/**
 * The command that starts the local cloud where the CLI runs: `npm start` in the fanout repository itself
 * (its start script), `npx fanout dev` in any other project.
 */
export function startCommand(cwd: string = process.cwd()): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(cwd, 'package.json'), 'utf8')) as { name?: unknown };
    if (pkg.name === 'fanout') return 'npm start';
  } catch {
    // No package.json, or not JSON: not the fanout repository.
  }
  return 'npx fanout dev';
}

/** Where a group's queues are. */
export interface GroupAddress {
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly dlqUrl: string;
  readonly dlqArn: string;
}

/** A stack the CLI talks to, with every topic and group resolved. */
export interface Target {
  /** Human description: the endpoint or the stack. */
  readonly description: string;
  readonly kind: 'endpoint' | 'stack';
  readonly topology: Topology;
  readonly topics: ReadonlyMap<string, string>;
  readonly groups: ReadonlyMap<string, GroupAddress>;
  readonly sns: SNSClient;
  readonly sqs: SQSClient;
}

/** How to reach the stack. */
export interface TargetOptions {
  /** SNS/SQS endpoint (sets AWS_ENDPOINT_URL_SNS/SQS); it beats the environment's; see {@link localEndpoints}. */
  readonly endpoint?: string;
  /** Name of a deployed FanoutStack; topics and queues come from its outputs. */
  readonly stack?: string;
}

/** The endpoint `fanout dev` serves on by default. */
export const DEFAULT_LOCAL_ENDPOINT = 'http://127.0.0.1:4566';

/**
 * The SNS and SQS endpoints of a local target, first match wins: `--endpoint` (both services), else
 * the environment (`AWS_ENDPOINT_URL_SQS`, else `AWS_ENDPOINT_URL`; SNS: `AWS_ENDPOINT_URL_SNS`, else
 * the same as SQS), else {@link DEFAULT_LOCAL_ENDPOINT} (where `npm start` serves).
 */
export function localEndpoints(
  options: Pick<TargetOptions, 'endpoint'>,
  env: NodeJS.ProcessEnv = process.env,
): { sns: string; sqs: string } {
  if (options.endpoint) return { sns: options.endpoint, sqs: options.endpoint };
  const sqs = env.AWS_ENDPOINT_URL_SQS ?? env.AWS_ENDPOINT_URL ?? DEFAULT_LOCAL_ENDPOINT;
  return { sns: env.AWS_ENDPOINT_URL_SNS ?? sqs, sqs };
}

/**
 * Resolves topics and groups: from a deployed stack's CloudFormation outputs (`--stack`), or by name
 * on an endpoint (embedded emulator, LocalStack, moto), with names from the topology (`--topology`, default `infra/topology.ts`; after
 * `FANOUT_RESOURCE_PREFIX`, when set, as local provisioning names them).
 * Fails with one actionable line when the target cannot be reached.
 */
export async function resolveTarget(definition: TopologyDefinition, options: TargetOptions): Promise<Target> {
  const topology = resolveTopology(definition);
  if (options.stack) return fromStack(topology, options.stack);

  const { sqs: endpoint, sns: snsEndpoint } = localEndpoints(options);
  process.env.AWS_ENDPOINT_URL_SNS = snsEndpoint;
  process.env.AWS_ENDPOINT_URL_SQS = endpoint;
  process.env.AWS_REGION ??= 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  const sns = new SNSClient({ maxAttempts: 2 });
  const sqs = createSqsClient();

  let listed: string[] = [];
  try {
    let token: string | undefined;
    do {
      const page = await sns.send(new ListTopicsCommand({ NextToken: token }));
      listed.push(...(page.Topics ?? []).map((t) => t.TopicArn ?? ''));
      token = page.NextToken;
    } while (token);
  } catch (error) {
    throw new CliError(
      `cannot reach SNS at ${snsEndpoint} (${(error as Error).message.split('\n')[0]}): start the local cloud with '${startCommand()}', or pass --endpoint URL or --stack NAME`,
    );
  }
  listed = listed.filter(Boolean);
  const topics = new Map<string, string>();
  for (const topic of topology.topics) {
    const arn = listed.find((a) => a.endsWith(`:${prefixed(topic.name)}`));
    if (arn) topics.set(topic.name, arn);
  }

  const groups = new Map<string, GroupAddress>();
  await Promise.all(
    topology.groups.map(async (group) => {
      const [queue, dlq] = await Promise.all([
        lookUpQueue(sqs, prefixed(group.queueName)),
        lookUpQueue(sqs, prefixed(group.dlqName)),
      ]);
      if (queue && dlq)
        groups.set(group.name, {
          queueUrl: queue.url,
          queueArn: queue.arn,
          dlqUrl: dlq.url,
          dlqArn: dlq.arn,
        });
    }),
  );
  return { description: endpoint, kind: 'endpoint', topology, topics, groups, sns, sqs };
}

async function lookUpQueue(sqs: SQSClient, name: string) {
  try {
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    if (!QueueUrl) return undefined;
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    return { url: QueueUrl, arn: Attributes?.QueueArn ?? '' };
  } catch {
    return undefined;
  }
}

async function fromStack(topology: Topology, stackName: string): Promise<Target> {
  const cloudformation = new CloudFormationClient({});
  let outputs: { Description?: string; OutputValue?: string }[];
  try {
    const { Stacks } = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = Stacks?.[0]?.Outputs ?? [];
  } catch (error) {
    throw new CliError(
      `cannot read stack '${stackName}' (${(error as Error).message.split('\n')[0]}): check the name, your AWS credentials and AWS_REGION`,
    );
  }
  const topics = new Map<string, string>();
  const parts = new Map<string, Record<string, string>>();
  for (const output of outputs) {
    const parsed = parseOutputDescription(output.Description);
    if (!parsed || !output.OutputValue) continue;
    if (parsed.kind === 'topic' && parsed.attribute === 'arn') topics.set(parsed.name, output.OutputValue);
    if (parsed.kind === 'group')
      parts.set(parsed.name, { ...parts.get(parsed.name), [parsed.attribute]: output.OutputValue });
  }
  if (topics.size === 0 && parts.size === 0) {
    throw new CliError(
      `stack '${stackName}' has no fanout outputs: is it a FanoutStack? Deploy it with 'npm run deploy'`,
    );
  }
  const groups = new Map<string, GroupAddress>();
  for (const [name, p] of parts) {
    if (p.queueUrl && p.queueArn && p.dlqUrl && p.dlqArn) {
      groups.set(name, { queueUrl: p.queueUrl, queueArn: p.queueArn, dlqUrl: p.dlqUrl, dlqArn: p.dlqArn });
    }
  }
  return {
    description: `stack ${stackName}`,
    kind: 'stack',
    topology,
    topics,
    groups,
    sns: new SNSClient({}),
    sqs: createSqsClient(),
  };
}

/** The group's address, or a CliError naming the groups there are. */
export function groupOf(target: Target, name: string): GroupAddress {
  const group = target.groups.get(name);
  if (!group) {
    const known = [...target.groups.keys()];
    throw new CliError(
      `no consumer group '${name}' on ${target.description}` +
        (known.length
          ? ` (groups: ${known.join(', ')})`
          : `: nothing is provisioned there; start it with ${startCommand()}`),
    );
  }
  return group;
}

/** The topic's ARN, or a CliError naming the topics there are. */
export function topicOf(target: Target, name: string): string {
  const arn = target.topics.get(name);
  if (!arn) {
    throw new CliError(
      `no topic '${name}' on ${target.description} (topics: ${[...target.topics.keys()].join(', ') || 'none'})`,
    );
  }
  return arn;
}
