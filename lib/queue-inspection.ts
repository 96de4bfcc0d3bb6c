import {
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { changeVisibility } from './visibility.ts';

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

/**
 * True when an error from StartMessageMoveTask says the endpoint has no move tasks at all: an AWS-style
 * `InvalidAction` / `UnknownOperation` / `NotImplemented` error (fauxqs answers 400 `InvalidAction`
 * "Unknown action: StartMessageMoveTask"), HTTP 501 (LocalStack's "not yet implemented"), or a 500 whose
 * body is not an AWS error at all (moto answers a bare HTML "Internal Server Error" page, which the SDK
 * cannot parse). Everything else (AccessDenied, a real InternalError, throttling, a bad ARN) is not.
 */
export function moveTasksUnsupported(error: unknown): boolean {
  const e = error as {
    name?: string;
    Code?: string;
    __type?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const status = e?.$metadata?.httpStatusCode;
  if (status === 501) return true;
  const codes = [e?.name, e?.Code, e?.__type?.split('#').pop()].filter(Boolean) as string[];
  const unsupported =
    /^(InvalidAction|UnknownOperation(Exception)?|UnsupportedOperation(Exception)?|NotImplemented(Exception)?)$/;
  if (codes.some((code) => unsupported.test(code))) return true;
  const message = e?.message ?? '';
  if (/\bnot (yet |been )?implemented\b|\bunknown (action|operation)\b/i.test(message)) return true;
  // The SDK could not read the answer as an AWS error: not an AWS service (an emulator's bare 500 page).
  return status === 500 && /Deserialization error/.test(message);
}
