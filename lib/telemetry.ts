import { channel } from 'node:diagnostics_channel';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/** Counters of one batch, emitted as CloudWatch embedded-metric-format metrics. */
export interface BatchCounts {
  processed: number;
  failed: number;
  duplicate: number;
  poison: number;
  /** Records nacked without running: deadline, FIFO order after a failure, live lease elsewhere. */
  deferred: number;
  /** Records nacked because they were still being claimed or handled when the invocation had to answer. */
  abandoned: number;
}

/**
 * Diagnostics channel on which every consumer publishes `{ group, counts }` after each batch.
 * Local tools (the dev command, the runner) subscribe to it; with no subscriber it costs nothing.
 */
export const BATCH_CHANNEL = 'fanout:consumer:batch';
const batchChannel = channel(BATCH_CHANNEL);

/** What {@link BATCH_CHANNEL} carries. */
export interface BatchReport {
  readonly group: string;
  readonly counts: BatchCounts;
}

/** Logging and metrics of a consumer; Powertools Logger and Metrics by default. */
export interface Telemetry {
  readonly logger: Logger;
  /** Emits the batch's counters and handler durations. */
  reportBatch(counts: BatchCounts, handlerDurationsMs: readonly number[]): void;
}

/** Options of the consumer's telemetry. */
export interface TelemetryOptions {
  /**
   * Powertools Logger to log with (JSON, one line per event).
   * @default a Logger with the group as service name; level from POWERTOOLS_LOG_LEVEL
   */
  readonly logger?: Logger;
  /**
   * Powertools Metrics to emit with, or `false` for none.
   * @default Metrics in namespace `fanout` (or POWERTOOLS_METRICS_NAMESPACE), dimension service = group
   */
  readonly metrics?: Metrics | false;
}

/** Builds the telemetry of consumer group `group`. */
export function createTelemetry(group: string, options: TelemetryOptions): Telemetry {
  const logger = options.logger ?? new Logger({ serviceName: group, persistentKeys: { group } });
  const metrics =
    options.metrics === false ||
    (options.metrics === undefined && process.env.POWERTOOLS_METRICS_DISABLED === 'true')
      ? undefined
      : (options.metrics ??
        new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'fanout', serviceName: group }));
  return {
    logger,
    reportBatch(counts, durations) {
      if (batchChannel.hasSubscribers) batchChannel.publish({ group, counts } satisfies BatchReport);
      if (!metrics) return;
      metrics.addMetric('Processed', MetricUnit.Count, counts.processed);
      metrics.addMetric('Failed', MetricUnit.Count, counts.failed);
      metrics.addMetric('Duplicate', MetricUnit.Count, counts.duplicate);
      metrics.addMetric('Poison', MetricUnit.Count, counts.poison);
      metrics.addMetric('Deferred', MetricUnit.Count, counts.deferred);
      metrics.addMetric('Abandoned', MetricUnit.Count, counts.abandoned);
      for (const ms of durations) metrics.addMetric('HandlerDuration', MetricUnit.Milliseconds, ms);
      metrics.publishStoredMetrics();
    },
  };
}
