import { describe, expect, it } from 'vitest';
import { Coalescer } from '../../../lib/consumer/coalescer.ts';

function recorder(
  busy: () => boolean,
  options: { maxItems?: number; maxBytes?: number; lingerMs?: number } = {},
) {
  const calls: number[][] = [];
  const coalescer = new Coalescer<number, boolean>({
    maxItems: options.maxItems ?? 25,
    maxBytes: options.maxBytes,
    sizeOf: (n) => n,
    lingerMs: options.lingerMs ?? 10_000,
    busy,
    send: async (items) => {
      calls.push([...items]);
      return items.map(() => true);
    },
  });
  return { calls, coalescer };
}

describe('Coalescer: single requests gathered into batch calls', () => {
  it('sends requests made in the same turn together once nothing else is running', async () => {
    const { calls, coalescer } = recorder(() => false);
    const results = await Promise.all([1, 2, 3].map((n) => coalescer.submit(n)));
    expect(results).toEqual([true, true, true]);
    expect(calls).toEqual([[1, 2, 3]]);
  });

  it('sends a full call at once while records still run, and keeps the rest for later', async () => {
    let busy = true;
    const { calls, coalescer } = recorder(() => busy, { maxItems: 2 });
    const first = [1, 2, 3].map((n) => coalescer.submit(n));
    await Promise.all(first.slice(0, 2));
    expect(calls).toEqual([[1, 2]]);
    busy = false;
    coalescer.nudge();
    await first[2];
    expect(calls).toEqual([[1, 2], [3]]);
  });

  it('splits calls by total size as well as count', async () => {
    const { calls, coalescer } = recorder(() => false, { maxBytes: 10 });
    await Promise.all([6, 6, 3, 9].map((n) => coalescer.submit(n)));
    expect(calls).toEqual([[6], [6, 3], [9]]);
  });

  it('sends after the linger time while records keep running', async () => {
    const { calls, coalescer } = recorder(() => true, { lingerMs: 20 });
    const started = Date.now();
    await coalescer.submit(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
    expect(calls).toEqual([[1]]);
  });
});
