import * as path from 'node:path';
import {
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as cloudwatchActions,
  Duration,
  aws_lambda_event_sources as eventSources,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_lambda_nodejs as nodejs,
  RemovalPolicy,
  aws_sns as sns,
  aws_sqs as sqs,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import {
  DEAD_LETTER_QUEUE_URL_VARIABLE,
  GROUP_VARIABLE,
  type Group,
  IDEMPOTENCY_TABLE_VARIABLE,
} from '../../lib/index.ts';
import type { PrefixedTable } from './prefixed-table.ts';

/** Props of {@link ConsumerGroup}. */
export interface ConsumerGroupProps {
  /** The group, resolved from the topology (every default applied). */
  readonly group: Group;
  /** The topics it subscribes to, by topology name. */
  readonly topics: ReadonlyMap<string, sns.ITopic>;
  /** The idempotency table; the function may use only keys starting with `<group>#`. */
  readonly idempotencyTable: PrefixedTable;
  /**
   * More tables the function may use, with the same `<group>#` key restriction, each under the
   * environment variable named by its key (the example app's effects table: `FANOUT_EFFECTS_TABLE`).
   * @default none
   */
  readonly extraTables?: Readonly<Record<string, PrefixedTable>>;
  /** Directory that holds `package-lock.json` and the handler paths of the topology. */
  readonly projectRoot: string;
  /**
   * Topic that alarms notify.
   * @default no alarm actions (the alarms still show in CloudWatch)
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Log retention of the function.
   * @default one month
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * One consumer group: its queue and DLQ (SSE-SQS, TLS only, redrive after `maxReceiveCount`), a
 * raw-delivery subscription per topic with the group's filter policy, the Lambda function with an
 * event source mapping that reports batch item failures, least-privilege grants and alarms.
 */
export class ConsumerGroup extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly function: nodejs.NodejsFunction;
  /** Every alarm of the group: dead letters, age of the oldest message, function errors. */
  readonly alarms: readonly cloudwatch.Alarm[];
  /** Alarm on the age of the queue's oldest message (the group is falling behind). */
  readonly oldestMessageAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: ConsumerGroupProps) {
    super(scope, id);
    const { group } = props;

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      fifo: group.fifo || undefined,
      retentionPeriod: Duration.days(group.dlqRetentionDays),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      fifo: group.fifo || undefined,
      visibilityTimeout: Duration.seconds(group.visibilityTimeoutSeconds),
      retentionPeriod: Duration.days(group.retentionDays),
      // SNS cannot deliver to queues under the AWS managed KMS key; SSE-SQS works and costs nothing.
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: group.maxReceiveCount },
    });

    // Only the subscribed topics may send to the queue.
    const { policyDependable } = this.queue.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('sns.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn],
        conditions: {
          ArnEquals: { 'aws:SourceArn': group.subscribe.map((t) => props.topics.get(t)?.topicArn) },
        },
      }),
    );

    for (const topicName of group.subscribe) {
      const topic = props.topics.get(topicName);
      if (!topic) throw new Error(`group '${group.name}': topic '${topicName}' is not in the stack`);
      const subscription = new sns.Subscription(this, `Subscription-${topicName}`, {
        topic,
        endpoint: this.queue.queueArn,
        protocol: sns.SubscriptionProtocol.SQS,
        rawMessageDelivery: true,
      });
      if (group.filter) {
        // The topology holds SNS's own filter policy JSON; set it as is, with its scope.
        const cfn = subscription.node.defaultChild as sns.CfnSubscription;
        cfn.filterPolicy = group.filter;
        cfn.filterPolicyScope = group.filterScope;
      }
      // Subscribe once the queue policy lets the topic send (the endpoint's GetAtt already orders the queue).
      if (policyDependable) subscription.node.addDependency(policyDependable);
    }

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const environment: Record<string, string> = {
      [GROUP_VARIABLE]: group.name,
      [IDEMPOTENCY_TABLE_VARIABLE]: props.idempotencyTable.table.tableName,
      [DEAD_LETTER_QUEUE_URL_VARIABLE]: this.deadLetterQueue.queueUrl,
      POWERTOOLS_SERVICE_NAME: group.name,
      POWERTOOLS_METRICS_NAMESPACE: 'fanout',
      NODE_OPTIONS: '--enable-source-maps',
    };
    for (const [variable, table] of Object.entries(props.extraTables ?? {})) {
      environment[variable] = table.table.tableName;
    }
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: path.join(props.projectRoot, group.handler),
      handler: 'handler',
      projectRoot: props.projectRoot,
      depsLockFilePath: path.join(props.projectRoot, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: group.memoryMiB,
      timeout: Duration.seconds(group.timeoutSeconds),
      logGroup,
      environment,
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
      },
    });

    this.function.addEventSource(
      new eventSources.SqsEventSource(this.queue, {
        batchSize: group.batchSize,
        maxBatchingWindow:
          group.batchingWindowSeconds > 0 ? Duration.seconds(group.batchingWindowSeconds) : undefined,
        maxConcurrency: group.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
    // Poison records go to the DLQ at once; the function may send there and nowhere else.
    this.deadLetterQueue.grantSendMessages(this.function);
    props.idempotencyTable.grantKeyPrefix(this.function, group.name);
    for (const table of Object.values(props.extraTables ?? {}))
      table.grantKeyPrefix(this.function, group.name);

    const alarm = (name: string, metric: cloudwatch.IMetric, threshold: number, description: string) => {
      const created = new cloudwatch.Alarm(this, name, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `fanout group '${group.name}': ${description}`,
      });
      if (props.alarmTopic) created.addAlarmAction(new cloudwatchActions.SnsAction(props.alarmTopic));
      return created;
    };
    this.oldestMessageAlarm = alarm(
      'OldestMessageAlarm',
      this.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' }),
      group.alarmOldestMessageSeconds,
      `the oldest message is ${group.alarmOldestMessageSeconds} s old or more; the group is falling behind`,
    );
    this.alarms = [
      alarm(
        'DeadLettersAlarm',
        this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: 'Maximum',
        }),
        group.alarmDlqMessages,
        `the DLQ holds ${group.alarmDlqMessages} or more messages; inspect with 'fanout dlq peek ${group.name}'`,
      ),
      this.oldestMessageAlarm,
      alarm(
        'FunctionErrorsAlarm',
        this.function.metricErrors({ period: Duration.minutes(1), statistic: 'Sum' }),
        1,
        'the function failed whole invocations (a thrown handler or a timeout re-delivers the whole batch)',
      ),
    ];
  }
}
