/** The errors of the embedded cloud, and the translation of a host's failure (plain data) into them. */
import { FanoutError } from '../../lib/index.ts';
import { type FailureDetail, LOOPBACK } from './emulator-host.ts';

/** A port the embedded cloud was asked to use is taken (another `npm start`, LocalStack, moto…). */
export class PortInUseError extends Error {
  readonly port: number;
  readonly service: string;

  constructor(port: number, service: string) {
    super(`port ${port} (${service}) on ${LOOPBACK} is already in use`);
    this.name = 'PortInUseError';
    this.port = port;
    this.service = service;
  }
}

/** The emulator packages are optional peer dependencies of fanout: a project installs them to run locally. */
export class EmulatorMissingError extends FanoutError {
  constructor(missing: readonly string[], cause: unknown) {
    super(
      'FANOUT_EMULATOR_MISSING',
      `The embedded cloud needs ${missing.join(' and ')}, which ${missing.length > 1 ? 'are' : 'is'} not installed. Run: npm install --save-dev ${missing.join(' ')} (Node >= 22.5)`,
      { cause },
    );
  }
}

/** The worker thread or child process running the emulators ended without `stop()`: their state is lost. */
export class EmulatorExitedError extends FanoutError {
  /** `worker` or `process`. */
  readonly isolation: string;
  constructor(isolation: string, how: string) {
    super(
      'FANOUT_EMULATOR_EXITED',
      `The embedded cloud's ${isolation === 'worker' ? 'worker thread' : 'child process'} ended unexpectedly (${how}); its queues, topics and tables are gone: start the local cloud again`,
    );
    this.isolation = isolation;
  }
}

/** The fanout error for a host's failure to start. */
export function startError(detail: FailureDetail): Error {
  if (detail.kind === 'port-in-use') return new PortInUseError(detail.port, detail.service);
  if (detail.kind === 'missing') return new EmulatorMissingError(detail.missing, new Error(detail.message));
  return new Error(`the embedded cloud did not start: ${detail.message}`);
}
