/**
 * What a dead-letter copy looks like: the one definition shared by the consumer (which writes poison
 * records to the DLQ) and the CLI (`fanout dlq peek` reads the reason, `fanout dlq redrive` restores the
 * original). Pure functions only: no SDK calls.
 *
 * ## The copy
 *
 * The body is never changed. The message attributes are fanout's marks plus the original attributes:
 *
 * | attribute | value | when |
 * | --- | --- | --- |
 * | `fanout.poison.reason` | why it was dead-lettered (`schema-invalid`, …) | always (the mark of a copy) |
 * | `fanout.poison.detail` | the error message, ≤ 1,000 characters, trimmed to fit the size limit | when not empty |
 * | `fanout.group` | the consumer group that gave up | when given |
 * | `fanout.original-message-id` | the SQS message id of the record | when given |
 * | `fanout.original-attributes` | every original attribute, packed (below) | packed form only |
 *
 * **Natural form** (the usual case): when the record has at most {@link MAX_NATURAL_ATTRIBUTES} (6)
 * attributes and none of their names starts with `fanout.`, the originals are kept as they are, readable
 * in any console: 4 marks + 6 originals = SQS's 10.
 *
 * **Packed form**: otherwise (7 to 10 originals, or an original named `fanout.…`), ALL originals go into
 * the one `fanout.original-attributes` attribute, as JSON in the Lambda record's own shape,
 * `{ "<name>": { "dataType": "…", "stringValue": "…" } | { "dataType": "Binary…", "binaryValue": "<base64>" } }`,
 * so nothing is dropped and every name, data type (custom labels included) and value comes back exactly.
 *
 * **Size**: counted as SQS counts it (body + per attribute: name + data type + value bytes). Only the detail
 * gives way: it is cut to fit `maxMessageBytes`, ending in `…` when cut, and left out when nothing of it
 * fits. Reason, group, message id, body and originals are never trimmed. When even they do not fit (a
 * record within a few hundred bytes of the limit), the copy is returned without its detail and larger than
 * the limit: SQS refuses it (a sender fault), so check `sqsMessageBytes(copy) > limit` and leave such a
 * record nacked; the queue's redrive policy then dead-letters the original exactly (as `max-receives`).
 *
 * ## Plain-JSON bodies and their idempotency key
 *
 * {@link decodeRecord} derives a plain body's event id from the `id` attribute, else from the SQS message
 * id, which is new after a redrive. {@link redriveMessage} keeps it stable: when the body decodes as
 * `plain`, there is no `id` attribute and the original message id is known, it adds `id` = that original
 * message id, so the derived id, correlation id and idempotency key are what they were on the first
 * delivery. Leftover cases, where the key does change: the original already had 10 attributes (no room for
 * `id`), the message is at the size limit, or the original message id is unknown (a copy written before
 * `fanout.original-message-id` existed). A message dead-lettered by the queue's redrive policy keeps its
 * SQS message id in the DLQ, so the DLQ message's own id is used for it.
 */
import type { Message, MessageAttributeValue } from '@aws-sdk/client-sqs';
import type { SQSMessageAttribute, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import { MAX_MESSAGE_ATTRIBUTES, SQS_MAX_MESSAGE_BYTES } from './aws-limits.ts';
import { FanoutError } from './errors.ts';
import { decodeRecord } from './record-decoder.ts';

/** Message attribute that carries why a record was dead-lettered; its presence marks a fanout copy. */
export const POISON_REASON_ATTRIBUTE = 'fanout.poison.reason';
/** Message attribute that carries the error message, cut to 1,000 characters (and to the size limit). */
export const POISON_DETAIL_ATTRIBUTE = 'fanout.poison.detail';
/** Message attribute that names the consumer group that gave up on the record. */
export const POISON_GROUP_ATTRIBUTE = 'fanout.group';
/** Message attribute that carries the dead-lettered record's SQS message id. */
export const ORIGINAL_MESSAGE_ID_ATTRIBUTE = 'fanout.original-message-id';
/** Message attribute that carries every original attribute as JSON (the packed form). */
export const ORIGINAL_ATTRIBUTES_ATTRIBUTE = 'fanout.original-attributes';
/** Attribute names fanout reserves on a dead-letter copy; an original with this prefix forces the packed form. */
export const RESERVED_ATTRIBUTE_PREFIX = 'fanout.';

/** Most original attributes kept in natural form: SQS's 10 less fanout's 4 marks. */
export const MAX_NATURAL_ATTRIBUTES = MAX_MESSAGE_ATTRIBUTES - 4;
/** Longest detail kept, in characters (before the size limit trims it further). */
export const MAX_DETAIL_CHARACTERS = 1000;

const RESERVED_NAMES: ReadonlySet<string> = new Set([
  POISON_REASON_ATTRIBUTE,
  POISON_DETAIL_ATTRIBUTE,
  POISON_GROUP_ATTRIBUTE,
  ORIGINAL_MESSAGE_ID_ATTRIBUTE,
  ORIGINAL_ATTRIBUTES_ATTRIBUTE,
]);

/** A record to dead-letter: its body and attributes as Lambda hands them over, and why. */
export interface DeadLetterInput {
  readonly body: string;
  /** Lambda-shaped: `stringValue`, or `binaryValue` in base64, and `dataType`. */
  readonly messageAttributes: SQSRecord['messageAttributes'] | undefined;
  /** The record's SQS message id (kept so a redrive can keep a plain body's derived id). */
  readonly messageId: string;
  readonly reason: string;
  readonly detail: string;
  readonly group: string;
  /** The DLQ's maximum message size; default 262,144 (256 KiB). */
  readonly maxMessageBytes?: number;
}

/** A message's body and attributes in the SDK's shape, ready for SendMessage(Batch). */
export interface MessageContent {
  readonly MessageBody: string;
  readonly MessageAttributes: Record<string, MessageAttributeValue>;
}

/** Why a message is in a DLQ, as `fanout dlq peek` shows it. */
export interface DeadLetterReason {
  /** The consumer's poison reason, or `max-receives` for a message the queue's redrive policy moved. */
  readonly reason: string;
  readonly detail?: string;
  readonly group?: string;
}

/** A received message, as ReceiveMessage returns it with `MessageAttributeNames: ['All']`. */
export type ReceivedMessage = Pick<Message, 'Body' | 'MessageId' | 'MessageAttributes'>;

/** A message carries a `fanout.original-attributes` value that is not fanout's packed form. */
export class DeadLetterFormatError extends FanoutError {
  constructor(message: string) {
    super('FANOUT_DEAD_LETTER_FORMAT', message);
  }
}

/** One attribute in the packed form (the Lambda record's shape, without the list values). */
type PackedAttribute =
  | { readonly dataType: string; readonly stringValue: string }
  | { readonly dataType: string; readonly binaryValue: string };

/** Size of a message as SQS counts it: body, plus name + data type + value of every attribute, in bytes. */
export function sqsMessageBytes(message: {
  readonly MessageBody?: string;
  readonly MessageAttributes?: Record<string, MessageAttributeValue>;
}): number {
  let bytes = Buffer.byteLength(message.MessageBody ?? '');
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    bytes += attributeBytes(name, value);
  }
  return bytes;
}

function attributeBytes(name: string, value: MessageAttributeValue): number {
  return (
    Buffer.byteLength(name) +
    Buffer.byteLength(value.DataType ?? '') +
    Buffer.byteLength(value.StringValue ?? '') +
    (value.BinaryValue?.length ?? 0)
  );
}

function isBinary(dataType: string, hasString: boolean, hasBinary: boolean): boolean {
  const base = dataType.split('.')[0];
  return base === 'Binary' || (!hasString && hasBinary);
}

function packed(value: SQSMessageAttribute): PackedAttribute {
  const dataType = value.dataType ?? 'String';
  return isBinary(dataType, value.stringValue !== undefined, value.binaryValue !== undefined)
    ? { dataType, binaryValue: value.binaryValue ?? '' }
    : { dataType, stringValue: value.stringValue ?? '' };
}

function toSdk(value: PackedAttribute): MessageAttributeValue {
  return 'binaryValue' in value
    ? { DataType: value.dataType, BinaryValue: Buffer.from(value.binaryValue, 'base64') }
    : { DataType: value.dataType, StringValue: value.stringValue };
}

function toLambda(value: PackedAttribute): SQSMessageAttribute {
  return {
    dataType: value.dataType,
    ...('binaryValue' in value ? { binaryValue: value.binaryValue } : { stringValue: value.stringValue }),
    stringListValues: [],
    binaryListValues: [],
  };
}

/** A clean SDK attribute (no list values, which SQS does not implement). */
function sdkValue(value: MessageAttributeValue): MessageAttributeValue {
  const dataType = value.DataType ?? 'String';
  return isBinary(dataType, value.StringValue !== undefined, value.BinaryValue !== undefined)
    ? { DataType: dataType, BinaryValue: value.BinaryValue ?? new Uint8Array() }
    : { DataType: dataType, StringValue: value.StringValue ?? '' };
}

/** Replaces characters SQS refuses in attribute values (controls, lone surrogates, U+FFFE/U+FFFF). */
function sqsText(text: string): string {
  return text.replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD');
}

/** `text` cut to at most `maxBytes` of UTF-8, on a character boundary, ending in `…` when cut. */
function cutToBytes(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text);
  if (bytes.length <= maxBytes) return text;
  const ellipsis = '…';
  let end = maxBytes - Buffer.byteLength(ellipsis);
  if (end <= 0) return '';
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return end > 0 ? `${bytes.subarray(0, end).toString()}${ellipsis}` : '';
}

function cutToCharacters(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, max - 1);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/**
 * The message to send to the DLQ for a poison record: its body unchanged, fanout's marks (reason, detail,
 * group, original message id) and every original attribute, in natural form when they fit beside the
 * marks, else packed into `fanout.original-attributes` (see the module comment for the exact rules).
 * Never throws; the result can exceed `maxMessageBytes` only when the record itself nearly fills it.
 */
export function deadLetterCopy(input: DeadLetterInput): MessageContent {
  const limit = input.maxMessageBytes ?? SQS_MAX_MESSAGE_BYTES;
  const originals = Object.entries(input.messageAttributes ?? {});
  const natural =
    originals.length <= MAX_NATURAL_ATTRIBUTES &&
    originals.every(([name]) => !name.startsWith(RESERVED_ATTRIBUTE_PREFIX));

  const marks: Record<string, MessageAttributeValue> = {
    [POISON_REASON_ATTRIBUTE]: { DataType: 'String', StringValue: sqsText(input.reason) || 'unknown' },
  };
  if (input.group) marks[POISON_GROUP_ATTRIBUTE] = { DataType: 'String', StringValue: sqsText(input.group) };
  if (input.messageId) {
    marks[ORIGINAL_MESSAGE_ID_ATTRIBUTE] = { DataType: 'String', StringValue: sqsText(input.messageId) };
  }
  const rest: Record<string, MessageAttributeValue> = {};
  if (natural) {
    for (const [name, value] of originals) rest[name] = toSdk(packed(value));
  } else {
    const all: Record<string, PackedAttribute> = {};
    for (const [name, value] of originals) all[name] = packed(value);
    rest[ORIGINAL_ATTRIBUTES_ATTRIBUTE] = { DataType: 'String', StringValue: JSON.stringify(all) };
  }

  const size = sqsMessageBytes({ MessageBody: input.body, MessageAttributes: { ...marks, ...rest } });
  const room = limit - size - Buffer.byteLength(POISON_DETAIL_ATTRIBUTE) - Buffer.byteLength('String');
  const detail = cutToBytes(cutToCharacters(sqsText(input.detail), MAX_DETAIL_CHARACTERS), room);

  const { [POISON_REASON_ATTRIBUTE]: reason, ...others } = marks;
  return {
    MessageBody: input.body,
    MessageAttributes: {
      [POISON_REASON_ATTRIBUTE]: reason,
      ...(detail ? { [POISON_DETAIL_ATTRIBUTE]: { DataType: 'String', StringValue: detail } } : {}),
      ...others,
      ...rest,
    },
  };
}

/** True when a message carries fanout's dead-letter marks (a copy written by the consumer). */
export function isDeadLetterCopy(message: Pick<Message, 'MessageAttributes'>): boolean {
  const attributes = message.MessageAttributes ?? {};
  return POISON_REASON_ATTRIBUTE in attributes || ORIGINAL_ATTRIBUTES_ATTRIBUTE in attributes;
}

function unpack(text: string | undefined): Record<string, PackedAttribute> {
  const fail = (why: string) =>
    new DeadLetterFormatError(
      `attribute '${ORIGINAL_ATTRIBUTES_ATTRIBUTE}' ${why}; the copy was not restored`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(text ?? '');
  } catch {
    throw fail('is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw fail('is not an object');
  for (const [name, value] of Object.entries(parsed)) {
    const v = value as Record<string, unknown>;
    const ok =
      typeof v === 'object' &&
      v !== null &&
      typeof v.dataType === 'string' &&
      (typeof v.stringValue === 'string') !== (typeof v.binaryValue === 'string');
    if (!ok) throw fail(`has an invalid value for '${name}'`);
  }
  return parsed as Record<string, PackedAttribute>;
}

/**
 * The original body and attributes of a dead letter, exactly: the packed form unpacked, fanout's marks
 * removed. A message without fanout's marks (dead-lettered by the queue's redrive policy) comes back
 * unchanged. Copies written before the packed form existed lose only their marks, as before.
 *
 * @throws DeadLetterFormatError when `fanout.original-attributes` is not fanout's packed form.
 */
export function originalMessage(message: Pick<Message, 'Body' | 'MessageAttributes'>): MessageContent {
  const attributes = message.MessageAttributes ?? {};
  const restored: Record<string, MessageAttributeValue> = {};
  if (ORIGINAL_ATTRIBUTES_ATTRIBUTE in attributes) {
    for (const [name, value] of Object.entries(unpack(attributes[ORIGINAL_ATTRIBUTES_ATTRIBUTE].StringValue)))
      restored[name] = toSdk(value);
  } else {
    const copy = isDeadLetterCopy(message);
    for (const [name, value] of Object.entries(attributes)) {
      if (copy && RESERVED_NAMES.has(name)) continue;
      restored[name] = sdkValue(value);
    }
  }
  return { MessageBody: message.Body ?? '', MessageAttributes: restored };
}

/**
 * The SQS message id the dead letter had before it was dead-lettered: `fanout.original-message-id` on a
 * fanout copy (`undefined` on a copy written before it existed), the message's own id otherwise (the
 * queue's redrive policy keeps a message's id when it moves it to the DLQ).
 */
export function originalMessageId(
  message: Pick<Message, 'MessageId' | 'MessageAttributes'>,
): string | undefined {
  if (!isDeadLetterCopy(message)) return message.MessageId || undefined;
  return message.MessageAttributes?.[ORIGINAL_MESSAGE_ID_ATTRIBUTE]?.StringValue || undefined;
}

function decodesAsPlain(body: string): boolean {
  try {
    return decodeRecord({ body, messageId: '-', messageAttributes: {} }).delivery === 'plain';
  } catch {
    return false;
  }
}

/**
 * What `fanout dlq redrive` sends back to the group's queue: {@link originalMessage}, plus an `id`
 * attribute holding the original message id when the body is a plain JSON body without an `id` attribute,
 * so its derived event id and idempotency key survive the redrive. `id` is not added when the message
 * already has 10 attributes or would exceed `maxMessageBytes` (default 262,144), nor when the original
 * message id is unknown: then the key changes, as it always did.
 *
 * @throws DeadLetterFormatError when `fanout.original-attributes` is not fanout's packed form.
 */
export function redriveMessage(
  message: ReceivedMessage,
  options: { maxMessageBytes?: number } = {},
): MessageContent {
  const original = originalMessage(message);
  const id = originalMessageId(message);
  const attributes = original.MessageAttributes;
  if (!id || 'id' in attributes || Object.keys(attributes).length >= MAX_MESSAGE_ATTRIBUTES) return original;
  if (!decodesAsPlain(original.MessageBody)) return original;
  const idAttribute: MessageAttributeValue = { DataType: 'String', StringValue: id };
  const limit = options.maxMessageBytes ?? SQS_MAX_MESSAGE_BYTES;
  if (sqsMessageBytes(original) + attributeBytes('id', idAttribute) > limit) return original;
  return { MessageBody: original.MessageBody, MessageAttributes: { ...attributes, id: idAttribute } };
}

/**
 * For the consumer: a record that is a fanout dead-letter copy moved back as it is (an SQS message move
 * task moves the copy itself, marks and all) becomes the original record: original attributes, and, for a
 * plain body without `id`, `id` = the original message id (no attribute limit applies in memory). The
 * message id, receipt handle and body stay the record's own. Any other record is returned unchanged.
 *
 * @throws DeadLetterFormatError when `fanout.original-attributes` is not fanout's packed form.
 */
export function redrivenRecord(record: SQSRecord): SQSRecord {
  const attributes = record.messageAttributes ?? {};
  if (!(POISON_REASON_ATTRIBUTE in attributes) && !(ORIGINAL_ATTRIBUTES_ATTRIBUTE in attributes))
    return record;
  let restored: SQSMessageAttributes = {};
  if (ORIGINAL_ATTRIBUTES_ATTRIBUTE in attributes) {
    for (const [name, value] of Object.entries(unpack(attributes[ORIGINAL_ATTRIBUTES_ATTRIBUTE].stringValue)))
      restored[name] = toLambda(value);
  } else {
    restored = Object.fromEntries(Object.entries(attributes).filter(([name]) => !RESERVED_NAMES.has(name)));
  }
  const id = attributes[ORIGINAL_MESSAGE_ID_ATTRIBUTE]?.stringValue;
  if (id && !('id' in restored) && decodesAsPlain(record.body)) {
    restored.id = toLambda({ dataType: 'String', stringValue: id });
  }
  return { ...record, messageAttributes: restored };
}

/** Why a message is in the DLQ: fanout's reason, detail and group, or `max-receives` when it has no marks. */
export function deadLetterReason(message: Pick<Message, 'MessageAttributes'>): DeadLetterReason {
  const attributes = message.MessageAttributes ?? {};
  const reason = attributes[POISON_REASON_ATTRIBUTE]?.StringValue;
  if (reason === undefined) return { reason: 'max-receives' };
  const detail = attributes[POISON_DETAIL_ATTRIBUTE]?.StringValue;
  const group = attributes[POISON_GROUP_ATTRIBUTE]?.StringValue;
  return { reason, ...(detail !== undefined ? { detail } : {}), ...(group !== undefined ? { group } : {}) };
}
