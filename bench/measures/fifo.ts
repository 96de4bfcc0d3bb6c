/** Measure 2: wall time of a FIFO batch of 10 whose handler awaits 50 ms of I/O, by message groups. */
import { consumer } from '../../lib/index.ts';
import { powertoolsHandler } from '../baselines.ts';
import { sqsEvent, work } from '../fixtures.ts';
import { type BenchContext, type Comparison, compare, interleave, timed } from '../harness.ts';

export async function fifoBatch(ctx: BenchContext): Promise<Comparison[]> {
  const rows: Comparison[] = [];
  for (const groups of [10, 1]) {
    ctx.log(`FIFO batch wall time, ${groups} message group(s)`);
    const fanout = consumer({ group: 'bench', idempotency: false, handle: work(50), metrics: false });
    const powertools = powertoolsHandler({ work: work(50), fifo: true });
    const samples = await interleave(
      ctx.rounds,
      () => timed(() => fanout(sqsEvent(10, groups))),
      () => timed(() => powertools(sqsEvent(10, groups))),
    );
    rows.push(
      compare(
        `FIFO batch of 10 in ${groups} message group${groups > 1 ? 's' : ''}, 50 ms I/O each`,
        'ms',
        'SqsFifoPartialProcessorAsync',
        samples,
        groups > 1
          ? { text: '≥ 8× faster', met: (r) => r <= 1 / 8 }
          : { text: 'equal (≤ 1.1×)', met: (r) => r <= 1.1 },
      ),
    );
  }
  return rows;
}
