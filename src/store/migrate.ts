/**
 * Copies a whole pushgate store into another (`pushgate store migrate`): SQLite → PostgreSQL when a
 * registry outgrows one process, PostgreSQL → SQLite the other way. Both stores are opened with the
 * store factory, so both are at the current schema ({@link MIGRATIONS}) before a row moves; the target
 * must be empty. Every table is copied with its ids and sequence numbers as they are (exceptions are
 * revoked by id, quarantine records released by id, the queue claims in seq order, the audit log is
 * numbered), then each serial's counter is advanced past the source's high-water mark so a new event,
 * audit record or exception is numbered after every copied one. Finally both sides are read again in
 * one canonical order and their row counts and SHA-256 checksums compared.
 *
 * The source is held still for the copy: SQLite with a write transaction (`BEGIN IMMEDIATE`: a writer
 * in another process waits, then fails with SQLITE_BUSY), PostgreSQL with `LOCK TABLE … IN SHARE MODE`
 * in one repeatable-read transaction. That makes the copy a consistent snapshot; it does not forward
 * what a still-running `pushgate serve` accepts after the copy, so serve must be stopped first.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import Database from 'better-sqlite3';
import pg from 'pg';
import { PushgateError } from '../core/index.js';
import { openStore } from './index.js';
import { redactUrl } from './postgres-store.js';

/**
 * One copied table: the columns that order it (its primary key; for `tags`, which has none, every column),
 * which of them are integers (the rest are text, compared bytewise on both engines), and the serial column
 * whose counter must move past the copied rows.
 */
export interface MigratedTable {
  name: string;
  order: string[];
  intColumns?: string[];
  serial?: string;
  /** No unique key: paged by offset inside the source's snapshot instead of by key. */
  offsetPaged?: boolean;
  /** Columns the target's own triggers fill (not copied, not compared). */
  ownColumns?: string[];
}

/**
 * Every table the schema migrations create (but PostgreSQL's `vulndb_chunks`, a cache of the database file in force that
 * a replica holding it uploads again, see src/gate/vulndb-sync.ts), in copy order. `schema_migrations` is not copied (the factory
 * wrote the target's own). A test checks this list against the tables the migrations create.
 */
export const MIGRATED_TABLES: readonly MigratedTable[] = [
  { name: 'events', order: ['seq'], intColumns: ['seq'], serial: 'seq' },
  { name: 'verdicts', order: ['registry', 'repository', 'digest'] },
  { name: 'tags', order: ['registry', 'repository', 'tag', 'at', 'digest', 'allowed'], intColumns: ['at', 'allowed'], offsetPaged: true },
  { name: 'reports', order: ['digest'], ownColumns: ['write_seq'] },
  { name: 'report_patches', order: ['digest'] },
  { name: 'layers', order: ['key'] },
  { name: 'audit', order: ['seq'], intColumns: ['seq'], serial: 'seq' },
  { name: 'exceptions', order: ['id'], intColumns: ['id'], serial: 'id' },
  { name: 'quarantine', order: ['id'], intColumns: ['id'], serial: 'id' },
  { name: 'own_writes', order: ['registry', 'repository', 'digest', 'tag'] },
  { name: 'image_index', order: ['digest'] },
  { name: 'image_packages', order: ['pkg', 'digest'] },
  { name: 'image_findings', order: ['digest', 'fkey'] },
  { name: 'finding_ids', order: ['alias', 'digest', 'fkey'] },
  { name: 'monitor_runs', order: ['id'] },
  { name: 'image_changes', order: ['seq'], intColumns: ['seq'], serial: 'seq' },
  { name: 'monitor_holds', order: ['registry', 'repository', 'digest'] },
  { name: 'monitor_outbox', order: ['seq'], intColumns: ['seq'], serial: 'seq' },
  { name: 'cluster_jobs', order: ['name'] },
  { name: 'base_catalog', order: ['registry', 'repository', 'digest'] },
  { name: 'base_catalog_tags', order: ['registry', 'repository', 'tag', 'digest'] },
  { name: 'vex_documents', order: ['id'], intColumns: ['id'], serial: 'id' },
  { name: 'image_workloads', order: ['digest', 'cluster', 'namespace', 'kind', 'name'] },
  { name: 'cluster_state', order: ['name'] },
];

/**
 * Tables created by the migrations that are not copied: `index_marks` holds a position in the source's
 * own numbering of report writes, meaningless on the target (without one, the monitor's catch-up reads
 * every report once and saves its own).
 */
export const UNCOPIED_TABLES: readonly string[] = ['index_marks'];

/** The columns of `t` on `side` that are copied (all but those the target fills itself). */
async function copiedColumns(side: Side, t: MigratedTable): Promise<string[]> {
  return (await side.columns(t.name)).filter((c) => !(t.ownColumns ?? []).includes(c));
}

/** One table's outcome: rows copied, and the checksum both sides agreed on (hex SHA-256 of the canonical rows). */
export interface TableSummary {
  table: string;
  rows: number;
  sha256: string;
  /** The serial counter's value on the target after the copy (next number is one more), for serial tables. */
  nextAfter?: number;
}

/** Options of {@link migrateStore}. */
export interface MigrateOptions {
  /** Source store URL (`sqlite:PATH` or `postgres://…`). */
  from: string;
  /** Target store URL; must hold no rows. */
  to: string;
  /** Rows per batch (one target transaction each); default 1,000. */
  batch?: number;
  /** Progress lines (table, rows so far); default none. */
  progress?: (line: string) => void;
}

type Row = Record<string, unknown>;

/** Values bound in one INSERT: below both engines' parameter limits. */
const MAX_PARAMS = 30_000;

/** One side of the copy, over its own connection (not the store's pool). */
interface Side {
  readonly kind: 'sqlite' | 'postgres';
  /** `$n` (PostgreSQL) or `?` (SQLite) for the n-th (1-based) parameter. */
  param(n: number): string;
  /** `col`, with bytewise collation on PostgreSQL for text columns (SQLite's BINARY is bytewise already). */
  orderExpr(col: string, isInt: boolean): string;
  all(sql: string, args?: unknown[]): Promise<Row[]>;
  run(sql: string, args?: unknown[]): Promise<void>;
  columns(table: string): Promise<string[]>;
  close(): Promise<void>;
}

function sqliteSide(file: string): Side {
  const db = new Database(file, { fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  return {
    kind: 'sqlite',
    param: () => '?',
    orderExpr: (c) => c,
    async all(sql, args = []) {
      return db.prepare(sql).all(...args) as Row[];
    },
    async run(sql, args = []) {
      if (args.length) db.prepare(sql).run(...args);
      else db.exec(sql);
    },
    async columns(table) {
      return (db.prepare(`PRAGMA table_info(${table})`).all() as Row[]).map((r) => String(r.name));
    },
    async close() {
      db.close();
    },
  };
}

async function postgresSide(url: string): Promise<Side> {
  const c = new pg.Client({ connectionString: url });
  // A connection the server ends mid-copy rejects the query in progress; without a listener the event ends the process.
  c.on('error', () => undefined);
  await c.connect();
  return {
    kind: 'postgres',
    param: (n) => `$${n}`,
    orderExpr: (col, isInt) => (isInt ? col : `${col} COLLATE "C"`),
    async all(sql, args = []) {
      return (await c.query(sql, args)).rows as Row[];
    },
    async run(sql, args = []) {
      await c.query(sql, args);
    },
    async columns(table) {
      const r = await c.query('SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position', [table]);
      return r.rows.map((x: Row) => String(x.column_name));
    },
    async close() {
      await c.end().catch(() => undefined);
    },
  };
}

/** Opens a raw connection for `url` (after the factory has migrated it). */
async function openSide(url: string): Promise<Side> {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    if (file === ':memory:' || file === '') throw new PushgateError('BAD_ARGUMENT', `${url}: an in-memory SQLite store cannot be migrated; name a file (sqlite:./data/pushgate.db)`);
    return sqliteSide(file);
  }
  return postgresSide(url);
}

/** A URL fit for messages (no password). */
function shown(url: string): string {
  return url.startsWith('sqlite:') ? url : redactUrl(url);
}

/**
 * A row as canonical text: its values in column-name order, each as a string (integers as decimal,
 * whatever the driver returned: better-sqlite3 numbers, node-postgres strings for BIGINT) or null.
 */
function canonicalRow(row: Row, cols: readonly string[]): string {
  return JSON.stringify(cols.map((c) => (row[c] === null || row[c] === undefined ? null : String(row[c]))));
}

/**
 * Reads `t` from `side` in the canonical order, `batch` rows at a time, keyset-paged on its key (offset
 * for a table without one), calling `each` per page.
 */
async function readPages(side: Side, t: MigratedTable, cols: readonly string[], batch: number, each: (rows: Row[]) => Promise<void>): Promise<void> {
  const ints = new Set(t.intColumns ?? []);
  const orderBy = t.order.map((c) => side.orderExpr(c, ints.has(c))).join(', ');
  const select = `SELECT ${cols.join(', ')} FROM ${t.name}`;
  let last: Row | undefined;
  for (let offset = 0; ; offset += batch) {
    let rows: Row[];
    if (t.offsetPaged) {
      rows = await side.all(`${select} ORDER BY ${orderBy} LIMIT ${batch} OFFSET ${offset}`);
    } else if (!last) {
      rows = await side.all(`${select} ORDER BY ${orderBy} LIMIT ${batch}`);
    } else {
      const prev = last;
      const left = `(${t.order.map((c) => side.orderExpr(c, ints.has(c))).join(', ')})`;
      const right = `(${t.order.map((_, i) => side.param(i + 1)).join(', ')})`;
      rows = await side.all(`${select} WHERE ${left} > ${right} ORDER BY ${orderBy} LIMIT ${batch}`, t.order.map((c) => prev[c]));
    }
    if (rows.length === 0) return;
    await each(rows);
    if (rows.length < batch) return;
    last = rows[rows.length - 1];
  }
}

/** Count and checksum of `t` on `side` in the canonical order. */
async function digestTable(side: Side, t: MigratedTable, cols: readonly string[], batch: number): Promise<{ rows: number; sha256: string }> {
  const h = createHash('sha256');
  let rows = 0;
  const sorted = [...cols].sort();
  await readPages(side, t, cols, batch, async (page) => {
    for (const r of page) h.update(`${canonicalRow(r, sorted)}\n`);
    rows += page.length;
  });
  return { rows, sha256: h.digest('hex') };
}

/**
 * The highest number the source's serial has handed out (at least its column's MAX): SQLite's
 * `sqlite_sequence` keeps the numbers of deleted rows too, PostgreSQL's sequence its last value.
 */
async function highWater(side: Side, t: MigratedTable & { serial: string }): Promise<number> {
  const max = Number((await side.all(`SELECT COALESCE(MAX(${t.serial}), 0) AS m FROM ${t.name}`))[0].m);
  if (side.kind === 'sqlite') {
    const r = await side.all('SELECT seq FROM sqlite_sequence WHERE name = ?', [t.name]);
    return Math.max(max, r.length ? Number(r[0].seq) : 0);
  }
  const seq = (await side.all('SELECT pg_get_serial_sequence($1, $2) AS s', [t.name, t.serial]))[0].s as string | null;
  if (!seq) return max;
  const r = (await side.all(`SELECT last_value, is_called FROM ${seq}`))[0];
  return Math.max(max, r.is_called ? Number(r.last_value) : 0);
}

/** Moves the target's counter of `t` so the next number is `hw + 1`; returns `hw`. */
async function advanceSerial(side: Side, t: MigratedTable & { serial: string }, hw: number): Promise<number> {
  if (side.kind === 'postgres') {
    if (hw > 0) await side.run(`SELECT setval(pg_get_serial_sequence('${t.name}', '${t.serial}'), $1, true)`, [hw]);
  } else if (hw > 0) {
    // AUTOINCREMENT numbers after MAX(rowid) and after sqlite_sequence, whichever is higher.
    await side.run('DELETE FROM sqlite_sequence WHERE name = ?', [t.name]);
    await side.run('INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)', [t.name, hw]);
  }
  return hw;
}

/**
 * Refuses a SQLite source holding a NUL character in any column: SQLite keeps it, PostgreSQL text cannot
 * (the insert fails mid-copy). Checked before a row is copied, bytewise (SQLite's text functions stop at NUL).
 * @throws PushgateError STORE naming the tables and row counts.
 */
async function refuseNul(src: Side): Promise<void> {
  const bad: string[] = [];
  for (const t of MIGRATED_TABLES) {
    const cols = await copiedColumns(src, t);
    const n = Number((await src.all(`SELECT COUNT(*) AS n FROM ${t.name} WHERE ${cols.map((c) => `instr(CAST(${c} AS BLOB), X'00') > 0`).join(' OR ')}`))[0].n);
    if (n > 0) bad.push(`${t.name}: ${n} row(s)`);
  }
  if (bad.length) {
    throw new PushgateError('STORE', `${bad.join(', ')} hold a NUL character, which PostgreSQL text cannot hold; nothing was copied. Keep this store on SQLite, or remove those rows (the audit log is append-only by design: keep the SQLite file as its record)`);
  }
}

/** Holds the source still for the copy (see the module comment). @throws PushgateError STORE when it is busy. */
async function holdSource(side: Side, url: string): Promise<void> {
  try {
    if (side.kind === 'sqlite') {
      await side.run('BEGIN IMMEDIATE');
    } else {
      await side.run('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await side.run("SET LOCAL lock_timeout = '10s'");
      await side.run(`LOCK TABLE ${MIGRATED_TABLES.map((t) => t.name).join(', ')} IN SHARE MODE`);
    }
  } catch (e) {
    throw new PushgateError('STORE', `cannot hold the source ${shown(url)} still for the copy: ${(e as Error).message}; stop every \`pushgate serve\` using it and run again`, { cause: e });
  }
}

/**
 * Copies every table of the store at `opts.from` into the empty store at `opts.to` (see the module
 * comment), verifying row counts and checksums.
 * @returns one summary per table, in {@link MIGRATED_TABLES} order.
 * @throws PushgateError BAD_ARGUMENT when source and target are the same or the target holds rows;
 *   STORE when either cannot be opened, the source is busy, or a table differs after the copy.
 */
export async function migrateStore(opts: MigrateOptions): Promise<TableSummary[]> {
  const batch = opts.batch ?? 1000;
  if (!Number.isInteger(batch) || batch < 1 || batch > 5000) throw new PushgateError('BAD_ARGUMENT', `--batch ${batch}: give a whole number of rows from 1 to 5000`);
  if (opts.from === opts.to) throw new PushgateError('BAD_ARGUMENT', `--from and --to name the same store ${shown(opts.from)}; the target must be another, empty database`);
  const progress = opts.progress ?? (() => undefined);
  if (opts.from.startsWith('sqlite:') && !fs.existsSync(opts.from.slice('sqlite:'.length))) {
    throw new PushgateError('BAD_ARGUMENT', `--from ${opts.from}: no such SQLite file; name the store.url of the pushgate to migrate`);
  }
  // The factory brings both to the current schema (the source too: its rows are read as the current
  // schema names them), then raw connections copy, so rows keep their ids.
  for (const url of [opts.from, opts.to]) await (await openStore(url)).close();
  const src = await openSide(opts.from);
  let dst: Side | undefined;
  try {
    dst = await openSide(opts.to);
    const nonEmpty: string[] = [];
    for (const t of MIGRATED_TABLES) {
      const n = Number((await dst.all(`SELECT COUNT(*) AS n FROM ${t.name}`))[0].n);
      if (n > 0) nonEmpty.push(`${t.name} (${n})`);
    }
    if (nonEmpty.length) {
      throw new PushgateError('BAD_ARGUMENT', `the target ${shown(opts.to)} already holds rows: ${nonEmpty.join(', ')}; migrate into a new, empty database (PostgreSQL: CREATE DATABASE; SQLite: a path that does not exist yet)`);
    }
    await holdSource(src, opts.from);
    if (dst.kind === 'postgres' && src.kind === 'sqlite') await refuseNul(src);
    const out: TableSummary[] = [];
    for (const t of MIGRATED_TABLES) {
      const cols = await copiedColumns(src, t);
      const dcols = await copiedColumns(dst, t);
      if (cols.length !== dcols.length || cols.some((c) => !dcols.includes(c))) {
        throw new PushgateError('STORE', `table ${t.name} has columns (${cols.join(', ')}) in the source and (${dcols.join(', ')}) in the target; both must run the same pushgate version`);
      }
      let copied = 0;
      const d = dst;
      await readPages(src, t, cols, batch, async (rows) => {
        await d.run('BEGIN');
        try {
          // One statement holds at most MAX_PARAMS values (SQLite allows 32,766 parameters, PostgreSQL 65,535).
          const per = Math.max(1, Math.floor(MAX_PARAMS / cols.length));
          for (let i = 0; i < rows.length; i += per) {
            const part = rows.slice(i, i + per);
            const values = part.map((_, r) => `(${cols.map((__, c) => d.param(r * cols.length + c + 1)).join(', ')})`).join(', ');
            await d.run(`INSERT INTO ${t.name} (${cols.join(', ')}) VALUES ${values}`, part.flatMap((row) => cols.map((c) => row[c] ?? null)));
          }
          await d.run('COMMIT');
        } catch (e) {
          await d.run('ROLLBACK').catch(() => undefined);
          throw new PushgateError('STORE', `copying ${t.name} into ${shown(opts.to)} failed after ${copied} row(s): ${(e as Error).message}; the target holds a partial copy: recreate it empty and run again`, { cause: e });
        }
        copied += rows.length;
        progress(`${t.name}: ${copied} row(s)`);
      });
      let nextAfter: number | undefined;
      if (t.serial) nextAfter = await advanceSerial(dst, t as MigratedTable & { serial: string }, await highWater(src, t as MigratedTable & { serial: string }));
      const a = await digestTable(src, t, cols, batch);
      const b = await digestTable(dst, t, cols, batch);
      if (a.rows !== b.rows || a.sha256 !== b.sha256) {
        throw new PushgateError('STORE', `table ${t.name} differs after the copy: source ${a.rows} row(s) sha256 ${a.sha256}, target ${b.rows} row(s) sha256 ${b.sha256}; do not use the target`);
      }
      out.push({ table: t.name, rows: a.rows, sha256: a.sha256, ...(nextAfter !== undefined ? { nextAfter } : {}) });
    }
    await src.run(src.kind === 'sqlite' ? 'ROLLBACK' : 'COMMIT');
    return out;
  } finally {
    await src.close();
    await dst?.close();
  }
}
