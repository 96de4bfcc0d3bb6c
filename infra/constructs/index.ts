/**
 * fanout's CDK constructs (`fanout/cdk`): put a whole topology in your own stack with {@link FanoutTopology},
 * or build a single {@link ConsumerGroup} on topics and a table you already have.
 * Needs the peer dependencies `aws-cdk-lib` and `constructs`.
 */
export { AlarmTopic, type AlarmTopicProps } from './alarm-topic.ts';
export {
  ConsumerGroup,
  type ConsumerGroupProps,
  type GroupSettings,
  type PayloadAccess,
} from './consumer-group.ts';
export { FanoutTopic, type FanoutTopicProps } from './fanout-topic.ts';
export {
  FanoutTopology,
  type FanoutTopologyProps,
  type GroupOverrides,
  payloadExpirationDays,
} from './fanout-topology.ts';
export { GroupsDashboard, type GroupsDashboardProps } from './groups-dashboard.ts';
export { PayloadBucket, type PayloadBucketProps } from './payload-bucket.ts';
export {
  grantKeyPrefix,
  IDEMPOTENCY_TABLE_ACTIONS,
  PrefixedTable,
  type PrefixedTableProps,
} from './prefixed-table.ts';
