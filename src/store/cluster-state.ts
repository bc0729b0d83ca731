/**
 * What the replicas sharing a store agree on (table `cluster_state`, migration 16, src/store/sql.ts): per
 * name, the digest in force, who installed it and when. Two names are used: `vulndb` (the vulnerability
 * database's content digest and build time, src/gate/vulndb-sync.ts) and `policy` (the policy file's revision,
 * src/gate/policy-sync.ts). On PostgreSQL the vulnerability database file in force is kept too, in chunks of
 * {@link CHUNK_BYTES} (table `vulndb_chunks`), written in the same transaction as its row, so a replica fetches
 * exactly the bytes another one built and checks them against the recorded size and SHA-256 before using them.
 */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { PushgateError } from '../core/index.js';

/** Bytes per stored chunk of a database file (one chunk is in memory at a time, writing or reading). */
export const CHUNK_BYTES = 4 * 1024 * 1024;

/** The names recorded. */
export type ClusterStateName = 'vulndb' | 'policy';

/** One thing in force. */
export interface InForce {
  name: ClusterStateName;
  /** `vulndb`: the database's content digest (`sha256:…`); `policy`: the policy file's revision. */
  digest: string;
  /** `vulndb`: the database's build time (ISO 8601); `policy`: the policy's name. */
  builtAt: string | null;
  /** The replica (job owner name) that installed it. */
  installedBy: string;
  /** When, ms since the epoch on the database's clock (PostgreSQL `now()`; SQLite: the one process's). */
  installedAt: number;
  /** The database file held in the store (PostgreSQL): its size in bytes, SHA-256 (hex) and chunk count. */
  file?: { sha256: string; size: number; chunks: number };
}

/** Persistence of what is in force. Every method may reject with PushgateError STORE. */
export interface ClusterStateStore {
  /** True when the store holds database files ({@link publishFile}, {@link readChunk}): PostgreSQL. */
  readonly holdsFiles: boolean;
  /** What is in force under `name`, or undefined when nothing was recorded. */
  get(name: ClusterStateName): Promise<InForce | undefined>;
  /**
   * Records `next` in force under `name` (no file), stamped with the database's clock. With `newerOnly`, only
   * when nothing is recorded or `next.builtAt` is later than the recorded one's (a build never goes back).
   * @returns whether it was written.
   */
  put(name: ClusterStateName, next: Pick<InForce, 'digest' | 'builtAt' | 'installedBy'>, o?: { newerOnly?: boolean }): Promise<boolean>;
  /**
   * PostgreSQL: stores the file read from `chunks` (each at most {@link CHUNK_BYTES}) and records it in force
   * under `vulndb`, in one transaction (a torn upload leaves nothing): with `newerOnly` as {@link put}, or with
   * `sameDigest` only while the recorded digest equals `next.digest` (a replica holding the database in force
   * uploads its file again when the store lost it). Publishers are serialized by an advisory lock. The
   * chunks of other digests are removed.
   * @returns whether it was written.
   */
  publishFile(next: Pick<InForce, 'digest' | 'builtAt' | 'installedBy'>, chunks: AsyncIterable<Buffer>, o: { newerOnly?: boolean; sameDigest?: boolean }): Promise<boolean>;
  /** PostgreSQL: chunk `n` of the stored file of database `digest`, or undefined when there is none. */
  readChunk(digest: string, n: number): Promise<Buffer | undefined>;
  /** How many chunks of database `digest` the store holds (0 on SQLite). */
  chunkCount(digest: string): Promise<number>;
}

type Row = Record<string, unknown>;

function storeError(what: string, e: unknown): PushgateError {
  return e instanceof PushgateError ? e : new PushgateError('STORE', `cluster state: ${what}: ${(e as Error).message}`, { cause: e, retryable: true });
}

function fromRow(r: Row): InForce {
  const f = r.file_sha256 ? { sha256: String(r.file_sha256), size: Number(r.file_size), chunks: Number(r.file_chunks) } : undefined;
  return {
    name: String(r.name) as ClusterStateName,
    digest: String(r.digest),
    builtAt: r.built_at === null || r.built_at === undefined ? null : String(r.built_at),
    installedBy: String(r.installed_by),
    installedAt: Number(r.installed_at),
    ...(f ? { file: f } : {}),
  };
}

/** True when `next` was built later than `cur` (an unknown build time is never later). */
export function builtLater(next: string | null, cur: string | null): boolean {
  const a = next ? Date.parse(next) : NaN;
  const b = cur ? Date.parse(cur) : NaN;
  if (Number.isNaN(a)) return false;
  return Number.isNaN(b) || a > b;
}

/** SQLite (one process): records digests only. */
export class SqliteClusterStateStore implements ClusterStateStore {
  readonly holdsFiles = false;
  constructor(private readonly db: Database.Database) {}

  async get(name: ClusterStateName): Promise<InForce | undefined> {
    try {
      const r = this.db.prepare('SELECT * FROM cluster_state WHERE name = ?').get(name) as Row | undefined;
      return r ? fromRow(r) : undefined;
    } catch (e) {
      throw storeError('read', e);
    }
  }

  async put(name: ClusterStateName, next: Pick<InForce, 'digest' | 'builtAt' | 'installedBy'>, o: { newerOnly?: boolean } = {}): Promise<boolean> {
    try {
      return this.db.transaction(() => {
        const cur = this.db.prepare('SELECT * FROM cluster_state WHERE name = ?').get(name) as Row | undefined;
        if (o.newerOnly && cur && !builtLater(next.builtAt, (cur.built_at as string | null) ?? null)) return false;
        this.db
          .prepare(
            'INSERT INTO cluster_state (name, digest, built_at, installed_by, installed_at) VALUES (?, ?, ?, ?, ?) ' +
              'ON CONFLICT (name) DO UPDATE SET digest = excluded.digest, built_at = excluded.built_at, installed_by = excluded.installed_by, installed_at = excluded.installed_at, file_sha256 = NULL, file_size = NULL, file_chunks = NULL',
          )
          .run(name, next.digest, next.builtAt, next.installedBy, Date.now());
        return true;
      })();
    } catch (e) {
      throw storeError('write', e);
    }
  }

  async publishFile(): Promise<boolean> {
    throw new PushgateError('BAD_ARGUMENT', 'cluster state: a SQLite store holds no database files (one process reads its own)');
  }

  async readChunk(): Promise<Buffer | undefined> {
    return undefined;
  }

  async chunkCount(): Promise<number> {
    return 0;
  }
}

/** The database's clock in ms since the epoch. */
const DB_NOW = `(EXTRACT(EPOCH FROM now()) * 1000)::bigint`;
/** Advisory lock key serializing publishers (any constant; "pgvdb" in ASCII). */
const PUBLISH_LOCK = 0x7067766462;

/** PostgreSQL: digests and the database file in force. */
export class PostgresClusterStateStore implements ClusterStateStore {
  readonly holdsFiles = true;
  constructor(private readonly pool: pg.Pool) {}

  async get(name: ClusterStateName): Promise<InForce | undefined> {
    try {
      const r = await this.pool.query('SELECT * FROM cluster_state WHERE name = $1', [name]);
      return r.rows[0] ? fromRow(r.rows[0] as Row) : undefined;
    } catch (e) {
      throw storeError('read', e);
    }
  }

  async put(name: ClusterStateName, next: Pick<InForce, 'digest' | 'builtAt' | 'installedBy'>, o: { newerOnly?: boolean } = {}): Promise<boolean> {
    return this.tx('write', async (c) => {
      const cur = (await c.query('SELECT * FROM cluster_state WHERE name = $1 FOR UPDATE', [name])).rows[0] as Row | undefined;
      if (o.newerOnly && cur && !builtLater(next.builtAt, (cur.built_at as string | null) ?? null)) return false;
      await this.upsert(c, name, next, undefined);
      return true;
    });
  }

  async publishFile(next: Pick<InForce, 'digest' | 'builtAt' | 'installedBy'>, chunks: AsyncIterable<Buffer>, o: { newerOnly?: boolean; sameDigest?: boolean }): Promise<boolean> {
    return this.tx('publish database file', async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [PUBLISH_LOCK]);
      const cur = (await c.query("SELECT * FROM cluster_state WHERE name = 'vulndb' FOR UPDATE")).rows[0] as Row | undefined;
      if (o.newerOnly && cur && !builtLater(next.builtAt, (cur.built_at as string | null) ?? null)) return false;
      if (o.sameDigest && (!cur || cur.digest !== next.digest)) return false;
      await c.query('DELETE FROM vulndb_chunks');
      const h = createHash('sha256');
      let n = 0;
      let size = 0;
      for await (const b of chunks) {
        if (b.length > CHUNK_BYTES) throw new PushgateError('BAD_ARGUMENT', `cluster state: a chunk of ${b.length} bytes; at most ${CHUNK_BYTES}`);
        h.update(b);
        size += b.length;
        await c.query('INSERT INTO vulndb_chunks (digest, n, data) VALUES ($1, $2, $3)', [next.digest, n++, b]);
      }
      await this.upsert(c, 'vulndb', next, { sha256: h.digest('hex'), size, chunks: n });
      return true;
    });
  }

  async readChunk(digest: string, n: number): Promise<Buffer | undefined> {
    try {
      const r = await this.pool.query('SELECT data FROM vulndb_chunks WHERE digest = $1 AND n = $2', [digest, n]);
      return r.rows[0] ? (r.rows[0].data as Buffer) : undefined;
    } catch (e) {
      throw storeError('read chunk', e);
    }
  }

  async chunkCount(digest: string): Promise<number> {
    try {
      const r = await this.pool.query('SELECT count(*)::int AS n FROM vulndb_chunks WHERE digest = $1', [digest]);
      return Number(r.rows[0].n);
    } catch (e) {
      throw storeError('count chunks', e);
    }
  }

  private async upsert(c: pg.PoolClient, name: ClusterStateName, next: Pick<InForce, 'digest' | 'builtAt' | 'installedBy'>, f: InForce['file']): Promise<void> {
    await c.query(
      `INSERT INTO cluster_state (name, digest, built_at, installed_by, installed_at, file_sha256, file_size, file_chunks) VALUES ($1, $2, $3, $4, ${DB_NOW}, $5, $6, $7)
       ON CONFLICT (name) DO UPDATE SET digest = EXCLUDED.digest, built_at = EXCLUDED.built_at, installed_by = EXCLUDED.installed_by,
         installed_at = EXCLUDED.installed_at, file_sha256 = EXCLUDED.file_sha256, file_size = EXCLUDED.file_size, file_chunks = EXCLUDED.file_chunks`,
      [name, next.digest, next.builtAt, next.installedBy, f?.sha256 ?? null, f?.size ?? null, f?.chunks ?? null],
    );
  }

  private async tx<T>(what: string, f: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let c: pg.PoolClient | undefined;
    try {
      c = await this.pool.connect();
      await c.query('BEGIN');
      const out = await f(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c?.query('ROLLBACK').catch(() => undefined);
      throw storeError(what, e);
    } finally {
      c?.release();
    }
  }
}
