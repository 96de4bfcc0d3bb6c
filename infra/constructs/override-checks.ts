import { type Duration, aws_sqs as sqs, Token } from 'aws-cdk-lib';
import { ConfigError, type Group, SNS_DEFAULT_MAX_MESSAGE_BYTES } from '../../lib/index.ts';
import type { ConsumerGroupProps } from './consumer-group.ts';

/** The override props of a group that {@link checkOverrides} reads. */
export type OverrideProps = Pick<
  ConsumerGroupProps,
  'queueProps' | 'deadLetterQueueProps' | 'functionProps' | 'eventSourceProps' | 'maxMessageSizeBytes'
>;

/** Environment names fanout owns: its env-var contract (`lib/environment.ts`). */
const FANOUT_VARIABLE = /^FANOUT_/;

/**
 * The environment names Lambda reserves: it sets them itself and refuses a function configuration that sets
 * them (AWS Lambda Developer Guide, "Defined runtime environment variables"). Other `AWS_*` names, such as
 * `AWS_LAMBDA_EXEC_WRAPPER`, `AWS_NODEJS_CONNECTION_REUSE_ENABLED` or `AWS_ENDPOINT_URL_*`, are the function's
 * to set.
 */
export const LAMBDA_RESERVED_VARIABLES: readonly string[] = [
  '_HANDLER',
  '_X_AMZN_TRACE_ID',
  'AWS_DEFAULT_REGION',
  'AWS_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_ACCESS_KEY',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API',
  'LAMBDA_TASK_ROOT',
  'LAMBDA_RUNTIME_DIR',
  'TZ',
];

/**
 * Rejects overrides that would break a guarantee of the group: partial batch responses off (a failed record
 * of a partly failed batch would be deleted), the queue's redrive to its DLQ replaced or removed, the queue
 * under the AWS managed key alias/aws/sqs (SNS cannot deliver to it), a queue visibility timeout shorter than
 * the function's timeout, fanout's own environment variables (`FANOUT_*`) replaced,
 * and a variable Lambda reserves (which Lambda would refuse at deploy).
 * `where` names the hook in the message (`ConsumerGroup 'audit'`, `FanoutTopology.groupProps['audit']`).
 */
export function checkOverrides(where: string, group: Group, props: OverrideProps): void {
  const { queueProps, functionProps, eventSourceProps } = props;
  checkQueueSizes(where, props);
  if (
    eventSourceProps &&
    'reportBatchItemFailures' in eventSourceProps &&
    !eventSourceProps.reportBatchItemFailures
  )
    throw new ConfigError(
      `${where}.eventSourceProps.reportBatchItemFailures`,
      `must stay true (given ${String(eventSourceProps.reportBatchItemFailures)}): without it a failed record of a batch that partly succeeds is deleted with the batch`,
      'Remove reportBatchItemFailures from eventSourceProps',
    );
  if (queueProps && 'deadLetterQueue' in queueProps)
    throw new ConfigError(
      `${where}.queueProps.deadLetterQueue`,
      `fanout's redrive to the group's DLQ cannot be replaced or removed (given ${queueProps.deadLetterQueue ? 'a queue' : 'undefined'}): records that keep failing would be lost, or land where FANOUT_DLQ_URL does not point`,
      'Remove deadLetterQueue from queueProps; set maxReceiveCount on the group, or the DLQ through deadLetterQueueProps',
    );
  if (queueProps?.encryption === sqs.QueueEncryption.KMS_MANAGED)
    throw new ConfigError(
      `${where}.queueProps.encryption`,
      'SNS cannot deliver to a queue under the AWS managed key alias/aws/sqs (given QueueEncryption.KMS_MANAGED): its key policy cannot be changed to let SNS use it',
      'Leave encryption out (SSE-SQS), or give encryptionMasterKey, a customer managed key (fanout lets SNS use it)',
    );
  const visibility = seconds(queueProps?.visibilityTimeout) ?? group.visibilityTimeoutSeconds;
  const timeout = seconds(functionProps?.timeout) ?? group.timeoutSeconds;
  if (visibility < timeout) {
    const prop = functionProps?.timeout ? 'functionProps.timeout' : 'queueProps.visibilityTimeout';
    throw new ConfigError(
      `${where}.${prop}`,
      `the queue's visibility timeout must be at least the function's timeout (given ${visibility} s < ${timeout} s): a record would be received again while its first invocation still runs, and SQS event sources refuse it`,
      `Raise the visibility timeout to at least ${timeout} s (AWS recommends ${6 * timeout} s), or shorten the function's timeout`,
    );
  }
  const environment = functionProps?.environment ?? {};
  for (const name of Object.keys(environment)) {
    const given = JSON.stringify(environment[name]);
    if (FANOUT_VARIABLE.test(name))
      throw new ConfigError(
        `${where}.functionProps.environment`,
        `'${name}' is reserved (FANOUT_* names are fanout's) and would replace the value fanout wires (given ${given})`,
        'Use another name; fanout sets its own variables from the group, its table, DLQ, topics and bucket',
      );
    if (LAMBDA_RESERVED_VARIABLES.includes(name))
      throw new ConfigError(
        `${where}.functionProps.environment`,
        `'${name}' is reserved by Lambda, which sets it itself and refuses it in a function's configuration (given ${given})`,
        'Remove it; other AWS_* names (AWS_LAMBDA_EXEC_WRAPPER, AWS_NODEJS_CONNECTION_REUSE_ENABLED, AWS_ENDPOINT_URL_*) may be set',
      );
  }
}

/** Seconds of a duration known at synth; `undefined` when not given or a token. */
function seconds(duration: Duration | undefined): number | undefined {
  if (!duration || duration.isUnresolved()) return undefined;
  const value = duration.toSeconds();
  return Token.isUnresolved(value) ? undefined : value;
}

/**
 * Rejects a queue or DLQ size below the largest message the group's topics deliver: SNS could not deliver the
 * larger messages to the queue (and a subscription has no DLQ of its own), and a poison copy of one could not be
 * dead-lettered at once.
 */
function checkQueueSizes(where: string, props: OverrideProps): void {
  const delivered = props.maxMessageSizeBytes ?? SNS_DEFAULT_MAX_MESSAGE_BYTES;
  for (const prop of ['queueProps', 'deadLetterQueueProps'] as const) {
    const size = props[prop]?.maxMessageSizeBytes;
    if (size === undefined || Token.isUnresolved(size) || size >= delivered) continue;
    throw new ConfigError(
      `${where}.${prop}.maxMessageSizeBytes`,
      `is smaller than the largest message the group's topics deliver (given ${size} < ${delivered}): ${prop === 'queueProps' ? 'SNS could not deliver the larger messages to the queue' : 'a poison copy of a larger message could not be dead-lettered'}`,
      `Leave it out, or set it to at least ${delivered}`,
    );
  }
}
