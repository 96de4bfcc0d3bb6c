/**
 * The embedded cloud in each isolation: the emulators answer the real SDK over HTTP, `stop()` ends them,
 * a taken port is PortInUseError, a child that dies is reported, and a parent killed with SIGKILL leaves
 * no emulator process behind. Each test starts clouds of its own (not the run's).
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import {
  EmulatorExitedError,
  type EmulatorIsolation,
  PortInUseError,
  startEmbeddedCloud,
} from '../../../localstack/emulator/embedded-cloud.ts';
import { startError } from '../../../localstack/emulator/emulator-errors.ts';
import { clients, waitFor } from '../../helpers/cloud.ts';

const ISOLATIONS: EmulatorIsolation[] = ['worker', 'process', 'in-process'];

/** Whether something accepts connections on 127.0.0.1:`port`. */
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** Whether a process with this id exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const portOf = (url: string) => Number(new URL(url).port);

describe.each(ISOLATIONS)("startEmbeddedCloud({ isolation: '%s' })", (isolation) => {
  it('serves SQS and DynamoDB to the real SDK; stop() closes both ports', async () => {
    const cloud = await startEmbeddedCloud({ isolation });
    expect(cloud.isolation).toBe(isolation);
    const saved = { ...process.env };
    Object.assign(process.env, cloud.env);
    try {
      const { sqs, dynamodb } = clients();
      await expect(sqs.send(new ListQueuesCommand({}))).resolves.toBeDefined();
      await expect(dynamodb.send(new ListTablesCommand({}))).resolves.toMatchObject({ TableNames: [] });
    } finally {
      process.env = saved;
      await cloud.stop();
    }
    expect(await listening(portOf(cloud.sqs))).toBe(false);
    expect(await listening(portOf(cloud.dynamodb))).toBe(false);
  });

  it('a port in use rejects with PortInUseError naming the port and the service', async () => {
    const first = await startEmbeddedCloud({ isolation });
    try {
      const port = portOf(first.dynamodb);
      const second = startEmbeddedCloud({ isolation, dynamodbPort: port });
      await expect(second).rejects.toThrow(PortInUseError);
      await expect(second).rejects.toThrow(`port ${port} (DynamoDB) on 127.0.0.1 is already in use`);
      const snsSqs = portOf(first.sqs);
      await expect(startEmbeddedCloud({ isolation, snsSqsPort: snsSqs })).rejects.toThrow(
        `port ${snsSqs} (SNS + SQS) on 127.0.0.1 is already in use`,
      );
    } finally {
      await first.stop();
    }
  });
});

describe("isolation 'process'", () => {
  it('stop() ends the child process', async () => {
    const cloud = await startEmbeddedCloud({ isolation: 'process' });
    expect(cloud.pid).not.toBe(process.pid);
    expect(alive(cloud.pid)).toBe(true);
    await cloud.stop();
    expect(alive(cloud.pid)).toBe(false);
  });

  it('a child that dies is reported to onExit as EmulatorExitedError naming how it ended', async () => {
    let reported: EmulatorExitedError | undefined;
    const cloud = await startEmbeddedCloud({
      isolation: 'process',
      onExit: (error) => {
        reported = error;
      },
    });
    process.kill(cloud.pid, 'SIGKILL');
    const error = await waitFor(() => reported, { what: 'onExit' });
    expect(error).toBeInstanceOf(EmulatorExitedError);
    expect(error.message).toBe(
      "The embedded cloud's child process ended unexpectedly (signal SIGKILL); its queues, topics and tables are gone: start the local cloud again",
    );
    await expect(cloud.usage()).rejects.toThrow(EmulatorExitedError);
    await cloud.stop();
  });

  it('a parent killed with SIGKILL leaves no emulator process behind', async () => {
    const module = new URL('../../../localstack/emulator/embedded-cloud.ts', import.meta.url).href;
    const parent = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { startEmbeddedCloud } = await import(${JSON.stringify(module)});
         const cloud = await startEmbeddedCloud({ isolation: 'process' });
         process.stdout.write(JSON.stringify({ pid: cloud.pid }) + '\\n');
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    parent.stdout.on('data', (chunk) => {
      out += chunk;
    });
    const { pid } = await waitFor(
      () => (out.includes('\n') ? (JSON.parse(out) as { pid: number }) : undefined),
      {
        what: "the parent's report of its emulator process",
        timeoutMs: 20_000,
      },
    );
    expect(alive(pid)).toBe(true);
    parent.kill('SIGKILL');
    await waitFor(() => !alive(pid), { what: `emulator process ${pid} to end`, timeoutMs: 10_000 });
    expect(alive(pid)).toBe(false);
  });
});

describe('bad options', () => {
  it('an unknown isolation is one line naming the field, the value and the choices', async () => {
    await expect(startEmbeddedCloud({ isolation: 'thread' as EmulatorIsolation })).rejects.toThrow(
      "isolation: must be one of worker, process, in-process (given thread). Pass 'in-process' or leave it out",
    );
  });

  it('a TTL sweep interval that is not a positive number is one line naming the field and the fix', async () => {
    await expect(startEmbeddedCloud({ ttlSweep: { intervalSeconds: 0 } })).rejects.toThrow(
      'ttlSweep.intervalSeconds: must be a positive number of seconds (given 0). Pass e.g. 60, or ttlSweep: false to keep every item',
    );
  });
});

describe('startError', () => {
  it('a missing emulator package is one line naming the package and the install command', () => {
    const error = startError({
      kind: 'missing',
      missing: ['dynalite'],
      message: "Cannot find package 'dynalite'",
    });
    expect(error.message).toBe(
      'The embedded cloud needs dynalite, which is not installed. Run: npm install --save-dev dynalite (Node >= 22.5)',
    );
    expect(error.message).not.toContain('\n');
  });
});
