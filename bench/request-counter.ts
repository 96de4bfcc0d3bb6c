type Next = (args: unknown) => Promise<unknown>;
interface MiddlewareClient {
  middlewareStack: {
    add(middleware: (next: Next, context: { commandName?: string }) => Next, options: object): void;
  };
}

/** Counts every request an AWS SDK v3 client sends (an SDK middleware). */
export function countRequests(client: unknown) {
  let total = 0;
  const byCommand = new Map<string, number>();
  (client as MiddlewareClient).middlewareStack.add(
    (next, context) => async (args) => {
      total++;
      byCommand.set(context.commandName ?? '?', (byCommand.get(context.commandName ?? '?') ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: `bench-counter-${Math.random()}` },
  );
  return {
    total: () => total,
    byCommand,
    reset: () => {
      total = 0;
      byCommand.clear();
    },
  };
}
