import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { ListSubscriptionsByTopicCommand } from '@aws-sdk/client-sns';
import { readQueueDepth } from '../localstack/queue-inspection.ts';
import type { Target } from './target.ts';

/** One group's figures. */
export interface GroupStatus {
  readonly group: string;
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
  readonly deadLetters: number;
  /** Age of the oldest message in seconds (CloudWatch; only on a deployed stack). */
  readonly oldestMessageSeconds?: number;
  /** More waiting than one full round of invocations takes, or older than the alarm threshold. */
  readonly fallingBehind: boolean;
}

/** One topic's subscriptions. */
export interface TopicStatus {
  readonly topic: string;
  readonly subscriptions: number;
}

export interface StackStatus {
  readonly target: string;
  readonly groups: readonly GroupStatus[];
  readonly topics: readonly TopicStatus[];
}

/** Reads every group's queue and DLQ depths and every topic's subscription count. */
export async function readStatus(target: Target): Promise<StackStatus> {
  const cloudwatch = target.kind === 'stack' ? new CloudWatchClient({}) : undefined;
  const groups = await Promise.all(
    target.topology.groups
      .filter((g) => target.groups.has(g.name))
      .map(async (g): Promise<GroupStatus> => {
        const address = target.groups.get(g.name);
        const [queue, dlq] = await Promise.all([
          readQueueDepth(target.sqs, address?.queueUrl ?? ''),
          readQueueDepth(target.sqs, address?.dlqUrl ?? ''),
        ]);
        const oldest = cloudwatch ? await oldestMessageAge(cloudwatch, address?.queueUrl ?? '') : undefined;
        const { visible } = queue;
        return {
          group: g.name,
          visible,
          inFlight: queue.inFlight,
          delayed: queue.delayed,
          deadLetters: dlq.visible + dlq.inFlight,
          ...(oldest === undefined ? {} : { oldestMessageSeconds: oldest }),
          fallingBehind:
            visible > g.batchSize * g.maxConcurrency || (oldest ?? 0) > g.alarmOldestMessageSeconds,
        };
      }),
  );
  const topics = await Promise.all(
    [...target.topics].map(async ([topic, arn]) => {
      const { Subscriptions = [] } = await target.sns.send(
        new ListSubscriptionsByTopicCommand({ TopicArn: arn }),
      );
      return { topic, subscriptions: Subscriptions.length };
    }),
  );
  return { target: target.description, groups, topics };
}

async function oldestMessageAge(cloudwatch: CloudWatchClient, queueUrl: string): Promise<number | undefined> {
  const now = Date.now();
  try {
    const { Datapoints = [] } = await cloudwatch.send(
      new GetMetricStatisticsCommand({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: queueUrl.split('/').pop() ?? '' }],
        StartTime: new Date(now - 10 * 60_000),
        EndTime: new Date(now),
        Period: 60,
        Statistics: ['Maximum'],
      }),
    );
    const latest = Datapoints.sort(
      (a, b) => (b.Timestamp?.getTime() ?? 0) - (a.Timestamp?.getTime() ?? 0),
    )[0];
    return latest?.Maximum;
  } catch {
    return undefined;
  }
}
