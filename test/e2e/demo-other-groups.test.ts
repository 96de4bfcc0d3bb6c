import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { target } from '../helpers/targets.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const exec = promisify(execFile);
const GROUPS = ['notifications', 'spreadsheets', 'audit', 'ledger'];

// The demo starts an embedded cloud of its own whatever the run's target: this runs in the embedded project only.
describe.skipIf(target !== 'embedded')(
  `the demo with a group it does not know${target === 'embedded' ? '' : ` (skipped on ${target}: it starts an embedded cloud of its own)`}`,
  () => {
    /** A project: the example topology plus `billing` on `orders`, with its own handler; functions/ is the example's. */
    let project = '';
    beforeAll(() => {
      project = mkdtempSync(path.join(tmpdir(), 'fanout-demo-'));
      const lib = pathToFileURL(path.join(repo, 'lib/index.ts')).href;
      mkdirSync(path.join(project, 'infra'));
      mkdirSync(path.join(project, 'billing'));
      symlinkSync(path.join(repo, 'functions'), path.join(project, 'functions'));
      const example = readFileSync(path.join(repo, 'infra/topology.ts'), 'utf8');
      const withBilling = example
        .replace("from '../lib/index.ts'", `from '${lib}'`)
        .replace(
          /\n {2}},\n}\);\n$/,
          "\n    billing: { subscribe: ['orders'], handler: 'billing/handler.ts' },\n  },\n});\n",
        );
      expect(withBilling, 'the copy of infra/topology.ts gained the billing group').toContain(
        "billing: { subscribe: ['orders']",
      );
      writeFileSync(path.join(project, 'infra/topology.ts'), withBilling);
      // Takes any event; the demo's non-JSON message is poison to it, as to every group on orders.
      writeFileSync(
        path.join(project, 'billing/handler.ts'),
        `import { consumer } from '${lib}';\nexport const handler = consumer({ handle: async () => {} });\n`,
      );
    });
    afterAll(() => {
      if (project) rmSync(project, { recursive: true, force: true });
    });

    it('judges only the example groups and reports the added one (applied, DLQ by reason): exit 0', async () => {
      const { stdout, stderr } = await exec(
        'node',
        [
          path.join(repo, 'cli/fanout.ts'),
          '--json',
          'dev',
          '--demo',
          '--once',
          '--topology',
          path.join(project, 'infra/topology.ts'),
          '--project-root',
          project,
        ],
        { cwd: repo, env: { ...process.env, NO_COLOR: '1' }, timeout: 150_000 },
      ); // rejects (with the output) on a non-zero exit
      const checks = JSON.parse(stdout);
      expect(checks, stderr).toMatchObject({ kind: 'checks', ok: true, settled: true });
      expect(checks.groups.map((g: { group: string }) => g.group)).toEqual(GROUPS);
      expect(checks.otherGroups).toEqual([
        {
          group: 'billing',
          // 20 orders placed, 4 cancelled, one invalid; the duplicate publish is skipped, not applied.
          processed: 25,
          retried: expect.any(Number),
          deadLetters: 1,
          deadReasons: { 'unparseable-body': 1 },
          drained: true,
        },
      ]);
      expect(stderr).toContain('Groups the demo does not know (reported, not judged):');
      expect(stderr).toMatch(/│ billing +│ 25 +│ \d+ +│ 1 +│ unparseable-body 1 +│ yes +│/);
      expect(stderr).toContain('Every check held');
    }, 160_000);
  },
);
