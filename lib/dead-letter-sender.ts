import {
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { SQS_MAX_BATCH_ENTRIES } from './aws-limits.ts';
import { Coalescer } from './consumer/coalescer.ts';
import { retryUntilDone } from './consumer/effect-retry.ts';
import { deadLetterCopy, sqsMessageBytes } from './dead-letter-format.ts';
import { queueUrlFromArn } from './queue-address.ts';

/** Longest wait of a poison record before its SendMessageBatch call goes out, in ms. */
export const DEAD_LETTER_LINGER_MS = 20;

/** A record to dead-letter at once, and why. */
export interface PoisonRecord {
  readonly record: SQSRecord;
  readonly reason: string;
  readonly detail: string;
}

/**
 * Finds a group's DLQ: the one configured, or else the one in the source queue's redrive policy
 * (looked up once per queue and cached for the life of the process).
 */
export class DeadLetterQueueLocator {
  private readonly urls = new Map<string, Promise<string | undefined>>();
  private readonly sqs: SQSClient;
  private readonly configuredUrl: string | undefined;

  constructor(sqs: SQSClient, configuredUrl?: string) {
    this.sqs = sqs;
    this.configuredUrl = configuredUrl;
  }

  /** The DLQ URL for records of `sourceArn`, `undefined` when the queue has none. */
  urlFor(sourceArn: string, signal?: AbortSignal): Promise<string | undefined> {
    if (this.configuredUrl) return Promise.resolve(this.configuredUrl);
    let url = this.urls.get(sourceArn);
    if (!url) {
      url = this.lookUp(sourceArn, signal);
      this.urls.set(sourceArn, url);
      url.catch(() => this.urls.delete(sourceArn));
    }
    return url;
  }

  private async lookUp(sourceArn: string, signal?: AbortSignal): Promise<string | undefined> {
    const result = await this.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrlFromArn(sourceArn),
        AttributeNames: ['RedrivePolicy'],
      }),
      { abortSignal: signal },
    );
    const policy = result.Attributes?.RedrivePolicy;
    if (!policy) return undefined;
    const target = (JSON.parse(policy) as { deadLetterTargetArn?: string }).deadLetterTargetArn;
    return target ? queueUrlFromArn(target) : undefined;
  }
}

interface Sendable {
  readonly entry: Omit<SendMessageBatchRequestEntry, 'Id'>;
  readonly bytes: number;
}

/**
 * Sends the poison records of one invocation to the group's DLQ, each soon after it is found,
 * gathered into `SendMessageBatch` calls that respect SQS's limits on entries (10) and on the
 * request's total size (the DLQ's largest message: 256 KiB, or 1 MiB on a raised DLQ). Entries SQS failed for a transient reason are retried within the
 * invocation's effects phase. `send` resolves `true` once the copy is in the DLQ (never rejects).
 */
export class DeadLetterSender {
  private readonly coalescer: Coalescer<Sendable, boolean>;
  private url: Promise<string | undefined> | undefined;
  private readonly sqs: SQSClient;
  private readonly group: string;
  private readonly locator: DeadLetterQueueLocator;
  private readonly signal: () => AbortSignal;
  private readonly maxMessageBytes: number;

  constructor(options: {
    sqs: SQSClient;
    group: string;
    locator: DeadLetterQueueLocator;
    /** The abort signal of the invocation's effects phase. */
    signal: () => AbortSignal;
    /** Whether records are still running (more poison may come soon). */
    busy: () => boolean;
    /** The DLQ's largest message, and largest SendMessageBatch request, in bytes. */
    maxMessageBytes: number;
  }) {
    this.sqs = options.sqs;
    this.group = options.group;
    this.locator = options.locator;
    this.signal = options.signal;
    this.maxMessageBytes = options.maxMessageBytes;
    this.coalescer = new Coalescer<Sendable, boolean>({
      maxItems: SQS_MAX_BATCH_ENTRIES,
      maxBytes: options.maxMessageBytes,
      sizeOf: (s) => s.bytes,
      lingerMs: DEAD_LETTER_LINGER_MS,
      busy: options.busy,
      send: (items) => this.sendCall(items),
    });
  }

  /** Dead-letters `poison`; resolves whether its copy reached the DLQ. */
  send(poison: PoisonRecord): Promise<boolean> {
    const { record } = poison;
    const copy = deadLetterCopy({
      body: record.body,
      messageAttributes: record.messageAttributes ?? {},
      messageId: record.messageId,
      reason: poison.reason,
      detail: poison.detail,
      group: this.group,
      maxMessageBytes: this.maxMessageBytes,
    });
    const entry: Omit<SendMessageBatchRequestEntry, 'Id'> = { ...copy };
    if (record.eventSourceARN?.endsWith('.fifo')) {
      entry.MessageGroupId = record.attributes?.MessageGroupId ?? 'poison';
      entry.MessageDeduplicationId = record.messageId;
    }
    const bytes = sqsMessageBytes(copy);
    // Only a record that nearly fills SQS's limit itself: left nacked, the redrive policy moves it as it is.
    if (bytes > this.maxMessageBytes) return Promise.resolve(false);
    this.url ??= this.locator.urlFor(record.eventSourceARN, this.signal()).catch(() => {
      this.url = undefined; // looked up again by the next poison record
      return undefined;
    });
    return this.coalescer.submit({ entry, bytes });
  }

  /** Sends waiting records now (call when no record is running any more). */
  nudge(): void {
    this.coalescer.nudge();
  }

  private async sendCall(items: readonly Sendable[]): Promise<boolean[]> {
    const url = await this.url;
    if (!url) return items.map(() => false);
    const rejectedForGood: Sendable[] = [];
    const failed = await retryUntilDone(
      items,
      async (pending) => {
        const result = await this.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: url,
            Entries: pending.map((s, n) => ({ ...s.entry, Id: String(n) })),
          }),
          { abortSignal: this.signal() },
        );
        // A sender fault (e.g. the copy is too large) will not pass on a retry: give it up.
        const retry = (result.Failed ?? []).filter((f) => !f.SenderFault).map((f) => pending[Number(f.Id)]);
        const rejected = (result.Failed ?? []).filter((f) => f.SenderFault).map((f) => pending[Number(f.Id)]);
        rejectedForGood.push(...rejected);
        return retry;
      },
      this.signal,
    );
    return items.map((s) => !failed.includes(s) && !rejectedForGood.includes(s));
  }
}
