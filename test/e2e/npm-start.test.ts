import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const projectRoot = path.resolve(import.meta.dirname, '../..');

describe('npm start -- --once (the README command)', () => {
  it('runs the demo on the embedded emulator and exits 0 with every check held', async () => {
    const { stdout } = await run('node', ['cli/fanout.ts', 'dev', '--once'], {
      cwd: projectRoot,
      timeout: 120_000,
    });
    expect(stdout).toContain('Every check held');
    expect(stdout).toMatch(/│ ledger +│ 15 +│ 15 +│ 0 +│ 0 +│/);
    expect(stdout).not.toContain('FAIL');
  }, 150_000);
});
