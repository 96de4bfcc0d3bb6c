import {
  CfnOutput,
  type aws_cloudwatch as cloudwatch,
  type aws_dynamodb as dynamodb,
  RemovalPolicy,
  Stack,
  type StackProps,
  type aws_sns as sns,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { EFFECTS_TABLE_VARIABLE } from '../functions/shared/effects-ledger.ts';
import { outputDescription, outputKey, type TopologyDefinition } from '../lib/index.ts';
import {
  AlarmTopic,
  type ConsumerGroup,
  FanoutTopology,
  GroupsDashboard,
  grantKeyPrefix,
  PrefixedTable,
} from './constructs/index.ts';

/** Props of {@link FanoutStack}. */
export interface FanoutStackProps extends StackProps {
  /** The topology to deploy (normally the default export of `infra/topology.ts`). */
  readonly topology: TopologyDefinition;
  /** Directory holding `package-lock.json` and the handler modules. */
  readonly projectRoot: string;
  /**
   * Create an SNS topic that every alarm notifies (an {@link AlarmTopic}: encrypted with its own KMS key,
   * which CloudWatch needs to publish to it). Subscribe to it with `alarmEmail` or later.
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
   * What happens to the tables when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Create one CloudWatch dashboard of every group (backlog, age of the oldest message, function errors,
   * all alarms). Off by default: a dashboard is billed per month beyond the free tier, and a stack-wide
   * dashboard changes whenever a group is added. `cdk deploy -c dashboard=true` turns it on.
   * @default false
   */
  readonly dashboard?: boolean;
}

/**
 * The reference app's stack: a {@link FanoutTopology} of the topology (with the outputs the CLI reads), the
 * example app's effects table (set on and granted to every group's function), an alarm topic.
 */
export class FanoutStack extends Stack {
  readonly topology: FanoutTopology;
  readonly topics: ReadonlyMap<string, sns.ITopic>;
  readonly groups: ReadonlyMap<string, ConsumerGroup>;
  readonly idempotencyTable: dynamodb.ITable;
  readonly effectsTable?: dynamodb.Table;
  readonly alarmTopic?: sns.Topic;
  readonly dashboard?: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: FanoutStackProps) {
    super(scope, id, props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    if (props.effectsTable ?? true)
      this.effectsTable = new PrefixedTable(this, 'EffectsTable', { removalPolicy }).table;
    if (props.alarmTopic ?? true)
      this.alarmTopic = new AlarmTopic(this, 'Alarms', { email: props.alarmEmail }).topic;

    this.topology = new FanoutTopology(this, 'Topology', {
      topology: props.topology,
      projectRoot: props.projectRoot,
      alarmTopic: this.alarmTopic,
      removalPolicy,
    });
    this.topics = this.topology.topics;
    this.groups = this.topology.groups;
    this.idempotencyTable = this.topology.idempotencyTable;

    // The topology makes the outputs of its topics, groups, table and bucket; these two are the stack's own.
    const effects = this.effectsTable;
    if (effects) this.output('table effects name', effects.tableName);
    if (this.alarmTopic) this.output('topic alarms arn', this.alarmTopic.topicArn);
    if (effects) {
      for (const [name, group] of this.groups) {
        // The example app's variable, set on the function itself: groupProps' functionProps.environment
        // refuses FANOUT_* names. The example handlers only ever ADD to their own items (effects-ledger.ts).
        group.function.addEnvironment(EFFECTS_TABLE_VARIABLE, effects.tableName);
        grantKeyPrefix(effects, group.function, name, ['dynamodb:UpdateItem']);
      }
    }
    if (props.dashboard)
      this.dashboard = new GroupsDashboard(this, 'Dashboard', { groups: this.groups }).dashboard;
  }

  private output(what: string, value: string) {
    new CfnOutput(this, outputKey(what), { value, description: outputDescription(what) });
  }
}
