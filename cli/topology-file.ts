import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TopologyDefinition } from '../lib/index.ts';
import { CliError } from './target.ts';

/** Where `fanout` looks for the topology when `--topology` is not given, relative to the working directory. */
export const DEFAULT_TOPOLOGY_FILE = 'infra/topology.ts';

/**
 * Imports the topology module `file` (relative to `cwd`) and returns its default export. A file that is
 * missing, or has no default export, is a CliError naming the path and the fix.
 */
export async function loadTopologyFile(
  file: string = DEFAULT_TOPOLOGY_FILE,
  cwd: string = process.cwd(),
): Promise<TopologyDefinition> {
  const absolute = path.resolve(cwd, file);
  if (!existsSync(absolute))
    throw new CliError(
      `no topology file at ${absolute}: run fanout in your project's directory (it reads ${DEFAULT_TOPOLOGY_FILE} there), or pass --topology <file>`,
    );
  const module = (await import(pathToFileURL(absolute).href)) as { default?: unknown };
  if (module.default === undefined || module.default === null || typeof module.default !== 'object')
    throw new CliError(
      `${absolute} has no default export: end it with export default defineTopology({ topics: { … }, groups: { … } })`,
    );
  return module.default as TopologyDefinition;
}
