/**
 * The AWS service limits fanout works within, in one place. Each names the service rule it mirrors.
 */

/** SNS: the default largest message (body plus message attributes), in bytes (256 KiB). */
export const SNS_DEFAULT_MAX_MESSAGE_BYTES = 262_144;
/** SNS: entries in one PublishBatch call. */
export const SNS_MAX_BATCH_ENTRIES = 10;
/** SQS: message attributes on one message (raw SNS delivery passes them through, so SNS too). */
export const MAX_MESSAGE_ATTRIBUTES = 10;
/**
 * SQS: the largest message, and the largest SendMessageBatch request in all, in bytes, on a queue
 * with the default `MaximumMessageSize` (emulators keep 256 KiB).
 */
export const SQS_MAX_MESSAGE_BYTES = 262_144;
/** SQS: entries in one SendMessageBatch / ChangeMessageVisibilityBatch / DeleteMessageBatch call. */
export const SQS_MAX_BATCH_ENTRIES = 10;
/** SQS: the longest visibility timeout, in seconds (12 hours). */
export const SQS_MAX_VISIBILITY_TIMEOUT_SECONDS = 43_200;
/** DynamoDB: requests in one BatchWriteItem call. */
export const DYNAMODB_MAX_BATCH_WRITE_ITEMS = 25;
/** DynamoDB: the longest partition key value, in bytes. */
export const MAX_PARTITION_KEY_BYTES = 2048;
