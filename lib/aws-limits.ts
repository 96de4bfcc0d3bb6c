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
