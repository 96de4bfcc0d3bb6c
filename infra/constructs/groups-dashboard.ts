import { aws_cloudwatch as cloudwatch, Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { ConsumerGroup } from './consumer-group.ts';

/** Props of {@link GroupsDashboard}. */
export interface GroupsDashboardProps {
  /** The consumer groups to show, by name, in this order. */
  readonly groups: ReadonlyMap<string, ConsumerGroup>;
  /**
   * Name of the dashboard in the CloudWatch console.
   * @default a name CloudFormation generates
   */
  readonly dashboardName?: string;
  /**
   * Period of every graph.
   * @default Duration.minutes(1)
   */
  readonly period?: Duration;
}

/**
 * One CloudWatch dashboard of every consumer group: the state of all alarms at the top, then a row per
 * group with its backlog (visible, in flight, dead letters), the age of its oldest message against the
 * alarm threshold, and its function's invocations, errors and throttles.
 */
export class GroupsDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: GroupsDashboardProps) {
    super(scope, id);
    const period = props.period ?? Duration.minutes(1);
    const groups = [...props.groups];
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'fanout alarms',
        alarms: groups.flatMap(([, group]) => group.alarms),
        width: 24,
      }),
    );
    for (const [name, group] of groups) {
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: `${name}: backlog`,
          left: [
            group.queue.metricApproximateNumberOfMessagesVisible({ period, label: 'waiting' }),
            group.queue.metricApproximateNumberOfMessagesNotVisible({ period, label: 'in flight' }),
            group.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, label: 'dead letters' }),
          ],
          width: 8,
        }),
        new cloudwatch.AlarmWidget({
          title: `${name}: age of oldest message (s)`,
          alarm: group.oldestMessageAlarm,
          width: 8,
        }),
        new cloudwatch.GraphWidget({
          title: `${name}: function`,
          left: [
            group.function.metricInvocations({ period, label: 'invocations' }),
            group.function.metricErrors({ period, label: 'errors (whole batches)' }),
            group.function.metricThrottles({ period, label: 'throttles' }),
          ],
          width: 8,
        }),
      );
    }
  }
}
