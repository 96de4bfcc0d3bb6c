import { defineTopology } from '../../lib/topology.ts';

/** A group with short timeouts, so that a crashed invocation's records come back within seconds. */
export default defineTopology({
  topics: { crashes: {} },
  groups: {
    'crash-audit': {
      subscribe: ['crashes'],
      handler: 'functions/audit.ts',
      timeoutSeconds: 2,
      visibilityTimeoutSeconds: 3,
      maxReceiveCount: 50,
      maxConcurrency: 2,
    },
  },
});
