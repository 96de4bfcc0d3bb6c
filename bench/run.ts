/**
 * fanout against the field's standard (Powertools batch + idempotency) and against hand-written loops
 * doing the same AWS work, on the same embedded emulators, in interleaved pairs (bench/measures/*).
 *
 *   npm run bench                    full run (a few minutes on 2 cores)
 *   npm run bench -- --quick         smoke run: 2 rounds, smaller loads
 *   npm run bench -- --check         exits 1 when a goal is missed (without it the exit code is 0)
 *   npm run bench -- --only=publish  only the named measures (comma-separated names of MEASURES)
 *   npm run bench -- --scale 100000  one long run of that many deliveries, reported per 10k (bench/scale.ts)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbeddedCloud } from '../localstack/index.ts';
import type { BenchContext, Comparison } from './harness.ts';
import { bundleAndImport } from './measures/bundle.ts';
import { dynamodbRequests } from './measures/dynamodb-requests.ts';
import { endToEnd } from './measures/end-to-end.ts';
import { fifoBatch } from './measures/fifo.ts';
import { emulatorIsolation } from './measures/isolation.ts';
import { publish } from './measures/publish.ts';
import { recordsPerSecond } from './measures/records-per-second.ts';
import { ratioChart } from './ratio-chart.ts';
import { markdownTable, missedGoals, terminalTable } from './report.ts';
import { scaleCommand } from './scale.ts';

/** Every measure, in the order of the table. */
const MEASURES = {
  'dynamodb-requests': dynamodbRequests,
  fifo: fifoBatch,
  'records-per-second': recordsPerSecond,
  'end-to-end': endToEnd,
  isolation: emulatorIsolation,
  publish,
  bundle: bundleAndImport,
} satisfies Record<string, (ctx: BenchContext) => Promise<Comparison[]>>;

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const check = args.includes('--check');
const only = args
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const unknown = only?.filter((name) => !(name in MEASURES)) ?? [];
if (unknown.length > 0) {
  process.stderr.write(
    `unknown measure(s) ${unknown.join(', ')}; known: ${Object.keys(MEASURES).join(', ')}\n`,
  );
  process.exit(2);
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
delete process.env.POWERTOOLS_IDEMPOTENCY_DISABLED;

if (args.some((a) => a === '--scale' || a.startsWith('--scale='))) {
  mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
  await scaleCommand(args, root);
  process.exit(0);
}

const ctx: BenchContext = {
  quick,
  rounds: quick ? 2 : 5,
  root,
  log: (line) => process.stderr.write(`${line}\n`),
  notes: {},
};
const cloud = await startEmbeddedCloud({ ttlSweep: false });
Object.assign(process.env, cloud.env);
const results: Comparison[] = [];
try {
  for (const [name, measure] of Object.entries(MEASURES)) {
    if (!only || only.includes(name)) results.push(...(await measure(ctx)));
  }
} finally {
  await cloud.stop();
}

const date = new Date().toISOString();
const cpus = os.cpus();
const machine = `${cpus.length} × ${cpus[0]?.model.trim() ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const how = `${ctx.rounds} interleaved rounds after a warm-up, medians; npm run bench${quick ? ' -- --quick' : ''}`;
const resultsDir = path.join(root, 'bench', 'results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(
  path.join(resultsDir, 'latest.json'),
  `${JSON.stringify({ date, machine, quick, rounds: ctx.rounds, results, notes: ctx.notes }, null, 2)}\n`,
);
writeFileSync(path.join(resultsDir, 'latest.md'), `${markdownTable(results)}\n\n${machine}; ${how}\n`);
writeFileSync(
  path.join(resultsDir, 'ratios.svg'),
  ratioChart(results, `${machine}; ${how}, ${date.slice(0, 10)}`),
);

process.stdout.write(`${terminalTable(results)}\n${machine}\n${how}\n`);
process.stdout.write(
  'ratio: of the medians; pairs: min–max of the ratio of each interleaved pair; cpu: the same ratio in\n' +
    'CPU time of this process per sample (throughput rows; what it would be with the machine to itself)\n',
);
process.stdout.write('raw figures: bench/results/latest.json, chart: bench/results/ratios.svg\n');
const missed = missedGoals(results);
if (missed.length > 0) {
  process.stdout.write(`goals missed:\n${missed.map((r) => `- ${r.measure}\n`).join('')}`);
  if (check) process.exitCode = 1;
}
