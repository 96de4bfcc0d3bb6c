/**
 * The reference app's own local resource: the effects table its handlers record what they did in
 * (`functions/shared/effects-ledger.ts`), so the demo and the end-to-end tests can check "applied exactly
 * once". It is the example's, not fanout's: `fanout/local` provisions only what a topology declares, and
 * this runs as the demo's `setup` (see `startLocalStack`'s `setup` option).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EFFECTS_TABLE_VARIABLE } from '../../functions/shared/effects-ledger.ts';
import { prefixed } from '../../lib/index.ts';
import { ensureIdempotencyTable } from '../../localstack/index.ts';

/** Name of the example's effects table on a local cloud (with `FANOUT_RESOURCE_PREFIX`, if set). */
export function exampleEffectsTable(): string {
  return prefixed('fanout-effects');
}

/** Creates the effects table (idempotently) and returns the variable the example handlers read. */
export async function exampleLocalSetup(): Promise<Record<string, string>> {
  const table = exampleEffectsTable();
  // The same key schema as the idempotency table: partition key `pk`, on demand.
  await ensureIdempotencyTable(new DynamoDBClient({}), table);
  return { [EFFECTS_TABLE_VARIABLE]: table };
}
