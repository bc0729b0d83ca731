/**
 * node-semver ranges (`^1.2.3`, `1.x || >=2.5.0 <3`, `1.2.3 - 2.3.4`, …) evaluated through OSV:
 * npm advisories that only carry a node-semver range (nodejs security-wg `vulnerable_versions`, GHSA
 * `vulnerable_version_range`) become OSV SEMVER ranges, and this is the check that the conversion and
 * pushgate's range evaluation agree with node-semver's `satisfies`.
 *
 * The range syntax is read with node-semver's own parser (`semver.Range`: it desugars hyphen, x-,
 * tilde and caret ranges into comparator sets). Each comparator is one OSV range evaluated by
 * {@link evaluateRange} with pushgate's npm comparator: `>=a` is `introduced a`; `<b` is `introduced 0,
 * fixed b`; `<=b` is `introduced 0, last_affected b`; `=a` is `introduced a, last_affected a`; `>a`,
 * which OSV cannot state as one range, is the negation of `<=a`. A set is the AND of its comparators,
 * the range the OR of its sets. node-semver's prerelease rule is applied on top (OSV has none): without
 * `includePrerelease`, a prerelease version only satisfies a set that has a comparator with a
 * prerelease on the same major.minor.patch (https://github.com/npm/node-semver#prerelease-tags).
 */
import type { Range, SemVer } from 'semver';
import { semver } from './libs.js';
import { PushgateError } from '../core/errors.js';
import { comparatorFor } from './ecosystems/index.js';
import { evaluateRange, type OsvRange, prepareRange, type PreparedRange } from './ranges.js';

/** Options as node-semver takes them. */
export interface NpmRangeOptions {
  loose?: boolean;
  includePrerelease?: boolean;
}

/** One comparator of a set as OSV: the range, negated for `>a`; null for "any version". */
interface OsvComparator {
  range: PreparedRange | null;
  negate: boolean;
  /** The comparator's own version, for the prerelease rule. */
  version?: SemVer;
}

/**
 * Converts a node-semver range into OSV comparator sets (see the file comment).
 * Throws PushgateError BAD_ARGUMENT when node-semver cannot parse the range.
 */
export function npmRangeToOsv(range: string, opts: NpmRangeOptions = {}): OsvComparator[][] {
  let r: Range;
  try {
    r = new (semver().Range)(range, opts);
  } catch (err) {
    throw new PushgateError('BAD_ARGUMENT', `invalid npm range ${JSON.stringify(range)}: ${(err as Error).message}`);
  }
  const npm = comparatorFor('npm');
  const ev = (events: OsvRange['events']): PreparedRange => prepareRange({ type: 'SEMVER', events }, npm);
  return r.set.map((set) =>
    set.map((c): OsvComparator => {
      if (c.value === '') return { range: null, negate: false }; // node-semver's ANY comparator (`*`)
      const v = c.semver.version;
      const out = (range: PreparedRange, negate = false): OsvComparator => ({ range, negate, version: c.semver });
      switch (c.operator) {
        case '>=':
          return out(ev([{ introduced: v }]));
        case '<':
          return out(ev([{ introduced: '0' }, { fixed: v }]));
        case '<=':
          return out(ev([{ introduced: '0' }, { last_affected: v }]));
        case '>':
          return out(ev([{ introduced: '0' }, { last_affected: v }]), true);
        default:
          return out(ev([{ introduced: v }, { last_affected: v }]));
      }
    }),
  );
}

/**
 * node-semver `satisfies(version, range, opts)` computed through OSV range evaluation (see the file
 * comment). A version node-semver cannot parse with these options satisfies nothing. Throws
 * PushgateError BAD_ARGUMENT for a range node-semver cannot parse.
 */
export function satisfiesNpmRange(version: string, range: string, opts: NpmRangeOptions = {}): boolean {
  const sets = npmRangeToOsv(range, opts);
  const parsed = semver().parse(version, opts);
  if (!parsed) return false;
  const npm = comparatorFor('npm');
  const v = parsed.version;
  return sets.some((set) => {
    for (const c of set) {
      if (!c.range) continue;
      if (evaluateRange(c.range, v, npm).affected === c.negate) return false;
    }
    if (parsed.prerelease.length && !opts.includePrerelease) {
      return set.some((c) => c.version && c.version.prerelease.length > 0 &&
        c.version.major === parsed.major && c.version.minor === parsed.minor && c.version.patch === parsed.patch);
    }
    return true;
  });
}
