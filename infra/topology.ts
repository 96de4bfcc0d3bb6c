import { defineTopology } from '../lib/index.ts';

/**
 * The topics and consumer groups of this stack: the one place to edit to add either.
 * A group's handler lives in `functions/<group>.ts`. Options and defaults: README, "Topology options".
 */
export default defineTopology({
  topics: {
    orders: {},
    payments: {},
    'ledger.fifo': {},
  },
  groups: {
    // Only new orders: tells the customer.
    notifications: { subscribe: ['orders'], filter: { type: ['OrderPlaced'] } },
    // Every order event: one row per event in a spreadsheet.
    spreadsheets: { subscribe: ['orders'] },
    // Orders and payments: an audit trail of both.
    audit: { subscribe: ['orders', 'payments'], maxReceiveCount: 3 },
    // Postings per account, in order (FIFO; the message group id is the account id).
    ledger: { subscribe: ['ledger.fifo'], batchSize: 10 },
  },
});
