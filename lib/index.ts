/**
 * fanout's runtime library: what runs inside a Lambda consumer or any publisher.
 * Everything public is exported from here.
 */
export * from './aws-limits.ts';
export { type BackoffOptions, nackVisibilityTimeout } from './backoff.ts';
export { type BatchHandler, consumer } from './consumer/consumer.ts';
export type {
  ConsumerOptions,
  HandlerContext,
  IdempotencyOptions,
  MessageHandler,
  TypeRoute,
  TypeRoutes,
} from './consumer/options.ts';
export { OUTCOME_SPAN_ATTRIBUTE, type TraceOutcome } from './consumer/record-span.ts';
export { type CurrentMessage, currentMessage } from './current-message.ts';
export {
  DeadLetterFormatError,
  type DeadLetterReason,
  deadLetterReason,
  POISON_DETAIL_ATTRIBUTE,
  POISON_GROUP_ATTRIBUTE,
  POISON_REASON_ATTRIBUTE,
  redriveMessage,
  sqsMessageBytes,
} from './dead-letter-format.ts';
export { createEnvelope, type Envelope, type EnvelopeInput, isEnvelope } from './envelope.ts';
export {
  DEAD_LETTER_MAX_MESSAGE_BYTES_VARIABLE,
  DEAD_LETTER_QUEUE_URL_VARIABLE,
  GROUP_VARIABLE,
  IDEMPOTENCY_TABLE_VARIABLE,
  PAYLOAD_BUCKET_VARIABLE,
  SOURCE_VARIABLE,
  topicArn,
  topicArnVariable,
} from './environment.ts';
export {
  ConfigError,
  DeadlineExceededError,
  FanoutError,
  IdempotencyKeyError,
  IdempotencyStoreError,
  MessageTooLargeError,
  PayloadUnavailableError,
  PoisonMessageError,
  type PoisonReason,
  PublishFailedError,
  PublishValidationError,
} from './errors.ts';
export { handlerFileCheck } from './handler-files.ts';
export {
  type ClaimResult,
  IdempotencyStore,
  type IdempotencyStoreOptions,
  type KeyWrite,
  payloadHash,
} from './idempotency-store.ts';
export {
  createS3Client,
  fetchPayload,
  type LargePayloadOptions,
  type OffloadMode,
  PayloadOffloader,
  resolvePayload,
} from './payload-offload.ts';
export {
  EXTENDED_PAYLOAD_SIZE_ATTRIBUTE,
  findPointer,
  LEGACY_PAYLOAD_SIZE_ATTRIBUTE,
  type PayloadPointer,
  POINTER_CLASS,
  parsePointerBody,
  pointerBody,
} from './payload-pointer.ts';
export {
  chunkEntries,
  Publisher,
  type PublisherOptions,
  type PublishInput,
  type PublishResult,
} from './publisher.ts';
export { createSqsClient, parseQueueArn, queueUrlFromArn } from './queue-address.ts';
export {
  moveTasksUnsupported,
  type QueueDepth,
  readAllMessages,
  readQueueDepth,
  receiveUpTo,
  releaseMessages,
} from './queue-inspection.ts';
export { type DecodedRecord, type Delivery, decodeRecord } from './record-decoder.ts';
export { prefixed, RESOURCE_PREFIX_VARIABLE, resourcePrefix } from './resource-names.ts';
export { outputDescription, outputKey, parseOutputDescription } from './stack-outputs.ts';
export { BATCH_CHANNEL, type BatchCounts, type BatchReport, type TelemetryOptions } from './telemetry.ts';
export {
  defineTopology,
  type FilterPolicy,
  type Group,
  type GroupDefinition,
  type ResolveOptions,
  resolveTopology,
  type Topic,
  type TopicDefinition,
  type Topology,
  type TopologyDefinition,
  TopologyError,
} from './topology.ts';
export {
  currentTraceId,
  EVENT_ID_SPAN_ATTRIBUTE,
  TRACEPARENT_ATTRIBUTE,
  TRACESTATE_ATTRIBUTE,
} from './trace-context.ts';
