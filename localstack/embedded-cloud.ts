import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import { startFauxqs } from 'fauxqs';

/** Where the local cloud's services listen, and the SDK variables that point clients at them. */
export interface CloudEndpoints {
  readonly sns: string;
  readonly sqs: string;
  readonly dynamodb: string;
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
export function sdkEnvironment(endpoints: { sns: string; sqs: string; dynamodb: string; region: string }) {
  return {
    AWS_ENDPOINT_URL_SNS: endpoints.sns,
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_REGION: endpoints.region,
    AWS_DEFAULT_REGION: endpoints.region,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
  };
}

/**
 * Starts SNS + SQS (fauxqs) and DynamoDB (dynalite) in this process, on loopback ports.
 * No Docker, no AWS account; state lives in memory until `stop()`.
 */
export async function startEmbeddedCloud(options: EmbeddedCloudOptions = {}): Promise<EmbeddedCloud> {
  const region = options.region ?? 'us-east-1';
  const fauxqs = await startFauxqs({ port: options.snsSqsPort ?? 0, logger: false, defaultRegion: region });
  const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  try {
    await new Promise<void>((resolve, reject) => {
      dynamo.once('error', reject);
      dynamo.listen(options.dynamodbPort ?? 0, '127.0.0.1', () => resolve());
    });
  } catch (error) {
    await fauxqs.stop();
    throw error;
  }
  const snsSqs = `http://127.0.0.1:${fauxqs.port}`;
  const dynamodb = `http://127.0.0.1:${(dynamo.address() as AddressInfo).port}`;
  const endpoints = { sns: snsSqs, sqs: snsSqs, dynamodb, region };
  return {
    ...endpoints,
    env: sdkEnvironment(endpoints),
    async stop() {
      await Promise.all([
        fauxqs.stop(),
        new Promise<void>((resolve) => {
          dynamo.closeAllConnections?.();
          dynamo.close(() => resolve());
        }),
      ]);
    },
  };
}
