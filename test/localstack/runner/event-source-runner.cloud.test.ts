import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { createSqsClient } from '../../../lib/index.ts';
import { EventSourceRunner, type InvocationReport } from '../../../localstack/runner/event-source-runner.ts';
import { groupQueue, queueDepth, sendEnvelopes, waitFor } from '../../helpers/cloud.ts';
import { envelope } from '../../helpers/sqs-events.ts';

const running: EventSourceRunner[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
});

async function runnerFor(
  handler: (event: SQSEvent, context: { getRemainingTimeInMillis(): number }) => unknown,
  settings: {
    batchSize?: number;
    window?: number;
    timeout?: number;
    visibility?: number;
    concurrency?: number;
  } = {},
) {
  const { queue, group } = await groupQueue({ visibility: settings.visibility ?? 1 });
  const reports: InvocationReport[] = [];
  const runner = new EventSourceRunner({
    group,
    queueUrl: queue.url,
    queueArn: queue.arn,
    region: 'us-east-1',
    handler: handler as never,
    sqs: createSqsClient(),
    batchSize: settings.batchSize ?? 10,
    batchingWindowSeconds: settings.window ?? 0,
    maxConcurrency: settings.concurrency ?? 1,
    timeoutSeconds: settings.timeout ?? 5,
    onInvocation: (r) => reports.push(r),
  });
  running.push(runner);
  return { queue, runner, reports };
}

describe('EventSourceRunner', () => {
  it('deletes acked records and leaves the reported ones to reappear', async () => {
    const seen = new Map<string, number>();
    const { queue, runner, reports } = await runnerFor(async (event): Promise<SQSBatchResponse> => {
      const failures = [];
      for (const r of event.Records) {
        const n = JSON.parse(r.body).data.n;
        seen.set(n, (seen.get(n) ?? 0) + 1);
        if (n === 2 && seen.get(n) === 1) failures.push({ itemIdentifier: r.messageId });
      }
      return { batchItemFailures: failures };
    });
    await sendEnvelopes(
      queue,
      [0, 1, 2, 3].map((n) => envelope('T', { n })),
    );
    runner.start();
    await waitFor(async () => seen.get(2 as never) === 2 && (await queueDepth(queue)).inFlight === 0, {
      what: 'the retry of record 2',
    });
    expect([...seen.values()].sort()).toEqual([1, 1, 1, 2]);
    expect(reports.some((r) => r.retried === 1 && r.deleted === r.records - 1)).toBe(true);
    expect(await queueDepth(queue)).toEqual({ visible: 0, inFlight: 0 });
  });

  it.each([
    ['throws', () => Promise.reject(new Error('boom')), /the handler threw: boom/],
    [
      'reports an id that is not in the batch',
      () => ({ batchItemFailures: [{ itemIdentifier: 'nope' }] }),
      /not a message of this batch/,
    ],
    [
      'reports an empty itemIdentifier',
      () => ({ batchItemFailures: [{ itemIdentifier: '' }] }),
      /valid itemIdentifier/,
    ],
  ])('retries the whole batch when the handler %s, as Lambda does', async (_name, behave, reason) => {
    let calls = 0;
    const { queue, runner, reports } = await runnerFor(async () => {
      calls++;
      return calls === 1 ? behave() : { batchItemFailures: [] };
    });
    await sendEnvelopes(queue, [envelope('T', { n: 1 }), envelope('T', { n: 2 })]);
    runner.start();
    await waitFor(
      async () =>
        calls >= 2 && (await queueDepth(queue)).inFlight === 0 && (await queueDepth(queue)).visible === 0,
      {
        what: 'the whole batch to be retried and then deleted',
      },
    );
    expect(reports[0]).toMatchObject({ deleted: 0, retried: 2 });
    expect(reports[0].batchFailure).toMatch(reason);
  });

  it('fails the whole batch when the handler outlives the function timeout', async () => {
    let calls = 0;
    const { queue, runner, reports } = await runnerFor(
      () => {
        calls++;
        return calls === 1 ? new Promise(() => {}) : undefined;
      },
      { timeout: 1 },
    );
    await sendEnvelopes(queue, [envelope('T', { n: 1 })]);
    runner.start();
    await waitFor(() => reports.length >= 2, { what: 'the timed-out batch to come back' });
    expect(reports[0].batchFailure).toMatch(/timed out after 1 seconds/);
    expect(reports[1]).toMatchObject({ deleted: 1 });
  });

  it('gives the handler a context whose deadline is the function timeout', async () => {
    let remaining = -1;
    const { queue, runner } = await runnerFor(
      (_event, context) => {
        remaining = context.getRemainingTimeInMillis();
      },
      { timeout: 7 },
    );
    await sendEnvelopes(queue, [envelope('T', {})]);
    runner.start();
    await waitFor(() => remaining >= 0, { what: 'an invocation' });
    expect(remaining).toBeGreaterThan(6000);
    expect(remaining).toBeLessThanOrEqual(7000);
  });

  it('fills batches beyond 10 records within the batching window', async () => {
    const sizes: number[] = [];
    const { queue, runner } = await runnerFor(
      (event) => {
        sizes.push(event.Records.length);
      },
      { batchSize: 25, window: 2, visibility: 30 },
    );
    await sendEnvelopes(
      queue,
      Array.from({ length: 25 }, (_, n) => envelope('T', { n })),
    );
    runner.start();
    await waitFor(() => sizes.reduce((a, b) => a + b, 0) === 25, { what: 'all 25 records' });
    expect(sizes).toEqual([25]);
  });
});

describe('EventSourceRunner when SQS is unreachable', () => {
  it('keeps polling without invoking or crashing, and stops cleanly', async () => {
    const { SQSClient } = await import('@aws-sdk/client-sqs');
    const unreachable = new SQSClient({
      endpoint: 'http://127.0.0.1:9',
      maxAttempts: 1,
      useQueueUrlAsEndpoint: false,
    });
    const reports: InvocationReport[] = [];
    let attempts = 0;
    unreachable.middlewareStack.add(
      (next) => async (args) => {
        attempts++;
        return next(args);
      },
      { step: 'initialize', name: 'count-attempts' },
    );
    const runner = new EventSourceRunner({
      group: 'down',
      queueUrl: 'http://127.0.0.1:9/000000000000/down',
      queueArn: 'arn:aws:sqs:us-east-1:000000000000:down',
      region: 'us-east-1',
      handler: () => {
        throw new Error('must not be invoked');
      },
      sqs: unreachable,
      batchSize: 10,
      batchingWindowSeconds: 0,
      maxConcurrency: 1,
      timeoutSeconds: 5,
      onInvocation: (r) => reports.push(r),
    });
    runner.start();
    await waitFor(() => attempts >= 3, { what: 'the runner to retry its polls' });
    await runner.stop();
    expect(reports).toEqual([]);
  });
});
