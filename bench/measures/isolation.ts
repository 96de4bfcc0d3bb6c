/**
 * Measure 5: where the emulators run. The same fanout end-to-end run (bench/measures/end-to-end.ts:
 * publish → SNS → 3 queues → runners → idempotent no-op consumer → delete) against three local clouds
 * started side by side — emulators in a worker thread, in a child process, and on this event loop —
 * rotating between them, so that one bench run compares them under the same machine load.
 */
import { type EmbeddedCloud, type EmulatorIsolation, startEmbeddedCloud } from '../../localstack/index.ts';
import {
  type BenchContext,
  type Comparison,
  compare,
  INFORMATIVE,
  median,
  pair,
  rotate,
} from '../harness.ts';
import { fanoutPipeline } from './end-to-end.ts';

const ON_LOOP = "the emulators on the consumer's event loop (isolation 'in-process')";

export async function emulatorIsolation(ctx: BenchContext): Promise<Comparison[]> {
  const messages = ctx.quick ? 400 : 600;
  const isolations: EmulatorIsolation[] = ['worker', 'process', 'in-process'];
  const clouds: EmbeddedCloud[] = [];
  try {
    for (const isolation of isolations) clouds.push(await startEmbeddedCloud({ isolation, ttlSweep: false }));
    const [worker, child, onLoop] = clouds;
    const mixes: Record<string, unknown> = {};
    const run = (cloud: EmbeddedCloud) =>
      fanoutPipeline({ messages, idempotent: true, mixes, cloud, label: cloud.isolation });
    ctx.log(
      'end-to-end deliveries/s with the emulators in a worker, a child process and in-process, rotating',
    );
    const series = await rotate(ctx.rounds, {
      worker: await run(worker),
      process: await run(child),
      inProcess: await run(onLoop),
    });
    ctx.notes.isolation = {
      messages,
      deliveriesPerSecond: {
        worker: median(series.worker.values),
        process: median(series.process.values),
        'in-process': median(series.inProcess.values),
      },
      requestsPerDelivery: mixes,
    };
    // This process's CPU time counts a worker thread's work but not a child process's: no CPU ratio there.
    const { cpu: _notComparable, ...childRow } = compare(
      'the same, emulators in a child process',
      'deliveries/s',
      ON_LOOP,
      pair(series.process, series.inProcess),
      INFORMATIVE,
    );
    return [
      compare(
        'end-to-end deliveries/s, emulators in a worker thread (the default)',
        'deliveries/s',
        ON_LOOP,
        pair(series.worker, series.inProcess),
        INFORMATIVE,
      ),
      childRow,
    ];
  } finally {
    await Promise.all(clouds.map((c) => c.stop()));
  }
}
