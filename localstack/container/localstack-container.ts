import { LocalstackContainer, type StartedLocalStackContainer } from '@testcontainers/localstack';
import { getContainerRuntimeClient } from 'testcontainers';
import { type CloudEndpoints, sdkEnvironment } from '../emulator/embedded-cloud.ts';

/**
 * The free LocalStack image the suites and `localstack/container/docker-compose.yml` use by default. Pinned:
 * LocalStack's behaviour changes between releases and a test target must not move under us. Since
 * March 2026 the images after 4.14 need a `LOCALSTACK_AUTH_TOKEN` (the free Community image was
 * retired); this one runs without.
 */
export const DEFAULT_LOCALSTACK_IMAGE = 'localstack/localstack:4.9.2';

/** The image to run: `FANOUT_LOCALSTACK_IMAGE` when set (e.g. a newer, token-gated one), else the default. */
export function localstackImage(): string {
  return process.env.FANOUT_LOCALSTACK_IMAGE || DEFAULT_LOCALSTACK_IMAGE;
}

/** The container's environment: services, region, and `LOCALSTACK_AUTH_TOKEN` passed on when set. */
export function localstackEnvironment(region: string): Record<string, string> {
  return {
    SERVICES: 'sns,sqs,dynamodb,lambda,cloudformation,iam,sts,ssm,s3,kms,logs,cloudwatch,events,ecr',
    AWS_DEFAULT_REGION: region,
    ...(process.env.LOCALSTACK_AUTH_TOKEN
      ? { LOCALSTACK_AUTH_TOKEN: process.env.LOCALSTACK_AUTH_TOKEN }
      : {}),
  };
}

/** Whether a container runtime answers, and if not, why (for the skip notice). */
export async function dockerAvailability(): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    await getContainerRuntimeClient();
    return { ok: true };
  } catch (error) {
    const detail = (error as Error).message.split('\n')[0];
    return {
      ok: false,
      reason: `no Docker engine here (${detail}); install Docker to run the LocalStack suites`,
    };
  }
}

/** A running LocalStack container and the SDK variables that reach it. */
export interface LocalStackContainer extends CloudEndpoints {
  readonly container: StartedLocalStackContainer;
  stop(): Promise<void>;
}

/** Starts LocalStack (SNS, SQS, DynamoDB, Lambda, CloudFormation…) with testcontainers. */
export async function startLocalStackContainer(region = 'us-east-1'): Promise<LocalStackContainer> {
  const container = await new LocalstackContainer(localstackImage())
    .withEnvironment(localstackEnvironment(region))
    .start();
  const uri = container.getConnectionUri();
  const endpoints = { sns: uri, sqs: uri, dynamodb: uri, region };
  return {
    ...endpoints,
    env: { ...sdkEnvironment(endpoints), AWS_ENDPOINT_URL: uri },
    container,
    stop: async () => {
      await container.stop();
    },
  };
}
