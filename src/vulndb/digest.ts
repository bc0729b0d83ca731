/**
 * Content digests of a built vulnerability index, and what changed since the index it replaced.
 *
 * Every (ecosystem, package) of the index gets a digest over what its matching depends on: each
 * affected entry's record id, aliases, own and best severity, publication date, release and compiled
 * ranges, and its enrichment (NVD rating, KEV entry, EPSS score: a re-rating by NVD or a CVE added to
 * KEV changes findings and what policy decides) (the summary and `modified` stamp are left out:
 * rewording an advisory changes no finding).
 * The index's content digest is `sha256:` over the sorted list of those. A build records, beside its
 * own digests, the digest of the index it replaces (`meta.previousDigest`) and the (ecosystem,
 * package) pairs whose digest differs between the two (`changed_packages`: an advisory added,
 * withdrawn or dropped, a range or a severity changed). The monitor re-matches only the stored
 * inventories holding one of those pairs.
 *
 * A pair is `<ecosystem>:<name>` as the matcher looks it up: the lower-cased OSV ecosystem base
 * (`debian`, `npm`, `red hat`) and the normalized package name (schema.ts normalizeName). The
 * ecosystem part never holds a `:`, so the first `:` splits the two (a Maven name holds one).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import Database from 'better-sqlite3';

/** Tables added to an index by {@link recordDigests}. */
export const DIGEST_SQL = `
CREATE TABLE IF NOT EXISTS package_digests (pkg TEXT PRIMARY KEY, digest TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changed_packages (pkg TEXT PRIMARY KEY, change TEXT NOT NULL) WITHOUT ROWID;
`;

/** How a pair changed between two indexes. */
export type PackageChange = 'added' | 'removed' | 'changed';

/** The result of {@link recordDigests}. */
export interface DigestRecord {
  /** `sha256:<64 hex>` of this index's content. */
  digest: string;
  /** Content digest of the index replaced, when there was a readable one. */
  previous: string | null;
  /** Pairs that differ from the replaced index (empty without one). */
  changed: Map<string, PackageChange>;
}

/** The pair key of an advisory ecosystem base and a normalized name. */
export function packageKey(ecosystemBase: string, normalizedName: string): string {
  return `${ecosystemBase.toLowerCase()}:${normalizedName}`;
}

/**
 * Per-pair digests of an open index, computed from its `affected` and `records` tables (one ordered
 * pass; a full OSV export takes a few seconds).
 */
export function computePackageDigests(db: Database.Database): Map<string, string> {
  const out = new Map<string, string>();
  const rows = db
    .prepare(
      `SELECT a.ecosystem AS e, a.name AS n, a.release AS rel, a.compiled AS c, r.id AS id, r.aliases AS al, r.severity AS s, r.best_severity AS b, r.published AS p, r.enrich AS x
       FROM affected a JOIN records r ON r.rid = a.rid ORDER BY a.ecosystem, a.name, r.id, a.release, a.compiled`,
    )
    .iterate() as Iterable<{ e: string; n: string; rel: string; c: string; id: string; al: string; s: string; b: string | null; p: string | null; x: string | null }>;
  let key: string | undefined;
  let h: crypto.Hash | undefined;
  for (const r of rows) {
    const k = packageKey(r.e, r.n);
    if (k !== key) {
      if (key !== undefined) out.set(key, h!.digest('hex').slice(0, 32));
      key = k;
      h = crypto.createHash('sha256');
    }
    h!.update(`${r.id}\u0000${r.al}\u0000${r.s}\u0000${r.b ?? ''}\u0000${r.p ?? ''}\u0000${r.rel}\u0000${r.c}${enrichmentPart(r.x)}\n`);
  }
  if (key !== undefined) out.set(key, h!.digest('hex').slice(0, 32));
  return out;
}

/**
 * What of a record's enrichment (`records.enrich`) findings carry and policy reads: NVD's rating (a
 * finding's severity when the advisory has none, or by `severityPrefer`), the KEV entry and the EPSS
 * score and percentile (rules match `kev` and `epss`). The EPSS score date is left out: a new file with
 * the same scores changes nothing. `''` without enrichment, so digests of indexes without enrichment
 * stay as they were.
 */
function enrichmentPart(raw: string | null): string {
  if (!raw) return '';
  const e = JSON.parse(raw) as { nvd?: unknown; kev?: unknown; epss?: { cve?: string; score?: number; percentile?: number } };
  if (!e.nvd && !e.kev && !e.epss) return '';
  const epss = e.epss ? { cve: e.epss.cve, score: e.epss.score, percentile: e.epss.percentile } : null;
  return `\u0000${JSON.stringify([e.nvd ?? null, e.kev ?? null, epss])}`;
}

/**
 * What one affected row contributes to its pair's digest, as {@link computePackageDigests} reads it back
 * from the index: the pair key, the row's `release` and `compiled` text, and its record's stored `id`,
 * `aliases` JSON, `severity` JSON, `best_severity` JSON (undefined: NULL), `published` (undefined: NULL) and
 * `enrich` JSON (undefined: NULL).
 */
export interface DigestRow {
  pkg: string;
  release: string;
  compiled: string;
  record: { id: string; aliases: string; severity: string; best?: string; published?: string | number; enrich?: string };
}

/**
 * Order of the bytes SQLite holds for two JS strings (its BINARY collation, the order
 * {@link computePackageDigests} reads rows in). better-sqlite3 writes a string as UTF-8, a lone surrogate
 * as its own three bytes (WTF-8), so the byte order is the order of code points, a lone surrogate counting
 * as the code point of its code unit: UTF-16 code-unit order except where a surrogate pair meets
 * U+E000–U+FFFF.
 */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i < n && a.charCodeAt(i) < 0xd800 && b.charCodeAt(i) < 0xd800) return a.charCodeAt(i) - b.charCodeAt(i);
  // a surrogate is involved: compare by code points from the start of the code point holding unit i
  if (i > 0 && isHighSurrogate(a.charCodeAt(i - 1))) i--;
  while (i < a.length && i < b.length) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x < y ? -1 : 1;
    i += x > 0xffff ? 2 : 1;
  }
  return i < a.length ? 1 : i < b.length ? -1 : 0;
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c < 0xdc00;
}

const HIGH_UNIT = /[\ud800-\uffff]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/** A string as it reads back from SQLite: each lone surrogate (stored as three WTF-8 bytes) comes back as three U+FFFD. */
const readBack = (s: string): string => (/[\ud800-\udfff]/.test(s) ? s.replace(LONE_SURROGATE, '\ufffd\ufffd\ufffd') : s);

/**
 * The per-pair digests {@link computePackageDigests} computes from an index, computed from the rows as
 * they are written (the import holds them already: no second read of every row, no sort of the whole
 * table). Rows in any order; each pair's rows are hashed in (id, release, compiled) UTF-8 order.
 *
 * Each pair is first hashed the quick way: rows sorted in JS string order and the text hashed as it is.
 * That is exact when the pair's text holds no code unit above U+D7FF (then JS order is SQLite's byte
 * order, and there is no lone surrogate to read back), which one scan of the text confirms; a pair whose
 * text holds one is hashed again by {@link exactPairDigest}.
 */
export function packageDigestsOfRows(rows: Iterable<DigestRow>): Map<string, string> {
  // pair keys as they read back from the index; the record's part of a line (id, aliases, severities,
  // publication date) and its enrichment part, once per record (a record's rows share one `record`
  // object, and its enrichment JSON is parsed once), made in the same pass
  const byPkg = new Map<string, DigestRow[]>();
  const parts = new Map<DigestRow['record'], RecordParts>();
  for (const row of rows) {
    const pkg = readBack(row.pkg);
    const list = byPkg.get(pkg);
    if (list) list.push(row);
    else byPkg.set(pkg, [row]);
    if (!parts.has(row.record)) parts.set(row.record, recordParts(row.record));
  }
  const partsOf = (rec: DigestRow['record']): RecordParts => parts.get(rec)!;
  const out = new Map<string, string>();
  for (const [pkg, list] of byPkg) {
    // sorted on a copy: the exact path starts from the rows' own order
    const sorted = list.length > 1 ? list.slice().sort(plainRowOrder) : list;
    let text = '';
    for (let i = 0; i < sorted.length; i++) {
      const row = sorted[i];
      const p = parts.get(row.record)!;
      text += `${p.head}${row.release}\u0000${row.compiled}${p.tail}`;
    }
    out.set(pkg, HIGH_UNIT.test(text) ? exactPairDigest(list, partsOf) : crypto.hash('sha256', text, 'hex').slice(0, 32));
  }
  return out;
}

/** A record's text in its rows' digest lines ({@link packageDigestsOfRows}). */
interface RecordParts {
  head: string;
  tail: string;
}

function recordParts(rec: DigestRow['record']): RecordParts {
  return { head: `${rec.id}\u0000${rec.aliases}\u0000${rec.severity}\u0000${rec.best ?? ''}\u0000${rec.published ?? ''}\u0000`, tail: `${enrichmentPart(rec.enrich ?? null)}\n` };
}

/** (id, release, compiled) in JS string order. */
function plainRowOrder(x: DigestRow, y: DigestRow): number {
  const a = x.record.id;
  const b = y.record.id;
  if (a !== b) return a < b ? -1 : 1;
  if (x.release !== y.release) return x.release < y.release ? -1 : 1;
  return x.compiled < y.compiled ? -1 : x.compiled > y.compiled ? 1 : 0;
}

/**
 * The digest of one pair's rows (any order) by the general rule, for a pair whose text holds a code unit
 * above U+D7FF: rows sorted by the UTF-8 bytes SQLite holds for them ({@link compareUtf8}; JS order between
 * two rows holding none), the text read back as SQLite returns it (each lone surrogate as three U+FFFD).
 * Correct for any pair; {@link packageDigestsOfRows} takes it only where its quick way is not exact.
 */
export function exactPairDigest(rows: readonly DigestRow[], partsOf: (rec: DigestRow['record']) => RecordParts = recordParts): string {
  const list = rows.map((row) => {
    const { id, published } = row.record;
    return { row, plain: !HIGH_UNIT.test(id) && !HIGH_UNIT.test(row.release) && !HIGH_UNIT.test(row.compiled) && !(typeof published === 'string' && HIGH_UNIT.test(published)) };
  });
  const cmp = (a: string, b: string, plain: boolean): number => (plain ? (a < b ? -1 : a > b ? 1 : 0) : compareUtf8(a, b));
  if (list.length > 1) {
    list.sort(({ row: x, plain: px }, { row: y, plain: py }) => {
      const plain = px && py;
      return cmp(x.record.id, y.record.id, plain) || cmp(x.release, y.release, plain) || cmp(x.compiled, y.compiled, plain);
    });
  }
  let text = '';
  let plain = true;
  for (const { row: { record: rec, release, compiled }, plain: p } of list) {
    plain &&= p;
    const { head, tail } = partsOf(rec);
    text += `${head}${release}\u0000${compiled}${tail}`;
  }
  return crypto.hash('sha256', plain ? text : readBack(text), 'hex').slice(0, 32);
}

/** The content digest over per-pair digests: `sha256:` of the sorted `pair digest` lines. */
export function contentDigestOf(pkgs: Map<string, string>): string {
  const h = crypto.createHash('sha256');
  for (const k of [...pkgs.keys()].sort()) h.update(`${k} ${pkgs.get(k)}\n`);
  return `sha256:${h.digest('hex')}`;
}

/** Per-pair digests of an index: its `package_digests` table, else computed. */
export function packageDigestsOf(db: Database.Database): Map<string, string> {
  const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'package_digests'").get();
  if (has) {
    const rows = db.prepare('SELECT pkg, digest FROM package_digests').all() as Array<{ pkg: string; digest: string }>;
    if (rows.length) return new Map(rows.map((r) => [r.pkg, r.digest]));
  }
  return computePackageDigests(db);
}

/** The pairs whose digest differs between `before` and `after`. */
export function diffPackageDigests(before: Map<string, string>, after: Map<string, string>): Map<string, PackageChange> {
  const out = new Map<string, PackageChange>();
  for (const [k, d] of after) {
    const b = before.get(k);
    if (b === undefined) out.set(k, 'added');
    else if (b !== d) out.set(k, 'changed');
  }
  for (const k of before.keys()) if (!after.has(k)) out.set(k, 'removed');
  return out;
}

/**
 * Writes the per-pair digests (`computed` when the caller has them, from {@link packageDigestsOfRows};
 * else read from the index) and the changes since `previousPath` (the index being replaced, if any and
 * readable) into the index being built, and returns them. The caller stores `digest` and `previous` in
 * its `meta` table (`contentDigest`, `previousDigest`).
 */
export function recordDigests(db: Database.Database, previousPath: string | undefined, computed?: Map<string, string>): DigestRecord {
  db.exec(DIGEST_SQL);
  const pkgs = computed ?? computePackageDigests(db);
  const digest = contentDigestOf(pkgs);
  let previous: string | null = null;
  let changed = new Map<string, PackageChange>();
  if (previousPath && fs.existsSync(previousPath)) {
    try {
      const old = new Database(previousPath, { readonly: true, fileMustExist: true });
      try {
        const oldPkgs = packageDigestsOf(old);
        const meta = old.prepare("SELECT value FROM meta WHERE key = 'contentDigest'").get() as { value: string } | undefined;
        previous = meta?.value ?? contentDigestOf(oldPkgs);
        changed = diffPackageDigests(oldPkgs, pkgs);
      } finally {
        old.close();
      }
    } catch {
      // an unreadable old index has no usable diff: the monitor re-matches everything judged by it
      previous = null;
      changed = new Map();
    }
  }
  const insC = db.prepare('INSERT INTO changed_packages (pkg, change) VALUES (?, ?)');
  db.exec('BEGIN');
  // in key order (each row lands at the end of the table's b-tree), 64 rows to a statement
  const keys = [...pkgs.keys()].sort();
  const BATCH = 64;
  const full = db.prepare(`INSERT INTO package_digests (pkg, digest) VALUES ${Array<string>(BATCH).fill('(?, ?)').join(', ')}`);
  for (let i = 0; i < keys.length; i += BATCH) {
    const part = keys.slice(i, i + BATCH);
    const values = part.flatMap((k) => [k, pkgs.get(k)]);
    if (part.length === BATCH) full.run(values);
    else db.prepare(`INSERT INTO package_digests (pkg, digest) VALUES ${Array<string>(part.length).fill('(?, ?)').join(', ')}`).run(values);
  }
  for (const [k, c] of changed) insC.run(k, c);
  db.exec('COMMIT');
  return { digest, previous, changed };
}

/**
 * The content digest, previous digest and changed pairs recorded in an open index; `digest` null for an
 * index built before digests existed (the monitor then re-matches every inventory once).
 */
export function readDigestRecord(db: Database.Database): { digest: string | null; previous: string | null; changed: Map<string, PackageChange> } {
  const meta = new Map((db.prepare("SELECT key, value FROM meta WHERE key IN ('contentDigest', 'previousDigest')").all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
  const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'changed_packages'").get();
  const changed = new Map<string, PackageChange>();
  if (has) for (const r of db.prepare('SELECT pkg, change FROM changed_packages').all() as Array<{ pkg: string; change: PackageChange }>) changed.set(r.pkg, r.change);
  return { digest: meta.get('contentDigest') ?? null, previous: meta.get('previousDigest') ?? null, changed };
}
