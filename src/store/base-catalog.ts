/**
 * {@link BaseCatalogStore} on SQLite and PostgreSQL (tables of migration 10, src/store/sql.ts). An entry's
 * row keeps its first-seen time on update; a tag row per (tag, digest) keeps when the tag was first seen
 * pointing there, so a tag that moves back and forth keeps the time it first moved.
 */
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { PushgateError, type Digest } from '../core/index.js';
import type { BaseCatalogStore, CatalogEntry, CatalogTag } from './base-catalog-types.js';

type Row = Record<string, unknown>;

function storeError(what: string, e: unknown): PushgateError {
  return e instanceof PushgateError ? e : new PushgateError('STORE', `base catalog: ${what}: ${(e as Error).message}`, { cause: e, retryable: true });
}

function entryFromRow(r: Row): CatalogEntry {
  return { ...(JSON.parse(String(r.body)) as CatalogEntry), firstSeen: Number(r.first_seen) };
}

function tagFromRow(r: Row): CatalogTag {
  return { registry: String(r.registry), repository: String(r.repository), tag: String(r.tag), digest: String(r.digest) as Digest, since: Number(r.since) };
}

/** SQLite tables (one connection, synchronous statements). */
export class SqliteBaseCatalogStore implements BaseCatalogStore {
  constructor(private readonly db: Database.Database) {}

  async putEntry(e: CatalogEntry): Promise<void> {
    try {
      this.db.prepare('INSERT INTO base_catalog (registry, repository, digest, body, first_seen) VALUES (?, ?, ?, ?, ?) ON CONFLICT (registry, repository, digest) DO UPDATE SET body = excluded.body')
        .run(e.registry, e.repository, e.digest, JSON.stringify(e), e.firstSeen);
    } catch (x) {
      throw storeError('put entry', x);
    }
  }

  async listEntries(): Promise<CatalogEntry[]> {
    try {
      return (this.db.prepare('SELECT body, first_seen FROM base_catalog').all() as Row[]).map(entryFromRow);
    } catch (x) {
      throw storeError('list entries', x);
    }
  }

  async putTag(t: Omit<CatalogTag, 'since'>, now: number): Promise<boolean> {
    try {
      return this.db.transaction(() => {
        const cur = this.db.prepare('SELECT digest FROM base_catalog_tags WHERE registry = ? AND repository = ? AND tag = ? ORDER BY since DESC LIMIT 1').get(t.registry, t.repository, t.tag) as Row | undefined;
        if (cur && cur.digest === t.digest) return false;
        // A tag moving back to a digest it named before points there "since now" again.
        this.db.prepare('INSERT INTO base_catalog_tags (registry, repository, tag, digest, since) VALUES (?, ?, ?, ?, ?) ON CONFLICT (registry, repository, tag, digest) DO UPDATE SET since = excluded.since')
          .run(t.registry, t.repository, t.tag, t.digest, now);
        return true;
      })();
    } catch (x) {
      throw storeError('put tag', x);
    }
  }

  async listTags(): Promise<CatalogTag[]> {
    try {
      return (this.db.prepare('SELECT registry, repository, tag, digest, since FROM base_catalog_tags ORDER BY registry, repository, tag, since DESC').all() as Row[]).map(tagFromRow);
    } catch (x) {
      throw storeError('list tags', x);
    }
  }
}

/** PostgreSQL tables (replicas share them; a tag move is one transaction with a row lock on the tag). */
export class PostgresBaseCatalogStore implements BaseCatalogStore {
  constructor(private readonly pool: pg.Pool) {}

  async putEntry(e: CatalogEntry): Promise<void> {
    try {
      await this.pool.query('INSERT INTO base_catalog (registry, repository, digest, body, first_seen) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (registry, repository, digest) DO UPDATE SET body = excluded.body', [e.registry, e.repository, e.digest, JSON.stringify(e), e.firstSeen]);
    } catch (x) {
      throw storeError('put entry', x);
    }
  }

  async listEntries(): Promise<CatalogEntry[]> {
    try {
      return (await this.pool.query('SELECT body, first_seen FROM base_catalog')).rows.map(entryFromRow);
    } catch (x) {
      throw storeError('list entries', x);
    }
  }

  async putTag(t: Omit<CatalogTag, 'since'>, now: number): Promise<boolean> {
    let c: pg.PoolClient | undefined;
    try {
      c = await this.pool.connect();
      await c.query('BEGIN');
      // Serializes concurrent moves of one tag across replicas (the advisory lock is released at COMMIT).
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${t.registry}\u0001${t.repository}\u0001${t.tag}`]);
      const cur = await c.query('SELECT digest FROM base_catalog_tags WHERE registry = $1 AND repository = $2 AND tag = $3 ORDER BY since DESC LIMIT 1', [t.registry, t.repository, t.tag]);
      if (cur.rows[0]?.digest === t.digest) {
        await c.query('COMMIT');
        return false;
      }
      await c.query('INSERT INTO base_catalog_tags (registry, repository, tag, digest, since) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (registry, repository, tag, digest) DO UPDATE SET since = excluded.since', [t.registry, t.repository, t.tag, t.digest, now]);
      await c.query('COMMIT');
      return true;
    } catch (x) {
      await c?.query('ROLLBACK').catch(() => undefined);
      throw storeError('put tag', x);
    } finally {
      c?.release();
    }
  }

  async listTags(): Promise<CatalogTag[]> {
    try {
      return (await this.pool.query('SELECT registry, repository, tag, digest, since FROM base_catalog_tags ORDER BY registry, repository, tag, since DESC')).rows.map(tagFromRow);
    } catch (x) {
      throw storeError('list tags', x);
    }
  }
}
