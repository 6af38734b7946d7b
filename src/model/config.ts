/**
 * The configuration of a set of service pipelines: what `pipelines.config.ts` exports.
 *
 * The zod schemas below are the single source of truth: the TypeScript types are inferred
 * from them (doc comments included, so an editor shows them on hover), and validation
 * (`validateConfig`) reports every problem at once with its path.
 */
import { z } from 'zod';
import { dependencyProblem, directoryProblem, FILE_PATH_FILTER_LIMITS, triggerPathsOf } from './trigger-paths.js';

/** An AWS account id: exactly 12 digits. */
export const accountIdSchema = z
  .string({ error: 'required: an AWS account id (12 digits, as a string)' })
  .regex(/^\d{12}$/, 'must be an AWS account id: exactly 12 digits, as a string (e.g. "123456789012")');

/**
 * An AWS region name, such as `us-east-1`, `eu-west-2`, `ap-southeast-1`, `us-gov-west-1` or `cn-north-1`.
 * Checked by shape, so new regions work without an upgrade.
 */
export const regionSchema = z
  .string({ error: 'required: an AWS region (e.g. "us-east-1")' })
  .regex(
    /^(?:af|ap|ca|cn|eu|il|me|mx|sa|us|us-gov|us-iso|us-isob)-(?:north|south|east|west|central|northeast|northwest|southeast|southwest)-\d$/,
    'must be an AWS region such as "us-east-1" or "eu-west-2"',
  );

/** A name used in resource names: lower-case letters, digits and dashes, starting with a letter. */
const resourceNameSchema = (what: string, maxLength: number) =>
  z
    .string({ error: `required: the ${what}` })
    .min(1, `the ${what} must not be empty`)
    .max(maxLength, `the ${what} must be at most ${maxLength} characters (it is part of AWS resource names)`)
    .regex(
      /^[a-z][a-z0-9-]*$/,
      `the ${what} must start with a lower-case letter and hold only lower-case letters, digits and dashes (it is part of AWS resource names)`,
    );

/** Where the pipelines themselves live. */
export const cicdSchema = z.strictObject({
  /** The AWS account that hosts the pipelines, their artifact bucket and alerts topic (the article's DEV account). */
  account: accountIdSchema,
  /** The region of the pipelines. */
  region: regionSchema,
});

/** One deployment environment (a stage), in promotion order. */
export const environmentSchema = z.strictObject({
  /** The stage name: `dev`, `staging`, `prod`... Passed to every step as `STAGE`. */
  name: resourceNameSchema('environment name', 16),
  /** The AWS account this environment deploys into. Each environment should have its own. */
  account: accountIdSchema,
  /** The region this environment deploys into; passed to steps as `TARGET_REGION`. */
  region: regionSchema,
  /**
   * Ask a person to approve before deploying to this environment.
   *
   * @default false
   */
  approval: z.boolean().optional(),
  /**
   * When the deploy or the acceptance tests of this environment fail, roll back to the last good release.
   *
   * @default false
   */
  rollbackOnFailure: z.boolean().optional(),
});

/** Hosts a webhook URL may name in the config itself: this machine, for local runs. */
export const LOOPBACK_HOSTS: readonly string[] = ['127.0.0.1', 'localhost', '[::1]'];

/** Whether a URL names this machine. */
export function isLoopbackUrl(url: string): boolean {
  try {
    return LOOPBACK_HOSTS.includes(new URL(url).hostname);
  } catch {
    return false;
  }
}

/** A Secrets Manager secret that holds the webhook URL. */
function webhookSecretSchema() {
  return z.strictObject({
    /**
     * The Secrets Manager secret (name or ARN, in the CICD account and region) whose value is the
     * webhook's https URL. AWS: CloudFormation resolves it into the EventBridge API destination.
     * Locally: `SERVICE_PIPELINES_SECRET_<NAME>` or the local secrets file holds the value.
     */
    secret: z
      .string()
      .min(1, 'must not be empty')
      .max(2048, 'must be at most 2048 characters (a secret name or ARN)')
      .regex(/^[A-Za-z0-9/_+=.@:-]*$/, 'must be a Secrets Manager secret name or ARN (letters, digits and /_+=.@-)'),
    /**
     * The key of the secret's JSON value that holds the URL.
     *
     * @default - the whole value is the URL
     */
    jsonKey: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be a JSON key (letters, digits, _ . -)').optional(),
  });
}

/** A webhook URL written in the config: only one on this machine, for local runs. */
function loopbackWebhookUrlSchema() {
  return z.url({ protocol: /^https?$/, error: 'must be an http(s) URL, or { secret: "<Secrets Manager secret name>" }' }).refine(isLoopbackUrl, {
    message:
      'a webhook URL is a credential (Slack\'s carries its token): keep it in a Secrets Manager secret and give { secret: "<name>" }; only a URL on this machine (127.0.0.1, localhost, [::1]), for local runs, may be written in the config',
  });
}

/** Where alerts go: failed executions, approvals waiting, and (for the webhook) successes. */
export const notificationsSchema = z.strictObject({
  /** E-mail addresses subscribed to the alerts topic (AWS only). */
  email: z.array(z.email('must be an e-mail address')).optional(),
  /** A Slack channel, through AWS Chatbot (AWS only). The workspace must be authorized in AWS Chatbot once, by hand. */
  slack: z
    .strictObject({
      /** The Slack workspace id (AWS Chatbot's "workspace ID", e.g. `T0123ABCD`). */
      workspaceId: z.string().regex(/^[A-Z0-9]{9,11}$/, 'must be a Slack workspace id such as "T0123ABCD"'),
      /** The Slack channel id (e.g. `C0123ABCDEF`). */
      channelId: z.string().regex(/^[A-Z0-9]{9,11}$/, 'must be a Slack channel id such as "C0123ABCDEF"'),
    })
    .optional(),
  /**
   * A Slack-compatible incoming webhook that receives a JSON message, for local runs and AWS. Its URL
   * is a credential (Slack's carries its token), so it is kept in a Secrets Manager secret: give
   * `{ secret: '<name>' }`. Only a URL on this machine (`http://127.0.0.1:<port>/...`) may be written
   * here, for local runs.
   */
  webhook: z.union([webhookSecretSchema(), loopbackWebhookUrlSchema()]).optional(),
});

/** A GitHub repository, for pipelines in AWS. */
export const githubSourceSchema = z
  .strictObject({
    /** The repository's owner (user or organization). */
    owner: z.string().min(1, 'required: the GitHub owner'),
    /** The repository's name. */
    repo: z.string().min(1, 'required: the GitHub repository name'),
    /**
     * The branch whose pushes start the pipeline.
     *
     * @default 'main'
     */
    branch: z.string().min(1).optional(),
    /**
     * ARN of a CodeConnections (CodeStar Connections) connection to GitHub. The recommended source.
     */
    connectionArn: z
      .string()
      .regex(
        /^arn:aws[a-z-]*:(?:codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection\/[A-Za-z0-9-]+$/,
        'must be a CodeConnections ARN (arn:aws:codeconnections:<region>:<account>:connection/<id>)',
      )
      .optional(),
    /**
     * Name of a Secrets Manager secret that holds a GitHub OAuth token: the article's (older) source.
     * Use `connectionArn` for new pipelines.
     */
    githubTokenSecret: z.string().min(1).optional(),
  })
  .superRefine((github, ctx) => {
    const given = [github.connectionArn, github.githubTokenSecret].filter((v) => v !== undefined).length;
    if (given !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          given === 0
            ? 'required: either connectionArn (a CodeConnections connection, recommended) or githubTokenSecret'
            : 'give either connectionArn or githubTokenSecret, not both',
      });
    }
  });

/** Where a service's code comes from. */
export const sourceSchema = z
  .strictObject({
    /** The GitHub repository, for pipelines in AWS. */
    github: githubSourceSchema.optional(),
    /**
     * The service's folder on this machine (in a git repository or not), for local runs; relative
     * to the config file. With `directory`, it is that folder of a clone of the repository.
     */
    path: z.string().min(1, 'must not be empty').optional(),
    /**
     * The service's folder inside its repository, for a repository that holds several services
     * (a monorepo): its steps run there, and only changes below it (or to `dependsOn`) start its
     * pipeline. Relative to the repository's root, e.g. `services/orders`.
     *
     * @default '.' - the repository is the service's own: any change starts the pipeline
     */
    directory: z
      .string()
      .min(1, 'must not be empty: give the folder, or "." for the whole repository')
      .superRefine((directory, ctx) => {
        const problem = directoryProblem(directory);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    /**
     * What else the service is built from, whose changes start its pipeline too (shared
     * libraries, the root lockfile): files or patterns relative to the repository's root. A
     * folder is written with a trailing slash (`libs/shared/`) or as `libs/shared/**`; `*` matches
     * within a name. At most 7, since CodePipeline's trigger takes 8 patterns, the service's
     * folder included.
     *
     * @default - only changes to the service's directory start it
     */
    dependsOn: z
      .array(
        z.string().superRefine((entry, ctx) => {
          const problem = dependencyProblem(entry);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }),
      )
      .min(1, 'list at least one path, or leave dependsOn out')
      .optional(),
  })
  .refine((source) => source.github !== undefined || source.path !== undefined, {
    message: 'required: source.github (for AWS) or source.path (for local runs), or both',
  });

/** A command: one shell line, or several run in order. */
const commandSchema = z.union([z.string().min(1, 'must not be empty'), z.array(z.string().min(1, 'must not be empty')).min(1)]);

/** Commands that replace a step's default (see the flavors). */
export const commandsSchema = z.strictObject({
  /** Install dependencies. Default (serverless): `npm ci`. */
  install: commandSchema.optional(),
  /** Lint. Default (serverless): `npm run lint`. */
  lint: commandSchema.optional(),
  /** Unit tests. Default (serverless): `npm test`. */
  testUnit: commandSchema.optional(),
  /** Integration tests. Default (serverless): `npm run test:integration`. */
  testIntegration: commandSchema.optional(),
  /** Build the deployment package once. Default (serverless): `osls package` with one code bundle for every stage. */
  package: commandSchema.optional(),
  /** Deploy the package to `$STAGE`. Default (serverless): `osls deploy --package`. */
  deploy: commandSchema.optional(),
  /** Acceptance tests against the deployed stage (`SERVICE_URL` is set). Default (serverless): `npm run test:acceptance`. */
  testAcceptance: commandSchema.optional(),
  /** Put the previous release back. Default (serverless): redeploy the last good package. */
  rollback: commandSchema.optional(),
});

/** An IAM policy statement, as JSON. */
export const policyStatementSchema = z.strictObject({
  /** Optional statement id. */
  Sid: z.string().regex(/^[A-Za-z0-9]*$/, 'must hold only letters and digits').optional(),
  /** @default 'Allow' */
  Effect: z.enum(['Allow', 'Deny']).optional(),
  /** IAM actions, such as `lambda:UpdateFunctionCode`. */
  Action: z.union([z.string(), z.array(z.string()).min(1)]),
  /** Resource ARNs. */
  Resource: z.union([z.string(), z.array(z.string()).min(1)]),
  /** IAM conditions. */
  Condition: z.record(z.string(), z.record(z.string(), z.union([z.string(), z.array(z.string()), z.boolean()]))).optional(),
});

/** Infer the deploy permissions from the service's CloudFormation template. */
export const inferPermissionsSchema = z.strictObject({
  /**
   * The packaged template (`cloudformation-template-update-stack.json`) or the package folder holding it,
   * relative to the config file.
   */
  infer: z.string().min(1),
  /** Statements added to the inferred ones. */
  extra: z.array(policyStatementSchema).optional(),
});

/** One microservice and its pipeline. */
export const serviceSchema = z.strictObject({
  /** The pipeline's name for the service. Names its pipeline, its roles and its local state. */
  name: resourceNameSchema('service name', 32),
  /**
   * The name the service deploys under: serverless.yml's `service:`, when it differs from `name`.
   * It names the stacks (`<serverlessService>-<environment>`) and the resources the deployer may touch.
   *
   * @default - `name`
   */
  serverlessService: z
    .string()
    .min(1, 'must not be empty')
    .max(128, 'must be at most 128 characters (CloudFormation stack names are at most 128)')
    .regex(/^[a-zA-Z][a-zA-Z0-9-]*$/, 'must start with a letter and hold only letters, digits and dashes (serverless.yml `service:` rules)')
    .optional(),
  /** Where its code comes from. */
  source: sourceSchema,
  /**
   * How it is built and deployed: `serverless` runs the Serverless Framework v3 (`osls`); `custom` runs `commands`.
   *
   * @default 'serverless'
   */
  flavor: z.enum(['serverless', 'custom']).optional(),
  /** Replace the commands of any step. A `custom` service must give `package` and `deploy`. */
  commands: commandsSchema.optional(),
  /**
   * What the deployer role in each target account may do: IAM statements, or `{ infer: '<template>' }`.
   * Never administrator access.
   *
   * @default - the statements the Serverless Framework needs to deploy a stack of its own name
   */
  deployPermissions: z.union([z.array(policyStatementSchema), inferPermissionsSchema]).optional(),
  /**
   * Run a test-only pipeline (lint, unit, integration, package; no deploy) for pull requests.
   *
   * @default true
   */
  pullRequests: z.boolean().optional(),
  /**
   * The environments this service deploys to, by name, in the order of the top-level `environments`.
   *
   * @default - all of them
   */
  environments: z.array(z.string().min(1)).min(1, 'must name at least one environment').optional(),
  /** Variables given to every step of this service. */
  variables: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a valid variable name'), z.string()).optional(),
  /**
   * Why each wildcard of your own deploy statements (`deployPermissions` statements, `extra`, or the
   * inferred ones) is acceptable, by statement `Sid`: synth refuses a wildcard statement nobody
   * acknowledged (cdk-nag's AwsSolutions-IAM5), and records these reasons as its acknowledgements.
   *
   * @default - none: every wildcard statement of your own fails synth
   */
  acknowledgeWildcards: z
    .record(
      z.string().regex(/^[A-Za-z0-9]+$/, 'must be a statement Sid (letters and digits)'),
      z.string().trim().min(10, 'give the reason a reviewer would accept (at least 10 characters)'),
    )
    .optional(),
  /**
   * Time limit of each action, in minutes. In AWS every action is a CodePipeline Commands action,
   * which stops at 55 minutes: a service with a GitHub source may take at most 55.
   *
   * @default 20
   */
  timeoutMinutes: z.number().int().min(5).max(480).optional(),
});

/** A package of a registry the AWS actions install service-pipelines from, pinned by its integrity. */
export const toolSourceSchema = z.strictObject({
  /** The package with its exact version, as npm takes it: `@my-org/service-pipelines@1.2.3`. */
  package: z
    .string({ error: 'required: the package with its exact version, e.g. "@my-org/service-pipelines@1.2.3"' })
    .regex(
      /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*@\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/,
      'must be a package name with an exact version, e.g. "@my-org/service-pipelines@1.2.3" (not a range, tag or URL: the integrity pins one tarball)',
    ),
  /** The tarball's integrity as the registry publishes it (`npm view <package> dist.integrity`): `sha512-...`. */
  integrity: z
    .string({ error: 'required: the tarball\'s integrity ("sha512-...", as `npm view <package> dist.integrity` prints it); the actions install only the tarball that has it' })
    .regex(/^sha512-[A-Za-z0-9+/]{86}==$/, 'must be a sha512 integrity: "sha512-" and 88 base64 characters, as `npm view <package> dist.integrity` prints it'),
  /**
   * The registry to fetch it from.
   *
   * @default - the npm configuration of the actions' environment
   */
  registry: z.url({ protocol: /^https$/, error: 'must be an https URL (e.g. "https://npm.example.com/")' }).optional(),
});

/** Everything `pipelines.config.ts` holds. */
export const configSchema = z
  .strictObject({
    /** Where the pipelines live: the CICD account and region. */
    cicd: cicdSchema,
    /** The deployment environments, in promotion order (e.g. dev, staging, prod). At least one. */
    environments: z.array(environmentSchema).min(1, 'at least one environment is required'),
    /** Where alerts go. */
    notifications: notificationsSchema.optional(),
    /** The services, one pipeline each. */
    services: z.array(serviceSchema).min(1, 'at least one service is required'),
    /**
     * The repository that holds this config and the CDK app: gets a pipeline of its own that tests
     * and synthesizes it, then updates the pipelines and the deployer-role stacks (AWS only).
     *
     * @default - no self-update pipeline
     */
    selfUpdate: z
      .strictObject({
        /** The pipelines' own repository. */
        github: githubSourceSchema,
        /**
         * The folder of the repository that holds `pipelines.config.ts`.
         *
         * @default '.'
         */
        directory: z.string().min(1).optional(),
      })
      .optional(),
    /**
     * What happens when a pipeline starts while it is running (CodePipeline V2's execution modes).
     *
     * @default 'SUPERSEDED'
     */
    executionMode: z.enum(['SUPERSEDED', 'QUEUED', 'PARALLEL']).optional(),
    /**
     * Where the AWS actions get service-pipelines itself. By default `synth` packs the tool that
     * synthesizes (with its dependencies) into the cloud assembly, and `cdk deploy` uploads it to
     * the CICD account. Teams that publish the tool to a registry of their own give its exact
     * version and integrity instead: the actions install nothing whose digest differs (AWS only).
     *
     * @default - the tool that synthesizes, packed into the cloud assembly
     */
    toolSource: toolSourceSchema.optional(),
  });

/**
 * The longest a CodePipeline Commands action runs, in minutes: its builds stop at 55 minutes, as
 * CodeBuild's do for that action, and the action declaration takes no timeout of its own.
 */
export const COMMANDS_ACTION_TIMEOUT_MINUTES = 55;

/** A problem found across fields, located by its path. */
export interface CrossFieldProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/**
 * The rules that span several fields (unique names, known environments, what a custom service
 * must give). They read the input defensively, so that they report even when the shape has
 * other problems: the user sees every problem at once.
 */
export function crossFieldProblems(input: unknown): CrossFieldProblem[] {
  const problems: CrossFieldProblem[] = [];
  const config = asRecord(input);
  const environments = asArray(config?.environments);
  const services = asArray(config?.services);
  const environmentNames = environments.map((e) => asRecord(e)?.name);
  duplicates(environmentNames).forEach((index) =>
    problems.push({ path: ['environments', index, 'name'], message: `duplicate environment name "${String(environmentNames[index])}"` }),
  );
  const serviceNames = services.map((s) => asRecord(s)?.name);
  duplicates(serviceNames).forEach((index) =>
    problems.push({ path: ['services', index, 'name'], message: `duplicate service name "${String(serviceNames[index])}"` }),
  );
  if (config?.executionMode === 'PARALLEL') {
    // CodePipeline V2 has no stage rollback in PARALLEL mode; the local engine follows it.
    environments.forEach((raw, index) => {
      if (asRecord(raw)?.rollbackOnFailure === true) {
        problems.push({
          path: ['environments', index, 'rollbackOnFailure'],
          message: 'not available with executionMode PARALLEL (CodePipeline has no stage rollback in PARALLEL mode): use SUPERSEDED or QUEUED, or drop the rollback',
        });
      }
    });
  }
  const known = environmentNames.filter((n): n is string => typeof n === 'string');
  services.forEach((raw, serviceIndex) => {
    const service = asRecord(raw);
    const listed = asArray(service?.environments);
    listed.forEach((name, envIndex) => {
      if (typeof name === 'string' && !known.includes(name)) {
        problems.push({ path: ['services', serviceIndex, 'environments', envIndex], message: `unknown environment "${name}"; the config has: ${known.join(', ')}` });
      }
    });
    duplicates(listed).forEach((envIndex) =>
      problems.push({ path: ['services', serviceIndex, 'environments', envIndex], message: `environment "${String(listed[envIndex])}" is listed twice` }),
    );
    const timeout = service?.timeoutMinutes;
    if (asRecord(asRecord(service?.source)?.github) && typeof timeout === 'number' && timeout > COMMANDS_ACTION_TIMEOUT_MINUTES) {
      problems.push({
        path: ['services', serviceIndex, 'timeoutMinutes'],
        message: `${timeout} minutes is more than AWS can honour: every action runs as a CodePipeline Commands action, which stops at ${COMMANDS_ACTION_TIMEOUT_MINUTES} minutes; use at most ${COMMANDS_ACTION_TIMEOUT_MINUTES} (a service with only source.path, run locally, may take up to 480)`,
      });
    }
    problems.push(...sourceProblems(service, serviceIndex));
    if (service?.flavor === 'custom') {
      const commands = asRecord(service.commands);
      for (const step of ['package', 'deploy'] as const) {
        if (commands?.[step] === undefined) {
          problems.push({ path: ['services', serviceIndex, 'commands', step], message: `required: a custom service must give the ${step} command` });
        }
      }
    }
  });
  problems.push(...sharedDirectoryProblems(services));
  return problems;
}

/** A service's directory and dependencies as one set of trigger patterns: within CodePipeline's limits, and meaningful. */
function sourceProblems(service: Record<string, unknown> | undefined, serviceIndex: number): CrossFieldProblem[] {
  const source = asRecord(service?.source);
  const dependsOn = asArray(source?.dependsOn);
  const directory = typeof source?.directory === 'string' ? source.directory : '.';
  const where = ['services', serviceIndex, 'source', 'dependsOn'];
  if (dependsOn.length === 0) {
    return [];
  }
  if (directory === '.') {
    return [
      {
        path: where,
        message:
          'the service\'s folder is the whole repository (no source.directory): any change starts its pipeline already; give source.directory, the service\'s folder in the repository, for dependsOn to mean something',
      },
    ];
  }
  const patterns = triggerPathsOf(
    directory,
    dependsOn.filter((d): d is string => typeof d === 'string'),
  );
  if (patterns.length > FILE_PATH_FILTER_LIMITS.patterns) {
    return [
      {
        path: where,
        message: `${patterns.length} trigger patterns (the directory's and ${patterns.length - 1} of dependsOn); CodePipeline's push trigger takes at most ${FILE_PATH_FILTER_LIMITS.patterns}: list at most ${FILE_PATH_FILTER_LIMITS.patterns - 1}, e.g. a parent folder ("libs/") for several libraries`,
      },
    ];
  }
  return [];
}

/**
 * Two services of one repository and branch in the same folder: a push there would start both,
 * each owning the other's files. Each needs its own `source.directory`.
 */
function sharedDirectoryProblems(services: readonly unknown[]): CrossFieldProblem[] {
  const seen = new Map<string, { index: number; name: unknown }>();
  const problems: CrossFieldProblem[] = [];
  services.forEach((raw, index) => {
    const service = asRecord(raw);
    const source = asRecord(service?.source);
    const github = asRecord(source?.github);
    if (typeof github?.owner !== 'string' || typeof github.repo !== 'string') {
      return;
    }
    const directory = typeof source?.directory === 'string' ? source.directory : '.';
    const branch = typeof github.branch === 'string' ? github.branch : 'main';
    const repository = `${github.owner}/${github.repo}`;
    const key = `${repository.toLowerCase()}@${branch}:${directory}`;
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, { index, name: service?.name });
      return;
    }
    problems.push({
      path: ['services', index, 'source', 'directory'],
      message:
        directory === '.'
          ? `services[${first.index}] (${String(first.name)}) builds the whole repository ${repository}@${branch} too: give each service its folder in the repository with source.directory`
          : `services[${first.index}] (${String(first.name)}) has the same folder ${directory} of ${repository}@${branch}: each service of a repository needs a directory of its own`,
    });
  });
  return problems;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The indexes of the entries that repeat an earlier one (among strings). */
function duplicates(values: readonly unknown[]): number[] {
  return values.flatMap((value, index) => (typeof value === 'string' && values.indexOf(value) < index ? [index] : []));
}

/** The configuration, as written by a user. */
export type PipelinesConfig = z.input<typeof configSchema>;
/** One environment of the configuration. */
export type EnvironmentConfig = z.input<typeof environmentSchema>;
/** One service of the configuration. */
export type ServiceConfig = z.input<typeof serviceSchema>;
/** Alerts settings. */
export type NotificationsConfig = z.input<typeof notificationsSchema>;
/** The commands that override a step. */
export type CommandsConfig = z.input<typeof commandsSchema>;
/** An IAM policy statement as JSON. */
export type PolicyStatementJson = z.input<typeof policyStatementSchema>;

/** The step names of `commands`, in the order a pipeline runs them. */
export const commandNames = ['install', 'lint', 'testUnit', 'testIntegration', 'package', 'deploy', 'testAcceptance', 'rollback'] as const;
export type CommandName = (typeof commandNames)[number];

/**
 * Declare the pipelines of your services. Identity at runtime: it exists so that your editor
 * type-checks `pipelines.config.ts` and shows the documentation of every key.
 *
 * @example
 * export default defineConfig({
 *   cicd: { account: '111111111111', region: 'us-east-1' },
 *   environments: [{ name: 'dev', account: '222222222222', region: 'us-east-1' }],
 *   services: [{ name: 'ac-rest-api', source: { path: './ac-rest-api' } }],
 * });
 */
export function defineConfig(config: PipelinesConfig): PipelinesConfig {
  return config;
}
