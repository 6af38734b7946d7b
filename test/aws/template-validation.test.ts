/**
 * Template validation by fragment shape: the groups of resources that refer to one another, when
 * they differ only in the names of services, stacks, environments and accounts, are validated
 * once; a finding in one of them makes every template holding one of its shape be validated
 * whole, so that it is reported where it is, as validating every template would report it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CfnResource } from 'aws-cdk-lib';
import { afterEach, describe, expect, it } from 'vitest';
import { createCicdApp } from '../../src/aws/cicd-app.js';
import { fragmentsOf, shapeOf } from '../../src/aws/template-shapes.js';
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

describe('template fragments', () => {
  it('GIVEN resources joined by Ref, Fn::GetAtt, Fn::Sub and DependsOn, and one apart WHEN split THEN each connected group is a fragment, with the outputs that name it and the other sections', () => {
    const template = {
      Description: 'names every service',
      Parameters: { BootstrapVersion: { Type: 'String' } },
      Resources: {
        Role: { Type: 'AWS::IAM::Role', Properties: {} },
        Policy: { Type: 'AWS::IAM::Policy', Properties: { Roles: [{ Ref: 'Role' }] } },
        Project: { Type: 'AWS::CodeBuild::Project', Properties: { ServiceRole: { 'Fn::GetAtt': ['Role', 'Arn'] } } },
        Topic: { Type: 'AWS::SNS::Topic', Properties: { DisplayName: { 'Fn::Sub': '${Key.Arn}-topic' } } },
        Key: { Type: 'AWS::KMS::Key', Properties: {} },
        Parameter: { Type: 'AWS::SSM::Parameter', DependsOn: 'Topic', Properties: {} },
        Apart: { Type: 'AWS::S3::Bucket', Properties: {} },
      },
      Outputs: { ProjectName: { Value: { Ref: 'Project' } } },
    };

    const fragments = fragmentsOf(JSON.stringify(template))!;

    expect(fragments.map((f) => [...f.resources].sort())).toEqual([['Policy', 'Project', 'Role'], ['Key', 'Parameter', 'Topic'], ['Apart']]);
    expect(fragments[0]!.template['Outputs']).toEqual(template.Outputs);
    expect(fragments[1]!.template['Outputs']).toBeUndefined();
    for (const fragment of fragments) expect(fragment.template['Parameters']).toEqual(template.Parameters);
    expect(fragments.map((f) => f.template['Description'])).toEqual(['names every service', undefined, undefined]);
    expect(fragmentsOf('not json')).toBeUndefined();
  });
});

describe('validating an app by fragment shape', () => {
  function app(services: string[], validation: TemplateValidation) {
    const outdir = mkdtempSync(path.join(tmpdir(), 'sp-validation-test-'));
    folders.push(outdir);
    return createCicdApp(buildPlans(config(services.map((name) => service(name)))), { outdir, tool: testTool(), servicesPerStack: 1, validateTemplates: validation });
  }

  it('GIVEN three and then six services of names of one length, a pipelines stack each WHEN synthesized with validation THEN as many fragments are validated for six as for three, and synthesis succeeds', () => {
    const three = TemplateValidation.inProcess();
    const six = TemplateValidation.inProcess();
    const small = app(['orders', 'emails', 'boxing'], three);
    const large = app(['orders', 'emails', 'boxing', 'stocks', 'prices', 'claims'], six);

    small.app.synth();
    large.app.synth();

    expect(small.cicd.pipelineStacks).toHaveLength(3);
    expect(large.cicd.pipelineStacks).toHaveLength(6);
    expect(three.lastRun!.templates).toBe(7);
    expect(six.lastRun!.templates).toBe(10);
    // Each alike service's pipeline, roles and deployers are fragments of shapes already validated.
    expect(six.lastRun!.validated).toBe(three.lastRun!.validated);
    // Validated whole again: the shared stack alone, for the warning its access-log bucket has (W3045).
    expect(three.lastRun!.validatedWhole).toBe(1);
    expect(six.lastRun!.validatedWhole).toBe(1);
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
    // The broken resource is a fragment of its own, alike in the three stacks: validated once, then
    // the three pipelines templates whole (and the shared one, for its warning).
    expect(validation.lastRun).toMatchObject({ templates: 7, validatedWhole: 3 + 1 });
  }, 300_000);
});
