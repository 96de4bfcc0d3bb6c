import { type Context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { SQSRecord } from 'aws-lambda';
import { parseQueueArn } from '../queue-address.ts';
import { notificationAttributes } from '../record-decoder.ts';
import type { Telemetry } from '../telemetry.ts';
import {
  EVENT_ID_SPAN_ATTRIBUTE,
  EVENT_TYPE_SPAN_ATTRIBUTE,
  fromTraceparent,
  fromXRayHeader,
  runInSpan,
  startSpan,
  TRACEPARENT_ATTRIBUTE,
  TRACESTATE_ATTRIBUTE,
} from '../trace-context.ts';
import type { BatchItem } from './batch-item.ts';
import type { RecordOutcome } from './record-outcome.ts';

/** What a record's span says happened to it (span attribute `fanout.outcome`). */
export type TraceOutcome = 'processed' | 'duplicate' | 'poison' | 'failed' | 'deferred';

/** Span attribute with the {@link TraceOutcome}. */
export const OUTCOME_SPAN_ATTRIBUTE = 'fanout.outcome';

const traceIds = new WeakMap<SQSRecord, string>();

/** The trace id of the span fanout started for `record`, once it has started. */
export function traceIdOf(record: SQSRecord): string | undefined {
  return traceIds.get(record);
}

/**
 * The context a record continues: the X-Ray `AWSTraceHeader` that SQS sets on the record when X-Ray
 * traced the send, else the `traceparent` (and `tracestate`) message attributes, read from the SNS
 * notification body on a subscription without raw delivery; `undefined` when it has neither. When both
 * name the same trace, the `traceparent` is kept: its parent is the message's own producer span, where
 * the X-Ray header names the publishing call. A header that is present but malformed is reported
 * through `malformed` and skipped.
 */
export function recordParent(
  record: SQSRecord,
  malformed: (header: string, value: string) => void = () => {},
): Context | undefined {
  const xrayHeader = record.attributes?.AWSTraceHeader;
  const fromXRay = fromXRayHeader(xrayHeader);
  if (xrayHeader && !fromXRay) malformed('AWSTraceHeader', xrayHeader);
  const { traceparent, tracestate } = traceAttributes(record);
  const parsed = fromTraceparent(traceparent, tracestate);
  if (traceparent && !parsed) malformed(TRACEPARENT_ATTRIBUTE, traceparent);
  if (fromXRay && parsed && traceIdOfContext(fromXRay) === traceIdOfContext(parsed)) return parsed;
  return fromXRay ?? parsed;
}

/**
 * The record's `traceparent` and `tracestate`: its message attributes, or, on a subscription without
 * raw delivery, the attributes inside the SNS notification body (parsed only when the body names one).
 */
function traceAttributes(record: SQSRecord): { traceparent?: string; tracestate?: string } {
  const attributes = record.messageAttributes ?? {};
  const traceparent = attributes[TRACEPARENT_ATTRIBUTE]?.stringValue;
  if (traceparent !== undefined || !record.body?.includes(`"${TRACEPARENT_ATTRIBUTE}"`)) {
    return { traceparent, tracestate: attributes[TRACESTATE_ATTRIBUTE]?.stringValue };
  }
  const wrapped = notificationAttributes(record.body);
  return { traceparent: wrapped?.[TRACEPARENT_ATTRIBUTE], tracestate: wrapped?.[TRACESTATE_ATTRIBUTE] };
}

function traceIdOfContext(ctx: Context): string | undefined {
  return trace.getSpanContext(ctx)?.traceId;
}

/** The outcome a span reports for a record's {@link RecordOutcome}. */
export function traceOutcome(outcome: RecordOutcome): TraceOutcome {
  switch (outcome.kind) {
    case 'processed':
    case 'duplicate':
      return outcome.kind;
    case 'dead-lettered':
    case 'dead-letter-failed':
      return 'poison';
    case 'failed':
    case 'claim-failed':
    case 'abandoned':
      return 'failed';
    default:
      return 'deferred';
  }
}

/** What a record's span needs from the run stage. */
export interface SpanContextOfBatch {
  readonly group: string;
  readonly logger: Telemetry['logger'];
  /**
   * Resolves when the consumer stops waiting for handlers: a span still open then ends with the outcome
   * known so far ({@link SpanContextOfBatch.outcomeOf}), abandoned if there is none.
   */
  readonly handlersDone: Promise<void>;
  /** The outcome recorded so far for an item of the batch (e.g. a failure whose release is still out). */
  readonly outcomeOf?: (item: BatchItem) => RecordOutcome | undefined;
}

/**
 * Runs one record's work inside its consumer span (`<group> process <type>`), a child of the context
 * the message carries (see {@link recordParent}), and ends the span once, with the record's outcome: the
 * outcome the batch answers with, so a record still running when the consumer stops waiting ends its
 * span with the outcome known then (abandoned, `failed`, for a handler still running), whatever it
 * does later. A malformed trace header is logged once for the record and ignored: it never changes the
 * outcome.
 */
export async function traceRecord(
  item: BatchItem,
  batch: SpanContextOfBatch,
  run: () => Promise<RecordOutcome>,
): Promise<RecordOutcome> {
  const { group, logger } = batch;
  const { record } = item;
  const bad: string[] = [];
  const parent = recordParent(record, (header, value) => bad.push(`${header} ${JSON.stringify(value)}`));
  if (bad.length > 0) {
    logger.warn('ignored a malformed trace header', {
      messageId: record.messageId,
      header: bad.join(', '),
    });
  }
  const type = 'envelope' in item ? item.envelope.type : record.messageAttributes?.type?.stringValue;
  const span = startSpan(
    type ? `${group} process ${type}` : `${group} process`,
    { kind: SpanKind.CONSUMER, attributes: spanAttributes(item, group, type) },
    parent,
  );
  traceIds.set(record, span.spanContext().traceId);
  let ended = false;
  const endOnce = (outcome: RecordOutcome) => {
    if (ended) return;
    ended = true;
    endSpan(span, outcome);
  };
  void batch.handlersDone.then(() => endOnce(batch.outcomeOf?.(item) ?? { kind: 'abandoned' }));
  try {
    const outcome = await runInSpan(span, parent, run);
    endOnce(outcome);
    return outcome;
  } catch (error) {
    if (!ended) {
      ended = true;
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
      span.end();
    }
    throw error;
  }
}

function spanAttributes(item: BatchItem, group: string, type: string | undefined) {
  const { record } = item;
  return {
    'messaging.system': 'aws_sqs',
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
    'messaging.destination.name': parseQueueArn(record.eventSourceARN ?? '')?.name ?? group,
    'messaging.consumer.group.name': group,
    'messaging.message.id': record.messageId,
    ...('envelope' in item ? { [EVENT_ID_SPAN_ATTRIBUTE]: item.envelope.id } : {}),
    ...(type ? { [EVENT_TYPE_SPAN_ATTRIBUTE]: type } : {}),
  };
}

function endSpan(span: Span, outcome: RecordOutcome): void {
  const result = traceOutcome(outcome);
  span.setAttribute(OUTCOME_SPAN_ATTRIBUTE, result);
  if ('reason' in outcome) span.setAttribute('fanout.poison_reason', outcome.reason);
  if (result === 'failed' || outcome.kind === 'dead-letter-failed') {
    const error = 'error' in outcome ? outcome.error : undefined;
    if (error instanceof Error) span.recordException(error);
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.message : outcome.kind,
    });
  }
  span.end();
}
