import { ConfigError, PoisonMessageError } from '../errors.ts';
import type { ConsumerOptions, MessageHandler, TypeRoute } from './options.ts';

/**
 * Builds the function that finds the handler of an event type: the one `handle` for every type, or
 * the entry of `handlers` (a type not listed is poison). Throws {@link ConfigError} for bad options.
 */
export function buildRouter<T, D>(options: ConsumerOptions<T, D>): (type: string) => TypeRoute<unknown> {
  if (options === null || typeof options !== 'object') {
    throw new ConfigError(
      'options',
      'consumer() needs an options object',
      'Call consumer({ handle: async (data) => … })',
    );
  }
  const { handle, handlers, schema } = options;
  if ((handle === undefined) === (handlers === undefined)) {
    throw new ConfigError(
      handle === undefined ? 'handle' : 'handlers',
      handle === undefined ? 'neither handle nor handlers is given' : 'both handle and handlers are given',
      'Give handle (one function for every type) or handlers (a function per event type), not both',
    );
  }
  if (handle !== undefined) {
    if (typeof handle !== 'function') {
      throw new ConfigError(
        'handle',
        `must be a function (given ${typeof handle})`,
        'Pass async (data, context) => { … }',
      );
    }
    const route = { schema, handle } as TypeRoute<unknown>;
    return () => route;
  }
  if (schema !== undefined) {
    throw new ConfigError(
      'schema',
      'is for handle only',
      'With handlers, give each type its own { schema, handle }',
    );
  }
  const routes = new Map<string, TypeRoute<unknown>>();
  // Each route's data type matters to its author only: here every route handles unknown data.
  const entries = Object.entries(handlers ?? {}) as [string, MessageHandler<unknown> | TypeRoute<unknown>][];
  for (const [type, entry] of entries) {
    const route = typeof entry === 'function' ? { handle: entry } : entry;
    if (typeof route?.handle !== 'function') {
      throw new ConfigError(
        `handlers.${type}`,
        'must be a function or { schema?, handle }',
        'Pass a function',
      );
    }
    routes.set(type, route);
  }
  return (type) => {
    const route = routes.get(type);
    if (!route) {
      throw new PoisonMessageError(
        'unknown-type',
        `no handler for event type '${type}'; this consumer handles ${[...routes.keys()].map((t) => `'${t}'`).join(', ')}`,
      );
    }
    return route;
  };
}
