import { inject, it } from 'vitest';

/**
 * The cloud a test run talks to, and the behaviours each target is known to get wrong.
 *
 * `embedded` (fauxqs + dynalite, the default), `moto` (the moto project of vitest.config.ts),
 * `localstack`, or `external` (any other endpoint given with FANOUT_TEST_ENDPOINT / AWS_ENDPOINT_URL_*).
 */
export type TargetName = 'embedded' | 'moto' | 'localstack' | 'external';

declare module 'vitest' {
  export interface ProvidedContext {
    cloudEnv: Record<string, string>;
    target: TargetName;
  }
}

/** The target of this run. */
export const target: TargetName = inject('target');

/** Targets that get a behaviour wrong, each with the reason (an emulator bug, measured by `fanout probe`). */
export type Divergences = Partial<Record<TargetName, string>>;

/**
 * `it`, except on a target listed in `divergences`: there the test is expected to fail
 * (`it.fails`), with the reason in its name and printed. When the emulator is fixed the test passes,
 * `it.fails` turns that into a failure of the suite, and the marker must be removed.
 */
export function itExcept(divergences: Divergences): typeof it {
  const reason = divergences[target];
  if (!reason) return it;
  const fails = ((name: string, fn: () => unknown, timeout?: number) => {
    console.info(`expected to fail on ${target}: ${name} (${reason})`);
    return it.fails(`${name} [expected to fail on ${target}: ${reason}]`, fn, timeout);
  }) as unknown as typeof it;
  return fails;
}

/**
 * A FIFO message group is locked while one of its messages is in flight, so a runner with several
 * concurrent long polls still gets the group in order (AWS).
 */
export const FIFO_REDELIVERY_ORDER: Divergences = {
  moto: 'moto 5.2 keeps a stale FIFO group lock in concurrent long polls: a poll that began earlier hands out a later message of a group while an earlier one is hidden after a nack (fanout probe: "FIFO group lock, concurrent long polls" = no)',
};
