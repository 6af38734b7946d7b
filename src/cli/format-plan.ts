/**
 * A plan as a tree a person reads at a glance, like CodePipeline's stage view turned sideways.
 */
import type { CommandsPlanAction, PipelinePlan, PlanAction } from '../model/plan-schema.js';

export function formatPlanTree(plan: PipelinePlan): string {
  const lines: string[] = [];
  lines.push(`${plan.pipelineName}  (${plan.flavor}; ${triggerOf(plan)}; ${plan.executionMode})`);
  plan.stages.forEach((stage, stageIndex) => {
    const lastStage = stageIndex === plan.stages.length - 1;
    const environment = plan.environments.find((e) => e.name === stage.environment);
    const where = environment ? `  [${environment.name}: account ${environment.account}, ${environment.region}]` : '';
    const failure = stage.onFailure === 'ROLLBACK' ? '  on failure: roll back' : '';
    lines.push(`${lastStage ? '└─' : '├─'} ${stage.name}${where}${failure}`);
    const prefix = lastStage ? '   ' : '│  ';
    stage.actions.forEach((action, actionIndex) => {
      const lastAction = actionIndex === stage.actions.length - 1;
      lines.push(`${prefix}${lastAction ? '└─' : '├─'} ${describeAction(action)}`);
    });
  });
  return `${lines.join('\n')}\n`;
}

/**
 * What starts the pipeline. A service without `source.github` has no pushes or pull requests to
 * start it: it runs locally only, when asked or (`serve --watch`) on a new commit in its folder.
 */
function triggerOf(plan: PipelinePlan): string {
  if (plan.source.github) {
    const paths = plan.source.triggerPaths.length ? ` changing ${plan.source.triggerPaths.join(', ')}` : '';
    return plan.trigger === 'push' ? `starts on push to ${plan.source.branch}${paths}` : `starts on pull request${paths} (test only)`;
  }
  const local = 'local only, no source.github: starts on';
  return plan.trigger === 'push'
    ? `${local} \`service-pipelines run ${plan.service}\` or, under \`serve --watch\`, a new commit in ${plan.source.path ?? 'its folder'}`
    : `${local} \`service-pipelines run ${plan.service} --pull-request\` (test only)`;
}

/** What the tree says of an action's privilege. */
const PRIVILEGE_NOTE: Record<CommandsPlanAction['privilege'], string> = {
  read: '',
  'write-package': ', writes the package',
  deploy: ', assumes the deployer role',
};

function describeAction(action: PlanAction): string {
  const io = [
    action.inputs.length ? `in: ${action.inputs.join(', ')}` : '',
    action.outputs.length ? `out: ${action.outputs.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join('; ');
  const detail = (() => {
    switch (action.kind) {
      case 'source':
        return 'source';
      case 'approval':
        return 'manual approval';
      case 'commands':
        return `${action.step ? `step ${action.step.step}` : `${action.commands?.length ?? 0} command(s)`}${PRIVILEGE_NOTE[action.privilege]}`;
      default:
        throw new Error(`unknown action kind ${(action as { kind: string }).kind}`);
    }
  })();
  return `${action.runOrder}. ${action.name} (${detail})${io ? `  ${io}` : ''}`;
}
