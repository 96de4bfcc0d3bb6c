import type { SQSRecord } from 'aws-lambda';
import { type Envelope, isEnvelope } from './envelope.ts';
import { PoisonMessageError } from './errors.ts';

/** How a message reached the queue. */
export type Delivery =
  /** SNS subscription with raw message delivery: the body is the envelope. */
  | 'raw'
  /** SNS subscription without raw delivery: the body is an SNS notification wrapping the envelope. */
  | 'sns'
  /** A JSON body sent straight to the queue (no envelope); fanout builds one around it. */
  | 'plain';

/** A record's body, decoded into an envelope. */
export interface DecodedRecord {
  readonly envelope: Envelope;
  readonly delivery: Delivery;
}

interface SnsNotification {
  Type: 'Notification';
  MessageId: string;
  TopicArn: string;
  Message: string;
  MessageAttributes?: Record<string, { Type: string; Value: string }>;
}

function isSnsNotification(value: unknown): value is SnsNotification {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return v.Type === 'Notification' && typeof v.Message === 'string' && typeof v.TopicArn === 'string';
}

/**
 * The message attributes carried inside an SNS notification body (a subscription without raw delivery,
 * where SNS puts them in the body instead of on the SQS message); `undefined` for any other body.
 */
export function notificationAttributes(body: string): Record<string, string> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!isSnsNotification(parsed) || typeof parsed.MessageAttributes !== 'object') return undefined;
  const values: Record<string, string> = {};
  for (const [name, attribute] of Object.entries(parsed.MessageAttributes ?? {})) {
    if (typeof attribute?.Value === 'string') values[name] = attribute.Value;
  }
  return values;
}

function parseJson(text: string, what: string): unknown {
  if (text.trim() === '') {
    throw new PoisonMessageError('unparseable-body', `${what} is empty; expected a JSON event`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PoisonMessageError(
      'unparseable-body',
      `${what} is not JSON (${(error as Error).message}); publish JSON events with fanout's publisher`,
    );
  }
}

function checkEnvelope(value: unknown, where: string): Envelope {
  if (!isEnvelope(value)) {
    throw new PoisonMessageError(
      'invalid-envelope',
      `${where} is not an event envelope: it needs string 'id' and 'type' fields and a 'data' field`,
    );
  }
  if (value.id.trim() === '') {
    throw new PoisonMessageError(
      'invalid-envelope',
      `${where} has an empty 'id'; every event needs a unique id`,
    );
  }
  const source = typeof value.source === 'string' ? value.source : 'unknown';
  const correlationid = typeof value.correlationid === 'string' ? value.correlationid : value.id;
  return { ...value, specversion: '1.0', datacontenttype: 'application/json', source, correlationid };
}

/**
 * Decodes an SQS record into an envelope, whatever way it was delivered: raw SNS delivery,
 * the SNS notification wrapper, or a plain JSON body sent straight to the queue (then the
 * `type` and `id` message attributes are used when present, the SQS message id otherwise).
 *
 * @throws PoisonMessageError when the body can never be decoded.
 */
export function decodeRecord(
  record: Pick<SQSRecord, 'body' | 'messageId' | 'messageAttributes'>,
): DecodedRecord {
  const parsed = parseJson(record.body, 'the message body');

  if (isSnsNotification(parsed)) {
    const inner = parseJson(parsed.Message, "the SNS notification's Message");
    return { envelope: checkEnvelope(inner, "the SNS notification's Message"), delivery: 'sns' };
  }

  const claimsToBeEnvelope =
    typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && 'specversion' in parsed;
  if (claimsToBeEnvelope || isEnvelope(parsed)) {
    return { envelope: checkEnvelope(parsed, 'the message body'), delivery: 'raw' };
  }

  const attrs = record.messageAttributes ?? {};
  const id = attrs.id?.stringValue ?? record.messageId;
  return {
    envelope: {
      specversion: '1.0',
      id,
      type: attrs.type?.stringValue ?? '',
      source: 'sqs',
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      correlationid: attrs.correlationId?.stringValue ?? id,
      data: parsed,
    },
    delivery: 'plain',
  };
}
