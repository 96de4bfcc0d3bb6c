import { DYNAMODB_MAX_BATCH_WRITE_ITEMS } from '../aws-limits.ts';
import type { IdempotencyStore, KeyWrite } from '../idempotency-store.ts';
import { Coalescer } from './coalescer.ts';
import { retryUntilDone } from './effect-retry.ts';

/** Longest wait of a completion or release before its BatchWriteItem call goes out, in ms. */
export const KEY_WRITE_LINGER_MS = 100;

/**
 * Writes completions and releases soon after each record's own handler ends, gathered with the
 * writes of its neighbours into `BatchWriteItem` calls of up to 25. A call that fails or leaves items
 * unprocessed is retried within the invocation's effects phase; each write resolves `true` once it is
 * stored, `false` if it could not be stored in time (never rejects).
 */
export class KeyWriter {
  private readonly coalescer: Coalescer<KeyWrite, boolean>;

  constructor(store: IdempotencyStore, signal: () => AbortSignal, busy: () => boolean) {
    this.coalescer = new Coalescer<KeyWrite, boolean>({
      maxItems: DYNAMODB_MAX_BATCH_WRITE_ITEMS,
      lingerMs: KEY_WRITE_LINGER_MS,
      busy,
      send: async (writes) => {
        const failed = await retryUntilDone(
          writes,
          async (pending) => {
            const unprocessed = await store.writeKeys(pending, { signal: signal() });
            return pending.filter((w) => unprocessed.has(w.key));
          },
          signal,
        );
        return writes.map((w) => !failed.includes(w));
      },
    });
  }

  /** Stores `write`; resolves whether it was stored. */
  write(write: KeyWrite): Promise<boolean> {
    return this.coalescer.submit(write);
  }

  /** Sends waiting writes now (call when no record is running any more). */
  nudge(): void {
    this.coalescer.nudge();
  }
}
