/**
 * The emulators themselves — fauxqs (SNS + SQS + S3) and dynalite (DynamoDB) on 127.0.0.1, plus the TTL
 * sweeper — started in whichever thread or process imports this module: the consumer's own event loop
 * (isolation 'in-process'), a worker thread or a child process (see emulator-entry.ts). Imports nothing
 * of fanout's library, so a worker or child loads only the emulators; failures are plain data
 * ({@link HostFailure}) that cross a thread or process boundary and become fanout errors in the parent.
 */
import type { AddressInfo } from 'node:net';
import { startTtlSweeper, type TtlSweeper } from './ttl-sweeper.ts';

/** The only interface the embedded cloud listens on: it is reachable from this machine alone. */
export const LOOPBACK = '127.0.0.1';

/** What to start: the ports (0 = a free one), the region, and the TTL sweeper's settings. */
export interface HostSpec {
  readonly snsSqsPort: number;
  readonly dynamodbPort: number;
  readonly region: string;
  /** `false`: no sweeper. */
  readonly ttlSweep: { readonly attribute: string; readonly intervalMs: number } | false;
}

/** Why the emulators did not start, as data that survives postMessage / IPC. */
export type FailureDetail =
  | { readonly kind: 'port-in-use'; readonly port: number; readonly service: string }
  | { readonly kind: 'missing'; readonly missing: string[]; readonly message: string }
  | { readonly kind: 'other'; readonly message: string };

/** The emulators could not start; `detail` says why. */
export class HostFailure extends Error {
  readonly detail: FailureDetail;
  constructor(detail: FailureDetail) {
    super(
      detail.kind === 'port-in-use' ? `port ${detail.port} (${detail.service}) is in use` : detail.message,
    );
    this.detail = detail;
  }
}

/** Memory of the thread or process the emulators run in. */
export interface HostUsage {
  /** Resident set size of the whole process the emulators run in (shared with the caller in a worker). */
  readonly rssBytes: number;
  /** V8 heap in use by the emulators' isolate (their own thread's heap in a worker). */
  readonly heapUsedBytes: number;
}

/** Running emulators. */
export interface Host {
  readonly snsSqsPort: number;
  readonly dynamodbPort: number;
  close(): Promise<void>;
}

async function loadEmulators() {
  const [fauxqs, dynalite] = await Promise.allSettled([import('fauxqs'), import('dynalite')]);
  const missing = [
    fauxqs.status === 'rejected' ? 'fauxqs' : '',
    dynalite.status === 'rejected' ? 'dynalite' : '',
  ];
  if (fauxqs.status === 'rejected' || dynalite.status === 'rejected') {
    const cause = fauxqs.status === 'rejected' ? fauxqs.reason : (dynalite as PromiseRejectedResult).reason;
    throw new HostFailure({
      kind: 'missing',
      missing: missing.filter((name) => name),
      message: cause instanceof Error ? cause.message : String(cause),
    });
  }
  return { buildApp: fauxqs.value.buildApp, dynalite: dynalite.value.default };
}

const failure = (error: unknown, port: number, service: string) =>
  new HostFailure(
    (error as NodeJS.ErrnoException)?.code === 'EADDRINUSE'
      ? { kind: 'port-in-use', port, service }
      : { kind: 'other', message: error instanceof Error ? error.message : String(error) },
  );

/**
 * Starts SNS + SQS + S3 (fauxqs) and DynamoDB (dynalite) on 127.0.0.1 only (fauxqs' `startFauxqs` always
 * binds every interface, so its app is started here on the loopback address), and the TTL sweeper.
 */
export async function hostEmulators(spec: HostSpec): Promise<Host> {
  const { buildApp, dynalite } = await loadEmulators();
  const fauxqs = buildApp({ logger: false, defaultRegion: spec.region });
  try {
    await fauxqs.listen({ port: spec.snsSqsPort, host: LOOPBACK });
  } catch (error) {
    await fauxqs.close();
    throw failure(error, spec.snsSqsPort, 'SNS + SQS');
  }
  const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  try {
    await new Promise<void>((resolve, reject) => {
      dynamo.once('error', reject);
      dynamo.listen(spec.dynamodbPort, LOOPBACK, () => resolve());
    });
  } catch (error) {
    await fauxqs.close();
    throw failure(error, spec.dynamodbPort, 'DynamoDB');
  }
  const dynamodbPort = (dynamo.address() as AddressInfo).port;
  const sweeper: TtlSweeper | undefined = spec.ttlSweep
    ? startTtlSweeper({
        endpoint: `http://${LOOPBACK}:${dynamodbPort}`,
        region: spec.region,
        ...spec.ttlSweep,
      })
    : undefined;
  return {
    snsSqsPort: (fauxqs.server.address() as AddressInfo).port,
    dynamodbPort,
    async close() {
      await sweeper?.stop();
      await Promise.all([
        fauxqs.close(),
        new Promise<void>((resolve) => {
          dynamo.closeAllConnections?.();
          dynamo.close(() => resolve());
        }),
      ]);
    },
  };
}
