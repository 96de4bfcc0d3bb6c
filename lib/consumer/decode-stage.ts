import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { SQSRecord } from 'aws-lambda';
import { redrivenRecord } from '../dead-letter-format.ts';
import type { Envelope } from '../envelope.ts';
import { IdempotencyKeyError, PoisonMessageError } from '../errors.ts';
import { IdempotencyStore, payloadHash } from '../idempotency-store.ts';
import { decodeRecord } from '../record-decoder.ts';
import type { BatchItem, FollowerItem, PoisonItem, RunnableItem } from './batch-item.ts';
import type { ConsumerConfig, TypeRoute } from './options.ts';

/** What the decode stage needs besides the records. */
export interface DecodeContext {
  readonly group: string;
  readonly fifo: boolean;
  readonly routeOf: (type: string) => TypeRoute<unknown>;
  readonly config: Pick<ConsumerConfig, 'store' | 'keyOf' | 'validatePayload'>;
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
    const { envelope } = decodeRecord(record);
    const route = context.routeOf(envelope.type);
    const data = route.schema ? await validate(route.schema, envelope) : envelope.data;
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
 * Stage 2, in-batch duplicates: on a standard queue, a record whose key an earlier record of the same
 * batch has becomes a follower of that record (it runs no handler and makes no DynamoDB request).
 * On FIFO queues order matters more than the saved request: each record keeps its place in its lane.
 */
export function markInBatchDuplicates(items: readonly BatchItem[], fifo: boolean): BatchItem[] {
  if (fifo) return [...items];
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

async function validate(schema: StandardSchemaV1, envelope: Envelope): Promise<unknown> {
  let result: StandardSchemaV1.Result<unknown>;
  try {
    result = await schema['~standard'].validate(envelope.data);
  } catch (error) {
    throw new PoisonMessageError(
      'schema-invalid',
      `event '${envelope.id}' of type '${envelope.type}': its schema threw: ${(error as Error)?.message ?? String(error)}`,
    );
  }
  if (!result.issues) return result.value;
  const issues = result.issues
    .slice(0, 5)
    .map((issue) => {
      const path = (issue.path ?? [])
        .map((s) => (typeof s === 'object' ? String(s.key) : String(s)))
        .join('.');
      return `${path || '(root)'}: ${issue.message}`;
    })
    .join('; ');
  throw new PoisonMessageError(
    'schema-invalid',
    `event '${envelope.id}' of type '${envelope.type}' fails its schema: ${issues}`,
  );
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
