import { AsyncLocalStorage } from 'node:async_hooks';

/** What fanout knows about the message a handler is handling right now (read by the publisher). */
export interface CurrentMessage {
  /** Envelope id of the message being handled. */
  readonly messageId: string;
  /** Its correlation id; publishes made while handling it carry it over. */
  readonly correlationId: string;
  /** The consumer group handling it. */
  readonly group: string;
}

const storage = new AsyncLocalStorage<CurrentMessage>();

/** Runs `fn` with `message` as the message being handled (used by the consumer). */
export function runWithCurrentMessage<T>(message: CurrentMessage, fn: () => T): T {
  return storage.run(message, fn);
}

/** The message being handled by the current async flow, if any. */
export function currentMessage(): CurrentMessage | undefined {
  return storage.getStore();
}
