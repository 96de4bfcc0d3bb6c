import { Aws, aws_iam as iam, aws_kms as kms, aws_sns as sns } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/** Props of {@link AlarmTopic}. */
export interface AlarmTopicProps {
  /**
   * E-mail address subscribed to the topic (the address confirms the subscription).
   * @default none: subscribe later
   */
  readonly email?: string;
}

/**
 * An SNS topic for CloudWatch alarm actions, encrypted with its own customer managed KMS key (CloudWatch
 * cannot use the AWS managed key of SNS), TLS only. CloudWatch may use the key and publish to the topic only
 * for alarms of this account and region (`aws:SourceAccount`, `aws:SourceArn`).
 */
export class AlarmTopic extends Construct {
  readonly key: kms.Key;
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: AlarmTopicProps = {}) {
    super(scope, id);
    const cloudwatch = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    const fromOurAlarms = {
      StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
      ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:*` },
    };
    this.key = new kms.Key(this, 'Key', {
      enableKeyRotation: true,
      description:
        'fanout alarm topic: CloudWatch needs a customer managed key to publish to an encrypted topic',
    });
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [cloudwatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'], // in a key policy, "*" is this key
        conditions: fromOurAlarms,
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', { masterKey: this.key, enforceSSL: true });
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [cloudwatch],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: fromOurAlarms,
      }),
    );
    if (props.email) {
      new sns.Subscription(this, 'Email', {
        topic: this.topic,
        protocol: sns.SubscriptionProtocol.EMAIL,
        endpoint: props.email,
      });
    }
  }
}
