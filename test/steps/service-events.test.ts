import { describe, expect, it } from 'vitest';
import { eventsOfState, formatEvent, splitByEmulation } from '../../src/steps/service-events.js';

/** The shape osls writes: an object met twice is written once, and referenced the second time. */
const state = {
  service: {
    provider: { compiledCloudFormationTemplate: { Resources: { Role: { Properties: { Statement: [{ Resource: [{ 'Fn::GetAtt': ['OrdersQueue', 'Arn'] }] }] } } } } },
    functions: {
      worker: {
        name: 'svc-dev-worker',
        events: [{ sqs: { arn: { $ref: '$["service"]["provider"]["compiledCloudFormationTemplate"]["Resources"]["Role"]["Properties"]["Statement"][0]["Resource"][0]' }, batchSize: 10 } }],
      },
      api: { name: 'svc-dev-api', events: [{ http: { method: 'get', path: 'orders/{id}' } }, { httpApi: 'GET /health' }] },
      nightly: { name: 'svc-dev-nightly', events: [{ schedule: { rate: ['cron(0 3 * * ? *)'], enabled: true } }, { s3: { bucket: 'uploads', event: 's3:ObjectCreated:*' } }, { sns: 'arn:aws:sns:us-east-1:1:alerts' }] },
    },
  },
};

describe('the events of a packaged service', () => {
  it('GIVEN a serverless-state.json WHEN read THEN every function has its deployed name and every event its kind and what it is about', () => {
    const { functions, events } = eventsOfState(state);
    expect(functions).toEqual({ worker: 'svc-dev-worker', api: 'svc-dev-api', nightly: 'svc-dev-nightly' });
    expect(events.map(formatEvent)).toEqual([
      'worker: sqs OrdersQueue',
      'api: http GET /orders/{id}',
      'api: httpApi GET /health',
      'nightly: schedule cron(0 3 * * ? *)',
      'nightly: s3 uploads',
      'nightly: sns alerts',
    ]);
  });

  it('GIVEN those events WHEN split THEN HTTP and schedules are emulated by serverless-offline, queues, buckets and topics are not', () => {
    const { emulated, notEmulated } = splitByEmulation(eventsOfState(state).events);
    expect(emulated.map((e) => e.kind)).toEqual(['http', 'httpApi', 'schedule']);
    expect(notEmulated.map((e) => e.kind)).toEqual(['sqs', 's3', 'sns']);
  });
});
