import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FanoutError, TopologyError } from '../../lib/index.ts';

/** Where bundled copies of modules Node cannot import as they are go, under the project root. */
export const BUNDLED_MODULES_DIR = path.join('.fanout', 'modules');

/**
 * The errors of Node's own TypeScript support that a bundler resolves: `import './x.js'` for `x.ts`
 * (ERR_MODULE_NOT_FOUND), syntax type stripping cannot erase such as `enum` (ERR_INVALID_TYPESCRIPT_SYNTAX,
 * ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX), and `.ts` itself on a Node without type stripping
 * (ERR_UNKNOWN_FILE_EXTENSION).
 */
const BUNDLER_RESOLVES = new Set([
  'ERR_MODULE_NOT_FOUND',
  'ERR_INVALID_TYPESCRIPT_SYNTAX',
  'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX',
  'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING',
  'ERR_UNKNOWN_FILE_EXTENSION',
]);

/** A module (a handler, a topology file) that could not be loaded; the message names the file and the fix. */
export class ModuleLoadError extends FanoutError {
  /** The module's absolute path. */
  readonly file: string;

  constructor(file: string, message: string, cause?: unknown) {
    super('FANOUT_MODULE_LOAD', message, { cause });
    this.name = 'ModuleLoadError';
    this.file = file;
  }
}

/** Options of {@link importModule}. */
export interface ImportModuleOptions {
  /**
   * The project the module belongs to: a bundled copy is written under `<projectRoot>/.fanout/modules/`, so
   * that its bare imports resolve from the project's own `node_modules`.
   * @default the module's directory
   */
  readonly projectRoot?: string;
}

/**
 * Imports the module at `file` (absolute) as the project's own build would run it. Node's `import()` first,
 * so that everything Node loads as it is keeps its identity (one instance shared with whoever else imports
 * it); only on the errors of Node's TypeScript support (see above) is the module bundled with esbuild — as
 * the CDK's NodejsFunction bundles a handler: ESM, platform node, `node_modules` left external — and the
 * bundle imported. Any failure is a {@link ModuleLoadError} of one line naming the file and the fix.
 */
export async function importModule(
  file: string,
  options: ImportModuleOptions = {},
): Promise<Record<string, unknown>> {
  try {
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    if (!BUNDLER_RESOLVES.has(errorCode(error))) throw loadError(file, error);
    return importBundled(file, options.projectRoot ?? path.dirname(file), error);
  }
}

async function importBundled(
  file: string,
  projectRoot: string,
  nativeError: unknown,
): Promise<Record<string, unknown>> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new ModuleLoadError(
      file,
      `cannot load ${file}: ${firstLine(nativeError)}; Node cannot run it as it is and esbuild, which would bundle it, is not installed: npm i -D esbuild, or point the handler at compiled JavaScript`,
      nativeError,
    );
  }
  let code: string;
  try {
    const result = await esbuild.build({
      entryPoints: [file],
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node22',
      packages: 'external',
      sourcemap: 'inline',
      write: false,
      logLevel: 'silent',
    });
    code = result.outputFiles[0].text;
  } catch (error) {
    throw buildError(file, error, nativeError);
  }
  const dir = path.join(projectRoot, BUNDLED_MODULES_DIR);
  mkdirSync(dir, { recursive: true });
  const bundled = path.join(dir, `${path.basename(file).replace(/\.[cm]?[jt]sx?$/, '')}-${hash(file)}.mjs`);
  writeFileSync(bundled, code);
  try {
    return (await import(`${pathToFileURL(bundled).href}?t=${Date.now()}`)) as Record<string, unknown>;
  } catch (error) {
    throw loadError(file, error);
  }
}

/** The esbuild failure as one line: the first message with its location, and the fix. */
function buildError(file: string, error: unknown, nativeError: unknown): ModuleLoadError {
  const first = (
    error as { errors?: { text: string; location?: { file: string; line: number; column: number } }[] }
  ).errors?.[0];
  if (!first) return loadError(file, error);
  const where = first.location
    ? `${path.resolve(first.location.file)}:${first.location.line}:${first.location.column + 1}`
    : file;
  const missing = /^Could not resolve "([^"]+)"/.exec(first.text);
  const fix = missing
    ? `fix the import path (a relative import names the file, e.g. './shared.js' for shared.ts), or install the package`
    : 'fix the syntax there';
  return new ModuleLoadError(
    file,
    `cannot load ${file}: ${where}: ${first.text}: ${fix}`,
    new AggregateError([nativeError, error]),
  );
}

/** Any other failure to import `file` (a missing package, a syntax error, a throw at the top level), one line. */
function loadError(file: string, error: unknown): ModuleLoadError {
  const problem = firstLine(error);
  const missing = /^Cannot find package '([^']+)'/.exec(problem);
  const message = missing
    ? `it imports '${missing[1]}', which is not installed: npm i ${missing[1]}, or fix the import`
    : errorCode(error) === 'ERR_MODULE_NOT_FOUND'
      ? `${problem}: fix the import path`
      : error instanceof SyntaxError
        ? `${problem}: fix the syntax error`
        : `it threw while loading: ${problem}: fix the module's top-level code`;
  return new ModuleLoadError(file, `cannot load ${file}: ${message}`, error);
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

function firstLine(error: unknown): string {
  if (error instanceof TopologyError) return `invalid topology: ${error.issues.join('; ')}`;
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0].trim();
}

/** A short, stable name part for `file`, so two modules of one name never share a bundle. */
function hash(file: string): string {
  return createHash('sha256').update(file).digest('hex').slice(0, 10);
}
