import { RemovalPolicy, SecretValue, Stack, Validations } from 'aws-cdk-lib';
import * as chatbot from 'aws-cdk-lib/aws-chatbot';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

/** A Slack channel reached through AWS Chatbot. */
export interface SlackChannel {
  /** The Slack workspace id (authorized once in the AWS Chatbot console). */
  readonly workspaceId: string;
  /** The Slack channel id. */
  readonly channelId: string;
}

/** Properties of an `AlertsTopic`. */
export interface AlertsTopicProps {
  /**
   * E-mail addresses subscribed to the topic (each confirms its subscription once).
   *
   * @default - no e-mail subscriptions
   */
  readonly emails?: readonly string[];
  /**
   * A Slack channel that gets the topic's messages through AWS Chatbot.
   *
   * @default - no Slack channel
   */
  readonly slack?: SlackChannel;
  /**
   * The Secrets Manager secret holding an https URL (a Slack incoming webhook or any endpoint
   * taking `{"text": "..."}`) that failed executions and approvals waiting are posted to, through
   * an EventBridge API destination. The URL is a credential: CloudFormation resolves it from the
   * secret at deploy time, so no template holds it.
   *
   * @default - no webhook
   */
  readonly webhook?: WebhookSecret;
  /**
   * Name of the Chatbot channel configuration.
   *
   * @default 'service-pipelines-alerts'
   */
  readonly chatbotConfigurationName?: string;
}

/** A Secrets Manager secret whose value (or one JSON key of it) is a webhook's URL. */
export interface WebhookSecret {
  /** The secret's name or ARN, in the stack's account and region. */
  readonly secret: string;
  /**
   * The key of the secret's JSON value that holds the URL.
   *
   * @default - the whole value is the URL
   */
  readonly jsonKey?: string;
}

/** Where EventBridge rules send their alerts: the topic, and the webhook when there is one. */
export interface AlertTargets {
  /** The alerts topic's ARN. */
  readonly topicArn: string;
  /**
   * The webhook's API destination and the role EventBridge invokes it with.
   *
   * @default - no webhook
   */
  readonly webhook?: { readonly destinationArn: string; readonly roleArn: string };
}

/**
 * The alerts topic shared by every pipeline (the article's `alertsTopic`): KMS-encrypted, TLS only,
 * publishable by EventBridge rules of this account, with its e-mail, Slack and webhook deliveries.
 */
export class AlertsTopic extends Construct {
  /** The topic. */
  readonly topic: sns.Topic;
  /** The key that encrypts the topic's messages at rest. */
  readonly key: kms.Key;
  /** The AWS Chatbot channel configuration, when a Slack channel is configured. */
  readonly slackChannel?: chatbot.SlackChannelConfiguration;
  /** The webhook's API destination, when a webhook is configured. */
  readonly webhookDestination?: events.ApiDestination;
  /** The role EventBridge uses to call the webhook's API destination. */
  readonly webhookRole?: iam.Role;

  constructor(scope: Construct, id: string, props: AlertsTopicProps = {}) {
    super(scope, id);
    const { account } = Stack.of(this);
    const fromThisAccount = { StringEquals: { 'aws:SourceAccount': account } };
    this.key = new kms.Key(this, 'Key', {
      description: 'Encrypts the service pipelines alerts topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // EventBridge publishes with the service principal, which needs the key through the key policy.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgePublishesAlerts',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        resources: ['*'],
        conditions: fromThisAccount,
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'Service pipelines alerts',
      masterKey: this.key,
      enforceSSL: true,
    });
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgeRulesOfThisAccount',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: fromThisAccount,
      }),
    );
    for (const email of props.emails ?? []) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    }
    if (props.slack) {
      this.slackChannel = new chatbot.SlackChannelConfiguration(this, 'Slack', {
        slackChannelConfigurationName: props.chatbotConfigurationName ?? 'service-pipelines-alerts',
        slackWorkspaceId: props.slack.workspaceId,
        slackChannelId: props.slack.channelId,
        notificationTopics: [this.topic],
        // The channel reads alerts; it gets no rights to act on the account from Slack.
        guardrailPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AWSDenyAll')],
        loggingLevel: chatbot.LoggingLevel.ERROR,
      });
      Validations.of(this.slackChannel).acknowledge({
        id: 'AwsSolutions-IAM4',
        reason: 'AWSDenyAll is the guardrail that keeps the Slack channel from acting on the account; it grants nothing.',
      });
    }
    if (props.webhook) {
      // Slack incoming webhooks authenticate through their URL (a connection's auth parameters
      // can add headers, query strings and body fields, not a path); EventBridge connections
      // require an authorization anyway, so a constant header stands in (it grants nothing).
      const connection = new events.Connection(this, 'WebhookConnection', {
        description: 'Service pipelines alerts webhook',
        authorization: events.Authorization.apiKey('x-service-pipelines', SecretValue.unsafePlainText('alerts')),
      });
      // A dynamic reference: CloudFormation reads the URL from Secrets Manager when it creates or
      // updates the destination; the template and its change sets hold only the secret's name.
      const endpoint = SecretValue.secretsManager(props.webhook.secret, props.webhook.jsonKey ? { jsonField: props.webhook.jsonKey } : {}).unsafeUnwrap();
      this.webhookDestination = new events.ApiDestination(this, 'Webhook', {
        connection,
        endpoint,
        httpMethod: events.HttpMethod.POST,
        description: 'Service pipelines alerts webhook',
        rateLimitPerSecond: 5,
      });
      this.webhookRole = new iam.Role(this, 'WebhookRole', {
        assumedBy: new iam.ServicePrincipal('events.amazonaws.com', { conditions: fromThisAccount }),
        description: 'Lets EventBridge rules post service pipelines alerts to the webhook',
        inlinePolicies: {
          InvokeWebhook: new iam.PolicyDocument({
            statements: [new iam.PolicyStatement({ actions: ['events:InvokeApiDestination'], resources: [this.webhookDestination.apiDestinationArn] })],
          }),
        },
      });
    }
  }

  /** The targets EventBridge rules send alerts to. */
  get targets(): AlertTargets {
    return {
      topicArn: this.topic.topicArn,
      ...(this.webhookDestination && this.webhookRole
        ? { webhook: { destinationArn: this.webhookDestination.apiDestinationArn, roleArn: this.webhookRole.roleArn } }
        : {}),
    };
  }
}
