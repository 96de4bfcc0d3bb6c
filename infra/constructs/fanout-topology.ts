import * as path from 'node:path';
import {
  Annotations,
  CfnOutput,
  Duration,
  type aws_dynamodb as dynamodb,
  RemovalPolicy,
  Stack,
  type aws_s3 as s3,
  type aws_sns as sns,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import {
  ConfigError,
  handlerFileCheck,
  outputDescription,
  outputKey,
  resolveTopology,
  SNS_DEFAULT_MAX_MESSAGE_BYTES,
  type Topology,
  type TopologyDefinition,
} from '../../lib/index.ts';
import { ConsumerGroup, type ConsumerGroupProps, knowsKind, type PayloadAccess } from './consumer-group.ts';
import { FanoutTopic } from './fanout-topic.ts';
import { checkOverrides } from './override-checks.ts';
import { PayloadBucket } from './payload-bucket.ts';
import { PrefixedTable } from './prefixed-table.ts';

/** Per-group overrides of {@link FanoutTopology}: props merged over the ones fanout gives the group's parts. */
export type GroupOverrides = Pick<
  ConsumerGroupProps,
  'queueProps' | 'deadLetterQueueProps' | 'functionProps' | 'eventSourceProps'
>;

/** Props of {@link FanoutTopology}. */
export interface FanoutTopologyProps {
  /** The topics and consumer groups (see `defineTopology` in `fanout`). */
  readonly topology: TopologyDefinition;
  /**
   * Directory that group handler paths are relative to; its lock file (e.g. `package-lock.json`) is used
   * for bundling when there is exactly one.
   * @default process.cwd()
   */
  readonly projectRoot?: string;
  /**
   * Topics that exist already, by topology topic name: used (subscribed to, published to) instead of
   * creating one. fanout does not change them (their encryption, policy and maximum message size stay yours).
   * @default none: every topic is created (KMS-encrypted with the AWS managed key, TLS only)
   */
  readonly existingTopics?: Readonly<Record<string, sns.ITopic>>;
  /**
   * An idempotency table that exists already (partition key `pk`, string; TTL attribute `expiresAt`).
   * @default a new table (on demand, TTL, point-in-time recovery), removed per `removalPolicy`
   */
  readonly existingIdempotencyTable?: dynamodb.ITable;
  /**
   * Overrides per group name: props merged over fanout's for its queue, DLQ, function and event source.
   * @default none
   */
  readonly groupProps?: Readonly<Record<string, GroupOverrides>>;
  /**
   * Topic that every group alarm notifies (`AlarmTopic` makes one CloudWatch can publish to).
   * @default no alarm actions (the alarms still show in CloudWatch)
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * What happens to the idempotency table, the payload buckets and the groups' DLQs fanout creates when they
   * leave the stack (a group's `deadLetterQueueProps.removalPolicy` wins for its DLQ). The groups' queues
   * are always deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Add the stack outputs the `fanout` CLI reads with `--stack` (descriptions `fanout:<kind>:<name>:<attribute>`):
   * each topic's ARN; each group's queue and DLQ URL and ARN and function name; the idempotency table's name;
   * the payload bucket's name. They are made at the top of the stack (keys `Fanout…`), so only one
   * FanoutTopology of a stack may have them.
   * @default true
   */
  readonly outputs?: boolean;
  /**
   * Props merged over fanout's for the payload bucket (created only when a topic has `largePayloads`).
   * `lifecycleRules` given here replace fanout's expiry rule.
   * @default none: SSE-S3, TLS only, public access blocked, objects deleted a day after the longest queue +
   * DLQ retention of the groups that read the bucket, as deployed (see `payloadExpirationDays`)
   */
  readonly payloadBucketProps?: Partial<s3.BucketProps>;
  /**
   * Where the payload bucket's server access logs go; `false` for none.
   * @default a new access-log bucket beside the payload bucket
   */
  readonly payloadAccessLogsBucket?: s3.IBucket | false;
}

/**
 * Every resource of a topology, placed in your own stack: its topics (or yours), one {@link ConsumerGroup} per
 * group, the idempotency table (or yours) and, when a topic offloads large payloads, the payload bucket.
 */
export class FanoutTopology extends Construct {
  /** The topology with every default applied. */
  readonly topology: Topology;
  /** Every topic by topology name: the ones created and the existing ones given. */
  readonly topics: ReadonlyMap<string, sns.ITopic>;
  /** Every consumer group by name. */
  readonly groups: ReadonlyMap<string, ConsumerGroup>;
  readonly idempotencyTable: dynamodb.ITable;
  /** The payload bucket, when a topic has `largePayloads`. */
  readonly payloadBucket?: s3.IBucket;

  constructor(scope: Construct, id: string, props: FanoutTopologyProps) {
    super(scope, id);
    const projectRoot = path.resolve(props.projectRoot ?? process.cwd());
    const topology = resolveTopology(props.topology, { checkHandlerFile: handlerFileCheck(projectRoot) });
    this.topology = topology;
    checkKeys('existingTopics', props.existingTopics, topology.topics, 'topic');
    checkKeys('groupProps', props.groupProps, topology.groups, 'group');

    const topics = new Map<string, sns.ITopic>();
    for (const topic of topology.topics) {
      const existing = props.existingTopics?.[topic.name];
      if (existing) {
        this.checkExisting(topic, existing);
        topics.set(topic.name, existing);
      } else {
        const created = new FanoutTopic(this, `Topic-${topic.name}`, {
          fifo: topic.fifo,
          maxMessageSizeBytes:
            topic.maxMessageSizeBytes === SNS_DEFAULT_MAX_MESSAGE_BYTES
              ? undefined
              : topic.maxMessageSizeBytes,
        });
        topics.set(topic.name, created.topic);
      }
    }
    this.topics = topics;

    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.idempotencyTable =
      props.existingIdempotencyTable ?? new PrefixedTable(this, 'IdempotencyTable', { removalPolicy }).table;

    const large = new Set(topology.topics.filter((t) => t.largePayloads).map((t) => t.name));
    let payloadBucket: s3.Bucket | undefined;
    if (large.size > 0) {
      payloadBucket = new PayloadBucket(this, 'PayloadBucket', {
        // Added below, once the readers' queues (and their retention as deployed) exist.
        expirationDays: false,
        removalPolicy,
        accessLogsBucket: props.payloadAccessLogsBucket,
        bucketProps: props.payloadBucketProps,
      }).bucket;
      this.payloadBucket = payloadBucket;
    }

    const topicSizes = new Map(topology.topics.map((t) => [t.name, t.maxMessageSizeBytes]));
    const groups = new Map<string, ConsumerGroup>();
    for (const group of topology.groups) {
      const access: PayloadAccess[] = [];
      if (group.subscribe.some((t) => large.has(t))) access.push('read');
      if (group.publishes.some((t) => large.has(t))) access.push('write');
      const {
        name,
        subscribe,
        publishes,
        handler,
        fifo: _f,
        queueName: _q,
        dlqName: _d,
        ...settings
      } = group;
      const overrides = props.groupProps?.[name] ?? {};
      // The queues must take the largest message any of the group's topics delivers.
      const maxMessageSizeBytes = Math.max(
        ...subscribe.map((t) => topicSizes.get(t) ?? SNS_DEFAULT_MAX_MESSAGE_BYTES),
      );
      checkOverrides(`FanoutTopology.groupProps['${name}']`, group, { ...overrides, maxMessageSizeBytes });
      groups.set(
        name,
        new ConsumerGroup(this, `Group-${name}`, {
          ...settings,
          ...overrides,
          deadLetterQueueProps: { removalPolicy, ...overrides.deadLetterQueueProps },
          name,
          fifo: group.fifo,
          topics: subscribe.map((t) => topics.get(t) as sns.ITopic),
          entry: handler,
          projectRoot,
          maxMessageSizeBytes,
          idempotencyTable: this.idempotencyTable,
          publishesTo: Object.fromEntries(publishes.map((t) => [t, topics.get(t) as sns.ITopic])),
          alarmTopic: props.alarmTopic,
          payloadBucket: access.length > 0 ? this.payloadBucket : undefined,
          payloadAccess: access,
        }),
      );
    }
    this.groups = groups;
    // Expire payloads after the longest wait of a message in a reader's queue and DLQ, with the retention they
    // are deployed with (groupProps' retentionPeriod included). Lifecycle rules given in payloadBucketProps win.
    if (payloadBucket && !(props.payloadBucketProps && 'lifecycleRules' in props.payloadBucketProps)) {
      const readers = topology.groups
        .filter((g) => g.subscribe.some((t) => large.has(t)))
        .map((g) => groups.get(g.name) as ConsumerGroup)
        .map((g) => ({
          retentionDays: g.queueRetentionDays,
          dlqRetentionDays: g.deadLetterQueueRetentionDays,
        }));
      payloadBucket.addLifecycleRule({ expiration: Duration.days(payloadExpirationDays(readers)) });
    }
    if (props.outputs ?? true) this.addOutputs();
  }

  /** The outputs the CLI finds topics, groups, the table and the bucket by (`lib/stack-outputs.ts`). */
  private addOutputs() {
    const stack = Stack.of(this);
    const output = (what: string, value: string) => {
      const key = outputKey(what);
      if (stack.node.tryFindChild(key))
        throw new ConfigError(
          `FanoutTopology '${this.node.path}'.outputs`,
          `the stack has an output or construct '${key}' already (another FanoutTopology with outputs in the same stack?)`,
          'Pass outputs: false to all but one FanoutTopology of the stack',
        );
      // At the top of the stack, so the logical id is the key itself, as the CLI and its tests expect.
      new CfnOutput(stack, key, { value, description: outputDescription(what) });
    };
    for (const [name, topic] of this.topics) output(`topic ${name} arn`, topic.topicArn);
    output('table idempotency name', this.idempotencyTable.tableName);
    for (const [name, group] of this.groups) {
      output(`group ${name} queueUrl`, group.queue.queueUrl);
      output(`group ${name} queueArn`, group.queue.queueArn);
      output(`group ${name} dlqUrl`, group.deadLetterQueue.queueUrl);
      output(`group ${name} dlqArn`, group.deadLetterQueue.queueArn);
      output(`group ${name} functionName`, group.function.functionName);
    }
    if (this.payloadBucket) output('bucket payload name', this.payloadBucket.bucketName);
  }

  /** An existing topic must agree with the topology on FIFO; a raised size limit is the owner's to set. */
  private checkExisting(topic: Topology['topics'][number], existing: sns.ITopic) {
    // A topic imported from a token ARN always says standard: its kind is the topology's (`fifo` of the group).
    if (knowsKind(existing) && existing.fifo !== topic.fifo) {
      throw new ConfigError(
        `FanoutTopology.existingTopics['${topic.name}']`,
        `the topology's topic is ${topic.fifo ? 'FIFO' : 'standard'} but the given topic is ${existing.fifo ? 'FIFO' : 'standard'}`,
        'Pass a topic of the same kind, or change the topology',
      );
    }
    if (topic.maxMessageSizeBytes !== SNS_DEFAULT_MAX_MESSAGE_BYTES) {
      Annotations.of(this).addWarningV2(
        'fanout:existingTopicMessageSize',
        `topic '${topic.name}' is an existing topic: fanout does not set its maximum message size (${topic.maxMessageSizeBytes} in the topology); set MaximumMessageSize on it yourself`,
      );
    }
  }
}

/**
 * Days a payload is kept: one more than the longest `retentionDays + dlqRetentionDays` of the groups that read
 * the bucket (FanoutTopology passes each reader's retention as deployed: `ConsumerGroup.queueRetentionDays` and
 * `deadLetterQueueRetentionDays`, which follow `groupProps` overrides). A FIFO DLQ restarts a message's retention when it arrives (a standard one keeps the original
 * timestamp), so a message can live that long before it is redriven; the extra day covers a redrive on
 * its last day. At least 1.
 */
export function payloadExpirationDays(
  readers: readonly { readonly retentionDays: number; readonly dlqRetentionDays: number }[],
): number {
  return Math.max(0, ...readers.map((g) => g.retentionDays + g.dlqRetentionDays)) + 1;
}

function checkKeys(
  prop: string,
  given: Readonly<Record<string, unknown>> | undefined,
  known: readonly { readonly name: string }[],
  what: string,
) {
  const names = known.map((k) => k.name);
  for (const key of Object.keys(given ?? {})) {
    if (!names.includes(key))
      throw new ConfigError(
        `FanoutTopology.${prop}['${key}']`,
        `the topology has no ${what} '${key}'`,
        `Use one of: ${names.join(', ')}`,
      );
  }
}
