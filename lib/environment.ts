/**
 * The environment-variable contract between the deployment (`infra/` constructs, or `fanout/local`)
 * and the runtime library: every variable one sets and the other reads is named here, once.
 */
import { ConfigError } from './errors.ts';

/** The group a consumer function belongs to (set on every group function). */
export const GROUP_VARIABLE = 'FANOUT_GROUP';
/** The idempotency table's name (set on every group function). */
export const IDEMPOTENCY_TABLE_VARIABLE = 'FANOUT_IDEMPOTENCY_TABLE';
/** The URL of the group's dead-letter queue, where poison records go at once. */
export const DEAD_LETTER_QUEUE_URL_VARIABLE = 'FANOUT_DLQ_URL';
/** The `source` a {@link Publisher} stamps on envelopes. */
export const SOURCE_VARIABLE = 'FANOUT_SOURCE';
/** The bucket that holds payloads too large for a topic (set where a topic offloads large payloads). */
export const PAYLOAD_BUCKET_VARIABLE = 'FANOUT_PAYLOAD_BUCKET';
/**
 * The largest message the group's DLQ takes, in bytes (set where a group's topics take messages above
 * 256 KiB and its DLQ is raised to SQS's 1 MiB; unset, the consumer assumes 256 KiB, what every queue takes).
 */
export const DEAD_LETTER_MAX_MESSAGE_BYTES_VARIABLE = 'FANOUT_DLQ_MAX_MESSAGE_BYTES';

/**
 * The variable that holds a topic's ARN in a group function that publishes to it (the topology's
 * `publishes`): `FANOUT_TOPIC_<NAME>_ARN`, the name upper-cased with every other character as `_`
 * (`payments` → `FANOUT_TOPIC_PAYMENTS_ARN`, `ledger.fifo` → `FANOUT_TOPIC_LEDGER_FIFO_ARN`).
 */
export function topicArnVariable(topic: string): string {
  return `FANOUT_TOPIC_${topic.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_ARN`;
}

/**
 * The ARN of a topic the current function publishes to, from {@link topicArnVariable}.
 * @throws ConfigError naming the variable when it is not set (the group does not list the topic in `publishes`).
 */
export function topicArn(topic: string, env: NodeJS.ProcessEnv = process.env): string {
  const variable = topicArnVariable(topic);
  const arn = env[variable];
  if (!arn) {
    throw new ConfigError(
      variable,
      `is not set, so topic '${topic}' has no ARN here`,
      `Add '${topic}' to the group's publishes in the topology (the stack and fanout/local then set it), or set ${variable}`,
    );
  }
  return arn;
}
