import { readFileSync } from 'node:fs';
import { Publisher, type PublishInput, type PublishResult } from '../lib/index.ts';
import { CliError, type Target, topicOf } from './target.ts';

/** What `fanout publish` was asked to send. */
export interface PublishRequest {
  readonly topic: string;
  /** JSON text, `@path` to a JSON file, or `-` for standard input. */
  readonly payload: string;
  readonly type?: string;
  readonly attributes: readonly string[];
  readonly groupId?: string;
  readonly count: number;
}

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
 * Publishes the payload `count` times with fresh event ids. A payload that is a whole envelope
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
  const publisher = new Publisher({
    topicArn: topicOf(target, request.topic),
    client: target.sns,
    source: 'fanout-cli',
  });
  const attributes = parseAttributes(request.attributes);
  const input: PublishInput = {
    type,
    data,
    attributes,
    ...(request.groupId ? { groupId: request.groupId } : {}),
  };
  const results: PublishResult[] = [];
  for (let done = 0; done < request.count; ) {
    const size = Math.min(100, request.count - done);
    results.push(...(await publisher.publishBatch(Array.from({ length: size }, () => input))));
    done += size;
    onProgress(done);
  }
  return results;
}
