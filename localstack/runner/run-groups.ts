/**
 * Runs every group of a topology against the endpoints already in the environment
 * (AWS_ENDPOINT_URL…: a running embedded cloud or LocalStack), until SIGTERM/SIGINT.
 * `node localstack/runner/run-groups.ts [topology module]` (default: infra/topology.ts).
 * The crash tests SIGKILL it mid-batch and start it again.
 */
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { TopologyDefinition } from '../../lib/index.ts';
import { startLocalStack } from '../local-stack.ts';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const modulePath = path.resolve(process.argv[2] ?? path.join(projectRoot, 'infra/topology.ts'));
const topology = (await import(pathToFileURL(modulePath).href)).default as TopologyDefinition;
const stack = await startLocalStack({ topology, projectRoot, embedded: false, waitTimeSeconds: 0 });
process.stdout.write(`running ${[...stack.runners.keys()].join(', ')}\n`);
await new Promise<void>((resolve) => {
  process.once('SIGTERM', resolve);
  process.once('SIGINT', resolve);
});
await stack.stop();
