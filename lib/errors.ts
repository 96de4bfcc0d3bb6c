/**
 * Typed errors of fanout. Every error says what was wrong, where, and what to do,
 * and carries a stable `code` that programs can switch on.
 */

/** Base class of every error fanout throws on purpose. */
export class FanoutError extends Error {
  /** A stable, machine-readable code such as `FANOUT_CONFIG`. */
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An option given to a fanout factory or client is missing or invalid. */
export class ConfigError extends FanoutError {
  /** The option at fault, as a dotted path (`idempotency.tableName`). */
  readonly field: string;

  constructor(field: string, problem: string, fix: string) {
    super('FANOUT_CONFIG', `${field}: ${problem}. ${fix}`);
    this.field = field;
  }
}

/** A message to publish breaks an SNS or SQS rule (size, attributes, FIFO ids). */
export class PublishValidationError extends FanoutError {
  /** The field of the message at fault (`groupId`, `attributes`, …). */
  readonly field: string;

  constructor(field: string, message: string) {
    super('FANOUT_PUBLISH_INVALID', message);
    this.field = field;
  }
}

/** A message is larger than the topic accepts. Nothing is truncated: the message is not sent. */
export class MessageTooLargeError extends PublishValidationError {
  /** Size of the message as SNS counts it (body plus attributes), in bytes. */
  readonly size: number;
  /** The limit it exceeds, in bytes. */
  readonly limit: number;

  constructor(id: string, size: number, limit: number) {
    super(
      'data',
      `message '${id}' is ${size} bytes (body plus message attributes) but the topic accepts at most ${limit} bytes. ` +
        "Turn on the topic's largePayloads (Publisher option largePayloads: { bucket }) so larger payloads go through S3, or raise maxMessageBytes if the topic allows it.",
    );
    this.name = 'MessageTooLargeError';
    this.size = size;
    this.limit = limit;
  }
}

/** SNS rejected an entry of a publish, or kept failing it after every retry. */
export class PublishFailedError extends FanoutError {
  /** The envelope id of the message that was not published. */
  readonly messageId: string;
  /** SNS's error code, such as `InternalError` or `InvalidParameter`. */
  readonly awsCode: string;
  /** True when SNS blamed the request (not retryable). */
  readonly senderFault: boolean;

  constructor(messageId: string, awsCode: string, detail: string, senderFault: boolean) {
    super(
      'FANOUT_PUBLISH_FAILED',
      `message '${messageId}' was not published: ${awsCode}: ${detail}` +
        (senderFault ? ' (the request was rejected; fix it before retrying)' : ' (gave up after retries)'),
    );
    this.messageId = messageId;
    this.awsCode = awsCode;
    this.senderFault = senderFault;
  }
}

/** Why a record is poison: it can never succeed, so it goes to the DLQ at once. */
export type PoisonReason =
  | 'unparseable-body'
  | 'invalid-envelope'
  | 'schema-invalid'
  | 'unknown-type'
  | 'invalid-idempotency-key'
  | 'payload-mismatch'
  /** The message points at an offloaded payload (S3) whose object does not exist. */
  | 'payload-missing';

/**
 * A record that retrying cannot fix. The consumer sends it to the group's DLQ with the
 * reason in message attributes and acks it. A handler may throw it on purpose too.
 */
export class PoisonMessageError extends FanoutError {
  /** Machine-readable reason, also sent as the `fanout.poison.reason` attribute. */
  readonly reason: PoisonReason | 'rejected-by-handler';

  constructor(reason: PoisonReason | 'rejected-by-handler', message: string) {
    super('FANOUT_POISON', message);
    this.reason = reason;
  }
}

/**
 * An offloaded payload could not be read or written for a reason that may pass (throttling, a 5xx, a
 * timeout): the record is nacked and retried, the publish fails for that message.
 */
export class PayloadUnavailableError extends FanoutError {
  readonly bucket: string;
  readonly key: string;

  constructor(action: 'read' | 'write', bucket: string, key: string, cause: unknown) {
    const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(
      'FANOUT_PAYLOAD_UNAVAILABLE',
      `could not ${action} the offloaded payload s3://${bucket}/${key} (${why})` +
        (action === 'read' ? '; the record is nacked and retried' : ''),
      { cause },
    );
    this.bucket = bucket;
    this.key = key;
  }
}

/** The idempotency key derived for a record cannot be stored in DynamoDB. */
export class IdempotencyKeyError extends FanoutError {
  constructor(message: string) {
    super('FANOUT_IDEMPOTENCY_KEY', message);
  }
}

/** The idempotency store could not do what was asked (a key kept changing, a write was too large). */
export class IdempotencyStoreError extends FanoutError {
  constructor(message: string) {
    super('FANOUT_IDEMPOTENCY_STORE', message);
  }
}

/**
 * An AWS call of the consumer was aborted because its phase of the invocation ended (the consumer
 * answers before Lambda's deadline instead of waiting for a slow call).
 */
export class DeadlineExceededError extends FanoutError {
  constructor(phase: string) {
    super('FANOUT_DEADLINE', `aborted: the invocation's ${phase} phase ended before the AWS call answered`);
  }
}
