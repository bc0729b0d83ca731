/**
 * The one table of operating systems pushgate knows: for each family, the os-release(5) `ID` values
 * that name it, its package database, version order, the OSV ecosystem its advisories are published
 * under and how a release is spelt there, how an advisory's release is matched against the image's,
 * and its endoflife.date product. Every place that maps an OS reads it: the scanner (merge.ts:
 * ecosystem and purl of OS packages), the vulnerability database (release matching, comparators,
 * coverage), the policy (ecosystem names) and the default advisory sources.
 *
 * OSV ecosystems as defined by the OSV schema 1.7.5 (https://ossf.github.io/osv-schema/#defined-ecosystems,
 * ossf/osv-schema ecosystems.json): `Red Hat:<CPE without cpe:/[oa]:redhat:>` (`Red Hat:enterprise_linux:9::appstream`),
 * `AlmaLinux:9`, `Rocky Linux:9`, `SUSE:<PRETTY_NAME without "SUSE ">`, `openSUSE:Leap 15.5`,
 * `Ubuntu:22.04:LTS` / `Ubuntu:Pro:18.04:LTS` / `Ubuntu:24.10`, `Debian:12`, `Alpine:v3.19`, `Wolfi`,
 * `Chainguard`, `Mageia:9`, `openEuler:22.03-LTS-SP3`, `Photon OS:5.0`, `Azure Linux:3`.
 * Families without an OSV source (Amazon Linux, Oracle Linux, Fedora, CentOS, CBL-Mariner 1/2) are in the
 * table with `ecosystem` unset and `uncovered` saying why: their packages are inventoried and reported as
 * `ecosystem-uncovered`, never matched against another family's advisories.
 */

/** Package databases the scanner reads. */
export type PackageDbKind = 'dpkg' | 'apk' | 'rpm';

/** Version orders (src/vulndb/ecosystems). */
export type ComparatorKind = 'dpkg' | 'apk' | 'rpm';

/**
 * Which package name an advisory names: the source package (Debian, Ubuntu, Alpine, SUSE, …), the
 * binary package (AlmaLinux, Rocky Linux and Red Hat list every binary RPM of an erratum), or either.
 */
export type AdvisoryNames = 'source' | 'binary' | 'either';

/** One row of the table. */
export interface OsFamily {
  /** Display name: `Red Hat Enterprise Linux (incl. UBI)`. */
  family: string;
  /** os-release `ID` values (lower case) that name this family. */
  ids: readonly string[];
  packageDb: PackageDbKind;
  comparator: ComparatorKind;
  /** OSV ecosystem base name of its advisories; undefined when OSV publishes none (see `uncovered`). */
  ecosystem?: string;
  /** The ecosystem packages of this family carry in an inventory (`ecosystem` when covered). */
  inventoryEcosystem: string;
  /** purl namespace of its packages (purl-spec types deb/apk/rpm). */
  purlNamespace: string;
  /** How an advisory names the package. */
  names: AdvisoryNames;
  /** Where the advisories come from, for docs and the uncovered message. */
  advisorySource: string;
  /** endoflife.date product slug (https://endoflife.date/api/v1/products/<slug>), when it has one. */
  eolProduct?: string;
  /** A real release's os-release fields (docs and tests show its OSV spelling). */
  example?: { versionId: string; version?: string };
  /** How a release is matched, in words (docs and the table test). */
  releaseRule: string;
  /** Why pushgate cannot match this family's packages, when it cannot. */
  uncovered?: string;
  /**
   * The image's release in the ecosystem's spelling (the part after `<ecosystem>:`), from os-release
   * `VERSION_ID` (and `VERSION`/`PRETTY_NAME` where OSV spells releases with them); undefined when it
   * cannot be told (no VERSION_ID) or the ecosystem has no releases.
   */
  release?(os: OsReleaseFields): string | undefined;
  /**
   * True when an advisory entry for `recordRelease` (after `<ecosystem>:`, '' when the record names no
   * release) applies to an image whose release is `imageRelease` (from {@link release}; undefined when unknown).
   */
  releaseApplies(recordRelease: string, imageRelease: string | undefined): boolean;
}

/** The os-release fields the table reads. */
export interface OsReleaseFields {
  id: string;
  versionId?: string;
  /** os-release `VERSION` (`22.03 (LTS-SP3)`, `18.04.6 LTS (Bionic Beaver)`). */
  version?: string;
  prettyName?: string;
}

const major = (v: string | undefined): string | undefined => /^(\d+)/.exec(v ?? '')?.[1];
const majorMinor = (v: string | undefined): string | undefined => /^(\d+\.\d+)/.exec(v ?? '')?.[1];
/** A record without a release applies to every release; otherwise the key functions must agree. */
const byKey = (key: (r: string) => string | undefined) => (rec: string, img: string | undefined): boolean => {
  if (rec === '') return true;
  if (img === undefined) return false;
  const k = key(rec);
  return k !== undefined && k === key(img);
};
const noRelease = (): boolean => true;

/**
 * Red Hat: the advisory's stream must be `enterprise_linux:<major>` (the stream UBI and RHEL images are
 * built from: baseos, appstream, crb, …). EUS/AUS/E4S/TUS streams (`rhel_eus:9.2::baseos`) and layered
 * products (`openshift`, `rhel_software_collections`…) ship other builds with other fixed versions: not matched.
 */
const rhelStream = (r: string): string | undefined => /^enterprise_linux:(\d+)(?:[.:]|$)/.exec(r.toLowerCase())?.[1];

/**
 * Ubuntu: `22.04:LTS`, `24.10`; `Pro:18.04:LTS` names fixes available only with Ubuntu Pro (ESM),
 * which an image does not have unless it was built with an attached subscription: not matched.
 */
const ubuntuKey = (r: string): string | undefined => (/^pro:/i.test(r) ? undefined : /^(\d+\.\d+)(?::lts)?$/i.exec(r)?.[1]);

/**
 * SUSE: every SLE product or module of the same `15 SPn` (`Linux Enterprise Server 15 SP5`, `… Module for Basesystem 15 SP5`);
 * SLE Micro by its `5.n` (`Linux Enterprise Micro 5.5`, `… Micro for Rancher 5.4`), SUSE Linux Micro by its `6.n` (`Linux Micro 6.0`:
 * that product's name has no "Enterprise").
 */
const suseKey = (r: string): string | undefined => {
  if (!/linux (?:enterprise|micro)\b/i.test(r)) return undefined;
  // The version ends the name: `… 15 SP5`, `… 15`, SLE Micro's `… 5.5`. A suffix after it names a
  // subscription stream (`15 SP3-LTSS`, `15 SP7-ESPOS`, `12 SP5-LTSS-EXTENDED-SECURITY`): those fixes reach
  // only subscribers, so, as Ubuntu's `Pro:` records, they do not apply (read loosely, `15 SP3-LTSS` was `15`,
  // applied to SLES 15 GA images and not to SP3 ones).
  const m = /(?:^|\s)(\d+)(?:\.(\d+)|\s+SP(\d+))?(\S*)$/i.exec(r.trim());
  return m && !m[4] ? `${m[1]}.${m[2] ?? m[3] ?? '0'}` : undefined;
};

/** The table: covered families first (their order is the order ecosystems are listed in messages), then uncovered ones. */
export const OS_TABLE: readonly OsFamily[] = [
  {
    family: 'Debian', example: { versionId: '12' }, ids: ['debian'], packageDb: 'dpkg', comparator: 'dpkg', ecosystem: 'Debian', inventoryEcosystem: 'Debian', purlNamespace: 'debian',
    names: 'source', eolProduct: 'debian', advisorySource: 'Debian security tracker (DLA/DSA/DEBIAN-CVE), on osv.dev',
    releaseRule: 'major of VERSION_ID (`Debian:12`); testing/sid (no number) matches only records without a release',
    release: (os) => major(os.versionId), releaseApplies: byKey(major),
  },
  {
    family: 'Ubuntu', example: { versionId: '22.04' }, ids: ['ubuntu'], packageDb: 'dpkg', comparator: 'dpkg', ecosystem: 'Ubuntu', inventoryEcosystem: 'Ubuntu', purlNamespace: 'ubuntu',
    names: 'source', eolProduct: 'ubuntu', advisorySource: 'Ubuntu OSV (github.com/canonical/ubuntu-security-notices), on osv.dev',
    releaseRule: '`<YY.MM>` plus `:LTS` for an even year\'s .04; records `<YY.MM>` and `<YY.MM>:LTS` apply; `Pro:<YY.MM>:LTS` (ESM, needs a subscription) does not',
    release: (os) => {
      const v = majorMinor(os.versionId);
      if (!v) return undefined;
      const [y, m] = v.split('.').map(Number);
      return y % 2 === 0 && m === 4 ? `${v}:LTS` : v;
    },
    releaseApplies: byKey(ubuntuKey),
  },
  {
    family: 'Alpine Linux', example: { versionId: '3.19.1' }, ids: ['alpine'], packageDb: 'apk', comparator: 'apk', ecosystem: 'Alpine', inventoryEcosystem: 'Alpine', purlNamespace: 'alpine',
    names: 'source', eolProduct: 'alpine-linux', advisorySource: 'Alpine secdb, on osv.dev',
    releaseRule: '`v<major>.<minor>` of VERSION_ID (`Alpine:v3.19`)',
    release: (os) => { const v = majorMinor(os.versionId); return v ? `v${v}` : undefined; },
    releaseApplies: byKey((r) => /(\d+\.\d+)/.exec(r)?.[1]),
  },
  {
    family: 'Wolfi', ids: ['wolfi'], packageDb: 'apk', comparator: 'apk', ecosystem: 'Wolfi', inventoryEcosystem: 'Wolfi', purlNamespace: 'wolfi',
    names: 'either', advisorySource: 'Wolfi advisories (packages.wolfi.dev/os/security.json), on osv.dev',
    releaseRule: 'rolling: no release', releaseApplies: noRelease,
  },
  {
    family: 'Chainguard', ids: ['chainguard'], packageDb: 'apk', comparator: 'apk', ecosystem: 'Chainguard', inventoryEcosystem: 'Chainguard', purlNamespace: 'chainguard',
    names: 'either', advisorySource: 'Chainguard OSV (packages.cgr.dev/chainguard/osv), on osv.dev',
    releaseRule: 'rolling: no release', releaseApplies: noRelease,
  },
  {
    family: 'Red Hat Enterprise Linux (incl. UBI)', example: { versionId: '9.4' }, ids: ['rhel', 'redhat'], packageDb: 'rpm', comparator: 'rpm', ecosystem: 'Red Hat',
    inventoryEcosystem: 'Red Hat', purlNamespace: 'redhat', names: 'either', eolProduct: 'rhel',
    advisorySource: 'Red Hat OSV (https://security.access.redhat.com/data/osv/), on osv.dev',
    releaseRule: 'image `enterprise_linux:<major of VERSION_ID>`; records of stream `enterprise_linux:<major>` (any variant: baseos, appstream, crb) apply; EUS/AUS/E4S and layered-product streams do not',
    release: (os) => { const m = major(os.versionId); return m ? `enterprise_linux:${m}` : undefined; },
    releaseApplies: byKey(rhelStream),
  },
  {
    family: 'Rocky Linux', example: { versionId: '9.3' }, ids: ['rocky'], packageDb: 'rpm', comparator: 'rpm', ecosystem: 'Rocky Linux', inventoryEcosystem: 'Rocky Linux',
    purlNamespace: 'rocky', names: 'either', eolProduct: 'rocky-linux', advisorySource: 'Rocky Linux Apollo (OSV API), on osv.dev',
    releaseRule: 'major of VERSION_ID (`Rocky Linux:9`)', release: (os) => major(os.versionId), releaseApplies: byKey(major),
  },
  {
    family: 'AlmaLinux', example: { versionId: '9.4' }, ids: ['almalinux'], packageDb: 'rpm', comparator: 'rpm', ecosystem: 'AlmaLinux', inventoryEcosystem: 'AlmaLinux',
    purlNamespace: 'almalinux', names: 'either', eolProduct: 'almalinux', advisorySource: 'AlmaLinux OSV database (github.com/AlmaLinux/osv-database), on osv.dev',
    releaseRule: 'major of VERSION_ID (`AlmaLinux:9`)', release: (os) => major(os.versionId), releaseApplies: byKey(major),
  },
  {
    // SLE Micro 5.x writes ID `sle-micro` (`sle-micro-rancher` for its Rancher edition); SUSE Linux Micro 6.x writes `sl-micro`
    family: 'SUSE Linux Enterprise (incl. BCI, SLE Micro)', example: { versionId: '15.5' }, ids: ['sles', 'sled', 'sle-micro', 'sle-micro-rancher', 'sl-micro', 'sles_sap'], packageDb: 'rpm', comparator: 'rpm', ecosystem: 'SUSE',
    inventoryEcosystem: 'SUSE', purlNamespace: 'suse', names: 'source', eolProduct: 'sles', advisorySource: 'SUSE OSV (ftp.suse.com/pub/projects/security/osv), on osv.dev',
    releaseRule: 'image `Linux Enterprise Server <major> SP<minor>` from VERSION_ID (SLE Micro `Linux Enterprise Micro <major>.<minor>`, SUSE Linux Micro `Linux Micro <major>.<minor>`); records of any SLE product or module of the same `<major> SP<minor>` (Micro: `<major>.<minor>`) apply; subscription streams (`15 SP3-LTSS`, `-ESPOS`) do not',
    release: (os) => {
      const [maj, sp] = (os.versionId ?? '').split('.');
      if (!/^\d+$/.test(maj ?? '')) return undefined;
      // the Micro products are versioned <major>.<minor> and have no service packs
      const id = os.id.toLowerCase();
      if (id === 'sl-micro') return `Linux Micro ${maj}.${sp ?? '0'}`;
      if (id.startsWith('sle-micro')) return `Linux Enterprise Micro ${maj}.${sp ?? '0'}`;
      return `Linux Enterprise Server ${maj}${sp && sp !== '0' ? ` SP${sp}` : ''}`;
    },
    releaseApplies: byKey(suseKey),
  },
  {
    family: 'openSUSE Leap / Tumbleweed', example: { versionId: '15.5' }, ids: ['opensuse-leap', 'opensuse-tumbleweed', 'opensuse'], packageDb: 'rpm', comparator: 'rpm', ecosystem: 'openSUSE',
    inventoryEcosystem: 'openSUSE', purlNamespace: 'opensuse', names: 'source', eolProduct: 'opensuse', advisorySource: 'SUSE OSV, on osv.dev',
    releaseRule: '`Leap <VERSION_ID>` or `Tumbleweed`, compared exactly (case-insensitive)',
    release: (os) => (os.id === 'opensuse-tumbleweed' ? 'Tumbleweed' : os.versionId ? `Leap ${os.versionId}` : undefined),
    releaseApplies: byKey((r) => r.toLowerCase().replace(/\s+/g, ' ').trim()),
  },
  {
    family: 'Mageia', example: { versionId: '9' }, ids: ['mageia'], packageDb: 'rpm', comparator: 'rpm', ecosystem: 'Mageia', inventoryEcosystem: 'Mageia', purlNamespace: 'mageia',
    names: 'source', advisorySource: 'Mageia advisories (advisories.mageia.org), on osv.dev',
    releaseRule: 'major of VERSION_ID (`Mageia:9`)', release: (os) => major(os.versionId), releaseApplies: byKey(major),
  },
  {
    family: 'openEuler', example: { versionId: '22.03', version: '22.03 (LTS-SP3)' }, ids: ['openeuler'], packageDb: 'rpm', comparator: 'rpm', ecosystem: 'openEuler', inventoryEcosystem: 'openEuler', purlNamespace: 'openeuler',
    names: 'source', advisorySource: 'openEuler security advisories, on osv.dev',
    releaseRule: '`<VERSION_ID>[-<VERSION qualifier>]` (`openEuler:22.03-LTS-SP3`), compared exactly',
    release: (os) => {
      if (!os.versionId) return undefined;
      const q = /\(([^)]+)\)/.exec(os.version ?? '')?.[1]?.trim().replace(/\s+/g, '-');
      return q ? `${os.versionId}-${q}` : os.versionId;
    },
    releaseApplies: byKey((r) => r.toLowerCase()),
  },
  {
    family: 'Photon OS', example: { versionId: '5.0' }, ids: ['photon'], packageDb: 'rpm', comparator: 'rpm', ecosystem: 'Photon OS', inventoryEcosystem: 'Photon OS', purlNamespace: 'photon',
    names: 'either', eolProduct: 'photon', advisorySource: 'VMware Photon OS advisories (unofficial converter), on osv.dev',
    releaseRule: '`<major>.0` of VERSION_ID (`Photon OS:5.0`)',
    release: (os) => { const m = major(os.versionId); return m ? `${m}.0` : undefined; },
    releaseApplies: byKey(major),
  },
  {
    family: 'Azure Linux 3', example: { versionId: '3.0' }, ids: ['azurelinux'], packageDb: 'rpm', comparator: 'rpm', ecosystem: 'Azure Linux', inventoryEcosystem: 'Azure Linux', purlNamespace: 'azurelinux',
    names: 'source', advisorySource: 'Azure Linux vulnerability data (github.com/microsoft/AzureLinuxVulnerabilityData), on osv.dev',
    releaseRule: 'major of VERSION_ID (`Azure Linux:3`)', release: (os) => major(os.versionId), releaseApplies: byKey(major),
  },
  {
    family: 'CentOS / CentOS Stream', ids: ['centos'], packageDb: 'rpm', comparator: 'rpm', inventoryEcosystem: 'CentOS', purlNamespace: 'centos',
    names: 'either', eolProduct: 'centos', advisorySource: 'none in OSV', releaseRule: '—',
    uncovered: 'OSV has no CentOS ecosystem, and Red Hat advisories describe RHEL builds, not CentOS ones',
    releaseApplies: () => false,
  },
  {
    family: 'Oracle Linux', ids: ['ol'], packageDb: 'rpm', comparator: 'rpm', inventoryEcosystem: 'Oracle Linux', purlNamespace: 'oracle', names: 'either',
    eolProduct: 'oracle-linux', advisorySource: 'ELSA errata (OVAL), not in OSV', releaseRule: '—',
    uncovered: 'OSV has no Oracle Linux ecosystem (Oracle publishes ELSA errata as OVAL only)', releaseApplies: () => false,
  },
  {
    family: 'Amazon Linux', ids: ['amzn'], packageDb: 'rpm', comparator: 'rpm', inventoryEcosystem: 'Amazon Linux', purlNamespace: 'amazon', names: 'either',
    eolProduct: 'amazon-linux', advisorySource: 'ALAS (alas.aws.amazon.com), not in OSV', releaseRule: '—',
    uncovered: 'OSV has no Amazon Linux ecosystem (Amazon publishes ALAS bulletins and updateinfo only)', releaseApplies: () => false,
  },
  {
    family: 'Fedora', ids: ['fedora'], packageDb: 'rpm', comparator: 'rpm', inventoryEcosystem: 'Fedora', purlNamespace: 'fedora', names: 'either',
    eolProduct: 'fedora', advisorySource: 'Bodhi updates, not in OSV', releaseRule: '—',
    uncovered: 'OSV has no Fedora ecosystem', releaseApplies: () => false,
  },
  {
    family: 'CBL-Mariner 1.0 / 2.0', ids: ['mariner'], packageDb: 'rpm', comparator: 'rpm', inventoryEcosystem: 'Mariner', purlNamespace: 'mariner', names: 'source',
    advisorySource: 'CBL-Mariner OVAL, not in OSV', releaseRule: '—',
    uncovered: 'OSV publishes Azure Linux 3 only (`Azure Linux:3`); CBL-Mariner 1.0/2.0 advisories are OVAL only', releaseApplies: () => false,
  },
];

const BY_ID = new Map<string, OsFamily>(OS_TABLE.flatMap((f) => f.ids.map((id) => [id, f] as [string, OsFamily])));
const BY_ECOSYSTEM = new Map<string, OsFamily>(OS_TABLE.filter((f) => f.ecosystem).map((f) => [f.ecosystem!.toLowerCase(), f]));
const BY_INVENTORY = new Map<string, OsFamily>(OS_TABLE.map((f) => [f.inventoryEcosystem.toLowerCase(), f]));

/** Inventory ecosystem of packages from an rpm database whose OS pushgate does not know. */
export const UNKNOWN_RPM_ECOSYSTEM = 'RPM';

/**
 * The family of an os-release `ID`, else of the first `ID_LIKE` entry the table knows, else undefined.
 * ID_LIKE is consulted only for families whose own ID is unknown (a derivative such as `rhel`-like
 * `navy` is inventoried as its parent's packages but reported uncovered, see {@link osEcosystemFor}).
 */
export function familyOf(id: string | undefined, idLike?: readonly string[]): OsFamily | undefined {
  const f = id ? BY_ID.get(id.toLowerCase()) : undefined;
  if (f || !idLike) return f;
  for (const like of idLike) {
    const g = BY_ID.get(like.toLowerCase());
    if (g) return g;
  }
  return undefined;
}

/** The family whose OSV ecosystem base is `base` (case-insensitive), if any. */
export function familyOfEcosystem(base: string): OsFamily | undefined {
  return BY_ECOSYSTEM.get(base.toLowerCase());
}

/** The family whose inventory ecosystem is `eco` (`Red Hat`, `Amazon Linux`, …), if any. */
export function familyOfInventoryEcosystem(eco: string): OsFamily | undefined {
  return BY_INVENTORY.get(eco.split(':')[0].trim().toLowerCase());
}

/**
 * The OSV ecosystem (with release) an image's OS packages are matched in: `Red Hat:enterprise_linux:9`,
 * `Ubuntu:22.04:LTS`, `Debian:12`, `Alpine:v3.19`, `Wolfi`. Undefined when the OS ID is not in the table
 * by its own `ID` or the family has no OSV source. Without a release (no VERSION_ID) the base name alone.
 */
export function osEcosystemFor(os: OsReleaseFields): string | undefined {
  const f = familyOf(os.id);
  if (!f?.ecosystem) return undefined;
  const r = f.release?.(os);
  return r ? `${f.ecosystem}:${r}` : f.ecosystem;
}

/** Every OSV ecosystem base the table covers (the OS part of the default advisory sources). */
export function coveredOsEcosystems(): string[] {
  return OS_TABLE.filter((f) => f.ecosystem).map((f) => f.ecosystem!);
}

/** Every inventory ecosystem of a family OSV does not cover, plus {@link UNKNOWN_RPM_ECOSYSTEM}. */
export function uncoveredOsEcosystems(): string[] {
  return [...OS_TABLE.filter((f) => !f.ecosystem).map((f) => f.inventoryEcosystem), UNKNOWN_RPM_ECOSYSTEM];
}

/** Every inventory ecosystem of OS packages (covered and uncovered). */
export function osInventoryEcosystems(): string[] {
  return [...new Set([...OS_TABLE.map((f) => f.inventoryEcosystem), UNKNOWN_RPM_ECOSYSTEM])];
}
