import type { Command } from 'commander';
import { InputError } from '../../model/errors.js';
import type { CliContext } from '../context.js';

interface PermissionsOptions {
  schemas?: string;
  json?: boolean;
  against?: string;
  stackName?: string;
  region?: string;
  account?: string;
  deploymentBucket?: string;
  maxPolicySize?: string;
}

interface UpdateOptions {
  region?: string;
  url?: string;
}

export function registerPermissions(program: Command, ctx: CliContext): void {
  const permissions = program
    .command('permissions')
    .description('the least-privilege deploy policy for a CloudFormation template, inferred from the CloudFormation registry schemas')
    .argument('<template>', 'a template (.json), or a package folder (osls package output, or a cdk.out with one stack)')
    .option('--schemas <dir|zip>', `the resource schemas: a folder of them or a CloudformationSchema.zip (default: $SERVICE_PIPELINES_SCHEMAS, else the bundle "permissions update" cached for the region)`)
    .option('--json', 'print one JSON document: the policy documents, explanations, warnings, and the diff with --against')
    .option('--against <old>', 'also tell which permissions this template needs that the old one (template or package folder) did not')
    .option('--stack-name <name>', 'the stack name (default: from serverless-state.json, else the template file name)')
    .option('--region <region>', 'the region deployed to (default: from serverless-state.json, else us-east-1)')
    .option('--account <id>', 'the account deployed to (default: * in ARNs)')
    .option('--deployment-bucket <name>', 'an existing bucket the deploy tool uploads to (default: the template\'s ServerlessDeploymentBucket)')
    .option('--max-policy-size <chars>', 'split the policy into documents of at most this many characters (default: 6144, a managed policy)')
    .addHelpText('after', '\nSubcommand:\n  permissions update [--region R]   download AWS\'s schema bundle for a region into the user cache')
    .action(async (templatePath: string, options: PermissionsOptions) => {
      const [{ resolve }, permissionsModule, { regionSchema, accountIdSchema }] = await Promise.all([
        import('node:path'),
        import('../../permissions/index.js'),
        import('../../model/config.js'),
      ]);
      const { readTemplateInput, formatPolicySummary, formatPolicyDiff } = permissionsModule;

      const input = await readTemplateInput(resolve(ctx.cwd, templatePath));
      const region = options.region ?? input.region ?? 'us-east-1';
      const problems = [
        ...(regionSchema.safeParse(region).success ? [] : [{ where: '--region', message: `"${region}" is not an AWS region` }]),
        ...(options.account === undefined || accountIdSchema.safeParse(options.account).success ? [] : [{ where: '--account', message: 'must be an AWS account id: 12 digits' }]),
        ...(options.maxPolicySize === undefined || /^[1-9]\d{2,5}$/.test(options.maxPolicySize) ? [] : [{ where: '--max-policy-size', message: 'must be a number of characters (at least 100)' }]),
      ];
      if (problems.length) throw new InputError('bad arguments to "permissions"', problems);

      const schemas = await permissionsModule.locateSchemas({ ...(options.schemas ? { schemas: options.schemas } : {}), cwd: ctx.cwd, env: ctx.env, region });
      const registry = await permissionsModule.loadSchemaRegistry(schemas);
      const inferOptions = {
        registry,
        region,
        account: options.account ?? '*',
        ...(options.maxPolicySize ? { maxPolicySize: Number(options.maxPolicySize) } : {}),
      };
      // The old template is inferred for the same stack, so that only the template's changes show.
      const stackName = options.stackName ?? input.stackName ?? stackNameOf(input.file);
      const infer = (source: typeof input) => {
        const deploymentBucket = options.deploymentBucket ?? source.deploymentBucket;
        return permissionsModule.inferDeployPolicy(source.template, { ...inferOptions, templateName: source.file, stackName, ...(deploymentBucket ? { deploymentBucket } : {}) });
      };
      const policy = infer(input);
      const old = options.against ? await readTemplateInput(resolve(ctx.cwd, options.against)) : undefined;
      const diff = old ? permissionsModule.diffPolicies(infer(old).documents, policy.documents) : undefined;

      if (options.json) {
        ctx.stdout.write(`${JSON.stringify({ stackName, region, account: inferOptions.account, schemas, ...policy, ...(diff ? { diff } : {}) }, null, 2)}\n`);
        return;
      }
      ctx.stdout.write(formatPolicySummary(policy, { stackName, region, account: inferOptions.account }));
      if (diff && old) ctx.stdout.write(`\n${formatPolicyDiff(diff, old.file, input.file)}`);
    });

  permissions
    .command('update')
    .description("download AWS's CloudFormation resource schema bundle (CloudformationSchema.zip) for a region into the user cache")
    .option('--region <region>', 'the region whose bundle to download (default: us-east-1)')
    .option('--url <url>', "download from this URL instead (a mirror of AWS's bundle)")
    .action(async (_options: UpdateOptions, command: Command) => {
      // The parent command has a --region too, and the program parses options wherever they stand.
      const options = command.optsWithGlobals<UpdateOptions>();
      options.region ??= 'us-east-1';
      const [cache, { regionSchema }] = await Promise.all([import('../../permissions/index.js'), import('../../model/config.js')]);
      if (!regionSchema.safeParse(options.region).success) throw new InputError('bad arguments to "permissions update"', [{ where: '--region', message: `"${options.region}" is not an AWS region` }]);
      if (options.url !== undefined && !/^https?:\/\//.test(options.url)) throw new InputError('bad arguments to "permissions update"', [{ where: '--url', message: 'must be an http(s) URL' }]);
      const update = await cache.updateSchemaCache({
        region: options.region,
        cacheDir: cache.defaultSchemaCacheDir(ctx.env, ctx.env['HOME']),
        fetch: (url) => fetch(url),
        ...(options.url ? { url: options.url } : {}),
      });
      ctx.stdout.write(`Cached ${update.schemas} resource schemas (${(update.bytes / 1_048_576).toFixed(1)} MB) from ${update.url}\n  in ${update.file}\n`);
    });
}

/** A stack name from a template file name (`MyStack.template.json` → `MyStack`). */
function stackNameOf(file: string): string {
  const base = file.split(/[\\/]/).pop()!.replace(/(\.template)?\.json$/, '');
  return /^[A-Za-z][A-Za-z0-9-]*$/.test(base) ? base : 'stack';
}
