import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { ListSubscriptionsByTopicCommand } from '@aws-sdk/client-sns';
import { readQueueDepth } from '../lib/index.ts';
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

/** One topic's subscriptions, against what the topology declares. */
export interface TopicStatus {
  readonly topic: string;
  /** False when the topology's topic is not on the target at all. */
  readonly exists: boolean;
  /** Subscriptions the topic has. */
  readonly subscriptions: number;
  /** Subscriptions the topology declares: one per group that subscribes to the topic. */
  readonly expected: number;
  /** Groups of the topology whose queue is not subscribed to the topic. */
  readonly missing: readonly string[];
  /** Subscriptions to anything else than the queue of a group of the topic. */
  readonly unexpected: number;
  /** The topic exists and its subscriptions are exactly the topology's. */
  readonly matchesTopology: boolean;
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
  const topics = await Promise.all(target.topology.topics.map((t) => topicStatus(target, t.name)));
  return { target: target.description, groups, topics };
}

/** Compares a topic's subscriptions with the groups the topology subscribes to it. */
async function topicStatus(target: Target, topic: string): Promise<TopicStatus> {
  const subscribers = target.topology.groups.filter((g) => g.subscribe.includes(topic)).map((g) => g.name);
  const arn = target.topics.get(topic);
  if (!arn) {
    return {
      topic,
      exists: false,
      subscriptions: 0,
      expected: subscribers.length,
      missing: subscribers,
      unexpected: 0,
      matchesTopology: false,
    };
  }
  const endpoints: string[] = [];
  let token: string | undefined;
  do {
    const page = await target.sns.send(
      new ListSubscriptionsByTopicCommand({ TopicArn: arn, NextToken: token }),
    );
    endpoints.push(...(page.Subscriptions ?? []).map((s) => s.Endpoint ?? ''));
    token = page.NextToken;
  } while (token);
  const queueOf = (group: string) => target.groups.get(group)?.queueArn;
  const missing = subscribers.filter((g) => {
    const queue = queueOf(g);
    return !queue || !endpoints.includes(queue);
  });
  const expectedQueues = new Set(subscribers.map(queueOf));
  const unexpected = endpoints.filter((e) => !expectedQueues.has(e)).length;
  return {
    topic,
    exists: true,
    subscriptions: endpoints.length,
    expected: subscribers.length,
    missing,
    unexpected,
    matchesTopology: missing.length === 0 && unexpected === 0 && endpoints.length === subscribers.length,
  };
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
