import { describe, expect, it } from 'vitest';
import { decodeRecord, PoisonMessageError } from '../../lib/index.ts';
import { envelope, sqsRecord } from '../helpers/sqs-events.ts';

function poisonOf(body: string) {
  try {
    decodeRecord(sqsRecord(body));
  } catch (error) {
    return error as PoisonMessageError;
  }
  throw new Error('expected a poison error');
}

describe('decodeRecord', () => {
  it('reads a raw-delivered envelope', () => {
    // Prepare
    const event = envelope('OrderPlaced', { orderId: 'o-1' });
    // Act
    const decoded = decodeRecord(sqsRecord(event));
    // Assess
    expect(decoded.delivery).toBe('raw');
    expect(decoded.envelope).toEqual(event);
  });

  it('unwraps an SNS notification (subscription without raw delivery)', () => {
    const event = envelope('OrderPlaced', { orderId: 'o-2' });
    const wrapper = {
      Type: 'Notification',
      MessageId: 'sns-1',
      TopicArn: 'arn:aws:sns:us-east-1:000000000000:orders',
      Message: JSON.stringify(event),
      MessageAttributes: { type: { Type: 'String', Value: 'OrderPlaced' } },
    };
    const decoded = decodeRecord(sqsRecord(wrapper));
    expect(decoded.delivery).toBe('sns');
    expect(decoded.envelope.id).toBe(event.id);
    expect(decoded.envelope.data).toEqual({ orderId: 'o-2' });
  });

  it('wraps a plain JSON body, taking type and id from message attributes', () => {
    const record = sqsRecord(
      { orderId: 'o-3' },
      {
        messageId: 'sqs-1',
        messageAttributes: {
          type: { dataType: 'String', stringValue: 'OrderPlaced' },
        } as never,
      },
    );
    const decoded = decodeRecord(record);
    expect(decoded.delivery).toBe('plain');
    expect(decoded.envelope).toMatchObject({ id: 'sqs-1', type: 'OrderPlaced', data: { orderId: 'o-3' } });
  });

  it.each([
    ['an empty body', '', 'unparseable-body', /empty/],
    ['a body that is not JSON', '{"oops', 'unparseable-body', /not JSON/],
    [
      'an SNS wrapper whose Message is not JSON',
      JSON.stringify({ Type: 'Notification', TopicArn: 'arn:x', Message: 'plain text' }),
      'unparseable-body',
      /SNS notification's Message is not JSON/,
    ],
    [
      'an envelope without an id',
      JSON.stringify({ specversion: '1.0', type: 'X', data: {} }),
      'invalid-envelope',
      /'id'/,
    ],
    [
      'an envelope with an empty id',
      JSON.stringify({ specversion: '1.0', id: ' ', type: 'X', data: {} }),
      'invalid-envelope',
      /empty 'id'/,
    ],
  ])('calls %s poison with a reason', (_name, body, reason, message) => {
    const error = poisonOf(body);
    expect(error).toBeInstanceOf(PoisonMessageError);
    expect(error.reason).toBe(reason);
    expect(error.message).toMatch(message);
  });
});
