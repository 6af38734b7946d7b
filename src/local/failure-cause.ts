/**
 * Why a command failed, in its own words: "exited with status 1" says that it failed, not why.
 * The cause is picked from the end of its output, where tools put their summary and their error.
 */

/** How many of the last output lines are looked at. */
export const CAUSE_WINDOW = 40;

/** The longest cause kept (the whole log stays in the history). */
export const MAX_CAUSE_LENGTH = 200;

/** Lines that are how a tool reports an error, rather than one that mentions one. */
const ERROR_LINE = /^(?:\S*(?:Error|Exception)\b|error\b|fatal\b|FAIL\b|ERR!|[✗×✖]|panic:)|\berror:/i;

/** Lines that say something failed, less directly. */
const FAILURE_WORDS = /\b(?:fail(?:ed|s|ure)?|cannot|can't|could not|not found|no such|denied|refused|timed? ?out|unexpected|invalid|missing)\b/i;

/** npm's own report around a failed script ("npm error code 1", "npm ERR! command failed"...): it says nothing the script did not. */
const WRAPPER_LINE = /^npm (?:error|ERR!|warn|WARN)\b|^>\s/;

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007]*\u0007/g;

/**
 * The line of a failed command's output that best says why it failed: the first line that reads
 * as an error among its last `CAUSE_WINDOW` lines (skipping npm's own report around a script),
 * else the last one that mentions a failure, else its last line. Undefined when it printed nothing.
 */
export function failureCause(outputLines: readonly string[]): string | undefined {
  const window = outputLines
    .slice(-CAUSE_WINDOW * 2)
    .map((line) => line.replace(ANSI, '').trim())
    .filter((line) => line !== '' && !WRAPPER_LINE.test(line))
    .slice(-CAUSE_WINDOW);
  const cause = window.find((line) => ERROR_LINE.test(line)) ?? window.findLast((line) => FAILURE_WORDS.test(line)) ?? window.at(-1);
  if (cause === undefined) {
    return undefined;
  }
  return cause.length > MAX_CAUSE_LENGTH ? `${cause.slice(0, MAX_CAUSE_LENGTH - 1)}…` : cause;
}
