import { inject } from 'vitest';
import { startEmbeddedCloud } from '../../localstack/emulator/embedded-cloud.ts';
import { target } from './targets.ts';

/**
 * A cloud for a test file that wants one of its own (its handler modules and their clients load once per
 * process): a fresh embedded cloud on the embedded target, the run's cloud on any other target (its
 * resources are kept apart by the file's FANOUT_RESOURCE_PREFIX). Sets the SDK variables.
 */
export async function startTestCloud(): Promise<{ stop(): Promise<void> }> {
  if (target !== 'embedded') {
    Object.assign(process.env, inject('cloudEnv'));
    return { stop: async () => {} };
  }
  const cloud = await startEmbeddedCloud();
  Object.assign(process.env, cloud.env);
  return cloud;
}
