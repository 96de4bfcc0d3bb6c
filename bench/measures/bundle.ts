/**
 * Measure 6: one consumer handler with the same features, bundled (minified, SDK external): its size,
 * and the time a fresh Node process takes to import it (interleaved pairs, a spread).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { type BenchContext, type Comparison, compare, INFORMATIVE, interleave } from '../harness.ts';

async function bundle(root: string, entry: string, name: string): Promise<string> {
  const out = path.join(root, 'bench', 'results', 'bundles');
  mkdirSync(out, { recursive: true });
  const outfile = path.join(out, `${name}.mjs`);
  await esbuild.build({
    entryPoints: [path.join(root, entry)],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    outfile,
    external: ['@aws-sdk/*'],
    mainFields: ['module', 'main'],
    banner: {
      js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);",
    },
    logLevel: 'silent',
  });
  return outfile;
}

/** Milliseconds a fresh Node process takes to import `file` (the process start itself not included). */
function importMs(file: string): number {
  const script = `const t=performance.now();await import(${JSON.stringify(file)});console.log(performance.now()-t)`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, FANOUT_IDEMPOTENCY_TABLE: 't', POWERTOOLS_IDEMPOTENCY_TABLE: 't' },
  });
  return Number(out.toString().trim());
}

export async function bundleAndImport(ctx: BenchContext): Promise<Comparison[]> {
  ctx.log('bundle size and cold import time');
  const fanoutFile = await bundle(ctx.root, 'bench/bundle-entries/fanout-handler.ts', 'fanout');
  const ptFile = await bundle(ctx.root, 'bench/bundle-entries/powertools-handler.ts', 'powertools');
  const kib = (file: string) => statSync(file).size / 1024;
  const pairs = ctx.quick ? 7 : 21;
  const imports = await interleave(
    pairs,
    async () => importMs(fanoutFile),
    async () => importMs(ptFile),
  );
  ctx.notes.coldImportPairs = pairs;
  return [
    compare(
      'bundle of one consumer handler, minified, SDK external',
      'KiB',
      'Powertools batch + idempotency + logger + metrics',
      { fanout: [kib(fanoutFile)], baseline: [kib(ptFile)] },
      { text: '≤ 1.0×', met: (r) => r <= 1.0 },
    ),
    compare(
      `cold import of that bundle, ${pairs} pairs`,
      'ms',
      'the Powertools bundle',
      imports,
      INFORMATIVE,
    ),
  ];
}
