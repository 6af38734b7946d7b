/**
 * The article's setup: the ac-rest-api service, its pipelines in one CICD account, and
 * dev, staging and prod each in an account of its own; prod behind a manual approval,
 * rolled back automatically when its acceptance tests fail; alerts by e-mail. Beside it,
 * order-events: an event-driven service (an SQS worker and a schedule, no HTTP API) as
 * Serverless Framework v3 services are published; its stacks take the name its serverless.yml
 * gives (`order-events-digest-scheduled-jobs-<env>`), read from there.
 *
 * `source.path` lets the whole pipeline run on this machine (`service-pipelines run ac-rest-api`);
 * `source.github` is what the AWS engine builds from.
 */
import { defineConfig } from 'service-pipelines';

export default defineConfig({
  cicd: { account: '111111111111', region: 'us-east-1' },
  environments: [
    { name: 'dev', account: '222222222222', region: 'us-east-1' },
    { name: 'staging', account: '333333333333', region: 'us-east-1' },
    { name: 'prod', account: '444444444444', region: 'us-east-1', approval: true, rollbackOnFailure: true },
  ],
  notifications: {
    email: ['alerts@example.com'],
  },
  services: [
    {
      name: 'ac-rest-api',
      source: {
        path: './ac-rest-api',
        github: {
          owner: 'example-org',
          repo: 'ac-rest-api',
          branch: 'main',
          connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789',
        },
      },
    },
    {
      name: 'order-events',
      source: {
        path: './order-events',
        github: {
          owner: 'example-org',
          repo: 'order-events',
          branch: 'main',
          connectionArn: 'arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789',
        },
      },
    },
  ],
});
