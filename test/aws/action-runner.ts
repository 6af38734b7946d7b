/**
 * Running what an AWS action runs, on this machine: its commands through the local buildspec
 * executor (CodeBuild's semantics), with a stand-in AWS CLI on PATH that answers from the
 * parameters and the objects of a synthesized cloud assembly (as `cdk deploy` would upload them).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runBuildspec, type LogLine } from '../../src/local/executor/index.js';
import { CICD } from './helpers.js';

const PSEUDO: Record<string, string> = { 'AWS::AccountId': CICD.account, 'AWS::Region': CICD.region, 'AWS::Partition': 'aws', 'AWS::URLSuffix': 'amazonaws.com' };

/** A template value as CloudFormation resolves it in the CICD account (joins, subs and pseudo parameters). */
export function resolveValue(value: unknown): string {
  if (typeof value === 'string') return value;
  const intrinsic = value as Record<string, unknown>;
  if (Array.isArray(intrinsic['Fn::Join'])) {
    const [separator, parts] = intrinsic['Fn::Join'] as [string, unknown[]];
    return parts.map(resolveValue).join(separator);
  }
  if (typeof intrinsic['Fn::Sub'] === 'string') {
    return (intrinsic['Fn::Sub'] as string).replace(/\$\{([^}]+)\}/g, (_, name: string) => PSEUDO[name] ?? `<unresolved ${name}>`);
  }
  if (typeof intrinsic['Ref'] === 'string' && PSEUDO[intrinsic['Ref'] as string]) return PSEUDO[intrinsic['Ref'] as string]!;
  throw new Error(`cannot resolve ${JSON.stringify(value)}`);
}

/** The objects `cdk deploy` uploads for the stacks of an assembly, by `s3://bucket/key`, from their asset manifests. */
export function uploadedObjects(outdir: string): Record<string, string> {
  const objects: Record<string, string> = {};
  for (const name of readdirSync(outdir).filter((n) => n.endsWith('.assets.json'))) {
    const manifest = JSON.parse(readFileSync(path.join(outdir, name), 'utf8')) as {
      files: Record<string, { source: { path: string }; destinations: Record<string, { bucketName: string; objectKey: string }> }>;
    };
    for (const file of Object.values(manifest.files)) {
      for (const destination of Object.values(file.destinations)) {
        objects[`s3://${resolveValue({ 'Fn::Sub': destination.bucketName })}/${destination.objectKey}`] = path.join(outdir, file.source.path);
      }
    }
  }
  return objects;
}

/** A stand-in AWS CLI: a folder for PATH whose `aws` answers from the given parameters and objects, and the state file it reads. */
export interface FakeAws {
  readonly bin: string;
  readonly state: string;
}

export function fakeAws(parameters: Record<string, string>, objects: Record<string, string>): FakeAws {
  const bin = mkdtempSync(path.join(tmpdir(), 'sp-fake-aws-'));
  symlinkSync(path.resolve(import.meta.dirname, '../support/fake-aws-cli.mjs'), path.join(bin, 'aws'));
  const state = path.join(bin, 'state.json');
  writeFileSync(state, JSON.stringify({ parameters, objects }));
  return { bin, state };
}

/** Run commands as a CodeBuild action does, in a fresh folder, with the stand-in AWS CLI first on PATH (and `path` before it, when given). */
export async function runAction(commands: readonly string[], aws: FakeAws, env: Record<string, string> = {}) {
  const lines: LogLine[] = [];
  // One folder for the action's home and source: the caller removes `root`.
  const root = mkdtempSync(path.join(tmpdir(), 'sp-action-'));
  const home = path.join(root, 'home');
  mkdirSync(path.join(root, 'src'), { recursive: true });
  mkdirSync(home);
  const result = await runBuildspec({
    buildspec: { file: 'action', document: { version: 0.2, phases: { build: { commands } } } },
    srcDir: path.join(root, 'src'),
    baseEnv: { HOME: home, TMPDIR: home, FAKE_AWS_STATE: aws.state, ...env, PATH: `${env['PATH'] ? `${env['PATH']}:` : ''}${aws.bin}:${process.env.PATH}` },
    onLog: (line) => lines.push(line),
  });
  const output = lines.filter((l) => l.kind === 'output').map((l) => l.text);
  return { result, output, log: lines.map((l) => l.text).join('\n'), home, root };
}
