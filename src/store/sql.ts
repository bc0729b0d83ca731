/**
 * Schema migrations shared by the SQLite and PostgreSQL stores. Each migration is applied once,
 * in order, and recorded in `schema_migrations`. `{{SERIAL}}` and `{{JSON}}` are filled per dialect.
 */

/**
 * Ordered migrations; append only. `sqlite`/`postgres`, when given, run after `sql` for that
 * dialect (triggers differ).
 */
/**
 * The recorded versions (`schema_migrations.version`) that {@link MIGRATIONS} does not list, ascending: a
 * newer pushgate migrated the store.
 */
export function unknownMigrations(recorded: Iterable<number>): number[] {
  const known = new Set(MIGRATIONS.map((m) => m.version));
  return [...new Set(recorded)].filter((v) => !known.has(v)).sort((a, b) => a - b);
}

export const MIGRATIONS: Array<{ version: number; name: string; sql: string; sqlite?: string; postgres?: string }> = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE IF NOT EXISTS events (
  seq {{SERIAL}},
  dedupe_key TEXT NOT NULL UNIQUE,
  registry TEXT NOT NULL,
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  tag TEXT,
  payload TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'queued',
  attempts INTEGER NOT NULL DEFAULT 0,
  due_at BIGINT NOT NULL,
  lease_until BIGINT NOT NULL DEFAULT 0,
  worker TEXT,
  last_error TEXT,
  created_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_due ON events (status, due_at);
CREATE TABLE IF NOT EXISTS verdicts (
  registry TEXT NOT NULL,
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  decision TEXT NOT NULL,
  body TEXT NOT NULL,
  evaluated_at TEXT NOT NULL,
  updated_seq BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (registry, repository, digest)
);
CREATE TABLE IF NOT EXISTS tags (
  registry TEXT NOT NULL,
  repository TEXT NOT NULL,
  tag TEXT NOT NULL,
  digest TEXT NOT NULL,
  allowed INTEGER NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS tags_by_tag ON tags (registry, repository, tag, at);
CREATE TABLE IF NOT EXISTS reports (
  digest TEXT PRIMARY KEY,
  body TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS layers (
  key TEXT PRIMARY KEY,
  body TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
  seq {{SERIAL}},
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  registry TEXT,
  repository TEXT,
  digest TEXT,
  tag TEXT,
  detail TEXT
);
`,
  },
  {
    // Admin API exceptions, quarantined copies (release, retention); the audit log becomes append-only.
    version: 2,
    name: 'exceptions-quarantine-audit-append-only',
    sql: `
CREATE TABLE IF NOT EXISTS exceptions (
  id {{SERIAL}},
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  expires TEXT NOT NULL,
  spec TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
  id {{SERIAL}},
  at BIGINT NOT NULL,
  registry TEXT NOT NULL,
  repository TEXT NOT NULL,
  tag TEXT NOT NULL,
  digest TEXT NOT NULL,
  quarantine_repository TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'quarantined',
  state_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS quarantine_by_image ON quarantine (registry, repository, tag, state);
`,
    sqlite: `
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
`,
    postgres: `
CREATE OR REPLACE FUNCTION pushgate_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
DROP TRIGGER IF EXISTS audit_append_only ON audit;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION pushgate_audit_append_only();
`,
  },
  {
    // putVerdict numbers each write with MAX(updated_seq) + 1 and listVerdicts orders by it: without an
    // index both scan the whole table (re-evaluating 10,000 verdicts was quadratic).
    version: 3,
    name: 'verdicts-updated-seq-index',
    sql: 'CREATE INDEX IF NOT EXISTS verdicts_updated_seq ON verdicts (updated_seq);',
  },
  {
    // Whole-image scans stored before the image config was redacted (keys `scan:<digest>`, without a
    // scanner version) hold config strings as pushed: history, labels and Cmd may carry secrets.
    // They are never read again (the key is versioned now); delete them. SQLite overwrites the freed
    // pages with zeros (secure_delete) so the values do not linger in the file.
    version: 4,
    name: 'drop-unredacted-image-scans',
    sqlite: "PRAGMA secure_delete = ON; DELETE FROM layers WHERE key LIKE 'scan:sha256:%'; PRAGMA secure_delete = OFF;",
    postgres: "DELETE FROM layers WHERE key LIKE 'scan:sha256:%';",
    sql: '',
  },
  {
    // The queue's states gain `blocked-on-registry` (an event that outlived its retry budget while its
    // registry did not answer: resumed by the registry probe or reconcile, never final). Events the
    // earlier code parked as `failed` may have been parked by an outage: they are tried again once.
    // The index serves the per-tag ordering check of a claim (an earlier event of the same tag still
    // open holds the later ones back).
    version: 5,
    name: 'queue-blocked-on-registry-tag-order',
    sql: `
UPDATE events SET status = 'blocked-on-registry', attempts = 0, lease_until = 0 WHERE status = 'failed';
CREATE INDEX IF NOT EXISTS events_open_by_tag ON events (registry, repository, tag, seq)
  WHERE status IN ('queued', 'running', 'blocked-on-registry');
`,
  },
  {
    // Manifests pushgate writes itself (quarantine copies, restored tags, released copies), so their
    // notifications are known as its own traffic on every replica. One row per write target; an
    // event consumes it (consumed_by = the sender's event id, so a redelivery of that event is still
    // own traffic and no other event is), and it expires.
    version: 6,
    name: 'own-writes',
    sql: `
CREATE TABLE IF NOT EXISTS own_writes (
  registry TEXT NOT NULL,
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  tag TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  consumed_by TEXT,
  PRIMARY KEY (registry, repository, digest, tag)
);
CREATE INDEX IF NOT EXISTS own_writes_expiry ON own_writes (expires_at);
`,
  },
  {
    // The grace before a blocking manifest pushed by digest only is acted on counts from the first event
    // of that manifest (Store.manifestAgeMs); the same index serves enqueueUnlessPending's lookup.
    version: 7,
    name: 'events-by-manifest',
    sql: 'CREATE INDEX IF NOT EXISTS events_by_manifest ON events (registry, repository, digest, created_at);',
  },
  {
    // A claim walks the events of one state in seq order and stops at the first it may take (the
    // oldest due `queued` one, the oldest `running` one with an expired lease): without this index it
    // sorted every due event on each claim, so a backlog of n events cost O(n) per claim.
    version: 8,
    name: 'events-status-seq-index',
    sql: 'CREATE INDEX IF NOT EXISTS events_status_seq ON events (status, seq);',
  },
  {
    // Continuous monitoring (src/monitor): each verdict's database digest and policy revision as columns;
    // every judged image's packages by advisory pair and findings by advisory id and alias, so a database
    // change re-matches only the images it can touch; monitor runs (one claim, a cursor to resume from),
    // change records per re-judged image, and grace-period holds.
    version: 9,
    name: 'monitor',
    sql: `
ALTER TABLE verdicts ADD COLUMN vulndb_digest TEXT;
ALTER TABLE verdicts ADD COLUMN policy_revision TEXT;
CREATE INDEX IF NOT EXISTS verdicts_by_digest ON verdicts (digest);
CREATE TABLE IF NOT EXISTS image_index (
  digest TEXT PRIMARY KEY,
  vulndb_digest TEXT,
  report_at BIGINT NOT NULL,
  indexed_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS image_index_by_vulndb ON image_index (vulndb_digest);
CREATE INDEX IF NOT EXISTS reports_by_created ON reports (created_at, digest);
CREATE TABLE IF NOT EXISTS image_packages (
  pkg TEXT NOT NULL,
  digest TEXT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (pkg, digest)
);
CREATE INDEX IF NOT EXISTS image_packages_by_digest ON image_packages (digest);
CREATE TABLE IF NOT EXISTS image_findings (
  digest TEXT NOT NULL,
  fkey TEXT NOT NULL,
  pkg TEXT NOT NULL,
  first_seen BIGINT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (digest, fkey)
);
CREATE INDEX IF NOT EXISTS image_findings_by_pkg ON image_findings (pkg);
CREATE TABLE IF NOT EXISTS finding_ids (
  alias TEXT NOT NULL,
  digest TEXT NOT NULL,
  fkey TEXT NOT NULL,
  PRIMARY KEY (alias, digest, fkey)
);
CREATE INDEX IF NOT EXISTS finding_ids_by_digest ON finding_ids (digest, fkey);
CREATE TABLE IF NOT EXISTS monitor_runs (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  vulndb_digest TEXT,
  state TEXT NOT NULL,
  owner TEXT,
  lease_until BIGINT NOT NULL,
  cursor TEXT NOT NULL DEFAULT '',
  started_at BIGINT NOT NULL,
  finished_at BIGINT,
  stats TEXT
);
CREATE TABLE IF NOT EXISTS image_changes (
  seq {{SERIAL}},
  at TEXT NOT NULL,
  run TEXT NOT NULL,
  registry TEXT NOT NULL,
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS image_changes_by_digest ON image_changes (digest, seq);
CREATE TABLE IF NOT EXISTS monitor_holds (
  registry TEXT NOT NULL,
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  due_at BIGINT NOT NULL,
  PRIMARY KEY (registry, repository, digest)
);
`,
    sqlite: "UPDATE verdicts SET policy_revision = json_extract(body, '$.policy.revision'), vulndb_digest = json_extract(body, '$.vulndb.digest');",
    postgres: "UPDATE verdicts SET policy_revision = body::json->'policy'->>'revision', vulndb_digest = body::json->'vulndb'->>'digest';",
  },
  {
    // The console (/ui/): exceptions are revoked, not deleted (the audit log and the list keep them);
    // blocked pushes over time are counted from the audit log by action and time; verdicts are
    // counted by registry and decision from an index (the overview, pushgate_images_by_decision).
    version: 10,
    name: 'exception-revocation-audit-by-action',
    sql: `
ALTER TABLE exceptions ADD COLUMN revoked_at TEXT;
ALTER TABLE exceptions ADD COLUMN revoked_by TEXT;
CREATE INDEX IF NOT EXISTS audit_by_action_at ON audit (action, at);
CREATE INDEX IF NOT EXISTS verdicts_by_decision ON verdicts (registry, decision);
`,
  },
  {
    // Monitor notices (new findings) are written in the transaction of the re-judgement that found
    // them and removed once delivered, so a crash between the two sends them later rather than never.
    // A replica delivering a row holds it for a lease (owner, lease_until).
    version: 11,
    name: 'monitor-outbox',
    sql: `
CREATE TABLE IF NOT EXISTS monitor_outbox (
  seq {{SERIAL}},
  at BIGINT NOT NULL,
  body TEXT NOT NULL,
  owner TEXT,
  lease_until BIGINT NOT NULL DEFAULT 0
);
`,
  },
  {
    // Periodic work done once per cluster (reconcile, retry of unfinished verdicts, quarantine retention,
    // re-evaluation): one row per job, taken with a lease on the database's clock and due again one
    // interval after the pass that ended; a replica that dies mid-pass leaves its lease to expire.
    version: 12,
    name: 'cluster-jobs',
    sql: `
CREATE TABLE IF NOT EXISTS cluster_jobs (
  name TEXT PRIMARY KEY,
  owner TEXT,
  lease_until BIGINT NOT NULL DEFAULT 0,
  due_at BIGINT NOT NULL DEFAULT 0,
  started_at BIGINT NOT NULL DEFAULT 0,
  finished_at BIGINT NOT NULL DEFAULT 0
);
`,
  },
  {
    // The base image catalog (src/base): one row per image manifest of a catalog repository (its diffID
    // chain, creation time, scan summary) and one row per (tag, digest) a catalog tag has pointed at, so
    // "the tag moved on, since when" survives restarts.
    version: 13,
    name: 'base-catalog',
    sql: `
CREATE TABLE IF NOT EXISTS base_catalog (
  registry TEXT NOT NULL,
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  body TEXT NOT NULL,
  first_seen BIGINT NOT NULL,
  PRIMARY KEY (registry, repository, digest)
);
CREATE TABLE IF NOT EXISTS base_catalog_tags (
  registry TEXT NOT NULL,
  repository TEXT NOT NULL,
  tag TEXT NOT NULL,
  digest TEXT NOT NULL,
  since BIGINT NOT NULL,
  PRIMARY KEY (registry, repository, tag, digest)
);
`,
  },
  {
    // VEX documents added through the admin API (POST /api/v1/vex): the document as sent (parsed again
    // at each start, so a parser fix applies to stored documents too), its author and statement count
    // for the list, who added it and when. DELETE removes the row; the audit log keeps the record.
    version: 14,
    name: 'vex-documents',
    sql: `
CREATE TABLE IF NOT EXISTS vex_documents (
  id {{SERIAL}},
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  author TEXT NOT NULL,
  statements INTEGER NOT NULL,
  body TEXT NOT NULL
);
`,
  },
  {
    // Workload usage (src/store/workloads.ts): per image digest, the workloads the validating admission
    // webhook admitted with it, first and last seen, so "which images have CVE-X" also says what runs them.
    // Pruned by last_seen (admission.workloadRetention).
    version: 15,
    name: 'image-workloads',
    sql: `
CREATE TABLE IF NOT EXISTS image_workloads (
  digest TEXT NOT NULL,
  cluster TEXT NOT NULL DEFAULT '',
  namespace TEXT NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  first_seen BIGINT NOT NULL,
  last_seen BIGINT NOT NULL,
  PRIMARY KEY (digest, cluster, namespace, kind, name)
);
CREATE INDEX IF NOT EXISTS image_workloads_by_last_seen ON image_workloads (last_seen);
`,
  },
  {
    // What the replicas agree on (src/store/cluster-state.ts): per name (`vulndb`, `policy`) the digest in
    // force, who installed it and when (database clock). PostgreSQL also holds the database file in force,
    // in chunks, so every replica fetches exactly those bytes (a cache of a file any replica can rebuild,
    // not copied by `store migrate`; SQLite, one process, records the digest only).
    version: 16,
    name: 'cluster-state',
    sql: `
CREATE TABLE IF NOT EXISTS cluster_state (
  name TEXT PRIMARY KEY,
  digest TEXT NOT NULL,
  built_at TEXT,
  installed_by TEXT NOT NULL,
  installed_at BIGINT NOT NULL,
  file_sha256 TEXT,
  file_size BIGINT,
  file_chunks INTEGER
);
`,
    postgres: `
CREATE TABLE IF NOT EXISTS vulndb_chunks (
  digest TEXT NOT NULL,
  n INTEGER NOT NULL,
  data BYTEA NOT NULL,
  PRIMARY KEY (digest, n)
);
`,
  },
  {
    // Monitor: per image, a signature of its indexed findings (src/store/sqlite-monitor.ts
    // findingSetSignature), so a full pass tells an image whose findings did not change without reading
    // them (null: not known, they are read).
    version: 17,
    name: 'image-findings-signature',
    sql: `
ALTER TABLE image_index ADD COLUMN findings_sig TEXT;
`,
  },
  {
    // Reports patched by a monitor pass (src/store/report-patch.ts): the re-judged findings and verdict
    // laid over the stored body on read, so a pass rewrites a third of each report, not all of it.
    // Null: the body is the report.
    version: 18,
    name: 'report-judgement-patch',
    sql: `
ALTER TABLE reports ADD COLUMN patch TEXT;
`,
  },
  {
    // Monitor catch-up: which reports were written since the last look, without reading them all. Every
    // write of a report row is numbered by the store itself (a trigger, whatever statement writes it), in
    // an order a reader can trust: SQLite numbers it MAX + 1 inside its single writer, so the numbers
    // commit in order; PostgreSQL records the writing transaction's id (xid8), and a reader takes as safe
    // only what lies below its snapshot's xmin (every transaction below it has ended), so a transaction
    // that commits after a later one is never passed over. `index_marks` keeps the point below which every
    // report was indexed, so a restarted process (or a CLI run) does not read every report again. Neither
    // is copied by `store migrate` (each engine numbers its own writes; a missing mark means "from the start").
    version: 19,
    name: 'report-write-seq-and-index-mark',
    sql: `
CREATE TABLE IF NOT EXISTS index_marks (
  name TEXT PRIMARY KEY,
  mark BIGINT NOT NULL
);
`,
    sqlite: `
ALTER TABLE reports ADD COLUMN write_seq INTEGER;
UPDATE reports SET write_seq = rowid;
CREATE INDEX IF NOT EXISTS reports_by_write_seq ON reports (write_seq);
CREATE TRIGGER IF NOT EXISTS reports_write_seq_insert AFTER INSERT ON reports
BEGIN
  UPDATE reports SET write_seq = (SELECT COALESCE(MAX(write_seq), 0) + 1 FROM reports) WHERE digest = NEW.digest;
END;
CREATE TRIGGER IF NOT EXISTS reports_write_seq_update AFTER UPDATE OF digest, body, patch, created_at ON reports
BEGIN
  UPDATE reports SET write_seq = (SELECT COALESCE(MAX(write_seq), 0) + 1 FROM reports) WHERE digest = NEW.digest;
END;
`,
    postgres: `
ALTER TABLE reports ADD COLUMN write_seq xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX IF NOT EXISTS reports_by_write_seq ON reports (write_seq);
CREATE OR REPLACE FUNCTION pushgate_report_write_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.write_seq := pg_current_xact_id();
  RETURN NEW;
END;
$$;
CREATE TRIGGER reports_write_seq BEFORE INSERT OR UPDATE ON reports FOR EACH ROW EXECUTE FUNCTION pushgate_report_write_seq();
`,
  },
  {
    // A report's patch (src/store/report-patch.ts) in a row of its own: SQLite rewrites a whole row when a
    // column changes size, so a patch kept beside the body rewrote the body's pages (a report's package
    // list, tens of kilobytes) on every pass. `reports.patch` stays, always null.
    version: 20,
    name: 'report-patches-table',
    sql: `
CREATE TABLE IF NOT EXISTS report_patches (
  digest TEXT PRIMARY KEY,
  patch TEXT NOT NULL
);
INSERT INTO report_patches (digest, patch) SELECT digest, patch FROM reports WHERE patch IS NOT NULL;
UPDATE reports SET patch = NULL WHERE patch IS NOT NULL;
`,
    // The catch-up's read of reports written since its mark, from an index holding what it reads: SQLite
    // reaches a column after the body (created_at) only by walking the body's overflow pages, and after a
    // pass every patched report is read once more (renumbered, not stale).
    sqlite: `
CREATE INDEX IF NOT EXISTS reports_by_write_seq_at ON reports (write_seq, digest, created_at);
`,
    // lz4 compresses a patch several times faster than the default pglz; a server built without it keeps pglz
    postgres: `
DO $$ BEGIN
  ALTER TABLE report_patches ALTER COLUMN patch SET COMPRESSION lz4;
EXCEPTION WHEN OTHERS THEN NULL;
END $$;
`,
  },
  {
    // The write marks of a chunk's reports, read by digest with every chunk of a monitor pass and again in
    // its batch's write (src/store/sqlite-monitor.ts verdictsWithMarks, marksNow), from an index holding
    // what they read: SQLite reaches write_seq, a column after the body, only by walking the body's
    // overflow pages (measured: the marks of 10,000 stored reports, 0.45 s → 0.07 s). PostgreSQL keeps a
    // large body out of line (TOAST): nothing to add there.
    version: 21,
    name: 'reports-marks-by-digest',
    sql: '',
    sqlite: `
CREATE INDEX IF NOT EXISTS reports_by_digest_seq ON reports (digest, write_seq);
`,
  },
  {
    // How often an event went back to the queue to wait for its tag's link (src/gate/tag-links.ts). The wait
    // follows the event's age on the store's clock; a clock that steps back (or a store clock behind the
    // event's created_at) makes the event look 0 ms old for as long as the step, and without a count it was
    // handed back, attempt refunded, that whole time. Kept with the event, so a restart or another replica
    // keeps counting; never reset (a resumed event's wait is over as it was).
    version: 22,
    name: 'events-tag-link-hand-backs',
    sql: `
ALTER TABLE events ADD COLUMN link_hand_backs INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    // A re-evaluation that finds a tag no longer pointing at its digest reads the image's last intent or
    // outcome record (src/gate/reevaluate.ts `unfinished`): by digest, newest first, not by a walk of every
    // re-evaluation record ever written (the only audit index was by action).
    version: 23,
    name: 'audit-by-digest',
    sql: `
CREATE INDEX IF NOT EXISTS audit_by_digest_seq ON audit (digest, seq);
`,
  },
  {
    // The index of image_index by database served no read (every reader takes all rows, or rows by digest),
    // yet every write of an image's database (a pass moving thousands of untouched images to the new
    // database, marking unchanged ones, indexing) moved an entry in it too, and on PostgreSQL it kept each
    // such update from being a heap-only one: the closing move of 10,000 images cost about twice its time.
    version: 24,
    name: 'image-index-no-database-index',
    sql: `
DROP INDEX IF EXISTS image_index_by_vulndb;
`,
  },
  {
    // When an event's due time or lease was last written, on the store's clock. A clock set back after that
    // write (a host whose clock was stepped, a PostgreSQL failover to a host whose clock differs) left an
    // event put back for a second not due for as long as the step, and a dead worker's lease live as long,
    // with every later event of its tag held behind it. A claim takes an event whose write is in its future
    // as due (queued) or its lease over once the clock is back further than the lease's own length. The
    // leases and due times of cluster jobs (periodic passes, the quarantine-copy lock) alike.
    version: 25,
    name: 'events-put-at',
    sql: `
ALTER TABLE events ADD COLUMN put_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE cluster_jobs ADD COLUMN put_at BIGINT NOT NULL DEFAULT 0;
`,
  },
];
