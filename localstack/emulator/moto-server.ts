import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { sdkEnvironment } from './embedded-cloud.ts';

/**
 * moto (a Python AWS emulator, `pip install 'moto[server]'`) as a second local target: one
 * `moto_server` process serving SNS, SQS and DynamoDB on a loopback port. Optional: where
 * `moto_server` is not installed, {@link motoAvailability} says why and the moto suites skip.
 */

/** A running moto server. */
export interface MotoServer {
  readonly endpoint: string;
  /** Standard AWS SDK variables pointing every client at it. */
  readonly env: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

const COMMAND = 'moto_server';

/** Whether `moto_server` can be started here, and why not. */
export async function motoAvailability(): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    await promisify(execFile)(COMMAND, ['--help'], { timeout: 20_000 });
    return { ok: true };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return {
      ok: false,
      reason:
        code === 'ENOENT'
          ? `no ${COMMAND} on PATH (install moto with: pip install 'moto[server]')`
          : `${COMMAND} --help failed: ${(error as Error).message.split('\n')[0]}`,
    };
  }
}

/** A free loopback port (closed again at once: the server that gets it binds it right after). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts `moto_server` on a free loopback port and waits until it answers. */
export async function startMotoServer(options: { region?: string } = {}): Promise<MotoServer> {
  const region = options.region ?? 'us-east-1';
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(COMMAND, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`${COMMAND} exited (${code}): ${stderr.trim()}`))),
  );
  const ready = (async () => {
    for (const started = Date.now(); Date.now() - started < 30_000; ) {
      try {
        const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
        if (response.ok || response.status === 404) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${COMMAND} did not answer on ${endpoint} within 30 s: ${stderr.trim()}`);
  })();
  try {
    await Promise.race([ready, exited]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  exited.catch(() => {});
  return {
    endpoint,
    env: sdkEnvironment({ sns: endpoint, sqs: endpoint, dynamodb: endpoint, s3: endpoint, region }),
    async stop() {
      if (child.exitCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
