/**
 * Entry of the emulators' worker thread or child process (isolation 'worker' or 'process' of
 * startEmbeddedCloud): waits for `start`, starts the emulators, answers `usage` and `stop`. A child
 * process exits as soon as its parent's IPC channel closes — the parent ended, even by SIGKILL — so it
 * never outlives it; a worker thread ends with its process anyway.
 */
import { getHeapStatistics } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { type Host, HostFailure, type HostSpec, hostEmulators } from './emulator-host.ts';

/** Parent → emulators. */
export type ToHost =
  | { readonly type: 'start'; readonly spec: HostSpec }
  | { readonly type: 'usage' | 'stop' };
/** Emulators → parent. */
export type FromHost =
  | { readonly type: 'ready'; readonly snsSqsPort: number; readonly dynamodbPort: number }
  | { readonly type: 'failed'; readonly detail: HostFailure['detail'] }
  | { readonly type: 'usage'; readonly rssBytes: number; readonly heapUsedBytes: number }
  | { readonly type: 'stopped' };

/** Sends a message; resolves once it is handed over (a child's IPC write has completed). */
const send = (message: FromHost) =>
  new Promise<void>((resolve) => {
    if (parentPort) {
      parentPort.postMessage(message);
      resolve();
    } else process.send?.(message, () => resolve());
  });
const close = () => (parentPort ? parentPort.close() : process.disconnect());

let host: Host | undefined;

async function onMessage(message: ToHost) {
  if (message.type === 'start') {
    try {
      host = await hostEmulators(message.spec);
      await send({ type: 'ready', snsSqsPort: host.snsSqsPort, dynamodbPort: host.dynamodbPort });
    } catch (error) {
      const detail =
        error instanceof HostFailure ? error.detail : { kind: 'other' as const, message: String(error) };
      await send({ type: 'failed', detail });
      close();
    }
  } else if (message.type === 'usage') {
    await send({
      type: 'usage',
      rssBytes: process.memoryUsage.rss(),
      heapUsedBytes: getHeapStatistics().used_heap_size,
    });
  } else {
    await host?.close();
    await send({ type: 'stopped' });
    close();
  }
}

if (parentPort) {
  parentPort.on('message', (message: ToHost) => void onMessage(message));
} else {
  process.on('message', (message: ToHost) => void onMessage(message));
  process.on('disconnect', () => process.exit(0));
}
