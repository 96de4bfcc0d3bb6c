/**
 * The field's standard, configured the way its documentation recommends for SQS batches:
 * Powertools BatchProcessor / SqsFifoPartialProcessorAsync with processPartialResponse, and
 * makeIdempotent with a DynamoDBPersistenceLayer keyed on the event id.
 */

import {
  BatchProcessor,
  EventType,
  processPartialResponse,
  SqsFifoPartialProcessorAsync,
} from '@aws-lambda-powertools/batch';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';

const context = {
  getRemainingTimeInMillis: () => 30_000,
  functionName: 'bench',
  awsRequestId: 'bench',
} as unknown as Context;

/** Powertools batch + idempotency handler; `work` is the per-record side effect. */
export function powertoolsHandler(options: {
  tableName?: string;
  client?: DynamoDBClient;
  work: (record: SQSRecord) => Promise<void>;
  fifo?: boolean;
}) {
  let recordHandler = async (record: SQSRecord) => {
    await options.work(record);
  };
  let config: IdempotencyConfig | undefined;
  if (options.tableName) {
    const persistenceStore = new DynamoDBPersistenceLayer({
      tableName: options.tableName,
      awsSdkV3Client: options.client,
    });
    config = new IdempotencyConfig({ eventKeyJmesPath: 'powertools_json(body).id' });
    recordHandler = makeIdempotent(recordHandler, { persistenceStore, config });
  }
  const processor = options.fifo ? new SqsFifoPartialProcessorAsync() : new BatchProcessor(EventType.SQS);
  return async (event: SQSEvent) => {
    config?.registerLambdaContext(context);
    return processPartialResponse(event, recordHandler, processor, { context });
  };
}
