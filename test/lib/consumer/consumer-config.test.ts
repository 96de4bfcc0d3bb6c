import { describe, expect, it } from 'vitest';
import { ConfigError, consumer } from '../../../lib/index.ts';

describe('consumer options', () => {
  it.each([
    ['neither handle nor handlers', {}, 'handle', /neither handle nor handlers/],
    ['both handle and handlers', { handle: () => {}, handlers: {} }, 'handlers', /both/],
    ['a handle that is not a function', { handle: 'nope' }, 'handle', /must be a function/],
    ['schema with handlers', { handlers: {}, schema: {} }, 'schema', /handle only/],
    ['a bad route', { handlers: { OrderPlaced: {} } }, 'handlers.OrderPlaced', /must be a function/],
    ['concurrency 0', { handle: () => {}, concurrency: 0 }, 'concurrency', /≥ 1 \(given 0\)/],
    [
      'backoff base above max',
      { handle: () => {}, backoff: { baseSeconds: 10, maxSeconds: 1 } },
      'backoff',
      /baseSeconds ≤ maxSeconds/,
    ],
  ])('rejects %s with a ConfigError naming the field', (_name, options, field, message) => {
    const build = () => consumer({ idempotency: false, ...(options as object) } as never);
    expect(build).toThrow(ConfigError);
    try {
      build();
    } catch (error) {
      expect((error as ConfigError).field).toBe(field);
      expect((error as Error).message).toMatch(message);
    }
  });

  it('asks for an idempotency table when none is configured', () => {
    const previous = process.env.FANOUT_IDEMPOTENCY_TABLE;
    delete process.env.FANOUT_IDEMPOTENCY_TABLE;
    try {
      expect(() => consumer({ handle: () => {} })).toThrow(
        /idempotency.tableName: .*FANOUT_IDEMPOTENCY_TABLE/,
      );
    } finally {
      if (previous !== undefined) process.env.FANOUT_IDEMPOTENCY_TABLE = previous;
    }
  });

  it('answers an empty event with an empty response', async () => {
    const handler = consumer({ idempotency: false, handle: () => {} });
    expect(await handler({ Records: [] })).toEqual({ batchItemFailures: [] });
  });
});
