import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack, aws_sqs as sqs, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { FanoutStack } from '../../infra/fanout-stack.ts';
import topology from '../../infra/topology.ts';
import type { TopologyDefinition } from '../../lib/topology.ts';

const projectRoot = path.resolve(import.meta.dirname, '../..');

function build(definition: TopologyDefinition, { nag = false, dashboard = false, root = projectRoot } = {}) {
  const app = new App({ outdir: mkdtempSync(path.join(tmpdir(), 'fanout-cdk-')) });
  const stack = new FanoutStack(app, 'Fanout', { topology: definition, projectRoot: root, dashboard });
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

describe('FanoutStack of the example topology', () => {
  let template: Template;
  let resources: Resources;

  beforeAll(() => {
    template = Template.fromStack(build(topology).stack);
    resources = template.toJSON().Resources;
  });

  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

  it('gives every group an encrypted, TLS-only queue that redrives to its own DLQ', () => {
    for (const group of ['notifications', 'spreadsheets', 'audit', 'ledger']) {
      const [queueId] = Object.keys(resources).filter(
        (id) => id.startsWith(`TopologyGroup${group}Queue`) && resources[id].Type === 'AWS::SQS::Queue',
      );
      const [dlqId] = Object.keys(resources).filter(
        (id) =>
          id.startsWith(`TopologyGroup${group}DeadLetterQueue`) && resources[id].Type === 'AWS::SQS::Queue',
      );
      expect(queueId, group).toBeDefined();
      const queue = resources[queueId].Properties ?? {};
      expect(queue.RedrivePolicy).toEqual({
        deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] },
        maxReceiveCount: group === 'audit' ? 3 : 5,
      });
      expect(queue.SqsManagedSseEnabled).toBe(true);
      expect(resources[dlqId].Properties?.SqsManagedSseEnabled).toBe(true);
      expect(resources[dlqId].Properties?.MessageRetentionPeriod).toBe(14 * 86400);
    }
    template.resourceCountIs('AWS::SQS::Queue', 8);
  });

  it('makes the ledger group FIFO end to end', () => {
    template.hasResourceProperties('AWS::SQS::Queue', { FifoQueue: true, RedrivePolicy: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::Topic', { FifoTopic: true });
  });

  it('subscribes each group to each of its topics with raw delivery and its filter policy', () => {
    const subscriptions = ofType('AWS::SNS::Subscription').map(
      ([id, r]) => ({ id, ...r.Properties }) as Record<string, unknown>,
    );
    expect(subscriptions).toHaveLength(5); // notifications, spreadsheets, audit ×2, ledger
    expect(subscriptions.every((s) => s.Protocol === 'sqs' && s.RawMessageDelivery === true)).toBe(true);
    const filtered = subscriptions.filter((s) => s.FilterPolicy !== undefined);
    expect(filtered).toHaveLength(1);
    expect(filtered[0]).toMatchObject({
      FilterPolicy: { type: ['OrderPlaced'] },
      FilterPolicyScope: 'MessageAttributes',
    });
    expect(filtered[0].id).toMatch(/^TopologyGroupnotifications/);
  });

  it('lets only the subscribed topics send to a queue, and only over TLS', () => {
    const policies = ofType('AWS::SQS::QueuePolicy').map(([id, r]) => ({
      id,
      text: JSON.stringify(r.Properties),
    }));
    const audit = policies.find((p) => p.id.startsWith('TopologyGroupauditQueuePolicy'))?.text;
    expect(audit).toMatch(/"aws:SourceArn":\[\{"Ref":"TopologyTopicorders/);
    expect(audit).toMatch(/TopologyTopicpayments/);
    expect(policies).toHaveLength(8);
    expect(policies.every((p) => p.text.includes('"aws:SecureTransport":"false"'))).toBe(true);
  });

  it('maps every queue to its function with ReportBatchItemFailures and the topology batch settings', () => {
    const mappings = ofType('AWS::Lambda::EventSourceMapping').map(([, r]) => r.Properties ?? {});
    expect(mappings).toHaveLength(4);
    for (const mapping of mappings) {
      expect(mapping).toMatchObject({
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BatchSize: 10,
        ScalingConfig: { MaximumConcurrency: 10 },
      });
    }
  });

  it('runs Node 24 on ARM64 with the group wiring in the environment', () => {
    template.allResourcesProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Environment: {
        Variables: Match.objectLike({
          FANOUT_GROUP: Match.anyValue(),
          FANOUT_IDEMPOTENCY_TABLE: Match.anyValue(),
          FANOUT_DLQ_URL: Match.anyValue(),
          FANOUT_EFFECTS_TABLE: Match.anyValue(),
        }),
      },
    });
  });

  it('restricts each function to its own keys in the idempotency and effects tables', () => {
    const policies = ofType('AWS::IAM::Policy').map(([id, r]) => ({
      id,
      text: JSON.stringify(r.Properties),
      statements: (
        r.Properties as { PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] } }
      ).PolicyDocument.Statement,
    }));
    for (const group of ['notifications', 'spreadsheets', 'audit', 'ledger']) {
      const policy = policies.find((p) => p.id.startsWith(`TopologyGroup${group}Function`));
      expect(policy?.text, group).toContain(`"dynamodb:LeadingKeys":["${group}#*"]`);
      // The one statement on "*" is X-Ray's (tracing is on by default), whose actions take no resource.
      const onAny = policy?.statements.filter((s) => s.Resource === '*');
      expect(onAny?.map((s) => [s.Action].flat().sort())).toEqual([
        ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'],
      ]);
    }
  });

  it('creates the tables on demand with TTL and point-in-time recovery', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 2);
    template.allResourcesProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    });
  });

  it('retains both tables when they leave the stack (removalPolicy RETAIN by default)', () => {
    const tables = Object.values(
      template.toJSON().Resources as Record<string, Record<string, unknown>>,
    ).filter((r) => r.Type === 'AWS::DynamoDB::Table');
    expect(tables.map((t) => [t.DeletionPolicy, t.UpdateReplacePolicy])).toEqual([
      ['Retain', 'Retain'],
      ['Retain', 'Retain'],
    ]);
  });

  it('alarms per group on dead letters, message age and function errors, notifying the alarm topic', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 12);
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([, r]) => r.Properties ?? {});
    expect(alarms.filter((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible')).toHaveLength(4);
    expect(alarms.filter((a) => a.MetricName === 'ApproximateAgeOfOldestMessage')).toHaveLength(4);
    expect(alarms.filter((a) => a.MetricName === 'Errors')).toHaveLength(4);
    expect(alarms.every((a) => Array.isArray(a.AlarmActions) && a.AlarmActions.length === 1)).toBe(true);
  });

  it('creates no dashboard unless asked (it is billed, and would change whenever a group is added)', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  });

  it('encrypts every topic and enforces TLS on it', () => {
    const topics = ofType('AWS::SNS::Topic').map(([, r]) => r.Properties ?? {});
    expect(topics).toHaveLength(4); // orders, payments, ledger.fifo, alarms
    expect(topics.every((t) => t.KmsMasterKeyId !== undefined)).toBe(true);
    const policies = ofType('AWS::SNS::TopicPolicy').map(([, r]) => JSON.stringify(r.Properties));
    expect(policies).toHaveLength(4);
    expect(policies.every((p) => p.includes('"aws:SecureTransport":"false"'))).toBe(true);
  });

  it('outputs every topic and group so tools can find them', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Description: string }>;
    const descriptions = Object.values(outputs).map((o) => o.Description);
    expect(descriptions).toEqual(
      expect.arrayContaining([
        'fanout:topic:orders:arn',
        'fanout:topic:ledger.fifo:arn',
        'fanout:group:ledger:queueUrl',
        'fanout:group:ledger:dlqUrl',
        'fanout:group:audit:functionName',
        'fanout:table:idempotency:name',
      ]),
    );
    // FanoutTopology makes them (once each), under the keys the reference stack always had.
    expect(outputs.FanoutGroupLedgerDlqUrl.Description).toBe('fanout:group:ledger:dlqUrl');
    expect(outputs.FanoutTableEffectsName.Description).toBe('fanout:table:effects:name');
    expect(new Set(descriptions).size).toBe(descriptions.length);
  });
});

describe('the optional dashboard', () => {
  it('shows every alarm, and per group its backlog, oldest-message alarm and function figures', () => {
    const { stack } = build(topology, { dashboard: true });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    expect(body).toContain('fanout alarms');
    for (const [name, group] of stack.groups) {
      for (const title of [`${name}: backlog`, `${name}: age of oldest message (s)`, `${name}: function`])
        expect(body, title).toContain(title);
      for (const construct of [group.queue, group.deadLetterQueue, group.function, group.oldestMessageAlarm])
        expect(body, construct.node.path).toContain(stack.getLogicalId(construct.node.defaultChild as never));
    }
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('reports zero unacknowledged errors on the stack (dashboard on), and every acknowledgement has a reason', () => {
    const { app } = build(topology, { nag: true, dashboard: true });
    expect(() => app.synth()).not.toThrow();
    const acknowledgements: { id: string; reason: string }[] = [];
    const visit = (c: IConstruct) => {
      for (const entry of c.node.metadata) {
        if (entry.type !== 'aws:cdk:acknowledged-rules') continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>))
          acknowledgements.push({ id, reason });
      }
      c.node.children.forEach(visit);
    };
    visit(app);
    expect(acknowledgements.length).toBeGreaterThan(0);
    for (const a of acknowledgements) expect(a.reason.length, a.id).toBeGreaterThan(20);
  });

  it('does fail synthesis on a violation (the check is live)', () => {
    const app = new App({ outdir: mkdtempSync(path.join(tmpdir(), 'fanout-cdk-')) });
    new sqs.Queue(new Stack(app, 'Bad'), 'Queue', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/SQS Queue does not have server-side encryption/);
  });
});

describe('adding a consumer group as the README says', () => {
  it('adds only that group’s resources to the template and changes nothing else', () => {
    // A copy of the project's functions, so that step 2 (add functions/billing.ts) touches no real file;
    // lib/, node_modules and the lock file are the project's own.
    const root = mkdtempSync(path.join(tmpdir(), 'fanout-add-group-'));
    onTestFinished(() => rmSync(root, { recursive: true, force: true })); // removes the links, not their targets
    for (const shared of ['lib', 'node_modules', 'package.json', 'package-lock.json', 'tsconfig.json'])
      symlinkSync(path.join(projectRoot, shared), path.join(root, shared));
    cpSync(path.join(projectRoot, 'functions'), path.join(root, 'functions'), { recursive: true });
    const before = Template.fromStack(build(topology, { root }).stack).toJSON().Resources as Resources;

    // Step 1: the topology entry the README shows. Step 2: the handler the README shows, at the default path
    // functions/billing.ts. Both are read from the README, so the test fails if the README stops working.
    const readme = readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
    const entry = /^\s*(billing: \{.*\}),$/m.exec(readme)?.[1];
    const handlerSource = /```ts\n(\/\/ functions\/billing\.ts\n[\s\S]*?)```/.exec(readme)?.[1];
    expect(entry, 'the README shows the billing entry').toBeDefined();
    expect(handlerSource, 'the README shows functions/billing.ts').toBeDefined();
    const withBilling: TopologyDefinition = {
      ...topology,
      groups: {
        ...topology.groups,
        ...(new Function(`return { ${entry} };`)() as TopologyDefinition['groups']),
      },
    };
    writeFileSync(path.join(root, 'functions', 'billing.ts'), handlerSource as string);
    const after = Template.fromStack(build(withBilling, { root }).stack).toJSON().Resources as Resources;

    const added = Object.keys(after).filter((id) => !(id in before));
    const removed = Object.keys(before).filter((id) => !(id in after));
    const changed = Object.keys(before).filter(
      (id) => id in after && JSON.stringify(before[id]) !== JSON.stringify(after[id]),
    );

    expect(removed).toEqual([]);
    expect(changed).toEqual([]);
    expect(added.length).toBeGreaterThanOrEqual(10);
    expect(added.every((id) => id.startsWith('TopologyGroupbilling'))).toBe(true);
    const addedTypes = added.map((id) => after[id].Type);
    for (const [type, count] of [
      ['AWS::SQS::Queue', 2], // the queue and its DLQ
      ['AWS::SNS::Subscription', 1],
      ['AWS::Lambda::Function', 1],
      ['AWS::Lambda::EventSourceMapping', 1],
      ['AWS::CloudWatch::Alarm', 3],
    ] as const) {
      expect(
        addedTypes.filter((t) => t === type),
        type,
      ).toHaveLength(count);
    }
  });
});
