import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { BucketAlreadyOwnedByYou, CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, type SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** A queue that exists, with its URL and ARN. */
export interface QueueRef {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
}

/** Settings of a queue to create. */
export interface QueueSpec {
  readonly name: string;
  readonly fifo?: boolean;
  readonly visibilityTimeoutSeconds?: number;
  readonly retentionSeconds?: number;
  /**
   * The queue's `MaximumMessageSize`, in bytes.
   * @default the endpoint's default (AWS: 1 MiB for new queues; some emulators 256 KiB)
   */
  readonly maxMessageBytes?: number;
  /** Redrive to this DLQ after `maxReceiveCount` receives. */
  readonly deadLetter?: { readonly arn: string; readonly maxReceiveCount: number };
}

/** Creates a queue, or returns the existing one of that name (CreateQueue is idempotent). */
export async function ensureQueue(sqs: SQSClient, spec: QueueSpec): Promise<QueueRef> {
  const attributes: Record<string, string> = {};
  if (spec.fifo) attributes.FifoQueue = 'true';
  if (spec.visibilityTimeoutSeconds !== undefined)
    attributes.VisibilityTimeout = String(spec.visibilityTimeoutSeconds);
  if (spec.retentionSeconds !== undefined) attributes.MessageRetentionPeriod = String(spec.retentionSeconds);
  if (spec.maxMessageBytes !== undefined) attributes.MaximumMessageSize = String(spec.maxMessageBytes);
  if (spec.deadLetter) {
    attributes.RedrivePolicy = JSON.stringify({
      deadLetterTargetArn: spec.deadLetter.arn,
      maxReceiveCount: spec.deadLetter.maxReceiveCount,
    });
  }
  const created = await sqs.send(new CreateQueueCommand({ QueueName: spec.name, Attributes: attributes }));
  const url = created.QueueUrl ?? '';
  const got = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  return { name: spec.name, url, arn: got.Attributes?.QueueArn ?? '' };
}

/** Creates a topic, or returns the existing one of that name. */
export async function ensureTopic(sns: SNSClient, name: string): Promise<string> {
  const attributes: Record<string, string> = name.endsWith('.fifo') ? { FifoTopic: 'true' } : {};
  const created = await sns.send(new CreateTopicCommand({ Name: name, Attributes: attributes }));
  return created.TopicArn ?? '';
}

/** A filter policy and where it applies. */
export interface FilterSpec {
  readonly policy: Record<string, unknown>;
  /** @default 'MessageAttributes' */
  readonly scope?: 'MessageAttributes' | 'MessageBody';
}

/** Subscribes a queue to a topic with raw delivery (idempotent for the same settings). */
export async function ensureSubscription(
  sns: SNSClient,
  topicArn: string,
  queueArn: string,
  filter?: FilterSpec,
  rawDelivery = true,
): Promise<string> {
  const attributes: Record<string, string> = { RawMessageDelivery: String(rawDelivery) };
  if (filter) {
    attributes.FilterPolicy = JSON.stringify(filter.policy);
    attributes.FilterPolicyScope = filter.scope ?? 'MessageAttributes';
  }
  const result = await sns.send(
    new SubscribeCommand({
      TopicArn: topicArn,
      Protocol: 'sqs',
      Endpoint: queueArn,
      Attributes: attributes,
      ReturnSubscriptionArn: true,
    }),
  );
  return result.SubscriptionArn ?? '';
}

/** Creates a bucket unless this account has it already (the payload bucket of large messages). */
export async function ensureBucket(s3: S3Client, name: string): Promise<string> {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: name }));
  } catch (error) {
    if (!(error instanceof BucketAlreadyOwnedByYou)) throw error;
  }
  return name;
}

/** Creates the idempotency table (partition key `pk`, TTL on `expiresAt`) unless it exists. */
export async function ensureIdempotencyTable(dynamodb: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await dynamodb.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  for (let i = 0; i < 100; i++) {
    const described = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    if (described.Table?.TableStatus === 'ACTIVE') break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  try {
    await dynamodb.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      }),
    );
  } catch {
    // dynalite has no TTL; DynamoDB and LocalStack do. fanout never relies on TTL for correctness.
  }
}
