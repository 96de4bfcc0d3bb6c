import { describe, expect, it } from 'vitest';
import { compare, INFORMATIVE, interleave, rotate } from '../../bench/harness.ts';
import { markdownTable, missedGoals, TERMINAL_COLUMNS, terminalTable } from '../../bench/report.ts';

describe('bench harness', () => {
  it('interleaves the pairs A B, B A, A B after a warm-up of each', async () => {
    const order: string[] = [];
    let n = 0;
    const samples = await interleave(
      3,
      async () => {
        order.push('a');
        return ++n;
      },
      async () => {
        order.push('b');
        return ++n;
      },
    );
    expect(order.join('')).toBe('ab' + 'ab' + 'ba' + 'ab');
    // Samples stay paired by round, whoever ran first.
    expect(samples).toMatchObject({ fanout: [3, 6, 7], baseline: [4, 5, 8] });
    expect(samples.cpuMs?.fanout).toHaveLength(3);
  });

  it('rotates the order of three runs each round, after a warm-up of each', async () => {
    const order: string[] = [];
    const run = (name: string) => async () => {
      order.push(name);
      return order.length;
    };
    const samples = await rotate(3, { a: run('a'), b: run('b'), c: run('c') });
    expect(order.join(' ')).toBe('a b c a b c b c a c a b');
    expect([samples.a.values, samples.b.values, samples.c.values]).toEqual([
      [4, 9, 11],
      [5, 7, 12],
      [6, 8, 10],
    ]);
  });

  it('reports the ratio of the medians, the spread of the pairs, and met from the goal', () => {
    const row = compare(
      'm',
      'u',
      'b',
      { fanout: [10, 12, 30], baseline: [10, 8, 10] },
      {
        text: '≥ 1.2×',
        met: (r) => r >= 1.2,
      },
    );
    expect(row.ratio).toBeCloseTo(1.2);
    expect(row.ratioRange).toEqual([1, 3]);
    expect(row.met).toBe(true);
    expect(compare('m', 'u', 'b', { fanout: [1], baseline: [2] }, INFORMATIVE).met).toBeNull();
  });

  it('gives throughput rows the CPU-time ratio, baseline ÷ fanout, as the throughput ratio reads', () => {
    const cpuMs = { fanout: [100, 120, 110], baseline: [200, 180, 220] };
    const throughput = compare('m', 'records/s', 'b', { fanout: [1], baseline: [1], cpuMs }, INFORMATIVE);
    expect(throughput.cpu).toEqual({ fanoutMs: 110, baselineMs: 200, ratio: 200 / 110 });
    expect(compare('m', 'ms', 'b', { fanout: [1], baseline: [1], cpuMs }, INFORMATIVE).cpu).toBeUndefined();
  });
});

describe('bench report', () => {
  const rows = [
    compare(
      'end-to-end deliveries/s: publish → SNS → 3 queues → idempotent no-op handler',
      'deliveries/s',
      'hand-written publish + receive + conditional PutItem + delete loop',
      { fanout: [612.345, 700, 580], baseline: [883.2, 900, 850] },
      { text: '≥ 0.8', met: (r) => r >= 0.8 },
    ),
    compare(
      'cold import of that bundle (21 pairs)',
      'ms',
      'the Powertools bundle',
      {
        fanout: [190, 180],
        baseline: [170, 185],
      },
      INFORMATIVE,
    ),
    compare(
      'DynamoDB requests per record, batch of 100',
      'req/record',
      'makeIdempotent',
      {
        fanout: [1.04],
        baseline: [2],
      },
      { text: '≤ 1.05 req/record', met: (_r, f) => f <= 1.05 },
    ),
  ];

  it(`fits the terminal table in ${TERMINAL_COLUMNS} columns`, () => {
    const widths = terminalTable(rows)
      .split('\n')
      .map((line) => [...line].length);
    expect(Math.max(...widths)).toBeLessThanOrEqual(TERMINAL_COLUMNS);
  });

  it('shows met, missed and informative rows, and the spread of the pairs', () => {
    const table = terminalTable(rows);
    expect(table).toContain('NO');
    expect(table).toContain('0.68–0.78'); // 580 ÷ 850 … 700 ÷ 900
    expect(markdownTable(rows).split('\n')).toHaveLength(2 + rows.length);
    expect(markdownTable(rows)).toContain('| **no** |');
  });

  it('lists only the rows whose goal was missed (what --check fails on)', () => {
    expect(missedGoals(rows).map((r) => r.measure)).toEqual([rows[0].measure]);
  });
});
