import { randomUUID } from 'node:crypto';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { createEnvelope, type Envelope } from '../../lib/index.ts';

export const QUEUE_ARN = 'arn:aws:sqs:us-east-1:000000000000:orders-audit';
export const FIFO_QUEUE_ARN = 'arn:aws:sqs:us-east-1:000000000000:ledger.fifo';

/** An envelope as a publisher would write it. */
export function envelope<T>(type: string, data: T, overrides: Partial<Envelope<T>> = {}): Envelope<T> {
  return { ...createEnvelope({ type, data }, { source: 'test' }), ...overrides };
}

/** A Lambda SQS record; `body` may be an envelope (serialised) or a raw string. */
export function sqsRecord(
  body: unknown,
  options: {
    messageId?: string;
    receiveCount?: number;
    groupId?: string;
    queueArn?: string;
    messageAttributes?: SQSRecord['messageAttributes'];
  } = {},
): SQSRecord {
  return {
    messageId: options.messageId ?? randomUUID(),
    receiptHandle: `handle-${randomUUID()}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: String(options.receiveCount ?? 1),
      SentTimestamp: String(Date.now()),
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
      ...(options.groupId ? { MessageGroupId: options.groupId } : {}),
    },
    messageAttributes: options.messageAttributes ?? {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: options.queueArn ?? (options.groupId ? FIFO_QUEUE_ARN : QUEUE_ARN),
    awsRegion: 'us-east-1',
  };
}

export function sqsEvent(records: SQSRecord[]): SQSEvent {
  return { Records: records };
}

/** A Lambda context whose deadline is `remainingMs` from now. */
export function lambdaContext(remainingMs: number) {
  const deadline = Date.now() + remainingMs;
  return { getRemainingTimeInMillis: () => deadline - Date.now() };
}
