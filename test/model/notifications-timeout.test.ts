import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/model/errors.js';
import { buildPlans } from '../../src/model/plan.js';
import { validateConfig } from '../../src/model/validate.js';
import { articleConfig } from '../fixtures/configs.js';

function problemsOf(value: unknown): Record<string, string> {
  try {
    validateConfig(value);
  } catch (error) {
    if (error instanceof InputError) return Object.fromEntries(error.problems.map((p) => [p.where, p.message]));
    throw error;
  }
  return {};
}

function withWebhook(webhook: unknown) {
  return { ...articleConfig(), notifications: { email: ['alerts@example.com'], webhook } };
}

describe('config: notifications.webhook', () => {
  it('GIVEN a Slack webhook URL written in the config WHEN validated THEN it is refused (the URL is a credential) and the message says to keep it in a secret', () => {
    const problems = problemsOf(withWebhook('https://hooks.slack.com/services/T000/B000/XXXXXXXX'));
    expect(problems['notifications.webhook']).toMatch(/a webhook URL is a credential.*keep it in a Secrets Manager secret and give \{ secret: "<name>" \}/);
  });

  it('GIVEN an http:// webhook on another host WHEN validated THEN it is refused', () => {
    expect(problemsOf(withWebhook('http://hooks.example.com/alerts'))['notifications.webhook']).toContain('only a URL on this machine');
  });

  it('GIVEN the webhook as a secret WHEN planned THEN the plan names the secret and holds no URL', () => {
    const config = validateConfig(withWebhook({ secret: 'pipelines/alerts-webhook', jsonKey: 'url' }));
    const plans = buildPlans(config);
    for (const plan of plans.pipelines) expect(plan.notifications.webhook).toEqual({ secret: 'pipelines/alerts-webhook', jsonKey: 'url' });
    expect(JSON.stringify(plans)).not.toMatch(/https?:\/\//);
  });

  it('GIVEN a webhook on this machine (local runs) WHEN planned THEN the plan keeps that URL', () => {
    const plans = buildPlans(validateConfig(withWebhook('http://127.0.0.1:9000/hook')));
    expect(plans.pipelines[0]!.notifications.webhook).toEqual({ url: 'http://127.0.0.1:9000/hook' });
  });

  it('GIVEN a secret with a character no secret name has WHEN validated THEN the path of the secret is named', () => {
    expect(problemsOf(withWebhook({ secret: 'alerts webhook' }))['notifications.webhook.secret']).toContain('must be a Secrets Manager secret name or ARN');
  });
});

describe('config: timeoutMinutes and the AWS Commands action', () => {
  const service = (extra: Record<string, unknown>) => {
    const config = articleConfig();
    return { ...config, services: [{ ...config.services[0]!, ...extra }] };
  };

  it('GIVEN a service built in AWS with more than 55 minutes WHEN validated THEN it is refused, saying the Commands action stops at 55', () => {
    expect(problemsOf(service({ timeoutMinutes: 90 }))['services[0].timeoutMinutes']).toMatch(
      /90 minutes is more than AWS can honour: every action runs as a CodePipeline Commands action, which stops at 55 minutes/,
    );
  });

  it('GIVEN 55 minutes, or a local-only service with 120 WHEN validated THEN both pass', () => {
    expect(problemsOf(service({ timeoutMinutes: 55 }))).toEqual({});
    expect(problemsOf(service({ timeoutMinutes: 120, source: { path: './ac-rest-api' } }))).toEqual({});
  });
});

describe('config: acknowledgeWildcards', () => {
  it('GIVEN an acknowledgement without a real reason WHEN validated THEN it is refused by its Sid', () => {
    const config = articleConfig();
    const problems = problemsOf({ ...config, services: [{ ...config.services[0]!, acknowledgeWildcards: { Tables: 'ok' } }] });
    expect(problems['services[0].acknowledgeWildcards.Tables']).toContain('give the reason a reviewer would accept');
  });
});
