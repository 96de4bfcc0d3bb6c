/** The run's results as a terminal table (≤ 120 columns), a Markdown table and the JSON rows. */
import Table from 'cli-table3';
import type { Comparison } from './harness.ts';

/** Widest line of the terminal table. */
export const TERMINAL_COLUMNS = 120;
/** Widths of the terminal table's columns, padding included (with the 8 borders: 118 columns). */
const WIDTHS = [43, 9, 10, 8, 13, 22, 5] as const;

/** A figure with as many digits as it deserves. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  const abs = Math.abs(n);
  return abs >= 100 ? n.toFixed(0) : abs >= 10 ? n.toFixed(1) : n.toFixed(2);
}

const ratio = (r: Comparison) => `${fmt(r.ratio)}×`;
const spread = (r: Comparison) =>
  r.ratioRange[0] === r.ratioRange[1] ? '—' : `${fmt(r.ratioRange[0])}–${fmt(r.ratioRange[1])}`;
const cpu = (r: Comparison) => (r.cpu ? `${fmt(r.cpu.ratio)}×` : '—');
const met = (r: Comparison, no = 'NO') => (r.met === null ? '—' : r.met ? 'yes' : no);

/**
 * The terminal table: one row per measure, its unit and baseline after its name; under the spread of
 * the pairs, the CPU-time ratio of throughput rows.
 */
export function terminalTable(results: readonly Comparison[]): string {
  const table = new Table({
    head: ['measure (unit; baseline)', 'fanout', 'baseline', 'ratio', 'pairs; cpu', 'goal', 'met'],
    colWidths: [...WIDTHS],
    wordWrap: true,
    style: { head: [], border: [] },
  });
  for (const r of results) {
    table.push([
      `${r.measure} (${r.unit}; vs ${r.baselineName})`,
      fmt(r.fanout),
      fmt(r.baseline),
      ratio(r),
      r.cpu ? `${spread(r)}\ncpu ${cpu(r)}` : spread(r),
      r.goal,
      met(r),
    ]);
  }
  return table.toString();
}

/** The Markdown table of docs/BENCHMARKS.md. */
export function markdownTable(results: readonly Comparison[]): string {
  return [
    '| measure (unit; baseline) | fanout | baseline | ratio | min–max of the pairs | CPU-time ratio | goal | met |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.measure} (${r.unit}; vs ${r.baselineName}) | ${fmt(r.fanout)} | ${fmt(r.baseline)} | ${ratio(r)} | ${spread(r)} | ${cpu(r)} | ${r.goal} | ${met(r, '**no**')} |`,
    ),
  ].join('\n');
}

/** The rows whose goal was missed (informative rows never are). */
export function missedGoals(results: readonly Comparison[]): Comparison[] {
  return results.filter((r) => r.met === false);
}
