/**
 * Release-qualified ecosystems: which OSV ecosystem releases (`Debian:12`, `Alpine:v3.19`,
 * `Ubuntu:22.04:LTS`, `Red Hat:enterprise_linux:9::appstream`, `Rocky Linux:9`, `AlmaLinux:9`,
 * `SUSE:Linux Enterprise Server 15 SP5`, `Wolfi`, `Chainguard`) apply to an image's OS release.
 * The rules are the OS table's (src/core/os-table.ts): one per family.
 */
import type { OsInfo } from '../core/inventory.js';
import { familyOfEcosystem, OS_TABLE, osEcosystemFor } from '../core/os-table.js';
import { splitEcosystem } from './ecosystems/index.js';

/** OS ecosystems (lower-cased base names) whose packages are matched through the image's OS release. */
export const OS_ECOSYSTEMS: ReadonlySet<string> = new Set(OS_TABLE.filter((f) => f.ecosystem).map((f) => f.ecosystem!.toLowerCase()));

/** The OSV ecosystem of an OS (`os.ecosystem` when the scanner set it, else derived from the OS table). */
export function osEcosystem(os: OsInfo | undefined): string | undefined {
  if (!os) return undefined;
  return os.ecosystem ?? osEcosystemFor(os);
}

/**
 * True when an advisory for `recordRelease` of ecosystem `base` (lower-cased) applies to an image whose
 * OS ecosystem is `osEco` (e.g. `Red Hat:enterprise_linux:9`), by the family's rule in the OS table.
 * A record without a release applies to every release of its family; an image of another family, or
 * of no known family, gets no release-qualified record.
 */
export function releaseMatches(base: string, recordRelease: string, osEco: string | undefined): boolean {
  const fam = familyOfEcosystem(base);
  if (!osEco) return recordRelease === '';
  const os = splitEcosystem(osEco);
  if (os.base.toLowerCase() !== base) return false;
  if (!fam) return recordRelease === '' || recordRelease.toLowerCase() === os.release.toLowerCase();
  return fam.releaseApplies(recordRelease, os.release === '' ? undefined : os.release);
}
