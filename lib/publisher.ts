import {
  type MessageAttributeValue,
  PublishBatchCommand,
  type PublishBatchCommandOutput,
  type PublishBatchRequestEntry,
  SNSClient,
} from '@aws-sdk/client-sns';
import {
  MAX_MESSAGE_ATTRIBUTES,
  SNS_DEFAULT_MAX_MESSAGE_BYTES,
  SNS_MAX_BATCH_ENTRIES,
} from './aws-limits.ts';
import { exponentialBackoff } from './backoff.ts';
import { currentMessage } from './current-message.ts';
import { createEnvelope, type Envelope, type EnvelopeInput } from './envelope.ts';
import { SOURCE_VARIABLE } from './environment.ts';
import {
  ConfigError,
  type FanoutError,
  MessageTooLargeError,
  PayloadUnavailableError,
  PublishFailedError,
  PublishValidationError,
} from './errors.ts';
import { type LargePayloadOptions, PayloadOffloader, reservedPayloadAttribute } from './payload-offload.ts';
import { EXTENDED_PAYLOAD_SIZE_ATTRIBUTE } from './payload-pointer.ts';
import {
  FANOUT_TRACED_ATTRIBUTES,
  type PublishTrace,
  startPublishTrace,
  withXRayHeader,
} from './publish-trace.ts';

const FIFO_ID = /^[\x21-\x7E]{1,128}$/;
const ATTRIBUTE_NAME = /^(?!\.)(?!.*\.\.)(?!.*\.$)[A-Za-z0-9_.-]{1,256}$/;

/** Options of a {@link Publisher}. */
export interface PublisherOptions {
  /** ARN of the SNS topic to publish to. A name ending in `.fifo` makes it a FIFO topic. */
  readonly topicArn: string;
  /**
   * Default `source` of the events.
   * @default process.env.FANOUT_SOURCE, else the Lambda function name, else `'fanout'`
   */
  readonly source?: string;
  /**
   * SNS client to use.
   * @default a new client configured from the environment (`AWS_ENDPOINT_URL_SNS` works)
   */
  readonly client?: SNSClient;
  /**
   * Largest message the topic accepts, body plus attributes, in bytes.
   * @default 262144 (256 KiB)
   */
  readonly maxMessageBytes?: number;
  /**
   * Offload a message larger than `maxMessageBytes` (or every message, mode `'always'`) to S3 and publish
   * a pointer in the format of AWS's extended clients instead (see docs/LARGE-MESSAGES.md); `false` makes
   * such a message a {@link MessageTooLargeError}.
   * @default false
   */
  readonly largePayloads?: LargePayloadOptions | false;
  /**
   * How many times an entry that SNS reports failed (server side) is sent in all.
   * @default 4
   */
  readonly maxAttempts?: number;
  /**
   * First retry delay in milliseconds; doubles with each attempt, with jitter.
   * @default 100
   */
  readonly retryBaseDelayMs?: number;
  /**
   * PublishBatch calls in flight at once on a standard topic (FIFO topics always send one at a time,
   * to keep each message group in order).
   * @default 4
   */
  readonly concurrency?: number;
  /**
   * Write the trace context into every message (`traceparent`, and `tracestate` when there is room) and
   * make a producer span per message. It takes one of the message's 10 attributes; `false` gives it back.
   * @default true
   */
  readonly tracing?: boolean;
}

/** One message to publish. */
export interface PublishInput<T = unknown> extends EnvelopeInput<T> {
  /** FIFO topics only, required there: messages with the same group id are delivered in order. */
  readonly groupId?: string;
  /**
   * FIFO topics only: SNS drops a second message with the same deduplication id within 5 minutes.
   * @default the event id
   */
  readonly deduplicationId?: string;
  /**
   * Extra message attributes (for filter policies). `type` is always set from the event type, and
   * `traceparent` from the trace context unless the publisher's `tracing` is off. At most 8 extra
   * (9 without tracing): SQS takes 10 attributes per message and raw delivery passes them through.
   * @default none
   */
  readonly attributes?: Readonly<Record<string, string | number | readonly string[]>>;
}

/** Per-entry result of a publish. */
export type PublishResult =
  | {
      readonly ok: true;
      readonly id: string;
      readonly snsMessageId: string;
      readonly sequenceNumber?: string;
    }
  | { readonly ok: false; readonly id: string; readonly error: FanoutError };

type PublishOutcome = (PublishResult & { ok: false }) | (PublishResult & { ok: true; envelope: Envelope });

interface PreparedEntry {
  readonly index: number;
  readonly envelope: Envelope;
  readonly entry: PublishBatchRequestEntry;
  readonly bytes: number;
  /** Whether the body goes to S3 before the entry is sent. */
  readonly offload: boolean;
  readonly trace?: PublishTrace;
}

/**
 * Publishes fanout envelopes to one SNS topic. `publishBatch` splits any number of messages into
 * PublishBatch calls within SNS's limits (10 entries, the topic's size limit per call), retries the
 * entries SNS reports failed with backoff, and answers one result per message, in order.
 */
export class Publisher {
  readonly topicArn: string;
  readonly fifo: boolean;
  readonly source: string;
  readonly client: SNSClient;
  readonly maxMessageBytes: number;
  readonly maxAttempts: number;
  readonly retryBaseDelayMs: number;
  readonly concurrency: number;
  /** Writes payloads to S3; `undefined` when large payloads are off. */
  readonly offloader: PayloadOffloader | undefined;
  readonly tracing: boolean;

  constructor(options: PublisherOptions) {
    if (typeof options?.topicArn !== 'string' || !options.topicArn.startsWith('arn:')) {
      throw new ConfigError(
        'topicArn',
        `must be an SNS topic ARN (given ${JSON.stringify(options?.topicArn)})`,
        'Pass the ARN from the stack outputs or from CreateTopic',
      );
    }
    this.topicArn = options.topicArn;
    this.fifo = options.topicArn.endsWith('.fifo');
    this.source =
      options.source ?? process.env[SOURCE_VARIABLE] ?? process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'fanout';
    this.client = options.client ?? new SNSClient({});
    this.maxMessageBytes = options.maxMessageBytes ?? SNS_DEFAULT_MAX_MESSAGE_BYTES;
    this.maxAttempts = options.maxAttempts ?? 4;
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 100;
    this.concurrency = options.concurrency ?? 4;
    this.offloader = options.largePayloads ? new PayloadOffloader(options.largePayloads) : undefined;
    this.tracing = options.tracing ?? true;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) {
      throw new ConfigError(
        'concurrency',
        `must be a whole number ≥ 1 (given ${this.concurrency})`,
        'Use e.g. 4',
      );
    }
    if (!(this.maxAttempts >= 1)) {
      throw new ConfigError('maxAttempts', `must be at least 1 (given ${this.maxAttempts})`, 'Use e.g. 4');
    }
  }

  /**
   * Publishes one message and returns its envelope.
   * @throws PublishValidationError, MessageTooLargeError or PublishFailedError.
   */
  async publish<T>(input: PublishInput<T>): Promise<Envelope<T>> {
    const [result] = await this.publishResults([input]);
    if (!result.ok) throw result.error;
    return result.envelope as Envelope<T>;
  }

  /**
   * Publishes many messages; never throws for a single message's failure.
   * @returns one result per input, in input order.
   */
  async publishBatch(inputs: readonly PublishInput[]): Promise<PublishResult[]> {
    const results = await this.publishResults(inputs);
    return results.map((r) =>
      r.ok ? { ok: true, id: r.id, snsMessageId: r.snsMessageId, sequenceNumber: r.sequenceNumber } : r,
    );
  }

  private async publishResults(inputs: readonly PublishInput[]) {
    const results: PublishOutcome[] = new Array(inputs.length);
    let prepared: PreparedEntry[] = [];
    const traces: (PublishTrace | undefined)[] = new Array(inputs.length);
    inputs.forEach((input, index) => {
      try {
        prepared.push(this.prepare(input, index, traces));
      } catch (error) {
        results[index] = { ok: false, id: input.id ?? '', error: error as FanoutError };
      }
    });

    if (prepared.some((p) => p.offload)) prepared = await this.offloadPayloads(prepared, results);

    // PublishBatch calls go out `concurrency` at a time on standard topics; on FIFO topics one at a
    // time, so that a message group's messages reach SNS in order.
    const chunks = chunkEntries(prepared, this.maxMessageBytes);
    let next = 0;
    const worker = async () => {
      while (next < chunks.length) await this.sendChunk(chunks[next++], results);
    };
    const workers = this.fifo ? 1 : Math.min(this.concurrency, chunks.length);
    await Promise.all(Array.from({ length: workers }, worker));
    traces.forEach((trace, index) => {
      const result = results[index];
      trace?.end(result.ok ? undefined : result.error);
    });
    return results;
  }

  /** Sends one PublishBatch call, retrying the entries SNS reports failed on its side. */
  private async sendChunk(chunk: PreparedEntry[], results: PublishOutcome[]): Promise<void> {
    let pending = chunk;
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > 1) await sleep(exponentialBackoff(attempt - 1, this.retryBaseDelayMs, 5_000));
      const retry: PreparedEntry[] = [];
      let response: PublishBatchCommandOutput;
      try {
        const command = new PublishBatchCommand({
          TopicArn: this.topicArn,
          PublishBatchRequestEntries: pending.map((p) => p.entry),
        });
        response = await this.client.send(withXRayHeader(command, pending));
      } catch (error) {
        const err = error as Error & { name: string };
        for (const p of pending) {
          results[p.index] = {
            ok: false,
            id: p.envelope.id,
            error: new PublishFailedError(p.envelope.id, err.name, err.message, false),
          };
        }
        break;
      }
      const byEntryId = new Map(pending.map((p) => [p.entry.Id, p]));
      for (const ok of response.Successful ?? []) {
        const p = byEntryId.get(ok.Id);
        if (!p) continue;
        results[p.index] = {
          ok: true,
          id: p.envelope.id,
          snsMessageId: ok.MessageId ?? '',
          ...(ok.SequenceNumber ? { sequenceNumber: ok.SequenceNumber } : {}),
          envelope: p.envelope,
        };
      }
      for (const failed of response.Failed ?? []) {
        const p = byEntryId.get(failed.Id);
        if (!p) continue;
        const lastAttempt = attempt >= this.maxAttempts;
        if (!failed.SenderFault && !lastAttempt) {
          retry.push(p);
          continue;
        }
        results[p.index] = {
          ok: false,
          id: p.envelope.id,
          error: new PublishFailedError(
            p.envelope.id,
            failed.Code ?? 'Unknown',
            failed.Message ?? 'no detail',
            failed.SenderFault ?? false,
          ),
        };
      }
      pending = retry;
    }
  }

  /** Writes the payloads of entries marked `offload` to S3 and makes those entries pointer messages. */
  private async offloadPayloads(
    prepared: PreparedEntry[],
    results: PublishOutcome[],
  ): Promise<PreparedEntry[]> {
    const offloader = this.offloader as PayloadOffloader;
    const sent = await Promise.all(
      prepared.map(async (p): Promise<PreparedEntry | undefined> => {
        if (!p.offload) return p;
        try {
          const pointer = await offloader.offload({
            body: p.entry.Message ?? '',
            attributes: p.entry.MessageAttributes ?? {},
          });
          const bytes = Buffer.byteLength(pointer.body, 'utf8') + attributeBytes(pointer.attributes);
          if (bytes > this.maxMessageBytes)
            throw new MessageTooLargeError(p.envelope.id, bytes, this.maxMessageBytes);
          const entry = { ...p.entry, Message: pointer.body, MessageAttributes: pointer.attributes };
          return { ...p, entry, bytes };
        } catch (error) {
          const failure =
            error instanceof PayloadUnavailableError
              ? new PublishFailedError(p.envelope.id, 'PayloadUnavailable', error.message, false)
              : (error as FanoutError);
          results[p.index] = { ok: false, id: p.envelope.id, error: failure };
          return undefined;
        }
      }),
    );
    return sent.filter((p) => p !== undefined);
  }

  /** Validates one input and builds its PublishBatch entry. */
  private prepare(input: PublishInput, index: number, traces: (PublishTrace | undefined)[]): PreparedEntry {
    if (typeof input?.type !== 'string' || input.type.trim() === '') {
      throw new PublishValidationError(
        'type',
        `message ${index}: 'type' must be a non-empty string (e.g. 'OrderPlaced')`,
      );
    }
    const context = currentMessage();
    const envelope = createEnvelope(input, {
      source: this.source,
      correlationId: context?.correlationId,
      causationId: context?.messageId,
    });
    let body: string;
    try {
      if (envelope.data === undefined || JSON.stringify(envelope.data) === undefined)
        throw new Error('undefined');
      body = JSON.stringify(envelope);
    } catch (error) {
      throw new PublishValidationError(
        'data',
        `message '${envelope.id}': data is not JSON-serialisable (${(error as Error).message}); publish plain objects, arrays, strings, numbers, booleans or null`,
      );
    }
    // A publisher that may offload keeps a slot for the pointer's attribute on every message, large or not,
    // so a message that is valid when small stays valid when it grows.
    const attributes = buildAttributes(
      envelope,
      input.attributes,
      this.tracing,
      this.offloader !== undefined,
    );
    if (this.tracing) {
      // Room left for `tracestate`, keeping a slot for the pointer's attribute where payloads may go to S3.
      const room = MAX_MESSAGE_ATTRIBUTES - Object.keys(attributes).length - 1 - (this.offloader ? 1 : 0);
      traces[index] = startPublishTrace(this.topicArn, envelope, room);
      Object.assign(attributes, traces[index].attributes);
    }
    const bytes = Buffer.byteLength(body, 'utf8') + attributeBytes(attributes);
    const offload = this.offloader?.shouldOffload(bytes, this.maxMessageBytes) ?? false;
    if (offload) checkRoomForPointer(envelope.id, attributes);
    else if (bytes > this.maxMessageBytes)
      throw new MessageTooLargeError(envelope.id, bytes, this.maxMessageBytes);

    const entry: PublishBatchRequestEntry = {
      Id: String(index),
      Message: body,
      MessageAttributes: attributes,
    };
    if (this.fifo) {
      if (input.groupId === undefined) {
        throw new PublishValidationError(
          'groupId',
          `message '${envelope.id}': topic ${this.topicArn} is FIFO, so 'groupId' is required (e.g. the account id whose events must stay in order)`,
        );
      }
      checkFifoId('groupId', input.groupId, envelope.id);
      const deduplicationId = input.deduplicationId ?? envelope.id;
      checkFifoId('deduplicationId', deduplicationId, envelope.id);
      entry.MessageGroupId = input.groupId;
      entry.MessageDeduplicationId = deduplicationId;
    } else if (input.groupId !== undefined || input.deduplicationId !== undefined) {
      throw new PublishValidationError(
        input.groupId !== undefined ? 'groupId' : 'deduplicationId',
        `message '${envelope.id}': groupId and deduplicationId are for FIFO topics only; ${this.topicArn} is a standard topic`,
      );
    }
    return { index, envelope, entry, bytes, offload, trace: traces[index] };
  }
}

/** An offloaded message adds the `ExtendedPayloadSize` attribute: it needs a free attribute slot. */
function checkRoomForPointer(id: string, attributes: Record<string, MessageAttributeValue>): void {
  const count = Object.keys(attributes).length;
  if (count + 1 > MAX_MESSAGE_ATTRIBUTES) {
    throw new PublishValidationError(
      'attributes',
      `message '${id}' goes through S3 and so carries the ExtendedPayloadSize attribute, but has ${count} attributes already (fanout's own included) of the ${MAX_MESSAGE_ATTRIBUTES} allowed. Move some into data`,
    );
  }
}

function checkFifoId(field: 'groupId' | 'deduplicationId', value: string, id: string) {
  if (typeof value !== 'string' || !FIFO_ID.test(value)) {
    throw new PublishValidationError(
      field,
      `message '${id}': ${field} ${JSON.stringify(value)} is invalid: use 1 to 128 characters, letters, digits and punctuation (no spaces)`,
    );
  }
}

function buildAttributes(
  envelope: Envelope,
  extra: PublishInput['attributes'] = {},
  tracing = true,
  offloading = false,
): Record<string, MessageAttributeValue> {
  const ours: readonly string[] = [
    ...(tracing ? FANOUT_TRACED_ATTRIBUTES : ['type']),
    ...(offloading ? [EXTENDED_PAYLOAD_SIZE_ATTRIBUTE] : []),
  ];
  const attributes: Record<string, MessageAttributeValue> = {
    type: { DataType: 'String', StringValue: envelope.type },
  };
  for (const [name, value] of Object.entries(extra)) {
    if (reservedPayloadAttribute([name])) {
      throw new PublishValidationError(
        'attributes',
        `message '${envelope.id}': attribute '${name}' is reserved; it marks a payload offloaded to S3 (use largePayloads)`,
      );
    }
    if (name === 'type' || (tracing && (name === 'traceparent' || name === 'tracestate'))) {
      throw new PublishValidationError(
        'attributes',
        `message '${envelope.id}': attribute '${name}' is reserved; fanout sets it (${name === 'type' ? 'the event type' : 'the trace context'})`,
      );
    }
    if (!ATTRIBUTE_NAME.test(name) || /^(aws\.|amazon\.)/i.test(name)) {
      throw new PublishValidationError(
        'attributes',
        `message '${envelope.id}': attribute name '${name}' is invalid: use up to 256 letters, digits, '_', '-' and '.', not starting with 'AWS.' or 'Amazon.'`,
      );
    }
    attributes[name] =
      typeof value === 'number'
        ? { DataType: 'Number', StringValue: String(value) }
        : Array.isArray(value)
          ? { DataType: 'String.Array', StringValue: JSON.stringify(value) }
          : { DataType: 'String', StringValue: String(value) };
  }
  const yours = Object.keys(attributes).length - 1;
  const count = yours + ours.length;
  if (count > MAX_MESSAGE_ATTRIBUTES) {
    const names = ours.map((n) => `'${n}'`).join(' and ');
    throw new PublishValidationError(
      'attributes',
      `message '${envelope.id}' has ${count} message attributes (${yours} of yours plus fanout's ${names}); SQS accepts at most ${MAX_MESSAGE_ATTRIBUTES} with raw delivery. Pass at most ${MAX_MESSAGE_ATTRIBUTES - ours.length} and move the rest into data${tracing ? ", or set the publisher's tracing: false" : ''}${offloading ? ' (a publisher with largePayloads keeps one for the S3 pointer)' : ''}`,
    );
  }
  return attributes;
}

function attributeBytes(attributes: Record<string, MessageAttributeValue>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(attributes)) {
    bytes +=
      Buffer.byteLength(name) +
      Buffer.byteLength(value.DataType ?? '') +
      Buffer.byteLength(value.StringValue ?? '');
  }
  return bytes;
}

/** Splits entries into PublishBatch calls of ≤ 10 entries and ≤ `maxBytes` in total. */
export function chunkEntries<T extends { bytes: number }>(entries: readonly T[], maxBytes: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const entry of entries) {
    if (current.length === SNS_MAX_BATCH_ENTRIES || (current.length > 0 && size + entry.bytes > maxBytes)) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(entry);
    size += entry.bytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
