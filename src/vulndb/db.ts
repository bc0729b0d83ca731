/**
 * The read side of the vulnerability index: open read-only, match an inventory, report status.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { PushgateError } from '../core/errors.js';
import type { Finding } from '../core/finding.js';
import type { OsInfo, Package } from '../core/inventory.js';
import { comparatorFor, isSupportedEcosystem, splitEcosystem } from './ecosystems/index.js';
import type { Comparator } from './ecosystems/types.js';
import { readDigestRecord } from './digest.js';
import { type CompiledAffected, deserializeCompiled, evaluateAffected } from './ranges.js';
import { OS_ECOSYSTEMS, osEcosystem, releaseMatches } from './release.js';
import { normalizeName, SCHEMA_VERSION } from './schema.js';
import { isHigherSeverity, type SeverityInfo } from './severity.js';

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

/** A record as the matcher keeps it in memory (read once per open database). */
interface RecordInfo {
  id: string;
  aliases: string[];
  summary: string | null;
  published: string | null;
  modified: string | null;
  /** The highest rating among this record and its aliases, and the record it came from. */
  best: { sev: SeverityInfo; id: string };
  urgency: string | null;
}

/** One affected entry of one package, compiled, with its record. */
interface Entry {
  rec: RecordInfo;
  rid: number;
  release: string;
  compiled: CompiledAffected;
}

interface Hit {
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
      `SELECT a.rid, a.release, a.compiled, r.id, r.aliases, r.summary, r.published, r.modified, r.severity, r.best_severity, r.urgency
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
      db = new Database(abs, { readonly: true, fileMustExist: true });
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
  status(): { path: string; builtAt: string | null; schemaVersion: number; records: number; byEcosystem: Record<string, number>; sources: string[] } {
    const meta = new Map((this.db.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
    const records = (this.db.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n;
    return {
      path: this.path,
      builtAt: this.builtAt,
      schemaVersion: this.schemaVersion,
      records,
      byEcosystem: JSON.parse(meta.get('byEcosystem') ?? '{}') as Record<string, number>,
      sources: JSON.parse(meta.get('sources') ?? '[]') as string[],
    };
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
      modified: string | null; severity: string; best_severity: string | null; urgency: string | null;
    }>;
    list = rows.map((row) => {
      let rec = this.records.get(row.rid);
      if (!rec) {
        const best = row.best_severity ? (JSON.parse(row.best_severity) as SeverityInfo & { id: string }) : undefined;
        rec = {
          id: row.id, aliases: JSON.parse(row.aliases) as string[], summary: row.summary, published: row.published, modified: row.modified,
          best: best ? { sev: best, id: best.id } : { sev: JSON.parse(row.severity) as SeverityInfo, id: row.id }, urgency: row.urgency,
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
  match(packages: Package[], os?: OsInfo): VulnFinding[] {
    const osEco = osEcosystem(os);
    const osBase = osEco ? splitEcosystem(osEco).base.toLowerCase() : undefined;
    const findings: VulnFinding[] = [];
    // per call: what each package ecosystem spelling means, and which record releases apply
    const ecoPlans = new Map<string, { base: string; isOs: boolean; cmp: Comparator } | null>();
    const releaseOk = new Map<string, boolean>();
    for (const pkg of packages) {
      let plan = ecoPlans.get(pkg.ecosystem);
      if (plan === undefined) {
        plan = planFor(pkg.ecosystem, osEco, osBase);
        ecoPlans.set(pkg.ecosystem, plan);
      }
      if (!plan) continue;
      const { base, isOs, cmp } = plan;
      if (!isOs && pkg.ownedBy) continue;
      const name = isOs ? (pkg.sourceName || pkg.name) : pkg.name;
      let version = isOs ? (pkg.sourceVersion || pkg.version) : pkg.version;
      if (isOs && !pkg.sourceVersion && (base === 'debian' || base === 'ubuntu')) version = version.replace(/\+b\d+$/, '');
      const entries = this.entriesFor(base, normalizeName(base, name));
      if (!entries.length) continue;
      try {
        cmp.compare(version, version);
      } catch {
        continue;
      }
      let hits: Map<number, Hit> | undefined;
      for (const entry of entries) {
        if (entry.release !== '') {
          const rk = `${base}\u0000${entry.release}`;
          let ok = releaseOk.get(rk);
          if (ok === undefined) {
            ok = releaseMatches(base, entry.release, isOs ? osEco : undefined);
            releaseOk.set(rk, ok);
          }
          if (!ok) continue;
        }
        const r = evaluateAffected(entry.compiled, version, cmp);
        if (!r.affected) continue;
        hits ??= new Map<number, Hit>();
        const h = hits.get(entry.rid);
        if (h) h.fixed.push(...r.fixed.filter((f) => !h.fixed.includes(f)));
        else hits.set(entry.rid, { entry, fixed: r.fixed });
      }
      if (hits) findings.push(...group([...hits.values()], pkg, name, version, cmp));
    }
    return findings;
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

/** Groups hits of one package that name each other (id, aliases, upstream) into one finding each. */
function group(hits: Hit[], pkg: Package, advisoryName: string, version: string, cmp: Comparator): VulnFinding[] {
  if (hits.length === 1) return [finding([hits[0]], pkg, advisoryName, version, cmp)];
  const parent = hits.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  const owner = new Map<string, number>();
  hits.forEach((h, i) => {
    for (const id of [h.entry.rec.id, ...h.entry.rec.aliases]) {
      const j = owner.get(id);
      if (j === undefined) owner.set(id, i);
      else parent[find(i)] = find(j);
    }
  });
  const groups = new Map<number, Hit[]>();
  hits.forEach((h, i) => {
    const g = find(i);
    const list = groups.get(g);
    if (list) list.push(h);
    else groups.set(g, [h]);
  });
  const out: VulnFinding[] = [];
  for (const members of groups.values()) out.push(finding(members, pkg, advisoryName, version, cmp));
  return out;
}

/** One finding from the hits of one vulnerability on one package. */
function finding(members: Hit[], pkg: Package, advisoryName: string, version: string, cmp: Comparator): VulnFinding {
  const recs = members.map((m) => m.entry.rec);
  recs.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  // the highest rating among the matched records and their aliases (import-time best_severity)
  let best: { sev: SeverityInfo; id: string } | undefined;
  for (const r of recs) if (isHigherSeverity(r.best.sev, best?.sev)) best = r.best;
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
    severity: best?.sev.severity ?? 'unknown',
    path: pkg.path,
    records: recs.map((r) => r.id),
    severitySource: best && best.sev.severity !== 'unknown' ? `${best.id} ${best.sev.source}` : 'none',
  };
  if (advisoryName !== pkg.name) f.advisoryPackage = advisoryName;
  if (version !== pkg.version) f.advisoryVersion = version;
  const summary = recs.find((r) => r.summary)?.summary;
  if (summary) f.summary = summary;
  if (best?.sev.cvss) f.cvss = best.sev.cvss;
  if (published) f.published = published;
  if (modified) f.modified = modified;
  const urgency = recs.find((r) => r.urgency)?.urgency;
  if (urgency) f.urgency = urgency;
  if (pkg.layer) f.layer = pkg.layer;
  if (pkg.purl) f.purl = pkg.purl;
  if (pkg.platform) f.platform = pkg.platform;
  return f;
}
