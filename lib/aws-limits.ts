/**
 * The AWS service limits fanout works within, in one place. Each names the service rule it mirrors.
 */

/** SNS: the default largest message (body plus message attributes), in bytes (256 KiB). */
export const SNS_DEFAULT_MAX_MESSAGE_BYTES = 262_144;
/** The largest `MaximumMessageSize` a topic can be raised to (1 MiB). */
export const SNS_RAISED_MAX_MESSAGE_BYTES = 1_048_576;
/** The most subscriptions a topic may have once its `MaximumMessageSize` is above 256 KiB. */
export const SNS_RAISED_SIZE_MAX_SUBSCRIPTIONS = 100;
/** SNS: entries in one PublishBatch call. */
export const SNS_MAX_BATCH_ENTRIES = 10;
/** SQS: message attributes on one message (raw SNS delivery passes them through, so SNS too). */
export const MAX_MESSAGE_ATTRIBUTES = 10;
/**
 * SQS: the largest message, and the largest SendMessageBatch request in all, in bytes, on a queue
 * with the default `MaximumMessageSize` (emulators keep 256 KiB).
 */
export const SQS_MAX_MESSAGE_BYTES = 262_144;
/**
 * SQS: the largest `MaximumMessageSize` a queue can have, and the largest SendMessageBatch request on such a
 * queue, in bytes (1 MiB; AWS's default for queues created since the 2025 raise, not for older queues).
 */
export const SQS_RAISED_MAX_MESSAGE_BYTES = 1_048_576;
/** SQS: entries in one SendMessageBatch / ChangeMessageVisibilityBatch / DeleteMessageBatch call. */
export const SQS_MAX_BATCH_ENTRIES = 10;
/** SQS: the longest visibility timeout, in seconds (12 hours). */
export const SQS_MAX_VISIBILITY_TIMEOUT_SECONDS = 43_200;
/** SNS: keys in one filter policy. */
export const SNS_FILTER_POLICY_MAX_KEYS = 5;
/** SNS: value combinations one filter policy may expand to. */
export const SNS_FILTER_POLICY_MAX_COMBINATIONS = 150;
/** SNS: the largest filter policy, in bytes (256 KiB). */
export const SNS_FILTER_POLICY_MAX_BYTES = 262_144;
/** DynamoDB: requests in one BatchWriteItem call. */
export const DYNAMODB_MAX_BATCH_WRITE_ITEMS = 25;
/** DynamoDB: the longest partition key value, in bytes. */
export const MAX_PARTITION_KEY_BYTES = 2048;
/** SNS: the smallest `MaximumMessageSize` a topic can be set to, in bytes. */
export const SNS_MIN_MAX_MESSAGE_BYTES = 1024;
/** SQS: receives before the redrive policy moves a message (`maxReceiveCount`): at most this many. */
export const SQS_MAX_RECEIVE_COUNT = 1000;
/** SQS: the retention of a queue whose `MessageRetentionPeriod` is not set, in days. */
export const SQS_DEFAULT_RETENTION_DAYS = 4;
/** SQS: the least `MaximumMessageSize` of a queue, in bytes. */
export const SQS_MIN_MAX_MESSAGE_BYTES = 1024;
/** SQS: the longest retention of a queue, in days (14 days = 1,209,600 s). */
export const SQS_MAX_RETENTION_DAYS = 14;
/** Lambda SQS event source: the largest batch of a standard queue. */
export const LAMBDA_SQS_MAX_BATCH_SIZE = 10_000;
/** Lambda SQS event source: the largest batch of a FIFO queue, and of a standard one without a batching window. */
export const LAMBDA_SQS_MAX_BATCH_SIZE_UNBATCHED = 10;
/** Lambda SQS event source: the longest batching window, in seconds. */
export const LAMBDA_SQS_MAX_BATCHING_WINDOW_SECONDS = 300;
/** Lambda SQS event source: the least and most `maximumConcurrency`. */
export const LAMBDA_SQS_MAX_CONCURRENCY = { min: 2, max: 1000 } as const;
/** Lambda: the longest function timeout, in seconds (15 minutes). */
export const LAMBDA_MAX_TIMEOUT_SECONDS = 900;
/** Lambda: the least and most memory of a function, in MiB. */
export const LAMBDA_MEMORY_MIB = { min: 128, max: 10_240 } as const;
/** SQS: the longest retention of a queue, in seconds (no message is older: the largest age an alarm can watch). */
export const SQS_MAX_RETENTION_SECONDS = SQS_MAX_RETENTION_DAYS * 86_400;
