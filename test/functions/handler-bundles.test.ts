import * as path from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import topology from '../../infra/topology.ts';

const projectRoot = path.resolve(import.meta.dirname, '../..');

/** Strings only the demo's fault injection has (cli/demo/demo-faults.ts). */
const FAULT_MARKERS = ['FANOUT_DEMO_OUTAGE', 'failuresBeforeSuccess', 'withDemoFaults'];

/** Bundles one entry as the stack's NodejsFunction does (infra/constructs): ESM for Node, the AWS SDK external. */
async function bundle(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [path.join(projectRoot, entry)],
    bundle: true,
    format: 'esm',
    platform: 'node',
    external: ['@aws-sdk/*'],
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles.map((f) => f.text).join('\n');
}

describe('deployed bundles carry no demo faults', () => {
  it('the fault markers are in the demo’s fault module (so their absence below means something)', async () => {
    const faults = await bundle('cli/demo/demo-faults.ts');
    for (const marker of FAULT_MARKERS) expect(faults).toContain(marker);
  });

  it.each(Object.keys(topology.groups))(
    'functions/%s.ts bundles without any of them',
    async (group) => {
      const code = await bundle(`functions/${group}.ts`);
      expect(code).toContain('batchItemFailures'); // the consumer is in it
      for (const marker of FAULT_MARKERS) expect(code, marker).not.toContain(marker);
    },
    60_000,
  );
});
