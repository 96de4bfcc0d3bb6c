import { inject } from 'vitest';

// Every SDK client created in a test file reaches the embedded cloud of the run.
Object.assign(process.env, inject('cloudEnv'));
