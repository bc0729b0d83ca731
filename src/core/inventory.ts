/**
 * What a scan finds inside an image: the OS, installed packages, secrets, configuration
 * problems and diagnostics. Produced by src/scan, consumed by src/vulndb and src/policy.
 */
import type { Origin } from './base-image.js';
import type { Digest } from './digest.js';

/** The image's operating system, from /etc/os-release and friends. */
export interface OsInfo {
  /** os-release ID: `debian`, `alpine`, `ubuntu`, `rhel`, … */
  id: string;
  /** os-release VERSION_ID: `12`, `3.19.1`. */
  versionId?: string;
  prettyName?: string;
  /** os-release ID_LIKE words (`rhel centos fedora`), for messages about an OS the OS table does not know. */
  idLike?: string[];
  /** The OSV ecosystem for advisories about this OS, e.g. `Debian:12`, `Alpine:v3.19`. */
  ecosystem?: string;
}

/**
 * One installed package (one entry per installed artefact path).
 * `ecosystem` is spelled as OSV spells it (`Debian`, `Alpine`, `npm`, `PyPI`, …), without a release.
 */
export interface Package {
  ecosystem: string;
  name: string;
  version: string;
  /** Source package (dpkg `Source:`, apk origin, RPM source RPM name). */
  sourceName?: string;
  sourceVersion?: string;
  /** Package URL (purl spec), e.g. `pkg:npm/lodash@4.17.15`, `pkg:deb/debian/libc6@2.36-9?arch=amd64`. */
  purl: string;
  arch?: string;
  /** diffID of the layer in which this artefact was last written. */
  layer?: Digest;
  /** Path of the file the package was read from (`/var/lib/dpkg/status`, `/app/node_modules/lodash/package.json`). */
  path: string;
  /** Which analyzer found it (`os/dpkg`, `lang/npm`). */
  analyzer: string;
  /** Set when a language package's files are owned by an OS package (not matched against language advisories). */
  ownedBy?: string;
  /** Image platform (`linux/amd64`) when scanning an index. */
  platform?: string;
  /** `base` when the image's base holds it (src/base/attribute.ts), `app` when its own layers added it; absent when no base is known. */
  origin?: Origin;
}

/** A secret found in a file. The value itself is never stored: only a redacted form. */
export interface SecretFinding {
  /** Rule id: `private-key`, `aws-access-key-id`, `aws-secret-access-key`, … */
  rule: string;
  /** Severity word (see Severity). */
  severity: string;
  path: string;
  layer?: Digest;
  line?: number;
  /** e.g. `AKIA************WXYZ` or `-----BEGIN RSA PRIVATE KEY----- (redacted)` */
  redacted: string;
  platform?: string;
  /** `base` when its layer is one of the base image's layers; absent when no base is known. */
  origin?: Origin;
}

/** A problem in the image configuration (runs as root, too old, …). */
export interface ConfigFinding {
  /** Check id: `runs-as-root`. */
  check: string;
  severity: string;
  message: string;
  platform?: string;
}

/** Something the scan could not do fully. A diagnostic can make the scan incomplete. */
export interface Diagnostic {
  /** Stable code: `vulndb-missing`, `layer-digest-mismatch`, `blob-missing`, `corrupt-layer`, `parse-error`, `tar-no-eof`, `path-too-long`, `layer-too-complex`, … */
  code: string;
  path?: string;
  layer?: Digest;
  message: string;
  /** `ecosystem-uncovered`: the ecosystem whose packages were not matched (`Amazon Linux`, `Ubuntu:22.04:LTS`, `PyPI`). */
  ecosystem?: string;
  /** `ecosystem-uncovered`: how many packages that is. */
  packages?: number;
  /** True when this problem means the scan is incomplete (the policy's `onIncomplete` decides). */
  incomplete?: boolean;
  platform?: string;
  /**
   * A summary: this many more diagnostics of this code were found and not listed (src/scan/diagnostic-cap.ts
   * keeps the first 100 of a code); `incomplete` when any of them was.
   */
  more?: number;
}

/** The result of scanning one image manifest (one platform). */
export interface Inventory {
  os?: OsInfo;
  packages: Package[];
  secrets: SecretFinding[];
  config: ConfigFinding[];
  diagnostics: Diagnostic[];
}

/** How the packages of one ecosystem of an inventory were matched against advisories (the report's coverage header). */
export interface EcosystemCoverage {
  /** `Red Hat:enterprise_linux:9` for OS packages (the image's OS ecosystem), `Amazon Linux`, `npm`, … */
  ecosystem: string;
  /** Packages counted (those owned by an OS package are not). */
  packages: number;
  /** True when the packages were matched against loaded advisories. */
  covered: boolean;
  /** Why not, and what to load or do. */
  reason?: string;
  /**
   * True when the packages could not be matched because the image's own description is unusable (an OS
   * family whose advisories are release-qualified, with no readable release): the scan is incomplete
   * (`os-release-unknown`), not merely uncovered, so forging os-release cannot turn "vulnerable" into
   * "nothing to match".
   */
  incomplete?: boolean;
  /** Image platform (`linux/amd64`) when scanning an index. */
  platform?: string;
}
