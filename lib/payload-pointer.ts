/**
 * The pointer format of AWS's payload-offloading libraries (the Java and Python SQS/SNS extended
 * clients), so that a message offloaded by any of them is read by the others. A message whose payload
 * is in S3 carries:
 *
 * - the body `["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"…","s3Key":"…"}]`
 *   (Jackson's wrapper-array form of the Java class; the old Java SQS client wrote the class name
 *   `com.amazon.sqs.javamessaging.MessageS3Pointer`, read here too);
 * - the message attribute `ExtendedPayloadSize` (older clients: `SQSLargePayloadSize`), data type
 *   `Number`, the payload's size in bytes. Its presence is what marks the body as a pointer.
 *
 * See docs/LARGE-MESSAGES.md for the sources this was checked against.
 */
import type { MessageAttributeValue } from '@aws-sdk/client-sns';
import { PoisonMessageError } from './errors.ts';

/** The marker attribute the extended clients set on an offloaded message (value: payload bytes). */
export const EXTENDED_PAYLOAD_SIZE_ATTRIBUTE = 'ExtendedPayloadSize';
/** The marker attribute of older extended clients, read like {@link EXTENDED_PAYLOAD_SIZE_ATTRIBUTE}. */
export const LEGACY_PAYLOAD_SIZE_ATTRIBUTE = 'SQSLargePayloadSize';
/** The class name at the head of a pointer body. */
export const POINTER_CLASS = 'software.amazon.payloadoffloading.PayloadS3Pointer';
/** The class name older Java SQS extended clients wrote. */
export const LEGACY_POINTER_CLASS = 'com.amazon.sqs.javamessaging.MessageS3Pointer';

/** Where an offloaded payload is. */
export interface PayloadPointer {
  readonly bucket: string;
  readonly key: string;
}

/** The message body that points at `pointer`, exactly as the extended clients write it. */
export function pointerBody(pointer: PayloadPointer): string {
  return JSON.stringify([POINTER_CLASS, { s3BucketName: pointer.bucket, s3Key: pointer.key }]);
}

/** The marker attribute of an offloaded message whose payload is `payloadBytes` long. */
export function pointerAttribute(payloadBytes: number): Record<string, MessageAttributeValue> {
  return { [EXTENDED_PAYLOAD_SIZE_ATTRIBUTE]: { DataType: 'Number', StringValue: String(payloadBytes) } };
}

/** The pointer in a body, or `undefined` when the body is not a pointer. */
export function parsePointerBody(body: string): PayloadPointer | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) return undefined;
  const [kind, fields] = parsed as [unknown, Record<string, unknown> | null];
  if (!isPointerClass(kind)) return undefined;
  if (typeof fields?.s3BucketName !== 'string' || typeof fields.s3Key !== 'string') return undefined;
  if (fields.s3BucketName === '' || fields.s3Key === '') return undefined;
  return { bucket: fields.s3BucketName, key: fields.s3Key };
}

/**
 * The class names a pointer may carry: {@link POINTER_CLASS} (also under a shading prefix, as in
 * `awsv2.repackaged.software.amazon.payloadoffloading.PayloadS3Pointer`) and {@link LEGACY_POINTER_CLASS}.
 */
function isPointerClass(kind: unknown): boolean {
  return (
    typeof kind === 'string' &&
    (kind === POINTER_CLASS || kind.endsWith(`.${POINTER_CLASS}`) || kind === LEGACY_POINTER_CLASS)
  );
}

/** A record's body and attributes, in the Lambda record's shape. */
interface RecordLike {
  readonly body: string;
  readonly messageAttributes?: Readonly<Record<string, unknown>>;
}

/** A pointer found in a record, and how to put the payload back where the pointer was. */
export interface FoundPointer {
  readonly pointer: PayloadPointer;
  /** The record's body with the payload in place of the pointer. */
  readonly withPayload: (payload: string) => string;
}

/**
 * The payload pointer a record carries, or `undefined` when the record carries its payload inline.
 * Raw delivery (the marker is a message attribute of the record) and the SNS notification wrapper
 * (the marker is in the notification's `MessageAttributes`, the pointer in its `Message`) are both read.
 * @throws PoisonMessageError (`unparseable-body`) when the marker is there but the body is no pointer.
 */
export function findPointer(record: RecordLike): FoundPointer | undefined {
  if (hasMarker(record.messageAttributes)) {
    return { pointer: requirePointer(record.body, 'the message body'), withPayload: (payload) => payload };
  }
  const notification = snsNotification(record.body);
  if (notification && hasMarker(notification.MessageAttributes)) {
    const pointer = requirePointer(notification.Message, "the SNS notification's Message");
    return {
      pointer,
      withPayload: (payload) => JSON.stringify({ ...notification, Message: payload }),
    };
  }
  return undefined;
}

function hasMarker(attributes: Readonly<Record<string, unknown>> | undefined): boolean {
  return (
    attributes !== undefined &&
    (EXTENDED_PAYLOAD_SIZE_ATTRIBUTE in attributes || LEGACY_PAYLOAD_SIZE_ATTRIBUTE in attributes)
  );
}

function requirePointer(body: string, where: string): PayloadPointer {
  const pointer = parsePointerBody(body);
  if (!pointer) {
    throw new PoisonMessageError(
      'unparseable-body',
      `${where} has the ${EXTENDED_PAYLOAD_SIZE_ATTRIBUTE} attribute of an offloaded payload but is not a payload pointer ` +
        `(expected ["${POINTER_CLASS}",{"s3BucketName":…,"s3Key":…}]); publish large messages through fanout's publisher or an AWS extended client`,
    );
  }
  return pointer;
}

function snsNotification(
  body: string,
): { Message: string; MessageAttributes?: Record<string, unknown> } | undefined {
  if (!body.includes('"Notification"')) return undefined;
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    if (parsed?.Type !== 'Notification' || typeof parsed.Message !== 'string') return undefined;
    return parsed as { Message: string; MessageAttributes?: Record<string, unknown> };
  } catch {
    return undefined;
  }
}
