import { execFile, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { ListSubscriptionsByTopicCommand, SNSClient, UnsubscribeCommand } from '@aws-sdk/client-sns';
import {
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  type MessageAttributeValue,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import topology from '../../infra/topology.ts';
import { deadLetterCopy } from '../../lib/dead-letter-format.ts';
import { createSqsClient, POISON_REASON_ATTRIBUTE } from '../../lib/index.ts';
import { decodeRecord } from '../../lib/record-decoder.ts';
import { type ProvisionedStack, provisionTopology } from '../../localstack/provisioning/provision.ts';
import { provisionedGroup, queueDepth, receiveRecords } from '../helpers/cloud.ts';
import { comparableAttributes } from '../helpers/message-attributes.ts';
import { target } from '../helpers/targets.ts';

// Every command end to end through the real entry point, against the run's embedded emulator.
const projectRoot = path.resolve(import.meta.dirname, '../..');
const exec = promisify(execFile);
// Plain text: CI=true would make picocolors colour the output.
const PLAIN = { ...process.env, NO_COLOR: '1' };

async function fanout(...args: string[]) {
  try {
    const { stdout, stderr } = await exec('node', ['cli/fanout.ts', ...args], {
      cwd: projectRoot,
      env: PLAIN,
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout: string; stderr: string };
    return { code: e.code ?? 1, stdout: e.stdout, stderr: e.stderr };
  }
}

async function fanoutJson(...args: string[]) {
  const result = await fanout('--json', ...args);
  expect(result.stderr, result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
}

async function statusOf(group: string) {
  const status = await fanoutJson('status');
  return status.groups.find((g: { group: string }) => g.group === group);
}

/** Receives everything a queue holds (hidden for 30 s so nothing is read twice). */
async function receiveAll(queue: { url: string; arn: string; name: string }) {
  const all: Awaited<ReturnType<typeof receiveRecords>> = [];
  for (;;) {
    const batch = await receiveRecords(queue, 10, 0);
    if (batch.length === 0) return all;
    all.push(...batch);
  }
}

/** An HTTP proxy to `upstream` that fails every `action` request after the first `passes` with a 500. */
async function faultyProxy(upstream: string, action: string, passes: number) {
  let seen = 0;
  let failures = 0;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const target = String(req.headers['x-amz-target'] ?? '');
    if (target.endsWith(`.${action}`) && ++seen > passes) {
      failures++;
      res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify({ __type: 'com.amazonaws.sqs#InternalError', message: 'injected fault' }));
      return;
    }
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'content-length'),
    ) as Record<string, string>;
    const response = await fetch(`${upstream}${req.url}`, {
      method: req.method,
      headers,
      body: body.length ? body : undefined,
    });
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    failures: () => failures,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let stack: ProvisionedStack;
const sqs = createSqsClient();

beforeAll(async () => {
  stack = await provisionTopology(topology);
});

const queueOf = (group: string) => provisionedGroup(stack, group).queue;
const dlqOf = (group: string) => provisionedGroup(stack, group).dlq;

async function deadLetter(group: string, body: string, reason = 'schema-invalid') {
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: dlqOf(group).url,
      MessageBody: body,
      MessageAttributes: {
        [POISON_REASON_ATTRIBUTE]: { DataType: 'String', StringValue: reason },
        type: { DataType: 'String', StringValue: 'OrderPlaced' },
      },
    }),
  );
}

describe('fanout CLI', () => {
  it('topology: lists the topics and groups of infra/topology.ts', async () => {
    const json = await fanoutJson('topology');
    expect(json.groups.map((g: { name: string }) => g.name)).toEqual([
      'notifications',
      'spreadsheets',
      'audit',
      'ledger',
    ]);
    const text = await fanout('topology');
    expect(text.stdout).toMatch(/orders\n├─ notifications .*filter \{"type":\["OrderPlaced"\]\}/);
    expect(text.stdout).toContain('ledger.fifo (FIFO)');
  });

  it('publish --count and status: the numbers match what was published and consumed', async () => {
    const published = await fanoutJson(
      'publish',
      'payments',
      '{"paymentId":"p-1","orderId":"o-1","amount":5}',
      '--type',
      'PaymentCaptured',
      '--count',
      '25',
    );
    expect(published).toMatchObject({ topic: 'payments', published: 25, failed: 0 });
    expect(new Set(published.results.map((r: { id: string }) => r.id)).size).toBe(25);
    expect(await statusOf('audit')).toMatchObject({ visible: 25, inFlight: 0, deadLetters: 0 });

    // consume 10, as a runner would
    const records = await receiveRecords(queueOf('audit'), 10, 0);
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueOf('audit').url,
        Entries: records.map((r, n) => ({ Id: String(n), ReceiptHandle: r.receiptHandle })),
      }),
    );
    expect(await statusOf('audit')).toMatchObject({ visible: 25 - records.length, inFlight: 0 });
    const topics = (await fanoutJson('status')).topics;
    expect(topics).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ topic: 'orders', subscriptions: 3, matchesTopology: true }),
        expect.objectContaining({ topic: 'payments', subscriptions: 1, matchesTopology: true }),
      ]),
    );
  });

  it('publish: a FIFO topic takes --group-id; a payload that is not JSON is one clear line', async () => {
    const ok = await fanoutJson(
      'publish',
      'ledger.fifo',
      '{"account":"a","seq":1,"amount":1}',
      '--type',
      'Posting',
      '--group-id',
      'a',
    );
    expect(ok.published).toBe(1);
    const bad = await fanout('publish', 'orders', '{oops', '--type', 'OrderPlaced');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^fanout: the payload is not JSON .*pass JSON, @file.json or - for stdin\n$/);
  });

  it('dlq peek shows dead letters with their reasons without consuming them; redrive moves exactly those', async () => {
    for (const n of [1, 2, 3]) await deadLetter('notifications', `{"n":${n}}`);
    const peeked = (await fanoutJson('dlq', 'peek', 'notifications', '--limit', '10')).deadLetters;
    expect(peeked).toHaveLength(3);
    expect(peeked.every((l: { reason: string }) => l.reason === 'schema-invalid')).toBe(true);
    const again = (await fanoutJson('dlq', 'peek', 'notifications')).deadLetters;
    expect(again.map((l: { messageId: string }) => l.messageId).sort()).toEqual(
      peeked.map((l: { messageId: string }) => l.messageId).sort(),
    );

    const redrive = await fanoutJson('dlq', 'redrive', 'notifications');
    expect(redrive.method).toBe('copy'); // the embedded emulator has no message move tasks
    expect([...redrive.moved].sort()).toEqual(peeked.map((l: { messageId: string }) => l.messageId).sort());
    expect(await queueDepth(dlqOf('notifications'))).toEqual({ visible: 0, inFlight: 0 });
    const back = await receiveRecords(queueOf('notifications'), 10, 0);
    expect(back.map((r) => r.body).sort()).toEqual(['{"n":1}', '{"n":2}', '{"n":3}']);
    expect(back.every((r) => r.messageAttributes[POISON_REASON_ATTRIBUTE] === undefined)).toBe(true);
    expect(back.every((r) => r.messageAttributes.type?.stringValue === 'OrderPlaced')).toBe(true);
  });

  it('dlq redrive --limit moves only that many', async () => {
    for (const n of [1, 2, 3, 4]) await deadLetter('notifications', `{"limit":${n}}`);
    const result = await fanoutJson('dlq', 'redrive', 'notifications', '--limit', '3');
    expect(result.moved).toHaveLength(3);
    expect(await queueDepth(dlqOf('notifications'))).toEqual({ visible: 1, inFlight: 0 });
  });

  it('a redrive that fails halfway loses and duplicates nothing', async () => {
    // Between the CLI and the emulator, a proxy that lets the first SendMessageBatch through and
    // fails every later one, as a network or service fault halfway through would.
    const bodies = Array.from({ length: 25 }, (_, n) => `{"r":${n}}`);
    for (const body of bodies) await deadLetter('spreadsheets', body);
    const proxy = await faultyProxy(process.env.AWS_ENDPOINT_URL_SQS ?? '', 'SendMessageBatch', 1);
    try {
      const result = await fanout('--endpoint', proxy.url, '--json', 'dlq', 'redrive', 'spreadsheets');
      expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(1);
      const report = JSON.parse(result.stdout);
      expect(report.moved).toHaveLength(10);
      expect(report.failed).toHaveLength(15);
      expect(proxy.failures()).toBeGreaterThan(0);
    } finally {
      await proxy.close();
    }
    const inQueue = (await receiveAll(queueOf('spreadsheets'))).map((r) => r.body);
    const inDlq = (await receiveAll(dlqOf('spreadsheets'))).map((r) => r.body);
    expect(inQueue).toHaveLength(10);
    expect(inDlq).toHaveLength(15);
    expect([...inQueue, ...inDlq].sort()).toEqual([...bodies].sort()); // each exactly once
  });

  it('dlq purge asks for confirmation, and --yes empties the DLQ', async () => {
    await deadLetter('audit', '{"p":1}');
    const refused = await fanout('dlq', 'purge', 'audit');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('pass --yes');
    expect((await statusOf('audit')).deadLetters).toBe(1);
    expect(await fanoutJson('dlq', 'purge', 'audit', '--yes')).toEqual({ group: 'audit', purged: true });
    expect((await statusOf('audit')).deadLetters).toBe(0);
  });

  it('status --watch --json prints one JSON line per refresh that follows the queues', async () => {
    const child = spawn('node', ['cli/fanout.ts', '--json', 'status', '--watch', '--interval', '1'], {
      cwd: projectRoot,
      env: PLAIN,
    });
    const lines = createInterface({ input: child.stdout });
    const snapshots: { at: string; groups: { group: string; visible: number }[] }[] = [];
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const auditVisible = (n: number) => snapshots[n].groups.find((g) => g.group === 'audit')?.visible ?? -1;
    let before = -1;
    try {
      let sent = false;
      for await (const line of lines) {
        snapshots.push(JSON.parse(line));
        if (!sent) {
          before = auditVisible(0);
          for (const n of [1, 2, 3]) {
            await sqs.send(
              new SendMessageCommand({ QueueUrl: queueOf('audit').url, MessageBody: `{"w":${n}}` }),
            );
          }
          sent = true;
        } else if (auditVisible(snapshots.length - 1) === before + 3) break;
        if (snapshots.length > 10) throw new Error(`status --watch never showed the 3 new messages: ${line}`);
      }
    } finally {
      child.kill();
    }
    expect(stderr).toBe('');
    expect(snapshots.length).toBeGreaterThanOrEqual(2);
    expect(auditVisible(snapshots.length - 1)).toBe(before + 3);
    expect(new Set(snapshots.map((s) => s.at)).size).toBe(snapshots.length); // each line a fresh read
  });

  it.each([
    [
      ['dlq', 'peek', 'billing'],
      /^fanout: no consumer group 'billing' on .* \(groups: .*notifications.*\)\n$/,
    ],
    [
      ['--endpoint', 'http://127.0.0.1:9', 'status'],
      /^fanout: cannot reach SNS at http:\/\/127.0.0.1:9 .*start the local cloud with 'npm start'/,
    ],
    [
      ['publish', 'refunds', '{}', '--type', 'X'],
      /^fanout: no topic 'refunds' on .* \(topics: orders, payments, ledger.fifo\)\n$/,
    ],
  ])('fanout %j fails with one clear line and a non-zero exit', async (args, message) => {
    const result = await fanout(...args);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it.each([
    ['a file that does not exist', '/missing.json', 'does not exist'],
    ['a directory', 'test', 'is a directory, not a file'],
    ['a path through a file', 'package.json/payload.json', 'does not exist'],
  ])(
    'publish @file: %s is one line naming the file and the fix, exit 1, no stack trace',
    async (_what, file, problem) => {
      const result = await fanout('publish', 'orders', `@${file}`, '--type', 'OrderPlaced');
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `fanout: the payload file ${file} ${problem}; pass @ and a readable JSON file, inline JSON or - for stdin\n`,
      );
      expect(result.stdout).toBe('');
    },
  );

  it('publish @file: an unreadable file is one line naming the file and the fix', async (context) => {
    // Root reads any file whatever its mode; a write-only sysctl is unreadable even to root (Linux).
    const asRoot = process.getuid?.() === 0;
    const sysctl = '/proc/sys/vm/drop_caches';
    if (asRoot && !existsSync(sysctl))
      context.skip(`running as root and no ${sysctl} to read: no file is unreadable here`);
    const dir = mkdtempSync(path.join(tmpdir(), 'fanout-payload-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = asRoot ? sysctl : path.join(dir, 'payload.json');
    if (!asRoot) {
      writeFileSync(file, '{"orderId":"o-1"}');
      chmodSync(file, 0o000);
    }
    const result = await fanout('publish', 'orders', `@${file}`, '--type', 'OrderPlaced');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `fanout: the payload file ${file} is not readable (permission denied); pass @ and a readable JSON file, inline JSON or - for stdin\n`,
    );
  });

  it('publish @file: a file that is not JSON names the file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fanout-payload-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'payload.json');
    writeFileSync(file, '{oops');
    const result = await fanout('publish', 'orders', `@${file}`, '--type', 'OrderPlaced');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(
        `^fanout: the payload in ${file.replaceAll('.', '\\.')} is not JSON .*pass JSON, @file.json or - for stdin\n$`,
      ),
    );
  });

  it('fails with one clear line when a stack cannot be read', async () => {
    const env = {
      ...process.env,
      AWS_ENDPOINT_URL_CLOUDFORMATION: 'http://127.0.0.1:9',
      AWS_MAX_ATTEMPTS: '1',
    };
    const result = await exec('node', ['cli/fanout.ts', '--stack', 'Fanout', 'status'], {
      cwd: projectRoot,
      env,
    }).catch((e) => e);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^fanout: cannot read stack 'Fanout' .*check the name, your AWS credentials and AWS_REGION\n$/,
    );
  });
});

describe('fanout dlq: a dead-letter copy round-trips exactly', () => {
  const group = 'notifications';
  const SENT_ATTRIBUTES: Record<string, MessageAttributeValue> = {
    type: { DataType: 'String', StringValue: 'OrderPlaced' },
    correlationId: { DataType: 'String', StringValue: 'c-round-trip' },
    tenant: { DataType: 'String', StringValue: 'acme "quoted" \\ ünïcødé 🎉\nsecond line' },
    amount: { DataType: 'Number', StringValue: '12.50' },
    ratio: { DataType: 'Number.float', StringValue: '0.25' },
    tags: { DataType: 'String.Array', StringValue: '["a","b"]' },
    blob: { DataType: 'Binary', BinaryValue: new Uint8Array([0, 1, 2, 254, 255]) },
    gzip: { DataType: 'Binary.gzip', BinaryValue: new Uint8Array([0x1f, 0x8b, 8, 0]) },
    region: { DataType: 'String', StringValue: 'eu-west-1' },
    priority: { DataType: 'Number.int', StringValue: '7' },
  };

  const purge = async () => {
    for (const queue of [queueOf(group), dlqOf(group)])
      await sqs.send(new PurgeQueueCommand({ QueueUrl: queue.url }));
  };

  /** Sends `attributes` to the group's queue, takes it as the consumer would, and dead-letters it. */
  async function deadLetterAsTheConsumerWould(
    body: string,
    attributes: Record<string, MessageAttributeValue>,
  ) {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueOf(group).url,
        MessageBody: body,
        MessageAttributes: attributes,
      }),
    );
    const [record] = await receiveRecords(queueOf(group), 1, 0);
    expect(Object.keys(record.messageAttributes)).toHaveLength(Object.keys(attributes).length);
    await sqs.send(
      new DeleteMessageCommand({ QueueUrl: queueOf(group).url, ReceiptHandle: record.receiptHandle }),
    );
    const copy = deadLetterCopy({
      body: record.body,
      messageAttributes: record.messageAttributes,
      messageId: record.messageId,
      reason: 'unknown-type',
      detail: "no handler for type 'OrderPlaced'",
      group,
    });
    await sqs.send(new SendMessageCommand({ QueueUrl: dlqOf(group).url, ...copy }));
    return record;
  }

  async function receiveRaw() {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueOf(group).url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
      }),
    );
    return Messages;
  }

  beforeAll(purge);

  it('10 attributes (binary, custom types, type): peek shows the reason, redrive restores body and every attribute byte for byte', async () => {
    await purge();
    const body = '{"orderId":"rt-1","note":"plain JSON, no envelope"}';
    await deadLetterAsTheConsumerWould(body, SENT_ATTRIBUTES);

    const [peeked] = (await fanoutJson('dlq', 'peek', group)).deadLetters;
    expect(peeked).toMatchObject({
      reason: 'unknown-type',
      detail: "no handler for type 'OrderPlaced'",
      group,
    });
    expect((await fanout('dlq', 'peek', group)).stdout).toContain('unknown-type');

    const redrive = await fanoutJson('dlq', 'redrive', group);
    expect(redrive).toMatchObject({ method: 'copy', failed: [], undeleted: [] });
    expect(redrive.moved).toHaveLength(1);
    expect(await queueDepth(dlqOf(group))).toEqual({ visible: 0, inFlight: 0 });

    const back = await receiveRaw();
    expect(back).toHaveLength(1);
    expect(back[0].Body).toBe(body);
    expect(comparableAttributes(back[0].MessageAttributes)).toEqual(comparableAttributes(SENT_ATTRIBUTES));
  });

  it('a plain-JSON body keeps its derived event id and type through the redrive', async () => {
    await purge();
    const attributes = {
      type: SENT_ATTRIBUTES.type,
      blob: SENT_ATTRIBUTES.blob,
      amount: SENT_ATTRIBUTES.amount,
    };
    const original = await deadLetterAsTheConsumerWould('{"orderId":"rt-2"}', attributes);
    const first = decodeRecord(original).envelope;

    expect((await fanoutJson('dlq', 'redrive', group)).moved).toHaveLength(1);
    const [again] = await receiveRecords(queueOf(group), 10, 0);
    expect(again.messageId).not.toBe(original.messageId); // a new SQS message…
    expect(again.messageAttributes.id?.stringValue).toBe(original.messageId);
    const decoded = decodeRecord(again).envelope; // …with the same event id, type and correlation id
    expect([decoded.id, decoded.type, decoded.correlationid]).toEqual([
      first.id,
      first.type,
      first.correlationid,
    ]);
    const { id: _added, ...rest } = again.messageAttributes;
    expect(rest).toEqual(original.messageAttributes);
  });

  /** A proxy to the emulator that answers every StartMessageMoveTask itself. */
  async function moveTaskAnswering(status: number, body: string, headers: Record<string, string>) {
    const upstream = process.env.AWS_ENDPOINT_URL_SQS ?? '';
    let answered = 0;
    const server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      if (String(req.headers['x-amz-target'] ?? '').endsWith('.StartMessageMoveTask')) {
        answered++;
        res.writeHead(status, headers);
        res.end(body);
        return;
      }
      const forwarded = Object.fromEntries(
        Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'content-length'),
      ) as Record<string, string>;
      const response = await fetch(`${upstream}${req.url}`, {
        method: req.method,
        headers: forwarded,
        body: chunks.length ? Buffer.concat(chunks) : undefined,
      });
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, answered: () => answered };
  }

  const JSON_ERROR = { 'content-type': 'application/x-amz-json-1.0' };

  it.each([
    [
      'AccessDenied',
      400,
      JSON.stringify({
        __type: 'com.amazon.coral.service#AccessDeniedException',
        message:
          'User: arn:aws:iam::000000000000:user/ops is not authorized to perform: sqs:StartMessageMoveTask',
      }),
      { ...JSON_ERROR, 'x-amzn-query-error': 'AccessDenied;Sender' },
    ],
    [
      'a real InternalError',
      500,
      JSON.stringify({
        __type: 'com.amazonaws.sqs#InternalError',
        message: 'We encountered an internal error.',
      }),
      JSON_ERROR,
    ],
  ])(
    'redrive: %s starting the move task is one clear line, exit 1, and nothing is copied',
    async (_what, status, body, headers) => {
      await purge();
      await deadLetterAsTheConsumerWould('{"orderId":"rt-3"}', { type: SENT_ATTRIBUTES.type });
      const proxy = await moveTaskAnswering(status, body, headers);
      const result = await fanout('--endpoint', proxy.url, 'dlq', 'redrive', group);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /^fanout: cannot start an SQS message move task from .*notifications-dlq to .*notifications \(.*(AccessDenied|InternalError).*\); nothing was moved\. .*pass --limit N to copy instead\n$/,
      );
      expect(proxy.answered()).toBeGreaterThan(0);
      expect(await queueDepth(dlqOf(group))).toEqual({ visible: 1, inFlight: 0 });
      expect(await queueDepth(queueOf(group))).toEqual({ visible: 0, inFlight: 0 });
    },
  );

  it.each([
    [
      'HTTP 501 (LocalStack: not yet implemented)',
      501,
      JSON.stringify({
        __type: 'InternalFailure',
        message: "API action 'StartMessageMoveTask' for service 'sqs' not yet implemented",
      }),
      JSON_ERROR,
    ],
    [
      'a bare HTML 500 page (moto: NotImplementedError)',
      500,
      '<!doctype html><title>500 Internal Server Error</title>',
      { 'content-type': 'text/html' },
    ],
    [
      '400 InvalidAction (fauxqs)',
      400,
      JSON.stringify({
        __type: 'com.amazonaws.sqs#InvalidAction',
        message: 'Unknown action: StartMessageMoveTask',
      }),
      JSON_ERROR,
    ],
  ])(
    'redrive: an endpoint without move tasks, %s, falls back to copying',
    async (_what, status, body, headers) => {
      await purge();
      await deadLetterAsTheConsumerWould('{"orderId":"rt-4"}', { type: SENT_ATTRIBUTES.type });
      const proxy = await moveTaskAnswering(status, body, headers);
      const result = await fanout('--endpoint', proxy.url, '--json', 'dlq', 'redrive', group);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ method: 'copy', failed: [] });
      expect(proxy.answered()).toBeGreaterThan(0);
      expect((await receiveRaw()).map((m) => m.Body)).toEqual(['{"orderId":"rt-4"}']);
    },
  );
});

describe('fanout CLI: operator fixes (issue 14)', () => {
  const sns = new SNSClient({});

  /** Exit code (or 128 + signal number) and output of a child once it has exited. */
  const exited = (child: ReturnType<typeof spawn>) =>
    new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal })),
    );

  it('status flags a topic whose subscriptions do not match the topology (0 where it expects 3)', async () => {
    const orders = stack.topics.get('orders') ?? '';
    const { Subscriptions = [] } = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: orders }));
    expect(Subscriptions).toHaveLength(3);
    onTestFinished(async () => {
      await provisionTopology(topology); // subscribes them again
    });
    for (const s of Subscriptions)
      await sns.send(new UnsubscribeCommand({ SubscriptionArn: s.SubscriptionArn }));

    const json = await fanoutJson('status');
    expect(json.topics.find((t: { topic: string }) => t.topic === 'orders')).toEqual({
      topic: 'orders',
      exists: true,
      subscriptions: 0,
      expected: 3,
      missing: ['notifications', 'spreadsheets', 'audit'],
      unexpected: 0,
      matchesTopology: false,
    });
    expect(json.topics.find((t: { topic: string }) => t.topic === 'payments')).toMatchObject({
      subscriptions: 1,
      expected: 1,
      matchesTopology: true,
    });
    const text = await fanout('status');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      /│ orders +│ 0 +│ 3 +│ MISMATCH: not subscribed: notifications, spreadsheets, audit │/,
    );
    expect(text.stdout).toMatch(/│ payments +│ 1 +│ 1 +│ ok +│/);

    await provisionTopology(topology);
    expect((await statusOfTopic('orders')).matchesTopology).toBe(true);
  });

  async function statusOfTopic(topic: string) {
    return (await fanoutJson('status')).topics.find((t: { topic: string }) => t.topic === topic);
  }

  it('endpoint precedence: --endpoint, else AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL, else 127.0.0.1:4566', async () => {
    const good = process.env.AWS_ENDPOINT_URL_SQS ?? '';
    const dead = 'http://127.0.0.1:9';
    const bare: NodeJS.ProcessEnv = { ...PLAIN };
    for (const name of ['AWS_ENDPOINT_URL_SNS', 'AWS_ENDPOINT_URL_SQS', 'AWS_ENDPOINT_URL'])
      delete bare[name];
    const run = (env: NodeJS.ProcessEnv, ...args: string[]) =>
      exec('node', ['cli/fanout.ts', ...args, '--json', 'status'], { cwd: projectRoot, env }).then(
        ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );

    // --endpoint beats the environment
    const flag = await run(
      { ...bare, AWS_ENDPOINT_URL_SNS: dead, AWS_ENDPOINT_URL_SQS: dead },
      '--endpoint',
      good,
    );
    expect(flag.stderr).toBe('');
    expect(JSON.parse(flag.stdout).target).toBe(good);
    // the environment: AWS_ENDPOINT_URL_SQS (SNS follows it unless AWS_ENDPOINT_URL_SNS is set) …
    const sqsOnly = await run({ ...bare, AWS_ENDPOINT_URL_SQS: good });
    expect(sqsOnly.stderr).toBe('');
    expect(JSON.parse(sqsOnly.stdout).groups.length).toBe(4);
    // … else AWS_ENDPOINT_URL
    const general = await run({ ...bare, AWS_ENDPOINT_URL: good });
    expect(general.stderr).toBe('');
    expect(JSON.parse(general.stdout).target).toBe(good);
    // neither: where npm start serves
    const none = await run({ ...bare, AWS_MAX_ATTEMPTS: '1' });
    expect(`${none.stdout}${none.stderr}`).toContain('http://127.0.0.1:4566');
  });

  it('publish --id re-publishes an event under that id; --id with --count or a bad id is one line on stderr', async () => {
    const id = `evt-${Date.now()}-republished`;
    const data = '{"paymentId":"p-id","orderId":"o-id","amount":7}';
    for (const _ of [1, 2]) {
      const published = await fanoutJson(
        'publish',
        'payments',
        data,
        '--type',
        'PaymentCaptured',
        '--id',
        id,
      );
      expect(published).toMatchObject({ published: 1, results: [{ ok: true, id }] });
    }
    const copies = (await receiveAll(queueOf('audit'))).filter((r) => r.body.includes(id));
    expect(copies).toHaveLength(2); // two deliveries of one event: the consumer's idempotency applies it once
    expect(JSON.parse(copies[0].body)).toMatchObject({ id, type: 'PaymentCaptured', data: JSON.parse(data) });

    const text = await fanout('publish', 'payments', data, '--type', 'PaymentCaptured', '--id', id);
    expect(text.stdout).toBe(`published 1 of 1 to payments (id ${id})\n`);

    const withCount = await fanout(
      'publish',
      'payments',
      data,
      '--type',
      'PaymentCaptured',
      '--id',
      id,
      '--count',
      '3',
    );
    expect(withCount).toMatchObject({ code: 1, stdout: '' });
    expect(withCount.stderr).toMatch(
      /^fanout: --id publishes one event under that id; leave out --count.*\n$/,
    );
    const spaced = await fanout('publish', 'payments', data, '--type', 'PaymentCaptured', '--id', 'a b');
    expect(spaced).toMatchObject({ code: 1, stdout: '' });
    expect(spaced.stderr).toBe(
      'fanout: --id "a b" is invalid: use 1 to 128 letters, digits and punctuation (no spaces)\n',
    );
  });

  it.each([
    [
      'a FIFO topic without --group-id',
      ['ledger.fifo', '{"account":"a","seq":1,"amount":1}', '--type', 'Posting'],
      /^fanout: ledger\.fifo is a FIFO topic: pass --group-id G \(.*\)\n$/,
    ],
    [
      'an invalid --group-id',
      ['ledger.fifo', '{"account":"a","seq":1,"amount":1}', '--type', 'Posting', '--group-id', 'a b'],
      /^fanout: --group-id "a b" is invalid: use 1 to 128 characters/,
    ],
    [
      '--group-id on a standard topic',
      ['orders', '{"orderId":"o"}', '--type', 'OrderPlaced', '--group-id', 'g'],
      /^fanout: --group-id is for FIFO topics only; orders is a standard topic\n$/,
    ],
    [
      'a reserved attribute',
      ['orders', '{"orderId":"o"}', '--type', 'OrderPlaced', '--attr', 'type=x'],
      /^fanout: --attr: attribute 'type' is reserved; fanout sets it \(the event type\)\n$/,
    ],
  ])(
    'publish: %s is one line on stderr naming the option, nothing on stdout, exit 1',
    async (_what, args, message) => {
      for (const json of [[], ['--json']]) {
        const result = await fanout(...json, 'publish', ...args);
        expect(result.code).toBe(1);
        expect(result.stdout).toBe('');
        expect(result.stderr).toMatch(message);
        expect(result.stderr).not.toContain("'groupId'");
        expect(result.stderr.trim().split('\n')).toHaveLength(1);
      }
    },
  );

  it('dlq peek receives the dead letters it shows: each peek raises their receive count by one', async () => {
    await sqs.send(new PurgeQueueCommand({ QueueUrl: dlqOf('spreadsheets').url }));
    await deadLetter('spreadsheets', '{"peek":1}');
    const first = (await fanoutJson('dlq', 'peek', 'spreadsheets')).deadLetters;
    const second = (await fanoutJson('dlq', 'peek', 'spreadsheets')).deadLetters;
    expect(first).toHaveLength(1);
    expect(second).toHaveLength(1);
    expect(second[0].receiveCount).toBe(first[0].receiveCount + 1);
  });

  it('fanout topology | head -1: a reader that goes away ends it quietly (EPIPE), exit 0', async () => {
    const child = spawn('node', ['cli/fanout.ts', 'topology'], { cwd: projectRoot, env: PLAIN });
    child.stdout.destroy(); // the reader is gone before the first line is written
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    expect(stderr).toBe('');
  });

  it('status --watch: Ctrl-C (SIGINT) exits 130', async () => {
    const child = spawn('node', ['cli/fanout.ts', '--json', 'status', '--watch', '--interval', '1'], {
      cwd: projectRoot,
      env: PLAIN,
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const done = exited(child);
    const [first] = await createInterface({ input: child.stdout })
      [Symbol.asyncIterator]()
      .next()
      .then((r) => [r.value as string]);
    expect(JSON.parse(first).groups).toHaveLength(4);
    child.kill('SIGINT');
    expect(await done).toEqual({ code: 130, signal: null });
    expect(stderr).toBe('');
  });

  // bench starts an embedded cloud of its own whatever the target; it runs once per test run.
  it.skipIf(target !== 'embedded')(
    `bench --json: the table goes to stderr, stdout is the results file and the summary as JSON${target === 'embedded' ? '' : ` (skipped on ${target}: the bench starts an embedded cloud of its own and runs once per test run)`}`,
    async () => {
      // bench/run.ts writes bench/results/; keep a developer's last full run.
      const results = path.join(projectRoot, 'bench', 'results');
      const kept = mkdtempSync(path.join(tmpdir(), 'fanout-bench-'));
      const had = existsSync(results);
      if (had) cpSync(results, kept, { recursive: true });
      onTestFinished(() => {
        rmSync(results, { recursive: true, force: true });
        if (had) cpSync(kept, results, { recursive: true });
        rmSync(kept, { recursive: true, force: true });
      });
      const { stdout, stderr } = await exec('node', ['cli/fanout.ts', '--json', 'bench', '--quick'], {
        cwd: projectRoot,
        env: PLAIN,
        timeout: 240_000,
      });
      const summary = JSON.parse(stdout);
      expect(summary).toMatchObject({
        ok: true,
        quick: true,
        files: { json: path.join(results, 'latest.json') },
      });
      expect(summary.results.length).toBeGreaterThan(3);
      expect(summary.results[0]).toEqual(
        expect.objectContaining({
          measure: expect.any(String),
          ratio: expect.any(Number),
          goal: expect.any(String),
        }),
      );
      expect(summary.results[0]).not.toHaveProperty('samples');
      expect(stderr).toContain('raw figures: bench/results/latest.json');
    },
    300_000,
  );
});

describe('FANOUT_RESOURCE_PREFIX', () => {
  it.each([
    ['with a space and a !', 'bad prefix!'],
    ['too long', 'p'.repeat(21)],
  ])('%s is one line on stderr naming the variable and the fix, exit 1', async (_what, prefix) => {
    const result = await exec('node', ['cli/fanout.ts', 'status'], {
      cwd: projectRoot,
      env: { ...PLAIN, FANOUT_RESOURCE_PREFIX: prefix },
      timeout: 60_000,
    }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code?: number; stderr: string }) => ({ code: error.code ?? 1, stderr: error.stderr }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^fanout: FANOUT_RESOURCE_PREFIX: '.*' is not a usable name prefix\. Use letters, digits, '-' and '_' only, at most 20 characters/,
    );
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
