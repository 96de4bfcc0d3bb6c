import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  createS3Client,
  createSqsClient,
  prefixed,
  resolveTopology,
  type Topology,
  type TopologyDefinition,
} from '../../lib/index.ts';
import {
  ensureBucket,
  ensureIdempotencyTable,
  ensureQueue,
  ensureSubscription,
  ensureTopic,
  type QueueRef,
} from './resources.ts';

/** Names of the tables a local stack uses (with `FANOUT_RESOURCE_PREFIX`, if set). */
export function localTables(): { readonly idempotency: string } {
  return { idempotency: prefixed('fanout-idempotency') };
}

/**
 * Name of the payload bucket of a local stack: `fanout-payloads` after `FANOUT_RESOURCE_PREFIX`, made a
 * valid bucket name (lower case, `_` as `-`).
 */
export function localPayloadBucket(): string {
  return prefixed('fanout-payloads').toLowerCase().replaceAll('_', '-');
}

/** What provisioning created (or found), by topology name. */
export interface ProvisionedStack {
  readonly topology: Topology;
  readonly topics: ReadonlyMap<string, string>;
  readonly groups: ReadonlyMap<string, { readonly queue: QueueRef; readonly dlq: QueueRef }>;
  readonly tables: { readonly idempotency: string };
  /** The payload bucket, when a topic has `largePayloads`; else `undefined`. */
  readonly payloadBucket?: string;
}

/** Clients to provision with. */
export interface ProvisionClients {
  /** @default a client configured from the environment */
  readonly sns?: SNSClient;
  /** @default a client configured from the environment (`createSqsClient()`) */
  readonly sqs?: SQSClient;
  /** @default a client configured from the environment */
  readonly dynamodb?: DynamoDBClient;
  /**
   * Used only when a topic has `largePayloads`.
   * @default a client configured from the environment (`createS3Client()`)
   */
  readonly s3?: S3Client;
}

/**
 * Creates the topology's topics, queues, DLQs with redrive policies, raw-delivery subscriptions with
 * their filter policies, the idempotency table, and the payload bucket when a topic has `largePayloads`, through the AWS SDK. Idempotent: running it again finds what
 * exists. Works against any endpoint: the embedded emulator, LocalStack, moto, or an AWS account. Names
 * carry `FANOUT_RESOURCE_PREFIX` when it is set; the returned maps are keyed by the topology's names.
 */
export async function provisionTopology(
  definition: TopologyDefinition,
  clients: ProvisionClients = {},
  tables: { idempotency: string } = localTables(),
): Promise<ProvisionedStack> {
  const topology = resolveTopology(definition);
  const sns = clients.sns ?? new SNSClient({});
  const sqs = clients.sqs ?? createSqsClient();
  const dynamodb = clients.dynamodb ?? new DynamoDBClient({});

  const topics = new Map<string, string>();
  for (const topic of topology.topics) topics.set(topic.name, await ensureTopic(sns, prefixed(topic.name)));

  const groups = new Map<string, { queue: QueueRef; dlq: QueueRef }>();
  await Promise.all(
    topology.groups.map(async (group) => {
      const dlq = await ensureQueue(sqs, {
        name: prefixed(group.dlqName),
        fifo: group.fifo,
        retentionSeconds: group.dlqRetentionDays * 86_400,
      });
      const queue = await ensureQueue(sqs, {
        name: prefixed(group.queueName),
        fifo: group.fifo,
        visibilityTimeoutSeconds: group.visibilityTimeoutSeconds,
        retentionSeconds: group.retentionDays * 86_400,
        deadLetter: { arn: dlq.arn, maxReceiveCount: group.maxReceiveCount },
      });
      for (const topicName of group.subscribe) {
        const topicArn = topics.get(topicName) ?? '';
        await ensureSubscription(
          sns,
          topicArn,
          queue.arn,
          group.filter ? { policy: { ...group.filter }, scope: group.filterScope } : undefined,
        );
      }
      groups.set(group.name, { queue, dlq });
    }),
  );

  await ensureIdempotencyTable(dynamodb, tables.idempotency);
  const payloadBucket = topology.topics.some((topic) => topic.largePayloads)
    ? await ensureBucket(clients.s3 ?? (await createS3Client()), localPayloadBucket())
    : undefined;
  return { topology, topics, groups, tables, ...(payloadBucket ? { payloadBucket } : {}) };
}
