import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/model/errors.js';
import { arnsIn, parseTemplate, referencedLogicalIds, resolveString, type ResolveContext } from '../../src/permissions/template.js';

const context: ResolveContext = {
  stackName: 'orders-dev',
  region: 'eu-west-1',
  account: '123456789012',
  partition: 'aws',
  parameters: new Map([['Stage', 'dev']]),
  physicalName: (id) => (id === 'Table' ? 'orders-table' : undefined),
};

describe('resolveString', () => {
  it('GIVEN Fn::Sub with pseudo parameters, parameters and literals WHEN resolved THEN each is filled and ${!x} stays literal', () => {
    expect(resolveString({ 'Fn::Sub': 'arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-${Stage}-${!Keep}' }, context)).toBe(
      'arn:aws:lambda:eu-west-1:123456789012:function:orders-dev-dev-${Keep}',
    );
  });

  it('GIVEN Fn::Sub with its own variables and an attribute WHEN resolved THEN the variables are used and the attribute becomes *', () => {
    expect(resolveString({ 'Fn::Sub': ['${Prefix}-${Fn.Arn}-x', { Prefix: { Ref: 'AWS::StackName' } }] }, context)).toBe('orders-dev-*-x');
  });

  it('GIVEN Fn::Join of Ref, GetAtt and a resource whose Ref is its name WHEN resolved THEN unknown parts collapse to one *', () => {
    expect(resolveString({ 'Fn::Join': ['-', [{ Ref: 'Table' }, { 'Fn::GetAtt': ['Queue', 'Arn'] }, { 'Fn::ImportValue': 'x' }, 'end']] }, context)).toBe('orders-table-*-*-end');
    expect(resolveString({ 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Queue', 'Arn'] }, { 'Fn::ImportValue': 'x' }]] }, context)).toBe('*');
  });

  it('GIVEN a parameter without a value and Fn::Select of literals WHEN resolved THEN the parameter is * and the selection picks its item', () => {
    expect(resolveString({ Ref: 'Unknown' }, context)).toBe('*');
    expect(resolveString({ 'Fn::Select': [1, ['a', 'b']] }, context)).toBe('b');
    expect(resolveString({ Ref: 'AWS::URLSuffix' }, { ...context, partition: 'aws-cn' })).toBe('amazonaws.com.cn');
  });

  it('GIVEN a value that is not string-like WHEN resolved THEN undefined', () => {
    expect(resolveString({ Key: 'a', Value: 'b' }, context)).toBeUndefined();
    expect(resolveString(['a'], context)).toBeUndefined();
  });
});

describe('referencedLogicalIds and arnsIn', () => {
  it('GIVEN Ref, GetAtt in both forms and Fn::Sub references WHEN scanned THEN only the template resources are returned, once each', () => {
    const ids = new Set(['Role', 'Bucket', 'Fn', 'Queue']);
    const value = {
      Role: { 'Fn::GetAtt': ['Role', 'Arn'] },
      Other: { 'Fn::GetAtt': 'Bucket.Arn' },
      Sub: { 'Fn::Sub': 'x-${Fn}-${Queue.Arn}-${AWS::Region}-${!Fn}' },
      Again: [{ Ref: 'Role' }, { Ref: 'AWS::StackName' }, { Ref: 'NotAResource' }],
    };
    expect(referencedLogicalIds(value, ids).sort()).toEqual(['Bucket', 'Fn', 'Queue', 'Role']);
  });

  it('GIVEN literal and built ARNs in nested properties WHEN scanned THEN both are found, resolved', () => {
    const value = { Role: 'arn:aws:iam::111111111111:role/external', Nested: [{ Arn: { 'Fn::Sub': 'arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:alerts' } }], Name: 'not-an-arn' };
    expect(arnsIn(value, context).sort()).toEqual(['arn:aws:iam::111111111111:role/external', 'arn:aws:sns:eu-west-1:123456789012:alerts']);
  });
});

describe('parseTemplate', () => {
  it('GIVEN a template with parameters, a transform and resources WHEN parsed THEN defaults, transforms and resources are read in order', () => {
    const parsed = parseTemplate({
      Transform: 'AWS::Serverless-2016-10-31',
      Parameters: { Stage: { Type: 'String', Default: 'dev' }, Size: { Type: 'Number', Default: 3 }, NoDefault: { Type: 'String' } },
      Resources: { B: { Type: 'AWS::S3::Bucket' }, A: { Type: 'Custom::Thing', Properties: { ServiceToken: 'x' } } },
    });
    expect(parsed.resources.map((r) => [r.logicalId, r.type])).toEqual([
      ['B', 'AWS::S3::Bucket'],
      ['A', 'Custom::Thing'],
    ]);
    expect(Object.fromEntries(parsed.parameterDefaults)).toEqual({ Stage: 'dev', Size: '3' });
    expect(parsed.transforms).toEqual(['AWS::Serverless-2016-10-31']);
  });

  it('GIVEN something that is not a template WHEN parsed THEN an InputError says what is missing', () => {
    expect(() => parseTemplate([1, 2], 'x.json')).toThrow(InputError);
    expect(() => parseTemplate({ AWSTemplateFormatVersion: '2010-09-09' }, 'x.json')).toThrow(/x.json: Resources: required/);
  });

  it('GIVEN resources with bad types and properties WHEN parsed THEN every problem is listed with its path', () => {
    try {
      parseTemplate({ Resources: { A: { Type: 'lambda' }, B: 'x', C: { Type: 'AWS::SQS::Queue', Properties: [] } } }, 't.json');
      expect.unreachable();
    } catch (error) {
      expect((error as InputError).problems.map((p) => p.where)).toEqual(['t.json: Resources.A.Type', 't.json: Resources.B', 't.json: Resources.C.Properties']);
    }
  });
});
