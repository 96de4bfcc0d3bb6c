import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { moveTasksUnsupported } from '../../lib/index.ts';
import type { QueueRef } from '../provisioning/resources.ts';
import {
  type Check,
  type CheckOutcome,
  describeError,
  no,
  type ProbeContext,
  partial,
  probeQueueWithDlq,
  receive,
  receiveUntil,
  sleep,
  yes,
} from './support.ts';

// SQS behaviours: redrive, FIFO delivery, message move tasks. Each check owns its queues.

async function sendFifo(ctx: ProbeContext, queue: QueueRef, body: string, group = 'g1') {
  await ctx.sqs.send(
    new SendMessageCommand({
      QueueUrl: queue.url,
      MessageBody: body,
      MessageGroupId: group,
      MessageDeduplicationId: body,
    }),
    ctx.opts,
  );
}

const bodies = (messages: readonly Message[]) => messages.map((m) => m.Body ?? '');

async function nack(ctx: ProbeContext, queue: QueueRef, message: Message, seconds: number) {
  await ctx.sqs.send(
    new ChangeMessageVisibilityCommand({
      QueueUrl: queue.url,
      ReceiptHandle: message.ReceiptHandle,
      VisibilityTimeout: seconds,
    }),
    ctx.opts,
  );
}

const redrive: Check = {
  id: 'redrive',
  behaviour: 'redrive to the DLQ after maxReceiveCount',
  async run(ctx) {
    const maxReceiveCount = 2;
    const { queue, dlq } = await probeQueueWithDlq(ctx, 'redrive', { maxReceiveCount });
    await ctx.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'poison' }), ctx.opts);
    let receives = 0;
    for (let i = 0; i < maxReceiveCount + 2; i++) {
      const [message] = await receive(ctx, queue, { max: 1, waitSeconds: 1 });
      if (!message) break;
      receives++;
      await nack(ctx, queue, message, 0);
    }
    const dead = await receiveUntil(ctx, dlq, (seen) => seen.length > 0, 3000);
    const after = `after ${receives} receives (maxReceiveCount ${maxReceiveCount})`;
    if (dead.length === 0) return no(`not in the DLQ ${after}`);
    return receives === maxReceiveCount
      ? yes(`moved to the DLQ ${after}`)
      : partial(`moved to the DLQ ${after}`);
  },
};

const severalPerGroup: Check = {
  id: 'fifo-several-per-group',
  behaviour: 'several messages of one FIFO group per receive',
  async run(ctx) {
    const { queue } = await probeQueueWithDlq(ctx, 'fifo-batch', { fifo: true });
    for (const body of ['m1', 'm2', 'm3']) await sendFifo(ctx, queue, body);
    const got = await receive(ctx, queue, { max: 10, waitSeconds: 1 });
    const detail = `${got.length} of 3 messages of group g1 in one receive`;
    if (got.length === 0) return { result: 'error', detail };
    if (bodies(got).join() !== ['m1', 'm2', 'm3'].slice(0, got.length).join())
      return no(`${detail}, out of order: ${bodies(got).join(', ')}`);
    return got.length === 3 ? yes(detail) : got.length === 1 ? no(detail) : partial(detail);
  },
};

const orderAfterNack: Check = {
  id: 'fifo-order-after-nack',
  behaviour: 'FIFO order after a nack with a visibility delay',
  async run(ctx) {
    const { queue } = await probeQueueWithDlq(ctx, 'fifo-nack', { fifo: true });
    await sendFifo(ctx, queue, 'm1');
    await sendFifo(ctx, queue, 'm2');
    const [first] = await receive(ctx, queue, { max: 1, waitSeconds: 1 });
    if (!first) return { result: 'error', detail: 'nothing received from a queue holding m1, m2' };
    if (first.Body !== 'm1') return no(`first receive gave ${first.Body}, not m1`);
    const delay = 2;
    await nack(ctx, queue, first, delay);
    const nackedAt = Date.now();
    const next = await receiveUntil(ctx, queue, (seen) => seen.length > 0, (delay + 4) * 1000);
    const after = ((Date.now() - nackedAt) / 1000).toFixed(1);
    if (next.length === 0) return no(`nothing delivered within ${delay + 4} s of m1's ${delay} s nack`);
    if (next[0].Body !== 'm1')
      return no(`${next[0].Body} delivered ${after} s after m1's ${delay} s nack, before m1 came back`);
    if (Number(after) < delay - 0.5) return partial(`m1 came back after ${after} s, not after ${delay} s`);
    return yes(`m2 waited; m1 came back first, ${after} s after its ${delay} s nack`);
  },
};

const groupLock: Check = {
  id: 'fifo-group-lock',
  behaviour: 'FIFO group lock under concurrent long polls',
  async run(ctx) {
    const { queue } = await probeQueueWithDlq(ctx, 'fifo-lock', { fifo: true });
    // Two long polls wait on the empty queue; then m1 and m2 of one group arrive. AWS hands m1 to one
    // poll and nothing to the other while m1 is in flight.
    const polls = Promise.all([1, 2].map(() => receive(ctx, queue, { max: 1, waitSeconds: 4 })));
    polls.catch(() => undefined); // a failed send below must not leave the polls' failure unhandled
    await sleep(1000);
    await sendFifo(ctx, queue, 'm1');
    await sendFifo(ctx, queue, 'm2');
    const got = (await polls).flat();
    if (got.length === 0) return { result: 'error', detail: 'neither long poll received anything in 4 s' };
    if (got.length > 1)
      return no(`${got.length} messages of group g1 in flight at once (${bodies(got).join(', ')})`);
    const [held] = got;
    await ctx.sqs.send(
      new DeleteMessageCommand({ QueueUrl: queue.url, ReceiptHandle: held.ReceiptHandle }),
      ctx.opts,
    );
    const next = await receiveUntil(ctx, queue, (seen) => seen.length > 0, 3000);
    if (next.length === 0) return no(`group g1 stayed locked after ${held.Body} was deleted`);
    return yes(`one poll got ${held.Body}, the other nothing; ${next[0].Body} once ${held.Body} was deleted`);
  },
};

const moveTasks: Check = {
  id: 'message-move-tasks',
  behaviour: 'message move tasks (StartMessageMoveTask)',
  async run(ctx): Promise<CheckOutcome> {
    const { queue, dlq } = await probeQueueWithDlq(ctx, 'move', { maxReceiveCount: 1 });
    await ctx.sqs.send(new SendMessageCommand({ QueueUrl: dlq.url, MessageBody: 'dead' }), ctx.opts);
    let handle: string | undefined;
    try {
      ({ TaskHandle: handle } = await ctx.sqs.send(
        new StartMessageMoveTaskCommand({ SourceArn: dlq.arn, DestinationArn: queue.arn }),
        ctx.opts,
      ));
    } catch (error) {
      if (moveTasksUnsupported(error)) return no(`not supported: ${describeError(error)}`);
      return { result: 'error', detail: describeError(error) };
    }
    const moved = await receiveUntil(ctx, queue, (seen) => seen.length > 0, 5000);
    return moved.length > 0
      ? yes('the dead letter was moved back to its queue')
      : partial(`task started (${handle ? 'with a handle' : 'no handle'}), nothing moved within 5 s`);
  },
};

export const queueChecks: readonly Check[] = [redrive, severalPerGroup, orderAfterNack, groupLock, moveTasks];
