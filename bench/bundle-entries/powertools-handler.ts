// The same features with Powertools: BatchProcessor + processPartialResponse, makeIdempotent with
// DynamoDB, Logger, Metrics, Tracer (fanout traces every record, so the Powertools side traces too: one
// subsegment per record) and the same zod schema validated in the record handler.
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { z } from 'zod';

const OrderPlaced = z.object({ orderId: z.string(), amount: z.number() });
const logger = new Logger();
const metrics = new Metrics({ namespace: 'bench' });
const tracer = new Tracer();
const persistenceStore = new DynamoDBPersistenceLayer({
  tableName: process.env.POWERTOOLS_IDEMPOTENCY_TABLE ?? 't',
});
const config = new IdempotencyConfig({ eventKeyJmesPath: 'powertools_json(body).id' });
const processor = new BatchProcessor(EventType.SQS);

const recordHandler = makeIdempotent(
  async (record: SQSRecord) => {
    const parent = tracer.getSegment();
    const subsegment = parent?.addNewSubsegment(`process ${record.messageId}`);
    if (subsegment) tracer.setSegment(subsegment);
    try {
      const envelope = JSON.parse(record.body);
      OrderPlaced.parse(envelope.data);
      logger.info('processed', { messageId: record.messageId });
      metrics.addMetric('Processed', MetricUnit.Count, 1);
    } finally {
      subsegment?.close();
      if (parent) tracer.setSegment(parent);
    }
  },
  { persistenceStore, config },
);

export const handler = async (event: SQSEvent, context: Context) => {
  config.registerLambdaContext(context);
  const response = await processPartialResponse(event, recordHandler, processor, { context });
  metrics.publishStoredMetrics();
  return response;
};
