import { describe, expect, it } from 'vitest';
import { defineConfig } from '../../src/model/config.js';
import { InputError } from '../../src/model/errors.js';
import { closest, formatPath, validateConfig } from '../../src/model/validate.js';
import { articleConfig } from '../fixtures/configs.js';

/** Validate and return the problems (where → message), failing the test if it validates. */
function problemsOf(value: unknown): Record<string, string> {
  try {
    validateConfig(value, 'pipelines.config.ts');
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return Object.fromEntries((error as InputError).problems.map((p) => [p.where, p.message]));
  }
  throw new Error('expected the config to be rejected');
}

/** A deep copy of the article config, changed by `edit` (untyped on purpose: the edits make it invalid). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Untyped = Record<string, any>;
function articleWith(edit: (config: Untyped) => void): unknown {
  const config = structuredClone(articleConfig()) as Untyped;
  edit(config);
  return config;
}

describe('validateConfig', () => {
  it('GIVEN the article config WHEN validated THEN it is accepted as is', () => {
    const config = validateConfig(articleConfig());
    expect(config.environments.map((e) => e.name)).toEqual(['dev', 'staging', 'prod']);
    expect(config.services[0]?.name).toBe('ac-rest-api');
  });

  it('GIVEN defineConfig WHEN called THEN it returns its argument unchanged', () => {
    const config = articleConfig();
    expect(defineConfig(config)).toBe(config);
  });

  it('GIVEN an environment without an account WHEN validated THEN the path names it as required', () => {
    const problems = problemsOf(articleWith((c) => delete c.environments[1].account));
    expect(problems['environments[1].account']).toMatch(/^required/);
  });

  it('GIVEN an account of 11 digits and a number WHEN validated THEN both are reported', () => {
    const problems = problemsOf(
      articleWith((c) => {
        c.cicd.account = '12345678901';
        c.environments[0].account = 222222222222;
      }),
    );
    expect(problems['cicd.account']).toMatch(/12 digits/);
    expect(problems['environments[0].account']).toMatch(/12 digits|string/);
  });

  it('GIVEN a misspelled key WHEN validated THEN it suggests the right one', () => {
    const problems = problemsOf(
      articleWith((c) => {
        c.environments[2].aproval = true;
        c.services[0].sorce = c.services[0].source;
      }),
    );
    expect(problems['environments[2].aproval']).toBe('unknown key; did you mean "approval"?');
    expect(problems['services[0].sorce']).toBe('unknown key; did you mean "source"?');
  });

  it('GIVEN an unknown key far from any known one WHEN validated THEN it lists the allowed keys', () => {
    const problems = problemsOf(articleWith((c) => (c.cicd.zzzzzzzz = 1)));
    expect(problems['cicd.zzzzzzzz']).toBe('unknown key; allowed here: account, region');
  });

  it('GIVEN two services of one name and two environments of one name WHEN validated THEN each duplicate is named', () => {
    const problems = problemsOf(
      articleWith((c) => {
        c.services.push(structuredClone(c.services[0]));
        c.environments[1].name = 'dev';
      }),
    );
    expect(problems['services[1].name']).toBe('duplicate service name "ac-rest-api"');
    expect(problems['environments[1].name']).toBe('duplicate environment name "dev"');
  });

  it('GIVEN values of the wrong types WHEN validated THEN each says what was expected and what it got', () => {
    const problems = problemsOf(
      articleWith((c) => {
        c.environments[2].approval = 'yes';
        c.services = { name: 'x' };
        c.notifications.email = 'alerts@example.com';
      }),
    );
    expect(problems['environments[2].approval']).toBe('must be true or false, not the string "yes"');
    expect(problems['services']).toBe('must be a list, not an object');
    expect(problems['notifications.email']).toBe('must be a list, not the string "alerts@example.com"');
  });

  it('GIVEN no environments WHEN validated THEN at least one is required', () => {
    const problems = problemsOf(articleWith((c) => (c.environments = [])));
    expect(problems['environments']).toMatch(/at least one environment/);
  });

  it('GIVEN a bad region, a bad service name and a bad e-mail WHEN validated THEN every problem is listed at once', () => {
    const problems = problemsOf(
      articleWith((c) => {
        c.cicd.region = 'us-east';
        c.services[0].name = 'AC_Rest';
        c.notifications.email = ['not-an-email'];
      }),
    );
    expect(Object.keys(problems).sort()).toEqual(['cicd.region', 'notifications.email[0]', 'services[0].name']);
  });

  it('GIVEN a service naming an unknown environment WHEN validated THEN the known ones are listed', () => {
    const problems = problemsOf(articleWith((c) => (c.services[0].environments = ['dev', 'qa'])));
    expect(problems['services[0].environments[1]']).toBe('unknown environment "qa"; the config has: dev, staging, prod');
  });

  it('GIVEN a custom service without package and deploy commands WHEN validated THEN both are required', () => {
    const problems = problemsOf(articleWith((c) => (c.services[0].flavor = 'custom')));
    expect(problems['services[0].commands.package']).toMatch(/required/);
    expect(problems['services[0].commands.deploy']).toMatch(/required/);
  });

  it('GIVEN a GitHub source with neither or both auth methods WHEN validated THEN it says which to give', () => {
    const neither = problemsOf(articleWith((c) => delete c.services[0].source.github.connectionArn));
    expect(neither['services[0].source.github']).toMatch(/either connectionArn .* or githubTokenSecret/);
    const both = problemsOf(articleWith((c) => (c.services[0].source.github.githubTokenSecret = 'github/token')));
    expect(both['services[0].source.github']).toBe('give either connectionArn or githubTokenSecret, not both');
  });

  it('GIVEN a source with neither github nor path WHEN validated THEN it is rejected', () => {
    const problems = problemsOf(articleWith((c) => (c.services[0].source = {})));
    expect(problems['services[0].source']).toMatch(/source.github .* or source.path/);
  });

  it('GIVEN PARALLEL executions and an environment that rolls back WHEN validated THEN the rollback is refused, as CodePipeline does', () => {
    const problems = problemsOf(articleWith((c) => (c.executionMode = 'PARALLEL')));
    expect(problems['environments[2].rollbackOnFailure']).toMatch(/not available with executionMode PARALLEL/);
    expect(() => validateConfig(articleWith((c) => (c.executionMode = 'QUEUED')))).not.toThrow();
  });

  it('GIVEN not an object at all WHEN validated THEN the root is named', () => {
    expect(problemsOf(42)['(root)']).toBe('must be an object, not number 42');
  });
});

describe('formatPath and closest', () => {
  it('formats paths the way a config reader writes them', () => {
    expect(formatPath(['services', 1, 'source', 'github'])).toBe('services[1].source.github');
    expect(formatPath([])).toBe('(root)');
  });

  it('suggests only near misses', () => {
    expect(closest('enviroments', ['environments', 'services'])).toBe('environments');
    expect(closest('xyz', ['environments', 'services'])).toBeUndefined();
  });
});
