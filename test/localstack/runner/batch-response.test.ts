import { describe, expect, it } from 'vitest';
import { judgeBatchResponse } from '../../../localstack/runner/event-source-runner.ts';

const batch = [{ messageId: 'm-1' }, { messageId: 'm-2' }];

describe("judgeBatchResponse (Lambda's ReportBatchItemFailures contract)", () => {
  it.each([
    ['undefined', undefined],
    ['null', null],
    ['an empty object', {}],
    ['a null batchItemFailures', { batchItemFailures: null }],
    ['an empty batchItemFailures', { batchItemFailures: [] }],
  ])('treats %s as complete success', (_name, response) => {
    expect(judgeBatchResponse(response, batch)).toEqual({ retry: new Set() });
  });

  it('retries exactly the reported records', () => {
    expect(judgeBatchResponse({ batchItemFailures: [{ itemIdentifier: 'm-2' }] }, batch)).toEqual({
      retry: new Set(['m-2']),
    });
  });

  it.each([
    [
      'an empty itemIdentifier',
      { batchItemFailures: [{ itemIdentifier: '' }] },
      /without a valid itemIdentifier/,
    ],
    [
      'a null itemIdentifier',
      { batchItemFailures: [{ itemIdentifier: null }] },
      /without a valid itemIdentifier/,
    ],
    ['a misspelt key', { batchItemFailures: [{ itemId: 'm-1' }] }, /without a valid itemIdentifier/],
    [
      'an id not in the batch',
      { batchItemFailures: [{ itemIdentifier: 'm-9' }] },
      /'m-9', which is not a message of this batch/,
    ],
    ['a string response', 'ok', /not an SQSBatchResponse object/],
    ['batchItemFailures that is not a list', { batchItemFailures: 'm-1' }, /not an array/],
  ])('fails the whole batch on %s', (_name, response, reason) => {
    const verdict = judgeBatchResponse(response, batch);
    expect(verdict).toHaveProperty('batchFailure');
    expect((verdict as { batchFailure: string }).batchFailure).toMatch(reason);
  });
});
