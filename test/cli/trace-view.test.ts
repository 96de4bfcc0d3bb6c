import { describe, expect, it } from 'vitest';
import { busiestEvent, renderTraceTree, type SpanRecord, spansOfEvent } from '../../cli/trace.ts';

const span = (spanId: string, name: string, extra: Partial<SpanRecord> = {}): SpanRecord => ({
  traceId: 't1',
  spanId,
  name,
  startMs: Number.parseInt(spanId, 16),
  durationMs: 2,
  attributes: {},
  ...extra,
});

const recorded = [
  span('1', 'orders publish', { attributes: { 'cloudevents.event_id': 'e-1' } }),
  span('2', 'audit process OrderPlaced', {
    parentSpanId: '1',
    attributes: { 'cloudevents.event_id': 'e-1', 'fanout.outcome': 'processed' },
  }),
  span('3', 'billing process OrderPlaced', {
    parentSpanId: '1',
    attributes: { 'cloudevents.event_id': 'e-1', 'fanout.outcome': 'failed' },
  }),
  span('4', 'other publish', { traceId: 't2', attributes: { 'cloudevents.event_id': 'e-2' } }),
];

describe('the local trace view', () => {
  it('finds the spans of an event by event id or trace id, in start order', () => {
    expect(spansOfEvent(recorded, 'e-1').map((s) => s.spanId)).toEqual(['1', '2', '3']);
    expect(spansOfEvent(recorded, 't2').map((s) => s.spanId)).toEqual(['4']);
    expect(spansOfEvent(recorded, 'unknown')).toEqual([]);
  });

  it('draws children under their parent, with outcomes; the event id only where it changes', () => {
    expect(renderTraceTree(spansOfEvent(recorded, 'e-1'))).toEqual([
      'trace t1',
      '└─ orders publish  2 ms  event e-1',
      '   ├─ audit process OrderPlaced  [processed]  2 ms',
      '   └─ billing process OrderPlaced  [failed]  2 ms',
    ]);
  });

  it('a span whose parent was recorded elsewhere (another process) starts its own root line', () => {
    const lines = renderTraceTree([span('5', 'audit process X', { parentSpanId: 'ff' })]);
    expect(lines).toEqual(['trace t1', '└─ audit process X  2 ms']);
  });

  it('dev --verbose picks the event with the most spans', () => {
    expect(busiestEvent(recorded)).toBe('e-1');
  });
});
