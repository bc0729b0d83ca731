/**
 * The SQLite layout of the vulnerability index. One row per OSV record, one row per (record,
 * affected entry) indexed by (ecosystem, release, package name) so a package is one indexed lookup.
 */

/** Bumped whenever the layout or the meaning of a column changes; older files are rebuilt by `db update`. */
export const SCHEMA_VERSION = 3;

/** DDL of a fresh index: tables only; {@link INDEX_SQL} runs after the bulk load (faster than indexing row by row). */
export const SCHEMA_SQL = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE records (
  rid INTEGER PRIMARY KEY,
  id TEXT NOT NULL,             -- unique (the importer keeps the first record of an id)
  aliases TEXT NOT NULL,        -- JSON array: aliases + upstream ids
  summary TEXT,
  published TEXT,
  modified TEXT,
  severity TEXT NOT NULL,       -- JSON SeverityInfo of this record
  best_severity TEXT,           -- JSON SeverityInfo + id: the highest rating among this record and the
                                -- records sharing an id or alias with it; NULL when that is its own
  urgency TEXT,                 -- Debian upload urgency, shown, never a severity
  vendor TEXT,                  -- JSON SeverityInfo: the OS vendor's own rating word (Ubuntu priority, Red Hat impact)
  enrich TEXT,                  -- JSON RecordEnrichment: NVD rating, KEV entry, EPSS score of its CVE ids
  source TEXT NOT NULL          -- file or zip entry it came from
);
CREATE TABLE affected (
  rid INTEGER NOT NULL,
  ecosystem TEXT NOT NULL,      -- lower-cased base name: debian, npm, red hat
  release TEXT NOT NULL,        -- text after the first ':' of the OSV ecosystem, '' when none
  name TEXT NOT NULL,           -- normalized package name (see normalizeName)
  compiled TEXT NOT NULL        -- serializeCompiled(): versions list + ranges with events sorted in the ecosystem order
);
CREATE TABLE eol (
  product TEXT PRIMARY KEY,     -- endoflife.date product name: debian, nodejs, alpine-linux
  cycles TEXT NOT NULL,         -- JSON EolCycle[]
  source TEXT NOT NULL
);
`;

/** Indexes created once the records are loaded. */
export const INDEX_SQL = `
CREATE UNIQUE INDEX records_id ON records(id);
CREATE INDEX affected_pkg ON affected(ecosystem, name);
`;

/** Package-name normalization per ecosystem, applied on import and on lookup (PEP 503 for PyPI). */
export function normalizeName(ecosystemBase: string, name: string): string {
  const e = ecosystemBase.toLowerCase();
  if (e === 'pypi') return name.toLowerCase().replace(/[-_.]+/g, '-');
  if (e === 'nuget' || e === 'packagist' || e === 'maven') return name.toLowerCase();
  return name;
}
