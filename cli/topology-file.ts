import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { resolveTopology, type TopologyDefinition, TopologyError } from '../lib/index.ts';
import { importModule, ModuleLoadError } from '../localstack/index.ts';
import { CliError } from './target.ts';

/** Where `fanout` looks for the topology when `--topology` is not given, relative to the working directory. */
export const DEFAULT_TOPOLOGY_FILE = 'infra/topology.ts';

/**
 * Imports the topology module `file` (relative to `cwd`; as the project's build would, see importModule) and
 * returns its default export, checked with resolveTopology (and `resolve`, e.g. a handler-file check) before
 * anything starts. A file that is missing, does not load, has no default export, or whose default export is
 * not a valid topology is a CliError of one line naming the path and the fix.
 */
export async function loadTopologyFile(
  file: string = DEFAULT_TOPOLOGY_FILE,
  cwd: string = process.cwd(),
  resolve: Parameters<typeof resolveTopology>[1] = {},
): Promise<TopologyDefinition> {
  const absolute = path.resolve(cwd, file);
  if (!existsSync(absolute))
    throw new CliError(
      `no topology file at ${absolute}: run fanout in your project's directory (it reads ${DEFAULT_TOPOLOGY_FILE} there), or pass --topology <file>`,
    );
  const module = await importModule(absolute, { projectRoot: cwd }).catch((error: unknown) => {
    // defineTopology validates as the module loads: its TopologyError, with this file's path.
    if (error instanceof ModuleLoadError && error.cause instanceof TopologyError)
      throw invalidTopology(absolute, error.cause);
    throw error;
  });
  if (module.default === undefined || module.default === null || typeof module.default !== 'object')
    throw new CliError(
      `${absolute} has no default export: end it with export default defineTopology({ topics: { … }, groups: { … } })`,
    );
  const definition = module.default as TopologyDefinition;
  try {
    resolveTopology(definition, resolve);
  } catch (error) {
    throw error instanceof TopologyError ? invalidTopology(absolute, error) : error;
  }
  return definition;
}

/** A TopologyError as one line naming the topology file (TopologyError's own message names infra/topology.ts). */
export function invalidTopology(file: string, error: TopologyError): CliError {
  return new CliError(`invalid topology (${file}): ${error.issues.join('; ')}`);
}
