/**
 * The Node.js the AWS actions run service-pipelines with.
 *
 * CodeBuild's standard Linux images (what the Commands action, the pull-request project and the
 * self-update projects run on) hold several Node.js versions, installed with `n`, each named by a
 * `NODE_<major>_VERSION` variable of the image; the one active by default is the oldest (Node 18 on
 * `aws/codebuild/amazonlinux2-x86_64-standard:5.0`). A buildspec selects another with
 * `runtime-versions` (which runs `n "$NODE_<major>_VERSION"`); a Commands action has no buildspec,
 * so its first command does the same. Then it checks the version it got and fails, naming it, when
 * it is older than service-pipelines needs (`engines.node` of its package.json).
 */
import { createRequire } from 'node:module';
import semver from 'semver';

/** The Node.js major version the actions select: an active LTS line that every CodeBuild standard image of today holds. */
export const NODE_MAJOR = 22;

/** The CodeBuild image of the projects this engine defines (pull requests, self-update): Amazon Linux 2023, Node.js 18 to 24. */
export const CODEBUILD_IMAGE = 'aws/codebuild/amazonlinux2-x86_64-standard:5.0';

/** A buildspec's `runtime-versions` that select `NODE_MAJOR`. */
export const RUNTIME_VERSIONS: Readonly<Record<string, string>> = { nodejs: String(NODE_MAJOR) };

/** The oldest Node.js service-pipelines runs on: `engines.node` of its package.json, as `{ major, minor }`. */
export function minimumNodeVersion(): { major: number; minor: number } {
  const require = createRequire(import.meta.url);
  // From src/aws/ (tests) and dist/aws/ (the published package) alike, the package root is two levels up.
  const manifest = require('../../package.json') as { engines?: { node?: string } };
  const minimum = semver.minVersion(manifest.engines?.node ?? '>=20.19');
  if (!minimum) throw new Error(`service-pipelines: engines.node "${manifest.engines?.node}" names no version`);
  return { major: minimum.major, minor: minimum.minor };
}

/**
 * The first command of every action: select Node.js `NODE_MAJOR` where the image holds it (as
 * `runtime-versions` does), then fail with a message naming the version found when it is older
 * than service-pipelines needs. One line: it works whether or not the action keeps its shell
 * from one command to the next (`n` installs into the image's own folders).
 */
export function nodeRuntimeLine(minimum = minimumNodeVersion()): string {
  const variable = `NODE_${NODE_MAJOR}_VERSION`;
  const wanted = `${minimum.major}.${minimum.minor}`;
  const check = `const [a, b] = process.versions.node.split('.').map(Number); process.exit(a > ${minimum.major} || (a === ${minimum.major} && b >= ${minimum.minor}) ? 0 : 1)`;
  return [
    `if [ -n "\${${variable}:-}" ] && command -v n >/dev/null 2>&1; then n "$${variable}" >/dev/null; fi`,
    `if ! node -e "${check}" 2>/dev/null; then echo "error: service-pipelines needs Node.js ${wanted} or later; this action runs Node.js $(node --version 2>/dev/null || echo 'none') ($(command -v node || echo 'node is not on PATH')), and Node.js ${NODE_MAJOR} could not be selected (the image's ${variable}: \${${variable}:-not set})" >&2; false; fi`,
  ].join('; ');
}
