/**
 * Gathers single requests (an idempotency write, a DLQ send) into batch calls.
 *
 * A request is sent soon after it is made: at once when a batch is full, when no record of the
 * invocation is still claiming or handling (nothing else could join), or at the latest `lingerMs`
 * after the oldest waiting request. So a batch of quick records costs one call, and a record's
 * effect is never held back by the slowest record of its batch.
 */

export interface CoalescerOptions<T, R> {
  /** Most requests in one call. */
  readonly maxItems: number;
  /** Most bytes in one call, with {@link CoalescerOptions.sizeOf}. */
  readonly maxBytes?: number;
  readonly sizeOf?: (item: T) => number;
  /** Longest wait of a request before its call is sent, in ms. */
  readonly lingerMs: number;
  /** Whether records are still running (more requests may come soon). */
  readonly busy: () => boolean;
  /** Sends one call; resolves with one result per item, in order. Must not reject. */
  readonly send: (items: readonly T[]) => Promise<R[]>;
}

interface Waiting<T, R> {
  readonly item: T;
  /** When it was submitted (epoch ms): the linger counts from the oldest waiting request. */
  readonly at: number;
  readonly resolve: (result: R) => void;
}

export class Coalescer<T, R> {
  private waiting: Waiting<T, R>[] = [];
  private lingerTimer: NodeJS.Timeout | undefined;
  private checkScheduled = false;
  private readonly options: CoalescerOptions<T, R>;

  constructor(options: CoalescerOptions<T, R>) {
    this.options = options;
  }

  /** Queues `item`; resolves with its result once its call has answered. */
  submit(item: T): Promise<R> {
    return new Promise<R>((resolve) => {
      this.waiting.push({ item, resolve, at: Date.now() });
      this.scheduleCheck();
    });
  }

  /** Sends whatever waits, now (records that finished together join within the same turn). */
  nudge(): void {
    this.scheduleCheck();
  }

  private scheduleCheck(): void {
    if (this.checkScheduled) return;
    this.checkScheduled = true;
    // One macrotask later: records that finish in the same turn join the same call.
    setImmediate(() => {
      this.checkScheduled = false;
      this.check();
    });
  }

  private check(): void {
    // Send every full call (by count or by bytes); the rest waits unless nothing else is running.
    for (;;) {
      const size = this.callSize(this.waiting);
      const full = size < this.waiting.length || size === this.options.maxItems;
      if (this.waiting.length === 0 || !full) break;
      this.flush(size);
    }
    if (this.waiting.length === 0) return;
    if (!this.options.busy()) {
      this.flush(this.waiting.length);
      return;
    }
    const waited = Date.now() - this.waiting[0].at;
    this.lingerTimer ??= setTimeout(
      () => {
        this.lingerTimer = undefined;
        this.flush(this.waiting.length);
      },
      Math.max(0, this.options.lingerMs - waited),
    );
  }

  /** Sends the first `count` waiting requests, split into calls that respect the limits. */
  private flush(count: number): void {
    // The linger timer belonged to the oldest waiting request; what is left gets a timer of its own.
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    if (count < this.waiting.length) this.scheduleCheck();
    let taken = this.waiting.splice(0, count);
    while (taken.length > 0) {
      const size = this.callSize(taken);
      const call = taken.slice(0, size);
      taken = taken.slice(size);
      void this.options.send(call.map((w) => w.item)).then((results) => {
        call.forEach((w, n) => {
          w.resolve(results[n]);
        });
      });
    }
  }

  private callSize(items: readonly Waiting<T, R>[]): number {
    const { maxItems, maxBytes, sizeOf } = this.options;
    let bytes = 0;
    let n = 0;
    for (; n < Math.min(items.length, maxItems); n++) {
      if (maxBytes !== undefined && sizeOf) {
        bytes += sizeOf(items[n].item);
        if (bytes > maxBytes && n > 0) break;
      }
    }
    return Math.max(1, n);
  }
}
