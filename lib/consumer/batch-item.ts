import type { SQSRecord } from 'aws-lambda';
import type { Envelope } from '../envelope.ts';
import type { TypeRoute } from './options.ts';
import { traceIdOf } from './record-span.ts';

/** What every item of a batch has: its record, receive count and FIFO lane. */
interface ItemBase {
  readonly record: SQSRecord;
  /** How many times SQS has delivered the record (1 on the first try). */
  readonly receiveCount: number;
  /** The FIFO message group; `undefined` on standard queues (each record its own lane). */
  readonly lane: string | undefined;
}

/** A record that decoded, routed and validated: it will be claimed and handled. */
export interface RunnableItem extends ItemBase {
  readonly kind: 'runnable';
  readonly envelope: Envelope;
  readonly data: unknown;
  readonly route: TypeRoute<unknown>;
  /** The idempotency table key (`group#key`); `undefined` without idempotency. */
  readonly key: string | undefined;
  /** Hash of the payload, compared with the stored one ('' when not compared). */
  readonly hash: string;
}

/** A record that can never succeed (found before anything runs): it is dead-lettered. */
export interface PoisonItem extends ItemBase {
  readonly kind: 'poison';
  readonly reason: string;
  readonly detail: string;
}

/** A second record with the key of an earlier one in the same batch: it follows that one's outcome. */
export interface FollowerItem extends ItemBase {
  readonly kind: 'follower';
  readonly leader: RunnableItem;
  readonly envelope: RunnableItem['envelope'];
  readonly hash: string;
}

/** A record whose validation was still running when records stopped starting: nacked, not run. */
export interface LateItem extends ItemBase {
  readonly kind: 'late';
}

/** A record whose offloaded payload could not be read for now (S3 throttling, 5xx, timeout): nacked. */
export interface UnresolvedItem extends ItemBase {
  readonly kind: 'unresolved';
  readonly error: unknown;
}

/**
 * A record whose payload is in S3 (an extended-client pointer): read and decoded when its turn to run
 * comes, inside its lane and its span, so a slow read holds only its own record (and its FIFO group).
 */
export interface OffloadedItem extends ItemBase {
  readonly kind: 'offloaded';
}

export type BatchItem = RunnableItem | PoisonItem | FollowerItem | LateItem | UnresolvedItem | OffloadedItem;

/** The log fields that identify an item. */
export function logFields(item: BatchItem): Record<string, string> {
  const traceId = traceIdOf(item.record);
  const trace: Record<string, string> = traceId ? { traceId } : {};
  if (
    item.kind === 'poison' ||
    item.kind === 'late' ||
    item.kind === 'unresolved' ||
    item.kind === 'offloaded'
  )
    return { messageId: item.record.messageId, ...trace };
  return {
    messageId: item.record.messageId,
    eventId: item.envelope.id,
    correlationId: item.envelope.correlationid,
    ...trace,
  };
}
