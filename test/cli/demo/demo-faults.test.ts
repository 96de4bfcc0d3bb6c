import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { SQSEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_OUTAGE_VARIABLE, withDemoFaults } from '../../../cli/demo/demo-faults.ts';
import { BATCH_CHANNEL, type BatchReport } from '../../../lib/index.ts';
import { envelope, sqsRecord } from '../../helpers/sqs-events.ts';

const context = { getRemainingTimeInMillis: () => 10_000, functionName: 'f', awsRequestId: 'r' };

/** A handler that records which messages reached it and fails none. */
function recordingHandler() {
  const reached: string[] = [];
  const handler = async (event: SQSEvent) => {
    reached.push(...event.Records.map((r) => r.messageId));
    return { batchItemFailures: [] };
  };
  return { reached, handler };
}

/** Runs the wrapped handler once and collects what it reported on the batch channel. */
async function invoke(group: string, event: SQSEvent) {
  const { reached, handler } = recordingHandler();
  const reports: BatchReport[] = [];
  const onBatch = (m: unknown) => reports.push(m as BatchReport);
  subscribe(BATCH_CHANNEL, onBatch);
  try {
    const response = (await withDemoFaults(group, handler)(event, context)) as {
      batchItemFailures: { itemIdentifier: string }[];
    };
    return { reached, failed: response.batchItemFailures.map((f) => f.itemIdentifier).sort(), reports };
  } finally {
    unsubscribe(BATCH_CHANNEL, onBatch);
  }
}

describe("the demo's fault injection around a handler (cli/demo/demo-faults.ts)", () => {
  afterEach(() => {
    delete process.env[DEMO_OUTAGE_VARIABLE];
  });

  it('fails a record until its receive count passes failuresBeforeSuccess, without it reaching the handler', async () => {
    const event = {
      Records: [
        sqsRecord(envelope('T', { failuresBeforeSuccess: 2 }), { messageId: 'a', receiveCount: 2 }),
        sqsRecord(envelope('T', { failuresBeforeSuccess: 2 }), { messageId: 'b', receiveCount: 3 }),
        sqsRecord('not JSON: the consumer judges it', { messageId: 'c' }),
      ],
    };
    const { reached, failed, reports } = await invoke('g', event);
    expect(reached).toEqual(['b', 'c']);
    expect(failed).toEqual(['a']);
    expect(reports).toEqual([
      { group: 'g', counts: { processed: 0, failed: 1, duplicate: 0, poison: 0, deferred: 0, abandoned: 0 } },
    ]);
  });

  it('FIFO: the later records of a failed record’s message group fail too; other message groups go on', async () => {
    const event = {
      Records: [
        sqsRecord(envelope('P', { seq: 1 }), { messageId: 'g1-1', groupId: 'g1' }),
        sqsRecord(envelope('P', { seq: 2, failuresBeforeSuccess: 1 }), { messageId: 'g1-2', groupId: 'g1' }),
        sqsRecord(envelope('P', { seq: 3 }), { messageId: 'g1-3', groupId: 'g1' }),
        sqsRecord(envelope('P', { seq: 1 }), { messageId: 'g2-1', groupId: 'g2' }),
      ],
    };
    const { reached, failed, reports } = await invoke('ledger', event);
    expect(reached).toEqual(['g1-1', 'g2-1']);
    expect(failed).toEqual(['g1-2', 'g1-3']);
    expect(reports[0].counts).toMatchObject({ failed: 1, deferred: 1 });
  });

  it('an injected outage of the group fails every record; another group’s outage changes nothing', async () => {
    const records = [sqsRecord(envelope('T', {}), { messageId: 'x' })];
    process.env[DEMO_OUTAGE_VARIABLE] = `other:${Date.now() + 60_000}`;
    expect((await invoke('g', { Records: records })).reached).toEqual(['x']);
    process.env[DEMO_OUTAGE_VARIABLE] = `g:${Date.now() + 60_000}`;
    const down = await invoke('g', { Records: records });
    expect(down.reached).toEqual([]);
    expect(down.failed).toEqual(['x']);
  });
});
