/**
 * The crash suite's runner process: runs every group of a topology against the endpoints already in the
 * environment (AWS_ENDPOINT_URL…: the test run's cloud), with the example's effects table, until
 * SIGTERM/SIGINT. `node test/chaos/crash-runner.ts [topology module] [--demo-faults]` (default:
 * infra/topology.ts; handler paths resolve against the working directory). `--demo-faults` wraps every
 * handler with the demo's fault injection (`failuresBeforeSuccess`, `workMs`, FANOUT_DEMO_OUTAGE).
 * The crash tests SIGKILL it mid-batch and start it again.
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { withDemoFaults } from '../../cli/demo/demo-faults.ts';
import { exampleLocalSetup } from '../../cli/demo/example-setup.ts';
import type { TopologyDefinition } from '../../lib/index.ts';
import { startLocalStack } from '../../localstack/index.ts';

const args = process.argv.slice(2);
const demoFaults = args.includes('--demo-faults');
const projectRoot = process.cwd();
const modulePath = path.resolve(args.find((a) => !a.startsWith('--')) ?? 'infra/topology.ts');
const topology = (await import(pathToFileURL(modulePath).href)).default as TopologyDefinition;
const stack = await startLocalStack({
  topology,
  projectRoot,
  embedded: false,
  waitTimeSeconds: 0,
  wrapHandler: demoFaults ? withDemoFaults : undefined,
  setup: exampleLocalSetup,
});
process.stdout.write(`running ${[...stack.runners.keys()].join(', ')}\n`);
await new Promise<void>((resolve) => {
  process.once('SIGTERM', resolve);
  process.once('SIGINT', resolve);
});
await stack.stop();
