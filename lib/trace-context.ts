import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import {
  type Context,
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  type SpanOptions,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AWSXRAY_TRACE_ID_HEADER, AWSXRayPropagator } from '@opentelemetry/propagator-aws-xray';

/**
 * Trace context across fanout's hops: W3C Trace Context in message attributes, X-Ray trace headers
 * (the Lambda invocation's `_X_AMZN_TRACE_ID`, an SQS record's `AWSTraceHeader`), and spans through
 * the OpenTelemetry API. The header formats are read and written by OpenTelemetry's propagators.
 *
 * With no OpenTelemetry SDK registered the tracer is a no-op; the trace id still flows: a span that
 * the SDK did not make is replaced by a non-recording span with the parent's trace id and a fresh span
 * id (a new trace when there is no parent), and fanout keeps it in its own async context so that a
 * publish made while handling a record carries it on.
 */

/** Message attribute with the W3C `traceparent` of the message's producer. */
export const TRACEPARENT_ATTRIBUTE = 'traceparent';
/** Message attribute with the W3C `tracestate`, written when the producer's context has one. */
export const TRACESTATE_ATTRIBUTE = 'tracestate';
/** Environment variable in which Lambda gives the invocation's X-Ray trace header. */
export const XRAY_TRACE_VARIABLE = '_X_AMZN_TRACE_ID';
/** Attribute of fanout's spans: the CloudEvents id of the event (what `fanout trace <id>` looks for). */
export const EVENT_ID_SPAN_ATTRIBUTE = 'cloudevents.event_id';
/** Attribute of fanout's spans: the event type. */
export const EVENT_TYPE_SPAN_ATTRIBUTE = 'cloudevents.event_type';

const w3c = new W3CTraceContextPropagator();
const xray = new AWSXRayPropagator();
/** The span fanout started for the record being handled, for when no context manager is registered. */
const fallback = new AsyncLocalStorage<Context>();

/** The tracer fanout's spans come from (`trace.getTracer('fanout')`: a no-op until an SDK is registered). */
export function fanoutTracer() {
  return trace.getTracer('fanout');
}

/** Reads a W3C trace context from `traceparent`/`tracestate` values; `undefined` when absent or malformed. */
export function fromTraceparent(traceparent: string | undefined, tracestate?: string): Context | undefined {
  if (!traceparent) return undefined;
  const carrier = { traceparent, ...(tracestate ? { tracestate } : {}) };
  return validOrUndefined(w3c.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter));
}

/** Reads an X-Ray trace header (`Root=1-…;Parent=…;Sampled=1`); `undefined` when absent or malformed. */
export function fromXRayHeader(header: string | undefined): Context | undefined {
  if (!header) return undefined;
  const carrier = { [AWSXRAY_TRACE_ID_HEADER]: header };
  return validOrUndefined(xray.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter));
}

/** The W3C `traceparent` (and `tracestate`, when there is one) of the span in `ctx`. */
export function toTraceparent(ctx: Context): { traceparent?: string; tracestate?: string } {
  const carrier: { traceparent?: string; tracestate?: string } = {};
  w3c.inject(ctx, carrier, defaultTextMapSetter);
  return carrier;
}

/** The X-Ray trace header of the span in `ctx` (for tools that speak X-Ray). */
export function toXRayHeader(ctx: Context): string | undefined {
  const carrier: Record<string, string> = {};
  xray.inject(ctx, carrier, defaultTextMapSetter);
  return carrier[AWSXRAY_TRACE_ID_HEADER];
}

function validOrUndefined(ctx: Context): Context | undefined {
  const spanContext = trace.getSpanContext(ctx);
  return spanContext && isSpanContextValid(spanContext) ? ctx : undefined;
}

/**
 * The context a message published now continues: the active OpenTelemetry span if there is one; else
 * the span of the record fanout is handling; else the Lambda invocation's X-Ray trace header; else none
 * (the publish starts a new trace).
 */
export function currentTraceContext(env: NodeJS.ProcessEnv = process.env): Context | undefined {
  const active = context.active();
  return validOrUndefined(active) ?? fallback.getStore() ?? fromXRayHeader(invocationXRayHeader(env));
}

/** The Lambda runtime's per-invocation store (`@aws/lambda-invoke-store`), where the runtime sets it. */
interface LambdaGlobal {
  readonly awslambda?: { readonly InvokeStore?: { getXRayTraceId?(): string | undefined } };
}

/**
 * The invocation's X-Ray trace header: from the Lambda runtime's invoke store when there is one (with
 * several invocations at once in one environment, `_X_AMZN_TRACE_ID` holds only one of them), else from
 * `_X_AMZN_TRACE_ID`; the AWS SDK's own recursion-detection middleware reads them in the same order.
 */
function invocationXRayHeader(env: NodeJS.ProcessEnv): string | undefined {
  const fromStore = (globalThis as LambdaGlobal).awslambda?.InvokeStore?.getXRayTraceId?.();
  return fromStore ?? env[XRAY_TRACE_VARIABLE];
}

/**
 * Starts a span under `parent` (a new trace when `undefined`). When the tracer is a no-op (no SDK
 * registered), the span it returns carries no ids of its own: it is replaced by a non-recording span
 * with the parent's trace id (or a new one) and a fresh span id, so the trace id still flows.
 */
export function startSpan(name: string, options: SpanOptions, parent: Context | undefined): Span {
  const parentContext = parent ?? ROOT_CONTEXT;
  const span = fanoutTracer().startSpan(name, options, parentContext);
  const made = span.spanContext();
  const parentSpan = trace.getSpanContext(parentContext);
  if (isSpanContextValid(made) && made.spanId !== parentSpan?.spanId) return span;
  return trace.wrapSpanContext(childSpanContext(parentSpan));
}

/** A span context with a fresh span id: in the parent's trace, or in a new sampled trace. */
export function childSpanContext(parent: SpanContext | undefined): SpanContext {
  const valid = parent && isSpanContextValid(parent);
  return {
    traceId: valid ? parent.traceId : randomId(16),
    spanId: randomId(8),
    traceFlags: valid ? parent.traceFlags : TraceFlags.SAMPLED,
    ...(valid && parent.traceState ? { traceState: parent.traceState } : {}),
  };
}

/** Random bytes drawn a few KiB at a time: one `randomBytes` call per id costs microseconds each. */
let pool = Buffer.alloc(0);
let offset = 0;

/** A random id of `bytes` bytes in lowercase hex, never all zeros (W3C trace and span ids). */
export function randomId(bytes: number): string {
  for (;;) {
    if (offset + bytes > pool.length) {
      pool = randomBytes(4096);
      offset = 0;
    }
    const id = pool.toString('hex', offset, offset + bytes);
    offset += bytes;
    if (/[^0]/.test(id)) return id; // an all-zero id is invalid
  }
}

/**
 * Runs `fn` with `span` as the active span: in OpenTelemetry's context (when a context manager is
 * registered) and in fanout's own, which the publisher reads when none is.
 */
export function runInSpan<T>(span: Span, parent: Context | undefined, fn: () => T): T {
  const ctx = trace.setSpan(parent ?? context.active(), span);
  return fallback.run(ctx, () => context.with(ctx, fn));
}

/**
 * The trace id of the current trace context (see {@link currentTraceContext}): inside a handler, the
 * record's trace. `undefined` outside any trace. Handy for a handler's own log lines.
 */
export function currentTraceId(): string | undefined {
  const current = currentTraceContext();
  return current ? trace.getSpanContext(current)?.traceId : undefined;
}
