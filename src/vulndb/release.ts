/**
 * Release-qualified ecosystems: which OSV ecosystem releases (`Debian:12`, `Alpine:v3.19`,
 * `Ubuntu:22.04:LTS`, `Red Hat:enterprise_linux:9::appstream`, `Rocky Linux:9`, `AlmaLinux:9`,
 * `SUSE:Linux Enterprise Server 15 SP5`, `Wolfi`, `Chainguard`) apply to an image's OS release.
 */
import type { OsInfo } from '../core/inventory.js';
import { canonicalEcosystem, splitEcosystem } from './ecosystems/index.js';

/** OS ecosystems whose packages are matched through the image's OS release. */
export const OS_ECOSYSTEMS = new Set(['debian', 'ubuntu', 'alpine', 'wolfi', 'chainguard', 'red hat', 'rocky linux', 'almalinux', 'suse', 'opensuse', 'mageia', 'openeuler']);

const OS_ID: Record<string, string> = {
  debian: 'Debian', ubuntu: 'Ubuntu', alpine: 'Alpine', wolfi: 'Wolfi', chainguard: 'Chainguard', rhel: 'Red Hat',
  rocky: 'Rocky Linux', almalinux: 'AlmaLinux', sles: 'SUSE', 'sle-micro': 'SUSE', 'opensuse-leap': 'openSUSE',
  'opensuse-tumbleweed': 'openSUSE', mageia: 'Mageia', openeuler: 'openEuler',
};

/** The OSV ecosystem of an OS (`os.ecosystem` when the scanner set it, else derived from id/versionId). */
export function osEcosystem(os: OsInfo | undefined): string | undefined {
  if (!os) return undefined;
  if (os.ecosystem) return os.ecosystem;
  const base = OS_ID[os.id.toLowerCase()];
  if (!base) return undefined;
  const v = os.versionId ?? '';
  if (!v || base === 'Wolfi' || base === 'Chainguard') return base;
  if (base === 'Alpine') return `Alpine:v${v.split('.').slice(0, 2).join('.')}`;
  if (base === 'Ubuntu') return `Ubuntu:${v}`;
  if (base === 'SUSE' || base === 'openSUSE') return `${base}:${v}`;
  return `${base}:${v.split('.')[0]}`;
}

/** Numbers of a release string, `v3.19` → [3, 19], `Linux Enterprise Server 15 SP5` → [15, 5]. */
function releaseKey(base: string, release: string): string {
  const r = release.toLowerCase();
  switch (base) {
    case 'alpine':
      return (/(\d+)\.(\d+)/.exec(r) ?? [])[0] ?? r;
    case 'ubuntu':
      return (/\d+\.\d+/.exec(r) ?? [r])[0];
    case 'suse':
    case 'opensuse': {
      const sp = /(\d+)(?:\s*sp(\d+)|\.(\d+))?/.exec(r);
      return sp ? `${sp[1]}.${sp[2] ?? sp[3] ?? '0'}` : r;
    }
    case 'red hat': {
      const m = /(?:^|:)(\d+)(?:[.:]|$)/.exec(r);
      return m ? m[1] : r;
    }
    default:
      return (/\d+/.exec(r) ?? [r])[0];
  }
}

/**
 * True when an advisory for `recordRelease` of ecosystem `base` (lower-cased) applies to an image whose
 * OS ecosystem is `osEco`. A record without a release applies to every release.
 */
export function releaseMatches(base: string, recordRelease: string, osEco: string | undefined): boolean {
  if (recordRelease === '') return true;
  if (!osEco) return false;
  const os = splitEcosystem(osEco);
  if ((canonicalEcosystem(os.base) ?? os.base).toLowerCase() !== base) return false;
  if (os.release.toLowerCase() === recordRelease.toLowerCase()) return true;
  if (os.release === '') return false;
  return releaseKey(base, os.release) === releaseKey(base, recordRelease);
}
