import { AsyncLocalStorage } from 'node:async_hooks';

/** What fanout knows about the message a handler is handling right now. */
export interface HandlingContext {
  /** Envelope id of the message being handled. */
  readonly messageId: string;
  /** Its correlation id; publishes made while handling it carry it over. */
  readonly correlationId: string;
  /** The consumer group handling it. */
  readonly group: string;
}

const storage = new AsyncLocalStorage<HandlingContext>();

/** Runs `fn` with `context` as the message being handled (used by the consumer). */
export function runWithHandlingContext<T>(context: HandlingContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The message being handled by the current async flow, if any. */
export function currentHandlingContext(): HandlingContext | undefined {
  return storage.getStore();
}
