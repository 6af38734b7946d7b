#!/usr/bin/env node
/**
 * Stands in for the AWS CLI in tests, on PATH as `aws`: the two calls the tool's install line
 * makes, answered from the JSON file named by FAKE_AWS_STATE:
 *   { "parameters": { "<name>": "<value>" }, "objects": { "s3://<bucket>/<key>": "<local file>" } }
 * Each call is appended to FAKE_AWS_STATE's `.calls` file, one line each. Anything else fails.
 */
import { appendFileSync, copyFileSync, readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const stateFile = process.env.FAKE_AWS_STATE;
if (!stateFile) fail('FAKE_AWS_STATE is not set', 255);
appendFileSync(`${stateFile}.calls`, `${args.join(' ')}\n`);
const state = JSON.parse(readFileSync(stateFile, 'utf8'));
const [service, command, ...rest] = args;
const option = (name) => {
  const at = rest.indexOf(name);
  return at < 0 ? undefined : rest[at + 1];
};

function fail(message, code) {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

if (service === 'ssm' && command === 'get-parameter') {
  if (option('--query') !== 'Parameter.Value' || option('--output') !== 'text') fail('fake aws: expected --query Parameter.Value --output text', 252);
  const value = state.parameters?.[option('--name')];
  if (value === undefined) fail('An error occurred (ParameterNotFound) when calling the GetParameter operation: ', 254);
  process.stdout.write(`${value}\n`);
} else if (service === 's3' && command === 'cp') {
  const [from, to] = rest.filter((a) => !a.startsWith('--'));
  const file = state.objects?.[from];
  if (!file) fail('fatal error: An error occurred (403) when calling the HeadObject operation: Forbidden', 1);
  copyFileSync(file, to);
} else {
  fail(`fake aws: unsupported call: aws ${args.join(' ')}`, 252);
}
