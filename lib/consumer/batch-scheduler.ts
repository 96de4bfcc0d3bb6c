/**
 * Order and concurrency of the records of one batch.
 *
 * Records are put in lanes: on a FIFO queue one lane per message group (in batch order),
 * on a standard queue one lane per record. Up to `concurrency` lanes run at once; a lane runs its
 * records one after another and, once one fails, skips the rest of the lane so that order inside a
 * message group is never broken. A record is started only while `canStart()` says there is time.
 *
 * With `startApart`, each lane starts once the work the previous one started has run as far as it can
 * without waiting for I/O. An AWS SDK call is a chain of async middleware (serialise, sign, send): ten
 * calls begun at once interleave their steps, and none is written to its socket until all ten are
 * nearly built. Started apart, the first record's claim is on the wire while the next is being built,
 * so DynamoDB (or the emulator on the other core) works on it meanwhile.
 */

/** What happened to a record the scheduler was given. */
export type ScheduledOutcome<R> =
  | { readonly kind: 'ran'; readonly result: R }
  /** Not started: an earlier record of its message group failed. */
  | { readonly kind: 'skipped-after-failure' }
  /** Not started: the invocation was too close to its deadline. */
  | { readonly kind: 'skipped-deadline' };

export interface ScheduleOptions<T, R> {
  /** The lane of an item: its message group on FIFO queues, `undefined` for a lane of its own. */
  readonly laneOf: (item: T) => string | undefined;
  /** Lanes run at once. */
  readonly concurrency: number;
  /** Asked before each item starts; `false` skips it (deadline). */
  readonly canStart: () => boolean;
  /** Runs one item. */
  readonly run: (item: T) => Promise<R>;
  /** Whether a result breaks its lane (later items of the lane are skipped). */
  readonly failed: (result: R) => boolean;
  /** Called as each outcome is known, so a caller racing a deadline has every finished outcome. */
  readonly onOutcome?: (item: T, outcome: ScheduledOutcome<R>) => void;
  /** Start each lane after the previous lane's synchronous and promise work (see above). */
  readonly startApart?: boolean;
  /** Called once the lanes that run first (up to `concurrency`) have all been started. */
  readonly onStarted?: () => void;
}

/** Groups items into lanes, keeping batch order inside each lane and lanes in order of first appearance. */
export function lanesOf<T>(items: readonly T[], laneOf: (item: T) => string | undefined): T[][] {
  const lanes: T[][] = [];
  const byKey = new Map<string, T[]>();
  for (const item of items) {
    const key = laneOf(item);
    if (key === undefined) {
      lanes.push([item]);
      continue;
    }
    let lane = byKey.get(key);
    if (!lane) {
      lane = [];
      byKey.set(key, lane);
      lanes.push(lane);
    }
    lane.push(item);
  }
  return lanes;
}

/** Runs `items` as described above; resolves with one outcome per item. */
export async function runScheduled<T, R>(
  items: readonly T[],
  options: ScheduleOptions<T, R>,
): Promise<Map<T, ScheduledOutcome<R>>> {
  const outcomes = new Map<T, ScheduledOutcome<R>>();
  const record = (item: T, outcome: ScheduledOutcome<R>) => {
    outcomes.set(item, outcome);
    options.onOutcome?.(item, outcome);
  };
  const lanes = lanesOf(items, options.laneOf);
  let next = 0;

  const runLane = async (lane: T[]) => {
    let broken = false;
    for (const item of lane) {
      if (broken) {
        record(item, { kind: options.canStart() ? 'skipped-after-failure' : 'skipped-deadline' });
      } else if (!options.canStart()) {
        record(item, { kind: 'skipped-deadline' });
        broken = true; // time only runs out further; keep the rest of the lane in order
      } else {
        const result = await options.run(item);
        record(item, { kind: 'ran', result });
        broken = options.failed(result);
      }
    }
  };
  const worker = async () => {
    while (next < lanes.length) {
      const lane = lanes[next++];
      await runLane(lane);
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency, lanes.length));
  const running: Promise<void>[] = [];
  for (let n = 0; n < workers; n++) {
    if (n > 0 && options.startApart) await afterPendingPromiseWork();
    running.push(worker());
  }
  options.onStarted?.();
  await Promise.all(running);
  return outcomes;
}

/**
 * Resolves once the promise continuations queued so far, and those they queue, have run, and the ticks
 * queued meanwhile (a `process.nextTick` queued from a promise continuation runs only once the microtask
 * queue is empty, after the ticks queued before it, such as the one that gives an HTTP request its
 * socket). Work queued behind one of those ticks may still be pending: enough for an SDK call on a
 * keep-alive socket, which is written by then; not a guarantee for any chain of ticks and promises.
 */
async function afterPendingPromiseWork(): Promise<void> {
  await Promise.resolve();
  await new Promise<void>((resolve) => process.nextTick(resolve));
}
