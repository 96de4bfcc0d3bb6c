import { aws_dynamodb as dynamodb, aws_iam as iam, RemovalPolicy } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/**
 * The DynamoDB actions fanout's idempotency store calls (lib/idempotency-store.ts): `PutItem` (claim),
 * `GetItem` (read the holder of a key when DynamoDB does not return it), `UpdateItem` (renew a lease, only when
 * the handler sets `idempotency.leaseSeconds` shorter than the invocation) and `BatchWriteItem` (complete and
 * release keys; its deletes need no `DeleteItem`). Nothing else: a test derives the list from the store's source.
 */
export const IDEMPOTENCY_TABLE_ACTIONS: readonly string[] = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:BatchWriteItem',
];

/** Props of {@link PrefixedTable}. */
export interface PrefixedTableProps {
  /**
   * Physical table name.
   * @default a name CloudFormation generates
   */
  readonly tableName?: string;
  /**
   * What happens to the table when it leaves the stack (or the stack is deleted).
   * @default RemovalPolicy.RETAIN (as CDK's own Table: data is never deleted by a deploy)
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A DynamoDB table whose partition key `pk` starts with the consumer group (`group#…`), so each
 * group's function can be restricted to its own keys with {@link grantKeyPrefix}. On-demand, TTL on
 * `expiresAt`, point-in-time recovery, encrypted. The shape fanout's idempotency store expects.
 */
export class PrefixedTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: PrefixedTableProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      tableName: props.tableName,
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }
}

/**
 * Lets `grantee` call `actions` on `table`, only on the items whose partition key starts with `prefix#`
 * (IAM condition `dynamodb:LeadingKeys`), and, when the table is encrypted with a customer managed key,
 * lets it use that key.
 */
export function grantKeyPrefix(
  table: dynamodb.ITable,
  grantee: iam.IGrantable,
  prefix: string,
  actions: readonly string[],
): iam.Grant {
  // A table under a customer managed key needs the key too (DynamoDB calls KMS on the caller's behalf).
  table.encryptionKey?.grantEncryptDecrypt(grantee);
  return iam.Grant.addToPrincipal({
    grantee,
    actions: [...actions],
    resourceArns: [table.tableArn],
    conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${prefix}#*`] } },
  });
}
