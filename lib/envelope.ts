import { randomUUID } from 'node:crypto';

/**
 * The message every fanout publisher writes: a CloudEvents 1.0 structured JSON event with
 * a correlation id extension. `id` is unique per event and is the default idempotency key.
 */
export interface Envelope<T = unknown> {
  /** CloudEvents version. Always `'1.0'`. */
  readonly specversion: '1.0';
  /** Unique id of the event, set by the publisher. Republishing the same event keeps the id. */
  readonly id: string;
  /** Event type, e.g. `OrderPlaced`. Also sent as the `type` message attribute for filter policies. */
  readonly type: string;
  /** Who produced the event, e.g. `orders-service`. */
  readonly source: string;
  /** When the event happened, RFC 3339. */
  readonly time: string;
  /** Always `application/json`. */
  readonly datacontenttype: 'application/json';
  /** Id shared by every event of one business flow. Defaults to the event id of the first event. */
  readonly correlationid: string;
  /** Id of the event being handled when this one was published, if any. */
  readonly causationid?: string;
  /** The payload. */
  readonly data: T;
}

/** What a caller gives to build an envelope. */
export interface EnvelopeInput<T = unknown> {
  /** Event type. */
  readonly type: string;
  /** Payload; must be JSON-serialisable. */
  readonly data: T;
  /**
   * Event id. Give the same id when re-publishing the same event so consumers de-duplicate it.
   * @default a random UUID
   */
  readonly id?: string;
  /**
   * Producer of the event.
   * @default the publisher's `source`
   */
  readonly source?: string;
  /**
   * Event time (RFC 3339).
   * @default now
   */
  readonly time?: string;
  /**
   * Correlation id.
   * @default the correlation id of the message being handled, else the event id
   */
  readonly correlationId?: string;
  /**
   * Causation id.
   * @default the id of the message being handled, if any
   */
  readonly causationId?: string;
}

/** Builds an envelope; fills id, time and correlation id. */
export function createEnvelope<T>(
  input: EnvelopeInput<T>,
  defaults: { source: string; correlationId?: string; causationId?: string },
): Envelope<T> {
  const id = input.id ?? randomUUID();
  const correlationid = input.correlationId ?? defaults.correlationId ?? id;
  const causationid = input.causationId ?? defaults.causationId;
  return {
    specversion: '1.0',
    id,
    type: input.type,
    source: input.source ?? defaults.source,
    time: input.time ?? new Date().toISOString(),
    datacontenttype: 'application/json',
    correlationid,
    ...(causationid === undefined ? {} : { causationid }),
    data: input.data,
  };
}

/** True when `value` has the fields that make it a fanout/CloudEvents envelope. */
export function isEnvelope(value: unknown): value is Envelope {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return typeof v.id === 'string' && typeof v.type === 'string' && 'data' in v;
}
