import { readFileSync } from 'node:fs';
import { S3Client } from '@aws-sdk/client-s3';
import {
  type LargePayloadOptions,
  PAYLOAD_BUCKET_VARIABLE,
  Publisher,
  type PublishInput,
  type PublishResult,
  PublishValidationError,
} from '../lib/index.ts';
import { localPayloadBucket } from '../localstack/index.ts';
import { CliError, type Target, topicOf } from './target.ts';

/** What `fanout publish` was asked to send. */
export interface PublishRequest {
  readonly topic: string;
  /** JSON text, `@path` to a JSON file, or `-` for standard input. */
  readonly payload: string;
  readonly type?: string;
  readonly attributes: readonly string[];
  readonly groupId?: string;
  /** Event id: re-publishes an event under its id, so consumers that applied it skip it. */
  readonly id?: string;
  readonly count: number;
}

/** The option of `fanout publish` behind each field the library validates. */
const OPTION_OF_FIELD: Record<string, string> = {
  type: '--type',
  groupId: '--group-id',
  deduplicationId: '--id',
  attributes: '--attr',
};

/** A validation error of the library in the CLI's words: the option to fix, not the library's field. */
function validationError(error: PublishValidationError): CliError {
  const option = OPTION_OF_FIELD[error.field];
  let message = error.message
    .replace(/^message (?:'[^']*'|\d+): /, '')
    .replace(/^message '[^']*' /, 'the message ');
  // The library names its FIFO fields (`'groupId' is required`, `deduplicationId "…" is invalid`).
  if (error.field === 'groupId' || error.field === 'deduplicationId')
    message = message.replaceAll(`'${error.field}'`, `${option}`).replaceAll(error.field, `${option}`);
  return new CliError(option && !message.includes(option) ? `${option}: ${message}` : message);
}

/** Same rule as SNS FIFO deduplication ids, so that an id works on every topic. */
const EVENT_ID = /^[\x21-\x7E]{1,128}$/;

/** Why a payload file cannot be read, in words, from the error `readFileSync` threw. */
function unreadable(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'does not exist';
  if (code === 'EISDIR') return 'is a directory, not a file';
  if (code === 'EACCES' || code === 'EPERM') return 'is not readable (permission denied)';
  return `cannot be read (${code ?? (error as Error).message})`;
}

/** Reads a payload file; a problem is one line naming the file and the fix, never a stack trace. */
function readPayloadFile(file: string): string {
  if (file === '') throw new CliError("no file name after '@'; pass @path/to/payload.json");
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(
      `the payload file ${file} ${unreadable(error)}; pass @ and a readable JSON file, inline JSON or - for stdin`,
    );
  }
}

/** Reads the payload argument: JSON, `@file` or `-` (stdin). */
export function readPayload(payload: string, stdin: () => string = () => readFileSync(0, 'utf8')): unknown {
  const file = payload.startsWith('@') ? payload.slice(1) : undefined;
  const text = payload === '-' ? stdin() : file !== undefined ? readPayloadFile(file) : payload;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CliError(
      `the payload${file !== undefined ? ` in ${file}` : ''} is not JSON (${(error as Error).message}); pass JSON, @file.json or - for stdin`,
    );
  }
}

function parseAttributes(pairs: readonly string[]): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new CliError(`--attr '${pair}' is not key=value`);
    attributes[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return attributes;
}

/**
 * Where `fanout publish` offloads a large payload: the bucket in FANOUT_PAYLOAD_BUCKET, else (local
 * endpoints) the bucket local provisioning creates; S3 is reached at AWS_ENDPOINT_URL_S3, else (local
 * endpoints) at the SNS/SQS endpoint, which the embedded emulator, LocalStack and moto all serve S3 on.
 */
function largePayloadsOf(target: Target): LargePayloadOptions {
  const bucket =
    process.env[PAYLOAD_BUCKET_VARIABLE] ?? (target.kind === 'endpoint' ? localPayloadBucket() : undefined);
  if (!bucket)
    throw new CliError(
      `the topic offloads large payloads but ${PAYLOAD_BUCKET_VARIABLE} is not set; set it to the stack's payload bucket`,
    );
  if (target.kind !== 'endpoint') return { bucket };
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 ?? target.description;
  return { bucket, client: new S3Client({ endpoint, forcePathStyle: true }) };
}

/**
 * Publishes the payload `count` times with fresh event ids (or once under `id`). A message that breaks a
 * rule (FIFO without `--group-id`, a bad attribute, too large) is a {@link CliError} naming the option. A payload that is a whole envelope
 * (`{ type, data, … }`) keeps its type and data; otherwise it is the data and `--type` is required.
 */
export async function publishFromCli(
  target: Target,
  request: PublishRequest,
  onProgress: (done: number) => void = () => {},
): Promise<PublishResult[]> {
  const payload = readPayload(request.payload);
  const envelope =
    typeof payload === 'object' && payload !== null && 'data' in payload && 'type' in payload
      ? (payload as { type: unknown; data: unknown })
      : undefined;
  const type = request.type ?? (typeof envelope?.type === 'string' ? envelope.type : undefined);
  if (!type)
    throw new CliError(
      'no event type: pass --type OrderPlaced, or a payload of the form { "type": …, "data": … }',
    );
  const data = envelope ? envelope.data : payload;
  if (request.id !== undefined) {
    if (!EVENT_ID.test(request.id))
      throw new CliError(
        `--id ${JSON.stringify(request.id)} is invalid: use 1 to 128 letters, digits and punctuation (no spaces)`,
      );
    if (request.count > 1)
      throw new CliError(
        '--id publishes one event under that id; leave out --count (every copy would be a duplicate the consumers skip)',
      );
  }
  const topic = target.topology.topics.find((t) => t.name === request.topic);
  const publisher = new Publisher({
    topicArn: topicOf(target, request.topic),
    client: target.sns,
    source: 'fanout-cli',
    ...(topic ? { maxMessageBytes: topic.maxMessageSizeBytes } : {}),
    largePayloads: topic?.largePayloads ? largePayloadsOf(target) : false,
  });
  if (publisher.fifo && request.groupId === undefined)
    throw new CliError(
      `${request.topic} is a FIFO topic: pass --group-id G (messages with the same group id are delivered in order, e.g. the account id)`,
    );
  if (!publisher.fifo && request.groupId !== undefined)
    throw new CliError(`--group-id is for FIFO topics only; ${request.topic} is a standard topic`);
  const attributes = parseAttributes(request.attributes);
  const input: PublishInput = {
    type,
    data,
    attributes,
    ...(request.groupId !== undefined ? { groupId: request.groupId } : {}),
    ...(request.id !== undefined ? { id: request.id } : {}),
  };
  const results: PublishResult[] = [];
  for (let done = 0; done < request.count; ) {
    const size = Math.min(100, request.count - done);
    const batch = await publisher.publishBatch(Array.from({ length: size }, () => input));
    // Every copy is the same message: one that breaks a rule breaks it for all, before anything is sent.
    const [first] = batch;
    if (first && !first.ok && first.error instanceof PublishValidationError)
      throw validationError(first.error);
    results.push(...batch);
    done += size;
    onProgress(done);
  }
  return results;
}
