import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  App,
  CfnParameter,
  Duration,
  aws_dynamodb as dynamodb,
  Fn,
  aws_kms as kms,
  RemovalPolicy,
  Stack,
  aws_sns as sns,
  aws_sqs as sqs,
  Validations,
} from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import {
  AlarmTopic,
  ConsumerGroup,
  type ConsumerGroupProps,
  FanoutTopology,
  type FanoutTopologyProps,
  type GroupOverrides,
  IDEMPOTENCY_TABLE_ACTIONS,
} from '../../infra/constructs/index.ts';
import { parseOutputDescription, type TopologyDefinition } from '../../lib/index.ts';

// fanout/cdk as a user meets it: constructs in a plain Stack of their own app, with the feature flags their
// `cdk init` writes (cdk.json's context). Handlers are not bundled: only the templates are checked.
const projectRoot = path.resolve(import.meta.dirname, '../..');
const { context } = JSON.parse(readFileSync(path.join(projectRoot, 'cdk.json'), 'utf8'));
const HANDLER = 'functions/audit.ts';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };

function userStack(): { app: App; stack: Stack } {
  const app = new App({ context: { ...context, 'aws:cdk:bundling-stacks': [] } });
  return { app, stack: new Stack(app, 'UserStack') };
}

/** A ConsumerGroup on its own ('mailer', on a topic 'Orders', an imported table), with `extra` props. */
function standaloneGroup(stack: Stack, extra: Partial<ConsumerGroupProps> = {}): ConsumerGroup {
  return new ConsumerGroup(stack, 'Fanout', {
    name: 'mailer',
    topics: [new sns.Topic(stack, 'Orders')],
    entry: HANDLER,
    projectRoot,
    idempotencyTable: dynamodb.Table.fromTableName(stack, 'Keys', 'keys'),
    ...extra,
  });
}

/** The template of `build` run in a fresh user stack, with helpers to find things in it. */
function synth(build: (stack: Stack) => void) {
  const { stack } = userStack();
  build(stack);
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const idOf = (prefix: string, type: string) => {
    const found = ofType(type).find(([id]) => id.startsWith(prefix));
    if (!found) throw new Error(`no ${type} starting with ${prefix}`);
    return found[0];
  };
  const functionOf = (group: string) => resources[idOf(`Fanout${group}`, 'AWS::Lambda::Function')].Properties;
  const envOf = (group: string) =>
    (functionOf(group).Environment as { Variables: Record<string, unknown> }).Variables;
  const roleOf = (group: string) => idOf(`Fanout${group}`, 'AWS::IAM::Role');
  const statementsOf = (group: string): Statement[] =>
    ofType('AWS::IAM::Policy')
      .filter(([, r]) => JSON.stringify(r.Properties.Roles) === JSON.stringify([{ Ref: roleOf(group) }]))
      .flatMap(([, r]) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
  return { template, resources, ofType, idOf, functionOf, envOf, roleOf, statementsOf };
}

const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const withAction = (statements: Statement[], action: string) =>
  statements.filter((s) => actionsOf(s).includes(action));

const topology: TopologyDefinition = {
  topics: { orders: {}, payments: {} },
  groups: {
    audit: { subscribe: ['orders', 'payments'], handler: HANDLER },
    billing: {
      subscribe: ['orders'],
      handler: HANDLER,
      publishes: ['payments'],
      environment: { CURRENCY: 'EUR' },
      tracing: false,
    },
  },
};

/** A FanoutTopology with id `Fanout` (logical ids start `FanoutGroup<name>`, `FanoutTopic<name>`). */
const topologyIn =
  (props: Partial<FanoutTopologyProps> = {}, definition = topology) =>
  (stack: Stack) =>
    new FanoutTopology(stack, 'Fanout', { topology: definition, projectRoot, ...props });

describe('FanoutTopology in a user stack', () => {
  it('subscribes the user’s own topic given in existingTopics, and creates no second topic for it', () => {
    const t = synth((stack) => {
      const orders = new sns.Topic(stack, 'MyOrders');
      topologyIn({ existingTopics: { orders } })(stack);
    });
    const topics = t.ofType('AWS::SNS::Topic').map(([id]) => id);
    expect(topics).toHaveLength(2);
    expect(topics.filter((id) => id.startsWith('MyOrders'))).toHaveLength(1);
    expect(topics.filter((id) => id.startsWith('FanoutTopicpayments'))).toHaveLength(1);
    const onOrders = t
      .ofType('AWS::SNS::Subscription')
      .filter(
        ([, r]) =>
          JSON.stringify(r.Properties.TopicArn) ===
          JSON.stringify({ Ref: t.idOf('MyOrders', 'AWS::SNS::Topic') }),
      );
    expect(onOrders.map(([id]) => id.replace(/Subscription.*$/, '')).sort()).toEqual([
      'FanoutGroupaudit',
      'FanoutGroupbilling',
    ]);
  });

  it('uses an existing idempotency table instead of creating one', () => {
    const t = synth((stack) =>
      topologyIn({ existingIdempotencyTable: dynamodb.Table.fromTableName(stack, 'Keys', 'my-keys') })(stack),
    );
    t.template.resourceCountIs('AWS::DynamoDB::Table', 0);
    expect(t.envOf('Groupaudit').FANOUT_IDEMPOTENCY_TABLE).toBe('my-keys');
    const [dynamo] = withAction(t.statementsOf('Groupaudit'), 'dynamodb:PutItem');
    expect(JSON.stringify(dynamo.Resource)).toContain(':table/my-keys');
  });

  it('applies each groupProps hook to its group only', () => {
    const t = synth(
      topologyIn({
        groupProps: {
          audit: {
            queueProps: { visibilityTimeout: Duration.seconds(999) },
            deadLetterQueueProps: { retentionPeriod: Duration.days(7) },
            functionProps: { memorySize: 1024, environment: { EXTRA: 'yes' } },
            eventSourceProps: { batchSize: 3 },
          },
        },
      }),
    );
    const queue = (group: string, kind: 'Queue' | 'DeadLetterQueue') =>
      t.resources[t.idOf(`Fanout${group}${kind}`, 'AWS::SQS::Queue')].Properties;
    expect(queue('Groupaudit', 'Queue').VisibilityTimeout).toBe(999);
    expect(queue('Groupbilling', 'Queue').VisibilityTimeout).toBe(180);
    expect(queue('Groupaudit', 'DeadLetterQueue').MessageRetentionPeriod).toBe(7 * 86_400);
    expect(queue('Groupbilling', 'DeadLetterQueue').MessageRetentionPeriod).toBe(14 * 86_400);
    expect(t.functionOf('Groupaudit').MemorySize).toBe(1024);
    expect(t.functionOf('Groupbilling').MemorySize).toBe(256);
    // environment merges over fanout's: the group's own variables stay.
    expect(t.envOf('Groupaudit')).toMatchObject({ EXTRA: 'yes', FANOUT_GROUP: 'audit' });
    expect(t.envOf('Groupbilling').EXTRA).toBeUndefined();
    const mappings = t.ofType('AWS::Lambda::EventSourceMapping');
    const batch = (group: string) => mappings.find(([id]) => id.startsWith(`Fanout${group}`))?.[1].Properties;
    expect(batch('Groupaudit')).toMatchObject({
      BatchSize: 3,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    expect(batch('Groupbilling')).toMatchObject({ BatchSize: 10 });
  });

  it('gives a group that publishes the topic’s ARN and exactly one sns:Publish, on that topic', () => {
    const t = synth(topologyIn());
    const payments = { Ref: t.idOf('FanoutTopicpayments', 'AWS::SNS::Topic') };
    expect(t.envOf('Groupbilling').FANOUT_TOPIC_PAYMENTS_ARN).toEqual(payments);
    const publish = withAction(t.statementsOf('Groupbilling'), 'sns:Publish');
    expect(publish).toHaveLength(1);
    expect(publish[0]).toMatchObject({ Effect: 'Allow', Action: 'sns:Publish', Resource: payments });
    // The topic is under alias/aws/sns: the key grant is limited to that alias (the cdk-nag reason says so).
    expect(withAction(t.statementsOf('Groupbilling'), 'kms:GenerateDataKey*')).toEqual([
      expect.objectContaining({
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/aws/sns' } },
      }),
    ]);
    expect(withAction(t.statementsOf('Groupaudit'), 'sns:Publish')).toEqual([]);
    expect(t.envOf('Groupaudit').FANOUT_TOPIC_PAYMENTS_ARN).toBeUndefined();
  });

  it('adds the group’s environment to its function, beside fanout’s variables', () => {
    const t = synth(topologyIn());
    expect(t.envOf('Groupbilling')).toMatchObject({ CURRENCY: 'EUR', FANOUT_GROUP: 'billing' });
    expect(t.envOf('Groupaudit').CURRENCY).toBeUndefined();
  });

  it('turns active tracing on by default, with the X-Ray permissions, and off with tracing: false', () => {
    const t = synth(topologyIn());
    expect(t.functionOf('Groupaudit').TracingConfig).toEqual({ Mode: 'Active' });
    expect(withAction(t.statementsOf('Groupaudit'), 'xray:PutTraceSegments')).toEqual([
      {
        Effect: 'Allow',
        Action: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'],
        Resource: '*',
      },
    ]);
    expect(t.functionOf('Groupbilling').TracingConfig).toBeUndefined();
    expect(withAction(t.statementsOf('Groupbilling'), 'xray:PutTraceSegments')).toEqual([]);
  });

  it('gives each function its own role, without managed policies, writing logs only to its own log group', () => {
    const t = synth(topologyIn());
    for (const group of ['Groupaudit', 'Groupbilling']) {
      const role = t.resources[t.roleOf(group)].Properties;
      expect(role.ManagedPolicyArns).toBeUndefined();
      expect(t.functionOf(group).Role).toEqual({ 'Fn::GetAtt': [t.roleOf(group), 'Arn'] });
      const logs = t.statementsOf(group).filter((s) => actionsOf(s).some((a) => a.startsWith('logs:')));
      expect(logs).toEqual([
        {
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: { 'Fn::GetAtt': [t.idOf(`Fanout${group}Logs`, 'AWS::Logs::LogGroup'), 'Arn'] },
        },
      ]);
      expect(t.functionOf(group).LoggingConfig).toEqual({
        LogGroup: { Ref: t.idOf(`Fanout${group}Logs`, 'AWS::Logs::LogGroup') },
      });
    }
    t.template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
  });

  it('grants on the idempotency table exactly the actions the store calls, on the group’s own keys', () => {
    expect([...IDEMPOTENCY_TABLE_ACTIONS].sort()).toEqual([
      'dynamodb:BatchWriteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    const t = synth(topologyIn());
    const table = t.idOf('FanoutIdempotencyTable', 'AWS::DynamoDB::Table');
    for (const group of ['audit', 'billing']) {
      const dynamo = t
        .statementsOf(`Group${group}`)
        .filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
      expect(dynamo).toEqual([
        {
          Effect: 'Allow',
          Action: [...IDEMPOTENCY_TABLE_ACTIONS].sort(),
          Resource: { 'Fn::GetAtt': [table, 'Arn'] },
          Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${group}#*`] } },
        },
      ]);
    }
  });

  it('grants exactly the DynamoDB actions of the commands lib/idempotency-store.ts sends, and lib sends no other', () => {
    // Derived from the runtime's source: a new call without a grant, or a grant nobody calls, fails here.
    const lib = path.join(projectRoot, 'lib');
    const sources = readdirSync(lib, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    // Any DynamoDB client package (client-dynamodb, lib-dynamodb's document client, util-dynamodb…).
    const users = sources.filter((f) =>
      /@aws-sdk\/[\w-]*dynamodb/.test(readFileSync(path.join(lib, f), 'utf8')),
    );
    expect(users).toEqual(['idempotency-store.ts']);
    const store = readFileSync(path.join(lib, 'idempotency-store.ts'), 'utf8');
    const imports = /import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/client-dynamodb'/.exec(store)?.[1] ?? '';
    const imported = imports
      .split(',')
      .map((name) => name.trim())
      .filter((name) => /Command\b/.test(name));
    // No aliasing (`PutItemCommand as Put`), so every command is found by its own name below.
    expect(imported.every((name) => /^\w+Command$/.test(name))).toBe(true);
    const sent = [...new Set([...store.matchAll(/new\s+(\w+)Command\s*\(/g)].map((m) => m[1]))].sort();
    expect(sent.map((name) => `${name}Command`)).toEqual([...imported].sort());
    expect(sent.map((name) => `dynamodb:${name}`)).toEqual([...IDEMPOTENCY_TABLE_ACTIONS].sort());
  });

  it('retains the idempotency table by default, and removes it with removalPolicy: DESTROY', () => {
    const kept = synth(topologyIn());
    const id = kept.idOf('FanoutIdempotencyTable', 'AWS::DynamoDB::Table');
    expect(kept.template.toJSON().Resources[id]).toMatchObject({
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    const removed = synth(topologyIn({ removalPolicy: RemovalPolicy.DESTROY }));
    expect(removed.template.toJSON().Resources[id]).toMatchObject({
      DeletionPolicy: 'Delete',
      UpdateReplacePolicy: 'Delete',
    });
  });

  it('sets a topic’s maxMessageSizeBytes as its MaximumMessageSize, and leaves the default unset', () => {
    const t = synth(
      topologyIn({}, { ...topology, topics: { orders: { maxMessageSizeBytes: 1_048_576 }, payments: {} } }),
    );
    const topic = (name: string) => t.resources[t.idOf(`FanoutTopic${name}`, 'AWS::SNS::Topic')].Properties;
    expect(topic('orders').MaximumMessageSize).toBe(1_048_576);
    expect(topic('payments').MaximumMessageSize).toBeUndefined();
  });

  it('warns, and leaves the topic alone, when an existing topic should take larger messages', () => {
    const { stack } = userStack();
    const orders = new sns.Topic(stack, 'Orders');
    topologyIn(
      { existingTopics: { orders } },
      { ...topology, topics: { orders: { maxMessageSizeBytes: 524_288 }, payments: {} } },
    )(stack);
    const template = Template.fromStack(stack);
    Annotations.fromStack(stack).hasWarning(
      '/UserStack/Fanout',
      Match.stringLikeRegexp(
        "topic 'orders' is an existing topic: fanout does not set its maximum message size",
      ),
    );
    expect(JSON.stringify(template.findResources('AWS::SNS::Topic'))).not.toContain('MaximumMessageSize');
  });

  it('rejects hooks that name no topic or group of the topology, and an existing topic of the wrong kind', () => {
    const { stack } = userStack();
    const orders = new sns.Topic(stack, 'Orders');
    expect(() => topologyIn({ existingTopics: { order: orders } })(stack)).toThrow(
      "FanoutTopology.existingTopics['order']: the topology has no topic 'order'. Use one of: orders, payments",
    );
    expect(() => topologyIn({ groupProps: { audits: {} } })(new Stack(new App(), 'Other'))).toThrow(
      "FanoutTopology.groupProps['audits']: the topology has no group 'audits'. Use one of: audit, billing",
    );
    const fifo = new sns.Topic(stack, 'OrdersFifo', { fifo: true });
    expect(() => topologyIn({ existingTopics: { orders: fifo } })(new Stack(new App(), 'Third'))).toThrow(
      "FanoutTopology.existingTopics['orders']: the topology's topic is standard but the given topic is FIFO. Pass a topic of the same kind, or change the topology",
    );
  });
});

describe('the payload bucket (topics with largePayloads)', () => {
  const large: TopologyDefinition = {
    topics: { orders: { largePayloads: true }, payments: {}, documents: { largePayloads: true } },
    groups: {
      // reads orders: 4 + 14 days
      audit: { subscribe: ['orders'], handler: HANDLER },
      // reads documents: 7 + 10 days; publishes to a large-payload topic
      archive: {
        subscribe: ['documents'],
        handler: HANDLER,
        retentionDays: 7,
        dlqRetentionDays: 10,
        publishes: ['orders'],
      },
      // neither reads nor writes large payloads
      billing: { subscribe: ['payments'], handler: HANDLER, retentionDays: 14, dlqRetentionDays: 14 },
    },
  };

  it('is encrypted, TLS only, never public, logged, and expires a day after the longest retention of its readers', () => {
    const t = synth(topologyIn({}, large));
    const buckets = t.ofType('AWS::S3::Bucket');
    expect(buckets).toHaveLength(2); // the payloads and their access logs
    const bucket = t.resources[t.idOf('FanoutPayloadBucketPayloads', 'AWS::S3::Bucket')];
    const logs = t.idOf('FanoutPayloadBucketAccessLogs', 'AWS::S3::Bucket');
    expect(bucket).toMatchObject({ DeletionPolicy: 'Retain' });
    expect(bucket.Properties).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      // max(4 + 14, 7 + 10) + 1; billing (14 + 14) reads no large payloads
      LifecycleConfiguration: { Rules: [{ ExpirationInDays: 19, Status: 'Enabled' }] },
      LoggingConfiguration: { DestinationBucketName: { Ref: logs } },
    });
    // The access-log bucket has the same protections.
    expect(t.resources[logs].Properties).toMatchObject({
      BucketEncryption: bucket.Properties.BucketEncryption,
      PublicAccessBlockConfiguration: bucket.Properties.PublicAccessBlockConfiguration,
      LifecycleConfiguration: { Rules: [{ ExpirationInDays: 90, Status: 'Enabled' }] },
    });
    // Both buckets deny every request without TLS.
    const policies = t.ofType('AWS::S3::BucketPolicy').map(([, r]) => r.Properties);
    expect(policies.map((p) => JSON.stringify(p.Bucket)).sort()).toEqual(
      [t.idOf('FanoutPayloadBucketPayloads', 'AWS::S3::Bucket'), logs]
        .map((id) => JSON.stringify({ Ref: id }))
        .sort(),
    );
    for (const p of policies) expect(JSON.stringify(p)).toContain('"aws:SecureTransport":"false"');
  });

  it('expires payloads after the retention the readers’ queues are deployed with, groupProps overrides included', () => {
    const expiry = (groupProps: (stack: Stack) => FanoutTopologyProps['groupProps']) => {
      const t = synth((stack) => topologyIn({ groupProps: groupProps(stack) }, large)(stack));
      const bucket = t.resources[t.idOf('FanoutPayloadBucketPayloads', 'AWS::S3::Bucket')].Properties;
      return bucket.LifecycleConfiguration;
    };
    const days = (n: number) => ({ Rules: [{ ExpirationInDays: n, Status: 'Enabled' }] });
    // Without overrides: max(4 + 14, 7 + 10) + 1.
    expect(expiry(() => ({}))).toEqual(days(19));
    // audit's queue kept 14 days: 14 + 14 + 1.
    expect(expiry(() => ({ audit: { queueProps: { retentionPeriod: Duration.days(14) } } }))).toEqual(
      days(29),
    );
    // archive's DLQ kept 14 days: 7 + 14 + 1, more than audit's 19.
    expect(
      expiry(() => ({ archive: { deadLetterQueueProps: { retentionPeriod: Duration.days(14) } } })),
    ).toEqual(days(22));
    // A retention known only at deploy counts as SQS's longest, 14 days: 4 + 14 + 1 becomes 14 + 14 + 1.
    const fromParameter = (stack: Stack) =>
      Duration.seconds(new CfnParameter(stack, 'Retention', { type: 'Number' }).valueAsNumber);
    expect(expiry((stack) => ({ audit: { queueProps: { retentionPeriod: fromParameter(stack) } } }))).toEqual(
      days(29),
    );
    // A part of a day counts as a day: audit's DLQ kept 1 day (4 + 1 + 1); archive's queue 13 days and its DLQ
    // 36 hours: 13 + 2 + 1.
    expect(
      expiry(() => ({
        audit: { deadLetterQueueProps: { retentionPeriod: Duration.days(1) } },
        archive: {
          queueProps: { retentionPeriod: Duration.days(13) },
          deadLetterQueueProps: { retentionPeriod: Duration.hours(36) },
        },
      })),
    ).toEqual(days(16));
    // billing reads no large payloads: its retention does not count.
    expect(expiry(() => ({ billing: { queueProps: { retentionPeriod: Duration.days(14) } } }))).toEqual(
      days(19),
    );
  });

  it('gives each ConsumerGroup its queue’s and DLQ’s retention as deployed, in whole days', () => {
    const retention = (
      queueProps: GroupOverrides['queueProps'],
      dlqProps?: GroupOverrides['deadLetterQueueProps'],
    ) => {
      const { stack } = userStack();
      const group = new ConsumerGroup(stack, 'Group', {
        name: 'mailer',
        topics: [new sns.Topic(stack, 'Orders')],
        entry: HANDLER,
        projectRoot,
        idempotencyTable: dynamodb.Table.fromTableName(stack, 'Keys', 'keys'),
        retentionDays: 5,
        dlqRetentionDays: 9,
        queueProps,
        deadLetterQueueProps: dlqProps,
      });
      return [group.queueRetentionDays, group.deadLetterQueueRetentionDays];
    };
    expect(retention(undefined)).toEqual([5, 9]);
    expect(
      retention({ retentionPeriod: Duration.hours(36) }, { retentionPeriod: Duration.days(12) }),
    ).toEqual([2, 12]);
    // Given as undefined, the property is left out and SQS keeps messages its default 4 days.
    expect(retention({ retentionPeriod: undefined })).toEqual([4, 9]);
  });

  it('leaves the expiry to lifecycleRules given in payloadBucketProps', () => {
    const t = synth(
      topologyIn({ payloadBucketProps: { lifecycleRules: [{ expiration: Duration.days(40) }] } }, large),
    );
    const bucket = t.resources[t.idOf('FanoutPayloadBucketPayloads', 'AWS::S3::Bucket')].Properties;
    expect(bucket.LifecycleConfiguration).toEqual({ Rules: [{ ExpirationInDays: 40, Status: 'Enabled' }] });
  });

  it('lets readers get and writers put objects, each only in the bucket, and tells only them its name', () => {
    const t = synth(topologyIn({}, large));
    const bucket = t.idOf('FanoutPayloadBucketPayloads', 'AWS::S3::Bucket');
    const objects = { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/*']] };
    const s3Of = (group: string) =>
      t.statementsOf(`Group${group}`).filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
    // s3:ListBucket on the bucket only, so a missing key answers NoSuchKey (payload-missing), not AccessDenied.
    const listing = { Effect: 'Allow', Action: 's3:ListBucket', Resource: { 'Fn::GetAtt': [bucket, 'Arn'] } };
    expect(s3Of('audit')).toEqual([{ Effect: 'Allow', Action: 's3:GetObject', Resource: objects }, listing]);
    expect(s3Of('archive')).toEqual([
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: objects },
      listing,
    ]);
    expect(s3Of('billing')).toEqual([]);
    expect(t.envOf('Groupaudit').FANOUT_PAYLOAD_BUCKET).toEqual({ Ref: bucket });
    expect(t.envOf('Grouparchive').FANOUT_PAYLOAD_BUCKET).toEqual({ Ref: bucket });
    expect(t.envOf('Groupbilling').FANOUT_PAYLOAD_BUCKET).toBeUndefined();
  });

  it('is not created when no topic has largePayloads; removalPolicy and the log-bucket hook apply', () => {
    synth(topologyIn()).template.resourceCountIs('AWS::S3::Bucket', 0);
    const t = synth((stack) =>
      topologyIn({ removalPolicy: RemovalPolicy.DESTROY, payloadAccessLogsBucket: false }, large)(stack),
    );
    const buckets = t.ofType('AWS::S3::Bucket');
    expect(buckets).toHaveLength(1);
    expect(buckets[0][1]).toMatchObject({ DeletionPolicy: 'Delete' });
    expect(buckets[0][1].Properties.LoggingConfiguration).toBeUndefined();
  });
});

describe('queues of topics raised above 256 KiB', () => {
  const raised: TopologyDefinition = {
    topics: { orders: { maxMessageSizeBytes: 524_288 }, payments: {} },
    groups: {
      audit: { subscribe: ['orders', 'payments'], handler: HANDLER },
      billing: { subscribe: ['payments'], handler: HANDLER },
    },
  };
  const queue = (t: ReturnType<typeof synth>, id: string) =>
    t.resources[t.idOf(id, 'AWS::SQS::Queue')].Properties;

  it('gives the queue and DLQ of a group on a 512 KiB topic SQS’s 1 MiB, and its function the DLQ’s size', () => {
    const t = synth(topologyIn({}, raised));
    expect(queue(t, 'FanoutGroupauditQueue').MaximumMessageSize).toBe(1_048_576);
    expect(queue(t, 'FanoutGroupauditDeadLetterQueue').MaximumMessageSize).toBe(1_048_576);
    expect(t.envOf('Groupaudit').FANOUT_DLQ_MAX_MESSAGE_BYTES).toBe('1048576');
    // billing reads only the 256 KiB topic: nothing changes for it.
    expect(queue(t, 'FanoutGroupbillingQueue').MaximumMessageSize).toBeUndefined();
    expect(queue(t, 'FanoutGroupbillingDeadLetterQueue').MaximumMessageSize).toBeUndefined();
    expect(t.envOf('Groupbilling').FANOUT_DLQ_MAX_MESSAGE_BYTES).toBeUndefined();
  });

  it('sets neither on topics of the default size', () => {
    const json = JSON.stringify(synth(topologyIn()).template.toJSON());
    expect(json).not.toContain('MaximumMessageSize');
    expect(json).not.toContain('FANOUT_DLQ_MAX_MESSAGE_BYTES');
  });

  it('refuses a queue or DLQ size below what the group’s topics deliver (SNS could not deliver, poison could not be dead-lettered)', () => {
    expect(() =>
      synth(topologyIn({ groupProps: { audit: { queueProps: { maxMessageSizeBytes: 262_144 } } } }, raised)),
    ).toThrow(
      "FanoutTopology.groupProps['audit'].queueProps.maxMessageSizeBytes: is smaller than the largest message the group's topics deliver (given 262144 < 524288): SNS could not deliver the larger messages to the queue. Leave it out, or set it to at least 524288",
    );
    expect(() =>
      synth(
        topologyIn({ groupProps: { billing: { deadLetterQueueProps: { maxMessageSizeBytes: 65_536 } } } }),
      ),
    ).toThrow(
      "FanoutTopology.groupProps['billing'].deadLetterQueueProps.maxMessageSizeBytes: is smaller than the largest message the group's topics deliver (given 65536 < 262144): a poison copy of a larger message could not be dead-lettered. Leave it out, or set it to at least 262144",
    );
  });

  it.each([
    ['audit', 'a raised group', 600_000],
    ['billing', 'a default-size group', 1_048_576],
  ])(
    "tells the function of %s (%s) the DLQ's own size when deadLetterQueueProps sets it",
    (group, _kind, size) => {
      const t = synth(
        topologyIn(
          { groupProps: { [group]: { deadLetterQueueProps: { maxMessageSizeBytes: size } } } },
          raised,
        ),
      );
      expect(queue(t, `FanoutGroup${group}DeadLetterQueue`).MaximumMessageSize).toBe(size);
      expect(t.envOf(`Group${group}`).FANOUT_DLQ_MAX_MESSAGE_BYTES).toBe(String(size));
    },
  );

  it('takes maxMessageSizeBytes on a ConsumerGroup alone: raised above 262,144, refused outside 1024..1,048,576', () => {
    const build = (maxMessageSizeBytes: number | undefined) => {
      const { stack } = userStack();
      standaloneGroup(stack, { maxMessageSizeBytes });
      const resources = Template.fromStack(stack).toJSON().Resources as Record<string, Resource>;
      const queues = Object.values(resources).filter((r) => r.Type === 'AWS::SQS::Queue');
      return queues.map((q) => q.Properties.MaximumMessageSize);
    };
    expect(build(undefined)).toEqual([undefined, undefined]);
    expect(build(262_144)).toEqual([undefined, undefined]);
    expect(build(262_145)).toEqual([1_048_576, 1_048_576]);
    expect(build(1_048_576)).toEqual([1_048_576, 1_048_576]);
    for (const given of [1023, 1_048_577, 300_000.5, Number.NaN]) {
      expect(() => build(given)).toThrow(
        `ConsumerGroup 'mailer'.maxMessageSizeBytes: must be a whole number from 1024 to 1048576 (given ${given}). Pass the largest MaximumMessageSize of the group's topics, or leave it out for 262144; larger payloads need the topic's largePayloads`,
      );
    }
  });
});

describe('AlarmTopic', () => {
  it('lets CloudWatch use the key and publish only for alarms of this account and region', () => {
    const t = synth((stack) => new AlarmTopic(stack, 'Alarms'));
    const fromOurAlarms = {
      StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
      ArnLike: {
        'aws:SourceArn': {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':cloudwatch:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':alarm:*',
            ],
          ],
        },
      },
    };
    const [[, key]] = t.ofType('AWS::KMS::Key');
    const forCloudWatch = (
      key.Properties.KeyPolicy as { Statement: (Statement & { Principal: unknown })[] }
    ).Statement.filter((s) => JSON.stringify(s.Principal).includes('cloudwatch.amazonaws.com'));
    expect(forCloudWatch).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Resource: '*',
        Condition: fromOurAlarms,
      },
    ]);
    const [[, topicPolicy]] = t.ofType('AWS::SNS::TopicPolicy');
    const publish = (topicPolicy.Properties.PolicyDocument as { Statement: Statement[] }).Statement.filter(
      (s) => s.Effect === 'Allow',
    );
    expect(publish).toEqual([
      expect.objectContaining({
        Action: 'sns:Publish',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Condition: fromOurAlarms,
      }),
    ]);
  });
});

describe('ConsumerGroup on its own', () => {
  it('takes plain topics, a table and a handler file, with the topology defaults', () => {
    const t = synth((stack) => {
      const orders = new sns.Topic(stack, 'Orders');
      const table = new dynamodb.Table(stack, 'Keys', {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      });
      new ConsumerGroup(stack, 'Fanout', {
        name: 'mailer',
        topics: [orders],
        entry: HANDLER,
        projectRoot,
        idempotencyTable: table,
        maxReceiveCount: 2,
      });
    });
    const queue = t.resources[t.idOf('FanoutQueue', 'AWS::SQS::Queue')].Properties;
    expect(queue).toMatchObject({ VisibilityTimeout: 180, MessageRetentionPeriod: 4 * 86_400 });
    expect((queue.RedrivePolicy as { maxReceiveCount: number }).maxReceiveCount).toBe(2);
    expect(t.ofType('AWS::SNS::Subscription').map(([id]) => id)).toEqual([
      expect.stringMatching(/^FanoutSubscriptionOrders/),
    ]);
    expect(t.envOf('')).toMatchObject({
      FANOUT_GROUP: 'mailer',
      FANOUT_IDEMPOTENCY_TABLE: { Ref: t.idOf('Keys', 'AWS::DynamoDB::Table') },
    });
    const [dynamo] = withAction(t.statementsOf(''), 'dynamodb:GetItem');
    expect(dynamo.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['mailer#*'] } });
  });

  it('rejects settings the topology would reject, naming the group, the prop, the value', () => {
    const { stack } = userStack();
    const ledger = new sns.Topic(stack, 'Ledger', { fifo: true });
    const table = dynamodb.Table.fromTableName(stack, 'Keys', 'keys');
    expect(
      () =>
        new ConsumerGroup(stack, 'Group', {
          name: 'ledger',
          topics: [ledger],
          entry: HANDLER,
          projectRoot,
          idempotencyTable: table,
          batchSize: 20,
        }),
    ).toThrow(
      "ConsumerGroup 'ledger': batchSize must be a whole number from 1 to 10 (given 20). Fix those props (they take the values of the topology group options of the same names)",
    );
    expect(
      () =>
        new ConsumerGroup(stack, 'NoTopics', {
          name: 'idle',
          topics: [],
          entry: HANDLER,
          projectRoot,
          idempotencyTable: table,
        }),
    ).toThrow(/^ConsumerGroup 'idle': topics must list at least one topic \(given \[\]\)\. /);
    expect(
      () =>
        new ConsumerGroup(stack, 'Kind', {
          name: 'kind',
          topics: [new sns.Topic(stack, 'Standard')],
          fifo: true,
          entry: HANDLER,
          projectRoot,
          idempotencyTable: table,
        }),
    ).toThrow(
      "ConsumerGroup 'kind'.fifo: a topic of the group is standard (given fifo: true). Leave fifo out (it is only for topics imported from a token ARN), or pass topics of that kind",
    );
  });
});

describe('overrides that would break a guarantee fail synth', () => {
  /** The error of a FanoutTopology whose group 'audit' has `overrides`, and of a ConsumerGroup with them. */
  const errors = (overrides: GroupOverrides) => {
    const message = (build: (stack: Stack) => void) => {
      try {
        build(userStack().stack);
      } catch (error) {
        return (error as Error).message;
      }
      return 'no error';
    };
    return {
      topology: message(topologyIn({ groupProps: { audit: overrides } })),
      group: message((stack) => {
        new ConsumerGroup(stack, 'Group', {
          name: 'audit',
          topics: [new sns.Topic(stack, 'Orders')],
          entry: HANDLER,
          projectRoot,
          idempotencyTable: dynamodb.Table.fromTableName(stack, 'Keys', 'keys'),
          ...overrides,
        });
      }),
    };
  };

  it('refuses eventSourceProps.reportBatchItemFailures: false (a failed record of a partly failed batch would be deleted)', () => {
    expect(errors({ eventSourceProps: { reportBatchItemFailures: false } })).toEqual({
      topology:
        "FanoutTopology.groupProps['audit'].eventSourceProps.reportBatchItemFailures: must stay true (given false): without it a failed record of a batch that partly succeeds is deleted with the batch. Remove reportBatchItemFailures from eventSourceProps",
      group:
        "ConsumerGroup 'audit'.eventSourceProps.reportBatchItemFailures: must stay true (given false): without it a failed record of a batch that partly succeeds is deleted with the batch. Remove reportBatchItemFailures from eventSourceProps",
    });
    expect(errors({ eventSourceProps: { reportBatchItemFailures: true, batchSize: 2 } })).toEqual({
      topology: 'no error',
      group: 'no error',
    });
  });

  it('refuses queueProps.deadLetterQueue, removed or replaced (the redrive to the group’s DLQ stays)', () => {
    const removed = errors({ queueProps: { deadLetterQueue: undefined } });
    expect(removed.topology).toBe(
      "FanoutTopology.groupProps['audit'].queueProps.deadLetterQueue: fanout's redrive to the group's DLQ cannot be replaced or removed (given undefined): records that keep failing would be lost, or land where FANOUT_DLQ_URL does not point. Remove deadLetterQueue from queueProps; set maxReceiveCount on the group, or the DLQ through deadLetterQueueProps",
    );
    expect(removed.group).toMatch(
      /^ConsumerGroup 'audit'\.queueProps\.deadLetterQueue: .*\(given undefined\)/,
    );
    const { stack } = userStack();
    const other = new sqs.Queue(stack, 'Other');
    expect(() =>
      topologyIn({
        groupProps: { audit: { queueProps: { deadLetterQueue: { queue: other, maxReceiveCount: 9 } } } },
      })(stack),
    ).toThrow(/queueProps\.deadLetterQueue: .*\(given a queue\)/);
  });

  it('refuses a queue visibility timeout shorter than the function timeout, set from either side', () => {
    // Defaults: timeout 30 s, visibility 180 s.
    const shortQueue = errors({ queueProps: { visibilityTimeout: Duration.seconds(20) } });
    expect(shortQueue.topology).toBe(
      "FanoutTopology.groupProps['audit'].queueProps.visibilityTimeout: the queue's visibility timeout must be at least the function's timeout (given 20 s < 30 s): a record would be received again while its first invocation still runs, and SQS event sources refuse it. Raise the visibility timeout to at least 30 s (AWS recommends 180 s), or shorten the function's timeout",
    );
    expect(shortQueue.group).toMatch(
      /^ConsumerGroup 'audit'\.queueProps\.visibilityTimeout: .*\(given 20 s < 30 s\)/,
    );
    const longFunction = errors({ functionProps: { timeout: Duration.seconds(200) } });
    expect(longFunction.topology).toMatch(
      /^FanoutTopology\.groupProps\['audit'\]\.functionProps\.timeout: .*\(given 180 s < 200 s\).* at least 200 s/,
    );
    expect(longFunction.group).toMatch(
      /^ConsumerGroup 'audit'\.functionProps\.timeout: .*\(given 180 s < 200 s\)/,
    );
    expect(
      errors({
        queueProps: { visibilityTimeout: Duration.seconds(60) },
        functionProps: { timeout: Duration.minutes(1) },
      }),
    ).toEqual({ topology: 'no error', group: 'no error' });
  });

  it('refuses FANOUT_* names in functionProps.environment (fanout wires its own)', () => {
    for (const name of [
      'FANOUT_GROUP',
      'FANOUT_IDEMPOTENCY_TABLE',
      'FANOUT_DLQ_URL',
      'FANOUT_TOPIC_X_ARN',
      'FANOUT_X',
    ]) {
      const { topology: onTopology, group } = errors({ functionProps: { environment: { [name]: 'mine' } } });
      expect(onTopology).toBe(
        `FanoutTopology.groupProps['audit'].functionProps.environment: '${name}' is reserved (FANOUT_* names are fanout's) and would replace the value fanout wires (given "mine"). Use another name; fanout sets its own variables from the group, its table, DLQ, topics and bucket`,
      );
      expect(onTopology.split('\n')).toHaveLength(1);
      expect(group).toMatch(
        new RegExp(`^ConsumerGroup 'audit'\\.functionProps\\.environment: '${name}' is reserved`),
      );
    }
    expect(errors({ functionProps: { environment: { POWERTOOLS_SERVICE_NAME: 'shop-audit' } } })).toEqual({
      topology: 'no error',
      group: 'no error',
    });
  });

  it('refuses the names Lambda reserves in functionProps.environment, and takes other AWS_* names', () => {
    for (const name of ['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_LAMBDA_FUNCTION_NAME', '_HANDLER', 'TZ']) {
      const { topology: onTopology, group } = errors({ functionProps: { environment: { [name]: 'mine' } } });
      expect(onTopology).toBe(
        `FanoutTopology.groupProps['audit'].functionProps.environment: '${name}' is reserved by Lambda, which sets it itself and refuses it in a function's configuration (given "mine"). Remove it; other AWS_* names (AWS_LAMBDA_EXEC_WRAPPER, AWS_NODEJS_CONNECTION_REUSE_ENABLED, AWS_ENDPOINT_URL_*) may be set`,
      );
      expect(onTopology.split('\n')).toHaveLength(1);
      expect(group).toMatch(
        new RegExp(`^ConsumerGroup 'audit'\\.functionProps\\.environment: '${name}' is reserved by Lambda`),
      );
    }
    // The ADOT layer's wrapper (fanout's spans exported on Lambda), SDK settings and endpoints are the user's.
    const allowed = {
      AWS_LAMBDA_EXEC_WRAPPER: '/opt/otel-handler',
      AWS_NODEJS_CONNECTION_REUSE_ENABLED: '1',
      AWS_ENDPOINT_URL_S3: 'https://s3.example.com',
    };
    expect(errors({ functionProps: { environment: allowed } })).toEqual({
      topology: 'no error',
      group: 'no error',
    });
    const t = synth(topologyIn({ groupProps: { audit: { functionProps: { environment: allowed } } } }));
    expect(t.envOf('Groupaudit')).toMatchObject({ ...allowed, FANOUT_GROUP: 'audit' });
  });
});

describe('queues under a customer managed KMS key', () => {
  type KeyStatement = Statement & { Principal: unknown };
  const keyStatements = (t: ReturnType<typeof synth>, prefix: string) =>
    (t.resources[t.idOf(prefix, 'AWS::KMS::Key')].Properties.KeyPolicy as { Statement: KeyStatement[] })
      .Statement;
  const forSns = (statements: KeyStatement[]) =>
    statements.filter((s) => JSON.stringify(s.Principal).includes('sns.amazonaws.com'));

  it('lets SNS use the queue’s key, only for the topics the group subscribes to; queueProps: { encryptionMasterKey } alone suffices', () => {
    const t = synth((stack) => {
      const key = new kms.Key(stack, 'QueueKey', { enableKeyRotation: true });
      topologyIn({ groupProps: { audit: { queueProps: { encryptionMasterKey: key } } } })(stack);
    });
    const key = t.idOf('QueueKey', 'AWS::KMS::Key');
    const queue = (group: string) => t.resources[t.idOf(`Fanout${group}Queue`, 'AWS::SQS::Queue')].Properties;
    expect(queue('Groupaudit').KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [key, 'Arn'] });
    expect(queue('Groupaudit').SqsManagedSseEnabled).toBeUndefined();
    expect(queue('Groupbilling').SqsManagedSseEnabled).toBe(true);
    const topic = (name: string) => ({ Ref: t.idOf(`FanoutTopic${name}`, 'AWS::SNS::Topic') });
    expect(forSns(keyStatements(t, 'QueueKey'))).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'sns.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: '*',
        Condition: { ArnEquals: { 'aws:SourceArn': [topic('orders'), topic('payments')] } },
      },
    ]);
    // The consumer reads with the key (the event source's grant): Decrypt on that key only.
    expect(withAction(t.statementsOf('Groupaudit'), 'kms:Decrypt')).toEqual([
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: { 'Fn::GetAtt': [key, 'Arn'] } },
    ]);
  });

  it('adds the statement to the key CDK makes for encryption: KMS, on a ConsumerGroup alone', () => {
    const t = synth((stack) => {
      standaloneGroup(stack, { queueProps: { encryption: sqs.QueueEncryption.KMS } });
    });
    expect(forSns(keyStatements(t, 'FanoutQueueKey'))).toEqual([
      expect.objectContaining({
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Condition: { ArnEquals: { 'aws:SourceArn': [{ Ref: t.idOf('Orders', 'AWS::SNS::Topic') }] } },
      }),
    ]);
  });

  it('warns, naming the statement to add, when the key is imported or of another stack, and not otherwise', () => {
    const warnings = (key: (stack: Stack) => kms.IKey) => {
      const { stack } = userStack();
      topologyIn({ groupProps: { audit: { queueProps: { encryptionMasterKey: key(stack) } } } })(stack);
      return Annotations.fromStack(stack)
        .findWarning('*', Match.stringLikeRegexp('fanout:queueKeyNotInStack'))
        .map((w) => `${w.id} ${w.entry.data}`);
    };
    const imported = warnings((stack) =>
      kms.Key.fromKeyArn(
        stack,
        'Imported',
        'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      ),
    );
    expect(imported).toEqual([
      expect.stringMatching(
        /^\/UserStack\/Fanout\/Group-audit group 'audit': the queue's KMS key is not defined in this stack \(imported, or of another stack\), so fanout cannot add to its key policy the statement SNS needs, .*Allow principal sns\.amazonaws\.com, kms:Decrypt and kms:GenerateDataKey, Resource "\*", condition ArnEquals aws:SourceArn = UserStack\/Fanout\/Topic-orders\/Topic, UserStack\/Fanout\/Topic-payments\/Topic; then acknowledge this warning/,
      ),
    ]);
    expect(imported[0]).not.toContain('\n');
    const ofAnotherStack = (stack: Stack) =>
      new kms.Key(new Stack(stack.node.scope as App, 'Keys'), 'Shared', { enableKeyRotation: true });
    expect(warnings(ofAnotherStack)).toHaveLength(1);
    expect(warnings((stack) => new kms.Key(stack, 'Own', { enableKeyRotation: true }))).toEqual([]);
  });

  it('lets the function send to a DLQ under a key with kms:GenerateDataKey and kms:Decrypt only', () => {
    const t = synth((stack) => {
      const key = new kms.Key(stack, 'DlqKey', { enableKeyRotation: true });
      topologyIn({ groupProps: { audit: { deadLetterQueueProps: { encryptionMasterKey: key } } } })(stack);
    });
    const key = t.idOf('DlqKey', 'AWS::KMS::Key');
    const dlq = t.idOf('FanoutGroupauditDeadLetterQueue', 'AWS::SQS::Queue');
    expect(t.resources[dlq].Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [key, 'Arn'] });
    const kmsStatements = t
      .statementsOf('Groupaudit')
      .filter((s) => actionsOf(s).some((a) => a.startsWith('kms:')));
    expect(kmsStatements).toEqual([
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: { 'Fn::GetAtt': [key, 'Arn'] },
      },
    ]);
    expect(withAction(t.statementsOf('Groupaudit'), 'sqs:SendMessage')).toEqual([
      {
        Effect: 'Allow',
        Action: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
        Resource: { 'Fn::GetAtt': [dlq, 'Arn'] },
      },
    ]);
    // No SNS statement on a DLQ's key: SNS never sends there.
    expect(forSns(keyStatements(t, 'DlqKey'))).toEqual([]);
  });

  it('refuses queueProps.encryption: KMS_MANAGED (SNS cannot use alias/aws/sqs)', () => {
    const { stack } = userStack();
    expect(() =>
      topologyIn({ groupProps: { audit: { queueProps: { encryption: sqs.QueueEncryption.KMS_MANAGED } } } })(
        stack,
      ),
    ).toThrow(
      "FanoutTopology.groupProps['audit'].queueProps.encryption: SNS cannot deliver to a queue under the AWS managed key alias/aws/sqs (given QueueEncryption.KMS_MANAGED): its key policy cannot be changed to let SNS use it. Leave encryption out (SSE-SQS), or give encryptionMasterKey, a customer managed key (fanout lets SNS use it)",
    );
  });

  it('keeps cdk-nag AwsSolutions clean with the queue and the DLQ under customer managed keys', () => {
    const { app, stack } = userStack();
    const key = new kms.Key(stack, 'QueueKey', { enableKeyRotation: true });
    topologyIn({
      groupProps: {
        audit: {
          queueProps: { encryptionMasterKey: key },
          deadLetterQueueProps: { encryptionMasterKey: key },
        },
      },
    })(stack);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });
});

describe('stack outputs for the fanout CLI (--stack)', () => {
  it('are made by a FanoutTopology in a plain user stack, one per topic, group attribute and table, as the CLI parses them', () => {
    const t = synth(topologyIn());
    const outputs = t.template.toJSON().Outputs as Record<string, { Description: string; Value: unknown }>;
    const parsed = Object.values(outputs).map((o) => parseOutputDescription(o.Description));
    const attributes = ['queueUrl', 'queueArn', 'dlqUrl', 'dlqArn', 'functionName'];
    expect(parsed).toEqual(
      expect.arrayContaining([
        { kind: 'topic', name: 'orders', attribute: 'arn' },
        { kind: 'topic', name: 'payments', attribute: 'arn' },
        { kind: 'table', name: 'idempotency', attribute: 'name' },
        ...['audit', 'billing'].flatMap((name) =>
          attributes.map((attribute) => ({ kind: 'group', name, attribute })),
        ),
      ]),
    );
    expect(parsed).toHaveLength(2 + 1 + 2 * attributes.length);
    expect(outputs.FanoutTopicOrdersArn.Value).toEqual({
      Ref: t.idOf('FanoutTopicorders', 'AWS::SNS::Topic'),
    });
    expect(outputs.FanoutGroupAuditDlqUrl.Value).toEqual({
      Ref: t.idOf('FanoutGroupauditDeadLetterQueue', 'AWS::SQS::Queue'),
    });
    expect(outputs.FanoutTableIdempotencyName.Value).toEqual({
      Ref: t.idOf('FanoutIdempotencyTable', 'AWS::DynamoDB::Table'),
    });
  });

  it('name the payload bucket, and are left out with outputs: false', () => {
    const large = synth(
      topologyIn({}, { ...topology, topics: { orders: { largePayloads: true }, payments: {} } }),
    );
    const outputs = large.template.toJSON().Outputs as Record<string, { Description: string }>;
    expect(outputs.FanoutBucketPayloadName.Description).toBe('fanout:bucket:payload:name');
    expect(synth(topologyIn({ outputs: false })).template.toJSON().Outputs).toBeUndefined();
  });

  it('fail synth with the fix when a second FanoutTopology of the stack would make them too', () => {
    const { stack } = userStack();
    topologyIn()(stack);
    expect(() => new FanoutTopology(stack, 'Again', { topology, projectRoot })).toThrow(
      "FanoutTopology 'UserStack/Again'.outputs: the stack has an output or construct 'FanoutTopicOrdersArn' already (another FanoutTopology with outputs in the same stack?). Pass outputs: false to all but one FanoutTopology of the stack",
    );
    expect(() => new FanoutTopology(stack, 'Third', { topology, projectRoot, outputs: false })).not.toThrow();
  });
});

describe('dead-letter queues and removalPolicy', () => {
  const policies = (t: ReturnType<typeof synth>) =>
    Object.fromEntries(
      t
        .ofType('AWS::SQS::Queue')
        .map(([id, r]) => [id.replace(/[0-9A-F]{8}$/, ''), r.DeletionPolicy ?? 'none'] as const),
    );

  it('retains the DLQs by default and deletes the queues; removalPolicy: DESTROY deletes the DLQs, a group’s own wins', () => {
    expect(policies(synth(topologyIn()))).toEqual({
      FanoutGroupauditDeadLetterQueue: 'Retain',
      FanoutGroupauditQueue: 'Delete',
      FanoutGroupbillingDeadLetterQueue: 'Retain',
      FanoutGroupbillingQueue: 'Delete',
    });
    const destroyed = synth(
      topologyIn({
        removalPolicy: RemovalPolicy.DESTROY,
        groupProps: { billing: { deadLetterQueueProps: { removalPolicy: RemovalPolicy.RETAIN } } },
      }),
    );
    expect(policies(destroyed)).toMatchObject({
      FanoutGroupauditDeadLetterQueue: 'Delete',
      FanoutGroupbillingDeadLetterQueue: 'Retain',
    });
  });

  it('retains a ConsumerGroup’s DLQ by default', () => {
    const t = synth((stack) => {
      standaloneGroup(stack);
    });
    expect(policies(t)).toEqual({ FanoutDeadLetterQueue: 'Retain', FanoutQueue: 'Delete' });
  });
});

describe('existing topics given as tokens', () => {
  it('subscribes a topic imported from Fn.importValue without a kind check', () => {
    const t = synth((stack) => {
      const orders = sns.Topic.fromTopicArn(stack, 'Orders', Fn.importValue('OrdersTopicArn'));
      topologyIn({ existingTopics: { orders } })(stack);
    });
    const onImported = t
      .ofType('AWS::SNS::Subscription')
      .filter(
        ([, r]) =>
          JSON.stringify(r.Properties.TopicArn) === JSON.stringify({ 'Fn::ImportValue': 'OrdersTopicArn' }),
      );
    expect(onImported).toHaveLength(2);
    expect(t.ofType('AWS::SQS::Queue').every(([, r]) => r.Properties.FifoQueue === undefined)).toBe(true);
  });

  it('takes a FIFO topic from a CfnParameter as FIFO, as the topology says (the CDK reports such a topic as standard)', () => {
    const fifoTopology: TopologyDefinition = {
      topics: { 'ledger.fifo': {} },
      groups: { ledger: { subscribe: ['ledger.fifo'], handler: HANDLER } },
    };
    const t = synth((stack) => {
      const arn = new CfnParameter(stack, 'LedgerArn').valueAsString;
      const ledger = sns.Topic.fromTopicArn(stack, 'Ledger', arn);
      expect(ledger.fifo).toBe(false);
      topologyIn({ existingTopics: { 'ledger.fifo': ledger } }, fifoTopology)(stack);
    });
    const queues = t.ofType('AWS::SQS::Queue').map(([, r]) => r.Properties.FifoQueue);
    expect(queues).toEqual([true, true]);
    expect(t.ofType('AWS::SNS::Subscription')[0][1].Properties.TopicArn).toEqual({ Ref: 'LedgerArn' });
  });
});

describe('the key grant of a publisher to a topic under alias/aws/sns', () => {
  it('is given only with the feature flag @aws-cdk/aws-kms:applyImportedAliasPermissionsToPrincipal', () => {
    const keyGrant = (flag: boolean) => {
      const app = new App({
        context: {
          ...context,
          'aws:cdk:bundling-stacks': [],
          '@aws-cdk/aws-kms:applyImportedAliasPermissionsToPrincipal': flag,
        },
      });
      const stack = new Stack(app, 'UserStack');
      const fanout = topologyIn()(stack);
      const role = fanout.groups.get('billing')?.function.role as IConstruct;
      const acknowledged = role.node.metadata
        .filter((entry) => entry.type === 'aws:cdk:acknowledged-rules')
        .flatMap((entry) => Object.keys(entry.data as Record<string, string>))
        .filter((id) => id.includes('kms'));
      const policies = JSON.stringify(Template.fromStack(stack).findResources('AWS::IAM::Policy'));
      return { statement: policies.includes('kms:GenerateDataKey'), acknowledged: acknowledged.length };
    };
    // billing publishes to payments, a topic under alias/aws/sns.
    expect(keyGrant(true)).toEqual({ statement: true, acknowledged: 2 });
    expect(keyGrant(false)).toEqual({ statement: false, acknowledged: 0 });
  });
});

describe('cdk-nag AwsSolutions on FanoutTopology (large payloads, publishes, tracing, alarm topic)', () => {
  it('finds nothing unacknowledged, and the only acknowledgements are the ones whose reasons are facts', () => {
    const { app, stack } = userStack();
    const alarms = new AlarmTopic(stack, 'Alarms');
    topologyIn(
      { alarmTopic: alarms.topic },
      { ...topology, topics: { orders: { largePayloads: true }, payments: { largePayloads: true } } },
    )(stack);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
    const acknowledged: string[] = [];
    const visit = (c: IConstruct) => {
      for (const entry of c.node.metadata) {
        if (entry.type !== 'aws:cdk:acknowledged-rules') continue;
        for (const id of Object.keys(entry.data as Record<string, string>))
          acknowledged.push(`${c.node.path} ${id.replace(/^Annotation::/, '')}`);
      }
      c.node.children.forEach(visit);
    };
    visit(app);
    const bucketObjects = '<FanoutPayloadBucketPayloadsF54ED20F.Arn>/*';
    expect(acknowledged.sort()).toEqual([
      // X-Ray's PutTraceSegments and PutTelemetryRecords take no resource (audit traces; billing does not).
      'UserStack/Fanout/Group-audit/FunctionServiceRole AwsSolutions-IAM5[Resource::*]',
      // Payload object keys are made per message: the grant is on the bucket's objects.
      `UserStack/Fanout/Group-audit/FunctionServiceRole AwsSolutions-IAM5[Resource::${bucketObjects}]`,
      // billing publishes to payments, under alias/aws/sns: CDK's encrypt grant, limited by kms:ResourceAliases.
      'UserStack/Fanout/Group-billing/FunctionServiceRole AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      `UserStack/Fanout/Group-billing/FunctionServiceRole AwsSolutions-IAM5[Resource::${bucketObjects}]`,
      'UserStack/Fanout/Group-billing/FunctionServiceRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*]',
      // The access-log bucket itself is not logged.
      'UserStack/Fanout/PayloadBucket/AccessLogs AwsSolutions-S1',
    ]);
  });
});

it('imports nothing but aws-cdk-lib, constructs, node built-ins and fanout’s lib in fanout/cdk (no cdk-nag)', () => {
  // The published entry point must load with aws-cdk-lib and constructs only.
  const sources = [
    'alarm-topic',
    'consumer-group',
    'fanout-topic',
    'fanout-topology',
    'groups-dashboard',
    'index',
    'payload-bucket',
    'prefixed-table',
  ];
  for (const name of sources) {
    const source = readFileSync(path.join(projectRoot, 'infra/constructs', `${name}.ts`), 'utf8');
    const imports = [...source.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
    for (const specifier of imports)
      expect(specifier, `${name}.ts`).toMatch(
        /^(aws-cdk-lib|constructs|node:.*|\.\/.*|\.\.\/\.\.\/lib\/index\.ts)$/,
      );
  }
});
