import { describe, expect, it } from 'vitest';
import { type ScaleWindow, scaleTable } from '../../bench/scale.ts';

const window = (deliveries: number): ScaleWindow => ({
  deliveries,
  seconds: 40.5,
  deliveriesPerSecond: 247,
  dynamodbRequestsPerRecord: 1.1,
  runnerRssMiB: 500,
  runnerHeapMiB: 100,
  emulatorRssMiB: 500,
  emulatorHeapMiB: 120,
  idempotencyItems: 4200,
  loadAverage: 2.5,
});

describe('scaleTable', () => {
  it('is one Markdown row per window, in order, under a header naming every column', () => {
    const lines = scaleTable([window(10_000), window(20_000)]).split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe(
      '| deliveries | seconds | deliveries/s | DynamoDB req/record | runner RSS MiB | runner heap MiB | emulator RSS MiB | emulator heap MiB | idempotency items | load average |',
    );
    expect(lines[2]).toBe('| 10000 | 40.5 | 247 | 1.1 | 500 | 100 | 500 | 120 | 4200 | 2.5 |');
    expect(lines[3].startsWith('| 20000 |')).toBe(true);
  });
});
