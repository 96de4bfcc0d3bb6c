import { describe, expect, it } from 'vitest';
import { nackVisibilityTimeout, SQS_MAX_VISIBILITY_TIMEOUT_SECONDS } from '../../lib/index.ts';

const options = { baseSeconds: 2, maxSeconds: 900 };

describe('nackVisibilityTimeout', () => {
  it('doubles with every receive, between half and all of the exponential step', () => {
    for (const [receiveCount, ceiling] of [
      [1, 2],
      [2, 4],
      [3, 8],
      [6, 64],
    ]) {
      expect(nackVisibilityTimeout(receiveCount, options, () => 0)).toBe(ceiling / 2);
      expect(nackVisibilityTimeout(receiveCount, options, () => 0.999999)).toBe(ceiling);
    }
  });

  it('never exceeds maxSeconds', () => {
    expect(nackVisibilityTimeout(40, options, () => 0.999999)).toBe(900);
    expect(nackVisibilityTimeout(40, options, () => 0)).toBe(450);
  });

  it('is bounded by the SQS maximum even when maxSeconds is larger', () => {
    const huge = { baseSeconds: 10, maxSeconds: 10 ** 9 };
    expect(nackVisibilityTimeout(1000, huge, () => 0.999999)).toBe(SQS_MAX_VISIBILITY_TIMEOUT_SECONDS);
  });

  it('spreads records that failed together (jitter)', () => {
    const values = new Set(Array.from({ length: 50 }, () => nackVisibilityTimeout(8, options)));
    expect(values.size).toBeGreaterThan(10);
  });
});
