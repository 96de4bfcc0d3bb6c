import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { describe, expect, it, onTestFinished } from 'vitest';
import { FanoutStack } from '../../infra/fanout-stack.ts';
import topology from '../../infra/topology.ts';
import { handlerFileCheck } from '../../lib/handler-files.ts';
import {
  type ResolveOptions,
  resolveTopology,
  type TopologyDefinition,
  TopologyError,
} from '../../lib/topology.ts';
import { startLocalStack } from '../../localstack/local-stack.ts';

const base: TopologyDefinition = {
  topics: { orders: {}, 'ledger.fifo': {} },
  groups: { audit: { subscribe: ['orders'] } },
};

function issuesOf(definition: unknown, options?: ResolveOptions): readonly string[] {
  try {
    resolveTopology(definition as TopologyDefinition, options);
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
    [
      'topic names whose ARN variables collide (found by an adversarial review)',
      { topics: { 'my-receipts': {}, my_receipts: {} }, groups: {} },
      "topic 'my_receipts': its ARN variable FANOUT_TOPIC_MY_RECEIPTS_ARN would also hold topic 'my-receipts' (names that differ only in '-', '_', '.' or case collide); rename one of them",
    ],
  ])('rejects %s, naming the entry, the rule and the value', (_name, definition, message) => {
    expect(issuesOf(definition)).toContain(message);
  });

  it('lists every issue at once, in a message that names the file the topology came from', () => {
    const definition = withGroup({ subscribe: ['refunds'], maxReceiveCount: 0 });
    expect(() => resolveTopology(definition, { source: 'src/shop-topology.ts' })).toThrow(
      /^Invalid topology \(src\/shop-topology.ts\):\n {2}- group 'audit'/,
    );
    expect(() => resolveTopology(definition)).toThrow(/^Invalid topology:\n {2}- group 'audit'/);
    expect(issuesOf(definition)).toHaveLength(2);
  });
});

describe('resolveTopology: publishes, environment, tracing, topic sizes', () => {
  it('resolves the new options with their defaults', () => {
    const { topics, groups } = resolveTopology(base);
    expect(groups[0]).toMatchObject({ publishes: [], environment: {}, tracing: true });
    expect(topics[0]).toMatchObject({ maxMessageSizeBytes: 262_144, largePayloads: false });
  });

  it.each([
    [
      'a publish to an unknown topic',
      withGroup({ subscribe: ['orders'], publishes: ['refunds'] }),
      "group 'audit': publishes to unknown topic 'refunds' (topics: orders, ledger.fifo)",
    ],
    [
      'a reserved environment variable',
      withGroup({ subscribe: ['orders'], environment: { FANOUT_GROUP: 'x' } }),
      "group 'audit': environment variable 'FANOUT_GROUP' is not allowed (names are letters, digits and '_'; FANOUT_* and AWS_* are reserved)",
    ],
    [
      'a non-string environment value',
      withGroup({ subscribe: ['orders'], environment: { LEVEL: 3 } }),
      "group 'audit': environment.LEVEL must be a string (given 3)",
    ],
    [
      'tracing that is not a boolean',
      withGroup({ subscribe: ['orders'], tracing: 'yes' }),
      'group \'audit\': tracing must be true or false (given "yes")',
    ],
    [
      'a topic size above 1 MiB',
      { topics: { orders: { maxMessageSizeBytes: 2_000_000 } }, groups: {} },
      "topic 'orders': maxMessageSizeBytes must be a whole number from 1024 to 1048576 (given 2000000); larger payloads need largePayloads: true",
    ],
  ])('rejects %s, naming the entry, the rule and the value', (_name, definition, message) => {
    expect(issuesOf(definition)).toContain(message);
  });

  it('allows at most 100 subscriptions on a topic raised above 256 KiB, as SNS does', () => {
    const groups = (n: number) =>
      Object.fromEntries(
        Array.from({ length: n }, (_, i) => [`g${i}`, { subscribe: ['big'], handler: 'functions/audit.ts' }]),
      );
    const topics = { big: { maxMessageSizeBytes: 1_048_576 } };
    expect(() => resolveTopology({ topics, groups: groups(100) } as TopologyDefinition)).not.toThrow();
    expect(issuesOf({ topics, groups: groups(101) })).toEqual([
      "topic 'big': maxMessageSizeBytes above 262144 allows at most 100 subscriptions (given 101 groups); lower it or use largePayloads",
    ]);
    expect(() =>
      resolveTopology({ topics: { big: {} }, groups: groups(101) } as TopologyDefinition),
    ).not.toThrow();
  });
});

describe('resolveTopology: SNS filter policies', () => {
  const withFilter = (filter: object, filterScope?: string) =>
    withGroup({ subscribe: ['orders'], filter, ...(filterScope ? { filterScope } : {}) });
  const values = (n: number, name = 'v') => Array.from({ length: n }, (_, i) => `${name}${i}`);

  it.each([
    [
      'a scalar instead of an array',
      withFilter({ type: 'OrderPlaced' }),
      `group 'audit': filter key 'type' must be an array of values (given "OrderPlaced"); write type: ["OrderPlaced"]`,
    ],
    [
      'a misspelt operator',
      withFilter({ type: [{ prefx: 'Order' }] }),
      `group 'audit': filter key 'type' uses unknown operator 'prefx' (given {"prefx":"Order"}); did you mean 'prefix'? SNS operators: prefix, suffix, equals-ignore-case, anything-but, numeric, exists, cidr`,
    ],
    [
      'an operator SNS does not have (wildcard is EventBridge only)',
      withFilter({ type: [{ wildcard: 'Order*' }] }),
      `group 'audit': filter key 'type' uses unknown operator 'wildcard' (given {"wildcard":"Order*"}); SNS operators: prefix, suffix, equals-ignore-case, anything-but, numeric, exists, cidr`,
    ],
    [
      'more than 5 keys',
      withFilter({
        type: ['A'],
        source: ['shop'],
        region: ['eu'],
        tier: ['gold'],
        channel: ['web'],
        country: ['fr'],
      }),
      `group 'audit': filter must have at most 5 keys (given 6: type, source, region, tier, channel, country); drop some and check them in the handler`,
    ],
    [
      'more than 150 value combinations',
      withFilter({ type: values(6, 'Type'), region: values(30, 'region-') }),
      `group 'audit': filter must have at most 150 value combinations (given 180 from type ×6, region ×30); list fewer values, or match them with prefix or anything-but`,
    ],
    [
      'a numeric comparison with a string',
      withFilter({ amount: [{ numeric: ['>', 'ten'] }] }),
      `group 'audit': filter key 'amount' has operator 'numeric', which takes a comparison (=, <, <=, >, >=) and a number, or a range from low to high, e.g. { numeric: [">=", 100] } or { numeric: [">", 0, "<=", 150] } (given {"numeric":[">","ten"]})`,
    ],
    [
      'an empty array',
      withFilter({ type: [] }),
      "group 'audit': filter key 'type' must list at least one value (given []); add a value, or remove the key to match any",
    ],
    [
      'a nested object on message attributes',
      withFilter({ data: { amount: [1] } }),
      `group 'audit': filter key 'data' is a nested object (given {"amount":[1]}); message attributes take an array of values, nesting needs filterScope: 'MessageBody'`,
    ],
    [
      'two operators in one object',
      withFilter({ type: [{ prefix: 'Order', suffix: 'Placed' }] }),
      `group 'audit': filter key 'type' has an operator object with 2 operators (given {"prefix":"Order","suffix":"Placed"}); put exactly one operator in each object, e.g. [{ prefix: "a" }, { suffix: "b" }]`,
    ],
    [
      'exists that is not a boolean',
      withFilter({ coupon: [{ exists: 'yes' }] }),
      `group 'audit': filter key 'coupon' has operator 'exists', which takes true or false, e.g. { exists: true } (given {"exists":"yes"})`,
    ],
    [
      'a nested array as a value',
      withFilter({ type: [['A', 'B']] }),
      `group 'audit': filter key 'type' has a value SNS cannot match (given ["A","B"]); use a string, a number, true, false, null or an operator object like { prefix: "Order" }`,
    ],
    [
      'a nested key that is not an array, in the body scope (the path is named)',
      withFilter({ data: { status: 'paid' } }, 'MessageBody'),
      `group 'audit': filter key 'data.status' must be an array of values (given "paid"); write status: ["paid"]`,
    ],
    [
      'an $or with one branch',
      withFilter({ $or: [{ type: ['A'] }] }),
      `group 'audit': filter key '$or' must list at least 2 non-empty policies (given [{"type":["A"]}]); e.g. $or: [{ type: ["OrderPlaced"] }, { source: ["shop"] }]`,
    ],
  ])('rejects %s, naming the group, the key, the value and the fix', (_name, definition, message) => {
    expect(issuesOf(definition)).toContain(message);
  });

  it.each([
    ['numeric with an unknown comparison', { numeric: ['~', 1] }],
    ['numeric without its number', { numeric: ['>'] }],
    ['numeric as a bare number', { numeric: 5 }],
    ['a numeric range from high to low', { numeric: ['>', 100, '<', 10] }],
    ['a numeric range with two lower bounds', { numeric: ['>', 1, '>', 2] }],
    ['a numeric range with the upper bound first', { numeric: ['<', 10, '>', 1] }],
    ['prefix that is not a string', { prefix: 5 }],
    ['equals-ignore-case that is a list', { 'equals-ignore-case': ['a'] }],
    ['anything-but with an empty list', { 'anything-but': [] }],
    ['anything-but with an unsupported nested operator', { 'anything-but': { suffix: 'ed' } }],
    ['cidr without a mask', { cidr: '10.0.0.0' }],
    ['cidr with an octet above 255', { cidr: '10.0.0.300/24' }],
    ['cidr with a mask above 32', { cidr: '10.0.0.0/33' }],
  ])('rejects %s, naming the group, the key and the operator', (_name, operator) => {
    const [issue, ...rest] = issuesOf(withFilter({ amount: [operator] }));
    expect(rest).toEqual([]);
    const [op] = Object.keys(operator);
    expect(issue).toMatch(
      new RegExp(`^group 'audit': filter key 'amount' has operator '${op}', which takes .* \\(given .*\\)$`),
    );
    expect(issue).toContain(JSON.stringify(operator));
  });

  it('accepts a complex valid policy: prefix, anything-but, a numeric range, exists, cidr, $or', () => {
    const filter = {
      type: [{ prefix: 'Order' }, 'PaymentCaptured'],
      status: [{ 'anything-but': ['cancelled', 'refunded'] }],
      amount: [{ numeric: ['>=', 0, '<', 1000] }, { numeric: ['=', 5000] }],
      coupon: [{ exists: true }],
      $or: [{ ip: [{ cidr: '10.0.0.0/24' }, { cidr: '2001:db8::/32' }] }, { channel: [{ suffix: '-web' }] }],
    };
    const { groups } = resolveTopology(withFilter(filter));
    expect(groups[0].filter).toEqual(filter);
    expect(() =>
      resolveTopology(
        withFilter({
          status: [{ 'anything-but': { prefix: 'test-' } }, { 'anything-but': 3 }],
          region: [{ 'equals-ignore-case': 'EU' }, null, true, 1.5],
        }),
      ),
    ).not.toThrow();
  });

  it('accepts a nested policy on the message body, and refuses the same policy on attributes', () => {
    const filter = {
      type: ['OrderPlaced'],
      data: { amount: [{ numeric: ['>', 100] }], customer: { tier: ['gold', 'silver'] } },
    };
    expect(resolveTopology(withFilter(filter, 'MessageBody')).groups[0].filterScope).toBe('MessageBody');
    expect(issuesOf(withFilter(filter))).toEqual([
      expect.stringMatching(/^group 'audit': filter key 'data' is a nested object/),
    ]);
  });

  it('counts combinations as SNS does: each array times its nesting depth, $or branches added', () => {
    // 80 values at the top level: 80 combinations; the same 80 one level down count twice (160).
    expect(() => resolveTopology(withFilter({ type: values(80) }, 'MessageBody'))).not.toThrow();
    expect(issuesOf(withFilter({ data: { type: values(80) } }, 'MessageBody'))).toEqual([
      expect.stringMatching(
        /^group 'audit': filter must have at most 150 value combinations \(given 160 from data\.type ×160\)/,
      ),
    ]);
    // The SNS guide's example: 4 values three levels down, 3 values two levels down: 3 × 4 × 2 × 3 = 72.
    const guide = { key_a: { key_b: { key_c: values(4) } }, key_d: { key_e: values(3) } };
    expect(() => resolveTopology(withFilter(guide, 'MessageBody'))).not.toThrow();
    // $or: 75 + 75 = 150 passes (a product would be 5625); 76 + 75 does not.
    expect(() => resolveTopology(withFilter({ $or: [{ a: values(75) }, { b: values(75) }] }))).not.toThrow();
    expect(issuesOf(withFilter({ $or: [{ a: values(76) }, { b: values(75) }] }))).toEqual([
      expect.stringMatching(
        /^group 'audit': filter .* \(given 151 from \$or\[0\]\.a ×76, \$or\[1\]\.b ×75\)/,
      ),
    ]);
  });

  it('accepts the 150-combination and 5-key limits exactly', () => {
    expect(() =>
      resolveTopology(withFilter({ a: values(5), b: values(5), c: values(6), d: ['x'], e: ['y'] })),
    ).not.toThrow();
  });
});

describe('resolveTopology: handler files (the check synth and local start run)', () => {
  const projectRoot = path.resolve(import.meta.dirname, '../..');
  const checkHandlerFile = handlerFileCheck(projectRoot);

  it('accepts the example topology, every handler being there', () => {
    expect(resolveTopology(topology, { checkHandlerFile }).groups).toHaveLength(4);
  });

  it('rejects a handler file that does not exist, naming the group, the path and the fix', () => {
    const definition = withGroup({ subscribe: ['orders'], handler: 'functions/billing.ts' });
    expect(issuesOf(definition, { checkHandlerFile })).toEqual([
      `group 'audit': handler functions/billing.ts does not exist (looked for ${path.join(projectRoot, 'functions/billing.ts')}); create it exporting handler = consumer({ … }), or set handler to an existing module`,
    ]);
  });

  it('checks the default path functions/<group>.ts too', () => {
    const definition = { topics: base.topics, groups: { billing: { subscribe: ['orders'] } } };
    expect(issuesOf(definition, { checkHandlerFile })).toEqual([
      expect.stringMatching(/^group 'billing': handler functions\/billing\.ts does not exist \(looked for /),
    ]);
  });

  it('rejects a handler path that is a directory', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'fanout-handlers-'));
    onTestFinished(() => rmSync(root, { recursive: true, force: true }));
    mkdirSync(path.join(root, 'functions', 'audit.ts'), { recursive: true });
    writeFileSync(path.join(root, 'functions', 'billing.ts'), 'export const handler = () => {};\n');
    const definition = {
      topics: base.topics,
      groups: { audit: { subscribe: ['orders'] }, billing: { subscribe: ['orders'] } },
    };
    expect(issuesOf(definition, { checkHandlerFile: handlerFileCheck(root) })).toEqual([
      `group 'audit': handler functions/audit.ts is a directory, not a module (${path.join(root, 'functions', 'audit.ts')}); create it exporting handler = consumer({ … }), or set handler to an existing module`,
    ]);
  });

  it('does not look for files without the check (as in Lambda, where only the bundle exists)', () => {
    const definition = withGroup({ subscribe: ['orders'], handler: 'functions/billing.ts' });
    expect(resolveTopology(definition).groups[0].handler).toBe('functions/billing.ts');
  });
});

describe('a handler file that does not exist fails synth and local start', () => {
  const projectRoot = path.resolve(import.meta.dirname, '../..');
  const withBilling = { ...topology, groups: { ...topology.groups, billing: { subscribe: ['payments'] } } };
  const message =
    /group 'billing': handler functions\/billing\.ts does not exist \(looked for .*\); create it/;

  it('at synth (new FanoutStack)', () => {
    expect(() => new FanoutStack(new App(), 'Fanout', { topology: withBilling, projectRoot })).toThrow(
      message,
    );
  });

  it('at start (startLocalStack), before anything is started', async () => {
    await expect(startLocalStack({ topology: withBilling, projectRoot, embedded: false })).rejects.toThrow(
      message,
    );
  });
});
