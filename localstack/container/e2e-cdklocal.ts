/**
 * Full-stack path for machines with Docker: deploys the real CDK stack into LocalStack with
 * `cdklocal`, publishes through lib/, and waits for the real Lambda event source mappings to apply
 * every effect exactly once. Run with `npm run e2e:localstack`. Uses the LocalStack at
 * AWS_ENDPOINT_URL when set (e.g. from localstack/container/docker-compose.yml), else starts one.
 * Our CI machines have no Docker engine, so this runs only where Docker exists.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EffectsLedger } from '../../functions/shared/effects-ledger.ts';
import { outputKey, Publisher } from '../../lib/index.ts';
import { dockerAvailability, startLocalStackContainer } from './localstack-container.ts';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const stackName = 'FanoutE2E';

async function main(): Promise<number> {
  let stop = async () => {};
  if (!process.env.AWS_ENDPOINT_URL) {
    const docker = await dockerAvailability();
    if (!docker.ok) {
      console.error(`e2e:localstack needs Docker: ${docker.reason}`);
      return 2;
    }
    const localstack = await startLocalStackContainer();
    Object.assign(process.env, localstack.env);
    stop = () => localstack.stop();
    console.log(`LocalStack at ${localstack.sns}`);
  }
  try {
    const outputs = path.join(mkdtempSync(path.join(tmpdir(), 'fanout-e2e-')), 'outputs.json');
    const cdklocal = (...args: string[]) =>
      execFileSync('npx', ['cdklocal', ...args, '--no-notices', '-c', `stackName=${stackName}`], {
        cwd: projectRoot,
        stdio: 'inherit',
        env: { ...process.env, FANOUT_STACK_NAME: stackName },
      });
    cdklocal('bootstrap');
    cdklocal('deploy', '--require-approval', 'never', '--outputs-file', outputs);
    const values = (JSON.parse(readFileSync(outputs, 'utf8')) as Record<string, Record<string, string>>)[
      stackName
    ];
    const output = (what: string) => {
      const value = values[outputKey(what)];
      if (!value) throw new Error(`stack output for '${what}' is missing`);
      return value;
    };

    const orders = new Publisher({ topicArn: output('topic orders arn') });
    const ledgerTopic = new Publisher({ topicArn: output('topic ledger.fifo arn') });
    const placed = await orders.publish({
      type: 'OrderPlaced',
      data: { orderId: 'e2e-1', customer: 'c', amount: 5 },
    });
    await orders.publish({ type: 'OrderPlaced', id: placed.id, data: placed.data }); // duplicate publish
    const postings = [];
    for (let seq = 1; seq <= 3; seq++) {
      postings.push(
        await ledgerTopic.publish({
          type: 'Posting',
          groupId: 'acct-e2e',
          data: { account: 'acct-e2e', seq, amount: seq },
        }),
      );
    }

    const expected = [
      `notifications#${placed.id}`,
      `spreadsheets#${placed.id}`,
      `audit#${placed.id}`,
      ...postings.map((p) => `ledger#${p.id}`),
    ];
    const effects = new EffectsLedger(output('table effects name'));
    const deadline = Date.now() + 180_000;
    for (;;) {
      const { applied, streams } = await effects.readAll();
      const done = expected.every((k) => applied.has(k));
      if (done) {
        const doubled = expected.filter((k) => applied.get(k) !== 1);
        const order = streams.get('ledger#stream#acct-e2e');
        console.log(
          `effects: ${expected.length} expected, doubled: ${doubled.length}, ledger order: ${JSON.stringify(order)}`,
        );
        return doubled.length === 0 && JSON.stringify(order) === '[1,2,3]' ? 0 : 1;
      }
      if (Date.now() > deadline) {
        console.error(`timed out; missing effects: ${expected.filter((k) => !applied.has(k)).join(', ')}`);
        return 1;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  } finally {
    await stop();
  }
}

process.exitCode = await main();
