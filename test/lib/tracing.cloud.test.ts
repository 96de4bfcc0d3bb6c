import { Logger } from '@aws-lambda-powertools/logger';
import { SNSClient } from '@aws-sdk/client-sns';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { SQSRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { renderTraceTree, spanRecord, spansOfEvent } from '../../cli/trace.ts';
import {
  consumer,
  MAX_MESSAGE_ATTRIBUTES,
  OUTCOME_SPAN_ATTRIBUTE,
  Publisher,
  PublishValidationError,
} from '../../lib/index.ts';
import { ensureSubscription, ensureTopic } from '../../localstack/provisioning/resources.ts';
import { clients, groupQueue, queueDepth, receiveExactly, sendRaw, uniqueName } from '../helpers/cloud.ts';
import { envelope, lambdaContext, sqsRecord } from '../helpers/sqs-events.ts';

/** A topic with one group queue subscribed (raw delivery), as the stack wires it. */
async function topicWithGroup() {
  const { sns } = clients();
  const topicArn = await ensureTopic(sns, uniqueName('topic'));
  const group = await groupQueue();
  await ensureSubscription(sns, topicArn, group.queue.arn);
  return { topicArn, ...group };
}

/** Two hops: group A handles OrderPlaced and publishes InvoiceRequested, which group B handles. */
async function twoHopChain() {
  const a = await topicWithGroup();
  const b = await topicWithGroup();
  const source = new Publisher({ topicArn: a.topicArn, source: 'test' });
  const onward = new Publisher({ topicArn: b.topicArn, source: 'test' });
  const handlerA = consumer({
    group: a.group,
    idempotency: false,
    handlers: { OrderPlaced: () => onward.publish({ type: 'InvoiceRequested', data: {} }) },
  });
  const handlerB = consumer({ group: b.group, idempotency: false, handlers: { InvoiceRequested: () => {} } });
  return {
    a,
    b,
    /** Publishes one OrderPlaced and runs both hops; answers the records each group received. */
    async run(publish: () => Promise<unknown> = () => source.publish({ type: 'OrderPlaced', data: {} })) {
      await publish();
      const recordsA = await receiveExactly(a.queue, 1);
      expect((await handlerA({ Records: recordsA })).batchItemFailures).toEqual([]);
      const recordsB = await receiveExactly(b.queue, 1);
      expect((await handlerB({ Records: recordsB })).batchItemFailures).toEqual([]);
      return { recordA: recordsA[0], recordB: recordsB[0] };
    },
  };
}

const traceparentOf = (record: SQSRecord) => record.messageAttributes.traceparent?.stringValue ?? '';
/** traceparent = version-traceId-parentSpanId-flags */
const parts = (traceparent: string) => {
  const [, traceId, spanId] = traceparent.split('-');
  return { traceId, spanId };
};

/** A Logger whose warn calls a test can read (it prints nothing). */
function quietLogger() {
  const logger = new Logger({ serviceName: 'tracing-test', logLevel: 'SILENT' });
  return { logger, warn: vi.spyOn(logger, 'warn') };
}

describe('tracing with an OpenTelemetry SDK registered', () => {
  const exporter = new InMemorySpanExporter();
  beforeAll(() => {
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    trace.setGlobalTracerProvider(provider);
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });
  afterAll(() => {
    trace.disable();
    context.disable();
  });
  afterEach(() => exporter.reset());

  const spanNamed = (spans: ReadableSpan[], name: string) => {
    const found = spans.filter((s) => s.name === name);
    expect(found, `spans named '${name}' among ${spans.map((s) => s.name).join(', ')}`).toHaveLength(1);
    return found[0];
  };

  it('a two-hop chain (publish → A → publish → B) is one trace, each span the child of the one before', async () => {
    const chain = await twoHopChain();
    await chain.run();

    const spans = exporter.getFinishedSpans();
    const topicA = chain.a.topicArn.split(':').pop();
    const topicB = chain.b.topicArn.split(':').pop();
    const publishA = spanNamed(spans, `${topicA} publish`);
    const processA = spanNamed(spans, `${chain.a.group} process OrderPlaced`);
    const publishB = spanNamed(spans, `${topicB} publish`);
    const processB = spanNamed(spans, `${chain.b.group} process InvoiceRequested`);

    const traceIds = new Set([publishA, processA, publishB, processB].map((s) => s.spanContext().traceId));
    expect(traceIds.size).toBe(1);
    expect(publishA.parentSpanContext).toBeUndefined(); // a publisher with no trace starts one
    expect(processA.parentSpanContext?.spanId).toBe(publishA.spanContext().spanId);
    expect(publishB.parentSpanContext?.spanId).toBe(processA.spanContext().spanId);
    expect(processB.parentSpanContext?.spanId).toBe(publishB.spanContext().spanId);
    expect(processA.attributes).toMatchObject({
      [OUTCOME_SPAN_ATTRIBUTE]: 'processed',
      'messaging.system': 'aws_sqs',
      'messaging.operation.type': 'process',
      'messaging.consumer.group.name': chain.a.group,
      'messaging.destination.name': chain.a.queue.name,
    });
  });

  it('fanout trace <event id> renders that chain as one tree: publish → A process → publish → B process', async () => {
    const chain = await twoHopChain();
    const { recordA } = await chain.run();
    const eventId = JSON.parse(recordA.body).id;

    const spans = spansOfEvent(exporter.getFinishedSpans().map(spanRecord), eventId);
    const lines = renderTraceTree(spans);

    const topic = (arn: string) => arn.split(':').pop();
    expect(lines[0]).toBe(`trace ${parts(traceparentOf(recordA)).traceId}`);
    expect(lines.slice(1).map((line) => line.replace(/ {2}[\d.]+ ms.*$/, ''))).toEqual([
      `└─ ${topic(chain.a.topicArn)} publish`,
      `   └─ ${chain.a.group} process OrderPlaced  [processed]`,
      `      └─ ${topic(chain.b.topicArn)} publish`,
      `         └─ ${chain.b.group} process InvoiceRequested  [processed]`,
    ]);
  });

  it("a publish inside the application's own span continues that span's trace", async () => {
    const chain = await twoHopChain();
    const source = new Publisher({ topicArn: chain.a.topicArn, source: 'test' });
    let requestSpan: { traceId: string; spanId: string } | undefined;
    const { recordB } = await chain.run(() =>
      trace.getTracer('app').startActiveSpan('POST /orders', async (span) => {
        requestSpan = span.spanContext();
        await source.publish({ type: 'OrderPlaced', data: {} });
        span.end();
      }),
    );
    const publishA = spanNamed(exporter.getFinishedSpans(), `${chain.a.topicArn.split(':').pop()} publish`);
    expect(publishA.parentSpanContext?.spanId).toBe(requestSpan?.spanId);
    expect(parts(traceparentOf(recordB)).traceId).toBe(requestSpan?.traceId);
  });

  it('outside any span, a publish continues the X-Ray trace of the Lambda invocation (_X_AMZN_TRACE_ID)', async () => {
    const { topicArn, queue } = await topicWithGroup();
    vi.stubEnv(
      '_X_AMZN_TRACE_ID',
      'Root=1-6759e988-bd862e3fe1be46a994272793;Parent=63995c3f42cd8ad8;Sampled=1',
    );
    try {
      await new Publisher({ topicArn }).publish({ type: 'OrderPlaced', data: {} });
    } finally {
      vi.unstubAllEnvs();
    }
    const [record] = await receiveExactly(queue, 1);
    expect(parts(traceparentOf(record)).traceId).toBe('6759e988bd862e3fe1be46a994272793');
    const [publish] = exporter.getFinishedSpans();
    expect(publish.parentSpanContext?.spanId).toBe('63995c3f42cd8ad8');
  });

  it('a subscription without raw delivery: the record continues the traceparent inside the SNS notification', async () => {
    const { sns } = clients();
    const topicArn = await ensureTopic(sns, uniqueName('topic'));
    const { queue, group } = await groupQueue();
    await ensureSubscription(sns, topicArn, queue.arn, undefined, false);
    const handler = consumer({ group, idempotency: false, handlers: { OrderPlaced: () => {} } });
    await new Publisher({ topicArn, source: 'test' }).publish({ type: 'OrderPlaced', data: {} });
    const records = await receiveExactly(queue, 1);
    expect(records[0].messageAttributes.traceparent).toBeUndefined(); // it is inside the body
    expect((await handler({ Records: records })).batchItemFailures).toEqual([]);

    const spans = exporter.getFinishedSpans();
    const publish = spanNamed(spans, `${topicArn.split(':').pop()} publish`);
    const process = spanNamed(spans, `${group} process OrderPlaced`);
    expect(process.spanContext().traceId).toBe(publish.spanContext().traceId);
    expect(process.parentSpanContext?.spanId).toBe(publish.spanContext().spanId);
  });

  it("the record's AWSTraceHeader (set by X-Ray) wins over the traceparent attribute", async () => {
    const { topicArn, queue, group } = await topicWithGroup();
    await new Publisher({ topicArn }).publish({ type: 'OrderPlaced', data: {} });
    const [record] = await receiveExactly(queue, 1);
    expect(traceparentOf(record)).toMatch(/^00-[0-9a-f]{32}-/);
    // SQS adds AWSTraceHeader when X-Ray traced the send; the emulators do not, so the test adds it
    // to the received record as Lambda would hand it over.
    const xray = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    const handler = consumer({ group, idempotency: false, handle: () => {} });
    exporter.reset();
    const response = await handler({
      Records: [{ ...record, attributes: { ...record.attributes, AWSTraceHeader: xray } }],
    });

    expect(response.batchItemFailures).toEqual([]);
    const process = spanNamed(exporter.getFinishedSpans(), `${group} process OrderPlaced`);
    expect(process.spanContext().traceId).toBe('5759e988bd862e3fe1be46a994272793');
    expect(process.parentSpanContext?.spanId).toBe('53995c3f42cd8ad8');
  });

  it('a malformed traceparent is ignored and logged once: the record is processed in a new trace, never poison', async () => {
    const { queue, dlq, group } = await groupQueue();
    await sendRaw(queue, JSON.stringify(envelope('OrderPlaced', {})), {
      MessageAttributes: {
        type: { DataType: 'String', StringValue: 'OrderPlaced' },
        traceparent: { DataType: 'String', StringValue: '00-not-a-trace-01' },
      },
    });
    const records = await receiveExactly(queue, 1);
    const { logger, warn } = quietLogger();
    let handled = 0;
    const handler = consumer({ group, logger, idempotency: false, handle: () => void handled++ });

    const response = await handler({ Records: records });

    expect(response.batchItemFailures).toEqual([]);
    expect(handled).toBe(1);
    expect(await queueDepth(dlq)).toEqual({ visible: 0, inFlight: 0 });
    const malformed = warn.mock.calls.filter(([message]) =>
      String(message).includes('malformed trace header'),
    );
    expect(malformed).toHaveLength(1);
    expect(malformed[0][1]).toMatchObject({ messageId: records[0].messageId });
    expect(JSON.stringify(malformed[0][1])).toContain('00-not-a-trace-01');
    const process = spanNamed(exporter.getFinishedSpans(), `${group} process OrderPlaced`);
    expect(process.parentSpanContext).toBeUndefined();
    expect(process.attributes[OUTCOME_SPAN_ATTRIBUTE]).toBe('processed');
  });

  it('a record abandoned at the deadline ends its span once, as failed, when the batch answers (found by an adversarial review)', async () => {
    const { queue, group } = await groupQueue();
    await sendRaw(queue, JSON.stringify(envelope('OrderPlaced', {})), {
      MessageAttributes: { type: { DataType: 'String', StringValue: 'OrderPlaced' } },
    });
    const records = await receiveExactly(queue, 1);
    const gate = Promise.withResolvers<void>();
    const finished = Promise.withResolvers<void>();
    const handler = consumer({
      group,
      idempotency: false,
      handle: async () => {
        await gate.promise;
        finished.resolve();
      },
    });
    const response = await handler({ Records: records }, lambdaContext(1500));
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: records[0].messageId }]);
    const atAnswer = exporter.getFinishedSpans().filter((s) => s.name === `${group} process OrderPlaced`);
    expect(atAnswer.map((s) => s.attributes[OUTCOME_SPAN_ATTRIBUTE])).toEqual(['failed']);
    gate.resolve();
    await finished.promise;
    const afterwards = exporter.getFinishedSpans().filter((s) => s.name === `${group} process OrderPlaced`);
    expect(afterwards).toHaveLength(1);
  });

  it('a FIFO record not started after its group failed still gets a span, as deferred (found by an adversarial review)', async () => {
    const failing = consumer({
      group: 'traced-fifo',
      idempotency: false,
      handle: () => {
        throw new Error('the first record fails');
      },
    });
    const records = [1, 2].map((n) => sqsRecord(envelope('Posting', { n }), { groupId: 'account-1' }));
    const response = await failing({ Records: records }, lambdaContext(5000));
    expect(response.batchItemFailures).toHaveLength(2);
    const spans = exporter.getFinishedSpans().filter((s) => s.name === 'traced-fifo process Posting');
    expect(spans.map((s) => s.attributes[OUTCOME_SPAN_ATTRIBUTE]).sort()).toEqual(['deferred', 'failed']);
  });
});

describe('tracing with no OpenTelemetry SDK (the no-op tracer)', () => {
  it('the trace id still flows across two hops; the onward message names the handler as parent, not the first message', async () => {
    const chain = await twoHopChain();
    const { recordA, recordB } = await chain.run();
    const first = parts(traceparentOf(recordA));
    const onward = parts(traceparentOf(recordB));
    expect(first.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(onward.traceId).toBe(first.traceId);
    expect(onward.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(onward.spanId).not.toBe(first.spanId);
  });

  it("fanout's log lines carry the trace id beside the correlation id", async () => {
    const { topicArn, queue, group } = await topicWithGroup();
    await new Publisher({ topicArn }).publish({ type: 'OrderPlaced', data: {}, correlationId: 'flow-7' });
    const records = await receiveExactly(queue, 1);
    const { logger, warn } = quietLogger();
    const handler = consumer({
      group,
      logger,
      idempotency: false,
      backoff: false,
      handle: () => {
        throw new Error('downstream unavailable');
      },
    });

    const response = await handler({ Records: records });

    expect(response.batchItemFailures).toHaveLength(1);
    const failed = warn.mock.calls.find(([message]) => String(message).includes('record failed'));
    expect(failed?.[1]).toMatchObject({
      correlationId: 'flow-7',
      traceId: parts(traceparentOf(records[0])).traceId,
    });
  });
});

describe('the X-Ray header of the publish call', () => {
  const INVOCATION = 'Root=1-7759e988-bd862e3fe1be46a994272793;Parent=73995c3f42cd8ad8;Sampled=1';

  /** An SNS client that records the X-Amzn-Trace-Id header of each request it sends. */
  function spiedClient() {
    const client = new SNSClient({});
    const headers: (string | undefined)[] = [];
    const stack = client.middlewareStack as unknown as {
      add(m: (next: (a: unknown) => Promise<unknown>) => (a: unknown) => Promise<unknown>, o: object): void;
    };
    stack.add(
      (next) => async (args) => {
        headers.push(
          (args as { request: { headers: Record<string, string> } }).request.headers['X-Amzn-Trace-Id'],
        );
        return next(args);
      },
      { step: 'finalizeRequest', name: 'spy-trace-header' },
    );
    return { client, headers };
  }

  it("in Lambda, a handler's publish sends the message's trace as X-Amzn-Trace-Id, not the invocation's (which SNS would pass on as AWSTraceHeader)", async () => {
    const a = await topicWithGroup();
    const b = await topicWithGroup();
    await new Publisher({ topicArn: a.topicArn }).publish({ type: 'OrderPlaced', data: {} });
    const records = await receiveExactly(a.queue, 1);
    const messageTrace = parts(traceparentOf(records[0])).traceId;
    const traced = spiedClient();
    const untraced = spiedClient();
    const handler = consumer({
      group: a.group,
      idempotency: false,
      handle: async () => {
        await new Publisher({ topicArn: b.topicArn, client: traced.client }).publish({
          type: 'Next',
          data: {},
        });
        await new Publisher({ topicArn: b.topicArn, client: untraced.client, tracing: false }).publish({
          type: 'Next',
          data: {},
        });
      },
    });
    vi.stubEnv('AWS_LAMBDA_FUNCTION_NAME', 'group-a');
    vi.stubEnv('_X_AMZN_TRACE_ID', INVOCATION);
    try {
      expect((await handler({ Records: records })).batchItemFailures).toEqual([]);
    } finally {
      vi.unstubAllEnvs();
    }

    const xrayRoot = `1-${messageTrace.slice(0, 8)}-${messageTrace.slice(8)}`;
    expect(traced.headers).toEqual([
      expect.stringMatching(new RegExp(`^Root=${xrayRoot};Parent=[0-9a-f]{16};Sampled=1$`)),
    ]);
    // Without fanout's header the AWS SDK sends the invocation's: what the traced publish replaces.
    expect(untraced.headers).toEqual([INVOCATION]);
  });
});

describe('the 10-attribute budget of raw delivery', () => {
  const attributes = (count: number) =>
    Object.fromEntries(Array.from({ length: count }, (_, n) => [`attr${n}`, `v${n}`]));

  it("11 attributes in all (9 of the user's + type + traceparent) is a clear error naming the count and the fix", async () => {
    const { topicArn } = await topicWithGroup();
    const error = await new Publisher({ topicArn })
      .publish({ type: 'OrderPlaced', data: {}, id: 'busy-1', attributes: attributes(9) })
      .catch((e) => e);
    expect(error).toBeInstanceOf(PublishValidationError);
    expect(error.field).toBe('attributes');
    expect(error.message).toMatch(
      /message 'busy-1' has 11 message attributes \(9 of yours plus fanout's 'type' and 'traceparent'\); SQS accepts at most 10 .* Pass at most 8 /,
    );
  });

  it("10 in all (8 of the user's + fanout's) is published and delivered with every attribute", async () => {
    const { topicArn, queue } = await topicWithGroup();
    await new Publisher({ topicArn }).publish({ type: 'OrderPlaced', data: {}, attributes: attributes(8) });
    const [record] = await receiveExactly(queue, 1);
    expect(Object.keys(record.messageAttributes)).toHaveLength(MAX_MESSAGE_ATTRIBUTES);
    expect(traceparentOf(record)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
  });

  it('with tracing off, the user has 9 again and no traceparent is written', async () => {
    const { topicArn, queue } = await topicWithGroup();
    await new Publisher({ topicArn, tracing: false }).publish({
      type: 'OrderPlaced',
      data: {},
      attributes: attributes(9),
    });
    const [record] = await receiveExactly(queue, 1);
    expect(Object.keys(record.messageAttributes)).toHaveLength(MAX_MESSAGE_ATTRIBUTES);
    expect(record.messageAttributes.traceparent).toBeUndefined();
  });
});
