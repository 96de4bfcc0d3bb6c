import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const projectRoot = path.resolve(import.meta.dirname, '../..');

describe('cdk synth', () => {
  it('synthesizes the stack offline: no AWS credentials, no Docker, cdk-nag clean', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'fanout-synth-'));
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };
    const { stderr } = await run('npx', ['cdk', 'synth', '--quiet', '--no-notices', '--output', out], {
      cwd: projectRoot,
      env: { ...env, CDK_DISABLE_CLI_TELEMETRY: 'true', AWS_EC2_METADATA_DISABLED: 'true' },
      timeout: 120_000,
    });
    expect(stderr).not.toMatch(/docker/i);
    expect(stderr).not.toMatch(/AwsSolutions-/);
    const template = JSON.parse(readFileSync(path.join(out, 'Fanout.template.json'), 'utf8'));
    const functions = Object.values(template.Resources as Record<string, { Type: string }>).filter(
      (r) => r.Type === 'AWS::Lambda::Function',
    );
    expect(functions).toHaveLength(4);
  }, 180_000);
});
