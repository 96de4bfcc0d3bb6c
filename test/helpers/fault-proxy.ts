import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fault-injecting HTTP proxy in front of a real emulator endpoint. Clients of the AWS SDK point at
 * it and talk the real protocol; the proxy forwards every request, except that an operation with a
 * rule (named by its `X-Amz-Target`, e.g. `BatchWriteItem`, `SendMessageBatch`; S3's REST calls by
 * {@link s3Operation}: `GetObject`, `PutObject`, `CreateBucket`) is:
 * - `error`: answered with HTTP 500 (`InternalFailure`), never forwarded (the SDK retries, then fails);
 * - `slow`: forwarded at once, its answer held back `delayMs` (the write happens, the caller hears late);
 * - `partial`: a batch call whose first half is forwarded and whose second half is reported failed
 *   (`UnprocessedItems` for DynamoDB, `Failed` entries with `SenderFault: false` for SQS).
 */
export type Fault = 'error' | 'slow' | 'partial';

export interface FaultRule {
  /** The operation (`X-Amz-Target` suffix, e.g. `PutItem`), or `*` for every operation. */
  readonly operation: string;
  readonly fault: Fault;
  /** How many requests the rule faults; afterwards they pass. @default every request */
  readonly times?: number;
  /** For `slow`: how long the answer is held back. @default 2500 */
  readonly delayMs?: number;
}

export interface FaultProxy {
  readonly url: string;
  /** Replaces the rules; `[]` makes the proxy transparent. */
  setRules(rules: readonly FaultRule[]): void;
  /** Requests seen per operation, faulted or not. */
  readonly seen: Map<string, number>;
  /** Requests faulted per operation. */
  readonly faulted: Map<string, number>;
  close(): Promise<void>;
}

const BATCH_SHAPES: Record<string, 'dynamodb' | 'sqs'> = {
  BatchWriteItem: 'dynamodb',
  SendMessageBatch: 'sqs',
  ChangeMessageVisibilityBatch: 'sqs',
  DeleteMessageBatch: 'sqs',
};

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  let rules: readonly FaultRule[] = [];
  const used = new Map<FaultRule, number>();
  const seen = new Map<string, number>();
  const faulted = new Map<string, number>();
  const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  const target = new URL(upstream);

  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const operation =
      (String(req.headers['x-amz-target'] ?? '')
        .split('.')
        .pop() as string) || s3Operation(req);
    bump(seen, operation);
    const rule = rules.find(
      (r) => (r.operation === operation || r.operation === '*') && (used.get(r) ?? 0) < (r.times ?? Infinity),
    );
    if (rule) {
      bump(faulted, operation);
      used.set(rule, (used.get(rule) ?? 0) + 1);
    }
    if (rule?.fault === 'error')
      return answer(res, 500, { __type: 'InternalFailure', message: 'injected fault' });
    if (rule?.fault === 'partial' && BATCH_SHAPES[operation]) {
      return partial(operation, body, req, res).catch(() =>
        answer(res, 502, { __type: 'InternalFailure', message: 'upstream unreachable' }),
      );
    }
    const upstreamAnswer = await forward(req, body).catch(() => undefined);
    if (!upstreamAnswer)
      return answer(res, 502, { __type: 'InternalFailure', message: 'upstream unreachable' });
    if (rule?.fault === 'slow') {
      await new Promise((resolve) => setTimeout(resolve, rule.delayMs ?? 2500));
    }
    if (res.destroyed) return;
    res.writeHead(upstreamAnswer.status, upstreamAnswer.headers);
    res.end(upstreamAnswer.body);
  });

  const forward = (req: IncomingMessage, body: Buffer) =>
    new Promise<{ status: number; headers: Record<string, string>; body: Buffer }>((resolve, reject) => {
      const headers = { ...req.headers, host: target.host, 'content-length': String(body.length) };
      const out = request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers },
        async (answerStream) => {
          const answerBody = await readBody(answerStream);
          const answerHeaders: Record<string, string> = {};
          for (const [name, value] of Object.entries(answerStream.headers)) {
            if (typeof value === 'string' && name !== 'content-length' && name !== 'transfer-encoding')
              answerHeaders[name] = value;
          }
          answerHeaders['content-length'] = String(answerBody.length);
          resolve({ status: answerStream.statusCode ?? 500, headers: answerHeaders, body: answerBody });
        },
      );
      out.on('error', reject);
      out.end(body);
    });

  /** Forwards the first half of a batch call and reports the second half failed. */
  const partial = async (operation: string, body: Buffer, req: IncomingMessage, res: ServerResponse) => {
    const input = JSON.parse(body.toString('utf8'));
    if (BATCH_SHAPES[operation] === 'dynamodb') {
      const [table, requests] = Object.entries(input.RequestItems as Record<string, unknown[]>)[0];
      const keep = Math.floor(requests.length / 2);
      const forwarded =
        keep > 0 ? await forwardJson(req, { RequestItems: { [table]: requests.slice(0, keep) } }) : {};
      const unprocessed = requests.slice(keep);
      return answer(res, 200, { ...forwarded, UnprocessedItems: { [table]: unprocessed } });
    }
    const entries = input.Entries as { Id: string }[];
    const keep = Math.floor(entries.length / 2);
    const forwarded =
      keep > 0
        ? await forwardJson(req, { ...input, Entries: entries.slice(0, keep) })
        : { Successful: [], Failed: [] };
    const failed = entries.slice(keep).map((e) => ({
      Id: e.Id,
      SenderFault: false,
      Code: 'InternalError',
      Message: 'injected partial failure',
    }));
    return answer(res, 200, {
      Successful: forwarded.Successful ?? [],
      Failed: [...(forwarded.Failed ?? []), ...failed],
    });
  };

  const forwardJson = async (req: IncomingMessage, input: unknown) => {
    const result = await forward(req, Buffer.from(JSON.stringify(input)));
    return JSON.parse(result.body.toString('utf8') || '{}');
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    setRules(next) {
      rules = next;
    },
    seen,
    faulted,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The S3 operation of a path-style REST request (S3 sends no `X-Amz-Target`): `GetObject`/`PutObject`/
 * `HeadObject` on `/bucket/key`, `CreateBucket` on `PUT /bucket`; '' otherwise (e.g. SNS's query calls).
 */
function s3Operation(req: IncomingMessage): string {
  const path = new URL(req.url ?? '/', 'http://proxy').pathname;
  const segments = path.split('/').filter(Boolean);
  if (segments.length >= 2) {
    return { GET: 'GetObject', PUT: 'PutObject', HEAD: 'HeadObject' }[req.method ?? ''] ?? '';
  }
  return segments.length === 1 && req.method === 'PUT' ? 'CreateBucket' : '';
}

function answer(res: ServerResponse, status: number, body: unknown) {
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': String(Buffer.byteLength(text)),
    ...(status >= 400 ? { 'x-amzn-errortype': 'InternalFailure' } : {}),
  });
  res.end(text);
}

function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}
