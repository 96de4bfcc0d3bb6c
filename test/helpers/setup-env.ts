import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

// Every SDK client created in a test file reaches the cloud of the run (global-setup.ts).
Object.assign(process.env, inject('cloudEnv'));
// Every resource a test file provisions from a topology carries a prefix of its own, so files that
// provision the same topology, and runs that share one server (moto, LocalStack), never collide.
process.env.FANOUT_RESOURCE_PREFIX = `t${randomBytes(3).toString('hex')}-`;
