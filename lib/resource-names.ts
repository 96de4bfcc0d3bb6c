import { ConfigError } from './errors.ts';

/**
 * Resource names in a shared cloud. `FANOUT_RESOURCE_PREFIX` puts a prefix before every topic, queue
 * and table name that local provisioning creates, so that several runs (or test files) can share one
 * endpoint — moto, LocalStack, an AWS sandbox account — without colliding. The consumer group of a
 * queue is its name without the prefix (and without `.fifo`).
 */
export const RESOURCE_PREFIX_VARIABLE = 'FANOUT_RESOURCE_PREFIX';

/** The longest prefix: it must leave room for a group's queue name (SQS allows 80 characters). */
export const MAX_RESOURCE_PREFIX_LENGTH = 20;

/**
 * The prefix of provisioned resource names; '' when none is set.
 * @throws ConfigError when it has characters SNS, SQS or DynamoDB names refuse, or is too long.
 */
export function resourcePrefix(): string {
  const prefix = process.env[RESOURCE_PREFIX_VARIABLE] ?? '';
  if (!/^[A-Za-z0-9_-]*$/.test(prefix) || prefix.length > MAX_RESOURCE_PREFIX_LENGTH) {
    throw new ConfigError(
      RESOURCE_PREFIX_VARIABLE,
      `'${prefix}' is not a usable name prefix`,
      `Use letters, digits, '-' and '_' only, at most ${MAX_RESOURCE_PREFIX_LENGTH} characters (e.g. 'ci-42-')`,
    );
  }
  return prefix;
}

/** `name` as provisioned: with the prefix. */
export function prefixed(name: string): string {
  return `${resourcePrefix()}${name}`;
}

/** A provisioned queue name back to its consumer group: without the prefix and `.fifo`. */
export function groupOfQueueName(queueName: string): string {
  const prefix = resourcePrefix();
  const name = prefix && queueName.startsWith(prefix) ? queueName.slice(prefix.length) : queueName;
  return name.replace(/\.fifo$/, '');
}
