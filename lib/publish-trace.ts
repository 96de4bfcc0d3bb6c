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
  toXRayHeader,
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
  /** The producer span's context as an X-Ray trace header (`Root=…;Parent=…;Sampled=…`). */
  readonly xrayHeader: string | undefined;
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
    // Built only for a call whose messages share one trace (see withXRayHeader).
    get xrayHeader() {
      return toXRayHeader(trace.setSpan(ROOT_CONTEXT, span));
    },
    end(error) {
      if (error !== undefined) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message ?? String(error) });
      }
      span.end();
    },
  };
}

/** The HTTP header in which SNS receives an X-Ray trace header (and passes it on to SQS as `AWSTraceHeader`). */
const XRAY_HTTP_HEADER = 'X-Amzn-Trace-Id';

interface MiddlewareCommand {
  middlewareStack: {
    add(
      middleware: (
        next: (args: { request: unknown }) => Promise<unknown>,
      ) => (args: { request: unknown }) => Promise<unknown>,
      options: { step: 'build'; name: string; priority: 'high' },
    ): void;
  };
}

/**
 * Sends the messages' trace as the request's X-Ray header when every message of the call is in one
 * trace. In Lambda the AWS SDK otherwise sends the invocation's (`_X_AMZN_TRACE_ID`), SNS passes it on
 * and SQS hands it to the next consumer as `AWSTraceHeader`, which would pull the next hop into the
 * invocation's trace instead of the message's.
 */
export function withXRayHeader<C>(command: C, entries: readonly { readonly trace?: PublishTrace }[]): C {
  const traceIds = new Set(entries.map((e) => e.trace?.traceId));
  if (traceIds.size !== 1) return command;
  const header = entries[0]?.trace?.xrayHeader;
  if (!header) return command;
  (command as unknown as MiddlewareCommand).middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers[XRAY_HTTP_HEADER] = header;
      return next(args);
    },
    { step: 'build', name: 'fanoutXRayTraceHeader', priority: 'high' },
  );
  return command;
}
