import { it } from 'vitest';

// The moto project stands in here when it cannot run (vitest.config.ts says why): one skipped test,
// its reason in its name and in the output, so a run without moto is visibly not a moto run.
const reason = process.env.FANOUT_MOTO_SKIPPED ?? 'moto project not configured';
console.warn(`moto suites skipped: ${reason}`);
it.skip(`the integration, end-to-end and CLI suites on moto (skipped: ${reason})`, () => {});
