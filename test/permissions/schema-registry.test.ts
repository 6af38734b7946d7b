import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/model/errors.js';
import { loadSchemaRegistry, parseSchema } from '../../src/permissions/index.js';
import { copySchemas, hasSharedSchemas, NEEDS_SCHEMAS, SHARED_SCHEMAS, schemaFileOf, tempDir, writeZip } from './helpers.js';

const TYPES = ['AWS::Lambda::Function', 'AWS::IAM::Role', 'AWS::CodeBuild::Project'];

describe('parseSchema', () => {
  it('GIVEN a schema with handlers and tagging WHEN parsed THEN the permissions of each handler and tagging are read', () => {
    const schema = parseSchema({
      typeName: 'AWS::Demo::Thing',
      properties: { ThingName: { type: 'string' } },
      primaryIdentifier: ['/properties/ThingName'],
      handlers: { create: { permissions: ['demo:CreateThing', 42] }, delete: { permissions: ['demo:DeleteThing'] } },
      tagging: { taggable: true, permissions: ['demo:TagResource'] },
    });
    expect(schema).toEqual({
      typeName: 'AWS::Demo::Thing',
      handlers: { create: ['demo:CreateThing'], delete: ['demo:DeleteThing'] },
      taggingPermissions: ['demo:TagResource'],
      hasHandlers: true,
      propertyNames: ['ThingName'],
      primaryIdentifier: ['/properties/ThingName'],
    });
  });

  it('GIVEN a schema without handlers, and a document that is no schema WHEN parsed THEN the first has no handlers and the second is undefined', () => {
    expect(parseSchema({ typeName: 'AWS::Demo::Legacy', properties: {} })?.hasHandlers).toBe(false);
    expect(parseSchema({ name: 'package.json' })).toBeUndefined();
  });
});

describe.skipIf(!hasSharedSchemas)(`loadSchemaRegistry${NEEDS_SCHEMAS}`, () => {
  it('GIVEN a folder of schemas WHEN loaded THEN each type is known, with its handlers, IAM data and ARN template', async () => {
    const folder = copySchemas(TYPES, path.join(tempDir(), 'schemas'));
    const registry = await loadSchemaRegistry(folder);
    expect(registry.typeNames().sort()).toEqual([...TYPES].sort());
    expect(registry.schema('AWS::Lambda::Function')!.handlers.create).toContain('lambda:CreateFunction');
    expect(registry.schema('AWS::CodeBuild::Project')!.hasHandlers).toBe(false);
    expect(registry.iam.action('LAMBDA:createfunction')!.name).toBe('lambda:CreateFunction');
    expect(registry.iam.action('lambda:NoSuchAction')).toBeUndefined();
    expect(registry.arnTemplate('AWS::Lambda::Function')).toBe('arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}');
  });

  it('GIVEN the same schemas zipped as AWS publishes them WHEN loaded THEN the registry is the same', async () => {
    const entries = Object.fromEntries(TYPES.map((t) => [schemaFileOf(t), readFileSync(path.join(SHARED_SCHEMAS, schemaFileOf(t)))]));
    const zip = writeZip(path.join(tempDir(), 'CloudformationSchema.zip'), entries);
    const registry = await loadSchemaRegistry(zip, { arnTemplates: false });
    expect(registry.typeNames().sort()).toEqual([...TYPES].sort());
    expect(registry.schema('AWS::IAM::Role')!.handlers.delete).toContain('iam:DeleteRole');
    expect(registry.arnTemplate('AWS::Lambda::Function')).toBeUndefined();
  });

  it('GIVEN the whole shared folder WHEN loaded THEN all its schemas are known, including the 175 without handlers', async () => {
    const registry = await loadSchemaRegistry(SHARED_SCHEMAS, { arnTemplates: false });
    expect(registry.size).toBe(1665);
    const withoutHandlers = registry.typeNames().filter((t) => !registry.schema(t)!.hasHandlers);
    expect(withoutHandlers).toHaveLength(175);
    expect(withoutHandlers).toContain('AWS::Route53::RecordSet');
  });
});

describe('loadSchemaRegistry on bad input', () => {
  const problemsOf = async (source: string) => {
    const error = await loadSchemaRegistry(source, { arnTemplates: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    return { message: (error as InputError).message, where: (error as InputError).problems.map((p) => p.where) };
  };

  it('GIVEN a path that does not exist WHEN loaded THEN an InputError tells how to get schemas', async () => {
    const { message } = await problemsOf(path.join(tempDir(), 'missing'));
    expect(message).toMatch(/the schemas were not found: .*permissions update/s);
  });

  it('GIVEN a folder with a file that is not JSON and one that is not a schema WHEN loaded THEN both files are named', async () => {
    const folder = tempDir();
    writeFileSync(path.join(folder, 'broken.json'), '{ nope');
    writeFileSync(path.join(folder, 'package.json'), '{"name":"x"}');
    const { where } = await problemsOf(folder);
    expect(where.sort()).toEqual(['broken.json', 'package.json']);
  });

  it('GIVEN an empty folder, and a file that is not a zip WHEN loaded THEN each is refused', async () => {
    expect((await problemsOf(tempDir())).message).toMatch(/no CloudFormation resource schema in/);
    const notZip = path.join(tempDir(), 'CloudformationSchema.zip');
    writeFileSync(notZip, 'this is not a zip');
    expect((await problemsOf(notZip)).message).toMatch(/is neither a folder nor a zip of CloudFormation resource schemas/);
  });
});
