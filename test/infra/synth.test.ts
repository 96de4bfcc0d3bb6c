import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
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
    // cdk.json carries the recommended feature flags of the pinned aws-cdk-lib (what `cdk init` writes).
    expect(stderr).not.toMatch(/feature flags are not configured/);
    const template = JSON.parse(readFileSync(path.join(out, 'Fanout.template.json'), 'utf8'));
    const functions = Object.values(template.Resources as Record<string, { Type: string }>).filter(
      (r) => r.Type === 'AWS::Lambda::Function',
    );
    expect(functions).toHaveLength(4);
    // Each function's bundle loads only the SDK clients a consumer uses (DynamoDB for idempotency, SQS for the
    // DLQ, lib/consumer/consumer.ts), and S3 only on the first offloaded large payload (a dynamic import):
    // none of the example handlers publishes, so the SNS client stays out ("sideEffects": false lets esbuild
    // drop the unused publisher).
    const bundles = readdirSync(out)
      .filter((name) => name.startsWith('asset.'))
      .map((name) => readFileSync(path.join(out, name, 'index.mjs'), 'utf8'));
    expect(bundles).toHaveLength(4);
    for (const bundle of bundles) {
      const clients = [...bundle.matchAll(/from\s*"(@aws-sdk\/[\w-]+)"/g)].map((m) => m[1]);
      expect(new Set(clients)).toEqual(new Set(['@aws-sdk/client-dynamodb', '@aws-sdk/client-sqs']));
      const loadedLater = [...bundle.matchAll(/import\(\s*"(@aws-sdk\/[\w-]+)"\s*\)/g)].map((m) => m[1]);
      expect(new Set(loadedLater)).toEqual(new Set(['@aws-sdk/client-s3']));
    }
  }, 180_000);
});
