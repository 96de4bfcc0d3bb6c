import type { Message, MessageAttributeValue } from '@aws-sdk/client-sqs';
import type { SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  DeadLetterFormatError,
  deadLetterCopy,
  deadLetterReason,
  MAX_DETAIL_CHARACTERS,
  ORIGINAL_ATTRIBUTES_ATTRIBUTE,
  ORIGINAL_MESSAGE_ID_ATTRIBUTE,
  originalMessage,
  originalMessageId,
  POISON_DETAIL_ATTRIBUTE,
  POISON_GROUP_ATTRIBUTE,
  POISON_REASON_ATTRIBUTE,
  redriveMessage,
  redrivenRecord,
  sqsMessageBytes,
} from '../../lib/dead-letter-format.ts';
import { decodeRecord } from '../../lib/record-decoder.ts';
import { comparableAttributes } from '../helpers/message-attributes.ts';

const LIMIT = 262_144;

/** A Lambda-shaped string attribute. */
const text = (value: string, dataType = 'String') => ({
  dataType,
  stringValue: value,
  stringListValues: [],
  binaryListValues: [],
});
/** A Lambda-shaped binary attribute (base64, as Lambda hands it over). */
const binary = (bytes: number[], dataType = 'Binary') => ({
  dataType,
  binaryValue: Buffer.from(bytes).toString('base64'),
  stringListValues: [],
  binaryListValues: [],
});

/** The same attributes in the SDK's shape, as SendMessage takes them and ReceiveMessage returns them. */
function sdkShape(attributes: SQSMessageAttributes): Record<string, MessageAttributeValue> {
  return Object.fromEntries(
    Object.entries(attributes).map(([name, v]) => [
      name,
      v.binaryValue !== undefined
        ? { DataType: v.dataType, BinaryValue: new Uint8Array(Buffer.from(v.binaryValue, 'base64')) }
        : { DataType: v.dataType, StringValue: v.stringValue },
    ]),
  );
}

/** Compares attribute sets byte for byte (a Buffer and a Uint8Array with the same bytes are equal). */
function expectSameAttributes(
  actual: Record<string, MessageAttributeValue>,
  expected: Record<string, MessageAttributeValue>,
) {
  expect(comparableAttributes(actual)).toEqual(comparableAttributes(expected));
}

/** The copy as ReceiveMessage on the DLQ returns it. */
function received(copy: { MessageBody: string; MessageAttributes: Record<string, MessageAttributeValue> }) {
  return {
    MessageId: 'dlq-message-id',
    Body: copy.MessageBody,
    MessageAttributes: copy.MessageAttributes,
  } satisfies Message;
}

/** Ten attributes: the most SQS allows, with `type`, binary ones and custom data types. */
const TEN: SQSMessageAttributes = {
  type: text('OrderPlaced'),
  correlationId: text('c-1'),
  tenant: text('acme "quoted" \\ back\nslash, ünïcødé 🎉'),
  amount: text('12.50', 'Number'),
  ratio: text('0.25', 'Number.float'),
  tags: text('["a","b"]', 'String.Array'),
  blob: binary([0, 1, 2, 254, 255]),
  gzip: binary([0x1f, 0x8b, 8, 0], 'Binary.gzip'),
  region: text('eu-west-1'),
  priority: text('7', 'Number.int'),
};

function copyOf(
  messageAttributes: SQSMessageAttributes,
  overrides: Partial<Parameters<typeof deadLetterCopy>[0]> = {},
) {
  return deadLetterCopy({
    body: '{"orderId":"o-1"}',
    messageAttributes,
    messageId: 'm-1',
    reason: 'schema-invalid',
    detail: 'amount: expected a number',
    group: 'notifications',
    ...overrides,
  });
}

describe('deadLetterCopy and originalMessage', () => {
  it('packs 10 attributes (binary, custom types, type) into one and restores them exactly', () => {
    const copy = copyOf(TEN);
    expect(copy.MessageBody).toBe('{"orderId":"o-1"}');
    expect(Object.keys(copy.MessageAttributes).sort()).toEqual(
      [
        POISON_REASON_ATTRIBUTE,
        POISON_DETAIL_ATTRIBUTE,
        POISON_GROUP_ATTRIBUTE,
        ORIGINAL_MESSAGE_ID_ATTRIBUTE,
        ORIGINAL_ATTRIBUTES_ATTRIBUTE,
      ].sort(),
    );
    const back = originalMessage(received(copy));
    expect(back.MessageBody).toBe('{"orderId":"o-1"}');
    expectSameAttributes(back.MessageAttributes, sdkShape(TEN));
    expect(Object.keys(back.MessageAttributes)).toHaveLength(10);
    expect(deadLetterReason(received(copy))).toEqual({
      reason: 'schema-invalid',
      detail: 'amount: expected a number',
      group: 'notifications',
    });
    expect(originalMessageId(received(copy))).toBe('m-1');
  });

  it('keeps 3 attributes in natural form, readable in any console', () => {
    const three = { type: TEN.type, blob: TEN.blob, amount: TEN.amount };
    const copy = copyOf(three);
    expectSameAttributes(copy.MessageAttributes, {
      [POISON_REASON_ATTRIBUTE]: { DataType: 'String', StringValue: 'schema-invalid' },
      [POISON_DETAIL_ATTRIBUTE]: { DataType: 'String', StringValue: 'amount: expected a number' },
      [POISON_GROUP_ATTRIBUTE]: { DataType: 'String', StringValue: 'notifications' },
      [ORIGINAL_MESSAGE_ID_ATTRIBUTE]: { DataType: 'String', StringValue: 'm-1' },
      ...sdkShape(three),
    });
    expectSameAttributes(originalMessage(received(copy)).MessageAttributes, sdkShape(three));
  });

  it('keeps 6 originals natural (4 marks + 6 = 10) and packs 7', () => {
    const names = Object.keys(TEN);
    const first = (n: number) => Object.fromEntries(names.slice(0, n).map((name) => [name, TEN[name]]));
    const six = copyOf(first(6));
    expect(Object.keys(six.MessageAttributes)).toHaveLength(10);
    expect(six.MessageAttributes[ORIGINAL_ATTRIBUTES_ATTRIBUTE]).toBeUndefined();
    const seven = copyOf(first(7));
    expect(Object.keys(seven.MessageAttributes)).toHaveLength(5);
    expectSameAttributes(originalMessage(received(seven)).MessageAttributes, sdkShape(first(7)));
  });

  it("packs when an original's name is fanout's (collision), and restores the original's value", () => {
    const colliding = {
      type: TEN.type,
      [POISON_GROUP_ATTRIBUTE]: text('the publisher’s own value'),
      [POISON_REASON_ATTRIBUTE]: text('not ours'),
    };
    const copy = copyOf(colliding);
    expect(copy.MessageAttributes[ORIGINAL_ATTRIBUTES_ATTRIBUTE]).toBeDefined();
    expect(copy.MessageAttributes[POISON_GROUP_ATTRIBUTE].StringValue).toBe('notifications');
    expect(deadLetterReason(received(copy))).toMatchObject({
      reason: 'schema-invalid',
      group: 'notifications',
    });
    expectSameAttributes(originalMessage(received(copy)).MessageAttributes, sdkShape(colliding));
  });

  it('also packs any other fanout.* name, so natural copies never hold one', () => {
    const copy = copyOf({ 'fanout.trace': text('t') });
    expect(copy.MessageAttributes[ORIGINAL_ATTRIBUTES_ATTRIBUTE]).toBeDefined();
    expect(originalMessage(received(copy)).MessageAttributes).toEqual({
      'fanout.trace': { DataType: 'String', StringValue: 't' },
    });
  });

  it('trims the detail of a copy of a near-256 KiB body to fit, keeping the reason', () => {
    // A body that leaves 200 bytes beside the packed attributes and fanout's marks.
    const bare = sqsMessageBytes(copyOf(TEN, { body: '', detail: '' }));
    const body = JSON.stringify({ pad: 'x'.repeat(LIMIT - bare - 200 - '{"pad":""}'.length) });
    expect(Buffer.byteLength(body)).toBeGreaterThan(LIMIT - 1000);
    const copy = copyOf(TEN, { body, detail: 'é'.repeat(5000) });
    const size = sqsMessageBytes(copy);
    expect(size).toBeLessThanOrEqual(LIMIT);
    expect(LIMIT - size).toBeLessThan(4); // the detail filled what was left, up to a character
    expect(copy.MessageBody).toBe(body);
    expect(copy.MessageAttributes[POISON_REASON_ATTRIBUTE].StringValue).toBe('schema-invalid');
    const detail = copy.MessageAttributes[POISON_DETAIL_ATTRIBUTE].StringValue ?? '';
    expect(detail).toMatch(/^é+…$/); // cut on a character boundary, marked as cut
    expectSameAttributes(originalMessage(received(copy)).MessageAttributes, sdkShape(TEN));
  });

  it('leaves the detail out when nothing of it fits, never the reason; a copy that cannot fit at all says so by its size', () => {
    // Room for the marks and 20 bytes: less than the detail attribute's own name.
    const full = 'x'.repeat(LIMIT - sqsMessageBytes(copyOf({}, { body: '', detail: '' })) - 20);
    const copy = copyOf({}, { body: full, detail: 'long detail '.repeat(100) });
    expect(copy.MessageAttributes[POISON_DETAIL_ATTRIBUTE]).toBeUndefined();
    expect(copy.MessageAttributes[POISON_REASON_ATTRIBUTE].StringValue).toBe('schema-invalid');
    expect(sqsMessageBytes(copy)).toBeLessThanOrEqual(LIMIT);
    const tooLarge = copyOf({}, { body: 'x'.repeat(LIMIT) });
    expect(tooLarge.MessageBody).toHaveLength(LIMIT);
    expect(tooLarge.MessageAttributes[POISON_REASON_ATTRIBUTE]).toBeDefined();
    expect(sqsMessageBytes(tooLarge)).toBeGreaterThan(LIMIT); // the sender checks this and leaves it nacked
  });

  it(`cuts the detail to ${MAX_DETAIL_CHARACTERS} characters and replaces characters SQS refuses`, () => {
    const long = copyOf({}, { detail: 'd'.repeat(5000) });
    expect(long.MessageAttributes[POISON_DETAIL_ATTRIBUTE].StringValue).toHaveLength(MAX_DETAIL_CHARACTERS);
    const control = copyOf({}, { detail: 'bad\u0000byte\uFFFF and a lone \uD800 surrogate' });
    expect(control.MessageAttributes[POISON_DETAIL_ATTRIBUTE].StringValue).toBe(
      'bad\uFFFDbyte\uFFFD and a lone \uFFFD surrogate',
    );
    const empty = copyOf({}, { detail: '' });
    expect(empty.MessageAttributes[POISON_DETAIL_ATTRIBUTE]).toBeUndefined();
    expect(deadLetterReason(received(empty))).toEqual({ reason: 'schema-invalid', group: 'notifications' });
  });

  it('passes a message dead-lettered by the redrive policy (no marks) through unchanged', () => {
    const message = {
      MessageId: 'kept-by-sqs',
      Body: '{"specversion":"1.0","id":"e-1","type":"OrderPlaced","source":"s","data":{}}',
      MessageAttributes: {
        ...sdkShape({ type: TEN.type, blob: TEN.blob }),
        'fanout.group': { DataType: 'String', StringValue: 'a publisher’s attribute' },
      },
    };
    const back = originalMessage(message);
    expect(back.MessageBody).toBe(message.Body);
    expectSameAttributes(back.MessageAttributes, message.MessageAttributes);
    expect(deadLetterReason(message)).toEqual({ reason: 'max-receives' });
    expect(redriveMessage(message)).toEqual(back); // an envelope: no id needed
  });

  it('restores a copy written before this format (3 marks, originals beside them), marks removed', () => {
    const legacy = {
      MessageId: 'dlq-1',
      Body: '{"n":1}',
      MessageAttributes: {
        [POISON_REASON_ATTRIBUTE]: { DataType: 'String', StringValue: 'unknown-type' },
        [POISON_DETAIL_ATTRIBUTE]: { DataType: 'String', StringValue: '-' },
        [POISON_GROUP_ATTRIBUTE]: { DataType: 'String', StringValue: 'audit' },
        type: { DataType: 'String', StringValue: 'Nope' },
      },
    };
    expect(originalMessage(legacy).MessageAttributes).toEqual({
      type: { DataType: 'String', StringValue: 'Nope' },
    });
    expect(originalMessageId(legacy)).toBeUndefined();
    expect(redriveMessage(legacy).MessageAttributes).not.toHaveProperty('id'); // original id unknown
  });

  it('refuses a damaged packed attribute with a clear error', () => {
    const copy = copyOf(TEN);
    copy.MessageAttributes[ORIGINAL_ATTRIBUTES_ATTRIBUTE] = {
      DataType: 'String',
      StringValue: '{"type":{}}',
    };
    expect(() => originalMessage(received(copy))).toThrow(DeadLetterFormatError);
    expect(() => originalMessage(received(copy))).toThrow(
      /fanout.original-attributes' has an invalid value for 'type'/,
    );
  });
});

describe('redrive keeps the derived id of a plain-JSON body', () => {
  /** Decodes a message as the consumer would see it after the redrive, with a new SQS message id. */
  function decodedAfterRedrive(message: {
    MessageBody: string;
    MessageAttributes: Record<string, MessageAttributeValue>;
  }) {
    const messageAttributes = Object.fromEntries(
      Object.entries(message.MessageAttributes).map(([name, v]) => [
        name,
        v.BinaryValue ? binary([...v.BinaryValue], v.DataType) : text(v.StringValue ?? '', v.DataType),
      ]),
    );
    return decodeRecord({ body: message.MessageBody, messageId: 'new-id-after-redrive', messageAttributes })
      .envelope;
  }

  it('adds id = the original message id, so id, type and correlation id are those of the first delivery', () => {
    const attributes = { type: TEN.type, blob: TEN.blob };
    const first = decodeRecord({
      body: '{"orderId":"o-1"}',
      messageId: 'm-1',
      messageAttributes: attributes,
    }).envelope;
    const redriven = redriveMessage(received(copyOf(attributes)));
    expect(redriven.MessageAttributes.id).toEqual({ DataType: 'String', StringValue: 'm-1' });
    const again = decodedAfterRedrive(redriven);
    expect({ id: again.id, type: again.type, correlationid: again.correlationid }).toEqual({
      id: first.id,
      type: first.type,
      correlationid: first.correlationid,
    });
    expect(again.id).toBe('m-1');
  });

  it('works from the packed form too (9 originals, room for id)', () => {
    const nine = Object.fromEntries(Object.entries(TEN).filter(([name]) => name !== 'priority'));
    const redriven = redriveMessage(received(copyOf(nine)));
    expect(Object.keys(redriven.MessageAttributes)).toHaveLength(10);
    expect(decodedAfterRedrive(redriven)).toMatchObject({ id: 'm-1', type: 'OrderPlaced' });
  });

  it('uses the DLQ message id of an unmarked message (SQS keeps it when its redrive policy moves one)', () => {
    const redriven = redriveMessage({ MessageId: 'kept-by-sqs', Body: '{"n":1}', MessageAttributes: {} });
    expect(redriven.MessageAttributes).toEqual({ id: { DataType: 'String', StringValue: 'kept-by-sqs' } });
  });

  it('changes nothing when the body has an id attribute, is an envelope or is not JSON, or there is no room', () => {
    const withId = { type: TEN.type, id: text('business-id') };
    expectSameAttributes(redriveMessage(received(copyOf(withId))).MessageAttributes, sdkShape(withId));
    const envelope = JSON.stringify({ specversion: '1.0', id: 'e-1', type: 'T', source: 's', data: {} });
    expect(redriveMessage(received(copyOf({}, { body: envelope }))).MessageAttributes).toEqual({});
    expect(redriveMessage(received(copyOf({}, { body: 'not json' }))).MessageAttributes).toEqual({});
    // The leftover case: 10 originals already, no room for `id`; the key follows the new message id.
    const full = redriveMessage(received(copyOf(TEN)));
    expectSameAttributes(full.MessageAttributes, sdkShape(TEN));
  });

  it('redrivenRecord turns a copy moved back as it is (move task) into the original record', () => {
    const copy = copyOf(TEN);
    const lambdaAttributes = Object.fromEntries(
      Object.entries(copy.MessageAttributes).map(([name, v]) => [
        name,
        text(v.StringValue ?? '', v.DataType),
      ]),
    );
    const record = {
      messageId: 'moved-1',
      body: copy.MessageBody,
      messageAttributes: lambdaAttributes,
    } as unknown as SQSRecord;
    const restored = redrivenRecord(record);
    expect(restored.messageId).toBe('moved-1');
    expect(restored.messageAttributes).toEqual({ ...TEN, id: text('m-1') });
    expect(decodeRecord(restored).envelope).toMatchObject({ id: 'm-1', type: 'OrderPlaced' });
    const plain = {
      messageId: 'x',
      body: '{}',
      messageAttributes: { type: TEN.type },
    } as unknown as SQSRecord;
    expect(redrivenRecord(plain)).toBe(plain);
  });
});
