/**
 * Whether the OS an image's os-release names is the OS its package database describes. os-release
 * is one file the pusher writes, and it alone picks the advisories OS packages are matched in
 * (src/core/os-table.ts): a Debian 12 image whose os-release says `ID=ubuntu VERSION_ID=22.04` had its
 * Debian packages matched against Ubuntu 22.04's advisories (none of which name Debian's builds) and
 * came out covered and clean; `VERSION_ID=11` matched bookworm's openssl 3 against bullseye's 1.1.1
 * fixes. The package database itself says which distribution and release its packages come from,
 * through the package that ships the release files: dpkg's `base-files` (Debian `12.4+deb12u5`, Ubuntu
 * `12ubuntu4.6`), apk's `alpine-release` (`3.19.1-r0`), and each rpm distribution's `*-release`
 * package (`redhat-release 9.3-0.5.el9`, `rocky-release`, `sles-release`, …). Where that package is
 * installed and names another family or release than os-release, or the database is of another
 * kind than the family os-release names (a dpkg database under `ID=alpine`), the scan is incomplete:
 * pushgate cannot tell which advisories apply, and the pusher chose the ones that do.
 *
 * Release packages that disagree among themselves (two `base-files` of other releases) are no evidence
 * either way: the scan is incomplete.
 *
 * Only evidence that is present is used: a database without such a package (a hand-made image, a
 * test database of one package) is judged by os-release as before.
 */
import type { Diagnostic } from '../core/index.js';
import { familyOf, type OsFamily, type PackageDbKind } from '../core/os-table.js';

/** An OS package as an analyzer found it (before the OS rewrites its ecosystem). */
export interface OsPackageSeen {
  name: string;
  /** `[epoch:]version[-release]`. */
  version: string;
  /** The analyzer's purl: `pkg:deb/…`, `pkg:apk/…`, `pkg:rpm/…`. */
  purl: string;
}

/** The os-release fields compared. */
export interface OsClaim {
  id: string;
  versionId?: string;
}

/**
 * rpm release packages (lower-cased names) and the os-release IDs of the family that installs them.
 * A distribution may install another's release package as well (Oracle Linux 7 has
 * `redhat-release-server`), so a claim holds when any of them names its family.
 */
const RPM_RELEASE: ReadonlyArray<[RegExp, string]> = [
  [/^redhat-release(?:-.*)?$/, 'rhel'],
  [/^almalinux-release$/, 'almalinux'],
  [/^rocky-release$/, 'rocky'],
  [/^centos(?:-stream)?-release$/, 'centos'],
  [/^oraclelinux-release(?:-.*)?$/, 'ol'],
  [/^fedora-release(?:-.*)?$/, 'fedora'],
  [/^system-release$/, 'amzn'],
  [/^(?:sles|sled|sles_sap|sle-micro|sl-micro)-release$/, 'sles'],
  [/^opensuse(?:-leap|-tumbleweed)?-release$/, 'opensuse-leap'],
  [/^mariner-release$/, 'mariner'],
  [/^azurelinux-release$/, 'azurelinux'],
  [/^openeuler-release$/, 'openeuler'],
  [/^photon-release$/, 'photon'],
  [/^mageia-release-common$/, 'mageia'],
];

/** Families whose release-package version's leading number is their release's major (VERSION_ID's). */
const MAJOR_FROM_RPM = new Set(['rhel', 'almalinux', 'rocky']);

const kindOf = (purl: string): PackageDbKind | undefined =>
  purl.startsWith('pkg:deb/') ? 'dpkg' : purl.startsWith('pkg:apk/') ? 'apk' : purl.startsWith('pkg:rpm/') ? 'rpm' : undefined;

/** What one release package says: the family (by one of its os-release IDs) and, when told, the release key. */
interface Evidence {
  pkg: string;
  family: OsFamily;
  /** Compared with {@link releaseKey} of VERSION_ID. */
  release?: string;
}

const leading = (v: string, re: RegExp): string | undefined => re.exec(v.replace(/^\d+:/, ''))?.[1];

function evidenceOf(p: OsPackageSeen, kind: PackageDbKind): Evidence | undefined {
  const pkg = `${p.name} ${p.version}`;
  if (kind === 'dpkg' && p.name === 'base-files') {
    if (/ubuntu/i.test(p.version)) return { pkg, family: familyOf('ubuntu')! };
    const major = leading(p.version, /^(\d+)(?:[.+~-]|$)/);
    return major ? { pkg, family: familyOf('debian')!, release: major } : undefined;
  }
  if (kind === 'apk' && p.name === 'alpine-release') {
    const mm = leading(p.version, /^(\d+\.\d+)(?:[._-]|$)/);
    return { pkg, family: familyOf('alpine')!, release: mm };
  }
  if (kind === 'rpm') {
    const n = p.name.toLowerCase();
    const hit = RPM_RELEASE.find(([re]) => re.test(n));
    if (!hit) return undefined;
    const family = familyOf(hit[1])!;
    return { pkg, family, release: MAJOR_FROM_RPM.has(hit[1]) ? leading(p.version, /^(\d+)(?:[.-]|$)/) : undefined };
  }
  return undefined;
}

/** The part of VERSION_ID an evidence release is compared with, per family. */
function releaseKey(f: OsFamily, versionId: string): string | undefined {
  if (f.ids.includes('alpine')) return /^(\d+\.\d+)/.exec(versionId)?.[1];
  return /^(\d+)/.exec(versionId)?.[1];
}

/**
 * An incomplete `os-release-mismatch` diagnostic when `os` (the image's os-release) names another
 * family or release than the package database `packages` describes; undefined when they agree or
 * nothing says otherwise (no OS found, an OS the table does not know, no release package installed).
 */
export function osClaimMismatch(os: OsClaim | undefined, packages: readonly OsPackageSeen[], osPath = '/etc/os-release'): Diagnostic | undefined {
  if (!os) return undefined;
  const claimed = familyOf(os.id);
  if (!claimed) return undefined;
  const kinds = new Set<PackageDbKind>();
  const evidence: Evidence[] = [];
  for (const p of packages) {
    const kind = kindOf(p.purl);
    if (!kind) continue;
    kinds.add(kind);
    const e = evidenceOf(p, kind);
    if (e) evidence.push(e);
  }
  const claim = `os-release names ${os.id}${os.versionId ? ` ${os.versionId}` : ''}`;
  const message = (why: string) => `${claim}, but ${why}: advisories are chosen by the OS, and this one is not the OS the packages come from; not judged`;
  if (kinds.size && !kinds.has(claimed.packageDb)) {
    return { code: 'os-release-mismatch', path: osPath, incomplete: true, message: message(`the image holds a ${[...kinds].join(' and ')} package database and no ${claimed.packageDb} one, which ${claimed.family} uses`) };
  }
  const same = evidence.filter((e) => e.family.packageDb === claimed.packageDb);
  if (!same.length) return undefined;
  // Two records of the release package that disagree (a second base-files in a distroless status.d
  // file or a journal beside the status file's): one is the pusher's, and any one agreeing with
  // os-release let the claim stand. dpkg and apk install one release package by one name, so two
  // families there disagree too; rpm distributions may carry another's (Oracle Linux 7's redhat-release-server).
  const releases = new Set(same.filter((e) => e.family === claimed && e.release !== undefined).map((e) => e.release));
  const families = new Set(same.map((e) => e.family));
  if (releases.size > 1 || (claimed.packageDb !== 'rpm' && families.size > 1)) {
    return { code: 'os-release-mismatch', path: osPath, incomplete: true, message: `${claim}, and the package database has release packages that disagree (${same.slice(0, 4).map((e) => e.pkg).join(', ')}): which OS the packages come from is not known; not judged` };
  }
  const ofFamily = same.filter((e) => e.family === claimed);
  if (!ofFamily.length) {
    return { code: 'os-release-mismatch', path: osPath, incomplete: true, message: message(`the package database has ${same.map((e) => e.pkg).join(', ')}, installed by ${[...new Set(same.map((e) => e.family.family))].join(', ')}`) };
  }
  if (os.versionId === undefined) return undefined;
  const key = releaseKey(claimed, os.versionId);
  const told = ofFamily.filter((e) => e.release !== undefined);
  if (key !== undefined && told.length && !told.some((e) => e.release === key)) {
    return { code: 'os-release-mismatch', path: osPath, incomplete: true, message: message(`the package database has ${told.map((e) => e.pkg).join(', ')}, of release ${told.map((e) => e.release).join(', ')}`) };
  }
  return undefined;
}
