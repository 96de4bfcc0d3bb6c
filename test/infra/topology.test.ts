import { describe, expect, it } from 'vitest';
import topology from '../../infra/topology.ts';
import { resolveTopology, type TopologyDefinition, TopologyError } from '../../lib/topology.ts';

const base: TopologyDefinition = {
  topics: { orders: {}, 'ledger.fifo': {} },
  groups: { audit: { subscribe: ['orders'] } },
};

function issuesOf(definition: unknown): readonly string[] {
  try {
    resolveTopology(definition as TopologyDefinition);
  } catch (error) {
    expect(error).toBeInstanceOf(TopologyError);
    return (error as TopologyError).issues;
  }
  throw new Error('expected the topology to be rejected');
}

const withGroup = (group: object, topics = base.topics) =>
  ({ topics, groups: { audit: group } }) as TopologyDefinition;

describe('resolveTopology', () => {
  it('applies the documented defaults', () => {
    const { groups } = resolveTopology(base);
    expect(groups[0]).toMatchObject({
      name: 'audit',
      handler: 'functions/audit.ts',
      fifo: false,
      queueName: 'audit',
      dlqName: 'audit-dlq',
      maxReceiveCount: 5,
      batchSize: 10,
      batchingWindowSeconds: 0,
      maxConcurrency: 10,
      timeoutSeconds: 30,
      memoryMiB: 256,
      visibilityTimeoutSeconds: 180,
      retentionDays: 4,
      dlqRetentionDays: 14,
      filterScope: 'MessageAttributes',
    });
  });

  it('derives the visibility timeout by the AWS rule: 6 × timeout + batching window', () => {
    const { groups } = resolveTopology(
      withGroup({ subscribe: ['orders'], timeoutSeconds: 60, batchingWindowSeconds: 5 }),
    );
    expect(groups[0].visibilityTimeoutSeconds).toBe(365);
  });

  it('makes a group on FIFO topics a FIFO group with .fifo queue names', () => {
    const { groups } = resolveTopology(withGroup({ subscribe: ['ledger.fifo'] }));
    expect(groups[0]).toMatchObject({ fifo: true, queueName: 'audit.fifo', dlqName: 'audit-dlq.fifo' });
  });

  it('accepts the example topology', () => {
    expect(resolveTopology(topology).groups.map((g) => g.name)).toEqual([
      'notifications',
      'spreadsheets',
      'audit',
      'ledger',
    ]);
  });

  it.each([
    [
      'maxReceiveCount below 1',
      withGroup({ subscribe: ['orders'], maxReceiveCount: 0 }),
      "group 'audit': maxReceiveCount must be ≥ 1 (given 0)",
    ],
    [
      'an unknown topic',
      withGroup({ subscribe: ['refunds'] }),
      "group 'audit': subscribes to unknown topic 'refunds' (topics: orders, ledger.fifo)",
    ],
    [
      'no topic at all',
      withGroup({ subscribe: [] }),
      "group 'audit': subscribe must list at least one topic (given [])",
    ],
    [
      'the same topic twice',
      withGroup({ subscribe: ['orders', 'orders'] }),
      "group 'audit': subscribes to topic 'orders' twice",
    ],
    [
      'FIFO and standard topics in one group',
      withGroup({ subscribe: ['orders', 'ledger.fifo'] }),
      "group 'audit': subscribes to FIFO and standard topics at once; a FIFO queue takes only FIFO topics and the reverse",
    ],
    [
      'a FIFO topic without the .fifo suffix',
      { topics: { ledger: { fifo: true } }, groups: {} },
      "topic 'ledger': a FIFO topic's name must end in '.fifo' (rename it 'ledger.fifo')",
    ],
    [
      'a .fifo name on a standard topic',
      { topics: { 'ledger.fifo': { fifo: false } }, groups: {} },
      "topic 'ledger.fifo': the name ends in '.fifo' but fifo is false; FIFO names are for FIFO topics only",
    ],
    [
      'a topic name SNS rejects',
      { topics: { 'order events': {} }, groups: {} },
      "topic 'order events': name must be 1 to 256 letters, digits, '-' or '_' (plus '.fifo' for FIFO topics)",
    ],
    [
      'a group name SQS rejects',
      { topics: base.topics, groups: { 'audit!': { subscribe: ['orders'] } } },
      "group 'audit!': name must be letters, digits, '-' or '_' and at most 76 characters (its DLQ is 'audit!-dlq')",
    ],
    [
      'a group name too long for its DLQ',
      { topics: base.topics, groups: { ['g'.repeat(77)]: { subscribe: ['orders'] } } },
      `group '${'g'.repeat(77)}': name must be letters, digits, '-' or '_' and at most 76 characters (its DLQ is '${'g'.repeat(77)}-dlq')`,
    ],
    [
      'a group whose queue is another group’s DLQ (duplicate name)',
      {
        topics: base.topics,
        groups: { audit: { subscribe: ['orders'] }, 'audit-dlq': { subscribe: ['orders'] } },
      },
      "group 'audit-dlq': queue name 'audit-dlq' is also used by group 'audit'; rename one of them",
    ],
    [
      'a FIFO batch size above 10',
      withGroup({ subscribe: ['ledger.fifo'], batchSize: 20 }),
      "group 'audit': batchSize must be a whole number from 1 to 10 (given 20)",
    ],
    [
      'a batch size above 10 without a batching window',
      withGroup({ subscribe: ['orders'], batchSize: 100 }),
      "group 'audit': batchSize above 10 needs batchingWindowSeconds ≥ 1 (given batchSize 100, batchingWindowSeconds 0)",
    ],
    [
      'a batch size above the event source maximum',
      withGroup({ subscribe: ['orders'], batchSize: 20_000, batchingWindowSeconds: 5 }),
      "group 'audit': batchSize must be a whole number from 1 to 10000 (given 20000)",
    ],
    [
      'a batching window on a FIFO group',
      withGroup({ subscribe: ['ledger.fifo'], batchingWindowSeconds: 5 }),
      "group 'audit': FIFO queues take no batching window (given batchingWindowSeconds 5); remove it",
    ],
    [
      'a visibility timeout below the function timeout',
      withGroup({ subscribe: ['orders'], timeoutSeconds: 60, visibilityTimeoutSeconds: 30 }),
      "group 'audit': visibilityTimeoutSeconds must be at least timeoutSeconds (given 30 < 60); AWS recommends 6 × timeout = 360",
    ],
    [
      'maxConcurrency below the event source minimum',
      withGroup({ subscribe: ['orders'], maxConcurrency: 1 }),
      "group 'audit': maxConcurrency must be a whole number from 2 to 1000 (given 1)",
    ],
    [
      'a function timeout above 15 minutes',
      withGroup({ subscribe: ['orders'], timeoutSeconds: 901 }),
      "group 'audit': timeoutSeconds must be a whole number from 1 to 900 seconds (given 901)",
    ],
    [
      'a misspelt option',
      withGroup({ subscribe: ['orders'], batchsize: 5 }),
      "group 'audit': unknown option 'batchsize' (did you mean 'batchSize'?)",
    ],
    [
      'an unknown filter scope',
      withGroup({ subscribe: ['orders'], filterScope: 'Body' }),
      "group 'audit': filterScope must be 'MessageAttributes' or 'MessageBody' (given \"Body\")",
    ],
    [
      'an empty filter',
      withGroup({ subscribe: ['orders'], filter: {} }),
      "group 'audit': filter must be a non-empty SNS filter policy object, e.g. { type: ['OrderPlaced'] }",
    ],
  ])('rejects %s, naming the entry, the rule and the value', (_name, definition, message) => {
    expect(issuesOf(definition)).toContain(message);
  });

  it('lists every issue at once, in a message that points at infra/topology.ts', () => {
    const definition = withGroup({ subscribe: ['refunds'], maxReceiveCount: 0 });
    expect(() => resolveTopology(definition)).toThrow(
      /^Invalid topology \(infra\/topology.ts\):\n {2}- group 'audit'/,
    );
    expect(issuesOf(definition)).toHaveLength(2);
  });
});
