import { SQSClient } from '@aws-sdk/client-sqs';

/** The parts of an SQS queue ARN (`arn:aws:sqs:region:account:name`). */
export interface QueueArn {
  readonly region: string;
  readonly account: string;
  readonly name: string;
}

/** Parses an SQS queue ARN; `undefined` when it is not one. */
export function parseQueueArn(arn: string): QueueArn | undefined {
  const parts = arn.split(':');
  if (parts.length !== 6 || parts[0] !== 'arn' || parts[2] !== 'sqs') return undefined;
  return { region: parts[3], account: parts[4], name: parts[5] };
}

/** The SQS endpoint set through the standard SDK variables, if any (emulators, LocalStack). */
export function customSqsEndpoint(): string | undefined {
  return process.env.AWS_ENDPOINT_URL_SQS ?? process.env.AWS_ENDPOINT_URL;
}

/**
 * The queue URL of a queue ARN: path-style on the custom endpoint when one is set (LocalStack and
 * the embedded emulator accept that), the regional AWS URL otherwise.
 */
export function queueUrlFromArn(arn: string): string {
  const parsed = parseQueueArn(arn);
  if (!parsed) throw new Error(`'${arn}' is not an SQS queue ARN`);
  const endpoint = customSqsEndpoint();
  const base = endpoint ? endpoint.replace(/\/+$/, '') : `https://sqs.${parsed.region}.amazonaws.com`;
  return `${base}/${parsed.account}/${parsed.name}`;
}

/**
 * An SQS client for fanout's own calls. On a custom endpoint it sends every call there instead of
 * to the host inside the queue URL (emulators hand out URLs whose hosts may not resolve).
 */
export function createSqsClient(): SQSClient {
  return new SQSClient({ useQueueUrlAsEndpoint: customSqsEndpoint() === undefined });
}
