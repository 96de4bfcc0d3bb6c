/** Interleaved A/B measurement: A B A B … for `rounds` rounds; medians and the ratio of medians. */
export interface Comparison {
  readonly measure: string;
  readonly unit: string;
  readonly fanout: number;
  readonly baseline: number;
  readonly baselineName: string;
  /** fanout ÷ baseline (for "lower is better" measures the goal is stated as such). */
  readonly ratio: number;
  readonly goal: string;
  readonly met: boolean;
  readonly samples: { readonly fanout: readonly number[]; readonly baseline: readonly number[] };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs `a` and `b` alternately (a warm-up of each first) and returns their samples. */
export async function interleave(rounds: number, a: () => Promise<number>, b: () => Promise<number>) {
  await a();
  await b();
  const fanout: number[] = [];
  const baseline: number[] = [];
  for (let i = 0; i < rounds; i++) {
    fanout.push(await a());
    baseline.push(await b());
  }
  return { fanout, baseline };
}

/** The goal of a row shown for reading only (where the time goes, a bound): never met or missed. */
export const INFORMATIVE = { text: 'informative', met: () => true } as const;

export function compare(
  measure: string,
  unit: string,
  baselineName: string,
  samples: { fanout: number[]; baseline: number[] },
  goal: { text: string; met: (ratio: number, fanout: number) => boolean },
): Comparison {
  const fanout = median(samples.fanout);
  const baseline = median(samples.baseline);
  const ratio = baseline === 0 ? Number.NaN : fanout / baseline;
  return {
    measure,
    unit,
    fanout,
    baseline,
    baselineName,
    ratio,
    goal: goal.text,
    met: goal.met(ratio, fanout),
    samples,
  };
}

/** Milliseconds `fn` takes. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}
