/**
 * Which changes start a service's pipeline: its folder in the repository (`source.directory`)
 * and what it depends on (`source.dependsOn`), as patterns relative to the repository's root.
 *
 * Every engine reads these patterns, and each has a matcher of its own: CodePipeline's push
 * trigger `FilePaths` (Java's glob: `*` within a path segment, `**` across segments), GitHub
 * Actions' `paths` filters, the CodeBuild pull-request filter (a regular expression made from
 * them) and `run --changed` on this machine. So the patterns keep to what they all read the same
 * way: literal path segments, `*` inside a segment, and `**` as the last segment (everything
 * below a folder). The rest differs between them and is refused: `?` (any character for
 * CodePipeline, "the previous one optional" for GitHub), `+`, `[...]`, `{...}`, `\` escapes, a
 * leading `!`, and `**` in the middle of a pattern (GitHub Actions lets it stand for no folder at
 * all, CodePipeline does not).
 */

/**
 * CodePipeline's limits on a push trigger's `FilePaths.Includes` (`GitFilePathFilterCriteria`):
 * at most 8 patterns of 1 to 255 characters.
 */
export const FILE_PATH_FILTER_LIMITS = { patterns: 8, patternLength: 255 } as const;

/** The characters of a path segment the engines all read literally. */
const LITERAL_SEGMENT = /^[A-Za-z0-9._@~=-]+$/;

/** Why a repository folder (`source.directory`) cannot be used, or undefined when it can. */
export function directoryProblem(directory: string): string | undefined {
  if (directory === '.' || directory === '') {
    // '' is refused by the schema's own rule, with its message.
    return undefined;
  }
  if (directory.startsWith('/')) {
    return 'must be relative to the repository\'s root (e.g. "services/orders"), not an absolute path';
  }
  if (directory.endsWith('/')) {
    return `write it without the trailing slash: "${directory.replace(/\/+$/, '')}"`;
  }
  const segments = directory.split('/');
  if (segments.some((s) => s === '.' || s === '..' || s === '')) {
    return 'must be a folder below the repository\'s root written plainly (no ".", ".." or empty parts), e.g. "services/orders"';
  }
  const odd = segments.find((s) => !LITERAL_SEGMENT.test(s));
  if (odd !== undefined) {
    return `"${odd}" holds characters the engines' path filters read differently: use letters, digits and . _ - @ ~ =`;
  }
  const pattern = directoryPattern(directory);
  if (pattern.length > FILE_PATH_FILTER_LIMITS.patternLength) {
    return `is ${directory.length} characters: its trigger pattern "${pattern.slice(0, 40)}..." would pass CodePipeline's limit of ${FILE_PATH_FILTER_LIMITS.patternLength} characters`;
  }
  return undefined;
}

/** Why a `dependsOn` entry cannot be used, or undefined when it can. */
export function dependencyProblem(entry: string): string | undefined {
  if (entry.length === 0) {
    return 'must not be empty';
  }
  if (entry.startsWith('/') || entry.startsWith('./')) {
    return `must be relative to the repository's root, without a leading "${entry.startsWith('/') ? '/' : './'}": "${entry.replace(/^\.?\/+/, '')}"`;
  }
  if (entry.startsWith('!')) {
    return 'a leading "!" (an exclusion) is not a dependency: list what starts the pipeline';
  }
  const segments = dependencyPattern(entry).split('/');
  for (const [index, segment] of segments.entries()) {
    if (segment === '.' || segment === '..' || segment === '') {
      return 'must name a path below the repository\'s root plainly (no ".", ".." or empty parts)';
    }
    if (segment === '**') {
      if (index !== segments.length - 1) {
        return '"**" may only end a pattern ("libs/shared/**"): in the middle (a/**/b), CodePipeline and GitHub Actions match different files';
      }
      continue;
    }
    if (segment.includes('**')) {
      return '"**" must be a whole path segment at the end ("libs/**"), not part of a name';
    }
    const literal = segment.replace(/\*/g, '');
    if (literal !== '' && !LITERAL_SEGMENT.test(literal)) {
      return `"${segment}" holds characters the engines' path filters read differently: use letters, digits, . _ - @ ~ = and * (within a name) or a final /** (everything below)`;
    }
  }
  const pattern = dependencyPattern(entry);
  if (pattern.length > FILE_PATH_FILTER_LIMITS.patternLength) {
    return `is ${pattern.length} characters; CodePipeline takes file path patterns of at most ${FILE_PATH_FILTER_LIMITS.patternLength}`;
  }
  return undefined;
}

/** Whether a pattern holds a wildcard. */
export function isPattern(entry: string): boolean {
  return entry.includes('*');
}

/** The pattern of everything in a repository folder. */
export function directoryPattern(directory: string): string {
  return `${directory}/**`;
}

/** The pattern of a `dependsOn` entry: a folder written with a trailing slash means everything below it. */
export function dependencyPattern(entry: string): string {
  return entry.endsWith('/') ? `${entry}**` : entry;
}

/**
 * The trigger patterns of a service: its folder and its dependencies, without repeats. A service
 * whose folder is the whole repository (`.`) starts on any change: none.
 */
export function triggerPathsOf(directory: string, dependsOn: readonly string[] = []): string[] {
  if (directory === '.') {
    return [];
  }
  return [...new Set([directoryPattern(directory), ...dependsOn.map(dependencyPattern)])];
}

/** The regular expression (source, anchored) of one pattern: `*` within a segment, a final `**` across. */
export function patternRegExpSource(pattern: string): string {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        source += '.*';
        i++;
      } else {
        source += '[^/]*';
      }
    } else {
      source += /[A-Za-z0-9_/@~=-]/.test(c) ? c : `\\${c}`;
    }
  }
  return `^${source}$`;
}

/**
 * One regular expression that matches a path any of the patterns matches (the CodeBuild
 * `FILE_PATH` filter's form: Java's regular expressions, of which this uses only what JavaScript
 * reads the same way).
 */
export function triggerPathsRegExpSource(patterns: readonly string[]): string {
  return `^(?:${patterns.map((p) => patternRegExpSource(p).slice(1, -1)).join('|')})$`;
}

/** A matcher of repository paths for a set of trigger patterns; with none, every path matches. */
export function triggerPathsMatcher(patterns: readonly string[]): (file: string) => string | undefined {
  if (patterns.length === 0) {
    return () => '**';
  }
  const compiled = patterns.map((pattern) => ({ pattern, regexp: new RegExp(patternRegExpSource(pattern)) }));
  return (file) => compiled.find((c) => c.regexp.test(file))?.pattern;
}
