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
 * Writes the per-pair digests and the changes since `previousPath` (the index being replaced, if any and
 * readable) into the index being built, and returns them. The caller stores `digest` and `previous` in
 * its `meta` table (`contentDigest`, `previousDigest`).
 */
export function recordDigests(db: Database.Database, previousPath: string | undefined): DigestRecord {
  db.exec(DIGEST_SQL);
  const pkgs = computePackageDigests(db);
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
  const insP = db.prepare('INSERT INTO package_digests (pkg, digest) VALUES (?, ?)');
  const insC = db.prepare('INSERT INTO changed_packages (pkg, change) VALUES (?, ?)');
  db.exec('BEGIN');
  for (const [k, d] of pkgs) insP.run(k, d);
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
