import { describe, expect, it } from 'vitest';
import { diffPolicies, grantsOf, groupGrants, policySize, splitIntoDocuments, type Grant, type PolicyStatement } from '../../src/permissions/policy.js';

const fn = 'arn:aws:lambda:us-east-1:123456789012:function:orders';

describe('groupGrants', () => {
  it('GIVEN grants of several actions on the same resources WHEN grouped THEN one statement holds those actions, sorted', () => {
    const grants: Grant[] = [
      { action: 'lambda:UpdateFunctionCode', resource: fn },
      { action: 'lambda:CreateFunction', resource: fn },
      { action: 'lambda:CreateFunction', resource: fn },
      { action: 'ec2:DescribeVpcs', resource: '*' },
    ];
    expect(groupGrants(grants).map((g) => g.statement)).toEqual([
      { Effect: 'Allow', Action: ['ec2:DescribeVpcs'], Resource: ['*'] },
      { Effect: 'Allow', Action: ['lambda:CreateFunction', 'lambda:UpdateFunctionCode'], Resource: [fn] },
    ]);
  });

  it('GIVEN an action allowed on * and on an ARN WHEN grouped THEN * covers it, and conditions keep statements apart', () => {
    const condition = { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } };
    const statements = groupGrants([
      { action: 'kms:Decrypt', resource: '*' },
      { action: 'kms:Decrypt', resource: 'arn:aws:kms:us-east-1:1:key/a' },
      { action: 'iam:PassRole', resource: 'arn:aws:iam::1:role/a', condition },
      { action: 'iam:GetRole', resource: 'arn:aws:iam::1:role/a' },
    ]).map((g) => g.statement);
    expect(statements).toContainEqual({ Effect: 'Allow', Action: ['kms:Decrypt'], Resource: ['*'] });
    expect(statements).toContainEqual({ Effect: 'Allow', Action: ['iam:PassRole'], Resource: ['arn:aws:iam::1:role/a'], Condition: condition });
    expect(statements).toContainEqual({ Effect: 'Allow', Action: ['iam:GetRole'], Resource: ['arn:aws:iam::1:role/a'] });
  });
});

describe('splitIntoDocuments', () => {
  const statements: PolicyStatement[] = Array.from({ length: 30 }, (_, i) => ({
    Sid: `S${i}`,
    Effect: 'Allow',
    Action: ['lambda:CreateFunction', 'lambda:DeleteFunction'],
    Resource: Array.from({ length: 5 }, (_, j) => `${fn}-${i}-${j}`),
  }));

  it('GIVEN statements larger than one policy WHEN split THEN every document fits and no grant is lost or repeated', () => {
    const documents = splitIntoDocuments(statements, 2_000);
    expect(documents.length).toBeGreaterThan(1);
    for (const document of documents) expect(policySize(document)).toBeLessThanOrEqual(2_000);
    const expected = grantsOf([{ Version: '2012-10-17', Statement: statements }]);
    expect(grantsOf(documents)).toHaveLength(expected.length);
    expect(new Set(grantsOf(documents).map((g) => `${g.action} ${g.resource}`))).toEqual(new Set(expected.map((g) => `${g.action} ${g.resource}`)));
  });

  it('GIVEN one statement too big for a policy WHEN split THEN it is cut by resources into statements that fit', () => {
    const big: PolicyStatement = { Effect: 'Allow', Action: ['s3:GetObject'], Resource: Array.from({ length: 200 }, (_, i) => `arn:aws:s3:::bucket-${i}/*`) };
    const documents = splitIntoDocuments([big], 1_000);
    expect(documents.length).toBeGreaterThan(4);
    for (const document of documents) expect(policySize(document)).toBeLessThanOrEqual(1_000);
    expect(grantsOf(documents)).toHaveLength(200);
  });

  it('GIVEN a policy that fits WHEN split THEN one document with every statement, in order', () => {
    const documents = splitIntoDocuments(statements.slice(0, 2));
    expect(documents).toEqual([{ Version: '2012-10-17', Statement: statements.slice(0, 2) }]);
  });
});

describe('diffPolicies', () => {
  const document = (statement: PolicyStatement[]) => [{ Version: '2012-10-17' as const, Statement: statement }];

  it('GIVEN a new policy with one more action and one less resource WHEN compared THEN exactly those grants are added and removed', () => {
    const before = document([{ Effect: 'Allow', Action: ['lambda:CreateFunction'], Resource: [fn, `${fn}-old`] }]);
    const after = document([{ Effect: 'Allow', Action: ['lambda:CreateFunction', 'lambda:TagResource'], Resource: [fn] }]);
    const diff = diffPolicies(before, after);
    expect(diff.added).toEqual([{ action: 'lambda:TagResource', resource: fn }]);
    expect(diff.removed).toEqual([{ action: 'lambda:CreateFunction', resource: `${fn}-old` }]);
  });

  it('GIVEN an old policy with the action on * WHEN the new one has it on an ARN THEN that is no growth', () => {
    const before = document([{ Effect: 'Allow', Action: 'ec2:DescribeVpcs', Resource: '*' }]);
    const after = document([{ Effect: 'Allow', Action: 'EC2:DescribeVpcs', Resource: 'arn:aws:ec2:us-east-1:1:vpc/x' }]);
    expect(diffPolicies(before, after).added).toEqual([]);
  });
});
