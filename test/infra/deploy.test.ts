import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deployHint } from '../../infra/deploy.ts';

const projectRoot = path.resolve(import.meta.dirname, '../..');

describe('npm run deploy (infra/deploy.ts)', () => {
  it.each([
    [
      'no account',
      'Unable to resolve AWS account to use. It must be either configured when you define your CDK Stack, or through the environment',
      'AWS_PROFILE',
    ],
    [
      'an expired token',
      'ExpiredToken: The security token included in the request is expired',
      'AWS_PROFILE',
    ],
    [
      'no bootstrap stack',
      "Fanout: SSM parameter /cdk-bootstrap/hnb659fds/version not found. Has the environment been bootstrapped? Please run 'cdk bootstrap'",
      'npx cdk bootstrap',
    ],
    [
      'no credentials, in output that also mentions bootstrapping',
      'Unable to resolve AWS account to use while checking the bootstrap stack version (cdk bootstrap)',
      'AWS_PROFILE',
    ],
    [
      'a toolkit stack missing for assets',
      'This stack uses assets, so the toolkit stack must be deployed to the environment (Run "cdk bootstrap aws://123456789012/eu-west-1")',
      'npx cdk bootstrap',
    ],
  ])('hints what to do after a failure for %s', (_name, output, fix) => {
    expect(deployHint(output)).toContain(fix);
  });

  it('adds no hint to other failures', () => {
    expect(
      deployHint('Resource handler returned message: "Invalid request provided: Queue already exists"'),
    ).toBeUndefined();
  });

  it('ends a real deploy without credentials with the hint, and keeps the CLI’s exit status', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'fanout-deploy-home-')); // no ~/.aws here
    const out = mkdtempSync(path.join(tmpdir(), 'fanout-deploy-out-'));
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [
          'infra/deploy.ts',
          '--app',
          'node test/infra/fixtures/tiny-app.ts',
          '--require-approval',
          'never',
          '--output',
          out,
        ],
        {
          cwd: projectRoot,
          timeout: 120_000,
          env: {
            PATH: process.env.PATH ?? '',
            HOME: home,
            AWS_EC2_METADATA_DISABLED: 'true',
            CDK_DISABLE_CLI_TELEMETRY: 'true',
          },
        },
        (error, _stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stderr }),
      );
    });
    expect(result.code).toBe(1);
    const lines = result.stderr
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('npm '));
    expect(lines.at(-1)).toMatch(/^fanout: no usable AWS credentials: .*AWS_PROFILE=<name>/);
  }, 130_000);
});
