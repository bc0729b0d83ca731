/**
 * The one dispatcher from an OSV ecosystem name to its version comparator
 * (https://ossf.github.io/osv-schema/#defined-ecosystems). Names are matched case-insensitively and
 * may carry a release suffix (`Debian:12`, `Alpine:v3.19`, `Ubuntu:22.04:LTS`, `Red Hat:enterprise_linux:9::appstream`).
 * An unknown ecosystem is an error: there is never a silent fallback to another order.
 */
import { PushgateError } from '../../core/errors.js';
import { type ComparatorKind, OS_TABLE } from '../../core/os-table.js';
import { apk } from './apk.js';
import { dpkg } from './dpkg.js';
import { maven } from './maven.js';
import { nuget } from './nuget.js';
import { packagist } from './packagist.js';
import { pypi } from './pypi.js';
import { rpm } from './rpm.js';
import { rubygems } from './rubygems.js';
import { cratesSemver, goSemver, npmSemver } from './semver.js';
import type { Cmp, Comparator } from './types.js';

export type { Cmp, Comparator } from './types.js';

/** Comparators by the table's comparator kind (src/core/os-table.ts). */
const BY_KIND: Record<ComparatorKind, Comparator> = { dpkg, apk, rpm };

/**
 * Ecosystem (lower-cased, without release) → its canonical OSV spelling and comparator: every OS family
 * of the OS table that OSV covers, then the language ecosystems.
 */
const ECOSYSTEMS: ReadonlyMap<string, { name: string; comparator: Comparator }> = new Map(
  (
    [
      ...OS_TABLE.filter((f) => f.ecosystem).map((f) => [f.ecosystem!, BY_KIND[f.comparator]] as [string, Comparator]),
      ['npm', npmSemver],
      ['crates.io', cratesSemver],
      ['Go', goSemver],
      ['PyPI', pypi],
      ['Maven', maven],
      ['RubyGems', rubygems],
      ['NuGet', nuget],
      ['Packagist', packagist],
    ] as Array<[string, Comparator]>
  ).map(([name, comparator]) => [name.toLowerCase(), { name, comparator }]),
);

/** Splits `Debian:12` into base `Debian` and release `12` (release '' when absent). */
export function splitEcosystem(ecosystem: string): { base: string; release: string } {
  const i = ecosystem.indexOf(':');
  return i < 0 ? { base: ecosystem.trim(), release: '' } : { base: ecosystem.slice(0, i).trim(), release: ecosystem.slice(i + 1).trim() };
}

/** The canonical OSV spelling of an ecosystem's base name (`debian:12` → `Debian`), or undefined when unknown. */
export function canonicalEcosystem(ecosystem: string): string | undefined {
  return ECOSYSTEMS.get(splitEcosystem(ecosystem).base.toLowerCase())?.name;
}

/** True when pushgate has a version order for this ecosystem (release suffix allowed). */
export function isSupportedEcosystem(ecosystem: string): boolean {
  return canonicalEcosystem(ecosystem) !== undefined;
}

/** The comparator of an ecosystem; throws PushgateError BAD_ARGUMENT for an unknown one. */
export function comparatorFor(ecosystem: string): Comparator {
  const e = ECOSYSTEMS.get(splitEcosystem(ecosystem).base.toLowerCase());
  if (!e) {
    throw new PushgateError(
      'BAD_ARGUMENT',
      `unknown ecosystem ${JSON.stringify(ecosystem)}: use one of ${[...ECOSYSTEMS.values()].map((x) => x.name).join(', ')}`,
    );
  }
  return e.comparator;
}

/**
 * Compares two versions in an ecosystem's order: -1, 0 or 1.
 * Throws PushgateError BAD_ARGUMENT for an unknown ecosystem or a version that ecosystem rejects.
 */
export function compareVersions(ecosystem: string, a: string, b: string): Cmp {
  return comparatorFor(ecosystem).compare(a, b);
}

/** Every supported ecosystem, canonical spelling. */
export function supportedEcosystems(): string[] {
  return [...ECOSYSTEMS.values()].map((e) => e.name);
}
