/**
 * Helpers shared by the rule kinds: compile-time problem reporting, globs, severities, dates and
 * the one-line texts of items.
 */
import picomatch from 'picomatch';
import { PushgateError } from '../../core/errors.js';
import { severityRank, type Finding, type Severity } from '../../core/finding.js';
import type { KeyPath } from '../../config/yaml-doc.js';
import type { CompiledRule, PolicyItem, RuleContext, RuleSpec } from '../types.js';

/** Reports a compile-time problem at a key path of the document. */
export type ProblemSink = (at: KeyPath, message: string) => void;

/** What a rule kind compiles to; the compiler adds name, action and excludeBase. */
export type RuleBody = Pick<CompiledRule, 'match' | 'describe' | 'advice'>;

/** A rule kind's compiler. `at` is the key path of the rule's `match.<kind>` value. */
export type RuleCompiler<S> = (spec: S, rule: RuleSpec, at: KeyPath, problem: ProblemSink) => RuleBody;

/**
 * Longest glob compiled, characters. picomatch's compile is quadratic in a glob's nesting (`{` × 32,000 …
 * `a,b` … `}` × 32,000 took 76 s); no name a glob matches (registry, repository, tag, package) needs more.
 * The policy schema refuses longer registry/repository/tag globs with a located problem.
 */
export const MAX_GLOB_LENGTH = 1024;

/**
 * A glob matcher (picomatch, dots matched, `**` across `/`).
 * @throws PushgateError BAD_CONFIG when `pattern` is longer than {@link MAX_GLOB_LENGTH}.
 */
export function glob(pattern: string): (s: string) => boolean {
  if (pattern.length > MAX_GLOB_LENGTH) throw new PushgateError('BAD_CONFIG', `a glob of ${pattern.length} characters (at most ${MAX_GLOB_LENGTH}): write a shorter one`);
  return picomatch(pattern, { dot: true });
}

/** Any of several globs. */
export function anyGlob(patterns: string[]): (s: string) => boolean {
  const ms = patterns.map(glob);
  return (s) => ms.some((m) => m(s));
}

/** The OSV ecosystem without its release suffix, lowercased (`Debian:12` → `debian`). */
export function ecosystemKey(eco: string | undefined): string {
  return (eco ?? '').split(':')[0].trim().toLowerCase();
}

/** The severity a condition compares: `unknown` counts as the rule set's `unknownSeverity` unless `ignore`. */
export function effectiveSeverity(sev: Severity, ctx: RuleContext): Severity {
  return sev === 'unknown' && ctx.unknownSeverity !== 'ignore' ? ctx.unknownSeverity : sev;
}

/** True when `sev` is at or above `min`; `unknown` only satisfies `min: unknown`. */
export function atLeast(sev: Severity, min: Severity): boolean {
  if (min === 'unknown') return true;
  return sev !== 'unknown' && severityRank(sev) >= severityRank(min);
}

/** Parses an RFC 3339 date; undefined for missing, invalid or placeholder (epoch) dates. */
export function parseDate(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const t = Date.parse(s);
  // Some feeds write 1970-01-01 when they do not know: that is not a date.
  return Number.isNaN(t) || t < 86_400_000 ? undefined : t;
}

/** When the advisory became public: `published`, else `modified`. */
export function advisoryDate(f: Finding): number | undefined {
  return parseDate(f.published) ?? parseDate(f.modified);
}

/** `1 vulnerability` / `3 vulnerabilities`. */
export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The item of a vulnerability finding, with a sentence naming package, advisory, severity and fix. */
export function findingItem(f: Finding): PolicyItem {
  const aliases = f.aliases.filter((a) => a !== f.id);
  const ids = aliases.length ? `${f.id} (${aliases.slice(0, 2).join(', ')}${aliases.length > 2 ? ', …' : ''})` : f.id;
  let sev = f.cvss ? `${f.severity}, CVSS ${f.cvss.score.toFixed(1)}` : f.severity;
  if (f.severitySource && f.severitySource !== 'none') sev += ` (${f.severitySource})`;
  if (f.kev) sev += `, known exploited (CISA KEV since ${f.kev.dateAdded})`;
  if (f.epss) sev += `, EPSS ${f.epss.score.toFixed(3)}`;
  const fix = f.fixedVersions.length ? `fixed in ${f.fixedVersions.join(', ')}` : 'no fixed version yet';
  const where = f.path ? ` in ${f.path}` : '';
  const item: PolicyItem = {
    id: f.id,
    aliases: f.aliases,
    ecosystem: f.ecosystem,
    package: f.package,
    installedVersion: f.installedVersion,
    fixedVersions: f.fixedVersions,
    severity: f.severity,
    path: f.path,
    text: `${f.package} ${f.installedVersion} (${f.ecosystem}${where}): ${ids}, ${sev}, ${fix}`,
  };
  if (f.layer) item.layer = f.layer;
  if (f.origin) item.origin = f.origin;
  return item;
}
