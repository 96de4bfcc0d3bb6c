import type { TestProject } from 'vitest/node';
import { startEmbeddedCloud } from '../../localstack/emulator/embedded-cloud.ts';
import { externalCloud } from './external-cloud.ts';

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
