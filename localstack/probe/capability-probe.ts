import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns';
import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import { createSqsClient, FanoutError, prefixed } from '../../lib/index.ts';
import { startEmbeddedCloud } from '../emulator/embedded-cloud.ts';
import { queueChecks } from './queue-checks.ts';
import {
  type Check,
  type CheckOutcome,
  describeError,
  type ProbeContext,
  type ProbeResult,
  randomSuffix,
  sleep,
} from './support.ts';
import { tableChecks } from './table-checks.ts';
import { topicChecks } from './topic-checks.ts';

export type { ProbeResult, ProbeVerdict } from './support.ts';

/**
 * The capability probe: measures, on any endpoint, the behaviours of SNS, SQS and DynamoDB that fanout
 * depends on. Each check creates its own uniquely named queues, topics, subscriptions and tables,
 * deletes them afterwards (also when it fails), and is bounded in time; the checks run concurrently.
 */
export const CHECKS: readonly Check[] = [...queueChecks, ...topicChecks, ...tableChecks];

/** The endpoint answers nothing at all (no service of the three could be reached). */
export class ProbeUnreachableError extends FanoutError {
  constructor(message: string) {
    super('FANOUT_PROBE_UNREACHABLE', message);
  }
}

/** Options of {@link runCapabilityProbe}. */
export interface ProbeOptions {
  /**
   * SNS, SQS and DynamoDB endpoint. Without it the standard variables (`AWS_ENDPOINT_URL`,
   * `AWS_ENDPOINT_URL_SNS` / `_SQS` / `_DYNAMODB`) are used; without those, a fresh embedded emulator
   * is started on free ports, probed and stopped.
   */
  readonly endpoint?: string;
  /**
   * Only these check ids.
   * @default every check of {@link CHECKS}
   */
  readonly only?: readonly string[];
  /** Time limit of one check, cleanup excluded. @default 30000 */
  readonly checkTimeoutMs?: number;
}

/** What a probe run measured. */
export interface ProbeReport {
  /** The endpoints probed, e.g. `http://127.0.0.1:5000` or `embedded (fauxqs + dynalite) …`. */
  readonly target: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly results: readonly ProbeResult[];
}

const ENDPOINT_VARIABLES = [
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_SNS',
  'AWS_ENDPOINT_URL_SQS',
  'AWS_ENDPOINT_URL_DYNAMODB',
] as const;
const CLEANUP_TIMEOUT_MS = 10_000;

/** Runs the probe; throws {@link ProbeUnreachableError} only when no service answers at all. */
export async function runCapabilityProbe(options: ProbeOptions = {}): Promise<ProbeReport> {
  const startedAt = new Date();
  const saved = new Map(
    [
      ...ENDPOINT_VARIABLES,
      'AWS_REGION',
      'AWS_DEFAULT_REGION',
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
    ].map((k) => [k, process.env[k]]),
  );
  const preset = ENDPOINT_VARIABLES.some((k) => process.env[k]);
  const cloud = options.endpoint || preset ? undefined : await startEmbeddedCloud();
  let clients: Pick<ProbeContext, 'sqs' | 'sns' | 'dynamodb'> | undefined;
  try {
    if (cloud) Object.assign(process.env, cloud.env);
    if (options.endpoint) {
      process.env.AWS_ENDPOINT_URL_SNS = options.endpoint;
      process.env.AWS_ENDPOINT_URL_SQS = options.endpoint;
      process.env.AWS_ENDPOINT_URL_DYNAMODB = options.endpoint;
    }
    const urls = [
      ...new Set(
        ['SNS', 'SQS', 'DYNAMODB'].map(
          (s) => process.env[`AWS_ENDPOINT_URL_${s}`] ?? process.env.AWS_ENDPOINT_URL ?? 'AWS',
        ),
      ),
    ];
    // Emulators (plain http) take any credentials: dummy ones unless some are set. On https endpoints
    // (AWS) the SDK's usual credential chain and region apply untouched.
    if (urls.every((url) => url.startsWith('http://'))) {
      process.env.AWS_REGION ??= 'us-east-1';
      if (!process.env.AWS_ACCESS_KEY_ID) {
        process.env.AWS_ACCESS_KEY_ID = 'test';
        process.env.AWS_SECRET_ACCESS_KEY = 'test';
      }
    }
    const target = `${cloud ? 'embedded (fauxqs + dynalite) at ' : ''}${urls.join(', ')}`;

    clients = { sqs: createSqsClient(), sns: new SNSClient({}), dynamodb: new DynamoDBClient({}) };
    await assertReachable(clients, target);
    const ctxClients = clients;
    const checks = options.only ? CHECKS.filter((c) => options.only?.includes(c.id)) : CHECKS;
    const results = await Promise.all(
      checks.map((check) => runCheck(check, ctxClients, options.checkTimeoutMs ?? 30_000)),
    );
    return {
      target,
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      results,
    };
  } finally {
    for (const client of Object.values(clients ?? {})) client.destroy();
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await cloud?.stop();
  }
}

/** Fails only when none of SNS, SQS and DynamoDB gives any HTTP answer. */
async function assertReachable(
  clients: Pick<ProbeContext, 'sqs' | 'sns' | 'dynamodb'>,
  target: string,
): Promise<void> {
  const opts = { abortSignal: AbortSignal.timeout(5000) };
  const attempts = await Promise.allSettled([
    clients.sns.send(new ListTopicsCommand({}), opts),
    clients.sqs.send(new ListQueuesCommand({}), opts),
    clients.dynamodb.send(new ListTablesCommand({ Limit: 1 }), opts),
  ]);
  const answered = attempts.some(
    (a) =>
      a.status === 'fulfilled' ||
      (a.reason as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode !== undefined,
  );
  if (!answered) {
    const why = (attempts[0] as PromiseRejectedResult).reason;
    throw new ProbeUnreachableError(
      `cannot reach ${target} (${describeError(why)}): start the emulator there, or pass another --endpoint`,
    );
  }
}

/** Runs one check within its time limit, then its cleanups, and never throws. */
async function runCheck(
  check: Check,
  clients: Pick<ProbeContext, 'sqs' | 'sns' | 'dynamodb'>,
  timeoutMs: number,
): Promise<ProbeResult> {
  const started = Date.now();
  const abort = new AbortController();
  const cleanups: (() => Promise<unknown>)[] = [];
  const ctx: ProbeContext = {
    ...clients,
    opts: { abortSignal: abort.signal },
    name: (what, fifo) => `${prefixed('fanout-probe-')}${what}-${randomSuffix()}${fifo ? '.fifo' : ''}`,
    defer: (cleanup) => {
      cleanups.push(cleanup);
    },
  };
  let timer: NodeJS.Timeout | undefined;
  let outcome: CheckOutcome;
  const running = check.run(ctx);
  try {
    outcome = await Promise.race([
      running,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          abort.abort();
          reject(new Error(`timed out after ${timeoutMs / 1000} s`));
        }, timeoutMs);
      }),
    ]);
  } catch (error) {
    outcome = { result: 'error', detail: describeError(error) };
    // A check past its limit stops at its next aborted call; let it register what it created.
    await Promise.race([running.catch(() => undefined), sleep(5000)]);
  } finally {
    clearTimeout(timer);
  }
  const deadline = AbortSignal.timeout(CLEANUP_TIMEOUT_MS);
  for (const cleanup of cleanups.reverse()) {
    if (deadline.aborted) break;
    await Promise.race([
      cleanup().catch(() => undefined),
      new Promise((resolve) => deadline.addEventListener('abort', resolve, { once: true })),
    ]);
  }
  return {
    id: check.id,
    behaviour: check.behaviour,
    ...outcome,
    durationMs: Date.now() - started,
  };
}
