/**
 * Local traces: `fanout dev` records every span its publishers and consumers make to a JSON-lines
 * file; `fanout trace <event id>` reads that file and prints the path of one event across groups and
 * hops as a tree (publish → group A process → publish → group B process).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { context, type HrTime, type SpanContext, trace } from '@opentelemetry/api';
import { EVENT_ID_SPAN_ATTRIBUTE, OUTCOME_SPAN_ATTRIBUTE } from '../lib/index.ts';
import { CliError, startCommand } from './target.ts';

/** Where `fanout dev` records spans, relative to the project root. */
export const TRACE_FILE = path.join('.fanout', 'traces.jsonl');

/** One finished span, as recorded (one JSON line each). */
export interface SpanRecord {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  /** Start, epoch milliseconds. */
  readonly startMs: number;
  readonly durationMs: number;
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** What a span of the OpenTelemetry SDK offers (`ReadableSpan`), as far as a record needs. */
export interface FinishedSpan {
  readonly name: string;
  spanContext(): SpanContext;
  readonly parentSpanContext?: SpanContext;
  readonly startTime: HrTime;
  readonly duration: HrTime;
  readonly attributes: Readonly<Record<string, unknown>>;
}

const ms = ([seconds, nanos]: HrTime) => seconds * 1000 + nanos / 1e6;

/** The record of a finished SDK span. */
export function spanRecord(span: FinishedSpan): SpanRecord {
  const { traceId, spanId } = span.spanContext();
  return {
    traceId,
    spanId,
    ...(span.parentSpanContext ? { parentSpanId: span.parentSpanContext.spanId } : {}),
    name: span.name,
    startMs: Math.round(ms(span.startTime)),
    durationMs: Math.round(ms(span.duration) * 10) / 10,
    attributes: span.attributes,
  };
}

/**
 * Registers an in-process OpenTelemetry SDK that appends every finished span to `file` (emptied
 * first), with an AsyncLocalStorage context manager. Needs the optional `@opentelemetry/sdk-trace-base`
 * and `@opentelemetry/context-async-hooks`; without them it records nothing and says why.
 */
export async function recordTraces(file: string): Promise<{ readonly file?: string; readonly why?: string }> {
  let sdk: typeof import('@opentelemetry/sdk-trace-base');
  let hooks: typeof import('@opentelemetry/context-async-hooks');
  try {
    [sdk, hooks] = await Promise.all([
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/context-async-hooks'),
    ]);
  } catch {
    return {
      why: 'install @opentelemetry/sdk-trace-base and @opentelemetry/context-async-hooks to record traces',
    };
  }
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, '');
  const processor = {
    onStart() {},
    onEnd(span: FinishedSpan) {
      appendFileSync(file, `${JSON.stringify(spanRecord(span))}\n`);
    },
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  trace.setGlobalTracerProvider(new sdk.BasicTracerProvider({ spanProcessors: [processor] }));
  context.setGlobalContextManager(new hooks.AsyncLocalStorageContextManager().enable());
  return { file };
}

/** The spans recorded in `file`. @throws CliError when there is no such file. */
export function readSpans(file: string): SpanRecord[] {
  if (!existsSync(file)) {
    throw new CliError(
      `no recorded traces at ${file}: run \`${startCommand()}\` first; it records them there`,
    );
  }
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as SpanRecord);
}

/** The spans of the trace that event `id` belongs to (or of trace `id`), in start order. */
export function spansOfEvent(spans: readonly SpanRecord[], id: string): SpanRecord[] {
  const traceId =
    spans.find((s) => s.attributes[EVENT_ID_SPAN_ATTRIBUTE] === id)?.traceId ??
    spans.find((s) => s.traceId === id)?.traceId;
  if (!traceId) return [];
  return spans.filter((s) => s.traceId === traceId).sort((a, b) => a.startMs - b.startMs);
}

/**
 * One trace as a tree, one line per span: its name, the outcome of a consumer span, its duration and
 * the event it carries. A span whose parent was not recorded (another process) starts a root line.
 */
export function renderTraceTree(spans: readonly SpanRecord[]): string[] {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, SpanRecord[]>();
  const roots: SpanRecord[] = [];
  for (const span of spans) {
    if (span.parentSpanId && ids.has(span.parentSpanId)) {
      const list = children.get(span.parentSpanId) ?? [];
      list.push(span);
      children.set(span.parentSpanId, list);
    } else roots.push(span);
  }
  const lines: string[] = spans.length > 0 ? [`trace ${spans[0].traceId}`] : [];
  const walk = (span: SpanRecord, prefix: string, last: boolean, parentEvent?: unknown) => {
    lines.push(`${prefix}${last ? '└─ ' : '├─ '}${describe(span, parentEvent)}`);
    const below = children.get(span.spanId) ?? [];
    for (const [n, child] of below.entries()) {
      const event = span.attributes[EVENT_ID_SPAN_ATTRIBUTE];
      walk(child, `${prefix}${last ? '   ' : '│  '}`, n === below.length - 1, event);
    }
  };
  for (const [n, root] of roots.entries()) walk(root, '', n === roots.length - 1);
  return lines;
}

/** A span's line; the event id only where it differs from the parent's. */
function describe(span: SpanRecord, parentEvent: unknown): string {
  const outcome = span.attributes[OUTCOME_SPAN_ATTRIBUTE];
  const event = span.attributes[EVENT_ID_SPAN_ATTRIBUTE];
  return [
    span.name,
    outcome ? `[${outcome}]` : undefined,
    `${span.durationMs} ms`,
    event && event !== parentEvent ? `event ${event}` : undefined,
  ]
    .filter(Boolean)
    .join('  ');
}

/** The event whose trace has the most spans (the demo's longest path), for `dev --verbose`. */
export function busiestEvent(spans: readonly SpanRecord[]): string | undefined {
  const perTrace = new Map<string, number>();
  for (const s of spans) perTrace.set(s.traceId, (perTrace.get(s.traceId) ?? 0) + 1);
  const best = [...perTrace.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  const root = spans.find((s) => s.traceId === best && s.attributes[EVENT_ID_SPAN_ATTRIBUTE] !== undefined);
  return root?.attributes[EVENT_ID_SPAN_ATTRIBUTE] as string | undefined;
}

/** Prints the trace of the demo's busiest event (or why there is none), for `dev --verbose`. */
export function printBusiestTrace(
  recording: { readonly file?: string; readonly why?: string },
  out: NodeJS.WritableStream,
): void {
  if (!recording.file) {
    out.write(`No trace recorded: ${recording.why}\n`);
    return;
  }
  const spans = readSpans(recording.file);
  const event = busiestEvent(spans);
  if (!event) return;
  out.write(`\nOne event's path (fanout trace <event id> shows any other):\n`);
  out.write(`${renderTraceTree(spansOfEvent(spans, event)).join('\n')}\n`);
}
