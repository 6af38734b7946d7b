/**
 * The buildspec of a plan's commands action: what CodeBuild runs for it in AWS, and what the
 * local executor runs for it on a laptop (one code path: both run `service-pipelines step ...`).
 */
import { artifactOutputDirectory } from '../model/contract.js';
import type { CommandsPlanAction } from '../model/plan-schema.js';
import { actionCommandLines, shellQuote } from '../model/plan.js';
import type { Buildspec, BuildspecArtifacts } from './types.js';

/** Options of `buildspecForAction`. */
export interface BuildspecForActionOptions {
  /**
   * Variables to export at the end of the build (CodePipeline's variables of the action).
   *
   * @default - none
   */
  readonly exportedVariables?: readonly string[];
  /**
   * The shell.
   *
   * @default 'bash'
   */
  readonly shell?: 'bash' | 'sh';
  /**
   * The service's folder in the source (the plan's `source.directory`): the commands run there,
   * and the outputs are collected from its `.pipeline/` folders.
   *
   * @default '.'
   */
  readonly directory?: string;
}

/**
 * A buildspec that runs the action's commands in its build phase, with its variables, and
 * collects each output artifact from the folder a step writes it to (`.pipeline/<artifact>/`):
 * one output is the primary artifact; with several, each is a secondary artifact named after
 * it, as CodePipeline matches a CodeBuild action's output artifacts to secondary artifact ids.
 */
export function buildspecForAction(action: Pick<CommandsPlanAction, 'setup' | 'step' | 'commands' | 'env' | 'outputs'>, options: BuildspecForActionOptions = {}): Buildspec {
  const exported = options.exportedVariables ?? [];
  const directory = options.directory ?? '.';
  return {
    version: 0.2,
    env: {
      shell: options.shell ?? 'bash',
      ...(Object.keys(action.env).length ? { variables: { ...action.env } } : {}),
      ...(exported.length ? { 'exported-variables': [...exported] } : {}),
    },
    phases: { build: { commands: [...(directory === '.' ? [] : [`cd ${shellQuote(directory)}`]), ...actionCommandLines(action)] } },
    ...(action.outputs.length ? { artifacts: outputArtifacts(action.outputs, directory) } : {}),
  };
}

function outputArtifacts(outputs: readonly string[], directory: string): BuildspecArtifacts {
  const collect = (name: string) => ({ files: ['**/*'], 'base-directory': directory === '.' ? artifactOutputDirectory(name) : `${directory}/${artifactOutputDirectory(name)}` });
  if (outputs.length === 1) {
    return collect(outputs[0]!);
  }
  return { 'secondary-artifacts': Object.fromEntries(outputs.map((name) => [name, collect(name)])) };
}
