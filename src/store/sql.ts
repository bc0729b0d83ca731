/**
 * Schema migrations shared by the SQLite and PostgreSQL stores. Each migration is applied once,
 * in order, and recorded in `schema_migrations`. `{{SERIAL}}` and `{{JSON}}` are filled per dialect.
 */

/** Ordered migrations; append only. */
export const MIGRATIONS: Array<{ version: number; name: string; sql: string }> = [
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
];
