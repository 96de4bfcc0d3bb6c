import { runWithCurrentMessage } from '../current-message.ts';
import type { DeadLetterSender } from '../dead-letter-sender.ts';
import { PoisonMessageError } from '../errors.ts';
import type { IdempotencyStore } from '../idempotency-store.ts';
import type { Telemetry } from '../telemetry.ts';
import { type BatchItem, type FollowerItem, logFields, type RunnableItem } from './batch-item.ts';
import { runScheduled } from './batch-scheduler.ts';
import type { KeyWriter } from './key-writer.ts';
import type { EffectResult, RecordOutcome } from './record-outcome.ts';
import { traceRecord } from './record-span.ts';
import type { TimeBudget } from './time-budget.ts';
import { isAcked } from './verdict.ts';

/** What the run stage works with. */
export interface RunContext {
  readonly group: string;
  readonly concurrency: number;
  readonly budget: TimeBudget;
  readonly store: IdempotencyStore | undefined;
  /** The claim's lease in ms for a claim made now. */
  readonly leaseMs: () => number;
  readonly validatePayload: boolean;
  readonly keyWriter: KeyWriter | undefined;
  readonly deadLetters: DeadLetterSender;
  readonly logger: Telemetry['logger'];
  /** Counts records that are claiming or handling (the writers wait for them to gather calls). */
  readonly activity: { running: number };
  /** Reads and decodes an offloaded record when its turn comes (see decode-stage's resolveOffloaded). */
  readonly resolveOffloaded: (item: Extract<BatchItem, { kind: 'offloaded' }>) => Promise<BatchItem>;
  /** Resolves when the consumer stops waiting for handlers: a span still open then ends as abandoned. */
  readonly handlersDone: Promise<void>;
  /** Whether lanes start apart (see batch-scheduler): when this invocation has the process to itself. */
  readonly startLanesApart: boolean;
}

/** The run stage's live view: outcomes so far, and what is still to finish. */
export interface RunStage {
  /** Every item's outcome so far (an item being worked on is `abandoned` until it ends). */
  readonly outcomes: Map<BatchItem, RecordOutcome>;
  /** Resolves when every lane has finished. */
  readonly finished: Promise<void>;
  /** Resolves when the effects started so far (writes, DLQ sends) have answered or given up. */
  effectsSettled(): Promise<void>;
}

/**
 * Stage 3, run: claims, handlers and each record's own effects, in lanes (one per FIFO message group,
 * one per record on standard queues), up to `concurrency` lanes at once, starting records only while
 * the time budget allows.
 *
 * Effects happen as soon as a record's handler ends, not after the batch: its COMPLETED write (gathered
 * with its neighbours'), the release of a failed record's claim, a poison record's DLQ send. A lane
 * waits for the effects that decide whether it may go on (a release, a DLQ send), never for a
 * completion, so the order of a FIFO group is kept without slowing it down.
 */
export function runStage(items: readonly BatchItem[], context: RunContext): RunStage {
  const outcomes = new Map<BatchItem, RecordOutcome>();
  const effects = new Set<Promise<unknown>>();
  const leaderOutcomes = new Map<RunnableItem, Promise<RecordOutcome>>();
  // Lanes may start apart: a follower looks for its leader once every first lane has started.
  const lanesStarted = Promise.withResolvers<void>();
  const track = <T>(promise: Promise<T>): Promise<T> => {
    effects.add(promise);
    void promise.finally(() => effects.delete(promise));
    return promise;
  };
  // `report` records an outcome under the batch's own item: an offloaded item is run as the item its
  // payload resolves to, but the answer is settled by the item of the batch.
  const runOne = async (item: BatchItem, runners: Runners): Promise<RecordOutcome> => {
    if (item.kind === 'late') return { kind: 'not-started', because: 'deadline' };
    if (item.kind === 'offloaded') return runOne(await context.resolveOffloaded(item), runners);
    if (item.kind === 'unresolved')
      return { kind: 'failed', error: item.error, durationMs: 0, release: 'none' };
    if (item.kind === 'poison') return deadLetter(runners, item, item.reason, item.detail);
    if (item.kind === 'follower') {
      await lanesStarted.promise;
      return follow(runners, item, leaderOutcomes.get(item.leader));
    }
    const running = runRecord(runners, item);
    leaderOutcomes.set(item, running);
    return running;
  };
  const spanContext = { ...context, outcomeOf: (item: BatchItem) => outcomes.get(item) };
  const runItem = async (item: BatchItem): Promise<RecordOutcome> => {
    outcomes.set(item, { kind: 'abandoned' });
    const runners = { context, track, report: (outcome: RecordOutcome) => outcomes.set(item, outcome) };
    // Every record that runs does so inside its span, a child of the trace context it carries.
    const outcome = await traceRecord(item, spanContext, () => runOne(item, runners));
    // A processed record's completion may still be on its way: its outcome is updated when it lands.
    outcomes.set(item, outcome);
    return outcome;
  };

  const finished = runScheduled(items, {
    laneOf: (item) => item.lane,
    concurrency: context.concurrency,
    startApart: context.startLanesApart,
    onStarted: () => lanesStarted.resolve(),
    canStart: () => context.budget.canStart(),
    run: runItem,
    failed: (outcome) => !isAcked(outcome),
    onOutcome: (item, scheduled) => {
      const skipped: RecordOutcome | undefined =
        scheduled.kind === 'skipped-after-failure'
          ? { kind: 'not-started', because: 'order' }
          : scheduled.kind === 'skipped-deadline'
            ? { kind: 'not-started', because: 'deadline' }
            : undefined;
      if (skipped) {
        outcomes.set(item, skipped);
        // A record that never starts still gets its span, so the trace shows where it waited.
        void traceRecord(item, spanContext, async () => skipped);
      }
    },
  }).then(() => undefined);

  return {
    outcomes,
    finished,
    async effectsSettled() {
      while (effects.size > 0) await Promise.allSettled([...effects]);
    },
  };
}

interface Runners {
  readonly context: RunContext;
  readonly track: <T>(promise: Promise<T>) => Promise<T>;
  /** Records the outcome of the batch item being run, before its lane has finished with it. */
  readonly report: (outcome: RecordOutcome) => void;
}

/** Claims, handles and settles one runnable record. */
async function runRecord(runners: Runners, item: RunnableItem): Promise<RecordOutcome> {
  const { context } = runners;
  const claim = await whileRunning(context, () => claimKey(context, item));
  if (claim.status === 'none') {
    // no idempotency: nothing to claim
  } else if (claim.status === 'error') {
    return { kind: 'claim-failed', error: claim.error };
  } else if (claim.status === 'completed') {
    return { kind: 'duplicate' };
  } else if (claim.status === 'in-progress') {
    return { kind: 'in-progress', leaseExpiresAt: claim.leaseExpiresAt };
  } else if (claim.status === 'payload-mismatch') {
    return deadLetter(runners, item, 'payload-mismatch', mismatchDetail(item.key as string));
  }
  const lease = claim.status === 'claimed' ? claim.leaseExpiresAt : undefined;
  const started = performance.now();
  const handled = await whileRunning(context, () => handle(runners, item, lease));
  return afterHandler(runners, item, handled, performance.now() - started, lease);
}

/** Claims the record's key; `none` without idempotency, `error` when the claim call failed. */
async function claimKey(context: RunContext, item: RunnableItem) {
  if (!context.store || item.key === undefined) return { status: 'none' as const };
  const signal = context.budget.signal('claim');
  if (signal.aborted) return { status: 'error' as const, error: signal.reason };
  try {
    return await context.store.claim(item.key, item.hash, context.leaseMs(), { signal });
  } catch (error) {
    return { status: 'error' as const, error };
  }
}

/**
 * Runs `work` counted as a running record; when none is left running, the writers send what they
 * gathered at once instead of waiting for more.
 */
async function whileRunning<T>(context: RunContext, work: () => Promise<T>): Promise<T> {
  context.activity.running++;
  try {
    return await work();
  } finally {
    context.activity.running--;
    if (context.activity.running === 0) {
      context.keyWriter?.nudge();
      context.deadLetters.nudge();
    }
  }
}

/** Runs the handler inside the record's context, renewing its lease while it runs long. */
async function handle(
  runners: Runners,
  item: RunnableItem,
  lease: number | undefined,
): Promise<{ ok: true } | { ok: false; error: unknown }> {
  const { context } = runners;
  const stopRenewing = lease !== undefined ? renewWhileRunning(context, item, lease) : () => {};
  try {
    await runWithCurrentMessage(
      { messageId: item.envelope.id, correlationId: item.envelope.correlationid, group: context.group },
      () =>
        item.route.handle(item.data, {
          envelope: item.envelope,
          record: item.record,
          group: context.group,
          receiveCount: item.receiveCount,
          logger: context.logger,
        }),
    );
    return { ok: true };
  } catch (error) {
    return { ok: false, error };
  } finally {
    stopRenewing();
  }
}

/** The outcome of a record whose handler has ended: complete, release, or dead-letter it. */
async function afterHandler(
  runners: Runners,
  item: RunnableItem,
  handled: { ok: true } | { ok: false; error: unknown },
  durationMs: number,
  lease: number | undefined,
): Promise<RecordOutcome> {
  const { context, report, track } = runners;
  const writer = lease !== undefined && item.key !== undefined ? context.keyWriter : undefined;
  const write = async (state: 'completed' | 'released'): Promise<EffectResult> => {
    if (!writer) return 'none';
    const stored = await writer.write({ key: item.key as string, state, payloadHash: item.hash });
    return stored ? 'stored' : 'not-stored';
  };

  if (handled.ok) {
    // Acked whatever the write's fate; the lane goes on while the completion is gathered and written.
    const outcome = { kind: 'processed', durationMs } as const;
    if (!writer) return { ...outcome, completion: 'none' };
    void track(write('completed').then((completion) => report({ ...outcome, completion })));
    return { ...outcome, completion: 'pending' };
  }
  const failed = { kind: 'failed', error: handled.error, durationMs } as const;
  // Each outcome is reported as soon as it is known, since the batch may be answered between two steps:
  // while the release is out, the record is a failure whose key may be held until the lease ends.
  if (writer) report({ ...failed, release: 'pending', leaseExpiresAt: lease });
  const release = await track(write('released'));
  const heldUntil = release === 'not-stored' ? lease : undefined;
  if (handled.error instanceof PoisonMessageError) {
    const { reason, message } = handled.error;
    report({ kind: 'dead-letter-failed', reason, detail: message, leaseExpiresAt: heldUntil });
    const poison = await deadLetter(runners, item, reason, message);
    const outcome = poison.kind === 'dead-letter-failed' ? { ...poison, leaseExpiresAt: heldUntil } : poison;
    report(outcome);
    return outcome;
  }
  const outcome = { ...failed, release, leaseExpiresAt: heldUntil };
  report(outcome);
  return outcome;
}

/** The shortest pause between two renewals of a lease, in ms. */
const MIN_RENEW_INTERVAL_MS = 100;

/**
 * Extends the lease of a record whose handler outlives half of it, for as long as the handler runs;
 * returns the stop function. A lease that already reaches the invocation's deadline (the default in
 * Lambda) is never renewed; outside Lambda, and with a `leaseSeconds` shorter than the invocation, it is.
 */
function renewWhileRunning(context: RunContext, item: RunnableItem, lease: number): () => void {
  const { store, budget } = context;
  if (!store || lease >= budget.deadline) return () => {};
  const key = item.key as string;
  let held = [lease]; // the expiry we wrote, and one whose renewal's answer was lost
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const renew = async () => {
    const current = Math.max(...held);
    const renewed = Math.min(Date.now() + context.leaseMs(), budget.deadline);
    const signal = budget.signal('claim');
    if (stopped || renewed <= current || signal.aborted) return;
    const ok = await store.renewLease(key, held, renewed, { signal }).catch(() => undefined);
    if (stopped) return;
    if (ok === false) {
      context.logger.warn('the lease of a running record was lost; another delivery may run it too', {
        ...logFields(item),
      });
      return;
    }
    held = ok ? [renewed] : [current, renewed]; // an error: the renewal may have landed or not
    schedule();
  };
  const schedule = () => {
    const delay = Math.max(MIN_RENEW_INTERVAL_MS, (Math.max(...held) - Date.now()) / 2);
    timer = setTimeout(() => void renew(), delay);
    timer.unref?.();
  };
  schedule();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** A follower (same key as an earlier record of the batch) takes its leader's outcome. */
async function follow(
  runners: Runners,
  item: FollowerItem,
  leaderOutcome: Promise<RecordOutcome> | undefined,
): Promise<RecordOutcome> {
  // A leader that has not started yet is not waited for (its lane may need this worker): retried later.
  const outcome = leaderOutcome ? await leaderOutcome : undefined;
  if (outcome?.kind === 'in-progress') return outcome; // held elsewhere: wait for that lease too
  if (outcome?.kind !== 'processed' && outcome?.kind !== 'duplicate') return { kind: 'leader-not-done' };
  if (runners.context.validatePayload && item.hash !== item.leader.hash) {
    return deadLetter(runners, item, 'payload-mismatch', mismatchDetail(item.leader.key as string));
  }
  return { kind: 'duplicate' };
}

/** Sends a poison record to the DLQ; the outcome says whether it got there. */
async function deadLetter(
  runners: Runners,
  item: BatchItem,
  reason: string,
  detail: string,
): Promise<RecordOutcome> {
  const sent = await runners.track(runners.context.deadLetters.send({ record: item.record, reason, detail }));
  return sent ? { kind: 'dead-lettered', reason, detail } : { kind: 'dead-letter-failed', reason, detail };
}

function mismatchDetail(key: string): string {
  return `idempotency key '${key}' was already used for a different payload; give each distinct event its own id`;
}
