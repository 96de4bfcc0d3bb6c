import {
  GetQueueAttributesCommand,
  type MessageAttributeValue,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { queueUrlFromArn } from './queue-address.ts';

/** Message attribute that carries why a record was dead-lettered. */
export const POISON_REASON_ATTRIBUTE = 'fanout.poison.reason';
/** Message attribute that carries the error message, cut to 1,000 characters. */
export const POISON_DETAIL_ATTRIBUTE = 'fanout.poison.detail';
/** Message attribute that names the consumer group that gave up on the record. */
export const POISON_GROUP_ATTRIBUTE = 'fanout.group';
const MAX_ATTRIBUTES = 10;
const MAX_DETAIL = 1000;

/** A record to dead-letter at once, and why. */
export interface PoisonRecord {
  readonly record: SQSRecord;
  readonly reason: string;
  readonly detail: string;
}

/**
 * Sends poison records to the group's DLQ with the reason in message attributes.
 * The DLQ is the one configured, or else the one in the source queue's redrive policy
 * (looked up once per queue and cached).
 */
export class DeadLetterSender {
  private readonly urls = new Map<string, Promise<string | undefined>>();
  private readonly sqs: SQSClient;
  private readonly group: string;
  private readonly configuredUrl: string | undefined;

  constructor(sqs: SQSClient, group: string, configuredUrl?: string) {
    this.sqs = sqs;
    this.group = group;
    this.configuredUrl = configuredUrl;
  }

  /** Sends every record it can; resolves with the message ids that reached the DLQ. */
  async send(poison: readonly PoisonRecord[]): Promise<Set<string>> {
    const sent = new Set<string>();
    if (poison.length === 0) return sent;
    const url = await this.deadLetterQueueUrl(poison[0].record);
    if (!url) return sent;
    for (let i = 0; i < poison.length; i += 10) {
      const chunk = poison.slice(i, i + 10);
      const entries = chunk.map((p, n) => this.entry(p, String(n)));
      try {
        const result = await this.sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }));
        for (const ok of result.Successful ?? []) sent.add(chunk[Number(ok.Id)].record.messageId);
      } catch {
        // The records stay nacked; the queue's redrive policy dead-letters them after maxReceiveCount.
      }
    }
    return sent;
  }

  /** The DLQ URL for records of `record`'s source queue, `undefined` when the queue has none. */
  deadLetterQueueUrl(record: Pick<SQSRecord, 'eventSourceARN'>): Promise<string | undefined> {
    if (this.configuredUrl) return Promise.resolve(this.configuredUrl);
    let url = this.urls.get(record.eventSourceARN);
    if (!url) {
      url = this.lookUp(record.eventSourceARN);
      this.urls.set(record.eventSourceARN, url);
      url.catch(() => this.urls.delete(record.eventSourceARN));
    }
    return url;
  }

  private async lookUp(sourceArn: string): Promise<string | undefined> {
    const result = await this.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrlFromArn(sourceArn),
        AttributeNames: ['RedrivePolicy'],
      }),
    );
    const policy = result.Attributes?.RedrivePolicy;
    if (!policy) return undefined;
    const target = (JSON.parse(policy) as { deadLetterTargetArn?: string }).deadLetterTargetArn;
    return target ? queueUrlFromArn(target) : undefined;
  }

  private entry(poison: PoisonRecord, id: string): SendMessageBatchRequestEntry {
    const { record } = poison;
    const attributes: Record<string, MessageAttributeValue> = {
      [POISON_REASON_ATTRIBUTE]: { DataType: 'String', StringValue: poison.reason },
      [POISON_DETAIL_ATTRIBUTE]: {
        DataType: 'String',
        StringValue: poison.detail.slice(0, MAX_DETAIL) || '-',
      },
      [POISON_GROUP_ATTRIBUTE]: { DataType: 'String', StringValue: this.group },
    };
    for (const [name, value] of Object.entries(record.messageAttributes ?? {})) {
      if (Object.keys(attributes).length >= MAX_ATTRIBUTES) break;
      if (name in attributes) continue;
      attributes[name] =
        value.binaryValue !== undefined
          ? { DataType: value.dataType, BinaryValue: Buffer.from(value.binaryValue, 'base64') }
          : { DataType: value.dataType, StringValue: value.stringValue };
    }
    const entry: SendMessageBatchRequestEntry = {
      Id: id,
      MessageBody: record.body,
      MessageAttributes: attributes,
    };
    if (record.eventSourceARN.endsWith('.fifo')) {
      entry.MessageGroupId = record.attributes.MessageGroupId ?? 'poison';
      entry.MessageDeduplicationId = record.messageId;
    }
    return entry;
  }
}
