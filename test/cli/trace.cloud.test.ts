import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const projectRoot = path.resolve(import.meta.dirname, '../..');

async function fanout(...args: string[]) {
  try {
    const { stdout, stderr } = await exec('node', ['cli/fanout.ts', ...args], {
      cwd: projectRoot,
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout: string; stderr: string };
    return { code: e.code ?? 1, stdout: e.stdout, stderr: e.stderr };
  }
}

const line = (spanId: string, name: string, extra: object = {}) =>
  JSON.stringify({
    traceId: 'abc',
    spanId,
    name,
    startMs: Number(spanId),
    durationMs: 3,
    attributes: {},
    ...extra,
  });

describe('fanout trace', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fanout-trace-'));
  const file = path.join(dir, 'traces.jsonl');
  writeFileSync(
    file,
    [
      line('1', 'orders publish', { attributes: { 'cloudevents.event_id': 'e-1' } }),
      line('2', 'audit process OrderPlaced', {
        parentSpanId: '1',
        attributes: { 'cloudevents.event_id': 'e-1', 'fanout.outcome': 'processed' },
      }),
    ].join('\n'),
  );

  it("prints an event's recorded path as a tree", async () => {
    const result = await fanout('trace', 'e-1', '--file', file);
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toEqual([
      'trace abc',
      '└─ orders publish  3 ms  event e-1',
      '   └─ audit process OrderPlaced  [processed]  3 ms',
    ]);
  });

  it('says what to do when nothing was recorded, or the event is not there', async () => {
    const missing = await fanout('trace', 'e-1', '--file', path.join(dir, 'none.jsonl'));
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/no recorded traces at .*none\.jsonl: run `npm start`/);
    const unknown = await fanout('trace', 'e-9', '--file', file);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/no recorded span carries event or trace 'e-9'/);
  });
});
