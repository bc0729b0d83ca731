/**
 * The monitor's view of one judged image: its packages grouped by the advisory pair they are looked
 * up under (src/vulndb/keys.ts), and its findings with a stable identity, so a database change is
 * mapped to the images it can touch and a re-judgement is told apart into new, resolved and
 * re-rated findings.
 */
import { findingKey, packageInstance as instanceOf, severityRank, type Digest, type Finding, type Package, type ScanReport } from '../core/index.js';
import type { ImageScan } from '../scan/engine.js';
import type { ImageIndex, IndexedFinding, IndexedPackages } from '../store/index.js';
import { advisoryKeys } from '../vulndb/index.js';

/** The fields of a package the matcher reads (the rest stays in the stored scan). */
function slim(p: Package): Package {
  const out: Package = { ecosystem: p.ecosystem, name: p.name, version: p.version, purl: p.purl, path: p.path, analyzer: p.analyzer };
  if (p.sourceName) out.sourceName = p.sourceName;
  if (p.sourceVersion) out.sourceVersion = p.sourceVersion;
  if (p.ownedBy) out.ownedBy = p.ownedBy;
  if (p.layer) out.layer = p.layer;
  if (p.platform) out.platform = p.platform;
  return out;
}

// the identities live in core: report patches (src/store/report-patch.ts) name findings by key too
export { findingKey } from '../core/index.js';

/**
 * The packages of a scan per platform, grouped by advisory pair; a package the matcher skips is left out.
 * Without a stored scan, the report's packages and OS (one platform) stand in.
 */
export function indexedPackages(scan: ImageScan | undefined, report: ScanReport | undefined): IndexedPackages[] {
  const out: IndexedPackages[] = [];
  // What a patched re-judgement needs to know without the scan (src/monitor/monitor.ts): the one
  // platform's manifest digest (its own verdict, when it is an index's child) and whether a base was
  // attributed (findings then carry an origin the patch cannot compute). Not set when a package instance
  // (path, name, version) repeats: the index keeps one finding per instance and advisory, the report each.
  const single = scan && scan.platforms.length === 1 && distinctInstances(scan.platforms[0].inventory.packages) ? scan.platforms[0].manifestDigest : undefined;
  const based = !!report?.bases?.some((b) => b.method !== 'none');
  const add = (packages: Package[], os: IndexedPackages['os'], platform: string | undefined) => {
    const keys = advisoryKeys(packages, os);
    const by = new Map<string, Package[]>();
    packages.forEach((p, i) => {
      const k = keys[i];
      if (!k) return;
      const l = by.get(k);
      if (l) l.push(slim(p));
      else by.set(k, [slim(p)]);
    });
    for (const [pkg, list] of by) out.push({ pkg, ...(platform ? { platform } : {}), ...(os ? { os } : {}), ...(single ? { manifest: single as Digest, ...(based ? { based: true } : {}) } : {}), packages: list });
  };
  if (scan) {
    const multi = scan.platforms.length > 1;
    for (const p of scan.platforms) add(p.inventory.packages, p.inventory.os, multi ? p.platform : undefined);
  } else if (report) {
    add(report.packages, report.os, undefined);
  }
  return out;
}

/** True when no package instance (platform, path, name, version) appears twice. */
function distinctInstances(packages: Package[]): boolean {
  const seen = new Set<string>();
  for (const p of packages) {
    const i = instanceOf(p);
    if (seen.has(i)) return false;
    seen.add(i);
  }
  return true;
}

/** The advisory pair of each package instance of an index (to file findings under their pair). */
export function pairsByInstance(pkgs: IndexedPackages[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of pkgs) for (const p of e.packages) m.set(instanceOf({ ...p, platform: p.platform ?? e.platform }), e.pkg);
  return m;
}

/** Findings as indexed: identity and pair. */
export function indexedFindings(findings: Finding[], pairs: Map<string, string>): IndexedFinding[] {
  return findings.map((f) => ({ key: findingKey(f), pkg: pairs.get(instanceOf(f)) ?? '', finding: f }));
}

/** The index of one image from its stored scan (when there is one) and its judged report. */
export function imageIndexOf(digest: Digest, scan: ImageScan | undefined, report: ScanReport, reportAt: number): ImageIndex {
  const packages = indexedPackages(scan, report);
  return { digest, vulndbDigest: report.vulndb?.digest ?? null, reportAt, packages, findings: indexedFindings(report.findings, pairsByInstance(packages)) };
}

/**
 * The index of an image judged again from the same scan (its packages are indexed already, so they are
 * left out): the report's findings filed under their pairs. A package instance that had findings in
 * the image's previous index keeps the pair it was filed under there (the same scan gives the same
 * pair); only the packages of the other findings are keyed, not every package of the scan. Equal to
 * {@link imageIndexOf}'s findings for the same scan and report.
 */
export function rejudgedIndexOf(digest: Digest, scan: ImageScan, report: ScanReport, reportAt: number, previous: IndexedFinding[]): ImageIndex {
  const pairs = new Map<string, string>();
  for (const f of previous) if (f.pkg) pairs.set(instanceOf(f.finding), f.pkg);
  const missing = new Set<string>();
  for (const f of report.findings) {
    const i = instanceOf(f);
    if (!pairs.has(i)) missing.add(i);
  }
  if (missing.size) {
    const multi = scan.platforms.length > 1;
    for (const p of scan.platforms) {
      const platform = multi ? p.platform : undefined;
      const hit: Package[] = [];
      const ids: string[] = [];
      for (const x of p.inventory.packages) {
        const i = instanceOf({ ...x, platform: x.platform ?? platform });
        if (!missing.has(i)) continue;
        hit.push(x);
        ids.push(i);
      }
      const keys = advisoryKeys(hit, p.inventory.os);
      // the last package of an instance wins, as in pairsByInstance
      keys.forEach((k, n) => {
        if (k) pairs.set(ids[n], k);
      });
    }
  }
  return { digest, vulndbDigest: report.vulndb?.digest ?? null, reportAt, findings: indexedFindings(report.findings, pairs) };
}

/** What changed between two finding lists of one image. */
export interface FindingDiff {
  new: Finding[];
  resolved: Finding[];
  severityChanged: Array<{ id: string; package: string; installedVersion: string; before: string; after: string }>;
}

/**
 * New, resolved and re-rated findings. Two findings are the same vulnerability when they are on the same
 * package instance and share an id or alias (records merged or split by a database change keep their identity).
 */
export function diffFindings(before: Finding[], after: Finding[]): FindingDiff {
  const index = (list: Finding[]) => {
    const m = new Map<string, Finding[]>();
    for (const f of list) {
      for (const k of identitiesOf(f)) {
        const l = m.get(k);
        if (l) l.push(f);
        else m.set(k, [f]);
      }
    }
    return m;
  };
  const same = (f: Finding, m: Map<string, Finding[]>): Finding | undefined => {
    for (const k of identitiesOf(f)) {
      const hit = m.get(k);
      if (hit) return hit[0];
    }
    return undefined;
  };
  const b = index(before);
  const a = index(after);
  const out: FindingDiff = { new: [], resolved: [], severityChanged: [] };
  for (const f of after) {
    const old = same(f, b);
    if (!old) out.new.push(f);
    else if (severityRank(old.severity) !== severityRank(f.severity) || old.severity !== f.severity) out.severityChanged.push({ id: f.id, package: f.package, installedVersion: f.installedVersion, before: old.severity, after: f.severity });
  }
  for (const f of before) if (!same(f, a)) out.resolved.push(f);
  return out;
}

/**
 * The identities {@link diffFindings} matches a finding by (its package instance with its id, and with
 * each alias), by finding object: a database pass diffs some 10,000 images whose findings are mostly
 * objects shared between them (stored rows parsed once, matches bound once per package instance), so
 * each object's identities are made once. Findings are not changed once made (src/store/finding-text.ts).
 */
const IDENTITIES = new WeakMap<Finding, string[]>();

function identitiesOf(f: Finding): string[] {
  let ids = IDENTITIES.get(f);
  if (ids === undefined) {
    const inst = instanceOf(f);
    ids = [f.id, ...(f.aliases ?? [])].map((id) => `${inst}\u001f${id}`);
    IDENTITIES.set(f, ids);
  }
  return ids;
}

/** True when a diff holds anything. */
export function isEmptyDiff(d: FindingDiff): boolean {
  return !d.new.length && !d.resolved.length && !d.severityChanged.length;
}

/**
 * A comparable signature of findings: every field of each finding (identity, severity and its sources,
 * CVSS, fixed versions, aliases, grouped records, dates, KEV entry, EPSS score...), in any order of
 * findings and of object keys, fields set to undefined left out (as stored JSON leaves them). Equal
 * signatures mean a re-judgement would write the same findings to the report and the index: a partial
 * re-match whose fixed versions or records changed (with no new, resolved or re-rated finding) must
 * still be written, as a full re-judgement writes it.
 */
export function findingsSignature(findings: Finding[]): string {
  return findings.map(canonicalOf).sort().join('\n');
}

/**
 * True when two lists of findings have equal {@link findingsSignature}s (the same findings, each as
 * often, in any order), without making them: a count per canonical text. Canonical texts are made once
 * per finding object and findings are mostly objects shared by many images, so each text's hash is
 * computed once, and a comparison costs a few map operations per finding rather than a sort of texts.
 */
export function sameFindingsSignature(a: Finding[], b: Finding[]): boolean {
  if (a.length !== b.length) return false;
  const count = new Map<string, number>();
  for (const f of a) {
    const t = canonicalOf(f);
    count.set(t, (count.get(t) ?? 0) + 1);
  }
  for (const f of b) {
    const t = canonicalOf(f);
    const n = count.get(t);
    if (!n) return false;
    count.set(t, n - 1);
  }
  return true;
}

/** Canonical JSON of finding objects made so far: findings are not changed once made (src/store/sqlite-monitor.ts findingText). */
const CANONICAL = new WeakMap<Finding, string>();
function canonicalOf(f: Finding): string {
  let t = CANONICAL.get(f);
  if (t === undefined) {
    t = canonicalJson(f);
    CANONICAL.set(f, t);
  }
  return t;
}

/** JSON with object keys sorted and undefined members left out, so equal values give equal text. */
function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}
