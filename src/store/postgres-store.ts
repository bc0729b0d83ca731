/**
 * PostgreSQL store (node-postgres), for several pushgate replicas sharing one queue and one
 * verdict table. Claims use `FOR UPDATE SKIP LOCKED`, so two workers never take the same event.
 */
import pg from 'pg';
import { PushgateError, type Digest, type PushEvent, type ScanReport, type Verdict } from '../core/index.js';
import { PostgresWorkloadStore, type WorkloadStore } from './workloads.js';
import { PostgresClusterStateStore, type ClusterStateStore } from './cluster-state.js';
import { MIGRATIONS, unknownMigrations } from './sql.js';
import type { MonitorStore } from './monitor-types.js';
import type { BaseCatalogStore } from './base-catalog-types.js';
import { PostgresBaseCatalogStore } from './base-catalog.js';
import { PostgresMonitorStore } from './postgres-monitor.js';
import { reportOf } from './report-patch.js';
import { auditFromRow, auditWhere, countsOf, dedupeKey, exceptionFromRow, LEASE_OVER, PUT_BACK_DUE, vexDocumentFromRow, mergeTags, movedTags, quarantineFromRow, quarantineWhere, ruleCountFromRow, TAG_ORDER, verdictPage, verdictWhere } from './sqlite-store.js';
import type { AuditFilter, AuditRecord, OwnWriteKey, QuarantineQuery, QuarantineRecord, QuarantineState, QueuedEvent, QueueState, RetryRequest, MigrationReport, Store, StoredException, StoredVexDocument, VerdictPage, VerdictQuery, AuditRuleCount } from './types.js';

/** Group-commit transactions of enqueues in flight at once ({@link PostgresStore.enqueue}). */
const MAX_FLUSHES = 2;

/** The NOTIFY channel of shared-state changes ({@link PostgresStore.subscribe}). */
const CHANGES_CHANNEL = 'pushgate_changes';

/** The database's clock in ms since the epoch (transaction start), for due times and leases. */
const NOW_MS = `(EXTRACT(EPOCH FROM now()) * 1000)::bigint`;

let idleErrors = 0;
let lastIdleError: string | undefined;

/** Errors of idle pooled PostgreSQL connections since start (count, last message): the server ended them. */
export function postgresIdleErrors(): { count: number; last?: string } {
  return { count: idleErrors, last: lastIdleError };
}

/** Connects to `url` (`postgres://user@host:port/db`). @throws PushgateError STORE when it cannot connect. */
export async function openPostgresStore(url: string): Promise<PostgresStore> {
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  // An idle pooled connection that the server ends (restart, failover, pg_terminate_backend) emits 'error' on
  // the pool; unhandled, that event would end the process. The pool drops the connection and opens a new one
  // on the next query, and the query that sees the failure rejects with STORE as any other.
  pool.on('error', (e) => {
    idleErrors++;
    lastIdleError = e.message;
  });
  // The pool listens only to idle connections: a connection checked out for a transaction (or the monitor's)
  // that the server ends emits 'error' on the client with no listener, and that ends the process. Every
  // client gets its own listener for its whole life; the query in progress rejects with the same error and
  // is handled (STORE, retried) by its caller, and the broken client is discarded when released.
  pool.on('connect', (client) => {
    client.on('error', (e) => {
      idleErrors++;
      lastIdleError = e.message;
    });
  });
  try {
    const c = await pool.connect();
    c.release();
  } catch (e) {
    await pool.end().catch(() => undefined);
    // Retryable only when the server may come back (down, restarting); a refused login or a missing
    // database stays wrong however long one waits.
    throw new PushgateError('STORE', `cannot connect to PostgreSQL at ${redactUrl(url)}: ${(e as Error).message}`, { cause: e, retryable: isConnectionError(e) });
  }
  return new PostgresStore(pool, url);
}

/**
 * True for errors that say the connection to the server is gone or not yet possible (the server is
 * down, restarting, refusing connections, or ended ours), as opposed to errors of the statement.
 * Follows PostgreSQL's SQLSTATE classes (Appendix A, "Error Codes"): class 08 (connection exception),
 * 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now; Node's socket error codes; and
 * node-postgres's messages for a lost connection (pg/lib/client.js: "Connection terminated", a client that
 * "has encountered a connection error" or "was closed" and "is not queryable").
 */
export function isConnectionError(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown } | undefined;
  const code = typeof err?.code === 'string' ? err.code : '';
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return true;
  if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) return true;
  // node-postgres's own words when a statement is sent on a client whose connection already failed or
  // ended (no SQLSTATE: the server never saw it): the pool gives a new client on the next try
  return typeof err?.message === 'string' && /Connection terminated|connection timeout|server closed the connection|(?:has encountered a connection error|was closed) and is not queryable/i.test(err.message);
}

/** Removes the password from a connection URL for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparsable url>';
  }
}

/**
 * Inserts or replaces a verdict (tags merged with the stored ones) inside the caller's transaction on
 * `c`; the database digest and policy revision that judged it are kept as columns too.
 */
export async function writeVerdictPg(c: pg.PoolClient, v: Verdict): Promise<void> {
  const old = await c.query('SELECT body FROM verdicts WHERE registry = $1 AND repository = $2 AND digest = $3 FOR UPDATE', [v.registry, v.repository, v.digest]);
  const merged = mergeTags(v, old.rows[0] ? (JSON.parse(old.rows[0].body) as Verdict) : undefined);
  await c.query(
    `INSERT INTO verdicts (registry, repository, digest, decision, body, evaluated_at, updated_seq, vulndb_digest, policy_revision)
     VALUES ($1, $2, $3, $4, $5, $6, (SELECT COALESCE(MAX(updated_seq), 0) + 1 FROM verdicts), $7, $8)
     ON CONFLICT (registry, repository, digest) DO UPDATE SET decision = EXCLUDED.decision, body = EXCLUDED.body,
       evaluated_at = EXCLUDED.evaluated_at, updated_seq = EXCLUDED.updated_seq, vulndb_digest = EXCLUDED.vulndb_digest,
       policy_revision = EXCLUDED.policy_revision`,
    // numbered like SQLite's: MAX + 1 (an index lookup), so two writes in one millisecond keep
    // their order (a clock-based number with a random tail did not)
    [v.registry, v.repository, v.digest, merged.decision, JSON.stringify(merged), merged.evaluatedAt, merged.vulndb?.digest ?? null, merged.policy?.revision ?? null],
  );
}

/** See {@link openPostgresStore}. */
export class PostgresStore implements Store {
  readonly kind = 'postgres';
  /** Continuous-monitoring tables (src/store/postgres-monitor.ts). */
  readonly monitor: MonitorStore;
  /** Base image catalog tables (src/store/base-catalog.ts). */
  readonly baseCatalog: BaseCatalogStore;
  /** Workload usage from admission reviews (src/store/workloads.ts). */
  readonly workloads: WorkloadStore;
  /** The vulnerability database and policy revision in force (src/store/cluster-state.ts). */
  readonly clusterState: ClusterStateStore;
  private readonly listeners = new Set<(topic: string) => void>();
  private listener: pg.Client | undefined;
  private listening: Promise<void> | undefined;
  private closed = false;

  /** @param url the connection URL, for the dedicated LISTEN connection of {@link subscribe}. */
  constructor(
    private readonly pool: pg.Pool,
    private readonly url?: string,
  ) {
    this.monitor = new PostgresMonitorStore(pool);
    this.baseCatalog = new PostgresBaseCatalogStore(pool);
    this.workloads = new PostgresWorkloadStore(pool);
    this.clusterState = new PostgresClusterStateStore(pool);
  }

  async subscribe(listener: (topic: string) => void): Promise<() => void> {
    this.listeners.add(listener);
    this.listening ??= this.listen(false);
    await this.listening;
    return () => this.listeners.delete(listener);
  }

  async publish(topic: string): Promise<void> {
    await this.q('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, topic]);
  }

  /**
   * Opens the LISTEN connection; when the server ends it (restart, failover, pg_terminate_backend) it is
   * made again with a backoff (0.5 s doubling to 10 s) and subscribers get `resync`.
   */
  private async listen(again: boolean, delayMs = 0): Promise<void> {
    if (this.closed || !this.url) return;
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs).unref());
    if (this.closed) return;
    const c = new pg.Client({ connectionString: this.url });
    let lost = false;
    const reconnect = () => {
      if (lost) return;
      lost = true;
      if (this.listener === c) this.listener = undefined;
      void this.listen(true, Math.min(10_000, Math.max(500, delayMs * 2)));
    };
    c.on('error', reconnect);
    c.on('end', reconnect);
    c.on('notification', (n) => {
      if (n.channel === CHANGES_CHANNEL) this.emit(n.payload ?? '');
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANGES_CHANNEL}`);
    } catch {
      c.end().catch(() => undefined);
      reconnect();
      return;
    }
    if (this.closed) {
      await c.end().catch(() => undefined);
      return;
    }
    this.listener = c;
    if (again) this.emit('resync');
  }

  private emit(topic: string): void {
    for (const l of this.listeners) {
      try {
        l(topic);
      } catch {
        // a subscriber's failure is its own
      }
    }
  }

  private async q(sql: string | pg.QueryConfig, args: unknown[] = []): Promise<pg.QueryResult> {
    try {
      return typeof sql === 'string' ? await this.pool.query(sql, args) : await this.pool.query(sql);
    } catch (e) {
      throw new PushgateError('STORE', `postgres: ${(e as Error).message}`, { cause: e, retryable: true });
    }
  }

  async migrate(): Promise<MigrationReport> {
    const c = await this.pool.connect();
    try {
      await c.query('SELECT pg_advisory_lock(7391001)');
      await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
      const done = new Set((await c.query('SELECT version FROM schema_migrations')).rows.map((r) => Number(r.version)));
      const report: MigrationReport = { applied: [], unknown: unknownMigrations(done) };
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        await c.query('BEGIN');
        await c.query((m.sql + (m.postgres ?? '')).replaceAll('{{SERIAL}}', 'BIGSERIAL PRIMARY KEY'));
        await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, new Date().toISOString()]);
        await c.query('COMMIT');
        report.applied.push({ version: m.version, name: m.name });
      }
      return report;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      // A server restarting under us is worth waiting for (openStore's wait); a failing migration is not.
      throw new PushgateError('STORE', `postgres migration failed: ${(e as Error).message}`, { cause: e, retryable: isConnectionError(e) });
    } finally {
      await c.query('SELECT pg_advisory_unlock(7391001)').catch(() => undefined);
      c.release();
    }
  }

  async probeWrite(): Promise<{ ok: true } | { ok: false; error: string }> {
    try {
      await this.pool.query('UPDATE schema_migrations SET applied_at = applied_at WHERE version = (SELECT MAX(version) FROM schema_migrations)');
      return { ok: true };
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
  }

  async ping(): Promise<boolean> {
    try {
      await this.pool.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Group commit, as the SQLite store: enqueues that arrive while a flush is on its way (concurrent webhook
   * requests) are written together in one transaction, one WAL flush for all of them; each promise resolves
   * only after that transaction committed, so the 202 still means "durably queued". At most
   * {@link MAX_FLUSHES} transactions are in flight; a bigger backlog makes bigger groups.
   */
  async enqueue(event: PushEvent): Promise<{ inserted: boolean; seq: number }> {
    return (await this.enqueueGroup([event]))[0];
  }

  /** One envelope's events as one group of the group commit: all of them are written, or none. */
  async enqueueMany(events: PushEvent[]): Promise<Array<{ inserted: boolean; seq: number }>> {
    if (events.length === 0) return [];
    return this.enqueueGroup(events);
  }

  private readonly pendingEnqueues: Array<{ events: PushEvent[]; resolve: (r: Array<{ inserted: boolean; seq: number }>) => void; reject: (e: Error) => void }> = [];
  private flushes = 0;

  private enqueueGroup(events: PushEvent[]): Promise<Array<{ inserted: boolean; seq: number }>> {
    return new Promise((resolve, reject) => {
      this.pendingEnqueues.push({ events, resolve, reject });
      if (this.pendingEnqueues.length === 1 && this.flushes < MAX_FLUSHES) setImmediate(() => void this.flushEnqueues());
    });
  }

  private async flushEnqueues(): Promise<void> {
    if (this.flushes >= MAX_FLUSHES) return;
    const batch = this.pendingEnqueues.splice(0);
    if (batch.length === 0) return;
    this.flushes++;
    try {
      try {
        const all = await this.insertEvents(batch.flatMap((b) => b.events));
        let at = 0;
        for (const b of batch) {
          b.resolve(all.slice(at, at + b.events.length));
          at += b.events.length;
        }
      } catch (e) {
        if (batch.length === 1) batch[0].reject(e as Error);
        else {
          // One bad group must not fail the others: each group in its own transaction (all or nothing).
          for (const b of batch) await this.insertEvents(b.events).then(b.resolve, b.reject);
        }
      }
    } finally {
      this.flushes--;
      if (this.pendingEnqueues.length) setImmediate(() => void this.flushEnqueues());
    }
  }

  /** Inserts `events` in one transaction (duplicates as {@link Store.enqueue}); results in order. */
  private async insertEvents(events: PushEvent[]): Promise<Array<{ inserted: boolean; seq: number }>> {
    if (events.length <= 500) {
      const one = await this.insertEventsOnce(events);
      if (one) return one;
    }
    return this.insertEventsTx(events);
  }

  /**
   * Up to 500 events in one statement (atomic by itself: one round trip, one commit): the insert and, for
   * the keys already queued, their seq, read from the statement's snapshot. Undefined when a key's row was
   * committed by another transaction after that snapshot (a concurrent duplicate): then the caller's
   * transaction path reads it.
   */
  private async insertEventsOnce(events: PushEvent[]): Promise<Array<{ inserted: boolean; seq: number }> | undefined> {
    const keys = events.map(dedupeKey);
    // One statement text whatever the group size (arrays, unnest), prepared once per connection: parsing and
    // planning a multi-row VALUES list of a new length on every flush cost more than the insert.
    const r = await this.q({
      name: 'pushgate-enqueue-group',
      text: `WITH ins AS (INSERT INTO events (dedupe_key, registry, repository, digest, tag, payload, due_at, created_at)
                      SELECT k, r, p, d, t, b, ${NOW_MS}, ${NOW_MS} FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS u(k, r, p, d, t, b, n)
                      ORDER BY n
                      ON CONFLICT (dedupe_key) DO NOTHING RETURNING seq, dedupe_key)
             SELECT seq, dedupe_key, TRUE AS inserted FROM ins
             UNION ALL SELECT seq, dedupe_key, FALSE FROM events WHERE dedupe_key = ANY($1::text[])`,
      values: [keys, events.map((e) => e.registry), events.map((e) => e.repository), events.map((e) => e.digest), events.map((e) => e.tag ?? null), events.map((e) => JSON.stringify(e))],
    });
    const seqs = new Map<string, { seq: number; inserted: boolean }>();
    // A key is in one branch only: a key inserted now is not in the statement's snapshot of `events`.
    for (const row of r.rows as Array<{ seq: string; dedupe_key: string; inserted: boolean }>) if (!seqs.has(row.dedupe_key)) seqs.set(row.dedupe_key, { seq: Number(row.seq), inserted: row.inserted });
    if (keys.some((k) => !seqs.has(k))) return undefined;
    return inGroupOrder(keys, seqs);
  }

  private async insertEventsTx(events: PushEvent[]): Promise<Array<{ inserted: boolean; seq: number }>> {
    const c = await this.pool.connect().catch((e: Error) => {
      throw new PushgateError('STORE', `postgres: ${e.message}`, { cause: e, retryable: true });
    });
    try {
      await c.query('BEGIN');
      const keys = events.map(dedupeKey);
      const seqs = new Map<string, { seq: number; inserted: boolean }>();
      // Multi-row inserts of at most 500 events (6 parameters each, well under PostgreSQL's 65,535).
      for (let i = 0; i < events.length; i += 500) {
        const chunk = events.slice(i, i + 500);
        const args: unknown[] = [];
        const rows = chunk.map((ev, j) => {
          args.push(keys[i + j], ev.registry, ev.repository, ev.digest, ev.tag ?? null, JSON.stringify(ev));
          const b = j * 6;
          return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, ${NOW_MS}, ${NOW_MS})`;
        });
        const r = await c.query(
          `INSERT INTO events (dedupe_key, registry, repository, digest, tag, payload, due_at, created_at) VALUES ${rows.join(', ')}
           ON CONFLICT (dedupe_key) DO NOTHING RETURNING seq, dedupe_key`,
          args,
        );
        for (const row of r.rows as Array<{ seq: string; dedupe_key: string }>) if (!seqs.has(row.dedupe_key)) seqs.set(row.dedupe_key, { seq: Number(row.seq), inserted: true });
      }
      const missing = [...new Set(keys.filter((k) => !seqs.has(k)))];
      if (missing.length) {
        const r = await c.query('SELECT seq, dedupe_key FROM events WHERE dedupe_key = ANY($1)', [missing]);
        for (const row of r.rows as Array<{ seq: string; dedupe_key: string }>) seqs.set(row.dedupe_key, { seq: Number(row.seq), inserted: false });
      }
      await c.query('COMMIT');
      return inGroupOrder(keys, seqs);
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e instanceof PushgateError ? e : new PushgateError('STORE', `postgres: cannot queue ${events.length} event(s): ${(e as Error).message}`, { cause: e, retryable: true });
    } finally {
      c.release();
    }
  }

  async enqueueUnlessPending(event: PushEvent, opts: { sameTag?: boolean } = {}): Promise<{ inserted: boolean; seq: number }> {
    const c = await this.pool.connect().catch((e: Error) => {
      throw new PushgateError('STORE', `postgres: ${e.message}`, { cause: e, retryable: true });
    });
    try {
      await c.query('BEGIN');
      // Serializes callers of this method for one (registry, repository, digest) across replicas;
      // the lock ends with the transaction.
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${event.registry}\u001f${event.repository}\u001f${event.digest}`]);
      const live = `SELECT seq FROM events WHERE status IN ('queued', 'running', 'blocked-on-registry') AND registry = $1 AND repository = $2 AND digest = $3`;
      const pending = opts.sameTag
        ? await c.query(`${live} AND tag IS NOT DISTINCT FROM $4 ORDER BY seq LIMIT 1`, [event.registry, event.repository, event.digest, event.tag ?? null])
        : await c.query(`${live} ORDER BY seq LIMIT 1`, [event.registry, event.repository, event.digest]);
      let result: { inserted: boolean; seq: number };
      if (pending.rows[0]) {
        result = { inserted: false, seq: Number(pending.rows[0].seq) };
      } else {
        const key = dedupeKey(event);
        const r = await c.query(
          `INSERT INTO events (dedupe_key, registry, repository, digest, tag, payload, due_at, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, ${NOW_MS}, ${NOW_MS}) ON CONFLICT (dedupe_key) DO NOTHING RETURNING seq`,
          [key, event.registry, event.repository, event.digest, event.tag ?? null, JSON.stringify(event)],
        );
        result = r.rowCount === 1
          ? { inserted: true, seq: Number(r.rows[0].seq) }
          : { inserted: false, seq: Number((await c.query('SELECT seq FROM events WHERE dedupe_key = $1', [key])).rows[0].seq) };
      }
      await c.query('COMMIT');
      return result;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw new PushgateError('STORE', `postgres: cannot queue event: ${(e as Error).message}`, { cause: e, retryable: true });
    } finally {
      c.release();
    }
  }

  // Leases, due times and events' created_at are on the database's clock (NOW_MS): replicas whose clocks
  // disagree still agree on when a lease has expired and how old an event is.
  async claim(worker: string, leaseMs: number): Promise<QueuedEvent | undefined> {
    const r = await this.q(
      `UPDATE events SET status = 'running', worker = $1, lease_until = ${NOW_MS} + $2, put_at = ${NOW_MS}, attempts = attempts + 1
       WHERE seq = (SELECT seq FROM events e WHERE ((status = 'queued' AND ${PUT_BACK_DUE(NOW_MS, NOW_MS)}) OR (status = 'running' AND ${LEASE_OVER(NOW_MS, NOW_MS)}))
                      AND ${TAG_ORDER}
                    ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING seq, payload, attempts, last_error, ${NOW_MS} - created_at AS age_ms, link_hand_backs`,
      [worker, leaseMs],
    );
    const row = r.rows[0];
    if (!row) return undefined;
    return { seq: Number(row.seq), event: JSON.parse(row.payload) as PushEvent, attempts: Number(row.attempts), lastError: row.last_error ?? undefined, ageMs: Math.max(0, Number(row.age_ms)), linkHandBacks: Number(row.link_hand_backs ?? 0) };
  }

  async extendLease(seq: number, worker: string, leaseMs: number): Promise<void> {
    await this.q(`UPDATE events SET lease_until = ${NOW_MS} + $1, put_at = ${NOW_MS} WHERE seq = $2 AND worker = $3 AND status = 'running'`, [leaseMs, seq, worker]);
  }

  async complete(seq: number, worker: string, audit?: Omit<AuditRecord, 'seq' | 'at'>): Promise<boolean> {
    const done = `UPDATE events SET status = 'done', lease_until = 0 WHERE seq = $1 AND worker = $2 AND status = 'running'`;
    if (!audit) return (await this.q(done, [seq, worker])).rowCount === 1;
    const c = await this.pool.connect().catch((e: Error) => {
      throw new PushgateError('STORE', `postgres: ${e.message}`, { cause: e, retryable: true });
    });
    try {
      await c.query('BEGIN');
      const r = await c.query(done, [seq, worker]);
      if (r.rowCount !== 1) {
        await c.query('ROLLBACK');
        return false;
      }
      await c.query('INSERT INTO audit (at, actor, action, registry, repository, digest, tag, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', auditArgs(audit));
      await c.query('COMMIT');
      return true;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw new PushgateError('STORE', `postgres: ${(e as Error).message}`, { cause: e, retryable: true });
    } finally {
      c.release();
    }
  }

  async retry(seq: number, worker: string, r: RetryRequest): Promise<boolean> {
    const res = await this.q(
      `UPDATE events SET status = $1, due_at = ${NOW_MS} + $2, put_at = ${NOW_MS}, lease_until = 0, last_error = $3, attempts = GREATEST(0, attempts - $4), link_hand_backs = link_hand_backs + $7
       WHERE seq = $5 AND worker = $6 AND status = 'running'`,
      [r.state ?? 'queued', r.retryInMs, r.error.slice(0, 2000), r.refund ? 1 : 0, seq, worker, r.linkHandBack ? 1 : 0],
    );
    return res.rowCount === 1;
  }

  async resumeBlocked(registry: string): Promise<number> {
    const r = await this.q(
      `UPDATE events SET status = 'queued', attempts = 0, due_at = ${NOW_MS}, put_at = ${NOW_MS}, worker = NULL WHERE status = 'blocked-on-registry' AND registry = $1 AND ${PUT_BACK_DUE(NOW_MS, NOW_MS)}`,
      [registry],
    );
    return r.rowCount ?? 0;
  }

  async blockedRegistries(): Promise<string[]> {
    return (await this.q(`SELECT DISTINCT registry FROM events WHERE status = 'blocked-on-registry'`)).rows.map((r) => String(r.registry));
  }

  async queueCounts(): Promise<Record<QueueState, number>> {
    return countsOf((await this.q(`SELECT status, COUNT(*) AS n FROM events WHERE status <> 'done' GROUP BY status`)).rows);
  }

  async manifestAgeMs(registry: string, repository: string, digest: Digest): Promise<number | undefined> {
    const r = await this.q(`SELECT ${NOW_MS} - MIN(created_at) AS age FROM events WHERE registry = $1 AND repository = $2 AND digest = $3`, [registry, repository, digest]);
    const age = r.rows[0]?.age;
    return age === null || age === undefined ? undefined : Math.max(0, Number(age));
  }

  async countVerdicts(): Promise<Array<{ registry: string; decision: string; count: number }>> {
    const r = await this.q('SELECT registry, decision, COUNT(*) AS n FROM verdicts GROUP BY registry, decision');
    return r.rows.map((x) => ({ registry: String(x.registry), decision: String(x.decision), count: Number(x.n) }));
  }

  async verdictSeqTop(): Promise<number> {
    const r = await this.q('SELECT COALESCE(MAX(updated_seq), 0) AS n FROM verdicts');
    return Number(r.rows[0]?.n ?? 0);
  }

  async queueDepth(): Promise<number> {
    const r = await this.q(`SELECT COUNT(*) AS n FROM events WHERE status IN ('queued', 'running')`);
    return Number(r.rows[0].n);
  }

  /**
   * Runs `fn` in a transaction on one pooled connection: committed when it resolves, rolled back when it
   * throws. @throws PushgateError STORE (retryable): `postgres: <connect error>` when no connection is
   * had, `postgres: <what>: <error>` when a statement fails.
   */
  private async inTx(what: string, fn: (c: pg.PoolClient) => Promise<void>): Promise<void> {
    const c = await this.pool.connect().catch((e: Error) => {
      throw new PushgateError('STORE', `postgres: ${e.message}`, { cause: e, retryable: true });
    });
    try {
      await c.query('BEGIN');
      await fn(c);
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw new PushgateError('STORE', `postgres: ${what}: ${(e as Error).message}`, { cause: e, retryable: true });
    } finally {
      c.release();
    }
  }

  async putVerdict(v: Verdict): Promise<void> {
    await this.inTx('put verdict', (c) => writeVerdictPg(c, v));
  }

  async moveTag(registry: string, repository: string, tag: string, digest: Digest): Promise<void> {
    await this.inTx('move tag', async (c) => {
      // rows locked in digest order, as a monitor batch locks verdicts ((registry, repository, digest)):
      // two writers taking the same rows in one order wait for each other instead of deadlocking
      const rows = await c.query('SELECT digest, body FROM verdicts WHERE registry = $1 AND repository = $2 AND (digest = $3 OR position($4 in body) > 0) ORDER BY digest FOR UPDATE', [registry, repository, digest, JSON.stringify(tag)]);
      for (const r of rows.rows as Array<{ digest: string; body: string }>) {
        const v = JSON.parse(r.body) as Verdict;
        const next = movedTags(v, tag, r.digest === digest);
        if (next) await c.query('UPDATE verdicts SET body = $1 WHERE registry = $2 AND repository = $3 AND digest = $4', [JSON.stringify({ ...v, tags: next }), registry, repository, r.digest]);
      }
    });
  }

  async tagHolders(registry: string, repository: string, tag: string): Promise<Digest[]> {
    // position() narrows to verdicts whose body mentions the tag; the JSON decides.
    const r = await this.q('SELECT digest, body FROM verdicts WHERE registry = $1 AND repository = $2 AND position($3 in body) > 0', [registry, repository, JSON.stringify(tag)]);
    return (r.rows as Array<{ digest: string; body: string }>).filter((row) => ((JSON.parse(row.body) as Verdict).tags ?? []).includes(tag)).map((row) => row.digest);
  }

  async getVerdict(registry: string, repository: string, digest: Digest): Promise<Verdict | undefined> {
    const r = await this.q('SELECT body FROM verdicts WHERE registry = $1 AND repository = $2 AND digest = $3', [registry, repository, digest]);
    return r.rows[0] ? (JSON.parse(r.rows[0].body) as Verdict) : undefined;
  }

  async getVerdictByTag(registry: string, repository: string, tag: string): Promise<Verdict | undefined> {
    const r = await this.q('SELECT digest FROM tags WHERE registry = $1 AND repository = $2 AND tag = $3 ORDER BY at DESC LIMIT 1', [registry, repository, tag]);
    return r.rows[0] ? this.getVerdict(registry, repository, r.rows[0].digest) : undefined;
  }

  async pageVerdicts(q: VerdictQuery): Promise<VerdictPage> {
    const { where, args } = verdictWhere(q, (n) => `$${n}`, (p) => `(${jsonbOf('body')} -> 'tags') ? ${p}`, (p) => `strpos(repository, ${p}) > 0`);
    args.push(q.limit + 1);
    const r = await this.q(`SELECT registry, repository, digest, updated_seq, body FROM verdicts ${where} ORDER BY updated_seq DESC, registry DESC, repository DESC, digest DESC LIMIT $${args.length}`, args);
    return verdictPage(r.rows, q.limit);
  }

  async listVerdicts(opts: { registry?: string; repository?: string; limit?: number }): Promise<Verdict[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (opts.registry) {
      args.push(opts.registry);
      where.push(`registry = $${args.length}`);
    }
    if (opts.repository) {
      args.push(opts.repository);
      where.push(`repository = $${args.length}`);
    }
    args.push(opts.limit ?? 100);
    const r = await this.q(`SELECT body FROM verdicts ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY updated_seq DESC LIMIT $${args.length}`, args);
    return r.rows.map((row) => JSON.parse(row.body) as Verdict);
  }

  async putReport(digest: Digest, report: ScanReport): Promise<void> {
    // A report written whole clears its patch, in one transaction, the report row first: a monitor batch
    // that patches this report holds that row (its UPDATE) until it commits, and the DELETE, a statement
    // of its own (READ COMMITTED: a snapshot taken after the wait), then sees the patch row the batch
    // inserted. One statement (a CTE) would look for it in a snapshot taken before, miss it, and leave the
    // pass's older findings and verdict laid over this newer body.
    await this.inTx('put report', async (c) => {
      await c.query(
        'INSERT INTO reports (digest, body, created_at, patch) VALUES ($1, $2, $3, NULL) ON CONFLICT (digest) DO UPDATE SET body = EXCLUDED.body, created_at = EXCLUDED.created_at, patch = NULL',
        [digest, JSON.stringify(report), Date.now()],
      );
      await c.query('DELETE FROM report_patches WHERE digest = $1', [digest]);
    });
  }

  async getReport(digest: Digest): Promise<ScanReport | undefined> {
    const r = await this.q('SELECT r.body, p.patch FROM reports r LEFT JOIN report_patches p ON p.digest = r.digest WHERE r.digest = $1', [digest]);
    return r.rows[0] ? reportOf(String(r.rows[0].body), r.rows[0].patch as string | null) : undefined;
  }

  async getLayer(key: string): Promise<unknown | undefined> {
    const r = await this.q('SELECT body FROM layers WHERE key = $1', [key]);
    return r.rows[0] ? JSON.parse(r.rows[0].body) : undefined;
  }

  async putLayer(key: string, value: unknown): Promise<void> {
    await this.q('INSERT INTO layers (key, body, created_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING', [key, JSON.stringify(value), Date.now()]);
  }

  async replaceLayer(key: string, value: unknown): Promise<void> {
    await this.q('INSERT INTO layers (key, body, created_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET body = excluded.body, created_at = excluded.created_at', [key, JSON.stringify(value), Date.now()]);
  }

  async recordTag(registry: string, repository: string, tag: string, digest: Digest, allowed: boolean): Promise<void> {
    await this.q('INSERT INTO tags (registry, repository, tag, digest, allowed, at) VALUES ($1, $2, $3, $4, $5, $6)', [registry, repository, tag, digest, allowed ? 1 : 0, Date.now()]);
  }

  async lastAllowed(registry: string, repository: string, tag: string, except?: Digest): Promise<Digest | undefined> {
    const r = await this.q(
      `SELECT digest FROM tags t WHERE registry = $1 AND repository = $2 AND tag = $3 AND allowed = 1 AND digest <> $4
         AND NOT EXISTS (SELECT 1 FROM tags b WHERE b.registry = t.registry AND b.repository = t.repository AND b.tag = t.tag
           AND b.digest = t.digest AND b.allowed = 0 AND b.at >= t.at)
       ORDER BY at DESC LIMIT 1`,
      [registry, repository, tag, except ?? ''],
    );
    return r.rows[0]?.digest;
  }

  async allowedForTag(registry: string, repository: string, tag: string, except: Digest | undefined, limit: number): Promise<Digest[]> {
    const r = await this.q(
      `SELECT digest, MAX(at) AS last FROM tags t WHERE registry = $1 AND repository = $2 AND tag = $3 AND allowed = 1 AND digest <> $4
         AND NOT EXISTS (SELECT 1 FROM tags b WHERE b.registry = t.registry AND b.repository = t.repository AND b.tag = t.tag
           AND b.digest = t.digest AND b.allowed = 0 AND b.at >= t.at)
       GROUP BY digest ORDER BY last DESC LIMIT $5`,
      [registry, repository, tag, except ?? '', limit],
    );
    return r.rows.map((row: { digest: string }) => row.digest);
  }

  async audit(entry: Omit<AuditRecord, 'seq' | 'at'>): Promise<void> {
    await this.q('INSERT INTO audit (at, actor, action, registry, repository, digest, tag, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', auditArgs(entry));
  }

  async listAudit(limit: number, filter: AuditFilter = {}): Promise<AuditRecord[]> {
    const { where, args } = auditWhere(filter, (n) => `$${n}`);
    args.push(limit);
    const r = await this.q(`SELECT * FROM audit ${where} ORDER BY seq DESC LIMIT $${args.length}`, args);
    return r.rows.map(auditFromRow);
  }

  async countAuditRules(actions: string[], since: string, bucketChars: 10 | 13): Promise<{ groups: AuditRuleCount[]; records: number }> {
    if (!actions.length) return { groups: [], records: 0 };
    const inList = (from: number) => actions.map((_, i) => `$${i + from}`).join(', ');
    // A detail may quote a pusher's bytes (the proxy audits the parser's message for a refused manifest): see jsonbOf.
    const groups = await this.q(
      `SELECT substr(a.at, 1, $1) AS bucket, a.registry AS registry, j.value AS rule, COUNT(*) AS n
       FROM audit a
       CROSS JOIN LATERAL (SELECT ${jsonbOf('a.detail')} AS d) AS p
       LEFT JOIN LATERAL jsonb_array_elements_text(
         CASE WHEN jsonb_typeof(p.d -> 'blocking') = 'array' THEN p.d -> 'blocking' WHEN jsonb_typeof(p.d -> 'reasons') = 'array' THEN p.d -> 'reasons' ELSE '[]'::jsonb END) AS j(value) ON true
       WHERE a.action IN (${inList(2)}) AND a.at >= $${actions.length + 2} GROUP BY 1, 2, 3`,
      [bucketChars, ...actions, since],
    );
    const records = await this.q(`SELECT COUNT(*) AS n FROM audit WHERE action IN (${inList(1)}) AND at >= $${actions.length + 1}`, [...actions, since]);
    return { groups: groups.rows.map(ruleCountFromRow), records: Number(records.rows[0].n) };
  }

  async addException(actor: string, spec: StoredException['spec']): Promise<StoredException> {
    const at = new Date().toISOString();
    const r = await this.q('INSERT INTO exceptions (at, actor, expires, spec) VALUES ($1, $2, $3, $4) RETURNING id', [at, actor, spec.expires, JSON.stringify(spec)]);
    return { id: Number(r.rows[0].id), at, actor, expires: spec.expires, spec };
  }

  async listExceptions(): Promise<StoredException[]> {
    return (await this.q('SELECT * FROM exceptions ORDER BY id')).rows.map(exceptionFromRow);
  }

  async revokeException(id: number, actor: string): Promise<StoredException | undefined> {
    await this.q('UPDATE exceptions SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL', [new Date().toISOString(), actor, id]);
    const r = await this.q('SELECT * FROM exceptions WHERE id = $1', [id]);
    return r.rows[0] ? exceptionFromRow(r.rows[0]) : undefined;
  }

  async addVexDocument(actor: string, doc: Pick<StoredVexDocument, 'author' | 'statements' | 'body'>): Promise<StoredVexDocument> {
    const at = new Date().toISOString();
    const r = await this.q('INSERT INTO vex_documents (at, actor, author, statements, body) VALUES ($1, $2, $3, $4, $5) RETURNING id', [at, actor, doc.author, doc.statements, doc.body]);
    return { id: Number(r.rows[0].id), at, actor, ...doc };
  }

  async listVexDocuments(): Promise<StoredVexDocument[]> {
    return (await this.q('SELECT * FROM vex_documents ORDER BY id')).rows.map(vexDocumentFromRow);
  }

  async deleteVexDocument(id: number): Promise<StoredVexDocument | undefined> {
    const r = await this.q('DELETE FROM vex_documents WHERE id = $1 RETURNING *', [id]);
    return r.rows[0] ? vexDocumentFromRow(r.rows[0]) : undefined;
  }

  async recordQuarantine(q: Pick<QuarantineRecord, 'registry' | 'repository' | 'tag' | 'digest' | 'quarantineRepository'>): Promise<QuarantineRecord> {
    const at = Date.now();
    const r = await this.q(
      'INSERT INTO quarantine (at, registry, repository, tag, digest, quarantine_repository, state, state_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id',
      [at, q.registry, q.repository, q.tag, q.digest, q.quarantineRepository, 'quarantined', at],
    );
    return { id: Number(r.rows[0].id), at, ...q, state: 'quarantined', stateAt: at };
  }

  async listQuarantine(q: QuarantineQuery): Promise<QuarantineRecord[]> {
    const { where, args } = quarantineWhere(q, (n) => `$${n}`);
    args.push(q.limit ?? 1000);
    return (await this.q(`SELECT * FROM quarantine ${where} ORDER BY id DESC LIMIT $${args.length}`, args)).rows.map(quarantineFromRow);
  }

  async countQuarantine(q: QuarantineQuery): Promise<number> {
    const { where, args } = quarantineWhere({ ...q, beforeId: undefined }, (n) => `$${n}`);
    return Number((await this.q(`SELECT COUNT(*) AS n FROM quarantine ${where}`, args)).rows[0].n);
  }

  async setQuarantineState(id: number, state: QuarantineState): Promise<void> {
    await this.q('UPDATE quarantine SET state = $1, state_at = $2 WHERE id = $3', [state, Date.now(), id]);
  }

  async rememberOwnWrite(w: OwnWriteKey, expiresAt: number): Promise<void> {
    await this.q('DELETE FROM own_writes WHERE expires_at < $1', [Date.now()]);
    await this.q(
      `INSERT INTO own_writes (registry, repository, digest, tag, expires_at, consumed_by) VALUES ($1, $2, $3, $4, $5, NULL)
       ON CONFLICT (registry, repository, digest, tag) DO UPDATE SET expires_at = EXCLUDED.expires_at, consumed_by = NULL`,
      [w.registry, w.repository, w.digest, w.tag, expiresAt],
    );
  }

  /**
   * Asked for every notification event, so concurrent calls are coalesced as enqueues are: the calls that
   * arrive while a check is on its way are answered by one UPDATE (at most {@link MAX_FLUSHES} in flight).
   * Each memo row is consumed by one event: when several calls in one batch name the same row, one
   * event's id wins and a call with that same event id (a redelivery) is true too, as when run one by one.
   */
  consumeOwnWrite(w: OwnWriteKey, eventId: string, now: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pendingOwn.push({ w, eventId, now, resolve, reject });
      if (this.pendingOwn.length === 1 && this.ownFlushes < MAX_FLUSHES) setImmediate(() => void this.flushOwn());
    });
  }

  private readonly pendingOwn: Array<{ w: OwnWriteKey; eventId: string; now: number; resolve: (b: boolean) => void; reject: (e: Error) => void }> = [];
  private ownFlushes = 0;

  private async flushOwn(): Promise<void> {
    if (this.ownFlushes >= MAX_FLUSHES) return;
    const batch = this.pendingOwn.splice(0);
    if (!batch.length) return;
    this.ownFlushes++;
    try {
      const r = await this.q({
        name: 'pushgate-consume-own-writes',
        text: `UPDATE own_writes o SET consumed_by = u.e
               FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS u(e, r, p, d, t, n)
               WHERE o.registry = u.r AND o.repository = u.p AND o.digest = u.d AND o.tag = u.t AND o.expires_at >= u.n
                 AND (o.consumed_by IS NULL OR o.consumed_by = u.e)
               RETURNING o.registry, o.repository, o.digest, o.tag, o.consumed_by`,
        values: [batch.map((b) => b.eventId), batch.map((b) => b.w.registry), batch.map((b) => b.w.repository), batch.map((b) => b.w.digest), batch.map((b) => b.w.tag), batch.map((b) => b.now)],
      });
      const won = new Set((r.rows as Array<Record<string, string>>).map((x) => JSON.stringify([x.registry, x.repository, x.digest, x.tag, x.consumed_by])));
      for (const b of batch) b.resolve(won.has(JSON.stringify([b.w.registry, b.w.repository, b.w.digest, b.w.tag, b.eventId])));
    } catch (e) {
      for (const b of batch) b.reject(e as Error);
    } finally {
      this.ownFlushes--;
      if (this.pendingOwn.length) setImmediate(() => void this.flushOwn());
    }
  }

  async claimJob(name: string, owner: string, leaseMs: number): Promise<{ startedAt: number } | undefined> {
    // One statement: the row is created on first use; an existing one is taken only when due and not
    // leased (a dead owner's lease has expired). Concurrent claims serialize on the row.
    const r = await this.q(
      `INSERT INTO cluster_jobs AS j (name, owner, lease_until, due_at, started_at, put_at) VALUES ($1, $2, ${NOW_MS} + $3, 0, ${NOW_MS}, ${NOW_MS})
       ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until, started_at = EXCLUDED.started_at, put_at = EXCLUDED.put_at
       WHERE ${PUT_BACK_DUE(NOW_MS, NOW_MS, 'j.')} AND ${LEASE_OVER(NOW_MS, NOW_MS, 'j.')}
       RETURNING started_at`,
      [name, owner, leaseMs],
    );
    return r.rows[0] ? { startedAt: Number(r.rows[0].started_at) } : undefined;
  }

  async renewJob(name: string, owner: string, leaseMs: number): Promise<boolean> {
    const r = await this.q(`UPDATE cluster_jobs SET lease_until = ${NOW_MS} + $1, put_at = ${NOW_MS} WHERE name = $2 AND owner = $3`, [leaseMs, name, owner]);
    return r.rowCount === 1;
  }

  async finishJob(name: string, owner: string, nextInMs: number): Promise<boolean> {
    const r = await this.q(`UPDATE cluster_jobs SET lease_until = 0, owner = NULL, due_at = ${NOW_MS} + $1, finished_at = ${NOW_MS}, put_at = ${NOW_MS} WHERE name = $2 AND owner = $3`, [nextInMs, name, owner]);
    return r.rowCount === 1;
  }

  async close(): Promise<void> {
    this.closed = true;
    const l = this.listener;
    this.listener = undefined;
    await l?.end().catch(() => undefined);
    await this.pool.end();
  }
}

/** Parameters $1..$8 of the audit INSERT. */
function auditArgs(entry: Omit<AuditRecord, 'seq' | 'at'>): unknown[] {
  return [new Date().toISOString(), entry.actor, entry.action, entry.registry ?? null, entry.repository ?? null, entry.digest ?? null, entry.tag ?? null, entry.detail ? JSON.stringify(entry.detail) : null];
}

/**
 * The result of a group of enqueues, one entry per key in the group's order: the stored `seq` of its event,
 * and `inserted` for the first occurrence of a key the statement inserted (a repeat in the same group, or a
 * key already queued, is a duplicate). Every key must be in `seqs`.
 */
function inGroupOrder(keys: readonly string[], seqs: ReadonlyMap<string, { seq: number; inserted: boolean }>): Array<{ seq: number; inserted: boolean }> {
  const seen = new Set<string>();
  return keys.map((k) => {
    const s = seqs.get(k)!;
    const first = !seen.has(k);
    seen.add(k);
    return { seq: s.seq, inserted: s.inserted && first };
  });
}

/**
 * SQL casting the JSON text in column `col` to jsonb whatever strings it holds. Stored JSON may quote
 * a pusher's bytes (a refused manifest's parser message in an audit detail, a package name in a
 * verdict's reasons), and jsonb refuses the escapes of NUL and of lone UTF-16 surrogates that
 * JSON.stringify writes for them: one such row would fail every query casting it. Those escapes (a
 * backslash, "u", four hex digits) become U+FFFD first, which is safe wherever the six characters stand
 * (after an escaped backslash they are plain text, and stay plain text); only rows holding an escape pay
 * for the replacement. Keys and values without such escapes keep their value.
 */
function jsonbOf(col: string): string {
  return `(CASE WHEN strpos(${col}, '\\u') > 0 THEN regexp_replace(${col}, '\\\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})', '\\\\ufffd', 'g') ELSE ${col} END)::jsonb`;
}
