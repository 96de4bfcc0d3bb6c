import type { Comparison } from './harness.ts';

/** Smallest and largest ratio the chart's log axis shows; ratios beyond are drawn at the edge. */
const AXIS = { min: 0.05, max: 20 } as const;
const LAYOUT = { labelWidth: 480, plotWidth: 360, valueWidth: 270, rowHeight: 26, top: 44, bottom: 40 };
const COLOURS = { met: '#2e7d32', missed: '#c62828', informative: '#9e9e9e' } as const;

const xmlText = (text: string) =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

const shorten = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** Horizontal position of a ratio on the log axis, clamped to the plot. */
function x(ratio: number): number {
  const clamped = Math.min(AXIS.max, Math.max(AXIS.min, ratio));
  const span = Math.log10(AXIS.max) - Math.log10(AXIS.min);
  return LAYOUT.labelWidth + ((Math.log10(clamped) - Math.log10(AXIS.min)) / span) * LAYOUT.plotWidth;
}

/**
 * An SVG chart of fanout ÷ baseline per measure: one bar from 1× to the ratio of the medians on a log
 * axis, green where the goal was met, red where it was missed, grey where the row is informative, and a
 * black line across it from the smallest to the largest ratio of one interleaved pair. Bars left of 1×
 * mean fanout's figure is smaller than the baseline's (better for requests, time and size; worse for
 * throughput).
 * Hand-written: a bar per row does not justify a charting dependency.
 */
export function ratioChart(results: readonly Comparison[], caption: string): string {
  const width = LAYOUT.labelWidth + LAYOUT.plotWidth + LAYOUT.valueWidth;
  const height = LAYOUT.top + results.length * LAYOUT.rowHeight + LAYOUT.bottom;
  const one = x(1);
  const rows = results.map((r, n) => {
    const y = LAYOUT.top + n * LAYOUT.rowHeight;
    const end = Number.isFinite(r.ratio) ? x(r.ratio) : one;
    const informative = r.met === null;
    const colour = informative ? COLOURS.informative : r.met ? COLOURS.met : COLOURS.missed;
    const ratio = Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}×` : 'n/a';
    const [low, high] = r.ratioRange;
    const spread =
      Number.isFinite(low) && Number.isFinite(high) && low !== high
        ? `<line class="spread" x1="${x(low).toFixed(1)}" y1="${y + 13}" x2="${x(high).toFixed(1)}" y2="${y + 13}" stroke="#000" stroke-width="1.5"/>`
        : '';
    return [
      `<text x="${LAYOUT.labelWidth - 8}" y="${y + 17}" text-anchor="end">${xmlText(shorten(r.measure, 78))}</text>`,
      `<rect x="${Math.min(one, end).toFixed(1)}" y="${y + 5}" width="${Math.max(1, Math.abs(end - one)).toFixed(1)}" height="16" fill="${colour}"/>`,
      spread,
      `<text x="${LAYOUT.labelWidth + LAYOUT.plotWidth + 8}" y="${y + 17}">${xmlText(informative ? `${ratio} (informative)` : `${ratio} (goal ${r.goal})`)}</text>`,
    ].join('');
  });
  const ticks = [0.1, 0.5, 1, 2, 10].map(
    (t) =>
      `<line x1="${x(t).toFixed(1)}" y1="${LAYOUT.top - 4}" x2="${x(t).toFixed(1)}" y2="${height - LAYOUT.bottom + 4}" stroke="${t === 1 ? '#000' : '#ddd'}"/>` +
      `<text x="${x(t).toFixed(1)}" y="${height - LAYOUT.bottom + 20}" text-anchor="middle">${t}×</text>`,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<title>fanout ÷ baseline per benchmark measure, log scale</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="8" y="20" font-size="14" font-weight="bold">fanout ÷ baseline (log scale; green: goal met, red: missed, grey: informative; line: min–max of the pairs)</text>`,
    `<text x="8" y="36" fill="#555">${xmlText(caption)}</text>`,
    ...ticks,
    ...rows,
    '</svg>',
    '',
  ].join('\n');
}
