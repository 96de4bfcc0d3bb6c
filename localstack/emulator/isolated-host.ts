/**
 * The parent's side of emulators running off its event loop, in a worker thread or a child process
 * (emulator-entry.ts): start them, ask for their memory, stop them, and report their unexpected end.
 */
import { type ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FromHost, ToHost } from './emulator-entry.ts';
import { EmulatorExitedError, startError } from './emulator-errors.ts';
import type { HostSpec, HostUsage } from './emulator-host.ts';

/** Emulators in another thread or process. */
export interface IsolatedHost {
  readonly snsSqsPort: number;
  readonly dynamodbPort: number;
  /** The child's process id (isolation 'process'); this process's own in a worker. */
  readonly pid: number;
  usage(): Promise<HostUsage>;
  stop(): Promise<void>;
}

/** A worker or child, seen through the few calls the protocol needs. */
interface Channel {
  readonly pid: number;
  post(message: ToHost): void;
  onMessage(listener: (message: FromHost) => void): void;
  /** Called once, when the thread or process has ended, with how it ended. */
  onEnd(listener: (how: string) => void): void;
}

// emulator-entry.ts next to this file when run from source, emulator-entry.js once built.
const entry = new URL(`./emulator-entry${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url);

function workerChannel(): Channel {
  const worker = new Worker(entry);
  let error: Error | undefined;
  worker.on('error', (e) => {
    error = e;
  });
  return {
    pid: process.pid,
    post: (message) => worker.postMessage(message),
    onMessage: (listener) => worker.on('message', listener),
    onEnd: (listener) =>
      worker.once('exit', (code) =>
        listener(error ? `${error.message}, exit code ${code}` : `exit code ${code}`),
      ),
  };
}

function processChannel(): Channel {
  const child: ChildProcess = fork(fileURLToPath(entry), [], {
    execArgv: [],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return {
    pid: child.pid ?? 0,
    post: (message) => child.send(message),
    onMessage: (listener) => child.on('message', listener as (message: unknown) => void),
    onEnd: (listener) =>
      child.once('exit', (code, signal) => listener(signal ? `signal ${signal}` : `exit code ${code}`)),
  };
}

/**
 * Starts the emulators in a worker thread or a child process. Rejects with PortInUseError,
 * EmulatorMissingError or EmulatorExitedError; after the start, an end without `stop()` calls `onExit`.
 */
export function startIsolatedHost(
  isolation: 'worker' | 'process',
  spec: HostSpec,
  onExit: (error: EmulatorExitedError) => void,
): Promise<IsolatedHost> {
  const channel = isolation === 'worker' ? workerChannel() : processChannel();
  const waiting: Array<{ type: FromHost['type']; settle: (message: FromHost | Error) => void }> = [];
  let ended = false;
  let stopping = false;
  let ready = false;
  const request = (message: ToHost, answer: FromHost['type']) =>
    new Promise<FromHost>((resolve, reject) => {
      if (ended) return reject(new EmulatorExitedError(isolation, 'it had ended already'));
      waiting.push({ type: answer, settle: (m) => (m instanceof Error ? reject(m) : resolve(m)) });
      channel.post(message);
    });
  channel.onMessage((message) => {
    const type = message.type === 'failed' ? 'ready' : message.type;
    const index = waiting.findIndex((w) => w.type === type);
    if (index >= 0) waiting.splice(index, 1)[0].settle(message);
  });
  const ended$ = new Promise<void>((resolve) =>
    channel.onEnd((how) => {
      ended = true;
      const error = new EmulatorExitedError(isolation, how);
      for (const w of waiting.splice(0)) w.settle(error);
      if (ready && !stopping) onExit(error);
      resolve();
    }),
  );
  return request({ type: 'start', spec }, 'ready').then((message) => {
    if (message.type === 'failed') throw startError(message.detail);
    if (message.type !== 'ready') throw new Error(`unexpected answer ${message.type}`);
    ready = true;
    return {
      snsSqsPort: message.snsSqsPort,
      dynamodbPort: message.dynamodbPort,
      pid: channel.pid,
      async usage() {
        const m = await request({ type: 'usage' }, 'usage');
        return m.type === 'usage'
          ? { rssBytes: m.rssBytes, heapUsedBytes: m.heapUsedBytes }
          : { rssBytes: 0, heapUsedBytes: 0 };
      },
      async stop() {
        if (ended) return;
        stopping = true;
        await request({ type: 'stop' }, 'stopped').catch(() => {});
        await ended$;
      },
    };
  });
}
