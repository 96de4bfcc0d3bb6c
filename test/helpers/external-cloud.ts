import { sdkEnvironment } from '../../localstack/emulator/embedded-cloud.ts';
import type { TargetName } from './targets.ts';

const EXTERNAL_TARGETS: readonly TargetName[] = ['moto', 'localstack', 'external'];

/**
 * The cloud a run was pointed at from outside, if any: FANOUT_TEST_ENDPOINT (one URL serving SNS, SQS
 * and DynamoDB), or AWS_ENDPOINT_URL_SNS, _SQS and _DYNAMODB all preset; FANOUT_TEST_TARGET names it.
 * The one place this is decided (global-setup.ts and vitest.config.ts both ask here).
 */
export function externalCloud():
  | { env: Record<string, string>; target: TargetName; description: string }
  | undefined {
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const named = process.env.FANOUT_TEST_TARGET;
  if (named !== undefined && !EXTERNAL_TARGETS.includes(named as TargetName)) {
    throw new Error(
      `FANOUT_TEST_TARGET='${named}' is not a target; use one of ${EXTERNAL_TARGETS.join(', ')} (it names the cloud at FANOUT_TEST_ENDPOINT)`,
    );
  }
  const target = (named ?? 'external') as TargetName;
  const url = process.env.FANOUT_TEST_ENDPOINT;
  const {
    AWS_ENDPOINT_URL_SNS: sns,
    AWS_ENDPOINT_URL_SQS: sqs,
    AWS_ENDPOINT_URL_DYNAMODB: dynamodb,
  } = process.env;
  const endpoints = url
    ? { sns: url, sqs: url, dynamodb: url }
    : sns && sqs && dynamodb
      ? { sns, sqs, dynamodb }
      : undefined;
  if (!endpoints) return undefined;
  const env: Record<string, string> = sdkEnvironment({ ...endpoints, region });
  // Credentials already in the environment win over the emulators' dummy ones.
  if (process.env.AWS_ACCESS_KEY_ID) env.AWS_ACCESS_KEY_ID = process.env.AWS_ACCESS_KEY_ID;
  if (process.env.AWS_SECRET_ACCESS_KEY) env.AWS_SECRET_ACCESS_KEY = process.env.AWS_SECRET_ACCESS_KEY;
  return { env, target, description: `${target} (${url ?? `SNS ${sns}, SQS ${sqs}, DynamoDB ${dynamodb}`})` };
}
