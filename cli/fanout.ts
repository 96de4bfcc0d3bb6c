#!/usr/bin/env node
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_534)
    throw new InvalidArgumentError('a port is a whole number from 0 to 65534');
  return n;
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number ≥ 1');
  return n;
}

const program = new Command()
  .name('fanout')
  .description('Operate a fanout stack: run it locally, inspect groups and dead letters.')
  .showHelpAfterError();

program
  .command('dev')
  .description('run the whole stack on the embedded emulator with demo traffic (what npm start runs)')
  .option('--once', 'run the demo once, check it, and exit (status 0 only if every check held)')
  .option(
    '--port <port>',
    'SNS + SQS port; DynamoDB uses the next one (default 4566, free ports with --once)',
    port,
  )
  .option('--orders <n>', 'orders the demo places', positive, 20)
  .option('--verbose', "show the handlers' JSON logs and metrics")
  .action(async (options: { once?: boolean; port?: number; orders: number; verbose?: boolean }) => {
    const [{ runDev }, { default: topology }] = await Promise.all([
      import('../localstack/dev.ts'),
      import('../infra/topology.ts'),
    ]);
    const ok = await runDev({
      topology,
      projectRoot,
      once: options.once ?? false,
      port: options.port,
      orders: options.orders,
    });
    process.exitCode = ok ? 0 : 1;
  });

await program.parseAsync();
