import type { AddressInfo } from 'node:net';
import { FanoutError } from '../../lib/index.ts';

/** The only interface the embedded cloud listens on: it is reachable from this machine alone. */
export const LOOPBACK = '127.0.0.1';

/** A port the embedded cloud was asked to use is taken (another `npm start`, LocalStack, moto…). */
export class PortInUseError extends Error {
  readonly port: number;
  readonly service: string;

  constructor(port: number, service: string) {
    super(`port ${port} (${service}) on ${LOOPBACK} is already in use`);
    this.name = 'PortInUseError';
    this.port = port;
    this.service = service;
  }
}

const inUse = (error: unknown, port: number, service: string) =>
  (error as NodeJS.ErrnoException)?.code === 'EADDRINUSE' ? new PortInUseError(port, service) : error;

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

/** The emulator packages are optional peer dependencies of fanout: a project installs them to run locally. */
export class EmulatorMissingError extends FanoutError {
  constructor(missing: readonly string[], cause: unknown) {
    super(
      'FANOUT_EMULATOR_MISSING',
      `The embedded cloud needs ${missing.join(' and ')}, which ${missing.length > 1 ? 'are' : 'is'} not installed. Run: npm install --save-dev ${missing.join(' ')} (Node >= 22.5)`,
      { cause },
    );
  }
}

async function loadEmulators() {
  const [fauxqs, dynalite] = await Promise.allSettled([import('fauxqs'), import('dynalite')]);
  const missing = [
    fauxqs.status === 'rejected' ? 'fauxqs' : '',
    dynalite.status === 'rejected' ? 'dynalite' : '',
  ];
  if (fauxqs.status === 'rejected' || dynalite.status === 'rejected') {
    const cause = fauxqs.status === 'rejected' ? fauxqs.reason : (dynalite as PromiseRejectedResult).reason;
    throw new EmulatorMissingError(
      missing.filter((name) => name),
      cause,
    );
  }
  return { buildApp: fauxqs.value.buildApp, dynalite: dynalite.value.default };
}

/**
 * Starts SNS + SQS (fauxqs) and DynamoDB (dynalite) in this process, on 127.0.0.1 only (fauxqs'
 * `startFauxqs` always binds every interface, so its app is started here on the loopback address).
 * No Docker, no AWS account; state lives in memory until `stop()`. A port that is taken rejects with
 * {@link PortInUseError}.
 */
export async function startEmbeddedCloud(options: EmbeddedCloudOptions = {}): Promise<EmbeddedCloud> {
  const region = options.region ?? 'us-east-1';
  const snsSqsPort = options.snsSqsPort ?? 0;
  const dynamodbPort = options.dynamodbPort ?? 0;
  const { buildApp, dynalite } = await loadEmulators();
  const fauxqs = buildApp({ logger: false, defaultRegion: region });
  try {
    await fauxqs.listen({ port: snsSqsPort, host: LOOPBACK });
  } catch (error) {
    await fauxqs.close();
    throw inUse(error, snsSqsPort, 'SNS + SQS');
  }
  const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  try {
    await new Promise<void>((resolve, reject) => {
      dynamo.once('error', reject);
      dynamo.listen(dynamodbPort, LOOPBACK, () => resolve());
    });
  } catch (error) {
    await fauxqs.close();
    throw inUse(error, dynamodbPort, 'DynamoDB');
  }
  const snsSqs = `http://${LOOPBACK}:${(fauxqs.server.address() as AddressInfo).port}`;
  const dynamodb = `http://${LOOPBACK}:${(dynamo.address() as AddressInfo).port}`;
  const endpoints = { sns: snsSqs, sqs: snsSqs, dynamodb, s3: snsSqs, region };
  return {
    ...endpoints,
    env: sdkEnvironment(endpoints),
    async stop() {
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
