/**
 * PostgreSQL store (node-postgres), for several pushgate replicas sharing one queue and one
 * verdict table. Claims use `FOR UPDATE SKIP LOCKED`, so two workers never take the same event.
 */
import pg from 'pg';
import { PushgateError, type Digest, type PushEvent, type ScanReport, type Verdict } from '../core/index.js';
import { MIGRATIONS } from './sql.js';
import type { MonitorStore } from './monitor-types.js';
import type { BaseCatalogStore } from './base-catalog-types.js';
import { PostgresBaseCatalogStore } from './base-catalog.js';
import { PostgresMonitorStore } from './postgres-monitor.js';
import { auditFromRow, auditWhere, countsOf, dedupeKey, exceptionFromRow, mergeTags, movedTags, quarantineFromRow, quarantineWhere, TAG_ORDER } from './sqlite-store.js';
import type { AuditFilter, AuditRecord, OwnWriteKey, QuarantineQuery, QuarantineRecord, QuarantineState, QueuedEvent, QueueState, Store, StoredException } from './types.js';

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
  try {
    const c = await pool.connect();
    c.release();
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw new PushgateError('STORE', `cannot connect to PostgreSQL at ${redactUrl(url)}: ${(e as Error).message}`, { cause: e, retryable: true });
  }
  return new PostgresStore(pool);
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
  constructor(private readonly pool: pg.Pool) {
    this.monitor = new PostgresMonitorStore(pool);
    this.baseCatalog = new PostgresBaseCatalogStore(pool);
  }

  private async q(sql: string, args: unknown[] = []): Promise<pg.QueryResult> {
    try {
      return await this.pool.query(sql, args);
    } catch (e) {
      throw new PushgateError('STORE', `postgres: ${(e as Error).message}`, { cause: e, retryable: true });
    }
  }

  async migrate(): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query('SELECT pg_advisory_lock(7391001)');
      await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
      const done = new Set((await c.query('SELECT version FROM schema_migrations')).rows.map((r) => Number(r.version)));
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        await c.query('BEGIN');
        await c.query((m.sql + (m.postgres ?? '')).replaceAll('{{SERIAL}}', 'BIGSERIAL PRIMARY KEY'));
        await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, new Date().toISOString()]);
        await c.query('COMMIT');
      }
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw new PushgateError('STORE', `postgres migration failed: ${(e as Error).message}`, { cause: e });
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

  async enqueue(event: PushEvent): Promise<{ inserted: boolean; seq: number }> {
    const key = dedupeKey(event);
    const now = Date.now();
    const r = await this.q(
      `INSERT INTO events (dedupe_key, registry, repository, digest, tag, payload, due_at, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, ${NOW_MS}, $7) ON CONFLICT (dedupe_key) DO NOTHING RETURNING seq`,
      [key, event.registry, event.repository, event.digest, event.tag ?? null, JSON.stringify(event), now],
    );
    if (r.rowCount === 1) return { inserted: true, seq: Number(r.rows[0].seq) };
    const row = await this.q('SELECT seq FROM events WHERE dedupe_key = $1', [key]);
    return { inserted: false, seq: Number(row.rows[0].seq) };
  }

  async enqueueMany(events: PushEvent[]): Promise<Array<{ inserted: boolean; seq: number }>> {
    if (events.length === 0) return [];
    const c = await this.pool.connect().catch((e: Error) => {
      throw new PushgateError('STORE', `postgres: ${e.message}`, { cause: e, retryable: true });
    });
    try {
      await c.query('BEGIN');
      const now = Date.now();
      const keys = events.map(dedupeKey);
      const seqs = new Map<string, { seq: number; inserted: boolean }>();
      // Multi-row inserts of at most 500 events (7 parameters each, well under PostgreSQL's 65,535).
      for (let i = 0; i < events.length; i += 500) {
        const chunk = events.slice(i, i + 500);
        const args: unknown[] = [];
        const rows = chunk.map((ev, j) => {
          args.push(keys[i + j], ev.registry, ev.repository, ev.digest, ev.tag ?? null, JSON.stringify(ev), now);
          const b = j * 7;
          return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, ${NOW_MS}, $${b + 7})`;
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
      // The first occurrence of a key in the envelope is the one inserted; repeats are duplicates.
      const seen = new Set<string>();
      return keys.map((k) => {
        const s = seqs.get(k)!;
        const first = !seen.has(k);
        seen.add(k);
        return { seq: s.seq, inserted: s.inserted && first };
      });
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e instanceof PushgateError ? e : new PushgateError('STORE', `postgres: cannot queue ${events.length} event(s): ${(e as Error).message}`, { cause: e, retryable: true });
    } finally {
      c.release();
    }
  }

  async enqueueUnlessPending(event: PushEvent): Promise<{ inserted: boolean; seq: number }> {
    const c = await this.pool.connect().catch((e: Error) => {
      throw new PushgateError('STORE', `postgres: ${e.message}`, { cause: e, retryable: true });
    });
    try {
      await c.query('BEGIN');
      // Serializes callers of this method for one (registry, repository, digest) across replicas;
      // the lock ends with the transaction.
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${event.registry}\u001f${event.repository}\u001f${event.digest}`]);
      const pending = await c.query(
        `SELECT seq FROM events WHERE status IN ('queued', 'running', 'blocked-on-registry') AND registry = $1 AND repository = $2 AND digest = $3 ORDER BY seq LIMIT 1`,
        [event.registry, event.repository, event.digest],
      );
      let result: { inserted: boolean; seq: number };
      if (pending.rows[0]) {
        result = { inserted: false, seq: Number(pending.rows[0].seq) };
      } else {
        const now = Date.now();
        const key = dedupeKey(event);
        const r = await c.query(
          `INSERT INTO events (dedupe_key, registry, repository, digest, tag, payload, due_at, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, ${NOW_MS}, $7) ON CONFLICT (dedupe_key) DO NOTHING RETURNING seq`,
          [key, event.registry, event.repository, event.digest, event.tag ?? null, JSON.stringify(event), now],
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

  // Leases and due times are on the database's clock (NOW_MS): replicas whose clocks disagree still
  // agree on when a lease has expired.
  async claim(worker: string, leaseMs: number): Promise<QueuedEvent | undefined> {
    const r = await this.q(
      `UPDATE events SET status = 'running', worker = $1, lease_until = ${NOW_MS} + $2, attempts = attempts + 1
       WHERE seq = (SELECT seq FROM events e WHERE ((status = 'queued' AND due_at <= ${NOW_MS}) OR (status = 'running' AND lease_until < ${NOW_MS}))
                      AND ${TAG_ORDER}
                    ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING seq, payload, attempts, last_error`,
      [worker, leaseMs],
    );
    const row = r.rows[0];
    if (!row) return undefined;
    return { seq: Number(row.seq), event: JSON.parse(row.payload) as PushEvent, attempts: Number(row.attempts), lastError: row.last_error ?? undefined };
  }

  async extendLease(seq: number, worker: string, leaseMs: number): Promise<void> {
    await this.q(`UPDATE events SET lease_until = ${NOW_MS} + $1 WHERE seq = $2 AND worker = $3 AND status = 'running'`, [leaseMs, seq, worker]);
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

  async retry(seq: number, worker: string, r: { error: string; retryInMs: number; state?: 'queued' | 'blocked-on-registry' | 'failed'; refund?: boolean }): Promise<boolean> {
    const res = await this.q(
      `UPDATE events SET status = $1, due_at = ${NOW_MS} + $2, lease_until = 0, last_error = $3, attempts = GREATEST(0, attempts - $4)
       WHERE seq = $5 AND worker = $6 AND status = 'running'`,
      [r.state ?? 'queued', r.retryInMs, r.error.slice(0, 2000), r.refund ? 1 : 0, seq, worker],
    );
    return res.rowCount === 1;
  }

  async resumeBlocked(registry: string): Promise<number> {
    const r = await this.q(
      `UPDATE events SET status = 'queued', attempts = 0, due_at = ${NOW_MS}, worker = NULL WHERE status = 'blocked-on-registry' AND registry = $1 AND due_at <= ${NOW_MS}`,
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

  async queueDepth(): Promise<number> {
    const r = await this.q(`SELECT COUNT(*) AS n FROM events WHERE status IN ('queued', 'running')`);
    return Number(r.rows[0].n);
  }

  async putVerdict(v: Verdict): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      await writeVerdictPg(c, v);
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw new PushgateError('STORE', `postgres: put verdict: ${(e as Error).message}`, { cause: e, retryable: true });
    } finally {
      c.release();
    }
  }

  async moveTag(registry: string, repository: string, tag: string, digest: Digest): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const rows = await c.query('SELECT digest, body FROM verdicts WHERE registry = $1 AND repository = $2 AND (digest = $3 OR position($4 in body) > 0) FOR UPDATE', [registry, repository, digest, JSON.stringify(tag)]);
      for (const r of rows.rows as Array<{ digest: string; body: string }>) {
        const v = JSON.parse(r.body) as Verdict;
        const next = movedTags(v, tag, r.digest === digest);
        if (next) await c.query('UPDATE verdicts SET body = $1 WHERE registry = $2 AND repository = $3 AND digest = $4', [JSON.stringify({ ...v, tags: next }), registry, repository, r.digest]);
      }
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw new PushgateError('STORE', `postgres: move tag: ${(e as Error).message}`, { cause: e, retryable: true });
    } finally {
      c.release();
    }
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
    await this.q('INSERT INTO reports (digest, body, created_at) VALUES ($1, $2, $3) ON CONFLICT (digest) DO UPDATE SET body = EXCLUDED.body, created_at = EXCLUDED.created_at', [digest, JSON.stringify(report), Date.now()]);
  }

  async getReport(digest: Digest): Promise<ScanReport | undefined> {
    const r = await this.q('SELECT body FROM reports WHERE digest = $1', [digest]);
    return r.rows[0] ? (JSON.parse(r.rows[0].body) as ScanReport) : undefined;
  }

  async getLayer(key: string): Promise<unknown | undefined> {
    const r = await this.q('SELECT body FROM layers WHERE key = $1', [key]);
    return r.rows[0] ? JSON.parse(r.rows[0].body) : undefined;
  }

  async putLayer(key: string, value: unknown): Promise<void> {
    await this.q('INSERT INTO layers (key, body, created_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING', [key, JSON.stringify(value), Date.now()]);
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

  async addException(actor: string, spec: StoredException['spec']): Promise<StoredException> {
    const at = new Date().toISOString();
    const r = await this.q('INSERT INTO exceptions (at, actor, expires, spec) VALUES ($1, $2, $3, $4) RETURNING id', [at, actor, spec.expires, JSON.stringify(spec)]);
    return { id: Number(r.rows[0].id), at, actor, expires: spec.expires, spec };
  }

  async listExceptions(): Promise<StoredException[]> {
    return (await this.q('SELECT * FROM exceptions ORDER BY id')).rows.map(exceptionFromRow);
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

  async consumeOwnWrite(w: OwnWriteKey, eventId: string, now: number): Promise<boolean> {
    const r = await this.q(
      `UPDATE own_writes SET consumed_by = $1 WHERE registry = $2 AND repository = $3 AND digest = $4 AND tag = $5
       AND expires_at >= $6 AND (consumed_by IS NULL OR consumed_by = $1)`,
      [eventId, w.registry, w.repository, w.digest, w.tag, now],
    );
    return r.rowCount === 1;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Parameters $1..$8 of the audit INSERT. */
function auditArgs(entry: Omit<AuditRecord, 'seq' | 'at'>): unknown[] {
  return [new Date().toISOString(), entry.actor, entry.action, entry.registry ?? null, entry.repository ?? null, entry.digest ?? null, entry.tag ?? null, entry.detail ? JSON.stringify(entry.detail) : null];
}
