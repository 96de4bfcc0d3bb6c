import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  PurgeQueueCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import {
  chunkEntries,
  deadLetterReason,
  moveTasksUnsupported,
  parseQueueArn,
  receiveUpTo,
  redriveMessage,
  releaseMessages,
  SQS_MAX_MESSAGE_BYTES,
  sqsMessageBytes,
} from '../lib/index.ts';
import { CliError, type GroupAddress } from './target.ts';

/** A dead letter as `fanout dlq peek` shows it. */
export interface DeadLetter {
  readonly messageId: string;
  readonly body: string;
  readonly receiveCount: number;
  /** Why it is dead: the consumer's poison reason, or `max-receives` (the queue's redrive policy). */
  readonly reason: string;
  readonly detail?: string;
  /** The consumer group that dead-lettered it (fanout's copies only). */
  readonly group?: string;
  readonly sentAt?: string;
  readonly firstReceivedAt?: string;
}

/** SendMessageBatch takes at most 256 KiB in all on a queue with the default size limit. */
const SEND_BATCH_BYTES = SQS_MAX_MESSAGE_BYTES;

/** How long received dead letters stay hidden while the CLI works on them, in seconds. */
const HOLD_SECONDS = 60;

function toDeadLetter(m: Message): DeadLetter {
  const at = (ms?: string) => (ms ? new Date(Number(ms)).toISOString() : undefined);
  const attributes = m.Attributes ?? {};
  return {
    messageId: m.MessageId ?? '',
    body: m.Body ?? '',
    receiveCount: Number(attributes.ApproximateReceiveCount ?? 0),
    ...deadLetterReason(m),
    sentAt: at(attributes.SentTimestamp),
    firstReceivedAt: at(attributes.ApproximateFirstReceiveTimestamp),
  };
}

/**
 * Reads up to `limit` dead letters without consuming them: they are received with a short hold and
 * made visible again at once. (Each peek counts as a receive in the DLQ's ApproximateReceiveCount.)
 */
export async function peekDeadLetters(
  sqs: SQSClient,
  group: GroupAddress,
  limit: number,
): Promise<DeadLetter[]> {
  const messages = await receiveUpTo(sqs, group.dlqUrl, limit, HOLD_SECONDS);
  await releaseMessages(sqs, group.dlqUrl, messages);
  return messages.map(toDeadLetter);
}

/** What a redrive did. */
export interface RedriveResult {
  /** `move-task`: SQS moves them server-side; `copy`: received, sent to the queue, deleted from the DLQ. */
  readonly method: 'move-task' | 'copy';
  readonly moved: readonly string[];
  /** Dead letters that could not be sent; they stay in the DLQ, visible again. */
  readonly failed: readonly { readonly messageId: string; readonly error: string }[];
  /** Sent but not deleted from the DLQ (it will show there again; the consumer's idempotency skips the copy). */
  readonly undeleted: readonly string[];
  readonly taskHandle?: string;
}

/**
 * Moves dead letters back to the group's queue. Without a limit, an SQS message move task is used
 * where the endpoint supports it; otherwise (a limit, or an endpoint without move tasks, see
 * {@link moveTasksUnsupported}) each batch is received from the DLQ, sent to the queue, and deleted
 * from the DLQ only once the send succeeded. A failed send leaves its message in the DLQ (made visible
 * again): nothing is lost. Any other error starting the move task (e.g. AccessDenied) is a CliError:
 * nothing is moved, and nothing falls back to copying silently.
 *
 * A copy sends {@link redriveMessage}: the original body and attributes exactly (fanout's marks removed,
 * a packed copy unpacked), plus `id` for a plain-JSON body that had none, so its idempotency key holds.
 */
export async function redriveDeadLetters(
  sqs: SQSClient,
  group: GroupAddress,
  options: { limit?: number; onProgress?: (moved: number) => void } = {},
): Promise<RedriveResult> {
  if (options.limit === undefined) {
    try {
      const { TaskHandle } = await sqs.send(
        new StartMessageMoveTaskCommand({ SourceArn: group.dlqArn, DestinationArn: group.queueArn }),
      );
      return { method: 'move-task', moved: [], failed: [], undeleted: [], taskHandle: TaskHandle };
    } catch (error) {
      // Not supported here (the embedded emulator has no move tasks): copy instead. Anything else is real.
      if (!moveTasksUnsupported(error)) {
        const e = error as { name?: string; message?: string };
        const why = `${e.name ?? 'Error'}: ${String(e.message ?? error).split('\n')[0]}`;
        throw new CliError(
          `cannot start an SQS message move task from ${queueName(group.dlqArn)} to ${queueName(group.queueArn)} (${why}); nothing was moved. Fix the cause (e.g. allow sqs:StartMessageMoveTask), or pass --limit N to copy instead`,
        );
      }
    }
  }
  // Only what is dead now: letters that land in the DLQ during the redrive (e.g. a poison message
  // dead-lettered again at once by its consumer) wait for the next redrive instead of looping.
  const startedAt = Date.now();
  const depth = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: group.dlqUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  const deadNow =
    Number(depth.Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(depth.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  const limit = Math.min(options.limit ?? Number.POSITIVE_INFINITY, deadNow);
  // Letters this redrive leaves in the DLQ stay hidden until it ends, so that a receive never hands
  // them out again (some emulators return the same messages first) and the loop reaches the others.
  const held: Message[] = [];
  try {
    return await copyDeadLetters(sqs, group, { limit, startedAt, held, onProgress: options.onProgress });
  } finally {
    if (held.length > 0) await releaseMessages(sqs, group.dlqUrl, held).catch(() => {});
  }
}

/**
 * The copy half of a redrive: receive a batch from the DLQ, send it to the queue, delete what was
 * sent. Letters not to touch (newer than the redrive, or already tried) and letters that could not be
 * sent go into `held`, for the caller to make visible again at the end.
 */
async function copyDeadLetters(
  sqs: SQSClient,
  group: GroupAddress,
  options: { limit: number; startedAt: number; held: Message[]; onProgress?: (moved: number) => void },
): Promise<RedriveResult> {
  const { limit, startedAt, held } = options;
  const moved: string[] = [];
  const failed: { messageId: string; error: string }[] = [];
  const undeleted: string[] = [];
  const fifo = group.queueUrl.endsWith('.fifo');
  const attempted = new Set<string>();
  while (moved.length + failed.length < limit) {
    const received = await receiveUpTo(
      sqs,
      group.dlqUrl,
      Math.min(10, limit - moved.length - failed.length),
      HOLD_SECONDS,
    );
    const later = received.filter(
      (m) => Number(m.Attributes?.SentTimestamp ?? 0) > startedAt || attempted.has(m.MessageId ?? ''),
    );
    held.push(...later);
    const batch = received.filter((m) => !later.includes(m));
    if (batch.length === 0) break;
    for (const m of batch) attempted.add(m.MessageId ?? '');
    // A message whose copy cannot be restored (a damaged packed attribute) stays in the DLQ, reported.
    const unreadable: { message: Message; error: string }[] = [];
    const entries: SendMessageBatchRequestEntry[] = [];
    batch.forEach((m, n) => {
      try {
        entries.push(copyEntry(m, String(n), fifo));
      } catch (error) {
        unreadable.push({ message: m, error: (error as Error).message });
      }
    });
    const result: {
      Successful: { Id?: string }[];
      Failed: { Id?: string; Message?: string; Code?: string }[];
    } = {
      Successful: [],
      Failed: [],
    };
    const sized = entries.map((entry) => ({ entry, bytes: sqsMessageBytes(entry) }));
    for (const chunk of chunkEntries(sized, SEND_BATCH_BYTES).map((c) => c.map((s) => s.entry))) {
      try {
        const sentChunk = await sqs.send(
          new SendMessageBatchCommand({ QueueUrl: group.queueUrl, Entries: chunk }),
        );
        result.Successful.push(...(sentChunk.Successful ?? []));
        result.Failed.push(...(sentChunk.Failed ?? []));
      } catch (error) {
        result.Failed.push(...chunk.map((e) => ({ Id: e.Id, Message: (error as Error).message })));
      }
    }
    const sent = (result.Successful ?? []).map((s) => batch[Number(s.Id)]);
    const notSent = [
      ...unreadable,
      ...(result.Failed ?? []).map((f) => ({
        message: batch[Number(f.Id)],
        error: f.Message ?? f.Code ?? 'send failed',
      })),
    ];
    held.push(...notSent.map((f) => f.message));
    for (const f of notSent) failed.push({ messageId: f.message.MessageId ?? '', error: f.error });
    if (sent.length > 0) {
      const deleted = await deleteAll(sqs, group.dlqUrl, sent);
      for (const m of sent) {
        if (deleted.has(m.MessageId ?? '')) moved.push(m.MessageId ?? '');
        else undeleted.push(m.MessageId ?? '');
      }
    }
    options.onProgress?.(moved.length);
  }
  return { method: 'copy', moved, failed, undeleted };
}

/** Deletes messages, retrying failed entries a few times; resolves with the ids deleted. */
async function deleteAll(
  sqs: SQSClient,
  queueUrl: string,
  messages: readonly Message[],
): Promise<Set<string>> {
  const deleted = new Set<string>();
  let pending = [...messages];
  for (let attempt = 0; attempt < 4 && pending.length > 0; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt));
    try {
      const result = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: pending.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
      for (const ok of result.Successful ?? []) deleted.add(pending[Number(ok.Id)].MessageId ?? '');
    } catch {
      // retried below
    }
    pending = pending.filter((m) => !deleted.has(m.MessageId ?? ''));
  }
  return deleted;
}

function queueName(arn: string): string {
  return parseQueueArn(arn)?.name ?? arn;
}

/** The message to send back: the original body and attributes (see {@link redriveMessage}). */
function copyEntry(m: Message, id: string, fifo: boolean): SendMessageBatchRequestEntry {
  const entry: SendMessageBatchRequestEntry = { Id: id, ...redriveMessage(m) };
  if (fifo) {
    entry.MessageGroupId = m.Attributes?.MessageGroupId ?? 'redrive';
    // A redrive re-run within 5 minutes sends the same id: SQS drops the copy.
    entry.MessageDeduplicationId = m.MessageId;
  }
  return entry;
}

/** Deletes every message in the group's DLQ. */
export async function purgeDeadLetters(sqs: SQSClient, group: GroupAddress): Promise<void> {
  await sqs.send(new PurgeQueueCommand({ QueueUrl: group.dlqUrl }));
}
