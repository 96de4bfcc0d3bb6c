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

/** Reads the payload argument: JSON, `@file` or `-` (stdin). */
export function readPayload(payload: string, stdin: () => string = () => readFileSync(0, 'utf8')): unknown {
  const text =
    payload === '-' ? stdin() : payload.startsWith('@') ? readFileSync(payload.slice(1), 'utf8') : payload;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CliError(
      `the payload is not JSON (${(error as Error).message}); pass JSON, @file.json or - for stdin`,
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
