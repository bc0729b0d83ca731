/**
 * {@link MonitorStore} on PostgreSQL: several replicas share it. A run is claimed with one
 * conditional upsert (`ON CONFLICT … DO UPDATE … WHERE` the lease ended), so exactly one replica
 * holds it; every image's re-judgement is one transaction that moves the run's cursor only while
 * the writer still holds the claim. Lease times are the database's clock.
 */
import type pg from 'pg';
import { PushgateError, type Digest, type Verdict } from '../core/index.js';
import type { AffectedImage, AffectedPageRequest, BatchWritten, ChangeRecord, FindingGroup, FindingParser, ImageIndex, IndexedFinding, IndexedPackages, MonitorRun, MonitorRunKind, MonitorStore, OutboxNotice, PackageGroup, ReadMarks, Rejudgement, RejudgementBatch } from './monitor-types.js';
import { changeText } from './finding-text.js';
import { DELTA_PREFIX, storedPatchText } from './report-patch.js';
import { AFFECTED_PAGE_SQL, findingFromRow, findingsDelta, idsOf, markedDigests, marksOf, mergeByPkg, packageGroupsOf, pageOfAffected, pageOfPackages, runFromRow, type PackageGroupRow, sharedFindingParser, sharedFindingParts, sharedPackagesParser, storedRows, withoutSuperseded, type FindingWrite } from './sqlite-monitor.js';

/**
 * The database's clock, ms since the epoch: leases of monitor runs are on it, so replicas whose clocks
 * disagree agree on when a dead replica's pass may be taken over (the `now` arguments, injectable for
 * grace-period tests, still date what is recorded).
 */
const DB_NOW = `(EXTRACT(EPOCH FROM now()) * 1000)::bigint`;

/**
 * The planner settings of a grouped read ({@link PostgresMonitorStore} `groupRead`), local to its
 * transaction, sent with its BEGIN (one round trip). work_mem holds the hash table of the groups and their image
 * lists (some 4 MB at 10,000 images) without spilling.
 */
const GROUP_READ_SETTINGS = `SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off;
  SET LOCAL enable_sort = off; SET LOCAL enable_incremental_sort = off; SET LOCAL work_mem = '32MB'`;

/** See the module comment. */
export class PostgresMonitorStore implements MonitorStore {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * One query on the pool. `name`: run it as a named prepared statement, parsed and analyzed once per
   * connection (planning an unnamed one costs several milliseconds, more than the read itself for the
   * small queries the API asks on every call); the same name must always go with the same text.
   */
  private async q(what: string, sql: string, args: unknown[] = [], name?: string): Promise<pg.QueryResult> {
    try {
      return await this.pool.query(name ? { name, text: sql, values: args } : { text: sql, values: args });
    } catch (e) {
      throw new PushgateError('STORE', `postgres: ${what}: ${(e as Error).message}`, { cause: e, retryable: true });
    }
  }

  /**
   * One read of rows under a database change's pairs grouped by their text ({@link packageGroupsUnder},
   * {@link findingGroupsUnder}), planned for what it is: tens of thousands of rows of images built alike
   * (most of them one of a few hundred texts), scattered over the table (each image's rows were written
   * together). Without statistics (a store autovacuum has not analyzed yet; the estimate of `pkg = ANY`
   * is then most of the table) the planner took a sequential or parallel scan of the whole table, sorted
   * the rows by their text (spilling to disk past work_mem) and compiled the plan (JIT, ~100 ms), a
   * second and more at 10,000 images. In its own read-only transaction, with settings local to it: the
   * pairs' rows read through the index in table order (a bitmap scan, each page once), grouped in a hash
   * table (a few hundred groups: no sort of the texts), no JIT, no parallel workers (the two reads of a
   * pass already run side by side). @throws PushgateError STORE.
   */
  private async groupRead(what: string, sql: string, args: unknown[]): Promise<pg.QueryResult> {
    return this.tx(what, (c) => c.query(sql, args), `BEGIN READ ONLY; ${GROUP_READ_SETTINGS}`);
  }

  /** Runs `fn` in a transaction on one pooled connection; `begin`: the statements that open it. */
  private async tx<T>(what: string, fn: (c: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    const c = await this.pool.connect().catch((e: Error) => {
      throw new PushgateError('STORE', `postgres: ${what}: ${e.message}`, { cause: e, retryable: true });
    });
    try {
      await c.query(begin);
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

  async staleIndexes(mark: number, limit: number): Promise<{ stale: Array<{ digest: Digest; reportAt: number }>; next: number }> {
    // The horizon first, in its own statement: every transaction below its xmin had ended before the read
    // below took its snapshot, so their reports are in it; one still running (however low its id) is not
    // below it and is read next time. A mark beyond xmax is from another cluster's numbering.
    const h = (await this.q('index horizon', 'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin, pg_snapshot_xmax(pg_current_snapshot())::text AS xmax', [], 'pushgate_index_horizon')).rows[0];
    const xmin = Number(h.xmin);
    const from = mark > Number(h.xmax) ? 0 : mark;
    const r = await this.q(
      'stale indexes',
      `SELECT r.digest, r.created_at, r.write_seq::text AS seq FROM reports r LEFT JOIN image_index i ON i.digest = r.digest
       WHERE r.write_seq >= $1::text::xid8 AND (i.digest IS NULL OR i.report_at < r.created_at) ORDER BY r.write_seq, r.digest LIMIT $2`,
      [String(from), limit],
      'pushgate_stale_indexes_by_seq',
    );
    const stale = r.rows.map((x) => ({ digest: String(x.digest) as Digest, reportAt: Number(x.created_at) }));
    // a full page: reports below its last one's transaction were all read (those of that one maybe not)
    const next = r.rows.length < limit ? xmin : Math.min(xmin, Number(r.rows[r.rows.length - 1].seq));
    return { stale, next: Math.max(from, next) };
  }

  async indexMark(): Promise<number> {
    const r = await this.q('index mark', "SELECT mark FROM index_marks WHERE name = 'reports'", [], 'pushgate_index_mark');
    return r.rows[0] ? Number(r.rows[0].mark) : 0;
  }

  async saveIndexMark(mark: number): Promise<void> {
    await this.q(
      'save index mark',
      `INSERT INTO index_marks (name, mark) VALUES ('reports', $1) ON CONFLICT (name) DO UPDATE SET mark =
         CASE WHEN index_marks.mark > pg_snapshot_xmax(pg_current_snapshot())::text::bigint THEN EXCLUDED.mark ELSE GREATEST(index_marks.mark, EXCLUDED.mark) END`,
      [mark],
      'pushgate_save_index_mark',
    );
  }

  async putIndex(index: ImageIndex): Promise<void> {
    await this.tx('put index', (c) => writeIndex(c, index, Date.now()));
  }

  async putIndexes(indexes: ImageIndex[]): Promise<void> {
    if (indexes.length) await this.tx('put indexes', (c) => writeIndexes(c, indexes, Date.now()));
  }

  async indexStates(): Promise<Map<Digest, string | null>> {
    const r = await this.q('index states', 'SELECT digest, vulndb_digest FROM image_index');
    return new Map(r.rows.map((x) => [String(x.digest) as Digest, (x.vulndb_digest as string | null) ?? null]));
  }

  async packagesUnder(pkgs: string[]): Promise<Array<{ digest: Digest; entry: IndexedPackages }>> {
    if (!pkgs.length) return [];
    const r = await this.q('packages under', 'SELECT pkg, digest, body FROM image_packages WHERE pkg = ANY($1::text[])', [pkgs]);
    // images built alike hold a pair's packages alike: each distinct body is parsed once
    const parse = sharedPackagesParser();
    return r.rows.flatMap((x) => parse(String(x.body)).map((e) => ({ digest: String(x.digest) as Digest, entry: e })));
  }

  async packageGroupsUnder(pkgs: string[]): Promise<PackageGroup[]> {
    if (!pkgs.length) return [];
    // grouped by the server (sqlite-monitor.ts PACKAGE_GROUPS_SQL): each distinct text is sent once
    const r = await this.groupRead(
      'package groups under',
      `SELECT pkg, replace(body, '"manifest":"' || digest || '"', '"manifest":""') AS blank, string_agg(digest, ',') AS digests, bool_or(strpos(body, '"manifest":""') > 0) AS had_empty
       FROM image_packages WHERE pkg = ANY($1::text[]) GROUP BY 1, 2`,
      [pkgs],
    );
    const { groups, redo } = packageGroupsOf(r.rows.map((x) => [String(x.pkg), String(x.blank), String(x.digests), Boolean(x.had_empty)] as PackageGroupRow));
    // rows whose text cannot be grouped (an entry with an empty manifest, a member elsewhere): one by one
    for (const g of redo) {
      const got = await this.q('package groups under', 'SELECT digest, body FROM image_packages WHERE pkg = $1 AND digest = ANY($2::text[])', [g.pkg, g.digests]);
      for (const x of got.rows) groups.push({ pkg: g.pkg, entries: JSON.parse(String(x.body)) as IndexedPackages[], own: [], digests: [String(x.digest) as Digest] });
    }
    return groups;
  }

  async packagesPage(pkgs: string[], page: AffectedPageRequest): Promise<{ rows: Array<{ digest: Digest; entry: IndexedPackages }>; more: boolean }> {
    if (!pkgs.length) return { rows: [], more: false };
    const r = await this.q(
      'packages page',
      `WITH page AS (SELECT DISTINCT digest FROM image_packages WHERE pkg = ANY($1::text[]) AND digest > $2 ORDER BY digest LIMIT $3)
       SELECT digest, body FROM image_packages WHERE pkg = ANY($1::text[]) AND digest > $2 AND digest <= (SELECT max(digest) FROM page) ORDER BY digest, pkg`,
      [pkgs, page.after ?? '', page.limit + 1],
    );
    return pageOfPackages(r.rows, page.limit);
  }

  async packagesOf(digest: Digest): Promise<IndexedPackages[]> {
    const r = await this.q('packages of', 'SELECT body FROM image_packages WHERE digest = $1', [digest]);
    return r.rows.flatMap((x) => JSON.parse(String(x.body)) as IndexedPackages[]);
  }

  async findingsUnder(pkgs: string[], shared?: FindingParser): Promise<Array<{ digest: Digest } & IndexedFinding>> {
    if (!pkgs.length) return [];
    const r = await this.q('findings under', 'SELECT digest, fkey, pkg, first_seen, body FROM image_findings WHERE pkg = ANY($1::text[])', [pkgs]);
    // images holding a package at one version and place share their findings' rows: parsed once
    const parse = shared ?? sharedFindingParts();
    return r.rows.map((x) => ({ digest: String(x.digest) as Digest, ...parse(String(x.fkey), String(x.pkg), Number(x.first_seen), String(x.body)) }));
  }

  async findingGroupsUnder(pkgs: string[], shared?: FindingParser): Promise<FindingGroup[]> {
    if (!pkgs.length) return [];
    const r = await this.groupRead('finding groups under', `SELECT pkg, fkey, body, string_agg(digest, ',') AS digests FROM image_findings WHERE pkg = ANY($1::text[]) GROUP BY pkg, fkey, body`, [pkgs]);
    const parse = shared ?? sharedFindingParts();
    return r.rows.map((x) => ({ finding: parse(String(x.fkey), String(x.pkg), 0, String(x.body)), digests: String(x.digests).split(',') as Digest[] }));
  }

  async findingsOf(digest: Digest): Promise<IndexedFinding[]> {
    const r = await this.q('findings of', 'SELECT fkey, pkg, first_seen, body FROM image_findings WHERE digest = $1', [digest]);
    return r.rows.map(findingFromRow);
  }

  async findingsOfMany(digests: Digest[]): Promise<Map<Digest, IndexedFinding[]>> {
    const out = new Map<Digest, IndexedFinding[]>();
    if (!digests.length) return out;
    const r = await this.q('findings of many', 'SELECT digest, fkey, pkg, first_seen, body FROM image_findings WHERE digest = ANY($1::text[])', [digests]);
    const parse = sharedFindingParser();
    for (const x of r.rows) {
      const d = String(x.digest) as Digest;
      const l = out.get(d);
      if (l) l.push(parse(x));
      else out.set(d, [parse(x)]);
    }
    return out;
  }

  async findingsAndSignatures(digests: Digest[], shared?: FindingParser): Promise<{ findings: Map<Digest, IndexedFinding[]>; signatures: Map<Digest, string> }> {
    const findings = new Map<Digest, IndexedFinding[]>();
    const signatures = new Map<Digest, string>();
    if (!digests.length) return { findings, signatures };
    // one statement, one snapshot: each signature is that of the rows read with it; rows as arrays (a
    // pass reads some 35 rows per image, and an object per row costs more than the row)
    let r: pg.QueryResult<unknown[]>;
    try {
      r = await this.pool.query<unknown[]>({
        name: 'pushgate_findings_and_signatures_arrays',
        text: `SELECT f.digest, f.fkey, f.pkg, f.first_seen, f.body, i.findings_sig FROM image_findings f LEFT JOIN image_index i ON i.digest = f.digest WHERE f.digest = ANY($1::text[])`,
        values: [digests],
        rowMode: 'array',
      });
    } catch (e) {
      throw new PushgateError('STORE', `postgres: findings and signatures: ${(e as Error).message}`, { cause: e, retryable: true });
    }
    const parse = shared ?? sharedFindingParts();
    let list: IndexedFinding[] | undefined;
    let last: string | undefined;
    for (const [d, fkey, pkg, firstSeen, body, sig] of r.rows as Array<[string, string, string, string | number, string, string | null]>) {
      if (d !== last) {
        last = d;
        list = findings.get(d as Digest);
        if (!list) findings.set(d as Digest, (list = []));
        if (sig != null) signatures.set(d as Digest, String(sig));
      }
      list!.push(parse(String(fkey), String(pkg), Number(firstSeen), String(body)));
    }
    return { findings, signatures };
  }

  async findingSignatures(digests: Digest[]): Promise<Map<Digest, string>> {
    if (!digests.length) return new Map();
    const r = await this.q('finding signatures', 'SELECT digest, findings_sig FROM image_index WHERE digest = ANY($1::text[]) AND findings_sig IS NOT NULL', [digests]);
    return new Map(r.rows.map((x) => [String(x.digest) as Digest, String(x.findings_sig)]));
  }

  async layersOf(keys: string[]): Promise<Map<string, unknown>> {
    if (!keys.length) return new Map();
    const r = await this.q('layers of', 'SELECT key, body FROM layers WHERE key = ANY($1::text[])', [keys]);
    return new Map(r.rows.map((x) => [String(x.key), JSON.parse(String(x.body)) as unknown]));
  }

  async reportKeys(digests: Digest[]): Promise<Set<Digest>> {
    if (!digests.length) return new Set();
    const r = await this.q('report keys', 'SELECT digest FROM reports WHERE digest = ANY($1::text[])', [digests], 'pushgate_report_keys');
    return new Set(r.rows.map((x) => String(x.digest) as Digest));
  }

  async layerKeys(keys: string[]): Promise<Set<string>> {
    if (!keys.length) return new Set();
    const r = await this.q('layer keys', 'SELECT key FROM layers WHERE key = ANY($1::text[])', [keys]);
    return new Set(r.rows.map((x) => String(x.key)));
  }

  async moveIndexes(from: string | null, to: string, digests: Digest[]): Promise<number> {
    if (from === null || !digests.length) return 0;
    const r = await this.q('move indexes', 'UPDATE image_index SET vulndb_digest = $1 WHERE vulndb_digest = $2 AND digest = ANY($3::text[])', [to, from, digests]);
    return r.rowCount ?? 0;
  }

  async affectedBy(id: string, page: AffectedPageRequest): Promise<{ hits: AffectedImage[]; more: boolean }> {
    const alias = id.toUpperCase();
    const r = await this.q('affected by', AFFECTED_PAGE_SQL, [alias, page.after ?? '', page.limit + 1], 'pushgate_affected_page');
    return pageOfAffected(r.rows, page.limit);
  }

  async verdictsOf(digests: Digest[]): Promise<Verdict[]> {
    if (!digests.length) return [];
    const r = await this.q('verdicts of', 'SELECT body FROM verdicts WHERE digest = ANY($1::text[]) ORDER BY digest, registry, repository', [digests], 'pushgate_verdicts_of');
    return r.rows.map((x) => JSON.parse(String(x.body)) as Verdict);
  }

  async verdictsWithMarks(digests: Digest[]): Promise<{ verdicts: Verdict[]; marks: Map<Digest, ReadMarks> }> {
    if (!digests.length) return { verdicts: [], marks: new Map() };
    // one statement, one snapshot: the marks are those of the verdicts read
    const r = await this.q(
      'verdicts with marks',
      `SELECT 'v' AS k, digest, registry, repository, updated_seq::text AS seq, body FROM verdicts WHERE digest = ANY($1::text[])
       UNION ALL SELECT 'r', digest, NULL, NULL, write_seq::text, NULL FROM reports WHERE digest = ANY($1::text[])
       ORDER BY 2, 3, 4`,
      [digests],
      'pushgate_verdicts_with_marks',
    );
    const vrows = r.rows.filter((x) => x.k === 'v');
    return { verdicts: vrows.map((x) => JSON.parse(String(x.body)) as Verdict), marks: marksOf(digests, r.rows.filter((x) => x.k === 'r'), vrows) };
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

  async listRuns(limit: number, filter: { kind?: MonitorRunKind; state?: MonitorRun['state']; resumableBy?: { owner: string; now: number } } = {}): Promise<MonitorRun[]> {
    // resumableBy: the lease is compared with the database's clock, as claimRun does (`now` is not used)
    const r = await this.q(
      'list runs',
      `SELECT * FROM monitor_runs WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR state = $2)
         AND ($4::text IS NULL OR (state = 'running' AND (lease_until < ${DB_NOW} OR owner = $4))) ORDER BY started_at DESC, id DESC LIMIT $3`,
      [filter.kind ?? null, filter.state ?? null, limit, filter.resumableBy?.owner ?? null],
    );
    return r.rows.map(runFromRow);
  }

  async finishRun(id: string, owner: string, stats: Record<string, unknown>, now: number): Promise<boolean> {
    const r = await this.q('finish run', "UPDATE monitor_runs SET state = 'done', finished_at = $1, stats = $2, lease_until = 0 WHERE id = $3 AND owner = $4 AND state = 'running'", [now, JSON.stringify(stats), id, owner]);
    return r.rowCount === 1;
  }

  async commit(r: Rejudgement, now: number): Promise<boolean> {
    const { run, ...one } = r;
    return (await this.commitBatch({ run, rejudged: [one], unchanged: [], vulndbDigest: null }, now)) !== false;
  }

  async markJudged(run: Rejudgement['run'], digests: Digest[], vulndbDigest: string | null, now: number): Promise<boolean> {
    return (await this.commitBatch({ run, rejudged: [], unchanged: digests, vulndbDigest }, now)) !== false;
  }

  async commitBatch(all: RejudgementBatch, now: number): Promise<false | BatchWritten> {
    return this.tx('commit re-judgements', async (c) => {
      const moved = await c.query(`UPDATE monitor_runs SET cursor = $1, lease_until = ${DB_NOW} + $2 WHERE id = $3 AND owner = $4 AND state = 'running'`, [all.run.cursor, all.run.leaseMs, all.run.id, all.run.owner]);
      if (moved.rowCount !== 1) return false;
      // Images another writer judged again since the pass read them are left as that writer stored them.
      // The rows of re-judged images are locked first, in one order (reports by digest, then verdicts by
      // key, as writeVerdictsPg locks them), so a putReport/putVerdict in flight is waited for and seen,
      // and one that starts later waits for this batch; the batch's own writes below take no other row
      // first. Unchanged images are only checked (a full pass holds thousands: no row lock written for
      // each): their write is the index's database, which the catch-up sets again from a report
      // committed after this check (the report is newer than the index then).
      const locked = markedDigests({ ...all, unchangedRead: [] });
      const held = new Set(locked);
      const checked = markedDigests({ ...all, rejudged: [] }).filter((d) => !held.has(d));
      let b = all;
      let written: BatchWritten = { superseded: [] };
      // stored verdict bodies by key, of every verdict of the locked digests (read with their locks)
      const lockedVerdicts = new Map<string, string>();
      const lockedDigests = new Set<string>();
      if (locked.length || checked.length) {
        const reports: Array<Record<string, unknown>> = [];
        const verdicts: Array<Record<string, unknown>> = [];
        for (const [ds, lock] of [[locked, ' FOR UPDATE'], [checked, '']] as const) {
          if (!ds.length) continue;
          reports.push(...(await c.query(`SELECT digest, write_seq::text AS seq FROM reports WHERE digest = ANY($1::text[]) ORDER BY digest${lock}`, [ds])).rows);
          // the locked rows' bodies too: the verdicts written below keep their stored tags (writeVerdictsPg)
          const got = (await c.query(`SELECT registry, repository, digest, updated_seq::text AS seq${lock ? ', body' : ''} FROM verdicts WHERE digest = ANY($1::text[]) ORDER BY registry, repository, digest${lock}`, [ds])).rows;
          verdicts.push(...got);
          if (lock) for (const r of got) lockedVerdicts.set(JSON.stringify([r.registry, r.repository, r.digest]), String(r.body));
          if (lock) for (const d of ds) lockedDigests.add(d);
        }
        ({ batch: b, written } = withoutSuperseded(all, marksOf([...locked, ...checked], reports, verdicts)));
      }
      // Each kind of row in one multi-row statement, and the writes of every kind sent together (a
      // WriteSet: one statement of data-modifying parts as long as the parameters fit): a batch costs a
      // few round trips (locks, one read of what the writes depend on, the writes), not one per image or table.
      const w = new WriteSet();
      const reports = b.rejudged.flatMap((r) => (r.report ? [r.report] : []));
      if (reports.length) {
        // written at once: the patches read below are those of reports not written whole
        await insertValues(c, 'INSERT INTO reports (digest, body, created_at) VALUES', reports.map((r) => [r.digest, JSON.stringify(r.body), now]), 'ON CONFLICT (digest) DO UPDATE SET body = EXCLUDED.body, created_at = EXCLUDED.created_at, patch = NULL', ['', '', '::bigint']);
        await c.query('DELETE FROM report_patches WHERE digest = ANY($1::text[])', [reports.map((r) => r.digest)]);
      }
      const patches = b.rejudged.flatMap((r) => (r.reportPatch && !r.report ? [r.reportPatch] : []));
      // A patch only over a stored report, whose row is locked (FOR SHARE: a whole write of it waits for
      // this transaction, then clears the patch) but not written (a write renumbers it for the catch-up
      // and versions the row). What a delta needs (src/store/report-patch.ts) is read before the indexes
      // are written: whether the report's created_at is the index's report_at, the index's signature, and the previous patch
      // when it is a delta (a prefix test reads a few bytes of a full one). The verdicts' numbering base
      // (MAX(updated_seq), read after their rows were locked above, as writeVerdictsPg reads it) comes with it.
      const verdictList = b.rejudged.flatMap((r) => r.verdicts);
      let top: number | undefined;
      const stored = new Map<string, Record<string, unknown>>();
      if (patches.length) {
        const rows = (await c.query(
          `SELECT r.digest, r.created_at = i.report_at AS from_body, i.findings_sig, CASE WHEN p.digest IS NULL THEN NULL WHEN left(p.patch, ${DELTA_PREFIX.length}) = $2 THEN p.patch ELSE '' END AS previous,
             ${verdictList.length ? '(SELECT COALESCE(MAX(updated_seq), 0) FROM verdicts)' : 'NULL::bigint'} AS top
           FROM reports r LEFT JOIN image_index i ON i.digest = r.digest LEFT JOIN report_patches p ON p.digest = r.digest
           WHERE r.digest = ANY($1::text[]) ORDER BY r.digest FOR SHARE OF r`,
          [patches.map((p) => p.digest), DELTA_PREFIX],
        )).rows;
        for (const r of rows) stored.set(String(r.digest), r);
        if (rows.length && rows[0].top != null) top = Number(rows[0].top);
      }
      await writeVerdictsPg(c, verdictList, w, { bodies: lockedVerdicts, digests: lockedDigests, top });
      const changes = b.rejudged.flatMap((r) => r.changes);
      w.values('INSERT INTO image_changes (at, run, registry, repository, digest, body) VALUES', changes.map((x) => [x.at, x.run, x.registry, x.repository, x.digest, changeText(x)]));
      const audits = b.rejudged.flatMap((r) => r.audits);
      if (audits.length) {
        const at = new Date(now).toISOString();
        w.values('INSERT INTO audit (at, actor, action, registry, repository, digest, tag, detail) VALUES', audits.map((a) => [
          at, a.actor, a.action, a.registry ?? null, a.repository ?? null, a.digest ?? null, a.tag ?? null, a.detail ? JSON.stringify(a.detail) : null,
        ]));
      }
      // the index signatures read just above are those writeIndexes would read (same transaction, rows not written since)
      const sigsRead = new Map([...stored].map(([d, r]) => [d, (r.findings_sig as string | null) ?? null]));
      const sigs = await writeIndexes(c, b.rejudged.flatMap((r) => (r.index ? [{ ...r.index, reportAt: r.report || r.reportPatch ? now : r.index.reportAt }] : [])), now, w, sigsRead);
      const rows = patches.flatMap((p) => {
        const t = stored.get(p.digest);
        if (!t) return [];
        const state = { fromBody: t.from_body === true, sig: (t.findings_sig as string | null) ?? null, previous: (t.previous as string | null) ?? null };
        return [[p.digest, storedPatchText(p, state, sigs.get(p.digest))]];
      });
      // the patch texts as parameters of their own (a text[] of them is escaped and parsed again: several times slower)
      w.values('INSERT INTO report_patches (digest, patch) VALUES', rows, 'ON CONFLICT (digest) DO UPDATE SET patch = EXCLUDED.patch');
      // one hold per key (a set one wins, as when clears were written before sets): one statement may not touch a row twice
      const holdKey = (h: { registry: string; repository: string; digest: string }) => JSON.stringify([h.registry, h.repository, h.digest]);
      const set = new Map(b.rejudged.flatMap((r) => r.holds ?? []).filter((h) => h.dueAt !== null).map((h) => [holdKey(h), h]));
      const clear = [...new Map(b.rejudged.flatMap((r) => r.holds ?? []).filter((h) => h.dueAt === null && !set.has(holdKey(h))).map((h) => [holdKey(h), h])).values()];
      if (clear.length) {
        w.add('DELETE FROM monitor_holds h USING unnest($1::text[], $2::text[], $3::text[]) AS t(g, p, d) WHERE h.registry = t.g AND h.repository = t.p AND h.digest = t.d', [
          clear.map((h) => h.registry), clear.map((h) => h.repository), clear.map((h) => h.digest),
        ]);
      }
      w.values('INSERT INTO monitor_holds (registry, repository, digest, due_at) VALUES', [...set.values()].map((h) => [h.registry, h.repository, h.digest, h.dueAt]), 'ON CONFLICT (registry, repository, digest) DO UPDATE SET due_at = EXCLUDED.due_at', ['', '', '', '::bigint']);
      w.values('INSERT INTO monitor_outbox (at, body) VALUES', b.rejudged.flatMap((r) => (r.notices ?? []).map((n) => [now, JSON.stringify(n)])), '', ['::bigint', '']);
      if (b.unchanged.length) w.add('UPDATE image_index SET vulndb_digest = $1 WHERE digest = ANY($2::text[])', [b.vulndbDigest, b.unchanged]);
      await w.flush(c);
      return written;
    });
  }

  async claimOutbox(owner: string, limit: number, leaseMs: number, now: number): Promise<OutboxNotice[]> {
    const r = await this.q(
      'claim outbox',
      // leases on the caller's clock: delivery is at least once, so replicas whose clocks disagree at worst
      // send a notice twice (monitor runs, which must not be judged twice, lease on the database's clock)
      `UPDATE monitor_outbox SET owner = $1, lease_until = $2 WHERE seq IN (
         SELECT seq FROM monitor_outbox WHERE lease_until < $3 OR owner = $1 ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED)
       RETURNING seq, body`,
      [owner, now + leaseMs, now, limit],
    );
    return r.rows.map((x) => ({ seq: Number(x.seq), body: JSON.parse(String(x.body)) as unknown })).sort((a, b) => a.seq - b.seq);
  }

  async addOutbox(bodies: unknown[], at: number): Promise<void> {
    if (!bodies.length) return;
    const params = bodies.flatMap((b) => [at, JSON.stringify(b)]);
    await this.q('add outbox', `INSERT INTO monitor_outbox (at, body) VALUES ${bodies.map((_, i) => `($${2 * i + 1}::bigint, $${2 * i + 2})`).join(', ')}`, params);
  }

  async outboxDone(owner: string, seqs: number[]): Promise<void> {
    if (seqs.length) await this.q('outbox done', 'DELETE FROM monitor_outbox WHERE owner = $1 AND seq = ANY($2::bigint[])', [owner, seqs]);
  }

  async listChanges(digest: Digest, limit: number): Promise<ChangeRecord[]> {
    const r = await this.q('list changes', 'SELECT body FROM image_changes WHERE digest = $1 ORDER BY seq DESC LIMIT $2', [digest, limit]);
    return r.rows.map((x) => JSON.parse(String(x.body)) as ChangeRecord);
  }

  async dueHolds(now: number, latest = Number.MAX_SAFE_INTEGER): Promise<Array<{ registry: string; repository: string; digest: Digest; dueAt: number }>> {
    const r = await this.q('due holds', 'SELECT registry, repository, digest, due_at FROM monitor_holds WHERE due_at <= $1 OR due_at > $2 ORDER BY due_at', [now, latest]);
    return r.rows.map((x) => ({ registry: String(x.registry), repository: String(x.repository), digest: String(x.digest) as Digest, dueAt: Number(x.due_at) }));
  }
}

/**
 * Writes `verdicts` inside the transaction on `c` as putVerdict does (but a stored row's tags kept as they are,
 * each write numbered MAX(updated_seq) + 1 in order), with one locking read and one upsert for all.
 * A verdict named twice is written once (its last version). `w`: the upsert joins these writes (sent
 * by the caller), else it is sent now. `known`: what the caller read in this transaction already, so
 * it is not read again: the stored bodies (by JSON [registry, repository, digest]) of every verdict of
 * `digests`, whose rows it locked, and the numbering base (MAX(updated_seq), read after those locks).
 */
async function writeVerdictsPg(c: pg.PoolClient, list: Verdict[], w?: WriteSet, known?: { bodies: Map<string, string>; digests: Set<string>; top?: number }): Promise<void> {
  const by = new Map<string, Verdict>();
  for (const v of list) by.set(JSON.stringify([v.registry, v.repository, v.digest]), v);
  const vs = [...by.values()];
  if (!vs.length) return;
  const stored = new Map<string, Verdict>();
  const unknown = vs.filter((v) => !known?.digests.has(v.digest));
  if (unknown.length) {
    const old = await c.query(
      'SELECT v.registry, v.repository, v.digest, v.body FROM verdicts v JOIN unnest($1::text[], $2::text[], $3::text[]) AS t(g, p, d) ON v.registry = t.g AND v.repository = t.p AND v.digest = t.d ORDER BY v.registry, v.repository, v.digest FOR UPDATE OF v',
      [unknown.map((v) => v.registry), unknown.map((v) => v.repository), unknown.map((v) => v.digest)],
    );
    for (const r of old.rows) stored.set(JSON.stringify([r.registry, r.repository, r.digest]), JSON.parse(String(r.body)) as Verdict);
  }
  for (const [k, v] of by) {
    if (!known?.digests.has(v.digest)) continue;
    const body = known.bodies.get(k);
    if (body !== undefined) stored.set(k, JSON.parse(body) as Verdict);
  }
  // A re-judgement knows nothing newer of tags than the store: a stored verdict keeps its tags (a
  // tag moved away after the pass read it, by moveTag, which does not renumber it, stays away).
  const merged = vs.map((v) => { const s = stored.get(JSON.stringify([v.registry, v.repository, v.digest])); return s ? { ...v, tags: s.tags ?? [] } : v; });
  // numbered MAX + 1, + 2, … in list order (one statement sees the table as it was before it)
  const base = known?.top ?? Number((await c.query('SELECT COALESCE(MAX(updated_seq), 0) AS m FROM verdicts')).rows[0].m);
  const out = w ?? new WriteSet();
  out.values(
    'INSERT INTO verdicts (registry, repository, digest, decision, body, evaluated_at, updated_seq, vulndb_digest, policy_revision) VALUES',
    merged.map((v, n) => [v.registry, v.repository, v.digest, v.decision, JSON.stringify(v), v.evaluatedAt, base + n + 1, v.vulndb?.digest ?? null, v.policy?.revision ?? null]),
    `ON CONFLICT (registry, repository, digest) DO UPDATE SET decision = EXCLUDED.decision, body = EXCLUDED.body,
       evaluated_at = EXCLUDED.evaluated_at, updated_seq = EXCLUDED.updated_seq, vulndb_digest = EXCLUDED.vulndb_digest,
       policy_revision = EXCLUDED.policy_revision`,
    ['', '', '', '', '', '', '::bigint', '', ''],
  );
  if (!w) await out.flush(c);
}

/** Bound parameters per statement at most (PostgreSQL's protocol allows 65535). */
const MAX_PARAMS = 30_000;

/** How many rows of `width` columns go in one multi-row statement (at most {@link MAX_PARAMS} parameters). */
function rowsPer(width: number): number {
  return Math.max(1, Math.floor(MAX_PARAMS / Math.max(1, width)));
}

/** The multi-row VALUES statements of `rows` (see {@link insertValues}), each with its parameters. */
function valuesStatements(head: string, rows: unknown[][], tail = '', casts: string[] = []): Array<{ sql: string; args: unknown[] }> {
  if (!rows.length) return [];
  const per = rowsPer(rows[0].length);
  const out: Array<{ sql: string; args: unknown[] }> = [];
  for (let i = 0; i < rows.length; i += per) {
    const args: unknown[] = [];
    const values = rows.slice(i, i + per).map((r) => `(${r.map((x, k) => `$${args.push(x)}${casts[k] ?? ''}`).join(', ')})`);
    out.push({ sql: `${head} ${values.join(', ')} ${tail}`, args });
  }
  return out;
}

/**
 * Inserts `rows` with multi-row VALUES statements (`head` ends in `VALUES`, `tail` follows, e.g. an
 * ON CONFLICT clause), as many rows per statement as {@link MAX_PARAMS} allows; `casts[i]` is appended
 * to column i's placeholder. Bodies go as their own parameters: a text[] of large JSON documents is
 * escaped by the client and parsed again by the server, several times slower than plain parameters.
 */
async function insertValues(c: pg.PoolClient, head: string, rows: unknown[][], tail = '', casts: string[] = []): Promise<void> {
  for (const st of valuesStatements(head, rows, tail, casts)) await c.query(st.sql, st.args);
}

/**
 * Writes of one transaction gathered to be sent together. Each part is an INSERT, UPDATE or DELETE with
 * its own `$n` parameters; {@link flush} sends as many parts as {@link MAX_PARAMS} allows as one
 * statement, every part but the last as a data-modifying WITH query (PostgreSQL runs each of them to
 * completion, on the statement's one snapshot), so a batch's writes of every table cost one round trip
 * rather than one each. Parts of one set must not touch the same row (the parts of one statement do
 * not see each other's changes, and a row changed twice in one statement is an error or undefined);
 * writes that must follow another's effect (a delete before an insert of its key) are sent before.
 */
export class WriteSet {
  private parts: Array<{ sql: string; args: unknown[] }> = [];

  /** Adds one statement. */
  add(sql: string, args: unknown[]): void {
    this.parts.push({ sql, args });
  }

  /** Adds the multi-row VALUES statements of `rows` (see {@link insertValues}); nothing for no rows. */
  values(head: string, rows: unknown[][], tail = '', casts: string[] = []): void {
    this.parts.push(...valuesStatements(head, rows, tail, casts));
  }

  /** Sends every part (in as few statements as the parameter limit allows) and empties the set. */
  async flush(c: pg.PoolClient): Promise<void> {
    const parts = this.parts;
    this.parts = [];
    for (let i = 0; i < parts.length; ) {
      const group = [parts[i++]];
      let n = group[0].args.length;
      while (i < parts.length && n + parts[i].args.length <= MAX_PARAMS) {
        n += parts[i].args.length;
        group.push(parts[i++]);
      }
      if (group.length === 1) {
        await c.query(group[0].sql, group[0].args);
        continue;
      }
      const args: unknown[] = [];
      const texts = group.map((p) => {
        const off = args.length;
        for (const a of p.args) args.push(a);
        // parameters renumbered after those of the parts before (part texts hold `$` only in placeholders)
        return off ? p.sql.replace(/\$(\d+)/g, (_m, k: string) => `$${Number(k) + off}`) : p.sql;
      });
      await c.query(`WITH ${texts.slice(0, -1).map((t, k) => `w${k} AS (${t})`).join(', ')} ${texts[texts.length - 1]}`, args);
    }
  }
}

/** Writes one image's index inside the transaction on `c` ({@link writeIndexes}). */
async function writeIndex(c: pg.PoolClient, ix: ImageIndex, now: number): Promise<void> {
  await writeIndexes(c, [ix], now);
}

/**
 * Writes the indexes of several images inside the transaction on `c`, each as a delta: findings that
 * stay (same identity and content) are not rewritten; first-seen times are kept. One statement per
 * table for all images. An image named twice is written once (its last index). @returns the findings
 * signature written for each image.
 */
async function writeIndexes(c: pg.PoolClient, list: ImageIndex[], now: number, w?: WriteSet, sigsRead?: Map<string, string | null>): Promise<Map<string, string>> {
  const ixs = [...new Map(list.map((ix) => [ix.digest, ix])).values()];
  if (!ixs.length) return new Map();
  const digests = ixs.map((ix) => ix.digest);
  const old = new Map<string, Map<string, { firstSeen: number; body: string }>>();
  // Images whose stored signature is still that of the findings the caller read with it: those are the rows
  // (src/store/monitor-types.ts ImageIndex.stored); the rows of the others are read. `sigsRead`: signatures
  // the caller read in this transaction already (no index written since).
  const based = ixs.filter((ix) => ix.stored);
  if (based.length) {
    const toRead = based.filter((ix) => !sigsRead?.has(ix.digest)).map((ix) => ix.digest);
    const sigs = new Map(sigsRead ?? []);
    if (toRead.length) for (const r of (await c.query('SELECT digest, findings_sig FROM image_index WHERE digest = ANY($1::text[])', [toRead])).rows) sigs.set(String(r.digest), r.findings_sig as string | null);
    for (const ix of based) if (sigs.get(ix.digest) === ix.stored!.sig) old.set(ix.digest, storedRows(ix.stored!.findings));
  }
  const unread = digests.filter((d) => !old.has(d));
  for (const r of unread.length ? (await c.query('SELECT digest, fkey, first_seen, body FROM image_findings WHERE digest = ANY($1::text[])', [unread])).rows : []) {
    const d = String(r.digest);
    const m = old.get(d) ?? new Map<string, { firstSeen: number; body: string }>();
    m.set(String(r.fkey), { firstSeen: Number(r.first_seen), body: String(r.body) });
    old.set(d, m);
  }
  const out = w ?? new WriteSet();
  const withPackages = ixs.filter((ix) => ix.packages);
  if (withPackages.length) {
    await c.query('DELETE FROM image_packages WHERE digest = ANY($1::text[])', [withPackages.map((ix) => ix.digest)]);
    const rows = withPackages.flatMap((ix) => mergeByPkg(ix.packages!).map((g) => ({ d: ix.digest, p: g.pkg, b: JSON.stringify(g.entries) })));
    if (rows.length) {
      out.values('INSERT INTO image_packages (pkg, digest, body) VALUES', rows.map((r) => [r.p, r.d, r.b]), 'ON CONFLICT DO NOTHING');
    }
  }
  const writes: Array<FindingWrite & { d: string }> = [];
  const rewrite: Array<{ d: string; k: string }> = [];
  const sigs: string[] = [];
  for (const ix of ixs) {
    const { write, gone, sig } = findingsDelta(ix.findings, old.get(ix.digest) ?? new Map(), now);
    sigs.push(sig);
    for (const w of write) writes.push({ ...w, d: ix.digest });
    // rows to delete: those gone and those rewritten; a new finding has no row (nor alias rows) to delete
    for (const k of gone) rewrite.push({ d: ix.digest, k });
    for (const w of write) if (w.existed) rewrite.push({ d: ix.digest, k: w.f.key });
  }
  if (rewrite.length) {
    const args = [rewrite.map((r) => r.d), rewrite.map((r) => r.k)];
    await c.query('DELETE FROM image_findings f USING unnest($1::text[], $2::text[]) AS t(d, k) WHERE f.digest = t.d AND f.fkey = t.k', args);
    await c.query('DELETE FROM finding_ids f USING unnest($1::text[], $2::text[]) AS t(d, k) WHERE f.digest = t.d AND f.fkey = t.k', args);
  }
  if (writes.length) {
    out.values('INSERT INTO image_findings (digest, fkey, pkg, first_seen, body) VALUES', writes.map((x) => [x.d, x.f.key, x.f.pkg, x.firstSeen, x.body]), '', ['', '', '', '::bigint', '']);
    const aliases: string[] = [];
    const ds: string[] = [];
    const keys: string[] = [];
    for (const { f, d } of writes) for (const id of idsOf(f)) {
      aliases.push(id.toUpperCase());
      ds.push(d);
      keys.push(f.key);
    }
    out.add('INSERT INTO finding_ids (alias, digest, fkey) SELECT a, d, k FROM unnest($1::text[], $2::text[], $3::text[]) AS t(a, d, k) ON CONFLICT DO NOTHING', [aliases, ds, keys]);
  }
  out.add(
    `INSERT INTO image_index (digest, vulndb_digest, report_at, indexed_at, findings_sig) SELECT d, v, r, $4::bigint, s FROM unnest($1::text[], $2::text[], $3::bigint[], $5::text[]) AS t(d, v, r, s)
     ON CONFLICT (digest) DO UPDATE SET vulndb_digest = EXCLUDED.vulndb_digest, report_at = EXCLUDED.report_at, indexed_at = EXCLUDED.indexed_at, findings_sig = EXCLUDED.findings_sig`,
    [digests, ixs.map((ix) => ix.vulndbDigest), ixs.map((ix) => ix.reportAt), now, sigs],
  );
  if (!w) await out.flush(c);
  return new Map(digests.map((d, i) => [d, sigs[i]]));
}
