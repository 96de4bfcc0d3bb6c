import { describe, expect, it } from 'vitest';
import { lanesOf, runScheduled } from '../../../lib/consumer/batch-scheduler.ts';

type Item = { id: string; group?: string; fail?: boolean; ms?: number };

function delay(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('lanesOf', () => {
  it('keeps batch order inside a lane and gives ungrouped items a lane each', () => {
    const items: Item[] = [
      { id: 'a1', group: 'a' },
      { id: 'b1', group: 'b' },
      { id: 'x' },
      { id: 'a2', group: 'a' },
    ];
    expect(lanesOf(items, (i) => i.group).map((lane) => lane.map((i) => i.id))).toEqual([
      ['a1', 'a2'],
      ['b1'],
      ['x'],
    ]);
  });
});

describe('runScheduled', () => {
  it('runs a lane in order and skips the rest of it after a failure', async () => {
    const started: string[] = [];
    const items: Item[] = [
      { id: 'a1', group: 'a' },
      { id: 'a2', group: 'a', fail: true },
      { id: 'a3', group: 'a' },
      { id: 'b1', group: 'b' },
    ];
    const outcomes = await runScheduled(items, {
      laneOf: (i) => i.group,
      concurrency: 10,
      canStart: () => true,
      run: async (i) => {
        started.push(i.id);
        return i.fail ? 'failed' : 'ok';
      },
      failed: (r) => r === 'failed',
    });
    expect(started.filter((id) => id.startsWith('a'))).toEqual(['a1', 'a2']);
    expect(outcomes.get(items[2])).toEqual({ kind: 'skipped-after-failure' });
    expect(outcomes.get(items[3])).toEqual({ kind: 'ran', result: 'ok' });
  });

  it('runs different lanes concurrently, never more than the limit at once', async () => {
    let running = 0;
    let peak = 0;
    const items: Item[] = Array.from({ length: 12 }, (_, n) => ({ id: String(n), ms: 20 }));
    await runScheduled(items, {
      laneOf: () => undefined,
      concurrency: 4,
      canStart: () => true,
      run: async (i) => {
        running++;
        peak = Math.max(peak, running);
        await delay(i.ms ?? 0);
        running--;
        return 'ok';
      },
      failed: () => false,
    });
    expect(peak).toBe(4);
  });

  it('with startApart, starts a lane once the call of the one before is sent; without, all at once', async () => {
    const order = async (startApart: boolean) => {
      const events: string[] = [];
      // Stands for an AWS SDK call: a chain of awaited steps, then the write to the socket.
      const sdkCall = async (id: string) => {
        for (let step = 0; step < 20; step++) await Promise.resolve();
        events.push(`sent ${id}`);
      };
      await runScheduled(
        Array.from({ length: 3 }, (_, n): Item => ({ id: String(n) })),
        {
          laneOf: () => undefined,
          concurrency: 10,
          canStart: () => true,
          startApart,
          run: async (i) => {
            events.push(`start ${i.id}`);
            await sdkCall(i.id);
            return 'ok';
          },
          failed: () => false,
        },
      );
      return events;
    };
    expect(await order(true)).toEqual(['start 0', 'sent 0', 'start 1', 'sent 1', 'start 2', 'sent 2']);
    expect(await order(false)).toEqual(['start 0', 'start 1', 'start 2', 'sent 0', 'sent 1', 'sent 2']);
  });

  it('does not start items once canStart says no, and keeps lane order after that', async () => {
    let budget = 2;
    const items: Item[] = [
      { id: 'a1', group: 'a' },
      { id: 'a2', group: 'a' },
      { id: 'a3', group: 'a' },
    ];
    const outcomes = await runScheduled(items, {
      laneOf: (i) => i.group,
      concurrency: 1,
      canStart: () => budget-- > 0,
      run: async () => 'ok',
      failed: () => false,
    });
    expect(outcomes.get(items[1])).toEqual({ kind: 'ran', result: 'ok' });
    expect(outcomes.get(items[2])).toEqual({ kind: 'skipped-deadline' });
  });
});
