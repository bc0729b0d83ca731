/**
 * `pushgate db update`: builds a new index from exactly the given sources beside the old one and
 * renames it into place (atomic on one filesystem). A failed or interrupted update leaves the old
 * index serving; when nothing could be imported the old one stays and PushgateError VULNDB is thrown.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { PushgateError } from '../core/errors.js';
import { redactSecretsInText } from '../core/redact.js';
import { canonicalEcosystem, comparatorFor, splitEcosystem, type Comparator } from './ecosystems/index.js';
import { type ImportRecord, rangeType, readImportRecord } from './osv.js';
import { type DigestRow, packageDigestsOfRows, packageKey, recordDigests } from './digest.js';
import { compiledJson, compileRanges, type OsvRange, rangesKey } from './ranges.js';
import { INDEX_SQL, SCHEMA_SQL, SCHEMA_VERSION, normalizeName } from './schema.js';
import zlib from 'node:zlib';
import { type EolCycle, OS_EOL_PRODUCTS, parseEolProduct, RUNTIME_ENV } from './enrich/eol.js';
import { type EpssInfo, parseEpss } from './enrich/epss.js';
import { type KevInfo, parseKev } from './enrich/kev.js';
import { fetchNvdApi, nvdHasRating, type NvdRating, nvdRating, nvdRecords } from './enrich/nvd.js';
import { OS_ECOSYSTEMS } from './release.js';
import { isHigherSeverity, recordRating, type SeverityInfo, vendorSeverity } from './severity.js';
import {
  defaultSourceUrl, fetchErrorText, fetchToCache, type HttpCacheEntry, parseSourceSpec, readFileCapped, readZip, sourceKind, type SourceKindName, tooLarge, walkDir,
} from './sources.js';

/** Options of {@link updateDb}. */
export interface UpdateOptions {
  /** Where the index lives (`./data/vulndb.sqlite` by default in the CLI). */
  path: string;
  /** URL | DIR | ZIP; empty means the default export URL of every entry of `ecosystems`. */
  sources: string[];
  /** Only affected entries of these ecosystems are imported (base names, case-insensitive). */
  ecosystems?: string[];
  onProgress?: (p: { source: string; done: number; total?: number }) => void;
  /** Progress lines (a source downloaded, read, imported). */
  log?: (line: string) => void;
  /** Lines saying something went wrong (a source failed or was unreachable, data missing upstream); default {@link log}. */
  warn?: (line: string) => void;
  fetch?: typeof fetch;
  /** NVD API key for `nvd:https://services.nvd.nist.gov/rest/json/cves/2.0` (sent as the `apiKey` header; never logged). */
  nvdApiKey?: string;
}

/** What one source delivered, kept in the database (`db status`, `pushgate_vulndb_age_seconds{source}`). */
export interface SourceStatus {
  kind: SourceKindName;
  source: string;
  /**
   * Records imported (osv), CVE records with a rating read (nvd), catalog entries (kev), score rows (epss),
   * products (eol). NVD ratings and EPSS scores are kept only for CVEs the imported advisories name.
   */
  items: number;
  /**
   * When the data itself says it was produced (KEV `dateReleased`, EPSS `score_date`, newest NVD
   * `lastModified`), RFC 3339; absent when the data does not say (then the build time stands for it).
   */
  dataDate?: string;
}

/** The enrichment of one record, from its CVE ids (stored as JSON in `records.enrich`). */
export interface RecordEnrichment {
  nvd?: SeverityInfo & { cve: string };
  kev?: KevInfo;
  epss?: EpssInfo & { cve: string };
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
  /** Imported records per canonical ecosystem base name (a record with entries in two ecosystems counts in both). */
  byEcosystem: Record<string, number>;
  /** GIT ranges seen (counted, not evaluated). */
  gitRanges: number;
  builtAt: string;
  path: string;
  /** One entry per source given, in order. */
  sources: SourceStatus[];
  /** `sha256:` content digest of the new index (src/vulndb/digest.ts). */
  contentDigest?: string;
  /** (ecosystem, package) pairs whose advisories differ from the replaced index. */
  changedPackages?: number;
}

const HTTP_META_PREFIX = 'http:';

/** An OSV ecosystem string's parts, comparator and memo of compiled ranges (updateDb's ecoCache). */
interface EcosystemInfo {
  canon: string;
  base: string;
  release: string;
  baseLc: string;
  cmp: Comparator;
  memo: Map<string, CompiledRanges>;
}

/**
 * An entry of the import's memo of compiled ranges: their stored text, errors, and the stored text of an
 * entry without versions. Made by a constructor (see PendingRecord), with one shared list for no errors.
 */
class CompiledRanges {
  readonly json: string;
  readonly errors: readonly string[];
  readonly bareJson: string;
  constructor(r: { json: string; errors: string[] }) {
    this.json = r.json;
    this.errors = r.errors.length === 0 ? NO_ERRORS : r.errors;
    this.bareJson = compiledJson(undefined, r.json);
  }
}
const NO_ERRORS: readonly string[] = Object.freeze([]);

/** The OSV range types evaluated (GIT ranges are counted, not evaluated). */
const EVALUATED_RANGE_TYPES: ReadonlySet<string> = new Set(['ECOSYSTEM', 'SEMVER']);

// The objects importRecord keeps for every record and affected row until the rows are written are made by
// constructors, not object literals: the engine tracks where literal objects are allocated, and once a
// garbage collection sees that those of one place live long, it throws away the optimized code of the
// function holding that place (importRecord, costly to compile again) to allocate them elsewhere.

/**
 * A record read and kept, waiting for its row (updateDb writes it once the alias ratings and the
 * enrichment are known). `digest` holds the stored text of id, aliases, severity, published (and, once
 * computed, best_severity and enrich); the other columns as stored (null for NULL).
 */
class PendingRecord {
  vendor: string | null = null;
  constructor(
    readonly keys: string[],
    readonly sev: SeverityInfo,
    readonly digest: RecordDigestPart,
    readonly summary: string | null,
    readonly modified: string | null,
    readonly urgency: string | null,
    readonly source: string,
  ) {}
}

/** The rating of a record read (imported or not) with its ids (own id first), for the alias ratings (ratedByKey). */
class ReadRating {
  constructor(
    readonly id: string,
    readonly keys: string[],
    readonly sev: SeverityInfo,
  ) {}
}

/** A record's part of the digest lines of its rows (digest.ts); `best` and `enrich` are set by writeRecords. */
class RecordDigestPart implements NonNullable<DigestRow['record']> {
  best: string | undefined = undefined;
  enrich: string | undefined = undefined;
  constructor(
    readonly id: string,
    readonly aliases: string,
    readonly severity: string,
    readonly published: string | undefined,
  ) {}
}


/** What an update keeps from the index it replaces (empty when there is none or it cannot be read). */
interface OldIndexMeta {
  /** The HTTP cache entries of its downloads, by URL: their validators make the next download conditional. */
  http: Map<string, HttpCacheEntry>;
  /** The advisories each OSV source delivered to it (its `sourceStatus`), by source as configured. */
  osvItems: Map<string, number>;
  /** Its advisories per ecosystem (`byEcosystem`): a source renamed since has no count under its new name. */
  byEcosystem: Map<string, number>;
}

/** Reads {@link OldIndexMeta} from the index at `dbPath` in one open. */
function readOldIndexMeta(dbPath: string): OldIndexMeta {
  const out: OldIndexMeta = { http: new Map(), osvItems: new Map(), byEcosystem: new Map() };
  if (!fs.existsSync(dbPath)) return out;
  try {
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    // each part on its own: a damaged cache entry must not hide what the sources delivered
    const part = (read: () => void) => {
      try {
        read();
      } catch {
        // that part is left empty
      }
    };
    try {
      part(() => {
        const status = db.prepare("SELECT value FROM meta WHERE key = 'sourceStatus'").get() as { value: string } | undefined;
        for (const st of status ? (JSON.parse(status.value) as SourceStatus[]) : []) if (st.kind === 'osv') out.osvItems.set(st.source, st.items);
      });
      part(() => {
        const eco = db.prepare("SELECT value FROM meta WHERE key = 'byEcosystem'").get() as { value: string } | undefined;
        for (const [e, n] of Object.entries(eco ? (JSON.parse(eco.value) as Record<string, number>) : {})) if (typeof n === 'number') out.byEcosystem.set(e, n);
      });
      part(() => {
        for (const row of db.prepare('SELECT key, value FROM meta WHERE key LIKE ?').all(`${HTTP_META_PREFIX}%`) as Array<{ key: string; value: string }>)
          out.http.set(row.key.slice(HTTP_META_PREFIX.length), JSON.parse(row.value) as HttpCacheEntry);
      });
    } finally {
      db.close();
    }
  } catch {
    // an unreadable old index just means no conditional request and nothing to compare with
  }
  return out;
}

/**
 * Builds the index at `opts.path` from `opts.sources` (see {@link UpdateOptions}). Bad records are
 * reported in `badRecords` and skipped; so is a malformed `affected` entry, whose record's other
 * entries still import (osv.ts checkAffected); a source that cannot be read at all (missing folder,
 * truncated zip, HTTP error) is reported there too and the others still import, unless the previous index
 * held more of its advisories than it delivered: then nothing is installed (VULNDB error naming it).
 * Throws PushgateError VULNDB when nothing could be imported, or a source failed that the old index held
 * advisories from (the old index is untouched).
 */
export async function updateDb(opts: UpdateOptions): Promise<UpdateStats> {
  // A source URL may carry a credential (user info, a pre-signed query): every line, error and stored
  // name leaves here redacted, since they reach logs, the unauthenticated /readyz and the console.
  const userLog = opts.log;
  const userWarn = opts.warn ?? opts.log;
  try {
    const userProgress = opts.onProgress;
    return await buildDb({
      ...opts,
      log: userLog ? (line) => userLog(redactSecretsInText(line)) : undefined,
      warn: userWarn ? (line) => userWarn(redactSecretsInText(line)) : undefined,
      onProgress: userProgress ? (p) => userProgress({ ...p, source: redactSecretsInText(p.source) }) : undefined,
    });
  } catch (err) {
    if (err instanceof Error) {
      err.message = redactSecretsInText(err.message);
      if (err.stack) err.stack = redactSecretsInText(err.stack);
      // the cause is the fetch error, whose text repeats the URL: its message is in ours already
      if (err instanceof PushgateError) delete (err as { cause?: unknown }).cause;
    }
    throw err;
  }
}

async function buildDb(opts: UpdateOptions): Promise<UpdateStats> {
  const log = opts.log ?? (() => undefined);
  const warn = opts.warn ?? log;
  const fetchImpl = opts.fetch ?? fetch;
  const ecoFilter = opts.ecosystems?.length ? new Set(opts.ecosystems.map((e) => splitEcosystem(e).base.toLowerCase())) : undefined;
  const sources = opts.sources.length ? opts.sources : (opts.ecosystems ?? []).map((e) => defaultSourceUrl(e));
  if (!sources.length) throw new PushgateError('BAD_ARGUMENT', 'db update: no source given: pass --source URL|DIR|ZIP or configure vulndb.sources');
  const dbPath = path.resolve(opts.path);
  fs.mkdirSync(path.dirname(dbPath), { recursive: true });
  const tmpPath = `${dbPath}.new-${process.pid}-${Date.now()}`;
  const { http: oldHttp, osvItems: oldOsvItems, byEcosystem: oldEcosystems } = readOldIndexMeta(dbPath);
  const stats: UpdateStats = {
    imported: 0, skippedFiles: 0, badRecords: [], withdrawn: 0, byEcosystem: {}, gitRanges: 0, builtAt: new Date().toISOString(), path: dbPath, sources: [],
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
    const insAffected = batchInserter(db, 'affected', ['rid', 'ecosystem', 'release', 'name', 'compiled']);
    // the affected rows read from the current source (PENDING_AFFECTED_WIDTH values a row: see
    // affectedRowValues), written together when it is done (taken out first, so a failed write is never
    // repeated): in one run, SQLite's pages and code stay in the CPU caches (interleaved with the reading
    // and parsing of every record, the same inserts took about 40 ms more CPU for the shared test data's
    // 25,000 rows)
    const pendingAffected: unknown[] = [];
    const writeAffected = (): void => {
      insAffected.addAll(affectedRowValues(pendingAffected.splice(0), digestRows));
      insAffected.flush();
    };
    const seen = new Set<string>();
    const newHttp = new Map<string, HttpCacheEntry>();
    // the rating of every record read (imported or not) with its ids, in the order read, for the alias
    // severity pass (ratedByKey)
    const ratings: ReadRating[] = [];
    // GIT ranges seen (stats.gitRanges once every source is read)
    let gitRanges = 0;
    // Records imported, in rid order. Their rows are written once every source is read, with the best
    // alias rating and the enrichment already set (both need every record, and the enrichment sources
    // are read after the OSV ones): one INSERT per record instead of an INSERT and two UPDATEs. Affected
    // rows are written as they are read, under the rid their record will get.
    const imported: PendingRecord[] = [];
    // every affected row written, for the per-pair digests (digest.ts), added as written
    const digestRows: DigestRow[] = [];

    // An OSV ecosystem string (`Alpine:v3.19`) → its parts and comparator (undefined: not an ecosystem
    // pushgate knows); a handful of distinct strings across tens of thousands of affected entries. Filled
    // by addEcosystems before a record's import, so importRecord only reads it.
    const ecoCache = new Map<string, EcosystemInfo | undefined>();
    // records imported per canonical ecosystem (stats.byEcosystem once every source is read, in
    // the same order: counted in a Map rather than under a computed key of an object in the hot loop)
    const ecoCounts = new Map<string, number>();
    const addEcosystem = (eco: string): void => {
      const canon = canonicalEcosystem(eco);
      const { base, release } = splitEcosystem(eco);
      let info;
      if (canon) {
        const cmp = comparatorFor(base);
        let memo = compiledCache.get(cmp);
        if (!memo) compiledCache.set(cmp, (memo = new Map()));
        info = { canon, base, release, baseLc: base.toLowerCase(), cmp, memo };
      }
      ecoCache.set(eco, info);
    };
    /**
     * Adds the ecosystems of a record's entries that are not in ecoCache yet. Run by importText, out of
     * importRecord: the first records of a run bring their ecosystems before the engine has collected type
     * information on importRecord, so this path, taken again when a later source brings a new ecosystem,
     * would throw away importRecord's optimized code (large, and costly to compile again).
     */
    const addEcosystems = (affected: ImportRecord['affected']): void => {
      for (let i = 0; i < affected.length; i++) {
        const eco = affected[i].ecosystem;
        if (eco && !ecoCache.has(eco)) addEcosystem(eco);
      }
    };

    // compiled ranges by comparator and input (ranges.ts rangesKey): identical range lists are common
    // (`bareJson`: the entry's stored text when it has no versions list, made once and shared by every entry
    // with those ranges; the entries are only read; a `versions` list is added to the stored text by
    // affectedRowValues). Each ecosystem's info holds its comparator's map.
    const compiledCache = new Map<Comparator, Map<string, CompiledRanges>>();
    const compileMemo = (ranges: OsvRange[], cmp: Comparator, m: Map<string, CompiledRanges>): CompiledRanges => {
      const key = rangesKey(ranges);
      if (key === undefined) return new CompiledRanges(compileRanges(ranges, cmp));
      let c = m.get(key);
      if (!c) {
        c = new CompiledRanges(compileRanges(ranges, cmp));
        if (m.size >= 200_000) m.clear();
        m.set(key, c);
      }
      return c;
    };

    // A record's text is parsed and read into the import's own fixed-shape copy here (osv.ts
    // readImportRecord); everything after reads only the copy, in importRecord, which is too large to be
    // inlined here: each source's new record layouts recompile this small function, never that one.
    const notes: string[] = [];
    const importText = (file: string, text: string): void => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        stats.badRecords.push({ file, error: `not valid JSON: ${(err as Error).message}` });
        return;
      }
      const rec = readImportRecord(parsed, notes);
      if (typeof rec === 'string') {
        stats.badRecords.push({ file, error: rec });
        return;
      }
      if (notes.length) {
        for (const note of notes) stats.badRecords.push({ file, error: `${rec.id}: ${note}` });
        notes.length = 0;
      }
      if (rec.withdrawn) {
        stats.withdrawn++;
        return;
      }
      if (seen.has(rec.id)) {
        stats.badRecords.push({ file, error: `${rec.id}: duplicate id, the first one read is kept` });
        return;
      }
      seen.add(rec.id);
      addEcosystems(rec.affected);
      const vendorOf = importRecord(file, rec);
      // the vendor's rating word of an imported OS advisory (only OS sources have one, and not every source
      // has OS advisories: read here, out of importRecord)
      if (vendorOf !== undefined) {
        const v = vendorSeverity(rec, true);
        if (v) vendorOf.vendor = JSON.stringify(v);
      }
    };

    /**
     * Imports one record that is neither withdrawn nor a duplicate: its rating, its affected rows; returns
     * its entry in `imported` when it is imported and holds an OS ecosystem's entries (its vendor rating is
     * to be read), else undefined. Paths that only some sources take (withdrawn and duplicate records, the
     * vendor rating) are left to importText: each first use of a path here would recompile this function.
     */
    const importRecord = (file: string, rec: ImportRecord): PendingRecord | undefined => {
      // aliases + upstream ids, first occurrence kept, without the record's own id
      const keySet = new Set([rec.id]);
      const { aliases: al, upstream: up } = rec;
      if (al !== undefined) for (let i = 0; i < al.length; i++) keySet.add(al[i]);
      if (up !== undefined) for (let i = 0; i < up.length; i++) keySet.add(up[i]);
      const keys = [...keySet];
      const aliases = keys.slice(1);
      const sev = recordRating(rec);
      ratings.push(new ReadRating(rec.id, keys, sev));
      // ecosystem, its base name, release, name as written, compiled ranges, versions
      const rows: Array<[string, string, string, string, CompiledRanges, string[] | undefined]> = [];
      let urgency: string | undefined;
      let isOs = false;
      const recordEcos: string[] = [];
      const affected = rec.affected;
      for (let i = 0; i < affected.length; i++) {
        const a = affected[i];
        const malformed = a.malformed;
        if (malformed !== null) {
          stats.badRecords.push({ file, error: `${rec.id}: ${malformed} (entry skipped)` });
          continue;
        }
        const eco = a.ecosystem;
        const name = a.name;
        if (!eco || !name) {
          stats.badRecords.push({ file, error: `${rec.id}: affected[${i}] has no package ecosystem/name (entry skipped)` });
          continue;
        }
        const e = ecoCache.get(eco);
        if (!e) {
          stats.badRecords.push({ file, error: `${rec.id}: affected[${i}]: unknown ecosystem ${JSON.stringify(eco)} (entry skipped)` });
          continue;
        }
        const { canon, base, release, baseLc, cmp, memo } = e;
        if (ecoFilter && !ecoFilter.has(baseLc)) continue;
        const ranges: OsvRange[] = [];
        const all = a.ranges;
        if (all) {
          for (let j = 0; j < all.length; j++) {
            const r = all[j];
            const type = rangeType(r);
            // written without a branch a source may take first (each would recompile this function)
            gitRanges += type === 'GIT' ? 1 : 0;
            if (EVALUATED_RANGE_TYPES.has(type)) ranges.push(r);
          }
        }
        const versions = a.versions;
        if (!ranges.length && !versions) continue;
        // events sorted in the ecosystem's order once, here; a bad version is reported naming the record
        const compiled = compileMemo(ranges, cmp, memo);
        for (const err of compiled.errors) stats.badRecords.push({ file, error: `${rec.id}: affected[${i}]: ${err} (the range is kept but cannot match)` });
        const u = a.urgency;
        if (typeof u === 'string') urgency = u;
        rows.push([baseLc, base, release, name, compiled, versions]);
        if (OS_ECOSYSTEMS.has(baseLc)) isOs = true;
        // records per ecosystem, not affected entries: a record naming two packages (or releases) of one
        // ecosystem counts once there, so the counts agree with the record total users see beside them
        if (!recordEcos.includes(canon)) recordEcos.push(canon);
      }
      if (!rows.length) return undefined;
      for (const canon of recordEcos) ecoCounts.set(canon, (ecoCounts.get(canon) ?? 0) + 1);
      // every field set from the start (best and enrich come later): one object shape for the digest pass
      const digest = new RecordDigestPart(rec.id, JSON.stringify(aliases), JSON.stringify(sev), rec.published);
      const rid = imported.length + 1;
      for (const r of rows) pendingAffected.push(rid, r[0], r[1], r[2], r[3], r[4], r[5], digest);
      const pending = new PendingRecord(keys, sev, digest, rec.summary ?? null, rec.modified ?? null, urgency ?? null, file);
      imported.push(pending);
      return isOs ? pending : undefined;
    };

    const importFile = (source: string, name: string, text: string | undefined, done: number, total?: number, error?: string): void => {
      if (error !== undefined) stats.badRecords.push({ file: name, error });
      else if (text === undefined) stats.skippedFiles++;
      else importText(name, text);
      opts.onProgress?.({ source, done, total });
    };

    const nvd = new Map<string, NvdRating>();
    const kev = new Map<string, KevInfo>();
    const epss = new Map<string, EpssInfo>();
    const eol = new Map<string, { cycles: EolCycle[]; source: string }>();

    /** Text of a local file or of a URL (fetched with a conditional request, cached beside the database). */
    const readBody = async (src: string, location: string): Promise<{ name: string; data: Buffer }> => {
      if (/^https?:\/\//i.test(location)) {
        const { entry } = await fetchToCache(location, dbPath, oldHttp.get(redactSecretsInText(location)), fetchImpl, log);
        newHttp.set(redactSecretsInText(location), entry);
        return { name: location, data: fs.readFileSync(entry.file) };
      }
      try {
        return { name: location, data: fs.readFileSync(location) };
      } catch (err) {
        // kev: and epss: (and one nvd: file) name one file; fs's "EISDIR: illegal operation" says nothing of that
        if ((err as NodeJS.ErrnoException).code === 'EISDIR') {
          const kind = /^([a-z]+):/.exec(src)?.[1];
          const file = kind === 'kev' ? 'the KEV catalog JSON (known_exploited_vulnerabilities.json)' : kind === 'epss' ? 'the EPSS CSV (epss_scores-current.csv or .csv.gz)' : 'one file';
          throw new PushgateError('NOT_FOUND', `source ${src}: ${location} is a directory; ${kind ? `${kind}:` : 'this source'} reads ${file}: name the file`);
        }
        throw new PushgateError('NOT_FOUND', `source ${src}: cannot read ${location}: ${(err as Error).message}`);
      }
    };
    const gunzipIf = (name: string, data: Buffer): string => {
      if (data[0] !== 0x1f || data[1] !== 0x8b) return data.toString('utf8');
      try {
        return zlib.gunzipSync(data).toString('utf8');
      } catch (err) {
        throw new PushgateError('VULNDB', `${name}: ${(err as Error).message} (truncated or corrupt gzip? fetch it again)`);
      }
    };
    // CVE ids the imported advisories name: enrichment data is kept for these only (NVD and EPSS cover
    // every CVE; an index needs a fraction). Enrichment sources are read after the OSV ones to know them.
    const wanted = new Set<string>();
    let newestNvd = '';
    const addNvd = (name: string, text: string): number => {
      let n = 0;
      for (const cve of nvdRecords(name, text)) {
        if (typeof cve.id === 'string' && !wanted.has(cve.id)) {
          // only counted, and its date read: its vectors need no scoring
          if (!nvdHasRating(cve)) continue;
          n++;
          const lm = typeof cve.lastModified === 'string' ? cve.lastModified : '';
          if (lm > newestNvd) newestNvd = lm;
          continue;
        }
        const r = nvdRating(cve);
        if (!r) continue;
        n++;
        if ((r.lastModified ?? '') > newestNvd) newestNvd = r.lastModified ?? '';
        if (!wanted.has(r.cve)) continue;
        const prev = nvd.get(r.cve);
        if (!prev || (r.lastModified ?? '') >= (prev.lastModified ?? '')) nvd.set(r.cve, r);
      }
      return n;
    };

    /**
     * Reads one enrichment source into the maps above. Any unreadable, corrupt or partial file fails the
     * whole build (PushgateError naming the file): a half-read KEV catalog or NVD feed would silently drop
     * flags and scores, so the old database keeps serving instead.
     */
    const importEnrichment = async (src: string, kind: Exclude<SourceKindName, 'osv'>, location: string): Promise<SourceStatus> => {
      const st: SourceStatus = { kind, source: src, items: 0 };
      const isUrl = /^https?:\/\//i.test(location);
      if (kind === 'nvd') {
        newestNvd = '';
        if (isUrl && /\/rest\/json\/cves\/2\.0/.test(location)) {
          await fetchNvdApi(location, opts.nvdApiKey, fetchImpl, (name, text, done, total) => {
            st.items += addNvd(name, text);
            opts.onProgress?.({ source: src, done, total });
          });
        } else if (!isUrl && sourceKind(location) === 'dir') {
          const files = [...walkDir(location)].filter((f) => /\.json(\.gz)?$/.test(f));
          files.forEach((f, i) => {
            st.items += addNvd(f, gunzipIf(f, fs.readFileSync(f)));
            opts.onProgress?.({ source: src, done: i + 1, total: files.length });
          });
        } else {
          const b = await readBody(src, location);
          st.items += addNvd(b.name, gunzipIf(b.name, b.data));
        }
        if (newestNvd) st.dataDate = /Z$|[+-]\d\d:?\d\d$/.test(newestNvd) ? newestNvd : `${newestNvd}Z`;
      } else if (kind === 'kev') {
        const b = await readBody(src, location);
        const cat = parseKev(b.name, gunzipIf(b.name, b.data));
        for (const e of cat.entries) kev.set(e.cve, e);
        st.items = cat.entries.length;
        if (cat.dateReleased) st.dataDate = cat.dateReleased;
      } else if (kind === 'epss') {
        const b = await readBody(src, location);
        const d = parseEpss(b.name, b.data, wanted);
        for (const [cve, v] of d.scores) epss.set(cve, v);
        st.items = d.rows;
        if (d.scoreDate) st.dataDate = d.scoreDate;
      } else {
        const add = (name: string, text: string): void => {
          const p = parseEolProduct(name, text);
          eol.set(p.product, { cycles: p.cycles, source: name });
          st.items++;
        };
        if (isUrl) {
          // the API serves one product per URL: read the products pushgate maps images to
          const products = [...new Set([...Object.values(OS_EOL_PRODUCTS), ...Object.values(RUNTIME_ENV)])];
          for (const [i, product] of products.entries()) {
            const url = `${location.replace(/\/+$/, '')}/${product}`;
            let b: { name: string; data: Buffer };
            try {
              b = await readBody(src, url);
            } catch (err) {
              if (err instanceof PushgateError && /HTTP 404/.test(err.message)) {
                warn(`${url}: not on endoflife.date (404), skipped`);
                continue;
              }
              throw err;
            }
            add(product, b.data.toString('utf8'));
            opts.onProgress?.({ source: src, done: i + 1, total: products.length });
          }
        } else {
          const files = [...walkDir(location)].filter((f) => /\.(md|json)$/.test(f));
          files.forEach((f, i) => {
            add(f, fs.readFileSync(f, 'utf8'));
            opts.onProgress?.({ source: src, done: i + 1, total: files.length });
          });
        }
      }
      if (st.items === 0) throw new PushgateError('VULNDB', `source ${src}: no ${kind} data found in ${location}`);
      log(`${src}: ${st.items} ${kind} entries read`);
      return st;
    };

    const enrichment: Array<{ src: string; kind: Exclude<SourceKindName, 'osv'>; location: string }> = [];
    // OSV sources that failed on the network: when nothing was imported and all failed that way, the error says how to do it offline
    let unreachable = 0;
    // Offline, every default export fails alike: one line per (host, reason) says it, not one per URL
    const netFailures = new Map<string, { host: string; reason: string; sources: string[] }>();
    // OSV sources that could not be read whole (network, HTTP error, truncated zip), with what they delivered
    const failedOsv: Array<{ src: string; items: number; error: string }> = [];
    for (const src of sources) {
      const spec = parseSourceSpec(src);
      if (spec.kind !== 'osv') {
        enrichment.push({ src, kind: spec.kind, location: spec.location });
        continue;
      }
      const before = imported.length;
      db.exec('BEGIN');
      try {
        const loc = spec.location;
        const kind = sourceKind(loc);
        if (kind === 'dir') {
          const files = [...walkDir(loc)];
          files.forEach((f, i) => {
            if (!f.endsWith('.json')) return importFile(src, f, undefined, i + 1, files.length);
            const r = readFileCapped(f);
            if (r.text === undefined) return importFile(src, f, undefined, i + 1, files.length, tooLarge(r.size));
            importFile(src, f, r.text, i + 1, files.length);
          });
        } else {
          let zipFile = loc;
          if (kind === 'url') {
            const { entry } = await fetchToCache(loc, dbPath, oldHttp.get(redactSecretsInText(loc)), fetchImpl, log);
            newHttp.set(redactSecretsInText(loc), entry);
            zipFile = entry.file;
          }
          await readZip(zipFile, (f, done, total) => importFile(src, `${src}!${f.name}`, f.text, done, total, f.error));
        }
        writeAffected();
        db.exec('COMMIT');
        log(`${src}: ${imported.length - before} records imported`);
        stats.sources.push({ kind: 'osv', source: src, items: imported.length - before });
      } catch (err) {
        // keep what this source delivered before it failed (a truncated zip's good entries)
        writeAffected();
        db.exec('COMMIT');
        newHttp.delete(redactSecretsInText(spec.location));
        stats.sources.push({ kind: 'osv', source: src, items: imported.length - before });
        const msg = err instanceof Error ? err.message : String(err);
        stats.badRecords.push({ file: src, error: msg });
        failedOsv.push({ src, items: imported.length - before, error: msg });
        const failure = err instanceof PushgateError && err.code === 'NETWORK' ? networkFailure(spec.location, err) : undefined;
        if (failure) {
          unreachable++;
          const key = `${failure.host}\n${failure.reason}`;
          const group = netFailures.get(key) ?? { ...failure, sources: [] };
          group.sources.push(src);
          netFailures.set(key, group);
        } else {
          warn(`${src}: ${msg}`);
        }
      }
    }
    // Nothing imported and every source failing on one unreachable host: the error below says exactly
    // that, so the same reason is not printed twice (one line, as every CLI failure).
    const onlyUnreachable = imported.length === 0 && netFailures.size === 1 && unreachable === stats.badRecords.length;
    for (const g of onlyUnreachable ? [] : netFailures.values()) {
      warn(g.sources.length === 1
        ? `${g.sources[0]}: ${g.host} could not be reached (${g.reason})`
        : `${g.host} could not be reached (${g.reason}): ${g.sources.length} sources not read (${sourceLabels(g.sources)})`);
    }
    stats.imported = imported.length;
    stats.byEcosystem = Object.fromEntries(ecoCounts);
    stats.gitRanges = gitRanges;
    addCveIds(imported, wanted);
    for (const e of enrichment) {
      try {
        stats.sources.push(await importEnrichment(e.src, e.kind, e.location));
      } catch (err) {
        const kept = fs.existsSync(dbPath) ? 'nothing was installed, the previous database is kept' : `nothing was installed (there is no database at ${dbPath} yet)`;
        throw new PushgateError('VULNDB', `db update: ${(err as Error).message}; ${kept}`, { cause: err });
      }
    }
    if (stats.imported === 0) {
      const [only] = netFailures.size === 1 && unreachable === stats.badRecords.length ? [...netFailures.values()] : [];
      const why = only
        ? `${only.host} could not be reached: ${only.reason}`
        : stats.badRecords.slice(0, 3).map((b) => `${b.file}: ${b.error}`).join('; ');
      const offline = unreachable > 0 && unreachable === stats.badRecords.length
        // --db: the database this build was for (serve's vulndb.path is not where a bare `db update` installs)
        ? `; offline, download the OSV exports where the network is reachable and run \`pushgate db update --source FILE|DIR --db ${dbPath}\` here (or set PUSHGATE_VULNDB_MIRROR to a mirror of the OSV bucket)`
        : '';
      // Every default OSV export failing alike (offline) would otherwise list two dozen URLs here: the
      // count and the first few say it, each source's own error is on its log line above.
      const from = sources.length > 3 ? `${sources.length} sources (${sources.slice(0, 3).join(', ')}, …)` : sources.join(', ');
      const kept = fs.existsSync(dbPath) ? 'the previous database is kept' : `nothing was installed (there is no database at ${dbPath} yet)`;
      throw new PushgateError('VULNDB', `db update: nothing could be imported from ${from}${why ? ` (${why})` : ''}; ${kept}${offline}`);
    }
    // A source that failed this time (an outage of its host, a truncated download) would leave its advisories
    // out of the new index, and images it covers would pass unmatched until the next update: fail open on a
    // network error. The previous index is kept instead, and ages (pushgate_vulndb_age_seconds) until the
    // source is back. A first build, or a source the previous index held nothing from, installs what it has.
    const lost = failedOsv.filter((f) => (oldOsvItems.get(f.src) ?? 0) > f.items);
    if (lost.length) {
      const what = lost.map((f) => `${f.src} could not be read (${f.error}): the previous database holds ${oldOsvItems.get(f.src)} advisories from it, this build ${f.items}`).join('; ');
      throw new PushgateError('VULNDB', `db update: ${what}; nothing was installed, the previous database is kept (a database without them would let the images they cover pass unmatched): run the update again once the source is back, or remove it from vulndb.sources (--source) to drop its advisories on purpose`);
    }
    // The same loss when the failing source is spelled differently from the one the previous index read
    // (a mirror URL, a moved file, PUSHGATE_VULNDB_MIRROR set): the previous index has no count under its
    // name, but an ecosystem it held advisories for would have fewer now (none, or only another source's
    // share, or what a zip cut short delivered). While any source failed, which ecosystems it would have
    // delivered is unknown: any ecosystem this build holds fewer advisories of than the previous index
    // keeps the old index (an ecosystem shrinking by withdrawals then waits for the failing source too).
    const emptied = failedOsv.length
      ? [...oldEcosystems].filter(([e, n]) => n > 0 && (ecoCounts.get(e) ?? 0) < n)
      : [];
    if (emptied.length) {
      const eco = emptied.map(([e, n]) => `${e} (${ecoCounts.get(e) ?? 0} of ${n})`).join(', ');
      throw new PushgateError('VULNDB', `db update: ${failedOsv.map((f) => `${f.src} could not be read (${f.error})`).join('; ')}, and this build holds fewer advisories than the previous database for: ${eco}; nothing was installed, the previous database is kept (a database without them would let the images they cover pass unmatched): run the update again once the source is back, or remove it from vulndb.sources (--source) to build without it`);
    }
    // the records' rows, each with its best alias rating and its enrichment
    const insRecord = batchInserter(db, 'records', ['rid', 'id', 'aliases', 'summary', 'published', 'modified', 'severity', 'best_severity', 'urgency', 'vendor', 'enrich', 'source']);
    db.exec('BEGIN');
    const rated = ratedByKey(ratings);
    for (let from = 0; from < imported.length; from += WRITE_CHUNK) writeRecords(imported, from, Math.min(from + WRITE_CHUNK, imported.length), rated, { nvd, kev, epss }, insRecord);
    insRecord.flush();
    db.exec('COMMIT');
    const insEol = db.prepare('INSERT INTO eol (product, cycles, source) VALUES (?, ?, ?)');
    for (const [product, v] of eol) insEol.run(product, JSON.stringify(v.cycles), v.source);
    db.exec(INDEX_SQL);
    // content digest, and the (ecosystem, package) pairs changed since the index this one replaces
    const digests = recordDigests(db, dbPath, packageDigestsOfRows(digestRows));
    stats.contentDigest = digests.digest;
    stats.changedPackages = digests.changed.size;
    const meta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    meta.run('contentDigest', digests.digest);
    if (digests.previous) meta.run('previousDigest', digests.previous);
    meta.run('schemaVersion', String(SCHEMA_VERSION));
    meta.run('builtAt', stats.builtAt);
    meta.run('sources', JSON.stringify(sources.map(redactSecretsInText)));
    meta.run('byEcosystem', JSON.stringify(stats.byEcosystem));
    for (const st of stats.sources) st.source = redactSecretsInText(st.source);
    meta.run('sourceStatus', JSON.stringify(stats.sources));
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

/**
 * Records written by one {@link writeRecords} call. A call per chunk rather than one loop over every record:
 * the optimizing compiler, called in while one long loop runs (on-stack replacement), finished compiling
 * that loop after the loop had ended (its code was never entered); called between chunks, its code runs
 * the chunks after.
 */
const WRITE_CHUNK = 1024;

// The loops over every record read run in functions of their own rather than in updateDb: a hot loop
// has the optimizing compiler compile its whole function on the stack (on-stack replacement), and
// updateDb, with every closure of the import in it, is by far the largest function here.

/**
 * The ratings other than `unknown`, listed under each id of their record (its own id, aliases and upstream
 * ids), in the order the records were read.
 */
function ratedByKey(ratings: readonly ReadRating[]): Map<string, Array<{ id: string; sev: SeverityInfo }>> {
  const rated = new Map<string, Array<{ id: string; sev: SeverityInfo }>>();
  for (let i = 0; i < ratings.length; i++) {
    const { id, keys, sev } = ratings[i];
    if (sev.severity === 'unknown') continue;
    const entry = { id, sev };
    for (let j = 0; j < keys.length; j++) {
      const list = rated.get(keys[j]);
      if (list) list.push(entry);
      else rated.set(keys[j], [entry]);
    }
  }
  return rated;
}

/**
 * Values a row of the import's pending affected rows takes: rid, ecosystem (lower case), its base name as
 * written, release, package name as written, compiled ranges, versions, the record's digest part.
 */
const PENDING_AFFECTED_WIDTH = 8;

/**
 * The values of the `affected` rows (rid, ecosystem, release, normalized name, stored text; row after row)
 * of pending rows ({@link PENDING_AFFECTED_WIDTH} values each), and each row's digest row added to
 * `digestRows`. The stored text is the compiled ranges' text without versions as made once by the
 * memo, or with the entry's `versions` list. Done here rather than as each entry is read: only some sources
 * have `versions` lists (PyPI, Go) or names to normalize (PyPI), and the first such entry would throw away
 * the optimized code of the per-record import, compiled again at a cost of tens of milliseconds; this loop
 * is small.
 */
function affectedRowValues(pending: readonly unknown[], digestRows: DigestRow[]): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < pending.length; i += PENDING_AFFECTED_WIDTH) {
    const eco = pending[i + 1] as string;
    const name = normalizeName(pending[i + 2] as string, pending[i + 4] as string);
    const c = pending[i + 5] as CompiledRanges;
    const versions = pending[i + 6] as string[] | undefined;
    const text = versions === undefined ? c.bareJson : compiledJson(versions, c.json);
    const release = pending[i + 3] as string;
    digestRows.push({ pkg: packageKey(eco, name), release, compiled: text, record: pending[i + 7] as RecordDigestPart });
    out.push(pending[i], eco, release, name, text);
  }
  return out;
}

/** Adds the CVE ids among the records' ids and aliases to `wanted`. */
/**
 * Host and reason of a source that failed on the network, or undefined when the source is no URL
 * (a local path cannot be "unreachable"). The reason is the fetch's own cause (`fetch failed
 * (getaddrinfo ENOTFOUND host)`), without the URL, so sources on one host that fail alike group.
 */
function networkFailure(location: string, err: PushgateError): { host: string; reason: string } | undefined {
  let host: string;
  try {
    host = new URL(location).host;
  } catch {
    return undefined;
  }
  return { host, reason: err.cause !== undefined ? fetchErrorText(err.cause) : err.message };
}

/** A few sources' short names for a log line: the OSV bucket's `/<Ecosystem>/all.zip` reads as the ecosystem. */
function sourceLabels(sources: readonly string[]): string {
  const label = (s: string): string => {
    try {
      return decodeURIComponent(new URL(s).pathname).replace(/^\/+/, '').replace(/\/all\.zip$/, '') || s;
    } catch {
      return s;
    }
  };
  const shown = sources.slice(0, 6).map(label).join(', ');
  return sources.length > 6 ? `${shown}, …` : shown;
}

function addCveIds(imported: readonly PendingRecord[], wanted: Set<string>): void {
  for (let i = 0; i < imported.length; i++) {
    const keys = imported[i].keys;
    for (let j = 0; j < keys.length; j++) if (keys[j].startsWith('CVE-')) wanted.add(keys[j]);
  }
}

/**
 * Writes the rows of the records imported (`imported[i]` gets rid i + 1) with the highest rating among each
 * record and the records sharing an id or alias with it (`rated`; one hop: records that merely share a third
 * record's alias are not chained together), and the NVD rating, KEV entry and EPSS score of its CVE ids (the
 * highest when it names several). Each record's digest part (`digest`) gets the same `best` and `enrich`
 * text; the rest of each entry is released once written (only the digest part is needed from here on).
 */
function writeRecords(
  imported: PendingRecord[],
  from: number,
  to: number,
  rated: ReadonlyMap<string, Array<{ id: string; sev: SeverityInfo }>>,
  enrichment: { nvd: ReadonlyMap<string, NvdRating>; kev: ReadonlyMap<string, KevInfo>; epss: ReadonlyMap<string, EpssInfo> },
  insRecord: { add: (...values: unknown[]) => void },
): void {
  const { nvd, kev, epss } = enrichment;
  const enriched = nvd.size > 0 || kev.size > 0 || epss.size > 0;
  for (let i = from; i < to; i++) {
    const r = imported[i];
    const d = r.digest;
    const keys = r.keys;
    let best: { id: string; sev: SeverityInfo } | undefined;
    for (let j = 0; j < keys.length; j++) {
      const list = rated.get(keys[j]);
      if (list) for (let m = 0; m < list.length; m++) if (isHigherSeverity(list[m].sev, best?.sev)) best = list[m];
    }
    if (best && isHigherSeverity(best.sev, r.sev)) d.best = JSON.stringify({ ...best.sev, id: best.id });
    if (enriched) {
      // kept in locals, and the object made once with its fields in the order each was first found (the
      // stored text's order): one object growing field by field in varying orders has a varying shape
      let eNvd: RecordEnrichment['nvd'];
      let eKev: RecordEnrichment['kev'];
      let eEpss: RecordEnrichment['epss'];
      let order = '';
      for (let j = 0; j < keys.length; j++) {
        const k = keys[j];
        if (!k.startsWith('CVE-')) continue;
        const n = nvd.get(k);
        if (n && isHigherSeverity(n.sev, eNvd)) {
          if (eNvd === undefined) order += 'n';
          eNvd = { ...n.sev, cve: k };
        }
        const kv = kev.get(k);
        if (kv && !eKev) {
          order += 'k';
          eKev = kv;
        }
        const ep = epss.get(k);
        if (ep && ep.score > (eEpss?.score ?? -1)) {
          if (eEpss === undefined) order += 'e';
          eEpss = { ...ep, cve: k };
        }
      }
      if (order !== '') {
        const e: RecordEnrichment = {};
        for (let j = 0; j < order.length; j++) {
          const c = order[j];
          if (c === 'n') e.nvd = eNvd;
          else if (c === 'k') e.kev = eKev;
          else e.epss = eEpss;
        }
        d.enrich = JSON.stringify(e);
      }
    }
    insRecord.add(i + 1, d.id, d.aliases, r.summary, d.published ?? null, r.modified, d.severity, d.best ?? null, r.urgency, r.vendor, d.enrich ?? null, r.source);
    imported[i] = undefined as unknown as PendingRecord;
  }
}

/**
 * A multi-row INSERT into `table`: rows are buffered and written `batch` at a time with one prepared
 * statement, one call into SQLite per batch instead of one per row (about 1.7× less CPU for 100,000
 * affected rows here). Rows are written in the order added, so each gets the rowid a row-by-row insert
 * gives it. `addAll(values)` adds many rows given as one flat list of values (row after row). `flush()`
 * writes what is buffered; call it before COMMIT. `table` and `columns` are constants of this file, never input.
 */
function batchInserter(db: Database.Database, table: string, columns: string[], batch = 64): { add: (...values: unknown[]) => void; addAll: (values: readonly unknown[]) => void; flush: () => void } {
  const row = `(${columns.map(() => '?').join(', ')})`;
  const sql = (n: number) => `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${Array<string>(n).fill(row).join(', ')}`;
  const full = db.prepare(sql(batch));
  const width = columns.length;
  const buf: unknown[] = [];
  return {
    add: (...values) => {
      for (const v of values) buf.push(v);
      if (buf.length === batch * width) {
        full.run(buf);
        buf.length = 0;
      }
    },
    addAll: (values) => {
      let i = 0;
      if (!buf.length) for (const n = batch * width; i + n <= values.length; i += n) full.run(values.slice(i, i + n));
      for (; i < values.length; i++) {
        buf.push(values[i]);
        if (buf.length === batch * width) {
          full.run(buf);
          buf.length = 0;
        }
      }
    },
    flush: () => {
      if (!buf.length) return;
      db.prepare(sql(buf.length / width)).run(buf);
      buf.length = 0;
    },
  };
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
