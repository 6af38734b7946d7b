/**
 * Template validation by shape: templates that differ only in the names of services, stacks,
 * environments and accounts are validated once; a finding in one of them is reported for each
 * template of its shape, as validating every template would report it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CfnResource } from 'aws-cdk-lib';
import { afterEach, describe, expect, it } from 'vitest';
import { createCicdApp } from '../../src/aws/cicd-app.js';
import { shapeOf } from '../../src/aws/template-shapes.js';
import { TemplateValidation } from '../../src/aws/template-validation.js';
import { buildPlans } from '../../src/model/plan.js';
import { config, service, testTool } from './helpers.js';

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** A small template of a role named after a service, in an account. */
function roleTemplate(service: string, account: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    Resources: {
      BuildRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          RoleName: `${service}-build-action`,
          AssumeRolePolicyDocument: { Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'sts:AssumeRole' }] },
          ...extra,
        },
      },
    },
  });
}

describe('template shapes', () => {
  const names = { names: new Set(['orders', 'billing', 'payments']) };

  it('GIVEN two templates that differ only in a service name of the same length and an account WHEN shaped THEN they have one shape', () => {
    expect(shapeOf(roleTemplate('orders', '111111111111'), 'us-east-1', names)).toBe(shapeOf(roleTemplate('billing'.slice(0, 6), '222222222222'), 'us-east-1', { names: new Set(['orders', 'billin']) }));
  });

  it('GIVEN names of different lengths, another region or another property value WHEN shaped THEN each is a shape of its own', () => {
    const base = shapeOf(roleTemplate('orders', '111111111111'), 'us-east-1', names);
    // A name's length can decide a validation (a role name's maximum length).
    expect(shapeOf(roleTemplate('payments', '111111111111'), 'us-east-1', names)).not.toBe(base);
    expect(shapeOf(roleTemplate('orders', '111111111111'), 'eu-west-1', names)).not.toBe(base);
    expect(shapeOf(roleTemplate('orders', '111111111111', { MaxSessionDuration: 3600 }), 'us-east-1', names)).not.toBe(base);
    // A word that merely contains a name is not that name.
    expect(shapeOf(roleTemplate('ordersx', '111111111111'), 'us-east-1', names)).not.toBe(shapeOf(roleTemplate('billingx', '111111111111'), 'us-east-1', names));
  });
});

describe('validating an app by shape', () => {
  function app(services: string[], validation: TemplateValidation) {
    const outdir = mkdtempSync(path.join(tmpdir(), 'sp-validation-test-'));
    folders.push(outdir);
    return createCicdApp(buildPlans(config(services.map((name) => service(name)))), { outdir, tool: testTool(), servicesPerStack: 1, validateTemplates: validation });
  }

  it('GIVEN three services of names of one length, a pipelines stack each WHEN synthesized with validation THEN one pipelines template of the three is validated, and synthesis succeeds', () => {
    const validation = TemplateValidation.inProcess();
    const { app: cdkApp, cicd } = app(['orders', 'emails', 'boxing'], validation);

    cdkApp.synth();

    expect(cicd.pipelineStacks).toHaveLength(3);
    expect(cicd.deployerStacks).toHaveLength(3);
    // Of the 7 templates: the shared stack, one pipelines stack for the three, and the deployer
    // stacks of dev, staging and prod (names of three lengths: three shapes).
    expect(validation.lastRun).toEqual({ templates: 7, validated: 1 + 1 + 3 });
  }, 300_000);

  it('GIVEN the same broken resource in each of three alike pipelines stacks WHEN synthesized with validation THEN synthesis fails naming the finding in each of the three stacks', () => {
    const validation = TemplateValidation.inProcess();
    const { app: cdkApp, cicd } = app(['orders', 'emails', 'boxing'], validation);
    for (const stack of cicd.pipelineStacks) new CfnResource(stack, 'Broken', { type: 'AWS::SNS::Topic', properties: { NoSuchProperty: true } });

    let message = '';
    try {
      cdkApp.synth();
    } catch (error) {
      message = String(error);
    }

    expect(message).toMatch(/NoSuchProperty|Additional properties|not allowed/);
    for (const stack of cicd.pipelineStacks) expect(message).toContain(`${stack.node.path}/Broken`);
    // The five shapes, then the two other pipelines templates of the shape with the finding.
    expect(validation.lastRun).toEqual({ templates: 7, validated: 5 + 2 });
  }, 300_000);
});
