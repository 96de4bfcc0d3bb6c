import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * `@aws-sdk/client-s3` is loaded only when a large payload is met (lib/payload-offload.ts): a consumer
 * or publisher of inline messages does not pay for it at cold start. Checked in a fresh Node process,
 * by the modules Node has loaded.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const script = `
import { createRequire } from 'node:module';
const s3Loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('client-s3'));
const { consumer, createS3Client } = await import(${JSON.stringify(path.join(root, 'lib/index.ts'))});
const seen = [];
const handler = consumer({ group: 'orders', idempotency: false, handle: (data) => void seen.push(data), metrics: false });
const body = JSON.stringify({ id: 'e-1', type: 'OrderPlaced', data: { n: 1 } });
const record = { messageId: 'm-1', receiptHandle: 'r', body, attributes: { ApproximateReceiveCount: '1' },
  messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: '', awsRegion: 'us-east-1' };
const response = await handler({ Records: [record] });
const afterInline = s3Loaded();
await createS3Client();
console.log(JSON.stringify({ afterInline, afterCreate: s3Loaded(), handled: seen.length, response }));
`;

describe('the S3 client package', () => {
  it('is not loaded by importing fanout and handling inline records, and is loaded on first use', () => {
    const output = execFileSync(process.execPath, ['--input-type=module', '--eval', script], {
      cwd: root,
      env: { ...process.env, AWS_REGION: 'us-east-1', POWERTOOLS_METRICS_DISABLED: 'true' },
      encoding: 'utf8',
    });
    const result = JSON.parse(output.trim().split('\n').pop() as string);
    expect(result).toEqual({
      afterInline: false,
      afterCreate: true,
      handled: 1,
      response: { batchItemFailures: [] },
    });
  });

  it('that fails to load makes an offloaded record a nack, never the batch fail (found by an adversarial review)', () => {
    const blocked = `export async function resolve(specifier, context, next) {
      if (specifier === '@aws-sdk/client-s3') throw new Error('blocked by the test');
      return next(specifier, context);
    }`;
    const blockingScript = `
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(blocked)}));
const { consumer, pointerBody, EXTENDED_PAYLOAD_SIZE_ATTRIBUTE } = await import(${JSON.stringify(path.join(root, 'lib/index.ts'))});
const seen = [];
const handler = consumer({ group: 'orders', idempotency: false, handle: (data) => void seen.push(data), metrics: false });
const base = { receiptHandle: 'r', attributes: { ApproximateReceiveCount: '1' }, md5OfBody: '',
  eventSource: 'aws:sqs', eventSourceARN: '', awsRegion: 'us-east-1' };
const inline = { ...base, messageId: 'inline', messageAttributes: {},
  body: JSON.stringify({ id: 'e-1', type: 'OrderPlaced', data: { n: 1 } }) };
const pointer = { ...base, messageId: 'pointer', body: pointerBody({ bucket: 'b', key: 'k' }),
  messageAttributes: { [EXTENDED_PAYLOAD_SIZE_ATTRIBUTE]: { dataType: 'Number', stringValue: '11', stringListValues: [], binaryListValues: [] } } };
let response;
try { response = await handler({ Records: [inline, pointer] }); } catch (error) { response = { threw: String(error) }; }
console.log(JSON.stringify({ handled: seen.length, response }));
`;
    const output = execFileSync(process.execPath, ['--input-type=module', '--eval', blockingScript], {
      cwd: root,
      env: {
        ...process.env,
        AWS_REGION: 'us-east-1',
        POWERTOOLS_METRICS_DISABLED: 'true',
        POWERTOOLS_LOG_LEVEL: 'SILENT',
      },
      encoding: 'utf8',
    });
    const result = JSON.parse(output.trim().split('\n').pop() as string);
    expect(result).toEqual({ handled: 1, response: { batchItemFailures: [{ itemIdentifier: 'pointer' }] } });
  });
});
