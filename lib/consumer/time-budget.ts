import { DeadlineExceededError } from '../errors.ts';

/**
 * The time budget of one invocation: when to stop starting records, when to stop waiting for
 * handlers, when the effects (idempotency writes, DLQ sends) must be over, and when to answer.
 *
 * First, {@link UNBOUNDED_RESERVE_MS} (half of a budget under twice that) is kept for what no timer can
 * bound: a cold SDK client's first call, event-loop delays, a process the OS does not schedule at once.
 * Each phase then ends a margin before what remains (`B`, the usable budget). A margin is the configured
 * one but never more than a fixed share of `B`, so a short function timeout still runs records, and every
 * phase keeps a slice of a tiny budget (50 ms) too:
 *
 * | phase ends            | margin before the usable budget ends |
 * | --------------------- | ------------------------------------ |
 * | start no more records | min(deadlineMarginMs, 50 %)         |
 * | stop waiting (abandon)| min(abandonMarginMs, 40 %)          |
 * | effects               | min(500 ms, 30 %)                   |
 * | answer                | min(250 ms, 20 %)                   |
 *
 * Every AWS call the consumer makes takes the signal of its phase, so a slow or hung call is aborted
 * when its phase ends instead of making the invocation answer late. Outside Lambda (no deadline) the
 * phases never end and each call is bounded by {@link UNBOUNDED_CALL_TIMEOUT_MS} instead.
 */

/** How long one AWS call may take when the invocation has no deadline (outside Lambda). */
export const UNBOUNDED_CALL_TIMEOUT_MS = 10_000;

/** Time kept before the deadline for what no timer bounds, in ms (half of a smaller budget). */
export const UNBOUNDED_RESERVE_MS = 25;

const SHARE = { start: 0.5, abandon: 0.4, effects: 0.3, respond: 0.2 } as const;
const EFFECTS_MARGIN_MS = 500;
const RESPOND_MARGIN_MS = 250;

/** A phase of the invocation whose end bounds the AWS calls made in it. */
export type Phase = 'claim' | 'effects' | 'respond';

export interface TimeBudgetOptions {
  readonly deadlineMarginMs: number;
  readonly abandonMarginMs: number;
}

export class TimeBudget {
  /** Epoch ms of the invocation's deadline; `Infinity` outside Lambda. */
  readonly deadline: number;
  /** Epoch ms after which no record starts (never later than {@link TimeBudget.abandonAt}). */
  readonly startBy: number;
  /** Epoch ms after which the consumer stops waiting for running handlers. */
  readonly abandonAt: number;
  private readonly effectsBy: number;
  private readonly respondBy: number;
  private readonly signals = new Map<Phase, AbortSignal>();
  private readonly controllers: AbortController[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private disposed = false;

  constructor(remainingMs: number, options: TimeBudgetOptions, now: number = Date.now()) {
    this.deadline = now + remainingMs;
    const usableMs = remainingMs - Math.min(UNBOUNDED_RESERVE_MS, remainingMs / 2);
    const usableEnd = now + usableMs;
    const before = (marginMs: number, share: number) => usableEnd - Math.min(marginMs, usableMs * share);
    this.abandonAt = before(options.abandonMarginMs, SHARE.abandon);
    // A record started after the abandon time would run after its nack was already answered.
    this.startBy = Math.min(before(options.deadlineMarginMs, SHARE.start), this.abandonAt);
    this.effectsBy = before(EFFECTS_MARGIN_MS, SHARE.effects);
    this.respondBy = before(RESPOND_MARGIN_MS, SHARE.respond);
  }

  /** Whether the invocation has a deadline at all. */
  get bounded(): boolean {
    return Number.isFinite(this.deadline);
  }

  /** Whether a record may still be started. */
  canStart(now: number = Date.now()): boolean {
    return !this.disposed && now < this.startBy;
  }

  /** Milliseconds left until `at`, never negative (`Infinity` outside Lambda). */
  msUntil(at: number, now: number = Date.now()): number {
    return Math.max(0, at - now);
  }

  /** Epoch ms at which `phase` ends: claims end when handlers are abandoned. */
  endOf(phase: Phase): number {
    return phase === 'claim' ? this.abandonAt : phase === 'effects' ? this.effectsBy : this.respondBy;
  }

  /**
   * The abort signal of one AWS call made in `phase`: it fires when the phase ends, or after
   * {@link UNBOUNDED_CALL_TIMEOUT_MS} when there is no deadline.
   */
  signal(phase: Phase): AbortSignal {
    if (this.disposed) return AbortSignal.abort(new DeadlineExceededError('respond'));
    if (!this.bounded) return AbortSignal.timeout(UNBOUNDED_CALL_TIMEOUT_MS);
    let signal = this.signals.get(phase);
    if (!signal && this.msUntil(this.endOf(phase)) === 0) {
      signal = AbortSignal.abort(new DeadlineExceededError(phase));
      this.signals.set(phase, signal);
    }
    if (!signal) {
      const controller = new AbortController();
      const timer = setTimeout(
        () => controller.abort(new DeadlineExceededError(phase)),
        this.msUntil(this.endOf(phase)),
      );
      timer.unref?.();
      this.timers.push(timer);
      this.controllers.push(controller);
      signal = controller.signal;
      this.signals.set(phase, signal);
    }
    return signal;
  }

  /** Resolves when `at` is reached (never, outside Lambda); `cancel` drops the timer. */
  until(at: number): { reached: Promise<void>; cancel: () => void } {
    if (!Number.isFinite(at)) return { reached: new Promise<void>(() => {}), cancel: () => {} };
    let timer: NodeJS.Timeout | undefined;
    const reached = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.msUntil(at));
    });
    return { reached, cancel: () => clearTimeout(timer) };
  }

  /**
   * Ends every phase (call once the invocation has answered): calls still out are aborted, no call
   * or record of this invocation starts after its response, and no retry goes on.
   */
  dispose(): void {
    this.disposed = true;
    for (const timer of this.timers) clearTimeout(timer);
    for (const controller of this.controllers) {
      if (!controller.signal.aborted) controller.abort(new DeadlineExceededError('respond'));
    }
  }
}
