import { execFile } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { target } from '../helpers/targets.ts';

// The `fanout` bin as an installed package runs it: built JavaScript, in a project of its own.
const repo = path.resolve(import.meta.dirname, '../..');
const node = path.join(repo, 'node_modules/.bin/node');
const exec = promisify(execFile);
const PLAIN = { ...process.env, NO_COLOR: '1' };

/** What the build emits, in a directory of this test's own (`npm run build` = this tsc run into dist/). */
let pkg = '';
/** A project that installed fanout: node_modules/fanout → the built package; its own topology and handler. */
let project = '';
let bin = '';

async function fanout(args: string[], env: NodeJS.ProcessEnv = PLAIN) {
  return run(node, [bin, ...args], env);
}

/** Runs `command` in the project; resolves its exit code and output, never rejects. */
async function run(command: string, args: string[], env: NodeJS.ProcessEnv) {
  try {
    const { stdout, stderr } = await exec(command, args, { cwd: project, env, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout: string; stderr: string };
    return { code: e.code ?? 1, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Every .js file under `dir`. */
function jsFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.js'))
    .map((f) => path.join(dir, f));
}

// The build and the project are the same whatever the run's target: they run in the embedded project only.
describe.skipIf(target !== 'embedded')(
  `the fanout bin, built, in another project${target === 'embedded' ? '' : ` (skipped on ${target}: it uses no cloud of the run)`}`,
  () => {
    beforeAll(async () => {
      pkg = mkdtempSync(path.join(tmpdir(), 'fanout-pkg-'));
      cpSync(path.join(repo, 'package.json'), path.join(pkg, 'package.json'));
      symlinkSync(path.join(repo, 'node_modules'), path.join(pkg, 'node_modules'));
      // A failed build fails every test of this file, with tsc's output.
      await exec(
        node,
        [
          path.join(repo, 'node_modules/typescript/bin/tsc'),
          '-p',
          'tsconfig.build.json',
          '--outDir',
          path.join(pkg, 'dist'),
        ],
        { cwd: repo, timeout: 170_000 },
      ).catch((error: { stdout?: string; stderr?: string; message: string }) => {
        throw new Error(`the build failed: ${error.stdout ?? ''}${error.stderr ?? ''}${error.message}`);
      });
      bin = path.join(pkg, JSON.parse(readFileSync(path.join(pkg, 'package.json'), 'utf8')).bin.fanout);

      project = mkdtempSync(path.join(tmpdir(), 'fanout-user-'));
      mkdirSync(path.join(project, 'node_modules'));
      symlinkSync(pkg, path.join(project, 'node_modules/fanout'));
      mkdirSync(path.join(project, 'infra'));
      mkdirSync(path.join(project, 'functions'));
      mkdirSync(path.join(project, 'elsewhere'));
      writeFileSync(
        path.join(project, 'infra/topology.ts'),
        `import { defineTopology } from 'fanout';\nexport default defineTopology({ topics: { invoices: {} }, groups: { mailer: { subscribe: ['invoices'] } } });\n`,
      );
      writeFileSync(
        path.join(project, 'elsewhere/topology.ts'),
        `import { defineTopology } from 'fanout';\nexport default defineTopology({ topics: { shipments: {} }, groups: { tracker: { subscribe: ['shipments'], handler: 'functions/mailer.ts' } } });\n`,
      );
      writeFileSync(
        path.join(project, 'functions/mailer.ts'),
        `import { consumer } from 'fanout';\nexport const handler = consumer({ handle: async () => {} });\n`,
      );
      writeFileSync(path.join(project, 'elsewhere/no-default.ts'), 'export const topology = {};\n');
      // What the project's tsc (nodenext) and esbuild accept, and Node's type stripping does not.
      writeFileSync(
        path.join(project, 'elsewhere/names.ts'),
        "export const topicName: string = 'receipts';\n",
      );
      writeFileSync(
        path.join(project, 'elsewhere/typescript.ts'),
        `import { defineTopology } from 'fanout';\nimport { topicName } from './names.js';\nenum Batch { Size = 5 }\nexport default defineTopology({ topics: { [topicName]: {} }, groups: { mailer: { subscribe: [topicName], batchSize: Batch.Size } } });\n`,
      );
      // Modules that do not load, each for another reason.
      const broken = {
        'syntax.ts': 'export default { topics: {\n',
        'missing-package.ts': "import { thing } from 'not-installed-anywhere';\nexport default thing;\n",
        'missing-file.ts': "import { thing } from './nope.js';\nexport default thing;\n",
        'not-topology.ts': 'export default { nope: 1 };\n',
        'invalid.ts': `import { defineTopology } from 'fanout';\nexport default defineTopology({ topics: { a: {} }, groups: { g: { subscribe: ['b'] } } });\n`,
        'throws.ts':
          "export default { topics: { t: {} }, groups: { g: { subscribe: ['t'], handler: 'functions/throws.ts' } } };\n",
        'no-handler.ts':
          "export default { topics: { t: {} }, groups: { g: { subscribe: ['t'], handler: 'functions/no-handler.ts' } } };\n",
        'absent-handler.ts':
          "export default { topics: { t: {} }, groups: { g: { subscribe: ['t'], handler: 'functions/absent.ts' } } };\n",
        'enum-handler.ts':
          "export default { topics: { t: {} }, groups: { g: { subscribe: ['t'], handler: 'functions/enum.ts' } } };\n",
      };
      mkdirSync(path.join(project, 'broken'));
      for (const [file, text] of Object.entries(broken))
        writeFileSync(path.join(project, 'broken', file), text);
      writeFileSync(path.join(project, 'functions/throws.ts'), "throw new Error('MAILER_KEY is not set');\n");
      writeFileSync(path.join(project, 'functions/no-handler.ts'), 'export const other = 1;\n');
      writeFileSync(
        path.join(project, 'functions/enum.ts'),
        'enum Kind { Mail }\nexport const handler = async () => ({ batchItemFailures: [], kind: Kind.Mail });\n',
      );
      // Logs every module the process resolves, to prove what the bin loads.
      writeFileSync(
        path.join(project, 'log-modules.mjs'),
        `import { appendFileSync } from 'node:fs';\nimport { registerHooks } from 'node:module';\nregisterHooks({ resolve(specifier, context, next) { const r = next(specifier, context); appendFileSync(process.env.MODULE_LOG, r.url + '\\n'); return r; } });\n`,
      );
    }, 180_000);
    afterAll(() => {
      for (const dir of [project, pkg]) if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('the bin is dist/cli/fanout.js; the package ships neither the reference app nor its demo, and nothing in dist imports them', () => {
      expect(path.relative(pkg, bin)).toBe(path.join('dist', 'cli', 'fanout.js'));
      const shipped = jsFiles(path.join(pkg, 'dist')).map((f) => path.relative(pkg, f));
      expect(shipped.filter((f) => /^dist\/(functions|cli\/demo)\//.test(f))).toEqual([]);
      expect(shipped.filter((f) => /^dist\/infra\/(?!constructs\/)/.test(f))).toEqual([]);
      for (const file of jsFiles(path.join(pkg, 'dist'))) {
        const source = readFileSync(file, 'utf8');
        // Static imports and re-exports (`import … from 'x'`, `export … from 'x'`, `import 'x'`) and dynamic ones.
        const imports = [
          ...source.matchAll(/\b(?:import|export)\s*(?:[^'"()]*?\bfrom\s*)?["']([^"']+)["']/g),
          ...source.matchAll(/\bimport\s*\(\s*["'`]([^"'`]+)["'`]/g),
        ].map((m) => m[1]);
        expect(
          imports.filter((i) => /(^|\/)(functions|demo)\/|infra\/(?!constructs\/)/.test(i)),
          file,
        ).toEqual([]);
      }
    });

    it('--demo outside the repository is one line saying the demo comes with a clone', async () => {
      const result = await fanout(['dev', '--demo', '--once']);
      expect(result.code).toBe(1);
      expect(result.stderr.trim().split('\n')).toEqual([
        "fanout: --demo runs the reference app's demo, which comes with a clone of the fanout repository, not with the installed package: run fanout dev without --demo, and publish with fanout publish",
      ]);
    });

    it('--help works from another directory', async () => {
      const result = await fanout(['--help']);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^Usage: fanout /);
      expect(result.stdout).toContain('--topology <file>');
    });

    it("topology shows that project's topology (default infra/topology.ts, or --topology), never fanout's example", async () => {
      const byDefault = await fanout(['topology']);
      expect(byDefault.code, byDefault.stderr).toBe(0);
      expect(byDefault.stdout).toMatch(/^invoices\n└─ mailer {2}batch 10/);
      const given = await fanout(['topology', '--topology', 'elsewhere/topology.ts']);
      expect(given.code, given.stderr).toBe(0);
      expect(given.stdout).toMatch(/^shipments\n└─ tracker {2}batch 10/);
      for (const out of [byDefault.stdout, given.stdout]) expect(out).not.toMatch(/orders|notifications/);
    });

    it('a missing topology file, or one without a default export, is one line naming the path and the fix', async () => {
      const missing = await fanout(['topology', '--topology', 'nope.ts']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe(
        `fanout: no topology file at ${path.join(project, 'nope.ts')}: run fanout in your project's directory (it reads infra/topology.ts there), or pass --topology <file>\n`,
      );
      const noDefault = await fanout(['--topology', 'elsewhere/no-default.ts', 'status']);
      expect(noDefault.code).toBe(1);
      expect(noDefault.stderr).toBe(
        `fanout: ${path.join(project, 'elsewhere/no-default.ts')} has no default export: end it with export default defineTopology({ topics: { … }, groups: { … } })\n`,
      );
    });

    it('loads a topology that imports ./names.js (names.ts) and declares an enum, as tsc and esbuild do', async () => {
      const result = await fanout(['topology', '--topology', 'elsewhere/typescript.ts']);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^receipts\n└─ mailer {2}batch 5,/);
    });

    it('a topology that does not load or is not a topology is one line naming the file and the fix, exit 1, before any cloud starts', async () => {
      const file = (name: string) => path.join(project, 'broken', name);
      const cases: [string, string][] = [
        [
          'syntax.ts',
          `cannot load ${file('syntax.ts')}: ${file('syntax.ts')}:2:1: Expected identifier but found end of file: fix the syntax there`,
        ],
        [
          'missing-package.ts',
          `cannot load ${file('missing-package.ts')}: it imports 'not-installed-anywhere', which is not installed: npm i not-installed-anywhere, or fix the import`,
        ],
        [
          'missing-file.ts',
          `cannot load ${file('missing-file.ts')}: ${file('missing-file.ts')}:1:23: Could not resolve "./nope.js": fix the import path (a relative import names the file, e.g. './shared.js' for shared.ts), or install the package`,
        ],
        [
          'not-topology.ts',
          `invalid topology (${file('not-topology.ts')}): the topology needs 'topics' and 'groups' objects: defineTopology({ topics: {…}, groups: {…} })`,
        ],
        [
          'invalid.ts',
          `invalid topology (${file('invalid.ts')}): group 'g': subscribes to unknown topic 'b' (topics: a)`,
        ],
        [
          'absent-handler.ts',
          `invalid topology (${file('absent-handler.ts')}): group 'g': handler functions/absent.ts does not exist (looked for ${path.join(project, 'functions/absent.ts')}); create it exporting handler = consumer({ … }), or set handler to an existing module`,
        ],
      ];
      for (const [name, message] of cases) {
        const result = await fanout(['--topology', `broken/${name}`, 'dev', '--once']);
        expect(result.code, name).toBe(1);
        expect(result.stderr, name).toBe(`fanout: ${message}\n`);
        expect(result.stdout, name).toBe('');
      }
    }, 60_000);

    it('a handler that throws at import, or exports no handler, is one line naming the file and the fix, exit 1', async () => {
      const throws = await fanout(['--topology', 'broken/throws.ts', 'dev', '--once']);
      expect(throws.code).toBe(1);
      expect(throws.stderr).toBe(
        `fanout: cannot load ${path.join(project, 'functions/throws.ts')}: it threw while loading: MAILER_KEY is not set: fix the module's top-level code\n`,
      );
      const noHandler = await fanout(['--topology', 'broken/no-handler.ts', 'dev', '--once']);
      expect(noHandler.code).toBe(1);
      expect(noHandler.stderr).toBe(
        `fanout: group 'g': ${path.join(project, 'functions/no-handler.ts')} does not export a handler function: add export const handler = consumer({ … })\n`,
      );
    }, 60_000);

    it('dev --once runs a handler with an enum (bundled with esbuild under .fanout/modules)', async () => {
      const result = await fanout(['--topology', 'broken/enum-handler.ts', 'dev', '--once']);
      expect(result.code, result.stderr).toBe(0);
      expect(readdirSync(path.join(project, '.fanout/modules')).some((f) => /^enum-\w+\.mjs$/.test(f))).toBe(
        true,
      );
    }, 60_000);

    it('without esbuild installed, a module Node cannot load is one line naming it, the error and the fix', async () => {
      // The same build, beside a node_modules that has everything but esbuild.
      const bare = mkdtempSync(path.join(tmpdir(), 'fanout-pkg-bare-'));
      try {
        cpSync(path.join(pkg, 'dist'), path.join(bare, 'dist'), { recursive: true });
        cpSync(path.join(pkg, 'package.json'), path.join(bare, 'package.json'));
        mkdirSync(path.join(bare, 'node_modules'));
        for (const entry of readdirSync(path.join(repo, 'node_modules')))
          if (entry !== 'esbuild' && entry !== '@esbuild' && entry !== '.bin')
            symlinkSync(path.join(repo, 'node_modules', entry), path.join(bare, 'node_modules', entry));
        const result = await exec(
          node,
          [path.join(bare, 'dist/cli/fanout.js'), '--topology', 'elsewhere/typescript.ts', 'topology'],
          {
            cwd: project,
            env: PLAIN,
          },
        ).then(
          () => ({ code: 0, stderr: '' }),
          (error: { code: number; stderr: string }) => error,
        );
        expect(result.code).toBe(1);
        expect(result.stderr).toBe(
          `fanout: cannot load ${path.join(project, 'elsewhere/typescript.ts')}: TypeScript enum is not supported in strip-only mode; Node cannot run it as it is and esbuild, which would bundle it, is not installed: npm i -D esbuild, or point the handler at compiled JavaScript\n`,
        );
      } finally {
        rmSync(bare, { recursive: true, force: true });
      }
    }, 60_000);

    it('bench is not a command outside the fanout repository; the hint to start the local cloud is npx fanout dev', async () => {
      const help = await fanout(['--help']);
      expect(help.stdout).not.toMatch(/\bbench\b/);
      const bench = await fanout(['bench']);
      expect(bench.code).toBe(1);
      expect(bench.stderr).toMatch(/^error: unknown command 'bench'/);
      const unreachable = await fanout(['status', '--endpoint', 'http://127.0.0.1:9']);
      expect(unreachable.code).toBe(1);
      expect(unreachable.stderr).toMatch(
        /^fanout: cannot reach SNS at http:\/\/127\.0\.0\.1:9 \(.*\): start the local cloud with 'npx fanout dev', or pass --endpoint URL or --stack NAME\n$/,
      );
    });

    it("dev --demo of the repository's CLI on a topology without the example's topics is one line naming --demo, exit 1", async () => {
      // The demo comes with the repository only: its CLI (cli/fanout.ts), run in this project.
      const result = await run(node, [path.join(repo, 'cli/fanout.ts'), 'dev', '--demo', '--once'], PLAIN);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        "fanout: --demo publishes the reference app's demo to its topics orders, payments, ledger.fifo, and this topology lacks orders, payments, ledger.fifo: leave --demo out to run your own topology\n",
      );
    }, 60_000);

    it("dev --once runs that project's topology and handler, and loads none of fanout's example or demo", async () => {
      const log = path.join(project, 'modules.log');
      const result = await fanout(['dev', '--once'], {
        ...PLAIN,
        NODE_OPTIONS: `--import ${pathToFileURL(path.join(project, 'log-modules.mjs')).href}`,
        MODULE_LOG: log,
      });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('  topics     invoices\n');
      expect(result.stdout).toContain('  groups     mailer\n');
      expect(result.stdout).not.toMatch(/demo|checks/i);
      const loaded = readFileSync(log, 'utf8').split('\n');
      expect(loaded).toContain(pathToFileURL(path.join(project, 'functions/mailer.ts')).href);
      expect(loaded).toContain(pathToFileURL(path.join(pkg, 'dist/cli/dev.js')).href);
      // fanout's own files only: a dependency's folders (node_modules/semver/functions/…) are not the example.
      const own = loaded.filter((url) => !url.includes('/node_modules/'));
      const fromPackage = own.filter((url) => url.startsWith(pathToFileURL(pkg).href));
      expect(fromPackage.filter((url) => /\/(infra|functions|localstack\/demo)\//.test(url))).toEqual([]);
      const exampleFolders = ['infra', 'functions'].map((f) => pathToFileURL(path.join(repo, f)).href);
      expect(own.filter((url) => exampleFolders.some((folder) => url.startsWith(`${folder}/`)))).toEqual([]);
    }, 60_000);
  },
);
