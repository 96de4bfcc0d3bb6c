import { ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { recordParent, traceOutcome } from '../../lib/consumer/record-span.ts';
import {
  childSpanContext,
  currentTraceContext,
  fromTraceparent,
  fromXRayHeader,
  runInSpan,
  startSpan,
  toTraceparent,
  toXRayHeader,
} from '../../lib/trace-context.ts';
import { sqsRecord } from '../helpers/sqs-events.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE}-${SPAN}-01`;
const XRAY = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';

const spanOf = (ctx: ReturnType<typeof fromTraceparent>) => (ctx ? trace.getSpanContext(ctx) : undefined);

function record(attributes: { traceparent?: string; AWSTraceHeader?: string }): SQSRecord {
  const base = sqsRecord({ id: 'e-1', type: 'T', data: {} });
  return {
    ...base,
    attributes: {
      ...base.attributes,
      ...(attributes.AWSTraceHeader ? { AWSTraceHeader: attributes.AWSTraceHeader } : {}),
    },
    messageAttributes: attributes.traceparent
      ? {
          traceparent: {
            dataType: 'String',
            stringValue: attributes.traceparent,
            stringListValues: [],
            binaryListValues: [],
          },
        }
      : {},
  };
}

describe('trace headers', () => {
  it('reads a W3C traceparent and writes it back unchanged', () => {
    const ctx = fromTraceparent(TRACEPARENT, 'vendor=x');
    expect(spanOf(ctx)).toMatchObject({ traceId: TRACE, spanId: SPAN, traceFlags: TraceFlags.SAMPLED });
    expect(toTraceparent(ctx ?? ROOT_CONTEXT)).toEqual({ traceparent: TRACEPARENT, tracestate: 'vendor=x' });
  });

  it('reads an X-Ray trace header as the same trace in W3C form', () => {
    const ctx = fromXRayHeader(XRAY);
    expect(spanOf(ctx)).toMatchObject({
      traceId: '5759e988bd862e3fe1be46a994272793',
      spanId: '53995c3f42cd8ad8',
    });
    expect(toXRayHeader(ctx ?? ROOT_CONTEXT)).toBe(XRAY);
  });

  it.each([
    ['garbage', 'not-a-header'],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-${SPAN}-01`],
    ['a short span id', `00-${TRACE}-00f067-01`],
  ])('ignores a traceparent with %s', (_, value) => {
    expect(fromTraceparent(value)).toBeUndefined();
  });

  it('ignores a malformed X-Ray header and an absent one', () => {
    expect(fromXRayHeader('Root=nonsense')).toBeUndefined();
    expect(fromXRayHeader(undefined)).toBeUndefined();
  });
});

describe('the parent of a record', () => {
  it('is the AWSTraceHeader when SQS set one, even beside a traceparent', () => {
    const parent = recordParent(record({ traceparent: TRACEPARENT, AWSTraceHeader: XRAY }));
    expect(spanOf(parent)?.traceId).toBe('5759e988bd862e3fe1be46a994272793');
  });

  it('is the traceparent when the AWSTraceHeader names the same trace (its parent is the producer span)', () => {
    const sameTrace = `Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=1111111111111111;Sampled=1`;
    const parent = recordParent(record({ traceparent: TRACEPARENT, AWSTraceHeader: sameTrace }));
    expect(spanOf(parent)).toMatchObject({ traceId: TRACE, spanId: SPAN });
  });

  it('is the traceparent when there is no AWSTraceHeader, and none when neither is there', () => {
    expect(spanOf(recordParent(record({ traceparent: TRACEPARENT })))?.spanId).toBe(SPAN);
    expect(recordParent(record({}))).toBeUndefined();
  });

  it('is the traceparent inside the SNS notification body on a subscription without raw delivery', () => {
    const notification = (attributes: Record<string, { Type: string; Value: string }>) => ({
      ...record({}),
      body: JSON.stringify({
        Type: 'Notification',
        MessageId: 'm-1',
        TopicArn: 'arn:aws:sns:us-east-1:000000000000:orders',
        Message: JSON.stringify({ id: 'e-1', type: 'T', data: {} }),
        MessageAttributes: attributes,
      }),
    });
    const wrapped = notification({
      type: { Type: 'String', Value: 'T' },
      traceparent: { Type: 'String', Value: TRACEPARENT },
      tracestate: { Type: 'String', Value: 'vendor=x' },
    });
    const parent = recordParent(wrapped);
    expect(spanOf(parent)).toMatchObject({ traceId: TRACE, spanId: SPAN });
    expect(toTraceparent(parent ?? ROOT_CONTEXT)).toEqual({
      traceparent: TRACEPARENT,
      tracestate: 'vendor=x',
    });
    expect(recordParent(notification({ type: { Type: 'String', Value: 'T' } }))).toBeUndefined();
    const bad: string[] = [];
    recordParent(notification({ traceparent: { Type: 'String', Value: 'garbage' } }), (header) =>
      bad.push(header),
    );
    expect(bad).toEqual(['traceparent']);
  });

  it('reports each malformed header and falls back to the next', () => {
    const bad: string[] = [];
    const parent = recordParent(record({ traceparent: TRACEPARENT, AWSTraceHeader: 'Root=x' }), (header) =>
      bad.push(header),
    );
    expect(bad).toEqual(['AWSTraceHeader']);
    expect(spanOf(parent)?.traceId).toBe(TRACE);
  });
});

describe('spans without an SDK', () => {
  it('a child keeps the trace id and flags and gets a fresh span id; with no parent a new sampled trace starts', () => {
    const parent = { traceId: TRACE, spanId: SPAN, traceFlags: TraceFlags.NONE };
    const child = childSpanContext(parent);
    expect(child).toMatchObject({ traceId: TRACE, traceFlags: TraceFlags.NONE });
    expect(child.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(child.spanId).not.toBe(SPAN);
    const root = childSpanContext(undefined);
    expect(root.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(root.traceFlags).toBe(TraceFlags.SAMPLED);
  });

  it('startSpan under a parent gives a span of that trace; inside it, it is the current trace context', () => {
    const parent = fromTraceparent(TRACEPARENT);
    const span = startSpan('x', {}, parent);
    expect(span.spanContext().traceId).toBe(TRACE);
    expect(span.spanContext().spanId).not.toBe(SPAN);
    const inside = runInSpan(span, parent, () => currentTraceContext({}));
    expect(spanOf(inside)?.spanId).toBe(span.spanContext().spanId);
  });

  it('outside any span the current context is the X-Ray header of the environment, else none', () => {
    expect(spanOf(currentTraceContext({ _X_AMZN_TRACE_ID: XRAY }))?.spanId).toBe('53995c3f42cd8ad8');
    expect(currentTraceContext({})).toBeUndefined();
  });

  it("the Lambda runtime's invoke store, where there is one, wins over _X_AMZN_TRACE_ID (several invocations at once)", () => {
    // What the Node runtime sets: globalThis.awslambda.InvokeStore (@aws/lambda-invoke-store).
    const own = 'Root=1-5759e988-bd862e3fe1be46a994272794;Parent=1111111111111111;Sampled=1';
    const lambda = globalThis as { awslambda?: unknown };
    const before = lambda.awslambda;
    lambda.awslambda = { InvokeStore: { getXRayTraceId: () => own } };
    try {
      expect(spanOf(currentTraceContext({ _X_AMZN_TRACE_ID: XRAY }))?.spanId).toBe('1111111111111111');
      lambda.awslambda = { InvokeStore: { getXRayTraceId: () => undefined } };
      expect(spanOf(currentTraceContext({ _X_AMZN_TRACE_ID: XRAY }))?.spanId).toBe('53995c3f42cd8ad8');
    } finally {
      lambda.awslambda = before;
    }
  });
});

describe('the outcome a span reports', () => {
  it.each([
    [{ kind: 'processed', durationMs: 1, completion: 'stored' }, 'processed'],
    [{ kind: 'duplicate' }, 'duplicate'],
    [{ kind: 'dead-lettered', reason: 'r', detail: 'd' }, 'poison'],
    [{ kind: 'dead-letter-failed', reason: 'r', detail: 'd' }, 'poison'],
    [{ kind: 'failed', error: new Error('x'), durationMs: 1, release: 'none' }, 'failed'],
    [{ kind: 'claim-failed', error: new Error('x') }, 'failed'],
    [{ kind: 'abandoned' }, 'failed'],
    [{ kind: 'in-progress', leaseExpiresAt: 1 }, 'deferred'],
    [{ kind: 'leader-not-done' }, 'deferred'],
  ] as const)('%o → %s', (outcome, expected) => {
    expect(traceOutcome(outcome)).toBe(expected);
  });
});
