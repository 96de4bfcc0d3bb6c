/** Interleaved measurement: A B, B A, A B… for `rounds` rounds; medians, the ratio of medians, spreads. */

/** One row of the results: one measure, fanout against its baseline. */
export interface Comparison {
  readonly measure: string;
  readonly unit: string;
  readonly fanout: number;
  readonly baseline: number;
  readonly baselineName: string;
  /** fanout ÷ baseline, of the medians (for "lower is better" measures the goal says so). */
  readonly ratio: number;
  /** Smallest and largest ratio of one interleaved pair (round n's fanout ÷ round n's baseline). */
  readonly ratioRange: readonly [number, number];
  readonly goal: string;
  /** Whether the goal was met; `null` for a row shown for reading only. */
  readonly met: boolean | null;
  readonly samples: Samples;
  /**
   * Throughput rows only: median CPU time of this process per sample (clients and emulators alike, all
   * in this process), and baseline ÷ fanout of it — the throughput ratio a machine with no other load
   * would show if CPU were all that limits both sides. Stable where wall time is noisy.
   */
  readonly cpu?: { readonly fanoutMs: number; readonly baselineMs: number; readonly ratio: number };
}

/** The samples of a row, round by round (and the CPU time each took, where measured). */
export interface Samples {
  readonly fanout: readonly number[];
  readonly baseline: readonly number[];
  readonly cpuMs?: { readonly fanout: readonly number[]; readonly baseline: readonly number[] };
}

/** One run's samples: its figures and the CPU time each took, in ms. */
export interface Series {
  readonly values: number[];
  readonly cpuMs: number[];
}

/** A goal: its text for the table, and the test of the median ratio (or of fanout's own figure). */
export interface Goal {
  readonly text: string;
  readonly met: ((ratio: number, fanout: number) => boolean) | null;
}

/** The goal of a row shown for reading only (where the time goes, a bound): never met or missed. */
export const INFORMATIVE: Goal = { text: 'informative', met: null };

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Smallest and largest of `values`. */
export function range(values: readonly number[]): [number, number] {
  return [Math.min(...values), Math.max(...values)];
}

/**
 * Runs every function once to warm up, then `rounds` rounds of each, the order rotating by one each
 * round (A B C, B C A, C A B…: none always runs first, or after the same one's garbage). Returns each
 * function's samples round by round, so that samples of one round can be paired, with their CPU time.
 */
export async function rotate<K extends string>(
  rounds: number,
  runs: Record<K, () => Promise<number>>,
): Promise<Record<K, Series>> {
  const names = Object.keys(runs) as K[];
  for (const name of names) await runs[name]();
  const series = {} as Record<K, Series>;
  for (const name of names) series[name] = { values: [], cpuMs: [] };
  for (let i = 0; i < rounds; i++) {
    for (let j = 0; j < names.length; j++) {
      const name = names[(i + j) % names.length];
      const cpu = process.cpuUsage();
      series[name].values.push(await runs[name]());
      const used = process.cpuUsage(cpu);
      series[name].cpuMs.push((used.user + used.system) / 1000);
    }
  }
  return series;
}

/** The samples of fanout's series against a baseline's, for {@link compare}. */
export const pair = (fanout: Series, baseline: Series): Samples => ({
  fanout: fanout.values,
  baseline: baseline.values,
  cpuMs: { fanout: fanout.cpuMs, baseline: baseline.cpuMs },
});

/** {@link rotate} of two: A B, B A, A B… after a warm-up of each; `a` is fanout, `b` the baseline. */
export async function interleave(
  rounds: number,
  a: () => Promise<number>,
  b: () => Promise<number>,
): Promise<Samples> {
  const { fanout, baseline } = await rotate(rounds, { fanout: a, baseline: b });
  return pair(fanout, baseline);
}

export function compare(
  measure: string,
  unit: string,
  baselineName: string,
  samples: Samples,
  goal: Goal,
): Comparison {
  const fanout = median(samples.fanout);
  const baseline = median(samples.baseline);
  const ratio = baseline === 0 ? Number.NaN : fanout / baseline;
  const pairs = samples.fanout.map((f, n) => f / samples.baseline[n]).filter(Number.isFinite);
  return {
    measure,
    unit,
    fanout,
    baseline,
    baselineName,
    ratio,
    ratioRange: pairs.length > 0 ? range(pairs) : [ratio, ratio],
    goal: goal.text,
    met: goal.met === null ? null : goal.met(ratio, fanout),
    samples,
    ...(samples.cpuMs && unit.endsWith('/s') ? { cpu: cpuRatio(samples.cpuMs) } : {}),
  };
}

function cpuRatio(cpuMs: NonNullable<Samples['cpuMs']>) {
  const fanoutMs = median(cpuMs.fanout);
  const baselineMs = median(cpuMs.baseline);
  return { fanoutMs, baselineMs, ratio: baselineMs / fanoutMs };
}

/** Milliseconds `fn` takes. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** What a measure is given: the size of the run, where to log progress and to leave side figures. */
export interface BenchContext {
  readonly quick: boolean;
  /** Interleaved rounds after the warm-up. */
  readonly rounds: number;
  /** The repository's root directory. */
  readonly root: string;
  readonly log: (line: string) => void;
  /** Figures that are not rows (request mixes, sizes of a run), written to latest.json. */
  readonly notes: Record<string, unknown>;
}
