import { existsSync } from 'node:fs';
import * as path from 'node:path';
import {
  Annotations,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as cloudwatchActions,
  cx_api,
  Duration,
  type aws_dynamodb as dynamodb,
  aws_lambda_event_sources as eventSources,
  FeatureFlags,
  aws_iam as iam,
  type aws_kms as kms,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_lambda_nodejs as nodejs,
  RemovalPolicy,
  Stack,
  type aws_s3 as s3,
  aws_sns as sns,
  aws_sqs as sqs,
  Token,
  Validations,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import {
  ConfigError,
  DEAD_LETTER_MAX_MESSAGE_BYTES_VARIABLE,
  DEAD_LETTER_QUEUE_URL_VARIABLE,
  GROUP_VARIABLE,
  type Group,
  type GroupDefinition,
  IDEMPOTENCY_TABLE_VARIABLE,
  PAYLOAD_BUCKET_VARIABLE,
  resolveTopology,
  SQS_DEFAULT_RETENTION_DAYS,
  SQS_MAX_MESSAGE_BYTES,
  SQS_MAX_RETENTION_DAYS,
  SQS_MIN_MAX_MESSAGE_BYTES,
  SQS_RAISED_MAX_MESSAGE_BYTES,
  TopologyError,
  topicArnVariable,
} from '../../lib/index.ts';
import { checkOverrides } from './override-checks.ts';
import { grantKeyPrefix, IDEMPOTENCY_TABLE_ACTIONS } from './prefixed-table.ts';

/**
 * The settings of a group, as the topology's group options (`GroupDefinition` of `fanout`) name them,
 * with the same defaults and the same validation: batch size, batching window, concurrency, timeouts,
 * memory, retention, redrive, alarms, filter policy, environment, tracing.
 */
export type GroupSettings = Omit<GroupDefinition, 'subscribe' | 'handler' | 'publishes'>;

/** What a group's function may do with the payload bucket. */
export type PayloadAccess =
  /**
   * Resolve the pointers of large messages it receives: `s3:GetObject` on the bucket's objects, and
   * `s3:ListBucket` on the bucket so that a missing payload is `NoSuchKey`, not `AccessDenied`.
   */
  | 'read'
  /** Offload large messages it publishes (`s3:PutObject` on the bucket's objects). */
  | 'write';

/** Props of {@link ConsumerGroup}: the group's settings plus what it is wired to. */
export interface ConsumerGroupProps extends GroupSettings {
  /**
   * Name of the group: the key prefix of its idempotency keys (`<name>#…`), `FANOUT_GROUP` of its function,
   * the service name of its logs and metrics. Letters, digits, '-' or '_'.
   */
  readonly name: string;
  /** The topics the group receives every (matching) message of: all standard, or all FIFO. */
  readonly topics: readonly sns.ITopic[];
  /**
   * The largest message its topics deliver, in bytes (a topic's `MaximumMessageSize`; FanoutTopology passes the
   * largest `maxMessageSizeBytes` of the group's topics). Above 262,144 (256 KiB) the queue and the DLQ get
   * `maxMessageSizeBytes` 1,048,576, SQS's largest (the DLQ's copy of a message adds the poison reason
   * attributes, so it takes the largest too), and the function `FANOUT_DLQ_MAX_MESSAGE_BYTES` = the DLQ's size;
   * at or below it neither is set, so the template stays as it was. A whole number from 1024 to 1,048,576.
   * @default 262,144
   */
  readonly maxMessageSizeBytes?: number;
  /**
   * Whether the topics are FIFO, for topics whose kind the CDK cannot know: one imported from a token ARN
   * (`Topic.fromTopicArn(this, 'T', Fn.importValue(…))`, a `CfnParameter`) always says `fifo: false`. A topic
   * whose kind is known (created in the app, or imported from a literal ARN) must agree with it.
   * @default the topics' own `fifo`
   */
  readonly fifo?: boolean;
  /** Path of the handler module (it exports `handler`), absolute or relative to `projectRoot`. */
  readonly entry: string;
  /**
   * Directory of the project the handler belongs to: esbuild resolves its imports from there, and its
   * lock file (`package-lock.json`, `pnpm-lock.yaml`, `yarn.lock`, `bun.lock` or `bun.lockb`) is used when
   * there is exactly one.
   * @default process.cwd()
   */
  readonly projectRoot?: string;
  /**
   * The idempotency table (partition key `pk`, string; TTL attribute `expiresAt`). The function may call only
   * the actions in {@link IDEMPOTENCY_TABLE_ACTIONS}, only on keys starting with `<name>#`.
   */
  readonly idempotencyTable: dynamodb.ITable;
  /**
   * Topics the function publishes to, by topic name: each sets `FANOUT_TOPIC_<NAME>_ARN` (read it with
   * `topicArn('<name>')`) and grants `sns:Publish` on that topic only.
   * @default none
   */
  readonly publishesTo?: Readonly<Record<string, sns.ITopic>>;
  /**
   * Topic that the group's alarms notify.
   * @default no alarm actions (the alarms still show in CloudWatch)
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Bucket of the payloads too large for a topic (see `largePayloads`): its name goes into
   * `FANOUT_PAYLOAD_BUCKET`, with the access of `payloadAccess`.
   * @default none
   */
  readonly payloadBucket?: s3.IBucket;
  /**
   * What the function may do with `payloadBucket`: object grants on all of its objects (`<bucket>/*`: any
   * publisher, fanout's or an extended client's, chooses the keys), plus `s3:ListBucket` on it for `read`.
   * @default ['read']
   */
  readonly payloadAccess?: readonly PayloadAccess[];
  /**
   * Log retention of the function's log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Props merged over fanout's for the queue (e.g. `encryptionMasterKey`, `queueName`). `deadLetterQueue` is
   * refused (the redrive to the group's DLQ stays), and so are a `visibilityTimeout` shorter than the function's
   * timeout and `encryption: QueueEncryption.KMS_MANAGED` (SNS cannot deliver to a queue under alias/aws/sqs).
   * An `encryptionMasterKey` (a customer managed key) turns `encryption` to `QueueEncryption.KMS`, and its key
   * policy gets a statement letting SNS use it for the group's topics only (`sns.amazonaws.com`, `kms:Decrypt`
   * and `kms:GenerateDataKey`, condition `aws:SourceArn` = the topics). A key not defined in this stack
   * (imported, or of another stack) cannot take the statement: synth then warns (`fanout:queueKeyNotInStack`),
   * and the statement is yours to add to its key policy.
   * @default none: SSE-SQS, TLS only, the group's visibility timeout and retention, redrive to the DLQ
   */
  readonly queueProps?: Partial<sqs.QueueProps>;
  /**
   * Props merged over fanout's for the dead-letter queue. An `encryptionMasterKey` turns `encryption` to
   * `QueueEncryption.KMS`, and the function may use that key to send (`kms:GenerateDataKey`, `kms:Decrypt`).
   * @default none: SSE-SQS, TLS only, the group's `dlqRetentionDays`, `removalPolicy: RemovalPolicy.RETAIN`
   * (dead letters stay when the stack is deleted)
   */
  readonly deadLetterQueueProps?: Partial<sqs.QueueProps>;
  /**
   * Props merged over fanout's for the function; `environment` and `bundling` are merged one level deeper
   * (your keys win). Refused: `FANOUT_*` names in `environment` (fanout wires its own), the names Lambda
   * reserves (`AWS_REGION`, `AWS_LAMBDA_FUNCTION_NAME`, `_HANDLER`, `TZ`…; docs/CDK.md lists them), and a
   * `timeout` longer than the queue's visibility timeout. Other `AWS_*` names may be set, e.g. `layers` with
   * `AWS_LAMBDA_EXEC_WRAPPER: '/opt/otel-handler'` to export fanout's OpenTelemetry spans through the ADOT
   * Lambda layer (docs/CDK.md). A `role` given here replaces fanout's and still gets the grants. (The log group
   * is always fanout's, so the function may write to it alone: set `logRetention` for its retention.)
   * @default none: Node 24 on ARM64, ESM bundle with source maps, the group's memory and timeout
   */
  readonly functionProps?: Partial<Omit<nodejs.NodejsFunctionProps, 'logGroup'>>;
  /**
   * Props merged over fanout's for the SQS event source (`reportBatchItemFailures: false` is refused).
   * @default none: the group's batch size, batching window and maximum concurrency, with
   * `reportBatchItemFailures: true`
   */
  readonly eventSourceProps?: Partial<eventSources.SqsEventSourceProps>;
}

const LOCK_FILES = ['package-lock.json', 'pnpm-lock.yaml', 'yarn.lock', 'bun.lock', 'bun.lockb'];

/**
 * One consumer group: its queue and DLQ (SSE-SQS, TLS only, redrive after `maxReceiveCount`), a
 * raw-delivery subscription per topic with the group's filter policy, the Lambda function with an
 * event source mapping that reports batch item failures, least-privilege grants and alarms.
 */
export class ConsumerGroup extends Construct {
  /** The group's settings with every default applied. */
  readonly settings: Group;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly function: nodejs.NodejsFunction;
  readonly logGroup: logs.LogGroup;
  /** Every alarm of the group: dead letters, age of the oldest message, function errors. */
  readonly alarms: readonly cloudwatch.Alarm[];
  /** Alarm on the age of the queue's oldest message (the group is falling behind). */
  readonly oldestMessageAlarm: cloudwatch.Alarm;
  /**
   * Days the queue keeps a message, as deployed: `queueProps.retentionPeriod` when given (rounded up to whole
   * days; 14, SQS's longest, when it is a token; 4, SQS's default, when given as `undefined`), else
   * `retentionDays`. FanoutTopology expires payloads from it.
   */
  readonly queueRetentionDays: number;
  /** Days the DLQ keeps a message, as deployed: the same rule over `deadLetterQueueProps` and `dlqRetentionDays`. */
  readonly deadLetterQueueRetentionDays: number;

  constructor(scope: Construct, id: string, props: ConsumerGroupProps) {
    super(scope, id);
    const group = resolveSettings(props);
    checkOverrides(`ConsumerGroup '${group.name}'`, group, props);
    this.settings = group;
    this.queueRetentionDays = retentionDays(props.queueProps, group.retentionDays);
    this.deadLetterQueueRetentionDays = retentionDays(props.deadLetterQueueProps, group.dlqRetentionDays);
    // Topics above SQS's former 256 KiB: both queues take SQS's largest message.
    const raisedSize = raisedMessageSize(group.name, props.maxMessageSizeBytes);

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      fifo: group.fifo || undefined,
      retentionPeriod: Duration.days(group.dlqRetentionDays),
      encryption: encryptionFor(props.deadLetterQueueProps),
      maxMessageSizeBytes: raisedSize,
      enforceSSL: true,
      // Dead letters are data: deleting the stack must not delete them.
      removalPolicy: RemovalPolicy.RETAIN,
      ...props.deadLetterQueueProps,
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      fifo: group.fifo || undefined,
      visibilityTimeout: Duration.seconds(group.visibilityTimeoutSeconds),
      retentionPeriod: Duration.days(group.retentionDays),
      // SNS cannot deliver to queues under the AWS managed KMS key; SSE-SQS works and costs nothing.
      encryption: encryptionFor(props.queueProps),
      maxMessageSizeBytes: raisedSize,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: group.maxReceiveCount },
      ...props.queueProps,
    });
    this.subscribe(props.topics, group);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.function = this.createFunction(props, group);
    this.grant(props, group);
    this.oldestMessageAlarm = this.alarm(
      props,
      'OldestMessageAlarm',
      this.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' }),
      group.alarmOldestMessageSeconds,
      `the oldest message is ${group.alarmOldestMessageSeconds} s old or more; the group is falling behind`,
    );
    this.alarms = [
      this.alarm(
        props,
        'DeadLettersAlarm',
        this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: 'Maximum',
        }),
        group.alarmDlqMessages,
        `the DLQ holds ${group.alarmDlqMessages} or more messages; inspect with 'fanout dlq peek ${group.name}'`,
      ),
      this.oldestMessageAlarm,
      this.alarm(
        props,
        'FunctionErrorsAlarm',
        this.function.metricErrors({ period: Duration.minutes(1), statistic: 'Sum' }),
        1,
        'the function failed whole invocations (a thrown handler or a timeout re-delivers the whole batch)',
      ),
    ];
  }

  /** The queue policy (only the subscribed topics, through SNS) and one raw-delivery subscription per topic. */
  private subscribe(topics: readonly sns.ITopic[], group: Group) {
    const { policyDependable } = this.queue.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('sns.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn],
        conditions: { ArnEquals: { 'aws:SourceArn': topics.map((t) => t.topicArn) } },
      }),
    );
    const ids = subscriptionIds(topics);
    topics.forEach((topic, index) => {
      const subscription = new sns.Subscription(this, `Subscription-${ids[index]}`, {
        topic,
        endpoint: this.queue.queueArn,
        protocol: sns.SubscriptionProtocol.SQS,
        rawMessageDelivery: true,
      });
      if (group.filter) {
        // The settings hold SNS's own filter policy JSON; set it as is, with its scope.
        const cfn = subscription.node.defaultChild as sns.CfnSubscription;
        cfn.filterPolicy = group.filter;
        cfn.filterPolicyScope = group.filterScope;
      }
      // Subscribe once the queue policy lets the topic send (the endpoint's GetAtt already orders the queue).
      if (policyDependable) subscription.node.addDependency(policyDependable);
    });
    const key = this.queue.encryptionMasterKey;
    if (key) this.letSnsUseKey(key, topics);
  }

  /**
   * Lets SNS encrypt messages for the queue with its customer managed key, for the subscribed topics only (what
   * CDK's SqsSubscription adds, there without the condition unless a feature flag is on). A key not defined in
   * this stack cannot take the statement (an imported key has no policy here; one of another stack would refer
   * back to this stack's topics): warn, with the statement to add.
   */
  private letSnsUseKey(key: kms.IKey, topics: readonly sns.ITopic[]) {
    const statement = new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal('sns.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: ['*'],
      conditions: { ArnEquals: { 'aws:SourceArn': topics.map((t) => t.topicArn) } },
    });
    if (Stack.of(key) === Stack.of(this) && key.addToResourcePolicy(statement, true).statementAdded) return;
    const named = topics.map((t) => (Token.isUnresolved(t.topicArn) ? t.node.path : t.topicArn));
    Annotations.of(this).addWarningV2(
      'fanout:queueKeyNotInStack',
      `group '${this.settings.name}': the queue's KMS key is not defined in this stack (imported, or of another stack), so fanout cannot add to its key policy the statement SNS needs, and SNS cannot deliver to the queue without it. Add to the key policy: Allow principal sns.amazonaws.com, kms:Decrypt and kms:GenerateDataKey, Resource "*", condition ArnEquals aws:SourceArn = ${named.join(', ')}; then acknowledge this warning`,
    );
  }

  private createFunction(props: ConsumerGroupProps, group: Group): nodejs.NodejsFunction {
    const projectRoot = path.resolve(props.projectRoot ?? process.cwd());
    const lockFiles = LOCK_FILES.map((f) => path.join(projectRoot, f)).filter((f) => existsSync(f));
    const environment: Record<string, string> = {
      ...group.environment,
      [GROUP_VARIABLE]: group.name,
      [IDEMPOTENCY_TABLE_VARIABLE]: props.idempotencyTable.tableName,
      [DEAD_LETTER_QUEUE_URL_VARIABLE]: this.deadLetterQueue.queueUrl,
      POWERTOOLS_SERVICE_NAME: group.name,
      POWERTOOLS_METRICS_NAMESPACE: 'fanout',
      NODE_OPTIONS: '--enable-source-maps',
    };
    for (const [name, topic] of Object.entries(props.publishesTo ?? {}))
      environment[topicArnVariable(name)] = topic.topicArn;
    if (props.payloadBucket) environment[PAYLOAD_BUCKET_VARIABLE] = props.payloadBucket.bucketName;
    // The dead-letter sender assumes 256 KiB unless told the DLQ's size: it is told whenever the DLQ's size is set
    // (raised by fanout, or given in deadLetterQueueProps; a size given as a token is not known here: the variable
    // is left out, and the sender keeps to 256 KiB).
    const dlqSize = (this.deadLetterQueue.node.defaultChild as sqs.CfnQueue).maximumMessageSize;
    if (typeof dlqSize === 'number' && !Token.isUnresolved(dlqSize))
      environment[DEAD_LETTER_MAX_MESSAGE_BYTES_VARIABLE] = String(dlqSize);

    const {
      environment: extraEnvironment,
      bundling: extraBundling,
      ...overrides
    } = props.functionProps ?? {};
    return new nodejs.NodejsFunction(this, 'Function', {
      entry: path.resolve(projectRoot, props.entry),
      handler: 'handler',
      projectRoot,
      depsLockFilePath: lockFiles.length === 1 ? lockFiles[0] : undefined,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: group.memoryMiB,
      timeout: Duration.seconds(group.timeoutSeconds),
      tracing: group.tracing ? lambda.Tracing.ACTIVE : undefined,
      // Its own role, without AWSLambdaBasicExecutionRole: the grants below are all it may do.
      role:
        props.functionProps?.role ??
        new iam.Role(this, 'FunctionServiceRole', {
          assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
          description: `fanout consumer group '${group.name}'`,
        }),
      environment: { ...environment, ...extraEnvironment },
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: 'node24',
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        mainFields: ['module', 'main'],
        // The Node 24 runtime ships AWS SDK v3: leave it out of the bundle.
        externalModules: ['@aws-sdk/*'],
        banner:
          "import { createRequire as __fanoutRequire } from 'node:module'; const require = __fanoutRequire(import.meta.url);",
        forceDockerBundling: false,
        ...extraBundling,
      },
      ...overrides,
      logGroup: this.logGroup,
    });
  }

  private grant(props: ConsumerGroupProps, group: Group) {
    const fn = this.function;
    fn.addEventSource(
      new eventSources.SqsEventSource(this.queue, {
        batchSize: group.batchSize,
        maxBatchingWindow:
          group.batchingWindowSeconds > 0 ? Duration.seconds(group.batchingWindowSeconds) : undefined,
        maxConcurrency: group.maxConcurrency,
        reportBatchItemFailures: true,
        ...props.eventSourceProps,
      }),
    );
    // Its own log streams only (what AWSLambdaBasicExecutionRole grants on every log group).
    this.logGroup.grantWrite(fn);
    // Poison records go to the DLQ at once; the function may send there and nowhere else.
    const dlqKey = this.deadLetterQueue.encryptionMasterKey;
    if (!dlqKey) this.deadLetterQueue.grantSendMessages(fn);
    else {
      // CDK's grantSendMessages would add kms:Encrypt, kms:ReEncrypt* and kms:GenerateDataKey* on the key; SQS
      // needs of a sender only kms:GenerateDataKey (a data key for the message) and kms:Decrypt (to reuse it).
      iam.Grant.addToPrincipal({
        grantee: fn,
        actions: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
        resourceArns: [this.deadLetterQueue.queueArn],
      });
      dlqKey.grant(fn, 'kms:Decrypt', 'kms:GenerateDataKey');
    }
    grantKeyPrefix(props.idempotencyTable, fn, group.name, IDEMPOTENCY_TABLE_ACTIONS);
    for (const topic of Object.values(props.publishesTo ?? {})) topic.grantPublish(fn);

    const bucket = props.payloadBucket;
    const access = new Set(props.payloadAccess ?? ['read']);
    if (bucket && access.size > 0) {
      const actions = [
        ...(access.has('read') ? ['s3:GetObject'] : []),
        ...(access.has('write') ? ['s3:PutObject'] : []),
      ];
      const objects = bucket.arnForObjects('*');
      iam.Grant.addToPrincipal({ grantee: fn, actions, resourceArns: [objects] });
      // Without s3:ListBucket, S3 answers a read of a missing key with 403 AccessDenied, not 404 NoSuchKey,
      // and the consumer could not tell an expired payload (poison, payload-missing) from a real denial.
      if (access.has('read'))
        iam.Grant.addToPrincipal({
          grantee: fn,
          actions: ['s3:ListBucket'],
          resourceArns: [bucket.bucketArn],
        });
      if (bucket.encryptionKey) {
        if (access.has('read')) bucket.encryptionKey.grantDecrypt(fn);
        if (access.has('write')) bucket.encryptionKey.grantEncrypt(fn);
      }
      this.acknowledge(
        `Resource::${nagText(this, objects)}`,
        'Payload object keys are made per message by whichever publisher offloads it (fanout’s, or a Java/Python extended client writing at the bucket root or its own prefix), so the grant is on the payload bucket’s objects (<bucket>/*) and nothing else.',
      );
    }
    if (group.tracing) {
      this.acknowledge(
        'Resource::*',
        'Active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords have no resource-level permissions, so IAM only accepts Resource "*" for them.',
      );
    }
    // CDK grants on an imported alias (alias/aws/sns) only with this flag; without it, no statement to acknowledge.
    const aliasGrants = FeatureFlags.of(this).isEnabled(
      cx_api.KMS_APPLY_IMPORTED_ALIAS_PERMISSIONS_TO_PRINCIPAL,
    );
    const keys = Object.values(props.publishesTo ?? {})
      .flatMap((t) => (t.masterKey ? [t.masterKey] : []))
      .filter((key) => aliasGrants || !('aliasName' in key));
    if (keys.length > 0) {
      this.acknowledge(
        'Action::kms:GenerateDataKey*',
        'Publishing to an encrypted topic: CDK’s encrypt grant, kms:GenerateDataKey* (GenerateDataKey and GenerateDataKeyWithoutPlaintext), on the topic’s key only.',
      );
    }
    if (keys.some((key) => 'aliasName' in key)) {
      this.acknowledge(
        'Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*',
        'A topic under the AWS managed key alias/aws/sns: its key id differs per account, so the grant is on key/* limited by the condition kms:ResourceAliases = the topic’s alias.',
      );
    }
  }

  /** Acknowledges one cdk-nag AwsSolutions-IAM5 finding on the function's role policy (CDK's core Validations). */
  private acknowledge(finding: string, reason: string) {
    if (this.function.role)
      Validations.of(this.function.role).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
  }

  private alarm(
    props: ConsumerGroupProps,
    id: string,
    metric: cloudwatch.IMetric,
    threshold: number,
    description: string,
  ) {
    const created = new cloudwatch.Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `fanout group '${this.settings.name}': ${description}`,
    });
    if (props.alarmTopic) created.addAlarmAction(new cloudwatchActions.SnsAction(props.alarmTopic));
    return created;
  }
}

/**
 * A resource ARN as cdk-nag prints it in a finding's id: `{ Ref: X }` as `<X>`, `{ Fn::GetAtt: [X, Y] }` as
 * `<X.Y>`, joins concatenated.
 */
function nagText(scope: Construct, value: unknown): string {
  const render = (v: unknown): string => {
    if (typeof v === 'string') return v;
    const o = v as Record<string, unknown>;
    if (o?.Ref !== undefined) return `<${o.Ref}>`;
    if (Array.isArray(o?.['Fn::GetAtt'])) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
    if (Array.isArray(o?.['Fn::Join'])) {
      const [separator, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(render).join(separator);
    }
    return JSON.stringify(v);
  };
  return render(Stack.of(scope).resolve(value));
}

/**
 * A subscription's id, stable while the topic stays: the topic's name when it is known at synth, else the id
 * of the topic's construct (of its wrapper for an L2 topic inside a construct, such as FanoutTopic's
 * `Topic-<name>/Topic`, `Topic-` dropped), with the position added only to tell two equal ids apart.
 */
function subscriptionIds(topics: readonly sns.ITopic[]): string[] {
  const ids = topics.map((topic) => {
    if (!Token.isUnresolved(topic.topicName)) return topic.topicName;
    const { id, scope } = topic.node;
    const named = (id === 'Topic' || id === 'Resource') && scope ? scope.node.id : id;
    return named.replace(/^Topic-/, '');
  });
  return ids.map((id, index) => (ids.indexOf(id) === index ? id : `${id}-${index}`));
}

/**
 * The `maxMessageSizeBytes` of the group's queues: SQS's largest when the topics deliver messages above SQS's
 * former 256 KiB, else `undefined` (the property stays unset, as before topics could be raised).
 */
function raisedMessageSize(name: string, given: number | undefined): number | undefined {
  const bytes = given ?? SQS_MAX_MESSAGE_BYTES;
  if (!Number.isInteger(bytes) || bytes < SQS_MIN_MAX_MESSAGE_BYTES || bytes > SQS_RAISED_MAX_MESSAGE_BYTES)
    throw new ConfigError(
      `ConsumerGroup '${name}'.maxMessageSizeBytes`,
      `must be a whole number from ${SQS_MIN_MAX_MESSAGE_BYTES} to ${SQS_RAISED_MAX_MESSAGE_BYTES} (given ${given})`,
      "Pass the largest MaximumMessageSize of the group's topics, or leave it out for 262144; larger payloads need the topic's largePayloads",
    );
  return bytes > SQS_MAX_MESSAGE_BYTES ? SQS_RAISED_MAX_MESSAGE_BYTES : undefined;
}

/**
 * Days a queue whose props are `overrides` keeps a message, `days` unless they set `retentionPeriod`: rounded up
 * to whole days, the longest SQS allows when it is a token, SQS's default when it is `undefined` (unset).
 */
function retentionDays(overrides: Partial<sqs.QueueProps> | undefined, days: number): number {
  if (!overrides || !('retentionPeriod' in overrides)) return days;
  const period = overrides.retentionPeriod;
  if (period === undefined) return SQS_DEFAULT_RETENTION_DAYS;
  if (period.isUnresolved()) return SQS_MAX_RETENTION_DAYS;
  const seconds = period.toSeconds();
  return Token.isUnresolved(seconds) ? SQS_MAX_RETENTION_DAYS : Math.ceil(seconds / 86_400);
}

/**
 * The encryption of a queue whose props are `overrides`: with a customer managed key given, KMS (CDK refuses a
 * key with SSE-SQS); else SSE-SQS. An `encryption` given in the overrides wins, as they are spread after.
 */
function encryptionFor(overrides: Partial<sqs.QueueProps> | undefined): sqs.QueueEncryption {
  return overrides?.encryptionMasterKey ? sqs.QueueEncryption.KMS : sqs.QueueEncryption.SQS_MANAGED;
}

/** Whether a topic's `fifo` is known: a topic of the app, or one imported from an ARN known at synth. */
export function knowsKind(topic: sns.ITopic): boolean {
  return topic instanceof sns.Topic || !Token.isUnresolved(topic.topicArn);
}

/**
 * Applies the topology's defaults and checks to the group's settings, through `resolveTopology` (a topology
 * of this one group and stand-ins for its topics, FIFO where the real topic is).
 */
function resolveSettings(props: ConsumerGroupProps): Group {
  const {
    name,
    topics,
    fifo,
    entry: _entry,
    projectRoot: _projectRoot,
    idempotencyTable: _idempotencyTable,
    publishesTo: _publishesTo,
    alarmTopic: _alarmTopic,
    maxMessageSizeBytes: _maxMessageSizeBytes,
    payloadBucket: _payloadBucket,
    payloadAccess: _payloadAccess,
    logRetention: _logRetention,
    queueProps: _queueProps,
    deadLetterQueueProps: _deadLetterQueueProps,
    functionProps: _functionProps,
    eventSourceProps: _eventSourceProps,
    ...settings
  } = props;
  const known = (topics ?? []).filter(knowsKind);
  if (fifo !== undefined && known.some((t) => t.fifo !== fifo))
    throw new ConfigError(
      `ConsumerGroup '${name}'.fifo`,
      `a topic of the group is ${fifo ? 'standard' : 'FIFO'} (given fifo: ${fifo})`,
      'Leave fifo out (it is only for topics imported from a token ARN), or pass topics of that kind',
    );
  const standIns = (topics ?? []).map(
    (t, i) => `topic${i}${(knowsKind(t) ? t.fifo : (fifo ?? t.fifo)) ? '.fifo' : ''}`,
  );
  try {
    const { groups } = resolveTopology({
      topics: Object.fromEntries(standIns.map((t) => [t, {}])),
      groups: { [name]: { ...settings, subscribe: standIns } },
    });
    return groups[0];
  } catch (error) {
    if (!(error instanceof TopologyError)) throw error;
    // The stand-in topology speaks of `subscribe`; ConsumerGroup's prop is `topics`.
    const problems = error.issues.map((issue) =>
      issue
        .replace(`group '${name}': `, '')
        .replace(/^subscribe must list at least one topic/, 'topics must list at least one topic'),
    );
    throw new ConfigError(
      `ConsumerGroup '${name}'`,
      problems.join('; '),
      'Fix those props (they take the values of the topology group options of the same names)',
    );
  }
}
