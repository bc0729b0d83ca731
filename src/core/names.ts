/**
 * The name grammar of the OCI distribution spec (spec.md "Pulling manifests": `<name>` and `<reference>`)
 * as Distribution's reference package writes it (reference/regexp.go): a repository is path components of
 * lowercase letters and digits joined by `.`, `_`, `__` or runs of `-`, separated by `/`, at most 255
 * characters in all; a tag is a word character followed by up to 127 word characters, `.` or `-`.
 */

/** One path component of a repository name. */
export const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
/** A tag. */
export const TAG_RE = /^[\w][\w.-]{0,127}$/;
/** The longest repository name Distribution accepts, in characters. */
export const MAX_REPOSITORY_LENGTH = 255;

/**
 * Why `name` is not a repository name the registry would accept, or undefined when it is one.
 * @returns a sentence naming the rule broken, for error messages.
 */
export function repositoryNameProblem(name: string): string | undefined {
  if (!name) return 'the repository name is empty';
  if (name.length > MAX_REPOSITORY_LENGTH) return `the repository name is longer than ${MAX_REPOSITORY_LENGTH} characters`;
  const bad = name.split('/').find((c) => !PATH_COMPONENT.test(c));
  if (bad !== undefined) return `"${bad}" is not a valid path component (lowercase letters and digits, joined by . _ __ or -)`;
  return undefined;
}
