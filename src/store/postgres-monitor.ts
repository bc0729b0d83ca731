/**
 * {@link MonitorStore} on PostgreSQL: several replicas share it. A run is claimed with one
 * conditional upsert (`ON CONFLICT … DO UPDATE … WHERE` the lease ended), so exactly one replica
 * holds it; every image's re-judgement is one transaction that moves the run's cursor only while
 * the writer still holds the claim. Lease times are the database's clock.
 */
import type pg from 'pg';
import { PushgateError, type Digest, type Verdict } from '../core/index.js';
import type { AffectedImage, AffectedPageRequest, ChangeRecord, ImageIndex, IndexedFinding, IndexedPackages, MonitorRun, MonitorRunKind, MonitorStore, Rejudgement } from './monitor-types.js';
import { writeVerdictPg } from './postgres-store.js';
import { AFFECTED_PAGE_SQL, findingFromRow, findingsDelta, idsOf, mergeByPkg, pageOfAffected, runFromRow } from './sqlite-monitor.js';

/**
 * The database's clock, ms since the epoch: leases of monitor runs are on it, so replicas whose clocks
 * disagree agree on when a dead replica's pass may be taken over (the `now` arguments, injectable for
 * grace-period tests, still date what is recorded).
 */
const DB_NOW = `(EXTRACT(EPOCH FROM now()) * 1000)::bigint`;

/** See the module comment. */
export class PostgresMonitorStore implements MonitorStore {
  constructor(private readonly pool: pg.Pool) {}

  private async q(what: string, sql: string, args: unknown[] = []): Promise<pg.QueryResult> {
    try {
      return await this.pool.query(sql, args);
    } catch (e) {
      throw new PushgateError('STORE', `postgres: ${what}: ${(e as Error).message}`, { cause: e, retryable: true });
    }
  }

  private async tx<T>(what: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect().catch((e: Error) => {
      throw new PushgateError('STORE', `postgres: ${what}: ${e.message}`, { cause: e, retryable: true });
    });
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      if (e instanceof PushgateError) throw e;
      throw new PushgateError('STORE', `postgres: ${what}: ${(e as Error).message}`, { cause: e, retryable: true });
    } finally {
      c.release();
    }
  }

  async staleIndexes(since: number, limit: number): Promise<Array<{ digest: Digest; reportAt: number }>> {
    const r = await this.q(
      'stale indexes',
      'SELECT r.digest, r.created_at FROM reports r LEFT JOIN image_index i ON i.digest = r.digest WHERE r.created_at >= $1 AND (i.digest IS NULL OR i.report_at < r.created_at) ORDER BY r.created_at, r.digest LIMIT $2',
      [since, limit],
    );
    return r.rows.map((x) => ({ digest: String(x.digest) as Digest, reportAt: Number(x.created_at) }));
  }

  async putIndex(index: ImageIndex): Promise<void> {
    await this.tx('put index', (c) => writeIndex(c, index, Date.now()));
  }

  async indexStates(): Promise<Map<Digest, string | null>> {
    const r = await this.q('index states', 'SELECT digest, vulndb_digest FROM image_index');
    return new Map(r.rows.map((x) => [String(x.digest) as Digest, (x.vulndb_digest as string | null) ?? null]));
  }

  async packagesUnder(pkgs: string[]): Promise<Array<{ digest: Digest; entry: IndexedPackages }>> {
    if (!pkgs.length) return [];
    const r = await this.q('packages under', 'SELECT pkg, digest, body FROM image_packages WHERE pkg = ANY($1::text[])', [pkgs]);
    return r.rows.flatMap((x) => (JSON.parse(String(x.body)) as IndexedPackages[]).map((e) => ({ digest: String(x.digest) as Digest, entry: e })));
  }

  async packagesOf(digest: Digest): Promise<IndexedPackages[]> {
    const r = await this.q('packages of', 'SELECT body FROM image_packages WHERE digest = $1', [digest]);
    return r.rows.flatMap((x) => JSON.parse(String(x.body)) as IndexedPackages[]);
  }

  async findingsUnder(pkgs: string[]): Promise<Array<{ digest: Digest } & IndexedFinding>> {
    if (!pkgs.length) return [];
    const r = await this.q('findings under', 'SELECT digest, fkey, pkg, first_seen, body FROM image_findings WHERE pkg = ANY($1::text[])', [pkgs]);
    return r.rows.map((x) => ({ digest: String(x.digest) as Digest, ...findingFromRow(x) }));
  }

  async findingsOf(digest: Digest): Promise<IndexedFinding[]> {
    const r = await this.q('findings of', 'SELECT fkey, pkg, first_seen, body FROM image_findings WHERE digest = $1', [digest]);
    return r.rows.map(findingFromRow);
  }

  async moveIndexes(from: string | null, to: string): Promise<number> {
    if (from === null) return 0;
    const r = await this.q('move indexes', 'UPDATE image_index SET vulndb_digest = $1 WHERE vulndb_digest = $2', [to, from]);
    return r.rowCount ?? 0;
  }

  async affectedBy(id: string, page: AffectedPageRequest): Promise<{ hits: AffectedImage[]; more: boolean }> {
    const alias = id.toUpperCase();
    const r = await this.q('affected by', AFFECTED_PAGE_SQL, [alias, page.after ?? '', page.limit + 1]);
    return pageOfAffected(r.rows, page.limit);
  }

  async verdictsOf(digests: Digest[]): Promise<Verdict[]> {
    if (!digests.length) return [];
    const r = await this.q('verdicts of', 'SELECT body FROM verdicts WHERE digest = ANY($1::text[]) ORDER BY digest, registry, repository', [digests]);
    return r.rows.map((x) => JSON.parse(String(x.body)) as Verdict);
  }

  async claimRun(id: string, kind: MonitorRunKind, vulndbDigest: string | null, owner: string, leaseMs: number, now: number): Promise<MonitorRun | undefined> {
    // One statement: a new run is inserted; an existing one is taken only when it is still running and
    // its lease ended (or this owner holds it). Concurrent claims serialize on the row.
    const r = await this.q(
      'claim run',
      `INSERT INTO monitor_runs AS m (id, kind, vulndb_digest, state, owner, lease_until, cursor, started_at)
       VALUES ($1, $2, $3, 'running', $4, ${DB_NOW} + $6::bigint, '', $5::bigint)
       ON CONFLICT (id) DO UPDATE SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until
       WHERE m.state = 'running' AND (m.lease_until < ${DB_NOW} OR m.owner = EXCLUDED.owner)
       RETURNING *`,
      [id, kind, vulndbDigest, owner, now, leaseMs],
    );
    return r.rows[0] ? runFromRow(r.rows[0]) : undefined;
  }

  async getRun(id: string): Promise<MonitorRun | undefined> {
    const r = await this.q('get run', 'SELECT * FROM monitor_runs WHERE id = $1', [id]);
    return r.rows[0] ? runFromRow(r.rows[0]) : undefined;
  }

  async listRuns(limit: number, filter: { kind?: MonitorRunKind; state?: MonitorRun['state'] } = {}): Promise<MonitorRun[]> {
    const r = await this.q(
      'list runs',
      'SELECT * FROM monitor_runs WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR state = $2) ORDER BY started_at DESC, id DESC LIMIT $3',
      [filter.kind ?? null, filter.state ?? null, limit],
    );
    return r.rows.map(runFromRow);
  }

  async finishRun(id: string, owner: string, stats: Record<string, unknown>, now: number): Promise<boolean> {
    const r = await this.q('finish run', "UPDATE monitor_runs SET state = 'done', finished_at = $1, stats = $2, lease_until = 0 WHERE id = $3 AND owner = $4 AND state = 'running'", [now, JSON.stringify(stats), id, owner]);
    return r.rowCount === 1;
  }

  async commit(r: Rejudgement, now: number): Promise<boolean> {
    return this.tx('commit re-judgement', async (c) => {
      const moved = await c.query(`UPDATE monitor_runs SET cursor = $1, lease_until = ${DB_NOW} + $2 WHERE id = $3 AND owner = $4 AND state = 'running'`, [r.run.cursor, r.run.leaseMs, r.run.id, r.run.owner]);
      if (moved.rowCount !== 1) return false;
      for (const v of r.verdicts) await writeVerdictPg(c, v);
      for (const ch of r.changes) {
        await c.query('INSERT INTO image_changes (at, run, registry, repository, digest, body) VALUES ($1, $2, $3, $4, $5, $6)', [ch.at, ch.run, ch.registry, ch.repository, ch.digest, JSON.stringify(ch)]);
      }
      const at = new Date(now).toISOString();
      for (const a of r.audits) {
        await c.query('INSERT INTO audit (at, actor, action, registry, repository, digest, tag, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
          at, a.actor, a.action, a.registry ?? null, a.repository ?? null, a.digest ?? null, a.tag ?? null, a.detail ? JSON.stringify(a.detail) : null,
        ]);
      }
      if (r.report) {
        await c.query('INSERT INTO reports (digest, body, created_at) VALUES ($1, $2, $3) ON CONFLICT (digest) DO UPDATE SET body = EXCLUDED.body, created_at = EXCLUDED.created_at', [r.report.digest, JSON.stringify(r.report.body), now]);
      }
      if (r.index) await writeIndex(c, { ...r.index, reportAt: r.report ? now : r.index.reportAt }, now);
      for (const h of r.holds ?? []) {
        if (h.dueAt === null) await c.query('DELETE FROM monitor_holds WHERE registry = $1 AND repository = $2 AND digest = $3', [h.registry, h.repository, h.digest]);
        else await c.query('INSERT INTO monitor_holds (registry, repository, digest, due_at) VALUES ($1, $2, $3, $4) ON CONFLICT (registry, repository, digest) DO UPDATE SET due_at = EXCLUDED.due_at', [h.registry, h.repository, h.digest, h.dueAt]);
      }
      return true;
    });
  }

  async markJudged(run: Rejudgement['run'], digests: Digest[], vulndbDigest: string | null, _now: number): Promise<boolean> {
    return this.tx('mark judged', async (c) => {
      const moved = await c.query(`UPDATE monitor_runs SET cursor = $1, lease_until = ${DB_NOW} + $2 WHERE id = $3 AND owner = $4 AND state = 'running'`, [run.cursor, run.leaseMs, run.id, run.owner]);
      if (moved.rowCount !== 1) return false;
      await c.query('UPDATE image_index SET vulndb_digest = $1 WHERE digest = ANY($2::text[])', [vulndbDigest, digests]);
      return true;
    });
  }

  async listChanges(digest: Digest, limit: number): Promise<ChangeRecord[]> {
    const r = await this.q('list changes', 'SELECT body FROM image_changes WHERE digest = $1 ORDER BY seq DESC LIMIT $2', [digest, limit]);
    return r.rows.map((x) => JSON.parse(String(x.body)) as ChangeRecord);
  }

  async dueHolds(now: number): Promise<Array<{ registry: string; repository: string; digest: Digest; dueAt: number }>> {
    const r = await this.q('due holds', 'SELECT registry, repository, digest, due_at FROM monitor_holds WHERE due_at <= $1 ORDER BY due_at', [now]);
    return r.rows.map((x) => ({ registry: String(x.registry), repository: String(x.repository), digest: String(x.digest) as Digest, dueAt: Number(x.due_at) }));
  }
}

/**
 * Writes one image's index inside the transaction on `c` as a delta: findings that stay (same identity
 * and content) are not rewritten; first-seen times are kept.
 */
async function writeIndex(c: pg.PoolClient, ix: ImageIndex, now: number): Promise<void> {
  const old = new Map((await c.query('SELECT fkey, first_seen, body FROM image_findings WHERE digest = $1', [ix.digest])).rows.map((r) => [String(r.fkey), { firstSeen: Number(r.first_seen), body: String(r.body) }]));
  const groups = ix.packages ? mergeByPkg(ix.packages) : [];
  if (ix.packages) await c.query('DELETE FROM image_packages WHERE digest = $1', [ix.digest]);
  if (groups.length) {
    await c.query('INSERT INTO image_packages (pkg, digest, body) SELECT p, $2, b FROM unnest($1::text[], $3::text[]) AS t(p, b) ON CONFLICT DO NOTHING', [
      groups.map((g) => g.pkg), ix.digest, groups.map((g) => JSON.stringify(g.entries)),
    ]);
  }
  const { write, gone } = findingsDelta(ix.findings, old, now);
  const rewrite = [...gone, ...write.map((w) => w.f.key)];
  if (rewrite.length) {
    await c.query('DELETE FROM image_findings WHERE digest = $1 AND fkey = ANY($2::text[])', [ix.digest, rewrite]);
    await c.query('DELETE FROM finding_ids WHERE digest = $1 AND fkey = ANY($2::text[])', [ix.digest, rewrite]);
  }
  if (write.length) {
    await c.query('INSERT INTO image_findings (digest, fkey, pkg, first_seen, body) SELECT $1, k, p, s, b FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[]) AS t(k, p, s, b)', [
      ix.digest, write.map((w) => w.f.key), write.map((w) => w.f.pkg), write.map((w) => w.firstSeen), write.map((w) => w.body),
    ]);
    const aliases: string[] = [];
    const keys: string[] = [];
    for (const { f } of write) for (const id of idsOf(f)) {
      aliases.push(id.toUpperCase());
      keys.push(f.key);
    }
    await c.query('INSERT INTO finding_ids (alias, digest, fkey) SELECT a, $2, k FROM unnest($1::text[], $3::text[]) AS t(a, k) ON CONFLICT DO NOTHING', [aliases, ix.digest, keys]);
  }
  await c.query(
    'INSERT INTO image_index (digest, vulndb_digest, report_at, indexed_at) VALUES ($1, $2, $3, $4) ON CONFLICT (digest) DO UPDATE SET vulndb_digest = EXCLUDED.vulndb_digest, report_at = EXCLUDED.report_at, indexed_at = EXCLUDED.indexed_at',
    [ix.digest, ix.vulndbDigest, ix.reportAt, now],
  );
}
