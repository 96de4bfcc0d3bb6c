import type { MessageAttributeValue } from '@aws-sdk/client-sqs';

/**
 * SQS message attributes as comparable plain data, sorted by name: data type, string value, and binary
 * value in hex (so a Buffer and a Uint8Array with the same bytes compare equal).
 */
export function comparableAttributes(attributes: Record<string, MessageAttributeValue> = {}) {
  return Object.fromEntries(
    Object.entries(attributes)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, v]) => [
        name,
        {
          DataType: v.DataType,
          StringValue: v.StringValue,
          BinaryValue: v.BinaryValue ? Buffer.from(v.BinaryValue).toString('hex') : undefined,
        },
      ]),
  );
}
