import type { SQSClient } from '@aws-sdk/client-sqs';
import { readQueueDepth } from '../lib/index.ts';
import type { ProvisionedStack } from '../localstack/index.ts';

/** Live figures of one group. */
export interface GroupFigures {
  /** Messages waiting in the group's queue (delayed ones included). */
  readonly visible: number;
  readonly inFlight: number;
  /** Messages in the group's DLQ. */
  readonly dead: number;
}

/** Reads the queue and DLQ depths of every group. */
export async function readFigures(
  stack: ProvisionedStack,
  sqs: SQSClient,
): Promise<Map<string, GroupFigures>> {
  const depth = async (url: string) => {
    const d = await readQueueDepth(sqs, url);
    return { visible: d.visible + d.delayed, inFlight: d.inFlight };
  };
  const figures = new Map<string, GroupFigures>();
  await Promise.all(
    [...stack.groups].map(async ([name, { queue, dlq }]) => {
      const [q, d] = await Promise.all([depth(queue.url), depth(dlq.url)]);
      figures.set(name, { visible: q.visible, inFlight: q.inFlight, dead: d.visible + d.inFlight });
    }),
  );
  return figures;
}
