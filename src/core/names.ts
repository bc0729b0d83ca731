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

/** A domain component of Distribution's reference grammar (letters of either case, digits, inner `-`). */
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
/** A domain: components joined by `.`, an optional port. */
const DOMAIN = new RegExp(`^${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?$`);

/**
 * True when Distribution 2.8 routes and stores `name` as a repository: its router and
 * `reference.WithName` take the whole reference name grammar (reference/regexp.go `NameRegexp`), whose
 * first component may be a domain: upper case letters and a port there (`Team/app`, `EXAMPLE.com/app`),
 * when at least one lower-case component follows. Stricter than {@link repositoryNameProblem}, which is the
 * name a client can pull: no reference parser reads `host/Team/app` (the path must be lower case), but the
 * registry stores and serves a push to it. (A port cannot be stored: the storage path has no `:`.)
 */
export function isRegistryRepositoryName(name: string): boolean {
  if (!name || name.length > MAX_REPOSITORY_LENGTH) return false;
  const [first, ...rest] = name.split('/');
  if (!rest.every((c) => PATH_COMPONENT.test(c))) return false;
  return PATH_COMPONENT.test(first!) || (rest.length > 0 && DOMAIN.test(first!));
}
