import type { TestProject } from 'vitest/node';
import { sdkEnvironment, startEmbeddedCloud } from '../../localstack/embedded-cloud.ts';
import type { TargetName } from './targets.ts';

/**
 * The cloud of the test run. With FANOUT_TEST_ENDPOINT (one URL serving SNS, SQS and DynamoDB, as moto
 * and LocalStack do), or with AWS_ENDPOINT_URL_SNS, _SQS and _DYNAMODB all preset, every suite runs
 * against that cloud (FANOUT_TEST_TARGET names it: moto, localstack; default external). Otherwise one
 * embedded cloud is started for the whole run. Test files name their resources uniquely (see
 * setup-env.ts), so repeated runs against one server do not collide.
 */
export default async function setup(project: TestProject) {
  const external = externalCloud();
  if (external) {
    project.provide('cloudEnv', external.env);
    project.provide('target', external.target);
    console.info(`tests run against ${external.description}`);
    return;
  }
  const cloud = await startEmbeddedCloud();
  project.provide('cloudEnv', { ...cloud.env });
  project.provide('target', 'embedded');
  return () => cloud.stop();
}

function externalCloud():
  | { env: Record<string, string>; target: TargetName; description: string }
  | undefined {
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const named = process.env.FANOUT_TEST_TARGET as TargetName | undefined;
  const target: TargetName = named && ['moto', 'localstack', 'external'].includes(named) ? named : 'external';
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
