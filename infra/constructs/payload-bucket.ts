import { Duration, RemovalPolicy, aws_s3 as s3, Validations } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/** Props of {@link PayloadBucket}. */
export interface PayloadBucketProps {
  /**
   * Days after which S3 deletes a payload. Set it longer than a message can wait for its consumer: the
   * longest queue retention plus DLQ retention of the groups that read the bucket (FanoutTopology adds a day).
   * `false` adds no expiry rule here: add one yourself with `bucket.addLifecycleRule` (FanoutTopology does,
   * once its groups, and so their queues' retention, exist), or keep the objects until you delete them.
   * Required, so that a bucket whose payloads never expire is a choice written down, not an omission.
   */
  readonly expirationDays: number | false;
  /**
   * What happens to the bucket (and the access-log bucket fanout creates) when it leaves the stack. DESTROY
   * fails while the bucket holds objects.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Where S3 writes the bucket's server access logs; `false` for none.
   * @default a new bucket (SSE-S3, TLS only, public access blocked, logs deleted after 90 days)
   */
  readonly accessLogsBucket?: s3.IBucket | false;
  /**
   * Props merged over fanout's for the payload bucket (e.g. `encryptionKey`, `bucketName`).
   * @default none: SSE-S3, TLS only, public access blocked, objects deleted after `expirationDays` (unless `false`)
   */
  readonly bucketProps?: Partial<s3.BucketProps>;
}

/**
 * The bucket that holds message payloads too large for their topic (the "claim check": the message carries a
 * pointer, the consumer fetches the payload). Encrypted, TLS only, never public, objects expire.
 */
export class PayloadBucket extends Construct {
  readonly bucket: s3.Bucket;
  /** The bucket of the server access logs, when fanout created it. */
  readonly accessLogsBucket?: s3.Bucket;

  constructor(scope: Construct, id: string, props: PayloadBucketProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const secure = {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      removalPolicy,
    };
    let logs = props.accessLogsBucket;
    if (logs === undefined) {
      this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
        ...secure,
        lifecycleRules: [{ expiration: Duration.days(90) }],
      });
      Validations.of(this.accessLogsBucket).acknowledge({
        id: 'AwsSolutions-S1',
        reason:
          'This bucket receives the payload bucket’s server access logs; logging access to it would need yet another bucket.',
      });
      logs = this.accessLogsBucket;
    }
    this.bucket = new s3.Bucket(this, 'Payloads', {
      ...secure,
      lifecycleRules:
        props.expirationDays === false ? undefined : [{ expiration: Duration.days(props.expirationDays) }],
      serverAccessLogsBucket: logs || undefined,
      ...props.bucketProps,
    });
  }
}
