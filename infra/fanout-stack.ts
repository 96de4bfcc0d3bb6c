import {
  CfnOutput,
  type aws_cloudwatch as cloudwatch,
  aws_iam as iam,
  aws_kms as kms,
  Stack,
  type StackProps,
  aws_sns as sns,
  Validations,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import {
  handlerFileCheck,
  outputDescription,
  outputKey,
  resolveTopology,
  type TopologyDefinition,
} from '../lib/index.ts';
import { ConsumerGroup } from './constructs/consumer-group.ts';
import { FanoutTopic } from './constructs/fanout-topic.ts';
import { GroupsDashboard } from './constructs/groups-dashboard.ts';
import { PrefixedTable } from './constructs/prefixed-table.ts';

/** Props of {@link FanoutStack}. */
export interface FanoutStackProps extends StackProps {
  /** The topology to deploy (normally the default export of `infra/topology.ts`). */
  readonly topology: TopologyDefinition;
  /** Directory holding `package-lock.json` and the handler modules. */
  readonly projectRoot: string;
  /**
   * Create an SNS topic that every alarm notifies (encrypted with its own KMS key, which
   * CloudWatch needs to publish to it). Subscribe to it with `alarmEmail` or later.
   * @default true
   */
  readonly alarmTopic?: boolean;
  /**
   * E-mail address subscribed to the alarm topic.
   * @default none
   */
  readonly alarmEmail?: string;
  /**
   * Create the example app's effects table (`FANOUT_EFFECTS_TABLE`), where its handlers record
   * what they did so exactly-once effects can be checked.
   * @default true
   */
  readonly effectsTable?: boolean;
  /**
   * Create one CloudWatch dashboard of every group (backlog, age of the oldest message, function errors,
   * all alarms). Off by default: a dashboard is billed per month beyond the free tier, and a stack-wide
   * dashboard changes whenever a group is added. `cdk deploy -c dashboard=true` turns it on.
   * @default false
   */
  readonly dashboard?: boolean;
}

/** The whole fan-out stack of a topology: topics, one consumer group per entry, tables, alarms, outputs. */
export class FanoutStack extends Stack {
  readonly topics: ReadonlyMap<string, FanoutTopic>;
  readonly groups: ReadonlyMap<string, ConsumerGroup>;
  readonly idempotencyTable: PrefixedTable;
  readonly effectsTable?: PrefixedTable;
  readonly alarmTopic?: sns.Topic;
  readonly dashboard?: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: FanoutStackProps) {
    super(scope, id, props);
    const topology = resolveTopology(props.topology, {
      checkHandlerFile: handlerFileCheck(props.projectRoot),
    });

    const topics = new Map<string, FanoutTopic>();
    for (const topic of topology.topics) {
      const construct = new FanoutTopic(this, `Topic-${topic.name}`, { fifo: topic.fifo });
      topics.set(topic.name, construct);
      this.output(`topic ${topic.name} arn`, construct.topic.topicArn);
    }
    this.topics = topics;

    this.idempotencyTable = new PrefixedTable(this, 'IdempotencyTable');
    this.output('table idempotency name', this.idempotencyTable.table.tableName);
    if (props.effectsTable ?? true) {
      this.effectsTable = new PrefixedTable(this, 'EffectsTable');
      this.output('table effects name', this.effectsTable.table.tableName);
    }

    if (props.alarmTopic ?? true) {
      const key = new kms.Key(this, 'AlarmTopicKey', {
        enableKeyRotation: true,
        description:
          'fanout alarm topic: CloudWatch needs a customer managed key to publish to an encrypted topic',
      });
      key.grantEncryptDecrypt(new iam.ServicePrincipal('cloudwatch.amazonaws.com'));
      this.alarmTopic = new sns.Topic(this, 'AlarmTopic', { masterKey: key, enforceSSL: true });
      if (props.alarmEmail) {
        new sns.Subscription(this, 'AlarmEmail', {
          topic: this.alarmTopic,
          protocol: sns.SubscriptionProtocol.EMAIL,
          endpoint: props.alarmEmail,
        });
      }
      this.output('topic alarms arn', this.alarmTopic.topicArn);
    }

    const topicRefs = new Map([...topics].map(([name, t]) => [name, t.topic as sns.ITopic]));
    const groups = new Map<string, ConsumerGroup>();
    for (const group of topology.groups) {
      const construct = new ConsumerGroup(this, `Group-${group.name}`, {
        group,
        topics: topicRefs,
        idempotencyTable: this.idempotencyTable,
        extraTables: this.effectsTable ? { FANOUT_EFFECTS_TABLE: this.effectsTable } : {},
        projectRoot: props.projectRoot,
        alarmTopic: this.alarmTopic,
      });
      groups.set(group.name, construct);
      this.output(`group ${group.name} queueUrl`, construct.queue.queueUrl);
      this.output(`group ${group.name} queueArn`, construct.queue.queueArn);
      this.output(`group ${group.name} dlqUrl`, construct.deadLetterQueue.queueUrl);
      this.output(`group ${group.name} dlqArn`, construct.deadLetterQueue.queueArn);
      this.output(`group ${group.name} functionName`, construct.function.functionName);
      Validations.of(construct.function).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'AWSLambdaBasicExecutionRole only lets the function write its own CloudWatch logs.',
      });
    }
    this.groups = groups;
    if (props.dashboard) this.dashboard = new GroupsDashboard(this, 'Dashboard', { groups }).dashboard;
  }

  private output(what: string, value: string) {
    new CfnOutput(this, outputKey(what), { value, description: outputDescription(what) });
  }
}
