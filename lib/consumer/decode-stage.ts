import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { SQSRecord } from 'aws-lambda';
import { redrivenRecord } from '../dead-letter-format.ts';
import type { Envelope } from '../envelope.ts';
import { IdempotencyKeyError, PayloadUnavailableError, PoisonMessageError } from '../errors.ts';
import { IdempotencyStore, payloadHash } from '../idempotency-store.ts';
import { type PayloadSource, resolvePayload } from '../payload-offload.ts';
import { findPointer } from '../payload-pointer.ts';
import { decodeRecord } from '../record-decoder.ts';
import type { BatchItem, FollowerItem, PoisonItem, RunnableItem } from './batch-item.ts';
import type { ConsumerConfig, TypeRoute } from './options.ts';

/** What the decode stage needs besides the records. */
export interface DecodeContext {
  readonly group: string;
  /** Resolves when no record may start any more: a validation still running then is given up. */
  readonly startsEnd: Promise<void>;
  readonly fifo: boolean;
  readonly routeOf: (type: string) => TypeRoute<unknown>;
  readonly config: Pick<ConsumerConfig, 'store' | 'keyOf' | 'validatePayload'>;
  /** Where offloaded payloads are read from, and the abort signal of each read. */
  readonly payloads: PayloadSource;
}

/**
 * Stage 1, decode → route → validate → key: turns each record into a runnable item, or into a poison
 * item with its reason when it can never succeed. A schema that throws (instead of returning issues)
 * makes its record poison too: one bad record never fails the batch.
 */
export async function decodeBatch(
  records: readonly SQSRecord[],
  context: DecodeContext,
): Promise<BatchItem[]> {
  return Promise.all(records.map((record) => decodeItem(record, context)));
}

async function decodeItem(delivered: SQSRecord, context: DecodeContext): Promise<BatchItem> {
  let record = delivered;
  try {
    // A dead-letter copy moved back as it is (an SQS move task) is read as the original it carries.
    record = redrivenRecord(delivered);
  } catch (error) {
    return poisonItem(delivered, context, 'invalid-envelope', (error as Error).message);
  }
  const base = itemBase(record, context);
  try {
    // An offloaded payload is read when the record's turn to run comes (see resolveOffloaded).
    if (findPointer(record)) return { ...base, kind: 'offloaded' };
  } catch (error) {
    if (error instanceof PoisonMessageError) return poisonItem(record, context, error.reason, error.message);
    throw error;
  }
  return decodeBody(record, record, context);
}

/**
 * Reads an offloaded record's payload from S3 and decodes it like any record. The item keeps the pointer
 * record (a dead-letter copy holds the pointer, not the payload); the idempotency hash is the payload's.
 * A missing object makes the record poison (`payload-missing`); any other S3 failure, `unresolved`.
 */
export async function resolveOffloaded(
  item: Extract<BatchItem, { kind: 'offloaded' }>,
  context: DecodeContext,
): Promise<BatchItem> {
  try {
    const resolved = await resolvePayload(item.record, context.payloads);
    return await decodeBody(item.record, resolved, context);
  } catch (error) {
    if (error instanceof PoisonMessageError)
      return poisonItem(item.record, context, error.reason, error.message);
    if (error instanceof PayloadUnavailableError)
      return { ...itemBase(item.record, context), kind: 'unresolved', error };
    throw error;
  }
}

/** Decode → route → validate → key of `readable` (the record, or its resolved copy); the item keeps `record`. */
async function decodeBody(
  record: SQSRecord,
  readable: SQSRecord,
  context: DecodeContext,
): Promise<BatchItem> {
  const base = itemBase(record, context);
  try {
    const { envelope } = decodeRecord(readable);
    const route = context.routeOf(envelope.type);
    const data = route.schema
      ? await validateInTime(route.schema, envelope, context.startsEnd)
      : envelope.data;
    if (data === LATE) return { ...base, kind: 'late' };
    const { store, keyOf, validatePayload } = context.config;
    const key = store ? IdempotencyStore.tableKey(context.group, deriveKey(keyOf, envelope)) : undefined;
    const hash = store && validatePayload ? payloadHash(envelope.data) : '';
    return { ...base, kind: 'runnable', envelope, data, route, key, hash };
  } catch (error) {
    if (error instanceof PoisonMessageError) return poisonItem(record, context, error.reason, error.message);
    if (error instanceof IdempotencyKeyError) {
      return poisonItem(record, context, 'invalid-idempotency-key', error.message);
    }
    throw error;
  }
}

function poisonItem(record: SQSRecord, context: DecodeContext, reason: string, detail: string): PoisonItem {
  return { kind: 'poison', reason, detail, ...itemBase(record, context) };
}

function itemBase(record: SQSRecord, context: DecodeContext) {
  return {
    record,
    receiveCount: Number(record.attributes?.ApproximateReceiveCount ?? '1') || 1,
    lane: context.fifo ? (record.attributes?.MessageGroupId ?? '') : undefined,
  };
}

/**
 * Stage 2, in-batch duplicates: a record whose key an earlier record of the same batch has becomes a
 * follower of that record: it runs no handler, makes no DynamoDB request and takes the leader's outcome.
 * On FIFO queues it keeps its place in its own lane.
 */
export function markInBatchDuplicates(items: readonly BatchItem[]): BatchItem[] {
  const leaders = new Map<string, RunnableItem>();
  return items.map((item): BatchItem => {
    if (item.kind !== 'runnable' || item.key === undefined) return item;
    const leader = leaders.get(item.key);
    if (!leader) {
      leaders.set(item.key, item);
      return item;
    }
    const follower: FollowerItem = { ...item, kind: 'follower', leader };
    return follower;
  });
}

const LATE = Symbol('validation still running when records stopped starting');

/** Validates, giving up when records stop starting (an async schema cannot make the answer late). */
async function validateInTime(
  schema: StandardSchemaV1,
  envelope: Envelope,
  startsEnd: Promise<void>,
): Promise<unknown> {
  return Promise.race([validate(schema, envelope), startsEnd.then(() => LATE)]);
}

/** The validated data; a schema that throws or answers with no usable result makes the record poison. */
async function validate(schema: StandardSchemaV1, envelope: Envelope): Promise<unknown> {
  const where = `event '${envelope.id}' of type '${envelope.type}'`;
  let issues: string;
  try {
    const result = await schema['~standard'].validate(envelope.data);
    if (result && typeof result === 'object' && !result.issues && 'value' in result) return result.value;
    if (!result || typeof result !== 'object' || !Array.isArray(result.issues)) {
      throw new Error(
        `the schema's validate returned ${describe(result)}, not { value } or { issues: [...] }`,
      );
    }
    issues = result.issues.slice(0, 5).map(describeIssue).join('; ');
  } catch (error) {
    throw new PoisonMessageError(
      'schema-invalid',
      `${where}: its schema threw: ${(error as Error)?.message ?? String(error)}`,
    );
  }
  throw new PoisonMessageError('schema-invalid', `${where} fails its schema: ${issues}`);
}

function describeIssue(issue: StandardSchemaV1.Issue): string {
  const path = Array.isArray(issue?.path)
    ? issue.path.map((s) => (typeof s === 'object' && s !== null ? String(s.key) : String(s))).join('.')
    : '';
  return `${path || '(root)'}: ${String(issue?.message ?? 'invalid')}`;
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return typeof value;
  }
}

function deriveKey(keyOf: (envelope: Envelope) => string, envelope: Envelope): string {
  try {
    return keyOf(envelope);
  } catch (error) {
    throw new IdempotencyKeyError(
      `idempotency.key threw for event '${envelope.id}' of type '${envelope.type}': ${(error as Error)?.message ?? String(error)}`,
    );
  }
}
