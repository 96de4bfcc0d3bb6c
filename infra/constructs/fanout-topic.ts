import { aws_kms as kms, aws_sns as sns } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/** Props of {@link FanoutTopic}. */
export interface FanoutTopicProps {
  /**
   * Whether the topic is FIFO (messages of one group id in order, deduplicated for 5 minutes).
   * @default false
   */
  readonly fifo?: boolean;
  /**
   * KMS key for server-side encryption.
   * @default the AWS managed key for SNS (`alias/aws/sns`)
   */
  readonly masterKey?: kms.IKey;
  /**
   * Physical topic name.
   * @default a name CloudFormation generates (unique per stack; tools find it in the stack outputs)
   */
  readonly topicName?: string;
  /**
   * Largest message the topic accepts, in bytes (CloudFormation's `MaximumMessageSize`, 1024 to 1,048,576).
   * @default not set: SNS's default of 262,144 bytes (256 KiB)
   */
  readonly maxMessageSizeBytes?: number;
}

/** An SNS topic that publishers write fanout envelopes to: encrypted, TLS only. */
export class FanoutTopic extends Construct {
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: FanoutTopicProps = {}) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', {
      fifo: props.fifo ?? false,
      topicName: props.topicName,
      masterKey: props.masterKey ?? kms.Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
      enforceSSL: true,
    });
    // The L2 Topic has no prop for it (aws-cdk-lib 2.276); CfnTopic does.
    if (props.maxMessageSizeBytes !== undefined)
      (this.topic.node.defaultChild as sns.CfnTopic).maximumMessageSize = props.maxMessageSizeBytes;
  }
}
