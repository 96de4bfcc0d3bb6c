import { describe, expect, it } from 'vitest';
import type { Comparison } from '../../bench/harness.ts';
import { ratioChart } from '../../bench/ratio-chart.ts';

const row = (
  measure: string,
  ratio: number,
  goal: string,
  met: boolean | null,
  ratioRange: [number, number] = [ratio, ratio],
): Comparison => ({
  measure,
  unit: 'x',
  fanout: ratio,
  baseline: 1,
  baselineName: 'b',
  ratio,
  ratioRange,
  goal,
  met,
  samples: { fanout: [ratio], baseline: [1] },
});

describe('ratioChart', () => {
  const svg = ratioChart(
    [
      row('requests <per> record & more', 0.55, '≤ 1.1', true),
      row('end to end', 0.13, '≥ 0.7', false, [0.1, 0.5]),
      row('cold import', 1.15, 'informative', null),
      row('off the axis', 1000, '≥ 1.5×', true),
    ],
    'machine & date',
  );

  it('draws one bar per measure, coloured by met, missed and informative', () => {
    const bars = [
      ...svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="16" fill="(#\w+)"/g),
    ];
    expect(bars.map((b) => b[3])).toEqual(['#2e7d32', '#c62828', '#9e9e9e', '#2e7d32']);
  });

  it('starts every bar at 1× and clamps ratios beyond the axis to its edge', () => {
    const bars = [...svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="16"/g)].map(
      (b) => ({
        from: Number(b[1]),
        to: Number(b[1]) + Number(b[2]),
      }),
    );
    const one = bars[2].from; // 1.15× starts at 1×
    expect(bars[0].to).toBeCloseTo(one, 0); // 0.55× ends at 1×
    expect(bars[1].from).toBeLessThan(bars[0].from); // 0.13× reaches further left than 0.55×
    expect(bars[3].to).toBeCloseTo(480 + 360, 0); // 1000× is drawn at the right edge (20×)
  });

  it('draws the spread of the pairs across a bar, only where the pairs differ', () => {
    const lines = [...svg.matchAll(/<line class="spread" x1="([\d.]+)" y1="[\d.]+" x2="([\d.]+)"/g)];
    expect(lines).toHaveLength(1);
    const bars = [...svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="16"/g)];
    const end = Number(bars[1][1]); // the 0.13× bar starts at its ratio
    expect(Number(lines[0][1])).toBeLessThan(end); // 0.1 is left of 0.13
    expect(Number(lines[0][2])).toBeGreaterThan(end); // 0.5 is right of it
  });

  it('escapes text so that measure names cannot break the SVG', () => {
    expect(svg).toContain('requests &lt;per&gt; record &amp; more');
    expect(svg).toContain('machine &amp; date');
    expect(svg).not.toMatch(/<per>/);
  });
});
