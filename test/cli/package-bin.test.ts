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
  try {
    const { stdout, stderr } = await exec(node, [bin, ...args], { cwd: project, env, timeout: 60_000 });
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
      // Logs every module the process resolves, to prove what the bin loads.
      writeFileSync(
        path.join(project, 'log-modules.mjs'),
        `import { appendFileSync } from 'node:fs';\nimport { registerHooks } from 'node:module';\nregisterHooks({ resolve(specifier, context, next) { const r = next(specifier, context); appendFileSync(process.env.MODULE_LOG, r.url + '\\n'); return r; } });\n`,
      );
    }, 180_000);
    afterAll(() => {
      for (const dir of [project, pkg]) if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('the bin is dist/cli/fanout.js, and nothing in dist/cli imports the example topology or the reference app', () => {
      expect(path.relative(pkg, bin)).toBe(path.join('dist', 'cli', 'fanout.js'));
      for (const file of jsFiles(path.join(pkg, 'dist/cli'))) {
        const source = readFileSync(file, 'utf8');
        const imports = [...source.matchAll(/\bimport\s*(?:[^'"()]*?\bfrom\s*)?["']([^"']+)["']/g)].map(
          (m) => m[1],
        );
        expect(
          imports.filter((i) => /infra\/|functions\/|demo\//.test(i)),
          file,
        ).toEqual([]);
      }
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

    it("dev --demo in a project without the example's topics is one line naming --demo, exit 1", async () => {
      const result = await fanout(['dev', '--demo', '--once']);
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
      const fromPackage = loaded.filter((url) => url.startsWith(pathToFileURL(pkg).href));
      expect(fromPackage.filter((url) => /\/(infra|functions|localstack\/demo)\//.test(url))).toEqual([]);
      expect(
        loaded.filter((url) => url.startsWith(pathToFileURL(repo).href) && /\/(infra|functions)\//.test(url)),
      ).toEqual([]);
    }, 60_000);
  },
);
