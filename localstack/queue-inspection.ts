import {
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { changeVisibility } from '../lib/visibility.ts';

/** A queue's approximate depth. */
export interface QueueDepth {
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
}

/** Reads a queue's approximate visible, in-flight and delayed counts. */
export async function readQueueDepth(sqs: SQSClient, queueUrl: string): Promise<QueueDepth> {
  const { Attributes: a = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  return {
    visible: Number(a.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
  };
}

/**
 * Receives up to `limit` distinct messages (with every attribute), hiding each for `holdSeconds`;
 * stops when a receive brings nothing new.
 */
export async function receiveUpTo(
  sqs: SQSClient,
  queueUrl: string,
  limit: number,
  holdSeconds: number,
): Promise<Message[]> {
  const seen = new Map<string, Message>();
  while (seen.size < limit) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(10, limit - seen.size),
        VisibilityTimeout: holdSeconds,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    const fresh = Messages.filter((m) => m.MessageId && !seen.has(m.MessageId));
    if (fresh.length === 0) break;
    for (const m of fresh) seen.set(m.MessageId ?? '', m);
  }
  return [...seen.values()];
}

/** Makes received messages visible again at once. */
export async function releaseMessages(
  sqs: SQSClient,
  queueUrl: string,
  messages: readonly Message[],
): Promise<void> {
  await changeVisibility(
    sqs,
    queueUrl,
    messages.map((m) => ({ receiptHandle: m.ReceiptHandle ?? '', seconds: 0 })),
  );
}

/** Every message in a queue, read without consuming it. */
export async function readAllMessages(sqs: SQSClient, queueUrl: string): Promise<Message[]> {
  const all = await receiveUpTo(sqs, queueUrl, Number.POSITIVE_INFINITY, 30);
  await releaseMessages(sqs, queueUrl, all);
  return all;
}
