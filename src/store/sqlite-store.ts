/**
 * SQLite store (better-sqlite3 12), the embedded default. WAL mode with synchronous=FULL: a
 * transaction that returned is on disk, so an event answered with 202 survives a SIGKILL or a
 * power cut. Calls are synchronous underneath; the async surface matches {@link Store}.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { PushgateError, type Digest, type PushEvent, type ScanReport, type Verdict } from '../core/index.js';
import { SqliteWorkloadStore, type WorkloadStore } from './workloads.js';
import { SqliteClusterStateStore, type ClusterStateStore } from './cluster-state.js';
import { MIGRATIONS, unknownMigrations } from './sql.js';
import type { MonitorStore } from './monitor-types.js';
import type { BaseCatalogStore } from './base-catalog-types.js';
import { SqliteBaseCatalogStore } from './base-catalog.js';
import { SqliteMonitorStore } from './sqlite-monitor.js';
import { reportOf } from './report-patch.js';
import { QUEUE_STATES, type AuditFilter, type AuditRecord, type OwnWriteKey, type QuarantineQuery, type QuarantineRecord, type QuarantineState, type QueuedEvent, type QueueState, type RetryRequest, type MigrationReport, type Store, type AuditRuleCount, type StoredException, type StoredVexDocument, type VerdictCursor, type VerdictPage, type VerdictQuery } from './types.js';

export type Row = Record<string, unknown>;

/** Most prepared statements a store keeps (see SqliteStore.stmt). */
const STATEMENT_CACHE_MAX = 256;

/** Opens (creating if needed) the SQLite database at `file`. @throws PushgateError STORE */
export function openSqliteStore(file: string): SqliteStore {
  try {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    return new SqliteStore(new Database(file));
  } catch (e) {
    throw new PushgateError('STORE', `cannot open SQLite store ${file}: ${(e as Error).message}; check the directory exists and is writable`, { cause: e });
  }
}

/**
 * The free space a SQLite store needs to be ready, bytes: 2% of its file system, at most 64 MiB (room for
 * the write-ahead log to grow through a burst of events and a checkpoint).
 */
export function minFreeBytes(fileSystemBytes: number): number {
  return Math.min(64 * 1024 * 1024, Math.floor(fileSystemBytes * 0.02));
}

/** See {@link openSqliteStore}. */
export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  /** Continuous-monitoring tables (src/store/sqlite-monitor.ts). */
  readonly monitor: MonitorStore;
  /** Base image catalog tables (src/store/base-catalog.ts). */
  readonly baseCatalog: BaseCatalogStore;
  /** Workload usage from admission reviews (src/store/workloads.ts). */
  readonly workloads: WorkloadStore;
  /** The vulnerability database and policy revision in force (src/store/cluster-state.ts). */
  readonly clusterState: ClusterStateStore;
  constructor(private readonly db: Database.Database) {
    this.monitor = new SqliteMonitorStore(db);
    this.baseCatalog = new SqliteBaseCatalogStore(db);
    this.workloads = new SqliteWorkloadStore(db);
    this.clusterState = new SqliteClusterStateStore(db);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
  }

  /**
   * Prepared statements by SQL text. better-sqlite3 compiles a statement on every `prepare` (tens of µs,
   * paid on every admission review and queued event otherwise); a statement is reusable because every
   * call here runs it to completion synchronously (nothing iterates). The SQL texts are constants or
   * built from a fixed set of filters, so the map stays small; past {@link STATEMENT_CACHE_MAX} a text is
   * prepared without being kept.
   */
  private readonly statements = new Map<string, Database.Statement>();

  /** The prepared statement of `sql`, compiled on first use (see {@link statements}). */
  private stmt(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      if (this.statements.size < STATEMENT_CACHE_MAX) this.statements.set(sql, st);
    }
    return st;
  }

  async migrate(): Promise<MigrationReport> {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const done = new Set((this.db.prepare('SELECT version FROM schema_migrations').all() as Row[]).map((r) => Number(r.version)));
    const report: MigrationReport = { applied: [], unknown: unknownMigrations(done) };
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      const sql = (m.sql + (m.sqlite ?? '')).replaceAll('{{SERIAL}}', 'INTEGER PRIMARY KEY AUTOINCREMENT');
      this.db.transaction(() => {
        this.db.exec(sql);
        this.db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
      })();
      report.applied.push({ version: m.version, name: m.name });
    }
    return report;
  }

  /**
   * A write through the engine, and the free space of the file system holding the file: SQLite reuses its
   * write-ahead log in place, so a write can still succeed on a full disk until the log has to grow, and
   * the next event is lost to SQLITE_FULL. Below {@link minFreeBytes} of free space the store is not ready.
   */
  async probeWrite(): Promise<{ ok: true } | { ok: false; error: string }> {
    try {
      this.stmt('UPDATE schema_migrations SET applied_at = applied_at WHERE version = (SELECT MAX(version) FROM schema_migrations)').run();
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
    if (this.db.memory) return { ok: true };
    try {
      const st = fs.statfsSync(path.dirname(path.resolve(this.db.name)));
      const free = st.bavail * st.bsize;
      const need = minFreeBytes(st.blocks * st.bsize);
      if (free < need) return { ok: false, error: `database or disk is full: ${Math.floor(free / 1024)} KiB free on the file system of ${this.db.name}, less than ${Math.ceil(need / 1024)} KiB` };
    } catch (e) {
      return { ok: false, error: `cannot read the free space of ${this.db.name}'s file system: ${(e as Error).message}` };
    }
    return { ok: true };
  }

  async ping(): Promise<boolean> {
    try {
      this.stmt('SELECT 1').get();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Group commit: enqueues that arrive in the same turn of the event loop (concurrent webhook
   * requests) are written in one transaction, one fsync for all of them; each promise resolves
   * only after that transaction is on disk, so the 202 still means "durably queued".
   */
  async enqueue(event: PushEvent): Promise<{ inserted: boolean; seq: number }> {
    return (await this.enqueueGroup([event]))[0];
  }

  /** One envelope's events as one group of the group commit: all of them are written, or none. */
  async enqueueMany(events: PushEvent[]): Promise<Array<{ inserted: boolean; seq: number }>> {
    if (events.length === 0) return [];
    return this.enqueueGroup(events);
  }

  private enqueueGroup(events: PushEvent[]): Promise<Array<{ inserted: boolean; seq: number }>> {
    return new Promise((resolve, reject) => {
      this.pendingEnqueues.push({ events, resolve, reject });
      if (this.pendingEnqueues.length === 1) setImmediate(() => this.flushEnqueues());
    });
  }

  private readonly pendingEnqueues: Array<{ events: PushEvent[]; resolve: (r: Array<{ inserted: boolean; seq: number }>) => void; reject: (e: Error) => void }> = [];

  private flushEnqueues(): void {
    const batch = this.pendingEnqueues.splice(0);
    if (batch.length === 0) return;
    try {
      const results = this.db.transaction(() => batch.map((b) => b.events.map((e) => this.insertEvent(e))))();
      batch.forEach((b, i) => b.resolve(results[i]));
    } catch {
      // One bad group must not fail the others: write each group in its own transaction (all or nothing).
      for (const b of batch) {
        try {
          b.resolve(this.db.transaction(() => b.events.map((e) => this.insertEvent(e)))());
        } catch (e) {
          b.reject(new PushgateError('STORE', `sqlite: cannot queue ${b.events.length} event(s): ${(e as Error).message}`, { cause: e, retryable: true }));
        }
      }
    }
  }

  async enqueueUnlessPending(event: PushEvent, opts: { sameTag?: boolean } = {}): Promise<{ inserted: boolean; seq: number }> {
    // One writer: the check and the insert in one immediate transaction cannot interleave.
    const tx = this.db.transaction(() => {
      const live = `SELECT seq FROM events WHERE status IN ('queued', 'running', 'blocked-on-registry') AND registry = ? AND repository = ? AND digest = ?`;
      const row = (
        opts.sameTag
          ? this.stmt(`${live} AND tag IS ? ORDER BY seq LIMIT 1`).get(event.registry, event.repository, event.digest, event.tag ?? null)
          : this.stmt(`${live} ORDER BY seq LIMIT 1`).get(event.registry, event.repository, event.digest)
      ) as Row | undefined;
      if (row) return { inserted: false, seq: Number(row.seq) };
      return this.insertEvent(event);
    });
    try {
      return tx.immediate();
    } catch (e) {
      throw new PushgateError('STORE', `sqlite: cannot queue event: ${(e as Error).message}`, { cause: e, retryable: true });
    }
  }

  private insertEvent(event: PushEvent): { inserted: boolean; seq: number } {
    const key = dedupeKey(event);
    const now = Date.now();
    const r = this
      .stmt(
        `INSERT INTO events (dedupe_key, registry, repository, digest, tag, payload, due_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING`,
      )
      .run(key, event.registry, event.repository, event.digest, event.tag ?? null, JSON.stringify(event), now, now);
    if (r.changes === 1) return { inserted: true, seq: Number(r.lastInsertRowid) };
    const row = this.stmt('SELECT seq FROM events WHERE dedupe_key = ?').get(key) as Row;
    return { inserted: false, seq: Number(row.seq) };
  }

  // Leases and due times use Date.now(): the single process holding the database file is its only
  // clock (better-sqlite3 is in-process; a second process on the same file would share the host's clock).
  async claim(worker: string, leaseMs: number): Promise<QueuedEvent | undefined> {
    const now = Date.now();
    const tx = this.db.transaction(() => {
      // The oldest claimable event: the older of the first due `queued` one and the first `running`
      // one whose lease expired (see CLAIM_SQLITE).
      const queued = this.stmt(CLAIM_SQLITE.queued).get({ now }) as Row | undefined;
      const expired = this.stmt(CLAIM_SQLITE.expired).get({ now }) as Row | undefined;
      const row = queued && expired ? (Number(queued.seq) < Number(expired.seq) ? queued : expired) : (queued ?? expired);
      if (!row) return undefined;
      this.stmt(`UPDATE events SET status = 'running', worker = ?, lease_until = ?, put_at = ?, attempts = attempts + 1 WHERE seq = ?`).run(worker, now + leaseMs, now, row.seq);
      return row;
    });
    const row = this.wrap('claim', () => tx.immediate());
    if (!row) return undefined;
    return {
      seq: Number(row.seq),
      event: JSON.parse(String(row.payload)) as PushEvent,
      attempts: Number(row.attempts) + 1,
      lastError: (row.last_error as string | null) ?? undefined,
      ageMs: Math.max(0, now - Number(row.created_at)),
      linkHandBacks: Number(row.link_hand_backs ?? 0),
    };
  }

  async extendLease(seq: number, worker: string, leaseMs: number): Promise<void> {
    const now = Date.now();
    this.wrap('extend lease', () => this.stmt(`UPDATE events SET lease_until = ?, put_at = ? WHERE seq = ? AND worker = ? AND status = 'running'`).run(now + leaseMs, now, seq, worker));
  }

  async complete(seq: number, worker: string, audit?: Omit<AuditRecord, 'seq' | 'at'>): Promise<boolean> {
    return this.wrap('complete', () =>
      this.db.transaction(() => {
        const r = this.stmt(`UPDATE events SET status = 'done', lease_until = 0 WHERE seq = ? AND worker = ? AND status = 'running'`).run(seq, worker);
        if (r.changes !== 1) return false;
        if (audit) this.insertAudit(audit);
        return true;
      })(),
    );
  }

  async retry(seq: number, worker: string, r: RetryRequest): Promise<boolean> {
    return this.wrap('retry', () => {
      const now = Date.now();
      const res = this
        .stmt(
          `UPDATE events SET status = ?, due_at = ?, put_at = ?, lease_until = 0, last_error = ?, attempts = MAX(0, attempts - ?), link_hand_backs = link_hand_backs + ?
           WHERE seq = ? AND worker = ? AND status = 'running'`,
        )
        .run(r.state ?? 'queued', now + r.retryInMs, now, r.error.slice(0, 2000), r.refund ? 1 : 0, r.linkHandBack ? 1 : 0, seq, worker);
      return res.changes === 1;
    });
  }

  async resumeBlocked(registry: string): Promise<number> {
    return this.wrap('resume blocked events', () => {
      const now = Date.now();
      return this
        .stmt(`UPDATE events SET status = 'queued', attempts = 0, due_at = ?, put_at = ?, worker = NULL WHERE status = 'blocked-on-registry' AND registry = ? AND ${PUT_BACK_DUE('?', '?')}`)
        .run(now, now, registry, now, now).changes;
    });
  }

  async blockedRegistries(): Promise<string[]> {
    return this.wrap('list blocked registries', () => (this.stmt(`SELECT DISTINCT registry FROM events WHERE status = 'blocked-on-registry'`).all() as Row[]).map((r) => String(r.registry)));
  }

  async queueCounts(): Promise<Record<QueueState, number>> {
    return this.wrap('count events', () => countsOf(this.stmt(`SELECT status, COUNT(*) AS n FROM events WHERE status != 'done' GROUP BY status`).all() as Row[]));
  }

  async manifestAgeMs(registry: string, repository: string, digest: Digest): Promise<number | undefined> {
    return this.wrap('manifest age', () => {
      const row = this.db.prepare(`SELECT MIN(created_at) AS first FROM events WHERE registry = ? AND repository = ? AND digest = ?`).get(registry, repository, digest) as Row;
      return row.first === null || row.first === undefined ? undefined : Math.max(0, Date.now() - Number(row.first));
    });
  }

  async countVerdicts(): Promise<Array<{ registry: string; decision: string; count: number }>> {
    return this.wrap('count verdicts', () =>
      (this.stmt('SELECT registry, decision, COUNT(*) AS n FROM verdicts GROUP BY registry, decision').all() as Row[]).map((r) => ({ registry: String(r.registry), decision: String(r.decision), count: Number(r.n) })),
    );
  }

  async verdictSeqTop(): Promise<number> {
    return this.wrap('verdict seq', () => Number((this.stmt('SELECT COALESCE(MAX(updated_seq), 0) AS n FROM verdicts').get() as Row).n));
  }

  async queueDepth(): Promise<number> {
    return this.wrap('queue depth', () => Number((this.stmt(`SELECT COUNT(*) AS n FROM events WHERE status IN ('queued', 'running')`).get() as Row).n));
  }

  /** Runs a synchronous driver call; a driver error becomes PushgateError STORE (retryable) naming `what`. */
  private wrap<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw new PushgateError('STORE', `sqlite: ${what}: ${(e as Error).message}`, { cause: e, retryable: true });
    }
  }

  async putVerdict(v: Verdict): Promise<void> {
    this.db.transaction(() => writeVerdict(this.db, v, (sql) => this.stmt(sql)))();
  }

  async moveTag(registry: string, repository: string, tag: string, digest: Digest): Promise<void> {
    this.db.transaction(() => {
      // instr() narrows to verdicts whose body mentions the tag; the JSON decides.
      const rows = this
        .stmt('SELECT digest, body FROM verdicts WHERE registry = ? AND repository = ? AND (digest = ? OR instr(body, ?) > 0)')
        .all(registry, repository, digest, JSON.stringify(tag)) as Row[];
      const update = this.stmt('UPDATE verdicts SET body = ? WHERE registry = ? AND repository = ? AND digest = ?');
      for (const r of rows) {
        const v = JSON.parse(String(r.body)) as Verdict;
        const next = movedTags(v, tag, String(r.digest) === digest);
        if (next) update.run(JSON.stringify({ ...v, tags: next }), registry, repository, String(r.digest));
      }
    })();
  }

  async tagHolders(registry: string, repository: string, tag: string): Promise<Digest[]> {
    return this.wrap('tag holders', () => {
      // instr() narrows to verdicts whose body mentions the tag; the JSON decides.
      const rows = this.stmt('SELECT digest, body FROM verdicts WHERE registry = ? AND repository = ? AND instr(body, ?) > 0').all(registry, repository, JSON.stringify(tag)) as Row[];
      return rows.filter((r) => ((JSON.parse(String(r.body)) as Verdict).tags ?? []).includes(tag)).map((r) => String(r.digest));
    });
  }

  async getVerdict(registry: string, repository: string, digest: Digest): Promise<Verdict | undefined> {
    const row = this.stmt('SELECT body FROM verdicts WHERE registry = ? AND repository = ? AND digest = ?').get(registry, repository, digest) as Row | undefined;
    return row ? (JSON.parse(String(row.body)) as Verdict) : undefined;
  }

  async getVerdictByTag(registry: string, repository: string, tag: string): Promise<Verdict | undefined> {
    const row = this
      .stmt('SELECT digest FROM tags WHERE registry = ? AND repository = ? AND tag = ? ORDER BY at DESC, rowid DESC LIMIT 1')
      .get(registry, repository, tag) as Row | undefined;
    return row ? this.getVerdict(registry, repository, String(row.digest)) : undefined;
  }

  async pageVerdicts(q: VerdictQuery): Promise<VerdictPage> {
    const { where, args } = verdictWhere(q, () => '?', (p) => `EXISTS (SELECT 1 FROM json_each(body, '$.tags') WHERE value = ${p})`, (p) => `instr(repository, ${p}) > 0`);
    return this.wrap('page verdicts', () =>
      verdictPage(this.stmt(`SELECT registry, repository, digest, updated_seq, body FROM verdicts ${where} ORDER BY updated_seq DESC, registry DESC, repository DESC, digest DESC LIMIT ?`).all(...args, q.limit + 1) as Row[], q.limit),
    );
  }

  async listVerdicts(opts: { registry?: string; repository?: string; limit?: number }): Promise<Verdict[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (opts.registry) {
      where.push('registry = ?');
      args.push(opts.registry);
    }
    if (opts.repository) {
      where.push('repository = ?');
      args.push(opts.repository);
    }
    const sql = `SELECT body FROM verdicts ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY updated_seq DESC LIMIT ?`;
    return (this.stmt(sql).all(...args, opts.limit ?? 100) as Row[]).map((r) => JSON.parse(String(r.body)) as Verdict);
  }

  async putReport(digest: Digest, report: ScanReport): Promise<void> {
    // a report written whole clears its patch, in one transaction
    this.db.transaction(() => writeReport(this.db, digest, JSON.stringify(report), Date.now(), (sql) => this.stmt(sql)))();
  }

  async getReport(digest: Digest): Promise<ScanReport | undefined> {
    const row = this.stmt('SELECT r.body, p.patch FROM reports r LEFT JOIN report_patches p ON p.digest = r.digest WHERE r.digest = ?').get(digest) as Row | undefined;
    return row ? reportOf(String(row.body), row.patch as string | null) : undefined;
  }

  async getLayer(key: string): Promise<unknown | undefined> {
    const row = this.stmt('SELECT body FROM layers WHERE key = ?').get(key) as Row | undefined;
    return row ? JSON.parse(String(row.body)) : undefined;
  }

  async putLayer(key: string, value: unknown): Promise<void> {
    this.stmt('INSERT INTO layers (key, body, created_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING').run(key, JSON.stringify(value), Date.now());
  }

  async replaceLayer(key: string, value: unknown): Promise<void> {
    this.stmt('INSERT INTO layers (key, body, created_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET body = excluded.body, created_at = excluded.created_at').run(key, JSON.stringify(value), Date.now());
  }

  async recordTag(registry: string, repository: string, tag: string, digest: Digest, allowed: boolean): Promise<void> {
    this.stmt('INSERT INTO tags (registry, repository, tag, digest, allowed, at) VALUES (?, ?, ?, ?, ?, ?)').run(registry, repository, tag, digest, allowed ? 1 : 0, Date.now());
  }

  async lastAllowed(registry: string, repository: string, tag: string, except?: Digest): Promise<Digest | undefined> {
    const row = this
      .stmt(
        `SELECT digest FROM tags t WHERE registry = ? AND repository = ? AND tag = ? AND allowed = 1 AND digest != ?
           AND NOT EXISTS (SELECT 1 FROM tags b WHERE b.registry = t.registry AND b.repository = t.repository AND b.tag = t.tag
             AND b.digest = t.digest AND b.allowed = 0 AND (b.at > t.at OR (b.at = t.at AND b.rowid > t.rowid)))
         ORDER BY at DESC, rowid DESC LIMIT 1`,
      )
      .get(registry, repository, tag, except ?? '') as Row | undefined;
    return row ? String(row.digest) : undefined;
  }

  async allowedForTag(registry: string, repository: string, tag: string, except: Digest | undefined, limit: number): Promise<Digest[]> {
    const rows = this.db
      .prepare(
        `SELECT digest, MAX(at) AS last FROM tags t WHERE registry = ? AND repository = ? AND tag = ? AND allowed = 1 AND digest != ?
           AND NOT EXISTS (SELECT 1 FROM tags b WHERE b.registry = t.registry AND b.repository = t.repository AND b.tag = t.tag
             AND b.digest = t.digest AND b.allowed = 0 AND (b.at > t.at OR (b.at = t.at AND b.rowid > t.rowid)))
         GROUP BY digest ORDER BY last DESC, MAX(rowid) DESC LIMIT ?`,
      )
      .all(registry, repository, tag, except ?? '', limit) as Row[];
    return rows.map((r) => String(r.digest));
  }

  async audit(entry: Omit<AuditRecord, 'seq' | 'at'>): Promise<void> {
    this.insertAudit(entry);
  }

  private insertAudit(entry: Omit<AuditRecord, 'seq' | 'at'>): void {
    this
      .stmt('INSERT INTO audit (at, actor, action, registry, repository, digest, tag, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(new Date().toISOString(), entry.actor, entry.action, entry.registry ?? null, entry.repository ?? null, entry.digest ?? null, entry.tag ?? null, entry.detail ? JSON.stringify(entry.detail) : null);
  }

  async listAudit(limit: number, filter: AuditFilter = {}): Promise<AuditRecord[]> {
    const { where, args } = auditWhere(filter, () => '?');
    return (this.stmt(`SELECT * FROM audit ${where} ORDER BY seq DESC LIMIT ?`).all(...args, limit) as Row[]).map(auditFromRow);
  }

  async countAuditRules(actions: string[], since: string, bucketChars: 10 | 13): Promise<{ groups: AuditRuleCount[]; records: number }> {
    if (!actions.length) return { groups: [], records: 0 };
    const inList = actions.map(() => '?').join(', ');
    return this.wrap('count audit rules', () => {
      const groups = this.stmt(
        `SELECT substr(a.at, 1, ?) AS bucket, a.registry AS registry, j.value AS rule, COUNT(*) AS n
         FROM audit a LEFT JOIN json_each(a.detail, CASE WHEN json_type(a.detail, '$.blocking') = 'array' THEN '$.blocking' ELSE '$.reasons' END) AS j
         WHERE a.action IN (${inList}) AND a.at >= ? GROUP BY bucket, a.registry, j.value`,
      ).all(bucketChars, ...actions, since) as Row[];
      const records = Number((this.stmt(`SELECT COUNT(*) AS n FROM audit WHERE action IN (${inList}) AND at >= ?`).get(...actions, since) as Row).n);
      return { groups: groups.map(ruleCountFromRow), records };
    });
  }

  async addException(actor: string, spec: StoredException['spec']): Promise<StoredException> {
    const at = new Date().toISOString();
    const r = this.stmt('INSERT INTO exceptions (at, actor, expires, spec) VALUES (?, ?, ?, ?)').run(at, actor, spec.expires, JSON.stringify(spec));
    return { id: Number(r.lastInsertRowid), at, actor, expires: spec.expires, spec };
  }

  async listExceptions(): Promise<StoredException[]> {
    return (this.stmt('SELECT * FROM exceptions ORDER BY id').all() as Row[]).map(exceptionFromRow);
  }

  async revokeException(id: number, actor: string): Promise<StoredException | undefined> {
    this.stmt('UPDATE exceptions SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL').run(new Date().toISOString(), actor, id);
    const row = this.stmt('SELECT * FROM exceptions WHERE id = ?').get(id) as Row | undefined;
    return row ? exceptionFromRow(row) : undefined;
  }

  async addVexDocument(actor: string, doc: Pick<StoredVexDocument, 'author' | 'statements' | 'body'>): Promise<StoredVexDocument> {
    const at = new Date().toISOString();
    const r = this.stmt('INSERT INTO vex_documents (at, actor, author, statements, body) VALUES (?, ?, ?, ?, ?)').run(at, actor, doc.author, doc.statements, doc.body);
    return { id: Number(r.lastInsertRowid), at, actor, ...doc };
  }

  async listVexDocuments(): Promise<StoredVexDocument[]> {
    return (this.stmt('SELECT * FROM vex_documents ORDER BY id').all() as Row[]).map(vexDocumentFromRow);
  }

  async deleteVexDocument(id: number): Promise<StoredVexDocument | undefined> {
    const row = this.stmt('DELETE FROM vex_documents WHERE id = ? RETURNING *').get(id) as Row | undefined;
    return row ? vexDocumentFromRow(row) : undefined;
  }

  async recordQuarantine(q: Pick<QuarantineRecord, 'registry' | 'repository' | 'tag' | 'digest' | 'quarantineRepository'>): Promise<QuarantineRecord> {
    const at = Date.now();
    const r = this
      .stmt('INSERT INTO quarantine (at, registry, repository, tag, digest, quarantine_repository, state, state_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(at, q.registry, q.repository, q.tag, q.digest, q.quarantineRepository, 'quarantined', at);
    return { id: Number(r.lastInsertRowid), at, ...q, state: 'quarantined', stateAt: at };
  }

  async listQuarantine(q: QuarantineQuery): Promise<QuarantineRecord[]> {
    const { where, args } = quarantineWhere(q, () => '?');
    return (this.stmt(`SELECT * FROM quarantine ${where} ORDER BY id DESC LIMIT ?`).all(...args, q.limit ?? 1000) as Row[]).map(quarantineFromRow);
  }

  async countQuarantine(q: QuarantineQuery): Promise<number> {
    const { where, args } = quarantineWhere({ ...q, beforeId: undefined }, () => '?');
    return Number((this.stmt(`SELECT COUNT(*) AS n FROM quarantine ${where}`).get(...args) as Row).n);
  }

  async setQuarantineState(id: number, state: QuarantineState): Promise<void> {
    this.stmt('UPDATE quarantine SET state = ?, state_at = ? WHERE id = ?').run(state, Date.now(), id);
  }

  async rememberOwnWrite(w: OwnWriteKey, expiresAt: number): Promise<void> {
    this.db.transaction(() => {
      this.stmt('DELETE FROM own_writes WHERE expires_at < ?').run(Date.now());
      this
        .stmt(
          `INSERT INTO own_writes (registry, repository, digest, tag, expires_at, consumed_by) VALUES (?, ?, ?, ?, ?, NULL)
           ON CONFLICT (registry, repository, digest, tag) DO UPDATE SET expires_at = excluded.expires_at, consumed_by = NULL`,
        )
        .run(w.registry, w.repository, w.digest, w.tag, expiresAt);
    })();
  }

  async consumeOwnWrite(w: OwnWriteKey, eventId: string, now: number): Promise<boolean> {
    // Every push notification asks this at intake and almost none is pushgate's: a read by primary
    // key answers those without taking the write lock.
    if (!this.stmt('SELECT 1 FROM own_writes WHERE registry = ? AND repository = ? AND digest = ? AND tag = ?').get(w.registry, w.repository, w.digest, w.tag)) return false;
    return (
      this.stmt(
        `UPDATE own_writes SET consumed_by = ? WHERE registry = ? AND repository = ? AND digest = ? AND tag = ?
         AND expires_at >= ? AND (consumed_by IS NULL OR consumed_by = ?)`,
      ).run(eventId, w.registry, w.repository, w.digest, w.tag, now, eventId).changes === 1
    );
  }

  async claimJob(name: string, owner: string, leaseMs: number): Promise<{ startedAt: number } | undefined> {
    const now = Date.now();
    const row = this.wrap('claim job', () =>
      this.stmt(
        `INSERT INTO cluster_jobs AS j (name, owner, lease_until, due_at, started_at, put_at) VALUES (?, ?, ?, 0, ?, ?)
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until, started_at = excluded.started_at, put_at = excluded.put_at
         WHERE ${PUT_BACK_DUE('?', '?', 'j.')} AND ${LEASE_OVER('?', '?', 'j.')}
         RETURNING started_at`,
      ).get(name, owner, now + leaseMs, now, now, now, now, now, now),
    ) as Row | undefined;
    return row ? { startedAt: Number(row.started_at) } : undefined;
  }

  async renewJob(name: string, owner: string, leaseMs: number): Promise<boolean> {
    const now = Date.now();
    return this.wrap('renew job', () => this.stmt('UPDATE cluster_jobs SET lease_until = ?, put_at = ? WHERE name = ? AND owner = ?').run(now + leaseMs, now, name, owner).changes === 1);
  }

  async finishJob(name: string, owner: string, nextInMs: number): Promise<boolean> {
    const now = Date.now();
    return this.wrap('finish job', () => this.stmt('UPDATE cluster_jobs SET lease_until = 0, owner = NULL, due_at = ?, finished_at = ?, put_at = ? WHERE name = ? AND owner = ?').run(now + nextInMs, now, now, name, owner).changes === 1);
  }

  private readonly listeners = new Set<(topic: string) => void>();

  async subscribe(listener: (topic: string) => void): Promise<() => void> {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async publish(topic: string): Promise<void> {
    for (const l of this.listeners) l(topic);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

// Every driver error leaves this store as PushgateError STORE (retryable), as PostgresStore's do: the
// gate tells its own store's failures (retried without spending an event's attempts) from the registry's.
for (const name of Object.getOwnPropertyNames(SqliteStore.prototype)) {
  const proto = SqliteStore.prototype as unknown as Record<string, unknown>;
  const fn = proto[name];
  if (name === 'constructor' || typeof fn !== 'function' || name === 'wrap' || name === 'stmt' || name === 'insertEvent' || name === 'insertAudit' || name === 'flushEnqueues') continue;
  proto[name] = async function (this: SqliteStore, ...args: unknown[]) {
    try {
      return await (fn as (...a: unknown[]) => Promise<unknown>).apply(this, args);
    } catch (e) {
      if (e instanceof PushgateError) throw e;
      throw new PushgateError('STORE', `sqlite: ${name}: ${(e as Error).message}`, { cause: e, retryable: true });
    }
  };
}

/**
 * The per-tag ordering condition of a claim (alias `e` for the candidate): no earlier event of the same
 * (registry, repository, tag) is still open. Events pushed by digest alone carry no tag and are not ordered.
 */
export const TAG_ORDER = `(e.tag IS NULL OR NOT EXISTS (SELECT 1 FROM events p WHERE p.registry = e.registry AND p.repository = e.repository
  AND p.tag = e.tag AND p.seq < e.seq AND p.status IN ('queued', 'running', 'blocked-on-registry')))`;

/**
 * SQL (either dialect; `now1`, `now2`: the store clock in ms, twice for positional parameters; `t`: a table
 * qualifier such as `j.`) true when a
 * put-back event (queued, or blocked on its registry) is due: its due time has come, or the clock is before
 * the write that set it (`put_at`, migration 25), so it was set back since and how long the event has
 * waited is unknown. Taking it then costs at most an early try (the waits that must be counted are bounded
 * by counts kept with the event: src/gate/tag-links.ts, src/gate/digest-pushes.ts); waiting for the due time
 * kept it, and every later event of its tag, waiting as long as the clock was set back.
 */
export const PUT_BACK_DUE = (now1: string, now2: string, t = '') => `(${t}due_at <= ${now1} OR ${t}put_at > ${now2})`;

/**
 * SQL (either dialect) true when a running event's lease is over: it has run out, or the clock is back
 * further than the lease's own length (`lease_until - put_at`) before the write that set it, so a worker
 * killed before a clock was set back does not hold its event (and its tag) for as long as the step. A live
 * worker renews every third of its lease, so a step back shorter than its lease never takes its event away.
 */
export const LEASE_OVER = (now1: string, now2: string, t = '') => `(${t}lease_until < ${now1} OR (${t}put_at > 0 AND 2 * ${t}put_at - ${t}lease_until > ${now2}))`;

/**
 * The two queries of a SQLite claim (parameter: now, ms): the first due `queued` event and the first
 * `running` event whose lease expired, each in seq order and held back while an earlier event of its
 * tag is open ({@link TAG_ORDER}); the claim takes the older of the two. Each walks index
 * `events_status_seq` and stops at its first match: one query with `(queued AND due) OR (running AND
 * expired)` sorted every due event on each claim, so a backlog of n events cost O(n) per claim and
 * draining a burst was quadratic.
 */
export const CLAIM_SQLITE = {
  queued: `SELECT seq, payload, attempts, last_error, created_at, link_hand_backs FROM events e INDEXED BY events_status_seq
           WHERE status = 'queued' AND ${PUT_BACK_DUE('@now', '@now')} AND ${TAG_ORDER}
           ORDER BY seq LIMIT 1`,
  expired: `SELECT seq, payload, attempts, last_error, created_at, link_hand_backs FROM events e INDEXED BY events_status_seq
            WHERE status = 'running' AND ${LEASE_OVER('@now', '@now')} AND ${TAG_ORDER}
            ORDER BY seq LIMIT 1`,
} as const;

/** Counts by state from `status, n` rows (either dialect); states without a row are 0. */
export function countsOf(rows: Row[]): Record<QueueState, number> {
  const out = Object.fromEntries(QUEUE_STATES.map((s) => [s, 0])) as Record<QueueState, number>;
  for (const r of rows) if ((QUEUE_STATES as readonly string[]).includes(String(r.status))) out[String(r.status) as QueueState] = Number(r.n);
  return out;
}

/** The queue's de-duplication key: the same sender event (Distribution retries it) is queued once. */
export function dedupeKey(event: PushEvent): string {
  return [event.registry, event.source, event.id].join('\u001f');
}

/** The tags of `v` after `tag` moved onto (`here`) or away from its digest; undefined when unchanged. */
export function movedTags(v: Verdict, tag: string, here: boolean): string[] | undefined {
  const has = (v.tags ?? []).includes(tag);
  if (here === has) return undefined;
  return here ? [...(v.tags ?? []), tag].sort() : v.tags.filter((t) => t !== tag);
}

/** Merges the tags of an older verdict of the same key into a new one. */
/**
 * Inserts or replaces a verdict (tags merged with the stored ones), inside the caller's transaction;
 * the database digest and policy revision that judged it are kept as columns too. With `tags`
 * `'stored'` (a monitor re-judgement, which knows nothing newer of tags than the store) a stored
 * verdict's tags are kept as they are: a tag moved away after the pass read the verdict (moveTag,
 * which does not renumber the verdict) is not merged back.
 */
/**
 * Writes a report whole (JSON text `body`) and clears its patch (src/store/report-patch.ts); call it
 * inside a transaction.
 */
export function writeReport(db: Database.Database, digest: string, body: string, now: number, prepare: (sql: string) => Database.Statement = (sql) => db.prepare(sql)): void {
  prepare('INSERT INTO reports (digest, body, created_at, patch) VALUES (?, ?, ?, NULL) ON CONFLICT (digest) DO UPDATE SET body = excluded.body, created_at = excluded.created_at, patch = NULL').run(digest, body, now);
  prepare('DELETE FROM report_patches WHERE digest = ?').run(digest);
}

export function writeVerdict(db: Database.Database, v: Verdict, prepare: (sql: string) => Database.Statement = (sql) => db.prepare(sql), tags: 'merge' | 'stored' = 'merge'): void {
  const old = prepare('SELECT body FROM verdicts WHERE registry = ? AND repository = ? AND digest = ?').get(v.registry, v.repository, v.digest) as Row | undefined;
  const prev = old ? (JSON.parse(String(old.body)) as Verdict) : undefined;
  const merged = tags === 'stored' && prev ? { ...v, tags: prev.tags ?? [] } : mergeTags(v, prev);
  prepare(
    `INSERT INTO verdicts (registry, repository, digest, decision, body, evaluated_at, updated_seq, vulndb_digest, policy_revision)
     VALUES (?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(updated_seq), 0) + 1 FROM verdicts), ?, ?)
     ON CONFLICT (registry, repository, digest) DO UPDATE SET decision = excluded.decision, body = excluded.body,
       evaluated_at = excluded.evaluated_at, updated_seq = excluded.updated_seq, vulndb_digest = excluded.vulndb_digest,
       policy_revision = excluded.policy_revision`,
  ).run(v.registry, v.repository, v.digest, merged.decision, JSON.stringify(merged), merged.evaluatedAt, merged.vulndb?.digest ?? null, merged.policy?.revision ?? null);
}

export function mergeTags(v: Verdict, old: Verdict | undefined): Verdict {
  if (!old) return v;
  const tags = Array.from(new Set([...(old.tags ?? []), ...(v.tags ?? [])])).sort();
  return { ...v, tags };
}

/** Maps an audit row (either dialect) to an AuditRecord. */
export function auditFromRow(r: Row): AuditRecord {
  return {
    seq: Number(r.seq),
    at: String(r.at),
    actor: String(r.actor),
    action: String(r.action),
    registry: (r.registry as string | null) ?? undefined,
    repository: (r.repository as string | null) ?? undefined,
    digest: (r.digest as string | null) ?? undefined,
    tag: (r.tag as string | null) ?? undefined,
    detail: r.detail ? (JSON.parse(String(r.detail)) as Record<string, unknown>) : undefined,
  };
}

/** The audit columns a {@link AuditFilter} may name (its keys are the column names). */
const AUDIT_FILTER_COLUMNS = ['actor', 'action', 'registry', 'repository', 'digest', 'tag'] as const;

/** WHERE clause of an audit query; `ph(n)` renders the n-th placeholder (1-based). */
export function auditWhere(f: AuditFilter, ph: (n: number) => string): { where: string; args: unknown[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  for (const col of AUDIT_FILTER_COLUMNS) {
    if (f[col] === undefined) continue;
    args.push(f[col]);
    where.push(`${col} = ${ph(args.length)}`);
  }
  if (f.beforeSeq !== undefined) {
    args.push(f.beforeSeq);
    where.push(`seq < ${ph(args.length)}`);
  }
  if (f.since !== undefined) {
    args.push(f.since);
    where.push(`at >= ${ph(args.length)}`);
  }
  if (f.actions) {
    if (!f.actions.length) where.push('1 = 0');
    else where.push(`action IN (${f.actions.map((a) => (args.push(a), ph(args.length))).join(', ')})`);
  }
  return { where: where.length ? `WHERE ${where.join(' AND ')}` : '', args };
}

/**
 * WHERE clause of a verdict search ({@link Store.pageVerdicts}); `ph(n)` renders the n-th placeholder,
 * `hasTag(p)` the dialect's test that the JSON body's `tags` holds placeholder `p`, `contains(p)` that
 * `repository` contains it.
 */
export function verdictWhere(q: VerdictQuery, ph: (n: number) => string, hasTag: (p: string) => string, contains: (p: string) => string): { where: string; args: unknown[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  const add = (v: unknown, sql: (p: string) => string) => {
    if (v === undefined) return;
    args.push(v);
    where.push(sql(ph(args.length)));
  };
  add(q.registry, (p) => `registry = ${p}`);
  add(q.repository, contains);
  add(q.digest, (p) => `digest = ${p}`);
  add(q.decision, (p) => `decision = ${p}`);
  add(q.tag, hasTag);
  if (q.after) {
    const ps = q.after.map((v) => (args.push(v), ph(args.length)));
    where.push(`(updated_seq, registry, repository, digest) < (${ps.join(', ')})`);
  }
  return { where: where.length ? `WHERE ${where.join(' AND ')}` : '', args };
}

/** The page of verdict rows read with `limit + 1` (either dialect): the extra row says that more follow. */
export function verdictPage(rows: Row[], limit: number): VerdictPage {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return {
    items: items.map((r) => JSON.parse(String(r.body)) as Verdict),
    ...(rows.length > limit && last ? { next: [Number(last.updated_seq), String(last.registry), String(last.repository), String(last.digest)] as VerdictCursor } : {}),
  };
}

/** Maps a row of {@link Store.countAuditRules} (either dialect). */
export function ruleCountFromRow(r: Row): AuditRuleCount {
  return { bucket: String(r.bucket), registry: r.registry === null ? null : String(r.registry), rule: r.rule === null || r.rule === undefined ? null : String(r.rule), count: Number(r.n) };
}

/** Maps a vex_documents row (either dialect). */
export function vexDocumentFromRow(r: Row): StoredVexDocument {
  return { id: Number(r.id), at: String(r.at), actor: String(r.actor), author: String(r.author), statements: Number(r.statements), body: String(r.body) };
}

/** Maps an exceptions row (either dialect). */
export function exceptionFromRow(r: Row): StoredException {
  return {
    id: Number(r.id),
    at: String(r.at),
    actor: String(r.actor),
    expires: String(r.expires),
    spec: JSON.parse(String(r.spec)) as StoredException['spec'],
    ...(r.revoked_at ? { revokedAt: String(r.revoked_at), revokedBy: String(r.revoked_by) } : {}),
  };
}

/** Maps a quarantine row (either dialect). */
export function quarantineFromRow(r: Row): QuarantineRecord {
  return {
    id: Number(r.id),
    at: Number(r.at),
    registry: String(r.registry),
    repository: String(r.repository),
    tag: String(r.tag),
    digest: String(r.digest),
    quarantineRepository: String(r.quarantine_repository),
    state: String(r.state) as QuarantineState,
    stateAt: Number(r.state_at),
  };
}

/** WHERE clause of a quarantine query; `ph(n)` renders the n-th placeholder (1-based). */
export function quarantineWhere(q: QuarantineQuery, ph: (n: number) => string): { where: string; args: unknown[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  const add = (col: string, op: string, v: unknown) => {
    if (v === undefined) return;
    args.push(v);
    where.push(`${col} ${op} ${ph(args.length)}`);
  };
  add('registry', '=', q.registry);
  add('repository', '=', q.repository);
  add('tag', '=', q.tag);
  add('digest', '=', q.digest);
  add('state', '=', q.state);
  add('at', '<', q.before);
  add('id', '<', q.beforeId);
  return { where: where.length ? `WHERE ${where.join(' AND ')}` : '', args };
}
