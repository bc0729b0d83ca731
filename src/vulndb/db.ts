/**
 * The read side of the vulnerability index: open read-only, match an inventory, report status.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { PushgateError } from '../core/errors.js';
import { sqliteAddonOptions } from '../core/sqlite-addon.js';
import { SEVERITY_SOURCES, type Finding, type SeverityRating, type SeveritySourceKind } from '../core/finding.js';
import type { EolCycle } from './enrich/eol.js';
import type { RecordEnrichment, SourceStatus } from './update.js';
import type { EcosystemCoverage, OsInfo, Package } from '../core/inventory.js';
import { canonicalEcosystem, comparatorFor, isSupportedEcosystem, splitEcosystem } from './ecosystems/index.js';
import { defaultSourceUrl } from './sources.js';
import type { Comparator } from './ecosystems/types.js';
import { readDigestRecord } from './digest.js';
import { affectedFixed, type CompiledAffected, deserializeCompiled } from './ranges.js';
import { familyOfEcosystem, familyOfInventoryEcosystem, UNKNOWN_RPM_ECOSYSTEM } from '../core/os-table.js';
import { OS_ECOSYSTEMS, osEcosystem, releaseMatches } from './release.js';
import { normalizeName, SCHEMA_VERSION } from './schema.js';
import { isHigherSeverity, type SeverityInfo } from './severity.js';
import { redactSecretsInText } from '../core/redact.js';

/** A finding as the vulnerability database produces it: a core Finding plus where its severity came from. */
export interface VulnFinding extends Finding {
  /** Every record id grouped into this finding (the matched id first). */
  records: string[];
  /** Which record and field the severity came from, e.g. `NSWG-NPM-458 CVSS_V3`. */
  severitySource: string;
  /** The version the advisory was evaluated against when it differs from the installed one (source version). */
  advisoryVersion?: string;
  /** Debian changelog urgency of the upload, when the record carries one (never mapped to severity). */
  urgency?: string;
}

/** How one ecosystem of an inventory was matched ({@link VulnDb.coverage}). */
export type CoverageEntry = EcosystemCoverage;

/** A record as the matcher keeps it in memory (read once per open database). @internal */
export interface RecordInfo {
  id: string;
  aliases: string[];
  summary: string | null;
  published: string | null;
  modified: string | null;
  /** The highest rating among this record and its aliases, and the record it came from. */
  best: { sev: SeverityInfo; id: string };
  /** This record's own rating. */
  own: SeverityInfo;
  /** The OS vendor's rating word, when the record carries one. */
  vendor: SeverityInfo | undefined;
  enrich: RecordEnrichment | undefined;
  urgency: string | null;
  /** This record's ratings by source ({@link ratingsOf}), computed on first use and kept (shared, never mutated). */
  ratings?: SeverityRating[];
  /** Its aliases sorted, without duplicates or its own id: a one-record finding's `aliases` (copied), computed on first use. */
  sortedAliases?: string[];
  /** The severity order {@link chosen} was picked in (the policy's, the same array call after call) and the rating picked. */
  chosenFor?: readonly SeveritySourceKind[];
  chosen?: SeverityRating;
}

/** Options of {@link VulnDb.match}. */
export interface MatchOptions {
  /**
   * Order in which a finding's severity sources are taken (policy `severity.prefer`); sources left out are
   * never used for `severity` but still listed in `severities`. Default {@link DEFAULT_SEVERITY_PREFER}.
   */
  prefer?: readonly SeveritySourceKind[];
  /**
   * Results kept across calls on this database ({@link VulnDb.matchMemo}): a package matched before
   * (same fields the match reads, same OS release where it is an OS package, same `prefer`) gets the
   * findings made then, the same objects for the same place (path, layer, purl, platform). The caller
   * must not change the findings it gets (findings are never changed once made).
   */
  memo?: MatchMemo;
}

/** A package's findings with its place left out (empty path, no layer, purl or platform), and per place. */
interface MemoEntry {
  bare: VulnFinding[];
  /** Findings bound to one place: path → layer → purl → platform ({@link placedIn}). */
  placed: Tier;
}

/**
 * Nested maps keyed by a package's raw field values: Map keys compare by SameValueZero, so values
 * that differ in any way (`'1'` and `1` too) are told apart, and no key string is built per package.
 */
type Tier = Map<unknown, unknown>;

function tier(m: Tier, k: unknown): Tier {
  let t = m.get(k) as Tier | undefined;
  if (!t) m.set(k, (t = new Map()));
  return t;
}

/**
 * Match results of one database, kept for the calls that pass it ({@link MatchOptions.memo}): a
 * monitor pass matches 10,000 stored inventories that share most of their packages, so each distinct
 * package is matched once, and every instance at the same place gets the same finding objects (whose
 * JSON text is then made once, src/store/finding-text.ts). Scoped by its holder (one pass): it grows
 * with the distinct packages and places seen. Made by {@link VulnDb.matchMemo}.
 */
export class MatchMemo {
  /**
   * By `prefer` order, then by every field a match reads of a package ({@link memoEntry}), then
   * {@link MemoEntry}.
   */
  readonly byPrefer = new Map<string, Tier>();
  /** Distinct packages held (tests, benches). */
  size = 0;
  /** @internal use {@link VulnDb.matchMemo}. */
  constructor(readonly db: VulnDb) {}
}

/**
 * The last tier of a package's memo entry: keyed by everything {@link VulnDb} `matchPackage` reads of it
 * (ecosystem; the OS release for an OS package, whose advisories are per release; name; version; source
 * name and version, of which only a non-empty value is read) and nothing else. Packages whose
 * `ownedBy` keeps them from being matched never get here.
 */
function memoTier(root: Tier, pkg: Package, osEco: string | undefined, isOs: boolean): Tier {
  return tier(tier(tier(tier(tier(root, pkg.ecosystem), isOs ? osEco : null), pkg.name), pkg.version), pkg.sourceName || '');
}

/** The findings of one place ({@link finding} copies `path` as is and `layer`, `purl`, `platform` when set). */
function placedIn(e: MemoEntry, pkg: Package): VulnFinding[] {
  const t = tier(tier(tier(e.placed, pkg.path), pkg.layer || ''), pkg.purl || '');
  const k = pkg.platform || '';
  let got = t.get(k) as VulnFinding[] | undefined;
  if (!got) t.set(k, (got = e.bare.map((f) => placed(f, pkg))));
  return got;
}

/** A finding made for a package without its place, bound to `pkg`'s: the fields and their order {@link finding} gives. */
function placed(f: VulnFinding, pkg: Package): VulnFinding {
  const out: VulnFinding = { ...f, path: pkg.path };
  if (pkg.layer) out.layer = pkg.layer;
  if (pkg.purl) out.purl = pkg.purl;
  if (pkg.platform) out.platform = pkg.platform;
  return out;
}

/**
 * The default order: the OS vendor's word first (only OS advisories carry one, as Trivy does for OS
 * packages), then the advisory's own CVSS or rating, then NVD's score of its CVE, then other OSV records.
 */
export const DEFAULT_SEVERITY_PREFER: readonly SeveritySourceKind[] = SEVERITY_SOURCES;

/** One affected entry of one package, compiled, with its record. @internal */
export interface Entry {
  rec: RecordInfo;
  rid: number;
  release: string;
  compiled: CompiledAffected;
}

/** An affected entry a package matched, and the fixed versions it names for it. @internal */
export interface Hit {
  entry: Entry;
  fixed: string[];
}

/** The message users see when there is no usable index. */
function missing(p: string, why?: string): PushgateError {
  return new PushgateError('VULNDB', `no vulnerability database at ${p}: run \`pushgate db update\`${why ? ` (${why})` : ''}`);
}

/** A built vulnerability index, opened read-only. */
export class VulnDb {
  readonly path: string;
  readonly builtAt: string | null;
  private readonly db: Database.Database;
  private readonly lookup: Database.Statement;
  /** (ecosystem, normalized name) → compiled entries; the file is immutable once built, so this never goes stale. */
  private readonly entries = new Map<string, Entry[]>();
  private readonly records = new Map<number, RecordInfo>();
  private readonly schemaVersion: number;
  private readonly releases = new Map<string, string[]>();
  /**
   * `sha256:` content digest of the index (src/vulndb/digest.ts), null for an index built before
   * digests were recorded. Every verdict records the digest of the index that judged it.
   */
  readonly contentDigest: string | null;

  private constructor(p: string, db: Database.Database) {
    this.path = p;
    this.db = db;
    const meta = new Map((db.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
    this.builtAt = meta.get('builtAt') ?? null;
    this.contentDigest = meta.get('contentDigest') ?? null;
    this.schemaVersion = Number(meta.get('schemaVersion') ?? 0);
    if (this.schemaVersion !== SCHEMA_VERSION) throw missing(p, `schema version ${this.schemaVersion}, this pushgate reads ${SCHEMA_VERSION}`);
    this.lookup = db.prepare(
      `SELECT a.rid, a.release, a.compiled, r.id, r.aliases, r.summary, r.published, r.modified, r.severity, r.best_severity, r.urgency, r.vendor, r.enrich
       FROM affected a JOIN records r ON r.rid = a.rid WHERE a.ecosystem = ? AND a.name = ?`,
    );
  }

  /**
   * Opens a built index read-only. Throws PushgateError VULNDB
   * "no vulnerability database at PATH: run `pushgate db update`" when it is missing or corrupt.
   */
  static open(p: string): VulnDb {
    const abs = path.resolve(p);
    if (!fs.existsSync(abs)) throw missing(p);
    let db: Database.Database | undefined;
    try {
      db = new Database(abs, { ...sqliteAddonOptions(), readonly: true, fileMustExist: true });
      return new VulnDb(p, db);
    } catch (err) {
      db?.close();
      if (err instanceof PushgateError) throw err;
      throw missing(p, `unreadable: ${(err as Error).message}`);
    }
  }

  /**
   * Reads every page of the advisory tables' row indexes (a count over each) and one lookup, so a truncated
   * or damaged file is found when it is opened rather than at the first scan. Costs a pass over the
   * indexes (tens of ms for every ecosystem's advisories), not a full integrity check.
   * @throws PushgateError VULNDB "…: damaged: <SQLite's message>; run `pushgate db update`".
   */
  verify(): void {
    try {
      this.db.prepare('SELECT count(*) FROM records').get();
      this.db.prepare('SELECT count(*) FROM affected').get();
      this.probe();
    } catch (err) {
      throw missing(this.path, `damaged: ${(err as Error).message}`);
    }
  }

  /**
   * A cheap query through the same statement scans use (readiness probe).
   * @throws the driver's error when the file cannot answer.
   */
  probe(): void {
    this.lookup.all('Debian', 'pushgate-readiness-probe');
    this.db.prepare('SELECT max(rid) FROM records').get();
  }

  /** Counts and provenance of the index. */
  status(): {
    path: string; builtAt: string | null; schemaVersion: number; records: number; byEcosystem: Record<string, number>; sources: string[];
    sourceStatus: SourceStatus[]; eolProducts: string[];
  } {
    const meta = new Map((this.db.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
    const records = (this.db.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n;
    return {
      path: this.path,
      builtAt: this.builtAt,
      schemaVersion: this.schemaVersion,
      records,
      byEcosystem: JSON.parse(meta.get('byEcosystem') ?? '{}') as Record<string, number>,
      // redacted again for an index built before sources were stored redacted
      sources: (JSON.parse(meta.get('sources') ?? '[]') as string[]).map(redactSecretsInText),
      sourceStatus: this.sourceStatus(),
      eolProducts: (this.db.prepare('SELECT product FROM eol ORDER BY product').all() as Array<{ product: string }>).map((r) => r.product),
    };
  }

  /** What each source delivered at build time (empty for an index built before sources were recorded). */
  sourceStatus(): SourceStatus[] {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'sourceStatus'").get() as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as SourceStatus[]).map((st) => ({ ...st, source: redactSecretsInText(st.source) })) : [];
  }

  /**
   * Age per source kind in seconds (`pushgate_vulndb_age_seconds{source}`): since the newest date the data
   * states about itself (KEV release, EPSS score date, newest NVD change), else since the build.
   */
  sourceAges(now = Date.now()): Record<string, number> {
    const out: Record<string, number> = {};
    const built = this.builtAt ? Date.parse(this.builtAt) : NaN;
    for (const s of this.sourceStatus()) {
      const t = s.dataDate ? Date.parse(s.dataDate) : built;
      if (!Number.isFinite(t)) continue;
      const age = Math.max(0, (now - t) / 1000);
      out[s.kind] = Math.min(out[s.kind] ?? Infinity, age);
    }
    return out;
  }

  private eolCache = new Map<string, EolCycle[] | undefined>();

  /** The release cycles of an endoflife.date product, or undefined when no end-of-life source holds it. */
  eolCycles(product: string): EolCycle[] | undefined {
    if (this.eolCache.has(product)) return this.eolCache.get(product);
    const row = this.db.prepare('SELECT cycles FROM eol WHERE product = ?').get(product) as { cycles: string } | undefined;
    const v = row ? (JSON.parse(row.cycles) as EolCycle[]) : undefined;
    this.eolCache.set(product, v);
    return v;
  }

  /** Age of the index in seconds (for `pushgate_vulndb_age_seconds`); null when unknown. */
  ageSeconds(now = Date.now()): number | null {
    return this.builtAt ? Math.max(0, (now - Date.parse(this.builtAt)) / 1000) : null;
  }

  /** The compiled entries of one package, read from the file on first use and kept. */
  private entriesFor(base: string, name: string): Entry[] {
    const key = `${base}\u0000${name}`;
    let list = this.entries.get(key);
    if (list) return list;
    const rows = this.lookup.all(base, name) as Array<{
      rid: number; release: string; compiled: string; id: string; aliases: string; summary: string | null; published: string | null;
      modified: string | null; severity: string; best_severity: string | null; urgency: string | null; vendor: string | null; enrich: string | null;
    }>;
    list = rows.map((row) => {
      let rec = this.records.get(row.rid);
      if (!rec) {
        const best = row.best_severity ? (JSON.parse(row.best_severity) as SeverityInfo & { id: string }) : undefined;
        const own = JSON.parse(row.severity) as SeverityInfo;
        rec = {
          id: row.id, aliases: JSON.parse(row.aliases) as string[], summary: row.summary, published: row.published, modified: row.modified,
          best: best ? { sev: best, id: best.id } : { sev: own, id: row.id }, own, urgency: row.urgency,
          vendor: row.vendor ? (JSON.parse(row.vendor) as SeverityInfo) : undefined,
          enrich: row.enrich ? (JSON.parse(row.enrich) as RecordEnrichment) : undefined,
        };
        this.records.set(row.rid, rec);
      }
      return { rec, rid: row.rid, release: row.release, compiled: deserializeCompiled(row.compiled) };
    });
    this.entries.set(key, list);
    return list;
  }

  /**
   * Matches packages against the index. OS packages (dpkg, apk, rpm ecosystems) are looked up in the
   * OS release's ecosystem (`os.ecosystem`, e.g. `Debian:12`, or derived from `os.id`/`versionId`) by
   * their source package name and version (Debian binNMU `+bN` suffixes removed when no source version
   * is known); language packages in their own ecosystem; packages with `ownedBy` set are not matched
   * against language advisories. Records that share an id through `aliases`/`upstream` become one
   * finding per (vulnerability, package path), carrying the highest severity among them.
   * Packages whose version the ecosystem rejects, or of an ecosystem without a version order, are skipped.
   */
  match(packages: Package[], os?: OsInfo, opts: MatchOptions = {}): VulnFinding[] {
    const prefer = opts.prefer ?? DEFAULT_SEVERITY_PREFER;
    const osEco = osEcosystem(os);
    const osBase = osEco ? splitEcosystem(osEco).base.toLowerCase() : undefined;
    const findings: VulnFinding[] = [];
    // per call: what each package ecosystem spelling means, and which record releases apply
    const ecoPlans = new Map<string, { base: string; isOs: boolean; cmp: Comparator } | null>();
    // base → release → whether that release's records apply
    const releaseOk = new Map<string, Map<string, boolean>>();
    let memo: Tier | undefined;
    if (opts.memo) {
      if (opts.memo.db !== this) throw new Error('a match memo is used with the database it was made for only');
      const pk = prefer.join(',');
      memo = opts.memo.byPrefer.get(pk);
      if (!memo) opts.memo.byPrefer.set(pk, (memo = new Map()));
    }
    for (const pkg of packages) {
      let plan = ecoPlans.get(pkg.ecosystem);
      if (plan === undefined) {
        plan = planFor(pkg.ecosystem, osEco, osBase);
        ecoPlans.set(pkg.ecosystem, plan);
      }
      if (!plan) continue;
      if (!plan.isOs && pkg.ownedBy) continue;
      if (memo) {
        const t = memoTier(memo, pkg, osEco, plan.isOs);
        const sv = pkg.sourceVersion || '';
        let e = t.get(sv) as MemoEntry | undefined;
        if (!e) {
          // matched once without its place: what the match reads of a package is in the memo's key
          const bare: Package = { ecosystem: pkg.ecosystem, name: pkg.name, version: pkg.version, purl: '', path: '', analyzer: '' };
          if (pkg.sourceName) bare.sourceName = pkg.sourceName;
          if (pkg.sourceVersion) bare.sourceVersion = pkg.sourceVersion;
          const out: VulnFinding[] = [];
          this.matchPackage(bare, plan, osEco, prefer, releaseOk, out);
          e = { bare: out, placed: new Map() };
          t.set(sv, e);
          opts.memo!.size++;
        }
        if (e.bare.length) findings.push(...placedIn(e, pkg));
        continue;
      }
      this.matchPackage(pkg, plan, osEco, prefer, releaseOk, findings);
    }
    return findings;
  }

  /**
   * Appends the findings of one package ({@link match}) to `out`; `releaseOk` caches, per ecosystem
   * base and record release, whether that release's records apply to the image's OS release.
   */
  private matchPackage(pkg: Package, plan: { base: string; isOs: boolean; cmp: Comparator }, osEco: string | undefined, prefer: readonly SeveritySourceKind[], releaseOk: Map<string, Map<string, boolean>>, out: VulnFinding[]): void {
    const { base, isOs, cmp } = plan;
    let releases = releaseOk.get(base);
    if (!releases) releaseOk.set(base, (releases = new Map()));
    // OS advisories name the source package (Debian, Ubuntu, Alpine, SUSE) or the binary one
    // (Red Hat, AlmaLinux and Rocky Linux errata list every binary RPM): the OS table says which.
    const lookups: Array<{ name: string; version: string }> = [];
    if (!isOs) lookups.push({ name: pkg.name, version: pkg.version });
    else {
      const names = familyOfEcosystem(base)?.names ?? 'source';
      if (names !== 'source') lookups.push({ name: pkg.name, version: pkg.version });
      if (names !== 'binary') {
        let version = pkg.sourceVersion || pkg.version;
        if (!pkg.sourceVersion && familyOfEcosystem(base)?.packageDb === 'dpkg') version = version.replace(/\+b\d+$/, '');
        const name = pkg.sourceName || pkg.name;
        if (!lookups.some((l) => l.name === name && l.version === version)) lookups.push({ name, version });
      }
    }
    let hits: Map<number, Hit> | undefined;
    let matchedAs: { name: string; version: string } | undefined;
    for (const { name, version } of lookups) {
      // records already matched under the other name are not matched twice
      const before = hits ? new Set(hits.keys()) : undefined;
      const entries = this.entriesFor(base, normalizeName(base, name));
      if (!entries.length) continue;
      try {
        cmp.compare(version, version);
      } catch {
        continue;
      }
      for (const entry of entries) {
        if (before?.has(entry.rid)) continue;
        if (entry.release !== '') {
          let ok = releases.get(entry.release);
          if (ok === undefined) {
            ok = releaseMatches(base, entry.release, isOs ? osEco : undefined);
            releases.set(entry.release, ok);
          }
          if (!ok) continue;
        }
        const fixed = affectedFixed(entry.compiled, version, cmp);
        if (!fixed) continue;
        hits ??= new Map<number, Hit>();
        matchedAs ??= { name, version };
        const h = hits.get(entry.rid);
        if (h) {
          for (const f of fixed) if (!h.fixed.includes(f)) h.fixed.push(f);
        } else hits.set(entry.rid, { entry, fixed });
      }
    }
    if (hits && matchedAs) group([...hits.values()], pkg, matchedAs.name, matchedAs.version, cmp, prefer, out);
  }

  /** A memo for {@link match} calls on this database (one pass over many inventories): see {@link MatchMemo}. */
  matchMemo(): MatchMemo {
    return new MatchMemo(this);
  }

  /** Releases (`''` for none) of the loaded records of one ecosystem base (lower-cased), read once. */
  private releasesOf(base: string): string[] {
    let r = this.releases.get(base);
    if (!r) {
      r = (this.db.prepare('SELECT DISTINCT release FROM affected WHERE ecosystem = ?').all(base) as Array<{ release: string }>).map((x) => x.release);
      this.releases.set(base, r);
    }
    return r;
  }

  /**
   * What {@link match} could and could not match, per ecosystem (OS packages under the image's OS
   * ecosystem with release, `Red Hat:enterprise_linux:9`; language packages under their own), in
   * package order. An ecosystem is uncovered when pushgate has no version order for it (an OS family
   * OSV does not publish: Amazon Linux, Oracle Linux, Fedora, CentOS, CBL-Mariner; an rpm database
   * of an unknown OS), when the OS could not be identified, or when the database holds no advisory
   * for it (or none for the image's release). Packages owned by an OS package are not counted.
   */
  coverage(packages: Package[], os?: OsInfo): CoverageEntry[] {
    const osEco = osEcosystem(os);
    const osBase = osEco ? splitEcosystem(osEco).base.toLowerCase() : undefined;
    const groups = new Map<string, { count: number; isOs: boolean; pkgEco: string }>();
    // an inventory holds a few ecosystem spellings: each is classified once
    const classified = new Map<string, { isOs: boolean; key: string }>();
    for (const pkg of packages) {
      if (pkg.ownedBy) continue;
      let c = classified.get(pkg.ecosystem);
      if (!c) {
        const pkgBase = splitEcosystem(pkg.ecosystem).base.toLowerCase();
        const isOs = OS_ECOSYSTEMS.has(pkgBase) || familyOfInventoryEcosystem(pkg.ecosystem) !== undefined || pkg.ecosystem === UNKNOWN_RPM_ECOSYSTEM;
        c = { isOs, key: isOs && osEco && osBase === pkgBase ? osEco : pkg.ecosystem };
        classified.set(pkg.ecosystem, c);
      }
      const { isOs, key } = c;
      const g = groups.get(key);
      if (g) g.count++;
      else groups.set(key, { count: 1, isOs, pkgEco: pkg.ecosystem });
    }
    const out: CoverageEntry[] = [];
    for (const [ecosystem, { count, isOs, pkgEco }] of groups) {
      const e: CoverageEntry = { ecosystem, packages: count, covered: false };
      const fam = familyOfInventoryEcosystem(pkgEco);
      const { base, release } = splitEcosystem(ecosystem);
      if (isOs && fam && !fam.ecosystem) {
        e.reason = `${fam.family}: ${fam.uncovered ?? 'no OSV source'}`;
      } else if (isOs && !fam) {
        e.reason = `an rpm database on ${os ? `OS "${os.id}"${os.idLike?.length ? ` (like ${os.idLike.join(' ')})` : ''}, which the OS table does not know` : 'an image without os-release'}: no advisories apply`;
      } else if (isOs && (!osEco || splitEcosystem(osEco).base.toLowerCase() !== splitEcosystem(pkgEco).base.toLowerCase())) {
        e.reason = `${pkgEco} packages on ${os ? `OS "${os.id}"` : 'an image without os-release'}: the OS release (and so which advisories apply) is unknown`;
      } else if (base === 'GIT') {
        e.reason = 'dependencies locked to a git commit (reported with repository and commit); OSV GIT ranges are not evaluated, as that needs each repository\'s commit history: check these commits against their projects\' advisories';
      } else if (!isSupportedEcosystem(base)) {
        e.reason = `pushgate has no version order for ${base}`;
      } else {
        const lc = base.toLowerCase();
        const loaded = this.releasesOf(lc);
        if (!loaded.length) {
          e.reason = `no ${canonicalEcosystem(base)} advisories loaded: run \`pushgate db update\` with its source (\`--ecosystems ${canonicalEcosystem(base)}\` or ${defaultSourceUrl(canonicalEcosystem(base)!)})`;
        } else if (isOs && !release && loaded.some((r) => r !== '')) {
          // The family's advisories name releases and the image names none we can read (VERSION_ID
          // missing or not a release, no fallback file): matching nothing here would report a
          // vulnerable image as clean, so the scan is incomplete.
          e.reason = `the image's ${canonicalEcosystem(base)} release is unknown (os-release VERSION_ID missing or not a release of ${canonicalEcosystem(base)}), and its advisories are per release: nothing can be matched`;
          e.incomplete = true;
        } else if (isOs && release && !loaded.some((r) => releaseMatches(lc, r, ecosystem))) {
          e.reason = `${loaded.length} ${canonicalEcosystem(base)} releases loaded, none for ${ecosystem}: update the database, or this release is not covered by its advisories`;
        } else {
          e.covered = true;
        }
      }
      out.push(e);
    }
    return out;
  }

  /**
   * True when this index holds a pair of ecosystem base `base` (lower-case, as in pair keys) that is not
   * among `changed`: that ecosystem had advisories in the replaced index too, so whether a language
   * ecosystem is covered (src/vulndb/db.ts coverage) did not change with the swap. False without the
   * per-pair digests (an index built before them).
   */
  hasPairOutside(base: string, changed: ReadonlyMap<string, unknown>): boolean {
    try {
      for (const r of this.db.prepare('SELECT pkg FROM package_digests WHERE pkg >= ? AND pkg < ?').iterate(`${base}:`, `${base};`) as Iterable<{ pkg: string }>) {
        if (!changed.has(r.pkg)) return true;
      }
    } catch {
      return false;
    }
    return false;
  }

  /**
   * The content digest, the digest of the index this one replaced, and the (ecosystem, package) pairs
   * changed between the two (src/vulndb/digest.ts).
   */
  digestRecord(): ReturnType<typeof readDigestRecord> {
    return readDigestRecord(this.db);
  }

  /** Closes the database handle. */
  close(): void {
    if (this.db.open) this.db.close();
  }
}

/**
 * How packages of one ecosystem spelling are matched: the advisory ecosystem (the OS release's for OS
 * packages), whether it is an OS ecosystem, its comparator; null when they cannot be matched.
 */
export function planFor(ecosystem: string, osEco: string | undefined, osBase: string | undefined): { base: string; isOs: boolean; cmp: Comparator } | null {
  if (!isSupportedEcosystem(ecosystem)) return null;
  const pkgBase = splitEcosystem(ecosystem).base.toLowerCase();
  const isOs = OS_ECOSYSTEMS.has(pkgBase);
  // an OS package is judged by the advisories of the image's OS release
  const base = isOs && osBase ? osBase : pkgBase;
  if (isOs && osEco && !OS_ECOSYSTEMS.has(base)) return null;
  return { base, isOs, cmp: comparatorFor(base) };
}

/** Groups hits of one package that name each other (id, aliases, upstream) into one finding each, appended to `out`. */
function group(hits: Hit[], pkg: Package, advisoryName: string, version: string, cmp: Comparator, prefer: readonly SeveritySourceKind[], out: VulnFinding[]): void {
  if (hits.length === 1) {
    out.push(finding(hits, pkg, advisoryName, version, cmp, prefer));
    return;
  }
  const parent = hits.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  const owner = new Map<string, number>();
  const join = (id: string, i: number): void => {
    const j = owner.get(id);
    if (j === undefined) owner.set(id, i);
    else parent[find(i)] = find(j);
  };
  hits.forEach((h, i) => {
    join(h.entry.rec.id, i);
    for (const id of h.entry.rec.aliases) join(id, i);
  });
  const groups = new Map<number, Hit[]>();
  hits.forEach((h, i) => {
    const g = find(i);
    const list = groups.get(g);
    if (list) list.push(h);
    else groups.set(g, [h]);
  });
  for (const members of groups.values()) out.push(finding(members, pkg, advisoryName, version, cmp, prefer));
}

/** One finding from the hits of one vulnerability on one package. */
function finding(members: Hit[], pkg: Package, advisoryName: string, version: string, cmp: Comparator, prefer: readonly SeveritySourceKind[]): VulnFinding {
  return members.length === 1 ? oneRecordFinding(members[0], pkg, advisoryName, version, cmp, prefer) : recordsFinding(members, pkg, advisoryName, version, cmp, prefer);
}

/**
 * One finding from the hits of one vulnerability on one package, any number of them (the general rule).
 * Exported for the test holding {@link oneRecordFinding} to it.
 * @internal
 */
export function recordsFinding(members: Hit[], pkg: Package, advisoryName: string, version: string, cmp: Comparator, prefer: readonly SeveritySourceKind[]): VulnFinding {
  const recs = members.map((m) => m.entry.rec);
  recs.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const ratings = ratingsOf(recs);
  const chosen = pickRating(ratings, prefer);
  const primary = recs[0];
  const ids = new Set<string>();
  for (const r of recs) {
    ids.add(r.id);
    for (const id of r.aliases) ids.add(id);
  }
  ids.delete(primary.id);
  const fixedSet = new Set<string>();
  for (const m of members) for (const f of m.fixed) fixedSet.add(f);
  const fixed = [...fixedSet];
  if (fixed.length > 1) fixed.sort((a, b) => cmp.compare(a, b));
  let published: string | undefined;
  let modified: string | undefined;
  for (const r of recs) {
    if (r.published && (!published || r.published < published)) published = r.published;
    if (r.modified && (!modified || r.modified > modified)) modified = r.modified;
  }
  const f: VulnFinding = {
    id: primary.id,
    aliases: [...ids].sort(),
    ecosystem: pkg.ecosystem,
    package: pkg.name,
    installedVersion: pkg.version,
    fixedVersions: fixed,
    severity: chosen?.severity ?? 'unknown',
    path: pkg.path,
    records: recs.map((r) => r.id),
    severitySource: chosen ? chosen.from : 'none',
  };
  if (ratings.length) f.severities = ratings;
  for (const r of recs) {
    const e = r.enrich;
    // the record's own objects, shared by its findings (read-only, like `ratings`)
    if (e?.kev && !f.kev) f.kev = e.kev;
    if (e?.epss && e.epss.score > (f.epss?.score ?? -1)) f.epss = e.epss;
  }
  if (advisoryName !== pkg.name) f.advisoryPackage = advisoryName;
  if (version !== pkg.version) f.advisoryVersion = version;
  const summary = recs.find((r) => r.summary)?.summary;
  if (summary) f.summary = summary;
  if (chosen?.cvss) f.cvss = chosen.cvss;
  if (published) f.published = published;
  if (modified) f.modified = modified;
  const urgency = recs.find((r) => r.urgency)?.urgency;
  if (urgency) f.urgency = urgency;
  if (pkg.layer) f.layer = pkg.layer;
  if (pkg.purl) f.purl = pkg.purl;
  if (pkg.platform) f.platform = pkg.platform;
  return f;
}

/**
 * {@link recordsFinding} of a single hit (most findings): the same object, built from what its record keeps
 * (ratings, sorted aliases) without the sets and loops over several records. Sorts `hit.fixed` in place
 * and makes it the finding's `fixedVersions` (the matcher makes that array for the hit alone).
 * @internal
 */
export function oneRecordFinding(hit: Hit, pkg: Package, advisoryName: string, version: string, cmp: Comparator, prefer: readonly SeveritySourceKind[]): VulnFinding {
  const r = hit.entry.rec;
  const ratings = ratingsOf([r]);
  if (r.chosenFor !== prefer) {
    r.chosen = pickRating(ratings, prefer);
    r.chosenFor = prefer;
  }
  const chosen = r.chosen;
  // the hit's own array (made for it by the match), sorted as finding() sorts the set of fixed versions
  const fixed = hit.fixed;
  if (fixed.length > 1) fixed.sort((a, b) => cmp.compare(a, b));
  const f: VulnFinding = {
    id: r.id,
    aliases: (r.sortedAliases ??= sortedAliasesOf(r)).slice(),
    ecosystem: pkg.ecosystem,
    package: pkg.name,
    installedVersion: pkg.version,
    fixedVersions: fixed,
    severity: chosen?.severity ?? 'unknown',
    path: pkg.path,
    records: [r.id],
    severitySource: chosen ? chosen.from : 'none',
  };
  if (ratings.length) f.severities = ratings;
  const e = r.enrich;
  if (e?.kev) f.kev = e.kev;
  if (e?.epss && e.epss.score > -1) f.epss = e.epss;
  if (advisoryName !== pkg.name) f.advisoryPackage = advisoryName;
  if (version !== pkg.version) f.advisoryVersion = version;
  if (r.summary) f.summary = r.summary;
  if (chosen?.cvss) f.cvss = chosen.cvss;
  if (r.published) f.published = r.published;
  if (r.modified) f.modified = r.modified;
  if (r.urgency) f.urgency = r.urgency;
  if (pkg.layer) f.layer = pkg.layer;
  if (pkg.purl) f.purl = pkg.purl;
  if (pkg.platform) f.platform = pkg.platform;
  return f;
}

/** A record's aliases as {@link finding} lists them: without duplicates and its own id, sorted. */
function sortedAliasesOf(r: RecordInfo): string[] {
  const ids = new Set(r.aliases);
  ids.delete(r.id);
  return [...ids].sort();
}

/**
 * Every known rating of a finding's records, one per source kind (the highest of that kind): the vendor's
 * word, the records' own CVSS/rating, NVD's score of their CVE ids, and the best of other OSV records
 * sharing an id or alias (import-time `best_severity`, when it came from another record).
 */
function ratingsOf(recs: RecordInfo[]): SeverityRating[] {
  // most findings are one record: its ratings are computed once per open database
  if (recs.length === 1) return (recs[0].ratings ??= ratingsUncached(recs));
  return ratingsUncached(recs);
}

function ratingsUncached(recs: RecordInfo[]): SeverityRating[] {
  const best = new Map<SeveritySourceKind, SeverityRating>();
  const offer = (source: SeveritySourceKind, sev: SeverityInfo | undefined, from: string): void => {
    if (!sev || sev.severity === 'unknown') return;
    const prev = best.get(source);
    if (prev && !isHigherSeverity(sev, prev)) return;
    const r: SeverityRating = { source, from, severity: sev.severity };
    if (sev.cvss) r.cvss = sev.cvss;
    best.set(source, r);
  };
  for (const r of recs) {
    offer('vendor', r.vendor, `${r.id} ${r.vendor?.source}`);
    offer('advisory', r.own, `${r.id} ${r.own.source}`);
    if (r.enrich?.nvd) offer('nvd', r.enrich.nvd, `${r.enrich.nvd.source} ${r.enrich.nvd.cve}`);
    if (r.best.id !== r.id) offer('osv', r.best.sev, `${r.best.id} ${r.best.sev.source}`);
  }
  return SEVERITY_SOURCES.filter((k) => best.has(k)).map((k) => best.get(k)!);
}

/** The first rating in `prefer` order, or undefined when none of the preferred sources rated it. */
export function pickRating(ratings: SeverityRating[], prefer: readonly SeveritySourceKind[]): SeverityRating | undefined {
  for (const k of prefer) {
    for (const r of ratings) if (r.source === k) return r;
  }
  return undefined;
}
