import { defineTopology } from '../../lib/topology.ts';

/**
 * Groups with short timeouts, so that a crashed invocation's records come back within seconds: one killed
 * from outside mid-batch, one whose handler kills its own process right after its side effect.
 */
export default defineTopology({
  topics: { crashes: {}, 'crash-window': {} },
  groups: {
    'crash-audit': {
      subscribe: ['crashes'],
      handler: 'functions/audit.ts',
      timeoutSeconds: 2,
      visibilityTimeoutSeconds: 3,
      maxReceiveCount: 50,
      maxConcurrency: 2,
    },
    'crash-window': {
      subscribe: ['crash-window'],
      handler: 'test/chaos/crash-window-handler.ts',
      batchSize: 1,
      timeoutSeconds: 2,
      visibilityTimeoutSeconds: 3,
      maxConcurrency: 2,
    },
  },
});
