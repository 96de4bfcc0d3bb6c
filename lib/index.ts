/**
 * fanout's runtime library: what runs inside a Lambda consumer or any publisher.
 * Everything public is exported from here.
 */
export {
  type BackoffOptions,
  nackVisibilityTimeout,
  SQS_MAX_VISIBILITY_TIMEOUT_SECONDS,
} from './backoff.ts';
export {
  type ConsumerOptions,
  consumer,
  type HandlerContext,
  type IdempotencyOptions,
  type MessageHandler,
  type TypeRoute,
} from './consumer.ts';
export {
  POISON_DETAIL_ATTRIBUTE,
  POISON_GROUP_ATTRIBUTE,
  POISON_REASON_ATTRIBUTE,
} from './dead-letter-sender.ts';
export { createEnvelope, type Envelope, type EnvelopeInput, isEnvelope } from './envelope.ts';
export {
  ConfigError,
  FanoutError,
  IdempotencyKeyError,
  MessageTooLargeError,
  PoisonMessageError,
  type PoisonReason,
  PublishFailedError,
  PublishValidationError,
} from './errors.ts';
export {
  type ClaimResult,
  IdempotencyStore,
  type IdempotencyStoreOptions,
  MAX_PARTITION_KEY_BYTES,
  payloadHash,
  type Settlement,
} from './idempotency-store.ts';
export { currentHandlingContext, type HandlingContext } from './message-context.ts';
export {
  MAX_MESSAGE_ATTRIBUTES,
  Publisher,
  type PublisherOptions,
  type PublishInput,
  type PublishResult,
  SNS_DEFAULT_MAX_MESSAGE_BYTES,
  SNS_MAX_BATCH_ENTRIES,
} from './publisher.ts';
export { createSqsClient, parseQueueArn, queueUrlFromArn } from './queue-address.ts';
export { type DecodedRecord, type Delivery, decodeRecord } from './record-decoder.ts';
export { BATCH_CHANNEL, type BatchCounts, type BatchReport, type TelemetryOptions } from './telemetry.ts';
export {
  defineTopology,
  type FilterPolicy,
  type Group,
  type GroupDefinition,
  resolveTopology,
  type Topic,
  type TopicDefinition,
  type Topology,
  type TopologyDefinition,
  TopologyError,
} from './topology.ts';
