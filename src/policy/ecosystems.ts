/**
 * The ecosystems a policy may name (`match.packages[].ecosystem`, `match.vulnerability.ecosystems[]`),
 * as OSV spells them (https://ossf.github.io/osv-schema/#defined-ecosystems). A misspelt ecosystem
 * would match nothing, silently; the compiler rejects it instead (STYLE.md habit 6).
 *
 * policy may not import vulndb (DESIGN.md §2), so the list is kept here; test/unit/policy/ecosystems.test.ts
 * keeps it equal to the vulnerability database's comparators plus the ecosystems the scanner writes.
 */
import { coveredOsEcosystems, uncoveredOsEcosystems } from '../core/os-table.js';

/** Language ecosystems with a version order in the vulnerability database (src/vulndb/ecosystems/index.ts). */
const LANGUAGE_ECOSYSTEMS: readonly string[] = ['npm', 'crates.io', 'Go', 'PyPI', 'Maven', 'RubyGems', 'NuGet', 'Packagist'];

/** Ecosystems with a version order in the vulnerability database: the OS table's covered families, then the languages. */
export const ADVISORY_ECOSYSTEMS: readonly string[] = [...coveredOsEcosystems(), ...LANGUAGE_ECOSYSTEMS];

/**
 * Ecosystems the scanner gives packages that have no advisories (src/scan/merge.ts): the OS table's
 * families OSV does not publish, `RPM` for an rpm database of an unrecognised OS, and `GIT` for lock-file
 * dependencies installed from a git repository at a commit. A package denylist may name them.
 */
export const INVENTORY_ONLY_ECOSYSTEMS: readonly string[] = [...uncoveredOsEcosystems(), 'GIT'];

/** Every ecosystem a policy may name. */
export const POLICY_ECOSYSTEMS: readonly string[] = [...ADVISORY_ECOSYSTEMS, ...INVENTORY_ONLY_ECOSYSTEMS];

const BY_KEY = new Map(POLICY_ECOSYSTEMS.map((e) => [e.toLowerCase(), e]));

/** Base name of an ecosystem, lowercased (`Debian:12` → `debian`). */
function keyOf(eco: string): string {
  return eco.split(':')[0].trim().toLowerCase();
}

/**
 * The canonical spelling of an ecosystem a policy names (case-insensitive, release suffix such as
 * `Debian:12` allowed), or undefined when pushgate does not know it.
 */
export function policyEcosystem(eco: string): string | undefined {
  return BY_KEY.get(keyOf(eco));
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/**
 * The problem message for an ecosystem {@link policyEcosystem} does not know: a close spelling when
 * there is one, then every known ecosystem.
 */
export function unknownEcosystemMessage(eco: string): string {
  const key = keyOf(eco);
  const near = POLICY_ECOSYSTEMS.map((e) => ({ e, d: distance(key, e.toLowerCase()) }))
    .filter(({ d }) => d <= 2 && d < key.length)
    .sort((x, y) => x.d - y.d)[0];
  const hint = near ? ` (did you mean "${near.e}"?)` : '';
  return `unknown ecosystem ${JSON.stringify(eco)}${hint}: use one of ${POLICY_ECOSYSTEMS.join(', ')} (OSV spelling, any case, a release suffix like Debian:12 allowed)`;
}
