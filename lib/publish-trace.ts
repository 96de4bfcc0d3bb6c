import type { MessageAttributeValue } from '@aws-sdk/client-sns';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Envelope } from './envelope.ts';
import {
  currentTraceContext,
  EVENT_ID_SPAN_ATTRIBUTE,
  EVENT_TYPE_SPAN_ATTRIBUTE,
  startSpan,
  TRACEPARENT_ATTRIBUTE,
  TRACESTATE_ATTRIBUTE,
  toTraceparent,
} from './trace-context.ts';

/**
 * Message attributes fanout itself writes on every message when tracing is on: `type` and
 * `traceparent`. (`tracestate` is written only when there is room left for it.)
 */
export const FANOUT_TRACED_ATTRIBUTES = ['type', TRACEPARENT_ATTRIBUTE] as const;

/** The producer span of one published message, and the attributes that carry its context. */
export interface PublishTrace {
  /** `traceparent`, and `tracestate` when the context has one and `room` allows it. */
  readonly attributes: Record<string, MessageAttributeValue>;
  /** The trace the message belongs to. */
  readonly traceId: string;
  /** Ends the span: with an error status when the message was not published. */
  end(error?: unknown): void;
}

/**
 * Starts the producer span of a message published to `topicArn` (child of the current trace context,
 * see {@link currentTraceContext}) and returns the attributes that carry it. `room` is how many
 * attributes the message may still take besides `traceparent`: `tracestate` needs one.
 */
export function startPublishTrace(topicArn: string, envelope: Envelope, room: number): PublishTrace {
  const topic = topicArn.slice(topicArn.lastIndexOf(':') + 1);
  const parent = currentTraceContext();
  const span = startSpan(
    `${topic} publish`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'aws_sns',
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'publish',
        'messaging.destination.name': topic,
        [EVENT_ID_SPAN_ATTRIBUTE]: envelope.id,
        [EVENT_TYPE_SPAN_ATTRIBUTE]: envelope.type,
      },
    },
    parent,
  );
  const { traceparent, tracestate } = toTraceparent(trace.setSpan(parent ?? ROOT_CONTEXT, span));
  const attributes: Record<string, MessageAttributeValue> = {};
  if (traceparent) attributes[TRACEPARENT_ATTRIBUTE] = { DataType: 'String', StringValue: traceparent };
  if (traceparent && tracestate && room >= 1)
    attributes[TRACESTATE_ATTRIBUTE] = { DataType: 'String', StringValue: tracestate };
  return {
    attributes,
    traceId: span.spanContext().traceId,
    end(error) {
      if (error !== undefined) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message ?? String(error) });
      }
      span.end();
    },
  };
}
