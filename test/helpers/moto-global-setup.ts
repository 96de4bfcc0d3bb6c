import type { TestProject } from 'vitest/node';
import { startMotoServer } from '../../localstack/emulator/moto-server.ts';

/** The moto project's cloud: one `moto_server` on a free loopback port for the whole run. */
export default async function setup(project: TestProject) {
  const moto = await startMotoServer();
  project.provide('cloudEnv', { ...moto.env });
  project.provide('target', 'moto');
  return () => moto.stop();
}
