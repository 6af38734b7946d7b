import type { Command } from 'commander';
import { InputError } from '../../model/errors.js';
import type { CliContext } from '../context.js';

interface PermissionsOptions {
  schemas?: string;
  json?: boolean;
  against?: string;
  stage?: string;
  stackName?: string;
  region?: string;
  account?: string;
  permissionsBoundary?: string;
  deploymentBucket?: string;
  maxPolicySize?: string;
}

interface UpdateOptions {
  region?: string;
  url?: string;
}

const STAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const BOUNDARY_ARN = /^arn:aws[a-z-]*:iam::(\d{12}|\*):policy\/[\w+=,.@/-]+$/;

export function registerPermissions(program: Command, ctx: CliContext): void {
  const permissions = program
    .command('permissions')
    .description('the least-privilege deploy policy for a CloudFormation template, inferred from the CloudFormation registry schemas')
    .argument('<template>', 'a template (.json), or a package folder: osls package output, step package output (.pipeline/Package), or a cdk.out')
    .option('--schemas <dir|zip>', `the resource schemas: a folder of them or a CloudformationSchema.zip (default: $SERVICE_PIPELINES_SCHEMAS, else the bundle "permissions update" cached for the region)`)
    .option('--json', 'print one JSON document: the policy documents, explanations, warnings, what is not granted, and the diff with --against')
    .option('--against <old>', 'also tell which permissions this template needs that the old one (template or package folder) did not, which rights its roles gain, and what they lose')
    .option('--stage <env>', 'the environment: picks its template in a package of several (step package output); a package made for another stage is renamed for it')
    .option('--stack-name <name>', 'the stack name (default: from the package: serverless-state.json, the package manifest or the cloud assembly manifest; else the template file name)')
    .option('--region <region>', 'the region deployed to (default: from the package, else us-east-1)')
    .option('--account <id>', 'the account deployed to (default: the cloud assembly\'s; else * in ARNs, with a warning)')
    .option(
      '--permissions-boundary <arn>',
      'the boundary every role the deploy creates or changes must carry (default: arn:aws:iam::<account>:policy/<service>-<stage>-boundary, the deployer stacks\' boundary for a pipeline named like the serverless service)',
    )
    .option('--deployment-bucket <name>', 'an existing bucket the deploy tool uploads to (default: the template\'s ServerlessDeploymentBucket)')
    .option('--max-policy-size <chars>', 'split the policy into documents of at most this many characters (default: 6144, a managed policy)')
    .action(async (templatePath: string, options: PermissionsOptions) => {
      const [{ resolve }, permissionsModule, { regionSchema, accountIdSchema }, { partitionOf, permissionsBoundaryArn }] = await Promise.all([
        import('node:path'),
        import('../../permissions/index.js'),
        import('../../model/config.js'),
        import('../../model/plan.js'),
      ]);
      const { readTemplateInput, retargetStage, formatPolicySummary, formatPolicyDiff } = permissionsModule;
      const argumentProblems = [
        ...(options.stage === undefined || STAGE_NAME.test(options.stage) ? [] : [{ where: '--stage', message: `"${options.stage}" is not a stage name` }]),
        ...(options.permissionsBoundary === undefined || BOUNDARY_ARN.test(options.permissionsBoundary)
          ? []
          : [{ where: '--permissions-boundary', message: 'must be the ARN of a managed policy (arn:aws:iam::<account>:policy/<name>)' }]),
      ];
      if (argumentProblems.length) throw new InputError('bad arguments to "permissions"', argumentProblems);

      type Input = Awaited<ReturnType<typeof readTemplateInput>>;
      /** A package made for another stage, renamed for the one asked for (osls bakes the stage into names). */
      const forStage = (input: Input, stage: string | undefined): Input & { renamedFrom?: string } => {
        if (!stage || !input.stage || !input.service || input.stage === stage) return input;
        const stackName = input.stackName === `${input.service}-${input.stage}` ? `${input.service}-${stage}` : input.stackName;
        return {
          ...input,
          template: retargetStage(input.template, { service: input.service, from: input.stage, to: stage }),
          stage,
          ...(stackName ? { stackName } : {}),
          renamedFrom: input.stage,
        };
      };
      const read = async (path: string, stage: string | undefined) => forStage(await readTemplateInput(resolve(ctx.cwd, path), stage ? { stage } : {}), stage);

      const input = await read(templatePath, options.stage);
      const region = options.region ?? input.region ?? 'us-east-1';
      const account = options.account ?? input.account ?? '*';
      const problems = [
        ...(regionSchema.safeParse(region).success ? [] : [{ where: '--region', message: `"${region}" is not an AWS region` }]),
        ...(options.account === undefined || accountIdSchema.safeParse(options.account).success ? [] : [{ where: '--account', message: 'must be an AWS account id: 12 digits' }]),
        ...(options.maxPolicySize === undefined || /^[1-9]\d{2,5}$/.test(options.maxPolicySize) ? [] : [{ where: '--max-policy-size', message: 'must be a number of characters (at least 100)' }]),
      ];
      if (problems.length) throw new InputError('bad arguments to "permissions"', problems);

      const schemas = await permissionsModule.locateSchemas({ ...(options.schemas ? { schemas: options.schemas } : {}), cwd: ctx.cwd, env: ctx.env, region });
      const registry = await permissionsModule.loadSchemaRegistry(schemas);
      // The old template is inferred for the same stack, so that only the template's changes show.
      const stackName = options.stackName ?? input.stackName ?? stackNameOf(input.file);
      const partition = partitionOf(region);
      const boundary =
        options.permissionsBoundary ??
        (input.service && input.stage ? permissionsBoundaryArn(input.service, input.stage, account, partition) : `arn:${partition}:iam::${account}:policy/${stackName}-boundary`);
      const boundaryOrigin = options.permissionsBoundary
        ? undefined
        : `the default for a pipeline named ${input.service ?? stackName.replace(/-[^-]+$/, '')}; give --permissions-boundary when the pipeline names the service otherwise`;
      const inferOptions = {
        registry,
        region,
        account,
        stackName,
        permissionsBoundaryArn: boundary,
        ...(options.maxPolicySize ? { maxPolicySize: Number(options.maxPolicySize) } : {}),
      };
      const infer = (source: Input) => {
        const deploymentBucket = options.deploymentBucket ?? source.deploymentBucket;
        return permissionsModule.inferDeployPolicy(source.template, { ...inferOptions, templateName: source.file, ...(deploymentBucket ? { deploymentBucket } : {}) });
      };
      const policy = infer(input);
      const old = options.against ? await read(options.against, input.stage ?? options.stage) : undefined;
      const diff = old ? permissionsModule.diffPolicies(infer(old).documents, policy.documents) : undefined;
      const roleRights = old ? permissionsModule.diffRoleRights(permissionsModule.roleRightsOf(old.template, old.file), permissionsModule.roleRightsOf(input.template, input.file)) : undefined;
      const renamed = input.renamedFrom ? [`the package was made for stage ${input.renamedFrom}: its names were renamed for ${input.stage}`] : [];

      if (options.json) {
        const document = {
          stackName,
          region,
          account,
          ...(input.stage ? { stage: input.stage } : {}),
          permissionsBoundaryArn: boundary,
          schemas,
          ...policy,
          warnings: [...renamed, ...policy.warnings],
          ...(diff ? { diff: { ...diff, roleRights } } : {}),
        };
        ctx.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
        return;
      }
      ctx.stdout.write(formatPolicySummary({ ...policy, warnings: [...renamed, ...policy.warnings] }, { stackName, region, account, ...(boundaryOrigin ? { boundaryOrigin } : {}) }));
      if (diff && old) ctx.stdout.write(`\n${formatPolicyDiff(diff, old.file, input.file, roleRights)}`);
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
