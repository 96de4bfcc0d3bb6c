import { PublishBatchCommand, PublishCommand } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { SNS_DEFAULT_MAX_MESSAGE_BYTES } from '../../lib/index.ts';
import {
  type Check,
  type CheckOutcome,
  describeError,
  no,
  type ProbeContext,
  partial,
  probeQueue,
  probeSubscribedQueue,
  probeTopic,
  receiveUntil,
  yes,
} from './support.ts';

// SNS behaviours: filter policies, raw delivery, PublishBatch results, the size limit.

/** Publishes a non-matching then a matching message; the queue must get only the matching one. */
async function filterCheck(ctx: ProbeContext, scope: 'MessageAttributes' | 'MessageBody') {
  const { topicArn, queue } = await probeSubscribedQueue(ctx, scope === 'MessageBody' ? 'body' : 'attrs', {
    filter: { policy: { type: ['Wanted'] }, scope },
  });
  for (const type of ['Other', 'Wanted']) {
    await ctx.sns.send(
      new PublishCommand({
        TopicArn: topicArn,
        Message: JSON.stringify({ type, probe: true }),
        MessageAttributes:
          scope === 'MessageAttributes' ? { type: { DataType: 'String', StringValue: type } } : undefined,
      }),
      ctx.opts,
    );
  }
  const wanted = (body = '') => body.includes('"Wanted"');
  const seen = await receiveUntil(ctx, queue, (s) => s.some((m) => wanted(m.Body)), 5000);
  // The non-matching message was published first; give it one more poll to show up if it leaks.
  if (seen.length > 0) seen.push(...(await receiveUntil(ctx, queue, () => false, 1000)));
  const leaked = seen.filter((m) => !wanted(m.Body)).length;
  const matched = seen.length - leaked;
  if (matched === 0) return no(`the matching message did not arrive within 5 s (${leaked} others did)`);
  if (leaked > 0) return no(`the non-matching message was delivered too (${scope} filter ignored)`);
  return yes(`only the matching message of 2 delivered (${scope} scope)`);
}

const filterAttributes: Check = {
  id: 'filter-message-attributes',
  behaviour: 'filter policy on MessageAttributes',
  run: (ctx) => filterCheck(ctx, 'MessageAttributes'),
};

const filterBody: Check = {
  id: 'filter-message-body',
  behaviour: 'filter policy on MessageBody',
  run: (ctx) => filterCheck(ctx, 'MessageBody'),
};

const rawDelivery: Check = {
  id: 'raw-delivery',
  behaviour: 'raw message delivery',
  async run(ctx) {
    const { topicArn, queue } = await probeSubscribedQueue(ctx, 'raw');
    const body = `plain text ${ctx.name('body')}`;
    await ctx.sns.send(
      new PublishCommand({
        TopicArn: topicArn,
        Message: body,
        MessageAttributes: { type: { DataType: 'String', StringValue: 'Probe' } },
      }),
      ctx.opts,
    );
    const [message] = await receiveUntil(ctx, queue, (seen) => seen.length > 0, 5000);
    if (!message) return no('nothing delivered within 5 s');
    if (message.Body !== body) {
      const wrapped = /"Type"\s*:\s*"Notification"/.test(message.Body ?? '');
      return no(wrapped ? 'the body arrives wrapped in the SNS JSON envelope' : 'the body arrives changed');
    }
    const attribute = message.MessageAttributes?.type?.StringValue;
    return attribute === 'Probe'
      ? yes('body and message attribute arrive exactly as published')
      : partial('the body arrives as published, the message attribute does not');
  },
};

const publishBatchPartialFailure: Check = {
  id: 'publish-batch-partial-failure',
  behaviour: 'PublishBatch reports failed entries one by one',
  async run(ctx) {
    // Invalid entries AWS rejects one by one: a Number attribute that is no number; on a FIFO topic, an
    // entry without a message group id. Each batch also holds two valid entries.
    const standard = await probeTopic(ctx, ctx.name('batch'));
    const fifo = await probeTopic(ctx, ctx.name('batch', true));
    const tries = [
      {
        what: 'bad Number attribute',
        topicArn: standard,
        bad: { MessageAttributes: { n: { DataType: 'Number', StringValue: 'not-a-number' } } },
        good: (_id: string) => ({}),
      },
      {
        what: 'FIFO entry without group',
        topicArn: fifo,
        bad: { MessageDeduplicationId: 'bad' },
        good: (id: string) => ({ MessageGroupId: 'g1', MessageDeduplicationId: id }),
      },
    ];
    const perEntry: string[] = [];
    const wholeCall: string[] = [];
    const accepted: string[] = [];
    const odd: string[] = [];
    for (const t of tries) {
      let result: { Successful?: { Id?: string }[]; Failed?: { Id?: string; Code?: string }[] };
      try {
        result = await ctx.sns.send(
          new PublishBatchCommand({
            TopicArn: t.topicArn,
            PublishBatchRequestEntries: [
              { Id: 'ok1', Message: 'one', ...t.good('ok1') },
              { Id: 'bad', Message: 'bad', ...t.bad },
              { Id: 'ok2', Message: 'two', ...t.good('ok2') },
            ],
          }),
          ctx.opts,
        );
      } catch (error) {
        wholeCall.push(`${t.what} → whole call failed (${describeError(error, true)})`);
        continue;
      }
      const failed = (result.Failed ?? []).map((f) => f.Id);
      const ok = (result.Successful ?? []).map((s) => s.Id);
      if (failed.length === 0) accepted.push(`${t.what} → accepted`);
      else if (failed.join() === 'bad' && ok.sort().join() === 'ok1,ok2')
        perEntry.push(`${t.what} → Failed [bad] (${result.Failed?.[0]?.Code ?? 'no code'})`);
      else odd.push(`${t.what} → Failed [${failed.join(', ')}], Successful [${ok.join(', ')}]`);
    }
    const detail = [...perEntry, ...wholeCall, ...odd, ...accepted].join('; ');
    if (perEntry.length === 0 && wholeCall.length === 0 && odd.length === 0)
      return no(`no invalid entry was refused (${detail})`);
    if (perEntry.length > 0 && wholeCall.length === 0 && odd.length === 0) return yes(detail);
    return perEntry.length > 0 ? partial(detail) : no(detail);
  },
};

const messageSize: Check = {
  id: 'message-size-limit',
  behaviour: 'message size limit (SNS 256 KiB)',
  async run(ctx): Promise<CheckOutcome> {
    const limit = SNS_DEFAULT_MAX_MESSAGE_BYTES;
    const topicArn = await probeTopic(ctx, ctx.name('size'));
    const queue = await probeQueue(ctx, { name: ctx.name('size') });
    const accepts = async (send: () => Promise<unknown>) => {
      try {
        await send();
        return { ok: true, why: '' };
      } catch (error) {
        return { ok: false, why: describeError(error) };
      }
    };
    const publish = (bytes: number) => () =>
      ctx.sns.send(new PublishCommand({ TopicArn: topicArn, Message: 'x'.repeat(bytes) }), ctx.opts);
    const sendSqs = (bytes: number) => () =>
      ctx.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'x'.repeat(bytes) }), ctx.opts);
    const [snsAtLimit, snsOver, sqsAtLimit, sqsOver] = [
      await accepts(publish(limit)),
      await accepts(publish(limit + 1)),
      await accepts(sendSqs(limit)),
      await accepts(sendSqs(limit + 1)),
    ];
    const attributes = await ctx.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ['MaximumMessageSize'] }),
      ctx.opts,
    );
    const sqsMax = attributes.Attributes?.MaximumMessageSize ?? '?';
    const verdict = (r: { ok: boolean }) => (r.ok ? 'accepted' : 'rejected');
    const sqs = `SQS ${limit} B ${verdict(sqsAtLimit)}, +1 B ${verdict(sqsOver)} (MaximumMessageSize ${sqsMax})`;
    if (!snsAtLimit.ok) return no(`SNS rejected ${limit} B: ${snsAtLimit.why}; ${sqs}`);
    if (!sqsAtLimit.ok) return no(`SQS rejected ${limit} B: ${sqsAtLimit.why}`);
    if (snsOver.ok) return partial(`SNS accepted ${limit + 1} B (no limit enforced); ${sqs}`);
    return yes(`SNS ${limit} B accepted, +1 B rejected; ${sqs}`);
  },
};

export const topicChecks: readonly Check[] = [
  filterAttributes,
  filterBody,
  rawDelivery,
  publishBatchPartialFailure,
  messageSize,
];
