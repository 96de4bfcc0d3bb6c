import { defineConfig } from 'vitest/config';
import { motoAvailability } from './localstack/emulator/moto-server.ts';
import { externalCloud } from './test/helpers/external-cloud.ts';

/**
 * Two projects in one run:
 * - `embedded`: every suite, against the embedded cloud (or the endpoint in FANOUT_TEST_ENDPOINT /
 *   AWS_ENDPOINT_URL_*, see test/helpers/global-setup.ts);
 * - `moto`: the suites that talk to the run's cloud (`*.cloud.test.ts`) again, against a `moto_server` of their own.
 *   Where moto is not installed, or the run already targets an external endpoint, it is one skipped
 *   test whose name and output say why.
 */
/**
 * The suites that talk to the run's cloud through the SDK, named `*.cloud.test.ts`: the moto project runs them
 * again. Tests sit beside a mirror of the sources they test (`test/lib/…`, `test/localstack/…`, `test/cli/…`).
 */
const EMULATOR_SUITES = ['test/**/*.cloud.test.ts'];

async function motoProject() {
  const external = externalCloud();
  const moto = external
    ? { ok: false as const, reason: `this run targets ${external.description} already` }
    : await motoAvailability();
  if (moto.ok) {
    return { name: 'moto', include: EMULATOR_SUITES, globalSetup: ['test/helpers/moto-global-setup.ts'] };
  }
  process.env.FANOUT_MOTO_SKIPPED = moto.reason;
  return { name: 'moto', include: ['test/targets/moto-skipped.test.ts'] };
}

export default defineConfig(async () => ({
  test: {
    setupFiles: ['test/helpers/setup-env.ts'],
    env: {
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
    },
    // CI also writes a JSON report; .ci/run prints its counts as the closing line.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: '.vitest-report.json' },
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'embedded',
          include: ['test/**/*.test.ts'],
          exclude: ['test/targets/**'],
          globalSetup: ['test/helpers/global-setup.ts'],
        },
      },
      { extends: true, test: await motoProject() },
    ],
  },
}));
