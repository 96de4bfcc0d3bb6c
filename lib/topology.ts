/**
 * The topology: the one declaration of topics and consumer groups. `infra/` synthesizes it into
 * CloudFormation, `localstack/` provisions it through the SDK, the CLI resolves names from it.
 * This module holds its types, its defaults and its validation; it imports nothing from the CDK.
 */
import {
  LAMBDA_MAX_TIMEOUT_SECONDS,
  LAMBDA_MEMORY_MIB,
  LAMBDA_SQS_MAX_BATCH_SIZE,
  LAMBDA_SQS_MAX_BATCH_SIZE_UNBATCHED,
  LAMBDA_SQS_MAX_BATCHING_WINDOW_SECONDS,
  LAMBDA_SQS_MAX_CONCURRENCY,
  SNS_DEFAULT_MAX_MESSAGE_BYTES,
  SNS_MIN_MAX_MESSAGE_BYTES,
  SNS_RAISED_MAX_MESSAGE_BYTES,
  SNS_RAISED_SIZE_MAX_SUBSCRIPTIONS,
  SQS_MAX_RECEIVE_COUNT,
  SQS_MAX_RETENTION_DAYS,
  SQS_MAX_RETENTION_SECONDS,
  SQS_MAX_VISIBILITY_TIMEOUT_SECONDS,
} from './aws-limits.ts';
import { topicArnVariable } from './environment.ts';
import { FanoutError } from './errors.ts';
import { filterPolicyIssues } from './filter-policy.ts';

/** A topic. A name ending in `.fifo` is a FIFO topic. */
export interface TopicDefinition {
  /**
   * Whether the topic is FIFO; must agree with the name (FIFO names end in `.fifo`).
   * @default true when the name ends in `.fifo`
   */
  readonly fifo?: boolean;
  /**
   * Largest message the topic accepts, in bytes (body plus attributes), from 1024 to 1 MiB
   * (1,048,576). Above 256 KiB, SNS allows at most 100 subscriptions on the topic and only SQS,
   * Lambda and Firehose endpoints; the topology checks the subscription count.
   * @default 262144 (256 KiB, SNS's default)
   */
  readonly maxMessageSizeBytes?: number;
  /**
   * Publish a message larger than `maxMessageSizeBytes` through the stack's payload bucket (a pointer
   * in the extended clients' format goes through SNS); consumers resolve it before validation.
   * @default false (a larger message fails with MessageTooLargeError)
   */
  readonly largePayloads?: boolean;
}

/** An SNS filter policy, as SNS takes it (e.g. `{ type: ['OrderPlaced'] }`). */
export type FilterPolicy = Readonly<Record<string, unknown>>;

/** A consumer group: one queue (with its DLQ) subscribed to topics, and one Lambda function. */
export interface GroupDefinition {
  /** Topics the group receives every (matching) message of. */
  readonly subscribe: readonly string[];
  /**
   * Handler module, relative to the project root; it exports `handler`.
   * @default `functions/<group>.ts`
   */
  readonly handler?: string;
  /**
   * Topics the group's function publishes to: each gets the topic's ARN in
   * `FANOUT_TOPIC_<NAME>_ARN` (read it with `topicArn('<name>')`) and `sns:Publish` on that topic only.
   * @default none
   */
  readonly publishes?: readonly string[];
  /**
   * More environment variables of the group's function (names `FANOUT_*` and `AWS_*` are reserved).
   * @default none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Active X-Ray tracing of the group's function (the trace continues from the message's context).
   * @default true
   */
  readonly tracing?: boolean;
  /**
   * SNS filter policy of every subscription of the group.
   * @default none: every message
   */
  readonly filter?: FilterPolicy;
  /**
   * What the filter policy looks at: message attributes (`type` is always one) or the JSON body.
   * @default 'MessageAttributes'
   */
  readonly filterScope?: 'MessageAttributes' | 'MessageBody';
  /**
   * Receives before SQS moves a message to the DLQ.
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * Records per Lambda invocation (FIFO: at most 10; above 10 needs a batching window).
   * @default 10
   */
  readonly batchSize?: number;
  /**
   * Seconds Lambda waits to fill a batch (0 to 300; not for FIFO queues).
   * @default 0
   */
  readonly batchingWindowSeconds?: number;
  /**
   * Most concurrent invocations of the group's function (2 to 1000).
   * @default 10
   */
  readonly maxConcurrency?: number;
  /**
   * Function timeout in seconds (1 to 900).
   * @default 30
   */
  readonly timeoutSeconds?: number;
  /**
   * Function memory in MiB (128 to 10240).
   * @default 256
   */
  readonly memoryMiB?: number;
  /**
   * Queue visibility timeout in seconds; at least the function timeout.
   * @default 6 × timeoutSeconds + batchingWindowSeconds (the AWS recommendation)
   */
  readonly visibilityTimeoutSeconds?: number;
  /**
   * How long the queue keeps a message, in days (1 to 14).
   * @default 4
   */
  readonly retentionDays?: number;
  /**
   * How long the DLQ keeps a dead letter, in days (1 to 14). Longer than the queue's so it outlives it.
   * @default 14
   */
  readonly dlqRetentionDays?: number;
  /**
   * Alarm when the DLQ holds at least this many messages.
   * @default 1
   */
  readonly alarmDlqMessages?: number;
  /**
   * Alarm when the oldest message in the queue is older than this, in seconds.
   * @default 300
   */
  readonly alarmOldestMessageSeconds?: number;
}

/** The whole topology as a user writes it in `infra/topology.ts`. */
export interface TopologyDefinition {
  readonly topics: Readonly<Record<string, TopicDefinition>>;
  readonly groups: Readonly<Record<string, GroupDefinition>>;
}

/** A topic with everything resolved. */
export interface Topic {
  readonly name: string;
  readonly fifo: boolean;
  readonly maxMessageSizeBytes: number;
  readonly largePayloads: boolean;
}

/** A group with every default applied. */
export interface Group
  extends Required<Omit<GroupDefinition, 'filter' | 'subscribe' | 'publishes' | 'environment'>>,
    Pick<GroupDefinition, 'filter'> {
  readonly name: string;
  readonly subscribe: readonly string[];
  readonly publishes: readonly string[];
  readonly environment: Readonly<Record<string, string>>;
  readonly fifo: boolean;
  /** Queue name (`<group>` or `<group>.fifo`). */
  readonly queueName: string;
  /** DLQ name (`<group>-dlq` or `<group>-dlq.fifo`). */
  readonly dlqName: string;
}

/** A validated topology with every default applied. */
export interface Topology {
  readonly topics: readonly Topic[];
  readonly groups: readonly Group[];
}

/** The topology breaks one or more rules; `issues` lists each with the entry, the rule and the value. */
export class TopologyError extends FanoutError {
  readonly issues: readonly string[];
  /** The file the topology came from, when known (e.g. `infra/topology.ts`). */
  readonly source: string | undefined;

  constructor(issues: readonly string[], source?: string) {
    super(
      'FANOUT_TOPOLOGY',
      `Invalid topology${source ? ` (${source})` : ''}:\n${issues.map((i) => `  - ${i}`).join('\n')}`,
    );
    this.issues = issues;
    this.source = source;
  }
}

const GROUP_DEFAULTS = {
  filterScope: 'MessageAttributes',
  maxReceiveCount: 5,
  batchSize: 10,
  batchingWindowSeconds: 0,
  maxConcurrency: 10,
  timeoutSeconds: 30,
  memoryMiB: 256,
  retentionDays: 4,
  dlqRetentionDays: 14,
  alarmDlqMessages: 1,
  alarmOldestMessageSeconds: 300,
  tracing: true,
} as const;

const GROUP_KEYS = new Set<string>([
  ...Object.keys(GROUP_DEFAULTS),
  'subscribe',
  'handler',
  'filter',
  'visibilityTimeoutSeconds',
  'publishes',
  'environment',
]);
const TOPIC_KEYS = new Set(['fifo', 'maxMessageSizeBytes', 'largePayloads']);
const NAME = /^[A-Za-z0-9_-]+$/;
const SNS_NAME_MAX = 256;
const SQS_NAME_MAX = 80;

/** Options of {@link resolveTopology}. */
export interface ResolveOptions {
  /**
   * Checks a group's handler module, given its path relative to the project root: returns what is wrong
   * with it (e.g. `does not exist (looked for /app/functions/billing.ts)`), or undefined when it is there.
   * Synth and local start pass `handlerFileCheck(projectRoot)` from `lib/handler-files.ts`; code that
   * runs in Lambda never does, so the check never runs there.
   * @default no check
   */
  readonly checkHandlerFile?: (handler: string) => string | undefined;
  /**
   * The file the topology came from, named in the error (e.g. `infra/topology.ts`).
   * @default none
   */
  readonly source?: string;
}

/** Identity function that types a topology declaration and validates it, failing at load time. */
export function defineTopology<T extends TopologyDefinition>(definition: T): T {
  resolveTopology(definition);
  return definition;
}

/**
 * Validates a topology and applies every default; with `options.checkHandlerFile`, also checks that
 * every group's handler module is there.
 * @throws TopologyError listing every rule broken, each naming the entry, the rule and the given value.
 */
export function resolveTopology(definition: TopologyDefinition, options: ResolveOptions = {}): Topology {
  const issues: string[] = [];
  const topics: Topic[] = [];
  const groups: Group[] = [];
  if (!isObject(definition) || !isObject(definition.topics) || !isObject(definition.groups)) {
    throw new TopologyError(
      ["the topology needs 'topics' and 'groups' objects: defineTopology({ topics: {…}, groups: {…} })"],
      options.source,
    );
  }

  for (const [name, topic] of Object.entries(definition.topics)) {
    const where = `topic '${name}'`;
    const base = name.replace(/\.fifo$/, '');
    const nameFifo = name.endsWith('.fifo');
    if (!NAME.test(base) || name.length > SNS_NAME_MAX) {
      issues.push(
        `${where}: name must be 1 to ${SNS_NAME_MAX} letters, digits, '-' or '_' (plus '.fifo' for FIFO topics)`,
      );
    }
    for (const key of Object.keys(topic ?? {})) {
      if (!TOPIC_KEYS.has(key))
        issues.push(`${where}: unknown option '${key}' (topics take: ${[...TOPIC_KEYS].join(', ')})`);
    }
    const fifo = topic?.fifo ?? nameFifo;
    if (fifo !== nameFifo) {
      issues.push(
        fifo
          ? `${where}: a FIFO topic's name must end in '.fifo' (rename it '${name}.fifo')`
          : `${where}: the name ends in '.fifo' but fifo is false; FIFO names are for FIFO topics only`,
      );
    }
    const maxMessageSizeBytes = topic?.maxMessageSizeBytes ?? SNS_DEFAULT_MAX_MESSAGE_BYTES;
    if (
      !Number.isInteger(maxMessageSizeBytes) ||
      maxMessageSizeBytes < SNS_MIN_MAX_MESSAGE_BYTES ||
      maxMessageSizeBytes > SNS_RAISED_MAX_MESSAGE_BYTES
    ) {
      issues.push(
        `${where}: maxMessageSizeBytes must be a whole number from ${SNS_MIN_MAX_MESSAGE_BYTES} to ${SNS_RAISED_MAX_MESSAGE_BYTES} (given ${JSON.stringify(topic?.maxMessageSizeBytes)}); larger payloads need largePayloads: true`,
      );
    }
    const largePayloads = topic?.largePayloads ?? false;
    if (typeof largePayloads !== 'boolean') {
      issues.push(`${where}: largePayloads must be true or false (given ${JSON.stringify(largePayloads)})`);
    }
    topics.push({ name, fifo, maxMessageSizeBytes, largePayloads });
  }
  const topicByName = new Map(topics.map((t) => [t.name, t]));
  // Topic ARNs reach publishing functions under one variable per topic: two names must not share one.
  const variableOwner = new Map<string, string>();
  for (const { name } of topics) {
    const variable = topicArnVariable(name);
    const other = variableOwner.get(variable);
    if (other) {
      issues.push(
        `topic '${name}': its ARN variable ${variable} would also hold topic '${other}' (names that differ only in '-', '_', '.' or case collide); rename one of them`,
      );
    }
    variableOwner.set(variable, name);
  }

  const queueNames = new Map<string, string>();
  for (const [name, group] of Object.entries(definition.groups)) {
    const where = `group '${name}'`;
    if (!isObject(group)) {
      issues.push(`${where}: must be an object like { subscribe: ['orders'] }`);
      continue;
    }
    for (const key of Object.keys(group)) {
      if (!GROUP_KEYS.has(key)) {
        const hint = [...GROUP_KEYS].find((k) => k.toLowerCase() === key.toLowerCase());
        issues.push(`${where}: unknown option '${key}'${hint ? ` (did you mean '${hint}'?)` : ''}`);
      }
    }
    const g = { ...GROUP_DEFAULTS, ...group };

    // subscriptions and FIFO
    const subscribe = Array.isArray(group.subscribe) ? group.subscribe : [];
    if (subscribe.length === 0)
      issues.push(
        `${where}: subscribe must list at least one topic (given ${JSON.stringify(group.subscribe)})`,
      );
    const seen = new Set<string>();
    const subscribedFifo = new Set<boolean>();
    for (const topicName of subscribe) {
      if (seen.has(topicName)) issues.push(`${where}: subscribes to topic '${topicName}' twice`);
      seen.add(topicName);
      const topic = topicByName.get(topicName);
      if (!topic) {
        issues.push(
          `${where}: subscribes to unknown topic '${topicName}' (topics: ${[...topicByName.keys()].join(', ') || 'none'})`,
        );
      } else {
        subscribedFifo.add(topic.fifo);
      }
    }
    if (subscribedFifo.size > 1) {
      issues.push(
        `${where}: subscribes to FIFO and standard topics at once; a FIFO queue takes only FIFO topics and the reverse`,
      );
    }
    const fifo = subscribedFifo.has(true);

    // names
    const suffix = fifo ? '.fifo' : '';
    const queueName = `${name}${suffix}`;
    const dlqName = `${name}-dlq${suffix}`;
    if (!NAME.test(name) || dlqName.length > SQS_NAME_MAX) {
      issues.push(
        `${where}: name must be letters, digits, '-' or '_' and at most ${SQS_NAME_MAX - 4 - suffix.length} characters (its DLQ is '${dlqName}')`,
      );
    }
    for (const q of [queueName, dlqName]) {
      const owner = queueNames.get(q);
      if (owner)
        issues.push(`${where}: queue name '${q}' is also used by group '${owner}'; rename one of them`);
      queueNames.set(q, name);
    }

    // numbers
    const range = (field: keyof typeof g, min: number, max: number, unit = '') => {
      const value = g[field] as unknown;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
        issues.push(
          `${where}: ${field} must be a whole number from ${min} to ${max}${unit} (given ${JSON.stringify(value)})`,
        );
        return false;
      }
      return true;
    };
    if (typeof g.maxReceiveCount === 'number' && g.maxReceiveCount < 1) {
      issues.push(`${where}: maxReceiveCount must be ≥ 1 (given ${g.maxReceiveCount})`);
    } else range('maxReceiveCount', 1, SQS_MAX_RECEIVE_COUNT);
    range('batchingWindowSeconds', 0, LAMBDA_SQS_MAX_BATCHING_WINDOW_SECONDS, ' seconds');
    if (range('batchSize', 1, fifo ? LAMBDA_SQS_MAX_BATCH_SIZE_UNBATCHED : LAMBDA_SQS_MAX_BATCH_SIZE)) {
      if (g.batchSize > LAMBDA_SQS_MAX_BATCH_SIZE_UNBATCHED && g.batchingWindowSeconds < 1) {
        issues.push(
          `${where}: batchSize above 10 needs batchingWindowSeconds ≥ 1 (given batchSize ${g.batchSize}, batchingWindowSeconds ${g.batchingWindowSeconds})`,
        );
      }
    }
    if (fifo && g.batchingWindowSeconds > 0) {
      issues.push(
        `${where}: FIFO queues take no batching window (given batchingWindowSeconds ${g.batchingWindowSeconds}); remove it`,
      );
    }
    range('maxConcurrency', LAMBDA_SQS_MAX_CONCURRENCY.min, LAMBDA_SQS_MAX_CONCURRENCY.max);
    const timeoutOk = range('timeoutSeconds', 1, LAMBDA_MAX_TIMEOUT_SECONDS, ' seconds');
    range('memoryMiB', LAMBDA_MEMORY_MIB.min, LAMBDA_MEMORY_MIB.max, ' MiB');
    range('retentionDays', 1, SQS_MAX_RETENTION_DAYS, ' days');
    range('dlqRetentionDays', 1, SQS_MAX_RETENTION_DAYS, ' days');
    range('alarmDlqMessages', 1, 1_000_000);
    range('alarmOldestMessageSeconds', 60, SQS_MAX_RETENTION_SECONDS, ' seconds');
    const visibilityTimeoutSeconds =
      group.visibilityTimeoutSeconds ?? 6 * g.timeoutSeconds + g.batchingWindowSeconds;
    if (
      typeof visibilityTimeoutSeconds !== 'number' ||
      !Number.isInteger(visibilityTimeoutSeconds) ||
      visibilityTimeoutSeconds > SQS_MAX_VISIBILITY_TIMEOUT_SECONDS
    ) {
      issues.push(
        `${where}: visibilityTimeoutSeconds must be a whole number up to ${SQS_MAX_VISIBILITY_TIMEOUT_SECONDS} (given ${JSON.stringify(visibilityTimeoutSeconds)})`,
      );
    } else if (timeoutOk && visibilityTimeoutSeconds < g.timeoutSeconds) {
      issues.push(
        `${where}: visibilityTimeoutSeconds must be at least timeoutSeconds (given ${visibilityTimeoutSeconds} < ${g.timeoutSeconds}); AWS recommends 6 × timeout = ${6 * g.timeoutSeconds}`,
      );
    }
    if (g.filterScope !== 'MessageAttributes' && g.filterScope !== 'MessageBody') {
      issues.push(
        `${where}: filterScope must be 'MessageAttributes' or 'MessageBody' (given ${JSON.stringify(g.filterScope)})`,
      );
    }
    if (group.filter !== undefined && (!isObject(group.filter) || Object.keys(group.filter).length === 0)) {
      issues.push(
        `${where}: filter must be a non-empty SNS filter policy object, e.g. { type: ['OrderPlaced'] }`,
      );
    } else if (group.filter !== undefined) {
      const scope = g.filterScope === 'MessageBody' ? 'MessageBody' : 'MessageAttributes';
      issues.push(...filterPolicyIssues(group.filter, scope, where));
    }
    const publishes = group.publishes ?? [];
    if (!Array.isArray(publishes)) {
      issues.push(
        `${where}: publishes must list topic names, e.g. ['payments'] (given ${JSON.stringify(publishes)})`,
      );
    } else {
      for (const topicName of publishes) {
        if (!topicByName.has(topicName))
          issues.push(
            `${where}: publishes to unknown topic '${topicName}' (topics: ${[...topicByName.keys()].join(', ') || 'none'})`,
          );
      }
    }
    const environment = group.environment ?? {};
    if (!isObject(environment)) {
      issues.push(
        `${where}: environment must be an object of strings (given ${JSON.stringify(environment)})`,
      );
    } else {
      for (const [variable, value] of Object.entries(environment)) {
        if (typeof value !== 'string')
          issues.push(`${where}: environment.${variable} must be a string (given ${JSON.stringify(value)})`);
        if (/^(FANOUT_|AWS_)/.test(variable) || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable))
          issues.push(
            `${where}: environment variable '${variable}' is not allowed (names are letters, digits and '_'; FANOUT_* and AWS_* are reserved)`,
          );
      }
    }
    if (typeof g.tracing !== 'boolean') {
      issues.push(`${where}: tracing must be true or false (given ${JSON.stringify(g.tracing)})`);
    }
    const handler = group.handler ?? `functions/${name}.ts`;
    if (typeof handler !== 'string' || !/\.(ts|js|mts|mjs)$/.test(handler)) {
      issues.push(
        `${where}: handler must be a path to a .ts or .js module (given ${JSON.stringify(handler)})`,
      );
    } else {
      const problem = options.checkHandlerFile?.(handler);
      if (problem)
        issues.push(
          `${where}: handler ${handler} ${problem}; create it exporting handler = consumer({ … }), or set handler to an existing module`,
        );
    }

    groups.push({
      ...g,
      name,
      subscribe,
      publishes: Array.isArray(publishes) ? publishes : [],
      environment: isObject(environment) ? environment : {},
      fifo,
      queueName,
      dlqName,
      handler,
      visibilityTimeoutSeconds,
    } as Group);
  }

  for (const topic of topics) {
    const subscriptions = groups.filter((g) => g.subscribe.includes(topic.name)).length;
    if (
      topic.maxMessageSizeBytes > SNS_DEFAULT_MAX_MESSAGE_BYTES &&
      subscriptions > SNS_RAISED_SIZE_MAX_SUBSCRIPTIONS
    ) {
      issues.push(
        `topic '${topic.name}': maxMessageSizeBytes above ${SNS_DEFAULT_MAX_MESSAGE_BYTES} allows at most ${SNS_RAISED_SIZE_MAX_SUBSCRIPTIONS} subscriptions (given ${subscriptions} groups); lower it or use largePayloads`,
      );
    }
  }
  if (issues.length > 0) throw new TopologyError(issues, options.source);
  return { topics, groups };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
