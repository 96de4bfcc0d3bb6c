import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { FanoutStack } from '../../infra/fanout-stack.ts';
import topology from '../../infra/topology.ts';

type Resource = { Type: string; Properties?: Record<string, unknown> };
type Statement = {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, unknown>;
};

const projectRoot = path.resolve(import.meta.dirname, '../..');
const GROUPS = ['notifications', 'spreadsheets', 'audit', 'ledger'];
const ref = (value: unknown) => JSON.stringify(value);

describe('least privilege, proven on the synthesized template', () => {
  let resources: Record<string, Resource>;
  const idOf = (prefix: string, type: string) => {
    const id = Object.keys(resources).find((k) => k.startsWith(prefix) && resources[k].Type === type);
    if (!id) throw new Error(`no ${type} starting with ${prefix}`);
    return id;
  };
  const statementsOf = (group: string): Statement[] => {
    const role = idOf(`TopologyGroup${group}FunctionServiceRole`, 'AWS::IAM::Role');
    return Object.values(resources)
      .filter(
        (r) =>
          r.Type === 'AWS::IAM::Policy' && ref((r.Properties as { Roles: unknown }).Roles).includes(role),
      )
      .flatMap(
        (r) => (r.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument.Statement,
      );
  };
  const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

  beforeAll(() => {
    const app = new App({ outdir: mkdtempSync(path.join(tmpdir(), 'fanout-sec-')) });
    resources = Template.fromStack(new FanoutStack(app, 'Fanout', { topology, projectRoot })).toJSON()
      .Resources;
  });

  it.each(GROUPS)("group '%s' may receive, delete and change visibility only on its own queue", (group) => {
    const queue = idOf(`TopologyGroup${group}Queue`, 'AWS::SQS::Queue');
    const consume = statementsOf(group).filter((s) =>
      actions(s).some((a) => /sqs:(ReceiveMessage|DeleteMessage|ChangeMessageVisibility)/.test(a)),
    );
    expect(consume.length).toBeGreaterThan(0);
    for (const s of consume) expect(ref(s.Resource)).toBe(ref({ 'Fn::GetAtt': [queue, 'Arn'] }));
  });

  it.each(GROUPS)("group '%s' may send only to its own DLQ", (group) => {
    const dlq = idOf(`TopologyGroup${group}DeadLetterQueue`, 'AWS::SQS::Queue');
    const send = statementsOf(group).filter((s) => actions(s).some((a) => a.startsWith('sqs:SendMessage')));
    expect(send).toHaveLength(1);
    expect(ref(send[0].Resource)).toBe(ref({ 'Fn::GetAtt': [dlq, 'Arn'] }));
  });

  it.each(GROUPS)("group '%s' may use DynamoDB only on the two tables, only its own key prefix", (group) => {
    const tables = [
      idOf('TopologyIdempotencyTable', 'AWS::DynamoDB::Table'),
      idOf('EffectsTable', 'AWS::DynamoDB::Table'),
    ];
    const dynamo = statementsOf(group).filter((s) => actions(s).some((a) => a.startsWith('dynamodb:')));
    expect(dynamo.length).toBeGreaterThan(0);
    const covered = new Set<string>();
    for (const s of dynamo) {
      expect(s.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${group}#*`] } });
      const resourcesOf = Array.isArray(s.Resource) ? s.Resource : [s.Resource];
      for (const r of resourcesOf) {
        const table = tables.find((t) => ref(r) === ref({ 'Fn::GetAtt': [t, 'Arn'] }));
        expect(table, ref(r)).toBeDefined();
        covered.add(table ?? '');
      }
      expect(actions(s).some((a) => a.includes('*'))).toBe(false);
      expect(actions(s)).not.toContain('dynamodb:Scan');
    }
    expect(covered).toEqual(new Set(tables));
  });

  it.each(GROUPS)(
    "group '%s' may call the idempotency store's four actions on its keys, and only UpdateItem on its effects",
    (group) => {
      const idempotency = ref({
        'Fn::GetAtt': [idOf('TopologyIdempotencyTable', 'AWS::DynamoDB::Table'), 'Arn'],
      });
      const effects = ref({ 'Fn::GetAtt': [idOf('EffectsTable', 'AWS::DynamoDB::Table'), 'Arn'] });
      const dynamo = statementsOf(group).filter((s) => actions(s).some((a) => a.startsWith('dynamodb:')));
      const on = (table: string) =>
        dynamo
          .filter((s) => ref(s.Resource) === table)
          .flatMap(actions)
          .sort();
      expect(on(idempotency)).toEqual([
        'dynamodb:BatchWriteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
      ]);
      expect(on(effects)).toEqual(['dynamodb:UpdateItem']);
      expect(dynamo.every((s) => [idempotency, effects].includes(ref(s.Resource)))).toBe(true);
    },
  );

  it('grants no data action on a * resource anywhere', () => {
    for (const group of GROUPS) {
      for (const s of statementsOf(group)) {
        const dataActions = actions(s).filter((a) => /^(sqs|dynamodb|sns|kms):/.test(a));
        if (dataActions.length > 0) expect(s.Resource, `${group}: ${dataActions.join(',')}`).not.toBe('*');
      }
    }
  });

  it.each(GROUPS)(
    "the queue of '%s' accepts SendMessage only from its subscribed topics, and nothing without TLS",
    (group) => {
      const queue = idOf(`TopologyGroup${group}Queue`, 'AWS::SQS::Queue');
      const policy = Object.values(resources).find(
        (r) =>
          r.Type === 'AWS::SQS::QueuePolicy' &&
          ref((r.Properties as { Queues: unknown }).Queues) === ref([{ Ref: queue }]),
      );
      const statements =
        (
          policy?.Properties as
            | { PolicyDocument: { Statement: (Statement & { Principal: unknown })[] } }
            | undefined
        )?.PolicyDocument.Statement ?? [];
      const allows = statements.filter((s) => s.Effect === 'Allow');
      expect(allows).toHaveLength(1);
      expect(allows[0]).toMatchObject({
        Action: 'sqs:SendMessage',
        Principal: { Service: 'sns.amazonaws.com' },
      });
      const topics = topology.groups[group as keyof typeof topology.groups].subscribe;
      const sourceArns = (allows[0].Condition as { ArnEquals: { 'aws:SourceArn': { Ref: string }[] } })
        .ArnEquals['aws:SourceArn'];
      expect(sourceArns.map((a) => a.Ref.replace(/Topic[0-9A-F]{8}$/, ''))).toEqual(
        topics.map((t) => `TopologyTopic${t.replace('.', '')}`),
      );
      const deny = statements.find((s) => s.Effect === 'Deny');
      expect(deny).toMatchObject({
        Action: 'sqs:*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      });
    },
  );

  it('encrypts every queue (SSE-SQS) and every topic (KMS)', () => {
    const queues = Object.values(resources).filter((r) => r.Type === 'AWS::SQS::Queue');
    expect(queues).toHaveLength(8);
    for (const q of queues) expect(q.Properties?.SqsManagedSseEnabled).toBe(true);
    const topics = Object.values(resources).filter((r) => r.Type === 'AWS::SNS::Topic');
    for (const t of topics) expect(t.Properties?.KmsMasterKeyId).toBeDefined();
  });
});
