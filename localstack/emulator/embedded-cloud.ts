import { ConfigError } from '../../lib/index.ts';
import { type EmulatorExitedError, startError } from './emulator-errors.ts';
import {
  type Host,
  HostFailure,
  type HostSpec,
  type HostUsage,
  hostEmulators,
  LOOPBACK,
} from './emulator-host.ts';
import { startIsolatedHost } from './isolated-host.ts';

export { EmulatorExitedError, EmulatorMissingError, PortInUseError } from './emulator-errors.ts';
export type { HostUsage as EmulatorUsage } from './emulator-host.ts';
export { LOOPBACK };

/**
 * Where the emulators run: `worker`, a worker thread of this process (ends with it); `process`, a child
 * process (exits when this process ends, even by SIGKILL); `in-process`, this thread's own event loop.
 */
export type EmulatorIsolation = 'worker' | 'process' | 'in-process';

/** Where the local cloud's services listen, and the SDK variables that point clients at them. */
export interface CloudEndpoints {
  readonly sns: string;
  readonly sqs: string;
  readonly dynamodb: string;
  /** S3 (the payload bucket of large messages); fauxqs serves it beside SNS and SQS. */
  readonly s3?: string;
  readonly region: string;
  /** Standard AWS SDK variables: set them and every SDK client reaches this cloud unchanged. */
  readonly env: Readonly<Record<string, string>>;
}

/** A running embedded cloud. */
export interface EmbeddedCloud extends CloudEndpoints {
  /** Where the emulators run. */
  readonly isolation: EmulatorIsolation;
  /** The process the emulators run in: the child's with isolation 'process', this process's otherwise. */
  readonly pid: number;
  /** Memory of the thread or process the emulators run in (RSS is this process's own unless 'process'). */
  usage(): Promise<HostUsage>;
  /** Stops the emulators and ends their worker thread or child process. */
  stop(): Promise<void>;
}

/** Options of {@link startEmbeddedCloud}. */
export interface EmbeddedCloudOptions {
  /**
   * Port of SNS + SQS (fauxqs serves both on one port); 0 picks a free one.
   * @default 0
   */
  readonly snsSqsPort?: number;
  /**
   * Port of DynamoDB (dynalite); 0 picks a free one.
   * @default 0
   */
  readonly dynamodbPort?: number;
  /**
   * Region of the ARNs and URLs.
   * @default 'us-east-1'
   */
  readonly region?: string;
  /**
   * Where the emulators run: a worker thread of this process (`worker`), a child process that exits
   * with this one (`process`), or this event loop (`in-process`). Off this loop, the emulators and the
   * code under test use two cores: local end-to-end deliveries ran 1.38–1.52× faster in a worker than
   * in-process on our 2-core machines (docs/BENCHMARKS.md, "Emulators off the consumer's event loop").
   * @default 'worker'
   */
  readonly isolation?: EmulatorIsolation;
  /**
   * Removal of expired items, which dynalite never does: every `intervalSeconds` the tables are scanned
   * and items whose number attribute `attribute` (epoch seconds) is past are deleted. `false`: keep all.
   * @default { attribute: 'expiresAt', intervalSeconds: 60 } (the attribute of fanout's idempotency items)
   */
  readonly ttlSweep?: { readonly attribute?: string; readonly intervalSeconds?: number } | false;
  /**
   * Called when the emulators' worker thread or child process ends without `stop()`.
   * @default throws the error (an uncaught exception: nothing local works without the emulators)
   */
  readonly onExit?: (error: EmulatorExitedError) => void;
}

/** The SDK variables for a set of endpoints (dummy credentials: the emulators check none). */
export function sdkEnvironment(endpoints: {
  sns: string;
  sqs: string;
  dynamodb: string;
  s3?: string;
  region: string;
}): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_SNS: endpoints.sns,
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    ...(endpoints.s3 ? { AWS_ENDPOINT_URL_S3: endpoints.s3 } : {}),
    AWS_REGION: endpoints.region,
    AWS_DEFAULT_REGION: endpoints.region,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
  };
}

/** The attribute fanout's idempotency store keeps its TTL in (lib/idempotency-store.ts). */
const TTL_ATTRIBUTE = 'expiresAt';

const rethrow = (error: EmulatorExitedError) => {
  throw error;
};

const ISOLATIONS: readonly EmulatorIsolation[] = ['worker', 'process', 'in-process'];

function hostSpec(options: EmbeddedCloudOptions): HostSpec {
  if (options.isolation !== undefined && !ISOLATIONS.includes(options.isolation)) {
    throw new ConfigError(
      'isolation',
      `must be one of ${ISOLATIONS.join(', ')} (given ${String(options.isolation)})`,
      "Pass 'in-process' or leave it out",
    );
  }
  const sweep = options.ttlSweep ?? {};
  const interval = sweep ? (sweep.intervalSeconds ?? 60) : 60;
  if (!Number.isFinite(interval) || interval <= 0) {
    throw new ConfigError(
      'ttlSweep.intervalSeconds',
      `must be a positive number of seconds (given ${interval})`,
      'Pass e.g. 60, or ttlSweep: false to keep every item',
    );
  }
  return {
    snsSqsPort: options.snsSqsPort ?? 0,
    dynamodbPort: options.dynamodbPort ?? 0,
    region: options.region ?? 'us-east-1',
    ttlSweep: sweep && {
      attribute: sweep.attribute ?? TTL_ATTRIBUTE,
      intervalMs: interval * 1000,
    },
  };
}

async function inProcess(spec: HostSpec) {
  let host: Host;
  try {
    host = await hostEmulators(spec);
  } catch (error) {
    throw error instanceof HostFailure ? startError(error.detail) : error;
  }
  return {
    ...host,
    usage: async () => ({
      rssBytes: process.memoryUsage.rss(),
      heapUsedBytes: process.memoryUsage().heapUsed,
    }),
    stop: () => host.close(),
  };
}

/**
 * Starts SNS + SQS + S3 (fauxqs) and DynamoDB (dynalite) on 127.0.0.1 only, by default in a worker
 * thread (or a child process, or on this event loop: {@link EmbeddedCloudOptions.isolation}), with expired items swept (see
 * {@link EmbeddedCloudOptions.ttlSweep}). No Docker, no AWS account; state lives in memory until
 * `stop()`. A port that is taken rejects with {@link PortInUseError}; missing emulator packages with
 * EmulatorMissingError.
 */
export async function startEmbeddedCloud(options: EmbeddedCloudOptions = {}): Promise<EmbeddedCloud> {
  const spec = hostSpec(options);
  const isolation = options.isolation ?? 'worker';
  const host =
    isolation === 'in-process'
      ? await inProcess(spec)
      : await startIsolatedHost(isolation, spec, options.onExit ?? rethrow);
  const snsSqs = `http://${LOOPBACK}:${host.snsSqsPort}`;
  const dynamodb = `http://${LOOPBACK}:${host.dynamodbPort}`;
  const endpoints = { sns: snsSqs, sqs: snsSqs, dynamodb, s3: snsSqs, region: spec.region };
  return {
    ...endpoints,
    env: sdkEnvironment(endpoints),
    isolation,
    pid: 'pid' in host ? host.pid : process.pid,
    usage: () => host.usage(),
    stop: () => host.stop(),
  };
}
