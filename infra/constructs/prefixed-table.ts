import { aws_dynamodb as dynamodb, aws_iam as iam, RemovalPolicy } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/** Props of {@link PrefixedTable}. */
export interface PrefixedTableProps {
  /**
   * Physical table name.
   * @default a name CloudFormation generates
   */
  readonly tableName?: string;
  /**
   * What happens to the table when it leaves the stack.
   * @default RemovalPolicy.DESTROY (it holds only short-lived keys; use RETAIN for data you keep)
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A DynamoDB table whose partition key `pk` starts with the consumer group (`group#…`), so each
 * group's function can be restricted to its own keys. On-demand, TTL on `expiresAt`,
 * point-in-time recovery. Used for the idempotency keys and for the example app's effects.
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
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
  }

  /**
   * Lets `grantee` read and write only the items whose key starts with `prefix#`
   * (IAM condition `dynamodb:LeadingKeys`).
   */
  grantKeyPrefix(grantee: iam.IGrantable, prefix: string): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
        'dynamodb:BatchWriteItem',
        'dynamodb:ConditionCheckItem',
      ],
      resourceArns: [this.table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${prefix}#*`] } },
    });
  }
}
