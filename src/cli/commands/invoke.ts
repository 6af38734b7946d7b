import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { CliContext } from '../context.js';

interface InvokeOptions {
  stage?: string;
  data?: string;
  dataFile?: string;
}

export function registerInvoke(program: Command, ctx: CliContext): void {
  program
    .command('invoke')
    .description('invoke a function of a deployed stage and print its response: what acceptance tests run as $SERVICE_INVOKE')
    .argument('<function>', "the function's key in serverless.yml (e.g. worker)")
    .option('-s, --stage <stage>', 'the environment (default: STAGE)')
    .option('-d, --data <json>', "the event, as JSON; '-' reads it from standard input (default: {})")
    .option('--data-file <file>', 'read the event from this JSON file')
    .addHelpText(
      'after',
      '\nWhere the stage was deployed is read from its Outputs_<env> artifact (functions.json, written by\n' +
        'step deploy): a local stage is invoked through serverless-offline, an AWS stage through Lambda with\n' +
        'the invoker role (INVOKER_ROLE_ARN: what the AWS acceptance actions get), else the deployer role\n' +
        '(DEPLOYER_ROLE_ARN), when one is set. Exit code 1 when the function fails.',
    )
    .action(async (fn: string, options: InvokeOptions) => {
      const [{ invokeStageFunction }, { sdkAws }, { InputError }] = await Promise.all([
        import('../../steps/invoke.js'),
        import('../../steps/aws.js'),
        import('../../model/errors.js'),
      ]);
      const stage = options.stage ?? ctx.env.STAGE;
      if (!stage) {
        throw new InputError('invoke needs the environment', [{ where: '--stage', message: 'give --stage <environment>, or set STAGE' }]);
      }
      if (options.data !== undefined && options.dataFile !== undefined) {
        throw new InputError('--data and --data-file cannot both be given', [{ where: '--data, --data-file', message: 'give the event one way' }]);
      }
      let payload = '{}';
      if (options.dataFile !== undefined) {
        const file = path.resolve(ctx.cwd, options.dataFile);
        payload = await readFile(file, 'utf8').catch(() => {
          throw new InputError(`cannot read ${file}`, [{ where: '--data-file', message: 'give a JSON file' }]);
        });
      } else if (options.data === '-') {
        payload = await readAll(ctx.stdin);
      } else if (options.data !== undefined) {
        payload = options.data;
      }
      const result = await invokeStageFunction({ stage, function: fn, payload }, { cwd: ctx.cwd, env: ctx.env, aws: sdkAws });
      ctx.stdout.write(`${result.payload}\n`);
    });
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
