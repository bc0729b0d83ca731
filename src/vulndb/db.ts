/**
 * The read side of the vulnerability index: open read-only, match an inventory, report status.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { PushgateError } from '../core/errors.js';
import { severityRank, type Finding } from '../core/finding.js';
import type { OsInfo, Package } from '../core/inventory.js';
import { comparatorFor, isSupportedEcosystem, splitEcosystem } from './ecosystems/index.js';
import type { Comparator } from './ecosystems/types.js';
import { evaluateAffected, type OsvRange, type PreparedRange, prepareRange } from './ranges.js';
import { OS_ECOSYSTEMS, osEcosystem, releaseMatches } from './release.js';
import { normalizeName, SCHEMA_VERSION } from './schema.js';
import type { SeverityInfo } from './severity.js';

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

interface AffectedRow {
  rid: number;
  release: string;
  ranges: string;
  versions: string | null;
  id: string;
  aliases: string;
  summary: string | null;
  published: string | null;
  modified: string | null;
  severity: string;
  urgency: string | null;
}

interface PreparedAffected {
  row: AffectedRow;
  versions?: string[];
  ranges: Array<PreparedRange | Error>;
}

interface Hit {
  row: AffectedRow;
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
  private readonly prepared = new Map<number, PreparedAffected>();
  private readonly schemaVersion: number;

  private constructor(p: string, db: Database.Database) {
    this.path = p;
    this.db = db;
    const meta = new Map((db.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
    this.builtAt = meta.get('builtAt') ?? null;
    this.schemaVersion = Number(meta.get('schemaVersion') ?? 0);
    if (this.schemaVersion !== SCHEMA_VERSION) throw missing(p, `schema version ${this.schemaVersion}, this pushgate reads ${SCHEMA_VERSION}`);
    this.lookup = db.prepare(
      `SELECT a.rowid AS rowid, a.rid, a.release, a.ranges, a.versions, r.id, r.aliases, r.summary, r.published, r.modified, r.severity, r.urgency
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

  private prepare(row: AffectedRow & { rowid: number }, cmp: Comparator): PreparedAffected {
    let p = this.prepared.get(row.rowid);
    if (!p) {
      const ranges = (JSON.parse(row.ranges) as OsvRange[]).map((r) => {
        try {
          return prepareRange(r, cmp);
        } catch (err) {
          return err as Error;
        }
      });
      p = { row, ranges, versions: row.versions ? (JSON.parse(row.versions) as string[]) : undefined };
      this.prepared.set(row.rowid, p);
    }
    return p;
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
    const findings: VulnFinding[] = [];
    const cache = new Map<string, Array<AffectedRow & { rowid: number }>>();
    for (const pkg of packages) {
      const pkgBase = splitEcosystem(pkg.ecosystem).base.toLowerCase();
      const isOs = OS_ECOSYSTEMS.has(pkgBase);
      if (!isOs && pkg.ownedBy) continue;
      if (!isSupportedEcosystem(pkg.ecosystem)) continue;
      // an OS package is judged by the advisories of the image's OS release
      const base = isOs && osEco ? splitEcosystem(osEco).base.toLowerCase() : pkgBase;
      if (isOs && osEco && !OS_ECOSYSTEMS.has(base)) continue;
      const cmp = comparatorFor(base);
      const name = isOs ? (pkg.sourceName || pkg.name) : pkg.name;
      let version = isOs ? (pkg.sourceVersion || pkg.version) : pkg.version;
      if (isOs && !pkg.sourceVersion && (base === 'debian' || base === 'ubuntu')) version = version.replace(/\+b\d+$/, '');
      try {
        cmp.compare(version, version);
      } catch {
        continue;
      }
      const key = `${base}\u0000${normalizeName(base, name)}`;
      let rows = cache.get(key);
      if (!rows) {
        rows = this.lookup.all(base, normalizeName(base, name)) as Array<AffectedRow & { rowid: number }>;
        cache.set(key, rows);
      }
      const hits = new Map<number, Hit>();
      for (const row of rows) {
        if (!releaseMatches(base, row.release, isOs ? osEco : undefined)) continue;
        const p = this.prepare(row, cmp);
        const r = evaluateAffected(p, version, cmp);
        if (!r.affected) continue;
        const h = hits.get(row.rid);
        if (h) h.fixed.push(...r.fixed.filter((f) => !h.fixed.includes(f)));
        else hits.set(row.rid, { row, fixed: [...r.fixed] });
      }
      if (hits.size) findings.push(...group([...hits.values()], pkg, name, version, cmp));
    }
    return findings;
  }

  /** Closes the database handle. */
  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** Groups hits of one package that name each other (id, aliases, upstream) into one finding each. */
function group(hits: Hit[], pkg: Package, advisoryName: string, version: string, cmp: Comparator): VulnFinding[] {
  const parent = hits.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  const owner = new Map<string, number>();
  hits.forEach((h, i) => {
    for (const id of [h.row.id, ...(JSON.parse(h.row.aliases) as string[])]) {
      const j = owner.get(id);
      if (j === undefined) owner.set(id, i);
      else parent[find(i)] = find(j);
    }
  });
  const groups = new Map<number, Hit[]>();
  hits.forEach((h, i) => {
    const g = find(i);
    groups.set(g, [...(groups.get(g) ?? []), h]);
  });
  const out: VulnFinding[] = [];
  for (const members of groups.values()) {
    members.sort((a, b) => (a.row.id < b.row.id ? -1 : a.row.id > b.row.id ? 1 : 0));
    let best: { sev: SeverityInfo; id: string } | undefined;
    for (const m of members) {
      const sev = JSON.parse(m.row.severity) as SeverityInfo;
      const better =
        !best ||
        severityRank(sev.severity) > severityRank(best.sev.severity) ||
        (severityRank(sev.severity) === severityRank(best.sev.severity) && (sev.cvss?.score ?? -1) > (best.sev.cvss?.score ?? -1));
      if (better) best = { sev, id: m.row.id };
    }
    const primary = members[0].row;
    const ids = new Set<string>();
    for (const m of members) for (const id of [m.row.id, ...(JSON.parse(m.row.aliases) as string[])]) ids.add(id);
    ids.delete(primary.id);
    const fixed = [...new Set(members.flatMap((m) => m.fixed))].sort((a, b) => cmp.compare(a, b));
    const published = members.map((m) => m.row.published).filter((x): x is string => !!x).sort()[0];
    const modified = members.map((m) => m.row.modified).filter((x): x is string => !!x).sort().at(-1);
    const f: VulnFinding = {
      id: primary.id,
      aliases: [...ids].sort(),
      ecosystem: pkg.ecosystem,
      package: pkg.name,
      installedVersion: pkg.version,
      fixedVersions: fixed,
      severity: best?.sev.severity ?? 'unknown',
      path: pkg.path,
      records: members.map((m) => m.row.id),
      severitySource: best ? `${best.id} ${best.sev.source}` : 'none',
    };
    if (advisoryName !== pkg.name) f.advisoryPackage = advisoryName;
    if (version !== pkg.version) f.advisoryVersion = version;
    const summary = members.find((m) => m.row.summary)?.row.summary;
    if (summary) f.summary = summary;
    if (best?.sev.cvss) f.cvss = best.sev.cvss;
    if (published) f.published = published;
    if (modified) f.modified = modified;
    const urgency = members.find((m) => m.row.urgency)?.row.urgency;
    if (urgency) f.urgency = urgency;
    if (pkg.layer) f.layer = pkg.layer;
    if (pkg.purl) f.purl = pkg.purl;
    if (pkg.platform) f.platform = pkg.platform;
    out.push(f);
  }
  return out;
}
