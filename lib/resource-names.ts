/**
 * Resource names in a shared cloud. `FANOUT_RESOURCE_PREFIX` puts a prefix before every topic, queue
 * and table name that local provisioning creates, so that several runs (or test files) can share one
 * endpoint — moto, LocalStack, an AWS sandbox account — without colliding. The consumer group of a
 * queue is its name without the prefix (and without `.fifo`).
 */
export const RESOURCE_PREFIX_VARIABLE = 'FANOUT_RESOURCE_PREFIX';

/** The prefix of provisioned resource names; '' when none is set. */
export function resourcePrefix(): string {
  return process.env[RESOURCE_PREFIX_VARIABLE] ?? '';
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
