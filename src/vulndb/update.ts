/**
 * `pushgate db update`: builds a new index from exactly the given sources beside the old one and
 * renames it into place (atomic on one filesystem). A failed or interrupted update leaves the old
 * index serving; when nothing could be imported the old one stays and PushgateError VULNDB is thrown.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { PushgateError } from '../core/errors.js';
import { canonicalEcosystem, comparatorFor, splitEcosystem, type Comparator } from './ecosystems/index.js';
import { checkRecord, type OsvRecord } from './osv.js';
import { recordDigests } from './digest.js';
import { compileSerialized } from './ranges.js';
import { INDEX_SQL, SCHEMA_SQL, SCHEMA_VERSION, normalizeName } from './schema.js';
import { isHigherSeverity, recordSeverity, type SeverityInfo } from './severity.js';
import { defaultSourceUrl, fetchToCache, type HttpCacheEntry, readZip, sourceKind, walkDir } from './sources.js';

/** Options of {@link updateDb}. */
export interface UpdateOptions {
  /** Where the index lives (`./data/vulndb.sqlite` by default in the CLI). */
  path: string;
  /** URL | DIR | ZIP; empty means the default export URL of every entry of `ecosystems`. */
  sources: string[];
  /** Only affected entries of these ecosystems are imported (base names, case-insensitive). */
  ecosystems?: string[];
  onProgress?: (p: { source: string; done: number; total?: number }) => void;
  log?: (line: string) => void;
  fetch?: typeof fetch;
}

/** What an update did. */
export interface UpdateStats {
  /** Records imported (after excluding withdrawn ones). */
  imported: number;
  /** Files that are not `*.json` (skipped and counted). */
  skippedFiles: number;
  /** Records (or whole sources) that could not be read, with the reason. */
  badRecords: Array<{ file: string; error: string }>;
  withdrawn: number;
  /** Imported affected entries per canonical ecosystem base name. */
  byEcosystem: Record<string, number>;
  /** GIT ranges seen (counted, not evaluated). */
  gitRanges: number;
  builtAt: string;
  path: string;
  /** `sha256:` content digest of the new index (src/vulndb/digest.ts). */
  contentDigest?: string;
  /** (ecosystem, package) pairs whose advisories differ from the replaced index. */
  changedPackages?: number;
}

const HTTP_META_PREFIX = 'http:';

function readOldHttpMeta(dbPath: string): Map<string, HttpCacheEntry> {
  const out = new Map<string, HttpCacheEntry>();
  if (!fs.existsSync(dbPath)) return out;
  try {
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    try {
      for (const row of db.prepare('SELECT key, value FROM meta WHERE key LIKE ?').all(`${HTTP_META_PREFIX}%`) as Array<{ key: string; value: string }>)
        out.set(row.key.slice(HTTP_META_PREFIX.length), JSON.parse(row.value) as HttpCacheEntry);
    } finally {
      db.close();
    }
  } catch {
    // an unreadable old index just means no conditional request
  }
  return out;
}

/**
 * Builds the index at `opts.path` from `opts.sources` (see {@link UpdateOptions}). Bad records are
 * reported in `badRecords` and skipped; a source that cannot be read at all (missing folder,
 * truncated zip, HTTP error) is reported there too and the others still import.
 * Throws PushgateError VULNDB when nothing could be imported (the old index is untouched).
 */
export async function updateDb(opts: UpdateOptions): Promise<UpdateStats> {
  const log = opts.log ?? (() => undefined);
  const fetchImpl = opts.fetch ?? fetch;
  const ecoFilter = opts.ecosystems?.length ? new Set(opts.ecosystems.map((e) => splitEcosystem(e).base.toLowerCase())) : undefined;
  const sources = opts.sources.length ? opts.sources : (opts.ecosystems ?? []).map((e) => defaultSourceUrl(e));
  if (!sources.length) throw new PushgateError('BAD_ARGUMENT', 'db update: no source given: pass --source URL|DIR|ZIP or configure vulndb.sources');
  const dbPath = path.resolve(opts.path);
  fs.mkdirSync(path.dirname(dbPath), { recursive: true });
  const tmpPath = `${dbPath}.new-${process.pid}-${Date.now()}`;
  const oldHttp = readOldHttpMeta(dbPath);
  const stats: UpdateStats = {
    imported: 0, skippedFiles: 0, badRecords: [], withdrawn: 0, byEcosystem: {}, gitRanges: 0, builtAt: new Date().toISOString(), path: dbPath,
  };
  const db = new Database(tmpPath);
  let installed = false;
  try {
    // a private build file: no journal, no fsync, one writer, a large page cache
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('cache_size = -65536');
    db.pragma('temp_store = MEMORY');
    db.exec(SCHEMA_SQL);
    const insRecord = db.prepare(
      'INSERT INTO records (id, aliases, summary, published, modified, severity, urgency, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const insAffected = db.prepare('INSERT INTO affected (rid, ecosystem, release, name, compiled) VALUES (?, ?, ?, ?, ?)');
    const seen = new Set<string>();
    const newHttp = new Map<string, HttpCacheEntry>();
    // ratings of every record read (imported or not), by each of its ids, for the alias severity pass
    const rated = new Map<string, Array<{ id: string; sev: SeverityInfo }>>();
    const imported: Array<{ rid: number; keys: string[]; sev: SeverityInfo }> = [];

    // An OSV ecosystem string (`Alpine:v3.19`) → its parts and comparator; a handful of distinct
    // strings across tens of thousands of affected entries.
    const ecoCache = new Map<string, { canon: string; base: string; release: string; baseLc: string; cmp: Comparator } | undefined>();
    const ecoInfo = (eco: string) => {
      if (ecoCache.has(eco)) return ecoCache.get(eco);
      const canon = canonicalEcosystem(eco);
      const { base, release } = splitEcosystem(eco);
      const info = canon ? { canon, base, release, baseLc: base.toLowerCase(), cmp: comparatorFor(base) } : undefined;
      ecoCache.set(eco, info);
      return info;
    };

    const importText = (file: string, text: string): void => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        stats.badRecords.push({ file, error: `not valid JSON: ${(err as Error).message}` });
        return;
      }
      const problem = checkRecord(parsed);
      if (problem) {
        stats.badRecords.push({ file, error: problem });
        return;
      }
      const rec = parsed as OsvRecord;
      if (rec.withdrawn) {
        stats.withdrawn++;
        return;
      }
      if (seen.has(rec.id)) {
        stats.badRecords.push({ file, error: `${rec.id}: duplicate id, the first one read is kept` });
        return;
      }
      seen.add(rec.id);
      const aliases = [...new Set([...(rec.aliases ?? []), ...(rec.upstream ?? [])])].filter((x) => x !== rec.id);
      const keys = [rec.id, ...aliases];
      const sev = recordSeverity(rec);
      if (sev.severity !== 'unknown') {
        for (const k of keys) {
          const list = rated.get(k);
          if (list) list.push({ id: rec.id, sev });
          else rated.set(k, [{ id: rec.id, sev }]);
        }
      }
      const rows: Array<[string, string, string, string]> = [];
      let urgency: string | undefined;
      for (const [i, a] of (rec.affected ?? []).entries()) {
        const eco = a.package?.ecosystem;
        const name = a.package?.name;
        if (!eco || !name) {
          stats.badRecords.push({ file, error: `${rec.id}: affected[${i}] has no package ecosystem/name (entry skipped)` });
          continue;
        }
        const e = ecoInfo(eco);
        if (!e) {
          stats.badRecords.push({ file, error: `${rec.id}: affected[${i}]: unknown ecosystem ${JSON.stringify(eco)} (entry skipped)` });
          continue;
        }
        const { canon, base, release, baseLc, cmp } = e;
        if (ecoFilter && !ecoFilter.has(baseLc)) continue;
        const ranges = (a.ranges ?? []).filter((r) => {
          if (r.type === 'GIT') stats.gitRanges++;
          return r.type === 'ECOSYSTEM' || r.type === 'SEMVER';
        });
        const versions = a.versions?.length ? a.versions : undefined;
        if (!ranges.length && !versions) continue;
        // events sorted in the ecosystem's order once, here; a bad version is reported naming the record
        const compiled = compileSerialized(ranges, versions, cmp);
        for (const err of compiled.errors) stats.badRecords.push({ file, error: `${rec.id}: affected[${i}]: ${err} (the range is kept but cannot match)` });
        const u = a.ecosystem_specific?.urgency;
        if (typeof u === 'string') urgency = u;
        rows.push([baseLc, release, normalizeName(base, name), compiled.json]);
        stats.byEcosystem[canon] = (stats.byEcosystem[canon] ?? 0) + 1;
      }
      if (!rows.length) return;
      const rid = Number(insRecord.run(rec.id, JSON.stringify(aliases), rec.summary ?? null, rec.published ?? null, rec.modified ?? null,
        JSON.stringify(sev), urgency ?? null, file).lastInsertRowid);
      for (const r of rows) insAffected.run(rid, r[0], r[1], r[2], r[3]);
      imported.push({ rid, keys, sev });
      stats.imported++;
    };

    const importFile = (source: string, name: string, text: string | undefined, done: number, total?: number): void => {
      if (text === undefined) stats.skippedFiles++;
      else importText(name, text);
      opts.onProgress?.({ source, done, total });
    };

    for (const src of sources) {
      const before = stats.imported;
      db.exec('BEGIN');
      try {
        const kind = sourceKind(src);
        if (kind === 'dir') {
          const files = [...walkDir(src)];
          files.forEach((f, i) => importFile(src, f, f.endsWith('.json') ? fs.readFileSync(f, 'utf8') : undefined, i + 1, files.length));
        } else {
          let zipFile = src;
          if (kind === 'url') {
            const { entry } = await fetchToCache(src, dbPath, oldHttp.get(src), fetchImpl, log);
            newHttp.set(src, entry);
            zipFile = entry.file;
          }
          await readZip(zipFile, (f, done, total) => importFile(src, `${src}!${f.name}`, f.text, done, total));
        }
        db.exec('COMMIT');
        log(`${src}: ${stats.imported - before} records imported`);
      } catch (err) {
        // keep what this source delivered before it failed (a truncated zip's good entries)
        db.exec('COMMIT');
        newHttp.delete(src);
        const msg = err instanceof Error ? err.message : String(err);
        stats.badRecords.push({ file: src, error: msg });
        log(`${src}: ${msg}`);
      }
    }
    if (stats.imported === 0) {
      const why = stats.badRecords.slice(0, 3).map((b) => `${b.file}: ${b.error}`).join('; ');
      throw new PushgateError('VULNDB', `db update: nothing could be imported from ${sources.join(', ')}${why ? ` (${why})` : ''}; the previous database is kept`);
    }
    // the highest rating among each record and the records sharing an id or alias with it (one hop:
    // records that merely share a third record's alias are not chained together)
    const setBest = db.prepare('UPDATE records SET best_severity = ? WHERE rid = ?');
    db.exec('BEGIN');
    for (const r of imported) {
      let best: { id: string; sev: SeverityInfo } | undefined;
      for (const k of r.keys) for (const c of rated.get(k) ?? []) if (isHigherSeverity(c.sev, best?.sev)) best = c;
      if (best && isHigherSeverity(best.sev, r.sev)) setBest.run(JSON.stringify({ ...best.sev, id: best.id }), r.rid);
    }
    db.exec('COMMIT');
    db.exec(INDEX_SQL);
    // content digest, and the (ecosystem, package) pairs changed since the index this one replaces
    const digests = recordDigests(db, dbPath);
    stats.contentDigest = digests.digest;
    stats.changedPackages = digests.changed.size;
    const meta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    meta.run('contentDigest', digests.digest);
    if (digests.previous) meta.run('previousDigest', digests.previous);
    meta.run('schemaVersion', String(SCHEMA_VERSION));
    meta.run('builtAt', stats.builtAt);
    meta.run('sources', JSON.stringify(sources));
    meta.run('byEcosystem', JSON.stringify(stats.byEcosystem));
    for (const [url, e] of newHttp) meta.run(`${HTTP_META_PREFIX}${url}`, JSON.stringify(e));
    db.close();
    fs.renameSync(tmpPath, dbPath);
    installed = true;
    pruneCache(dbPath, newHttp);
    return stats;
  } finally {
    if (!installed) {
      if (db.open) db.close();
      fs.rmSync(tmpPath, { force: true });
    }
  }
}

/** Removes cached downloads no longer referenced by the installed index. */
function pruneCache(dbPath: string, keep: Map<string, HttpCacheEntry>): void {
  const dir = `${dbPath}.sources`;
  if (!fs.existsSync(dir)) return;
  const wanted = new Set([...keep.values()].map((e) => path.resolve(e.file)));
  for (const f of fs.readdirSync(dir)) {
    const p = path.resolve(dir, f);
    if (!wanted.has(p)) fs.rmSync(p, { force: true });
  }
}
