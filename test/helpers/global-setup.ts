import type { TestProject } from 'vitest/node';
import { startEmbeddedCloud } from '../../localstack/embedded-cloud.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    cloudEnv: Record<string, string>;
  }
}

/** Starts one embedded cloud for the whole test run; every test file points its SDK clients at it. */
export default async function setup(project: TestProject) {
  const cloud = await startEmbeddedCloud();
  project.provide('cloudEnv', { ...cloud.env });
  return () => cloud.stop();
}
