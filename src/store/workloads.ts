/**
 * Workload usage records (table `image_workloads`, migration 15, src/store/sql.ts): which workloads
 * the validating admission webhook admitted with an image digest, from the AdmissionReviews the API
 * server sent (src/admission/workload-usage.ts). One row per (digest, cluster, namespace, kind, name);
 * an upsert keeps the earliest first-seen and the latest last-seen time, so batches written out of
 * order or twice (a retried flush, two replicas) give the same rows.
 */
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { PushgateError, type Digest } from '../core/index.js';

/** One workload's use of one image digest. Times in ms since the epoch. */
export interface WorkloadUsage {
  digest: Digest;
  /** `admission.cluster` of the replica that admitted it; empty when not configured. */
  cluster: string;
  namespace: string;
  /** The controller owner's kind (`ReplicaSet`, `StatefulSet`, …) or the object's own kind (`Pod`). */
  kind: string;
  name: string;
  firstSeen: number;
  lastSeen: number;
}

/** The workloads of one image as an answer shows them: the most recently seen first, at most a bound, and how many there are. */
export interface ImageWorkloads {
  /** All recorded workloads of the digest (may exceed `workloads.length`). */
  count: number;
  /** Times ISO 8601 UTC. */
  workloads: Array<{ cluster?: string; namespace: string; kind: string; name: string; firstSeen: string; lastSeen: string }>;
}

/** Persistence of workload usage. Every method may reject with PushgateError STORE. */
export interface WorkloadStore {
  /** Upserts rows (first seen: the earliest; last seen: the latest). At most {@link WORKLOAD_BATCH_MAX} rows a call. */
  recordUsage(rows: WorkloadUsage[]): Promise<void>;
  /** The workloads of each digest, the most recently seen first, at most `perImage` each (1..1000). */
  workloadsOf(digests: Digest[], perImage: number): Promise<Map<Digest, ImageWorkloads>>;
  /** Deletes rows last seen before `before` (ms); answers how many. */
  pruneUsage(before: number): Promise<number>;
}

/** Rows per {@link WorkloadStore.recordUsage} call at most (a bound on one statement's size and time). */
export const WORKLOAD_BATCH_MAX = 1000;

type Row = Record<string, unknown>;

function storeError(what: string, e: unknown): PushgateError {
  return e instanceof PushgateError ? e : new PushgateError('STORE', `workload usage: ${what}: ${(e as Error).message}`, { cause: e, retryable: true });
}

function checkBatch(rows: WorkloadUsage[]): void {
  if (rows.length > WORKLOAD_BATCH_MAX) throw new PushgateError('BAD_ARGUMENT', `workload usage: ${rows.length} rows in one call; at most ${WORKLOAD_BATCH_MAX}`);
}

function checkPerImage(perImage: number): void {
  if (!Number.isInteger(perImage) || perImage < 1 || perImage > 1000) throw new PushgateError('BAD_ARGUMENT', `workload usage: perImage ${perImage}: use an integer from 1 to 1000`);
}

/** Rows of the windowed query grouped per digest. */
function group(rows: Row[]): Map<Digest, ImageWorkloads> {
  const out = new Map<Digest, ImageWorkloads>();
  for (const r of rows) {
    const digest = String(r.digest) as Digest;
    let g = out.get(digest);
    if (!g) out.set(digest, (g = { count: Number(r.total), workloads: [] }));
    const cluster = String(r.cluster);
    g.workloads.push({ ...(cluster ? { cluster } : {}), namespace: String(r.namespace), kind: String(r.kind), name: String(r.name), firstSeen: new Date(Number(r.first_seen)).toISOString(), lastSeen: new Date(Number(r.last_seen)).toISOString() });
  }
  return out;
}

// Window functions: SQLite ≥ 3.25 and PostgreSQL both have them; one statement answers a page.
const WINDOWED = (inList: string, limit: string) => `
SELECT digest, cluster, namespace, kind, name, first_seen, last_seen, total FROM (
  SELECT digest, cluster, namespace, kind, name, first_seen, last_seen,
    ROW_NUMBER() OVER (PARTITION BY digest ORDER BY last_seen DESC, namespace, kind, name, cluster) AS n,
    COUNT(*) OVER (PARTITION BY digest) AS total
  FROM image_workloads WHERE digest IN (${inList})
) w WHERE n <= ${limit} ORDER BY digest, n`;

/** SQLite (one connection, synchronous statements). */
export class SqliteWorkloadStore implements WorkloadStore {
  constructor(private readonly db: Database.Database) {}

  async recordUsage(rows: WorkloadUsage[]): Promise<void> {
    checkBatch(rows);
    if (!rows.length) return;
    try {
      const st = this.db.prepare(
        'INSERT INTO image_workloads (digest, cluster, namespace, kind, name, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?) ' +
          'ON CONFLICT (digest, cluster, namespace, kind, name) DO UPDATE SET first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)',
      );
      this.db.transaction(() => {
        for (const r of rows) st.run(r.digest, r.cluster, r.namespace, r.kind, r.name, r.firstSeen, r.lastSeen);
      })();
    } catch (x) {
      throw storeError('record', x);
    }
  }

  async workloadsOf(digests: Digest[], perImage: number): Promise<Map<Digest, ImageWorkloads>> {
    checkPerImage(perImage);
    if (!digests.length) return new Map();
    try {
      const out = new Map<Digest, ImageWorkloads>();
      // SQLite binds at most 32 766 parameters a statement.
      for (let i = 0; i < digests.length; i += 1000) {
        const part = digests.slice(i, i + 1000);
        const rows = this.db.prepare(WINDOWED(part.map(() => '?').join(','), '?')).all(...part, perImage) as Row[];
        for (const [k, v] of group(rows)) out.set(k, v);
      }
      return out;
    } catch (x) {
      throw storeError('read', x);
    }
  }

  async pruneUsage(before: number): Promise<number> {
    try {
      return this.db.prepare('DELETE FROM image_workloads WHERE last_seen < ?').run(before).changes;
    } catch (x) {
      throw storeError('prune', x);
    }
  }
}

/** PostgreSQL (replicas share the table; one statement a batch, its rows as array parameters). */
export class PostgresWorkloadStore implements WorkloadStore {
  constructor(private readonly pool: pg.Pool) {}

  async recordUsage(rows: WorkloadUsage[]): Promise<void> {
    checkBatch(rows);
    if (!rows.length) return;
    // ON CONFLICT DO UPDATE cannot touch one row twice in a statement: identical keys are merged first.
    const merged = new Map<string, WorkloadUsage>();
    for (const r of rows) {
      const k = JSON.stringify([r.digest, r.cluster, r.namespace, r.kind, r.name]);
      const m = merged.get(k);
      merged.set(k, m ? { ...m, firstSeen: Math.min(m.firstSeen, r.firstSeen), lastSeen: Math.max(m.lastSeen, r.lastSeen) } : r);
    }
    // Seven array parameters, not seven per row: one short statement the server plans quickly.
    const cols: [string[], string[], string[], string[], string[], number[], number[]] = [[], [], [], [], [], [], []];
    for (const r of merged.values()) {
      cols[0].push(r.digest);
      cols[1].push(r.cluster);
      cols[2].push(r.namespace);
      cols[3].push(r.kind);
      cols[4].push(r.name);
      cols[5].push(r.firstSeen);
      cols[6].push(r.lastSeen);
    }
    try {
      await this.pool.query(
        'INSERT INTO image_workloads (digest, cluster, namespace, kind, name, first_seen, last_seen) ' +
          'SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[]) ' +
          'ON CONFLICT (digest, cluster, namespace, kind, name) DO UPDATE SET first_seen = LEAST(image_workloads.first_seen, excluded.first_seen), last_seen = GREATEST(image_workloads.last_seen, excluded.last_seen)',
        cols,
      );
    } catch (x) {
      throw storeError('record', x);
    }
  }

  async workloadsOf(digests: Digest[], perImage: number): Promise<Map<Digest, ImageWorkloads>> {
    checkPerImage(perImage);
    if (!digests.length) return new Map();
    try {
      const rows = (await this.pool.query(WINDOWED('SELECT unnest($1::text[])', '$2'), [digests, perImage])).rows as Row[];
      return group(rows);
    } catch (x) {
      throw storeError('read', x);
    }
  }

  async pruneUsage(before: number): Promise<number> {
    try {
      return (await this.pool.query('DELETE FROM image_workloads WHERE last_seen < $1', [before])).rowCount ?? 0;
    } catch (x) {
      throw storeError('prune', x);
    }
  }
}
