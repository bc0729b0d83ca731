/**
 * {@link MonitorStore} on SQLite (better-sqlite3): one process holds the file, so `Date.now()` is the
 * clock of leases and a transaction is the only claim needed.
 */
import crypto from 'node:crypto';
import type Database from 'better-sqlite3';
import { PushgateError, type Digest, type Verdict } from '../core/index.js';
import type { AffectedImage, AffectedPageRequest, BatchWritten, ChangeRecord, FindingGroup, FindingParser, ImageIndex, IndexedFinding, IndexedPackages, MonitorRun, MonitorRunKind, MonitorStore, OutboxNotice, PackageGroup, ReadMarks, Rejudgement, RejudgementBatch } from './monitor-types.js';
import { changeText, findingText, TEXT } from './finding-text.js';
import { DELTA_PREFIX, storedPatchText } from './report-patch.js';
import { writeReport } from './sqlite-store.js';

type Row = Record<string, unknown>;

/** SQLite's default limit of bound parameters is 32766; lists are sent in chunks well below it. */
const CHUNK = 500;

/** Rows per multi-row INSERT at most, and bound parameters per statement at most (see insertRows). */
const ROWS_PER_INSERT = 100;
const PARAMS_PER_INSERT = 1000;

function chunks<T>(xs: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += CHUNK) out.push(xs.slice(i, i + CHUNK));
  return out;
}

/** A monitor_runs row as a {@link MonitorRun} (either dialect). */
export function runFromRow(r: Row): MonitorRun {
  return {
    id: String(r.id),
    kind: String(r.kind) as MonitorRunKind,
    vulndbDigest: (r.vulndb_digest as string | null) ?? null,
    state: String(r.state) as MonitorRun['state'],
    owner: (r.owner as string | null) ?? null,
    leaseUntil: Number(r.lease_until),
    cursor: String(r.cursor ?? ''),
    startedAt: Number(r.started_at),
    finishedAt: r.finished_at == null ? null : Number(r.finished_at),
    stats: r.stats ? (JSON.parse(String(r.stats)) as Record<string, unknown>) : null,
  };
}

/** Every id of a finding (its id and aliases), for the affected-images lookup. */
export function idsOf(f: IndexedFinding): string[] {
  return [...new Set([f.finding.id, ...(f.finding.aliases ?? [])])];
}

/** One finding of an index write: its row body and first-seen time, and whether a row existed. */
export interface FindingWrite { f: IndexedFinding; body: string; firstSeen: number; existed: boolean }

/**
 * What writing `findings` over the stored rows `old` (by finding key) changes: the findings to
 * (re)write (new, or whose content differs; first-seen times kept) and the keys of rows no longer
 * present. Findings whose identity and content stay are left alone, so a re-judgement writes only
 * what changed. The first finding of a repeated key wins. Shared by both stores.
 */
export function findingsDelta(findings: IndexedFinding[], old: Map<string, { firstSeen: number; body: string }>, now: number): { write: FindingWrite[]; gone: string[]; sig: string } {
  const keep = new Set<string>();
  const write: FindingWrite[] = [];
  const lines: string[] = [];
  for (const f of findings) {
    if (keep.has(f.key)) continue;
    keep.add(f.key);
    const body = findingText(f.finding);
    // the line made once per finding object: most findings of a pass are objects shared by many images
    lines.push(lineOf(f.key, f.finding));
    const was = old.get(f.key);
    if (was && was.body === body) continue;
    write.push({ f, body, firstSeen: was?.firstSeen ?? f.firstSeen ?? now, existed: was !== undefined });
  }
  return { write, gone: [...old.keys()].filter((k) => !keep.has(k)), sig: signatureOfLines(lines) };
}

/** Stored index findings (as read, their row text kept by the parser) as the rows {@link findingsDelta} compares with. */
export function storedRows(findings: IndexedFinding[]): Map<string, { firstSeen: number; body: string }> {
  return new Map(findings.map((f) => [f.key, { firstSeen: f.firstSeen ?? 0, body: findingText(f.finding) }]));
}

/** The SHA-256 (base64) of one signature line: the finding key, NUL, its row body (JSON text). */
function lineDigest(key: string, body: string): string {
  return crypto.createHash('sha256').update(`${key}\u0000${body}`).digest('base64');
}

/**
 * Prefix of a signature made by {@link signatureOfLines}. Stores written before it hold signatures
 * without it (one SHA-256 over the lines themselves): those never equal one made now, so such an index
 * is read and compared row by row once (as an index without a signature is), and is rewritten with a
 * signature of this form; a process of the earlier form likewise reads the rows of an index signed in
 * this form. Signatures are only ever compared for equality.
 */
export const SIGNATURE_PREFIX = 'v2:';

/** The signature of a set of lines (one per finding key, {@link lineOf}): SHA-256 over their digests in sorted order. */
function signatureOfLines(lines: string[]): string {
  return SIGNATURE_PREFIX + crypto.createHash('sha256').update(lines.sort().join('\n')).digest('base64');
}

/**
 * The signature of an image's indexed findings as stored (`image_index.findings_sig`): a SHA-256 over
 * the SHA-256 of every (finding key, body) row the store writes for `findings` (the first finding of a
 * repeated key, its body as JSON text), those digests sorted ({@link SIGNATURE_PREFIX} first). Equal
 * signatures: the stored rows are these findings exactly (identity and content), so nothing of them is
 * to be written and no diff is to be found. A digest per row rather than the rows' text: a pass signs
 * every image's findings, most of them objects shared by many images, so each row's text is hashed
 * once per pass and an image's signature hashes some 45 bytes per finding, not the finding's text.
 */
export function findingSetSignature(findings: Array<{ key: string; finding: unknown }>): string {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const f of findings) {
    if (seen.has(f.key)) continue;
    seen.add(f.key);
    lines.push(lineOf(f.key, f.finding));
  }
  return signatureOfLines(lines);
}

/**
 * Line digests by finding object (with the key they were made for): a full pass signs every image's
 * findings, most of them objects shared by many images (src/vulndb/db.ts MatchMemo), so each row's
 * digest is made once. Findings are not changed once made (see finding-text.ts).
 */
const LINES = new WeakMap<object, { key: string; line: string }>();

function lineOf(key: string, finding: unknown): string {
  if (typeof finding !== 'object' || finding === null) return lineDigest(key, findingText(finding));
  const c = LINES.get(finding);
  if (c && c.key === key) return c.line;
  const line = lineDigest(key, findingText(finding));
  LINES.set(finding, { key, line });
  return line;
}

/**
 * The {@link ReadMarks} of `digests` from rows read together: reports (`digest`, `seq`: write_seq) and
 * verdicts (`registry`, `repository`, `digest`, `seq`: updated_seq). Shared by both stores.
 */
export function marksOf(digests: Digest[], reports: Row[], verdicts: Row[]): Map<Digest, ReadMarks> {
  const out = new Map<Digest, ReadMarks>(digests.map((d) => [d, { digest: d, report: null, verdicts: [] }]));
  for (const r of reports) {
    const m = out.get(String(r.digest) as Digest);
    if (m) m.report = String(r.seq);
  }
  for (const r of verdicts) out.get(String(r.digest) as Digest)?.verdicts.push({ registry: String(r.registry), repository: String(r.repository), seq: Number(r.seq) });
  return out;
}

/** Whether two marks of one digest name the same stored report write and the same verdict writes. */
function sameMarks(a: ReadMarks, b: ReadMarks | undefined): boolean {
  if (!b || a.report !== b.report || a.verdicts.length !== b.verdicts.length) return false;
  const key = (v: ReadMarks['verdicts'][number]) => JSON.stringify([v.registry, v.repository, v.seq]);
  const have = new Set(b.verdicts.map(key));
  return a.verdicts.every((v) => have.has(key(v)));
}

/** Every digest a batch holds marks of (those its writes are guarded by), each once, in text order. */
export function markedDigests(b: RejudgementBatch): Digest[] {
  const all = new Set<Digest>();
  for (const r of b.rejudged) for (const m of r.read ?? []) all.add(m.digest);
  for (const m of b.unchangedRead ?? []) all.add(m.digest);
  return [...all].sort();
}

/**
 * `b` without the images whose marks differ from `now` (the stored state read inside the write
 * transaction, {@link marksOf}): a re-judged image is dropped whole when any of its marks moved, an
 * unchanged one when its own did; unmarked ones stay. Shared by both stores.
 */
export function withoutSuperseded(b: RejudgementBatch, now: Map<Digest, ReadMarks>): { batch: RejudgementBatch; written: BatchWritten } {
  const superseded: Digest[] = [];
  const rejudged = b.rejudged.filter((r) => {
    if (!r.read?.length || r.read.every((m) => sameMarks(m, now.get(m.digest)))) return true;
    superseded.push(r.read[0].digest);
    return false;
  });
  const marks = new Map((b.unchangedRead ?? []).map((m) => [m.digest, m]));
  const unchanged = b.unchanged.filter((d) => {
    const m = marks.get(d);
    if (!m || sameMarks(m, now.get(d))) return true;
    superseded.push(d);
    return false;
  });
  return { batch: { ...b, rejudged, unchanged }, written: { superseded } };
}

/** See the module comment. */
export class SqliteMonitorStore implements MonitorStore {
  constructor(private readonly db: Database.Database) {}

  private wrap<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw new PushgateError('STORE', `sqlite: ${what}: ${(e as Error).message}`, { cause: e, retryable: true });
    }
  }

  async staleIndexes(mark: number, limit: number): Promise<{ stale: Array<{ digest: Digest; reportAt: number }>; next: number }> {
    // One read transaction: the newest write number and the stale reports from one snapshot. Writes are
    // numbered under the single writer, so every number up to the newest is committed and in that snapshot.
    return this.wrap('stale indexes', () => this.db.transaction(() => {
      const top = Number((this.st('SELECT COALESCE(MAX(write_seq), 0) AS top FROM reports').get() as Row).top);
      const from = mark > top + 1 ? 0 : mark;
      const rows = this.st('SELECT r.digest, r.created_at, r.write_seq FROM reports r LEFT JOIN image_index i ON i.digest = r.digest WHERE r.write_seq >= ? AND (i.digest IS NULL OR i.report_at < r.created_at) ORDER BY r.write_seq LIMIT ?')
        .all(from, limit) as Row[];
      const stale = rows.map((r) => ({ digest: String(r.digest) as Digest, reportAt: Number(r.created_at) }));
      const next = rows.length < limit ? top + 1 : Number(rows[rows.length - 1].write_seq);
      return { stale, next: Math.max(from, next) };
    })());
  }

  async indexMark(): Promise<number> {
    return this.wrap('index mark', () => Number((this.st("SELECT mark FROM index_marks WHERE name = 'reports'").get() as Row | undefined)?.mark ?? 0));
  }

  async saveIndexMark(mark: number): Promise<void> {
    this.wrap('save index mark', () => {
      this.st(`INSERT INTO index_marks (name, mark) VALUES ('reports', @mark) ON CONFLICT (name) DO UPDATE SET mark =
        CASE WHEN index_marks.mark > (SELECT COALESCE(MAX(write_seq), 0) + 1 FROM reports) THEN excluded.mark ELSE MAX(index_marks.mark, excluded.mark) END`).run({ mark });
    });
  }

  async putIndex(index: ImageIndex): Promise<void> {
    this.wrap('put index', () => this.db.transaction(() => this.writeIndexes([index], Date.now()))());
  }

  async putIndexes(indexes: ImageIndex[]): Promise<void> {
    const now = Date.now();
    this.wrap('put indexes', () => this.db.transaction(() => this.writeIndexes(indexes, now))());
  }

  /** Prepared statements returning rows as arrays (better-sqlite3 `raw`), made once per connection. */
  private readonly rawStmts = new Map<string, Database.Statement>();
  private rawSt(sql: string): Database.Statement {
    let s = this.rawStmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql).raw(true);
      this.rawStmts.set(sql, s);
    }
    return s;
  }

  /** Prepared statements, made once per connection (preparing costs as much as a small write). */
  private readonly stmts = new Map<string, Database.Statement>();
  private st(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  /**
   * Inserts `rows` (each of the same number of columns) with multi-row statements (`head` ends in
   * `VALUES`, `tail` follows, e.g. an ON CONFLICT clause), in their order: groups of
   * {@link ROWS_PER_INSERT} rows share one prepared statement, the rest go one by one (two statement
   * texts per kind, whatever the count). A statement per group rather than per row: each statement
   * run is a call into SQLite with its own binding, step and reset.
   */
  private insertRows(head: string, rows: unknown[][], tail = ''): void {
    if (!rows.length) return;
    const width = rows[0].length;
    const one = `(${new Array<string>(width).fill('?').join(', ')})`;
    const per = Math.max(1, Math.min(ROWS_PER_INSERT, Math.floor(PARAMS_PER_INSERT / width)));
    let i = 0;
    if (rows.length >= per) {
      const many = this.st(`${head} ${new Array<string>(per).fill(one).join(', ')} ${tail}`);
      for (; i + per <= rows.length; i += per) many.run(...rows.slice(i, i + per).flat());
    }
    if (i < rows.length) {
      const single = this.st(`${head} ${one} ${tail}`);
      for (; i < rows.length; i++) single.run(...rows[i]);
    }
  }

  /**
   * Writes `list` (inside the caller's transaction) as writeVerdict does with stored tags, in order:
   * a stored verdict keeps its tags (a re-judgement knows nothing newer of them), each write is
   * numbered MAX(updated_seq) + 1 at its turn; with one read of the stored rows and of the maximum for all.
   */
  private writeVerdicts(list: Verdict[]): void {
    if (!list.length) return;
    const key = (v: { registry: unknown; repository: unknown; digest: unknown }) => JSON.stringify([v.registry, v.repository, v.digest]);
    // Only the stored tags are kept from a stored verdict: read as their own JSON text (`->`), not the
    // whole body parsed (a pass writes some 10,000 verdicts).
    const stored = new Map<string, { tags?: string[] }>();
    for (const c of chunks([...new Set(list.map((v) => v.digest))])) {
      for (const r of this.st(`SELECT registry, repository, digest, body -> '$.tags' AS tags FROM verdicts WHERE digest IN (${c.map(() => '?').join(',')})`).all(...c) as Array<Row & { registry: unknown; repository: unknown; digest: unknown }>) {
        stored.set(key(r), r.tags == null ? {} : { tags: JSON.parse(String(r.tags)) as string[] });
      }
    }
    const top = Number((this.st('SELECT COALESCE(MAX(updated_seq), 0) AS m FROM verdicts').get() as Row).m);
    const rows = list.map((v, n) => {
      const prev = stored.get(key(v));
      const merged = prev ? { ...v, tags: prev.tags ?? [] } : v;
      // a verdict named twice: the second write finds the first one stored
      stored.set(key(v), { tags: merged.tags });
      return [v.registry, v.repository, v.digest, merged.decision, JSON.stringify(merged), merged.evaluatedAt, top + n + 1, merged.vulndb?.digest ?? null, merged.policy?.revision ?? null];
    });
    this.insertRows(
      'INSERT INTO verdicts (registry, repository, digest, decision, body, evaluated_at, updated_seq, vulndb_digest, policy_revision) VALUES',
      rows,
      `ON CONFLICT (registry, repository, digest) DO UPDATE SET decision = excluded.decision, body = excluded.body,
       evaluated_at = excluded.evaluated_at, updated_seq = excluded.updated_seq, vulndb_digest = excluded.vulndb_digest,
       policy_revision = excluded.policy_revision`,
    );
  }

  /**
   * What a report patch of each of `digests` needs (src/store/report-patch.ts StoredReportState), read
   * before their indexes are written, for those whose report is stored: the index's signature; whether
   * the index's report_at is the report's created_at (only index entries of `reports` are read: its
   * created_at in the row sits after the body's pages; reports_by_created is named, as the planner would
   * take the primary key, whose row lookup walks the body); the previous patch when it is a delta.
   */
  private patchStates(digests: Digest[]): Map<Digest, Row> {
    const out = new Map<Digest, Row>();
    if (!digests.length) return out;
    const q = this.st(`SELECT d.value AS digest, i.findings_sig, EXISTS (SELECT 1 FROM reports r INDEXED BY reports_by_created WHERE r.created_at = i.report_at AND r.digest = i.digest) AS from_body,
        CASE WHEN pt.digest IS NULL THEN NULL WHEN substr(pt.patch, 1, ${DELTA_PREFIX.length}) = ? THEN pt.patch ELSE '' END AS previous
      FROM json_each(?) d JOIN reports r ON r.digest = d.value LEFT JOIN image_index i ON i.digest = d.value LEFT JOIN report_patches pt ON pt.digest = d.value`);
    for (const c of chunks(digests)) for (const r of q.all(DELTA_PREFIX, JSON.stringify(c)) as Row[]) out.set(String(r.digest) as Digest, r);
    return out;
  }

  /**
   * Writes the indexes of several images (inside the caller's transaction), each as a delta: findings
   * that stay (same identity and content) are not rewritten, so a re-judgement writes only what changed;
   * first-seen times are kept. The stored rows are read once for all (or taken from the index's
   * `stored` findings when the index still holds their signature), and the rows of each table written
   * with multi-row statements. An image named twice is written once (its last index).
   * `sigsRead`: index signatures read already in this transaction (no index written since).
   * @returns the findings signature written per image.
   */
  private writeIndexes(list: ImageIndex[], now: number, sigsRead?: Map<Digest, string | null>): Map<Digest, string> {
    const ixs = [...new Map(list.map((ix) => [ix.digest, ix])).values()];
    const out = new Map<Digest, string>();
    if (!ixs.length) return out;
    const old = new Map<Digest, Map<string, { firstSeen: number; body: string }>>();
    const based = ixs.filter((ix) => ix.stored);
    const sigs = new Map(sigsRead ?? []);
    for (const c of chunks(based.filter((ix) => !sigs.has(ix.digest)).map((ix) => ix.digest))) {
      for (const r of this.st(`SELECT digest, findings_sig FROM image_index WHERE digest IN (${c.map(() => '?').join(',')})`).all(...c) as Row[]) sigs.set(String(r.digest) as Digest, (r.findings_sig as string | null) ?? null);
    }
    for (const ix of based) if ((sigs.get(ix.digest) ?? null) === ix.stored!.sig) old.set(ix.digest, storedRows(ix.stored!.findings));
    for (const c of chunks(ixs.filter((ix) => !old.has(ix.digest)).map((ix) => ix.digest))) {
      for (const d of c) old.set(d, new Map());
      for (const r of this.st(`SELECT digest, fkey, first_seen, body FROM image_findings WHERE digest IN (${c.map(() => '?').join(',')})`).all(...c) as Row[]) {
        old.get(String(r.digest) as Digest)!.set(String(r.fkey), { firstSeen: Number(r.first_seen), body: String(r.body) });
      }
    }
    const findings: unknown[][] = [];
    const aliases: unknown[][] = [];
    const delF = this.st('DELETE FROM image_findings WHERE digest = ? AND fkey = ?');
    const delA = this.st('DELETE FROM finding_ids WHERE digest = ? AND fkey = ?');
    for (const ix of ixs) {
      if (ix.packages) {
        this.st('DELETE FROM image_packages WHERE digest = ?').run(ix.digest);
        this.insertRows('INSERT OR REPLACE INTO image_packages (pkg, digest, body) VALUES', mergeByPkg(ix.packages).map((p) => [p.pkg, ix.digest, JSON.stringify(p.entries)]));
      }
      const { write, gone, sig } = findingsDelta(ix.findings, old.get(ix.digest)!, now);
      out.set(ix.digest, sig);
      for (const { f, body, firstSeen, existed } of write) {
        if (existed) delA.run(ix.digest, f.key);
        findings.push([ix.digest, f.key, f.pkg, firstSeen, body]);
        for (const id of idsOf(f)) aliases.push([id.toUpperCase(), ix.digest, f.key]);
      }
      for (const k of gone) {
        delF.run(ix.digest, k);
        delA.run(ix.digest, k);
      }
    }
    this.insertRows('INSERT OR REPLACE INTO image_findings (digest, fkey, pkg, first_seen, body) VALUES', findings);
    this.insertRows('INSERT OR IGNORE INTO finding_ids (alias, digest, fkey) VALUES', aliases);
    this.insertRows(
      'INSERT INTO image_index (digest, vulndb_digest, report_at, indexed_at, findings_sig) VALUES',
      ixs.map((ix) => [ix.digest, ix.vulndbDigest, ix.reportAt, now, out.get(ix.digest)!]),
      'ON CONFLICT (digest) DO UPDATE SET vulndb_digest = excluded.vulndb_digest, report_at = excluded.report_at, indexed_at = excluded.indexed_at, findings_sig = excluded.findings_sig',
    );
    return out;
  }

  async indexStates(): Promise<Map<Digest, string | null>> {
    return this.wrap('index states', () => new Map((this.st('SELECT digest, vulndb_digest FROM image_index').all() as Row[]).map((r) => [String(r.digest) as Digest, (r.vulndb_digest as string | null) ?? null])));
  }

  async packagesUnder(pkgs: string[]): Promise<Array<{ digest: Digest; entry: IndexedPackages }>> {
    return this.wrap('packages under', () => {
      const out: Array<{ digest: Digest; entry: IndexedPackages }> = [];
      // images built alike hold a pair's packages alike: each distinct body is parsed once
      const parse = sharedPackagesParser();
      for (const c of chunks(pkgs)) {
        const rows = this.st(`SELECT pkg, digest, body FROM image_packages WHERE pkg IN (${c.map(() => '?').join(',')})`).all(...c) as Row[];
        for (const r of rows) for (const e of parse(String(r.body))) out.push({ digest: String(r.digest) as Digest, entry: e });
      }
      return out;
    });
  }

  async packageGroupsUnder(pkgs: string[]): Promise<PackageGroup[]> {
    return this.wrap('package groups under', () => {
      const rows: PackageGroupRow[] = [];
      for (const c of chunks(pkgs)) rows.push(...(this.rawSt(PACKAGE_GROUPS_SQL.replace('$PKGS', c.map(() => '?').join(','))).all(...c) as PackageGroupRow[]));
      const { groups, redo } = packageGroupsOf(rows);
      // rows whose text cannot be grouped (an entry with an empty manifest, a member elsewhere): one by one
      for (const r of redo) {
        const got = this.rawSt(`SELECT digest, body FROM image_packages WHERE pkg = ? AND digest IN (SELECT value FROM json_each(?))`).all(r.pkg, JSON.stringify(r.digests)) as Array<[string, string]>;
        for (const [d, body] of got) groups.push({ pkg: r.pkg, entries: JSON.parse(body) as IndexedPackages[], own: [], digests: [d as Digest] });
      }
      return groups;
    });
  }

  async packagesPage(pkgs: string[], page: AffectedPageRequest): Promise<{ rows: Array<{ digest: Digest; entry: IndexedPackages }>; more: boolean }> {
    if (!pkgs.length) return { rows: [], more: false };
    return this.wrap('packages page', () => {
      const list = pkgs.slice(0, CHUNK);
      const pl = list.map(() => '?').join(',');
      const sql = `WITH page AS (SELECT DISTINCT digest FROM image_packages WHERE pkg IN (${pl}) AND digest > ? ORDER BY digest LIMIT ?)
        SELECT digest, body FROM image_packages WHERE pkg IN (${pl}) AND digest > ? AND digest <= (SELECT max(digest) FROM page) ORDER BY digest, pkg`;
      const after = page.after ?? '';
      return pageOfPackages(this.st(sql).all(...list, after, page.limit + 1, ...list, after) as Row[], page.limit);
    });
  }

  async packagesOf(digest: Digest): Promise<IndexedPackages[]> {
    return this.wrap('packages of', () => (this.st('SELECT body FROM image_packages WHERE digest = ?').all(digest) as Row[]).flatMap((r) => JSON.parse(String(r.body)) as IndexedPackages[]));
  }

  async findingsUnder(pkgs: string[], shared?: FindingParser): Promise<Array<{ digest: Digest } & IndexedFinding>> {
    return this.wrap('findings under', () => {
      const out: Array<{ digest: Digest } & IndexedFinding> = [];
      // images holding a package at one version and place share their findings' rows: parsed once
      const parse = shared ?? sharedFindingParts();
      for (const c of chunks(pkgs)) {
        const rows = this.rawSt(`SELECT digest, fkey, pkg, first_seen, body FROM image_findings WHERE pkg IN (${c.map(() => '?').join(',')})`).all(...c) as Array<[string, string, string, number, string]>;
        for (const [d, fkey, pkg, firstSeen, body] of rows) out.push({ digest: d as Digest, ...parse(fkey, pkg, Number(firstSeen), body) });
      }
      return out;
    });
  }

  async findingGroupsUnder(pkgs: string[], shared?: FindingParser): Promise<FindingGroup[]> {
    return this.wrap('finding groups under', () => {
      const out: FindingGroup[] = [];
      const parse = shared ?? sharedFindingParts();
      for (const c of chunks(pkgs)) {
        for (const [pkg, fkey, body, digests] of this.rawSt(FINDING_GROUPS_SQL.replace('$PKGS', c.map(() => '?').join(','))).all(...c) as Array<[string, string, string, string]>) {
          out.push({ finding: parse(fkey, pkg, 0, body), digests: digests.split(',') as Digest[] });
        }
      }
      return out;
    });
  }

  async findingsOf(digest: Digest): Promise<IndexedFinding[]> {
    return this.wrap('findings of', () => (this.st('SELECT fkey, pkg, first_seen, body FROM image_findings WHERE digest = ?').all(digest) as Row[]).map(findingFromRow));
  }

  async findingsOfMany(digests: Digest[]): Promise<Map<Digest, IndexedFinding[]>> {
    return this.wrap('findings of many', () => {
      const out = new Map<Digest, IndexedFinding[]>();
      const parse = sharedFindingParser();
      for (const c of chunks(digests)) {
        for (const r of this.st(`SELECT digest, fkey, pkg, first_seen, body FROM image_findings WHERE digest IN (${c.map(() => '?').join(',')})`).all(...c) as Row[]) {
          const d = String(r.digest) as Digest;
          const l = out.get(d);
          if (l) l.push(parse(r));
          else out.set(d, [parse(r)]);
        }
      }
      return out;
    });
  }

  async findingsAndSignatures(digests: Digest[], shared?: FindingParser): Promise<{ findings: Map<Digest, IndexedFinding[]>; signatures: Map<Digest, string> }> {
    // one synchronous read transaction: nothing is written between the two reads
    return this.wrap('findings and signatures', () => this.db.transaction(() => {
      const findings = new Map<Digest, IndexedFinding[]>();
      const signatures = new Map<Digest, string>();
      const parse = shared ?? sharedFindingParts();
      for (const c of chunks(digests)) {
        const ph = c.map(() => '?').join(',');
        // rows as arrays: a pass reads some 35 rows per image, and an object per row costs more than the row
        let list: IndexedFinding[] | undefined;
        let last: string | undefined;
        for (const [d, fkey, pkg, firstSeen, body] of this.rawSt(`SELECT digest, fkey, pkg, first_seen, body FROM image_findings WHERE digest IN (${ph})`).all(...c) as Array<[string, string, string, number, string]>) {
          if (d !== last) {
            last = d;
            list = findings.get(d as Digest);
            if (!list) findings.set(d as Digest, (list = []));
          }
          list!.push(parse(fkey, pkg, Number(firstSeen), body));
        }
        for (const r of this.st(`SELECT digest, findings_sig FROM image_index WHERE digest IN (${ph}) AND findings_sig IS NOT NULL`).all(...c) as Row[]) signatures.set(String(r.digest) as Digest, String(r.findings_sig));
      }
      return { findings, signatures };
    })());
  }

  async findingSignatures(digests: Digest[]): Promise<Map<Digest, string>> {
    return this.wrap('finding signatures', () => {
      const out = new Map<Digest, string>();
      for (const c of chunks(digests)) {
        for (const r of this.st(`SELECT digest, findings_sig FROM image_index WHERE digest IN (${c.map(() => '?').join(',')}) AND findings_sig IS NOT NULL`).all(...c) as Row[]) out.set(String(r.digest) as Digest, String(r.findings_sig));
      }
      return out;
    });
  }

  async layersOf(keys: string[]): Promise<Map<string, unknown>> {
    return this.wrap('layers of', () => {
      const out = new Map<string, unknown>();
      for (const c of chunks(keys)) {
        for (const r of this.st(`SELECT key, body FROM layers WHERE key IN (${c.map(() => '?').join(',')})`).all(...c) as Row[]) out.set(String(r.key), JSON.parse(String(r.body)));
      }
      return out;
    });
  }

  async layerKeys(keys: string[]): Promise<Set<string>> {
    return this.wrap('layer keys', () => {
      const out = new Set<string>();
      for (const c of chunks(keys)) for (const r of this.st(`SELECT key FROM layers WHERE key IN (${c.map(() => '?').join(',')})`).all(...c) as Row[]) out.add(String(r.key));
      return out;
    });
  }

  async reportKeys(digests: Digest[]): Promise<Set<Digest>> {
    return this.wrap('report keys', () => {
      const out = new Set<Digest>();
      for (const c of chunks(digests)) for (const r of this.st(`SELECT digest FROM reports WHERE digest IN (${c.map(() => '?').join(',')})`).all(...c) as Row[]) out.add(String(r.digest) as Digest);
      return out;
    });
  }

  async moveIndexes(from: string | null, to: string, digests: Digest[]): Promise<number> {
    return this.wrap('move indexes', () =>
      from === null || !digests.length ? 0 : this.st('UPDATE image_index SET vulndb_digest = ? WHERE vulndb_digest = ? AND digest IN (SELECT value FROM json_each(?))').run(to, from, JSON.stringify(digests)).changes,
    );
  }

  async affectedBy(id: string, page: AffectedPageRequest): Promise<{ hits: AffectedImage[]; more: boolean }> {
    return this.wrap('affected by', () => {
      const alias = id.toUpperCase();
      const rows = this.st(AFFECTED_PAGE_SQL.replace(/\$(\d)/g, '@p$1')).all({ p1: alias, p2: page.after ?? '', p3: page.limit + 1 }) as Row[];
      return pageOfAffected(rows, page.limit);
    });
  }

  async verdictsOf(digests: Digest[]): Promise<Verdict[]> {
    return this.wrap('verdicts of', () => {
      const out: Verdict[] = [];
      for (const c of chunks(digests)) {
        const rows = this.st(`SELECT body FROM verdicts WHERE digest IN (${c.map(() => '?').join(',')}) ORDER BY digest, registry, repository`).all(...c) as Row[];
        for (const r of rows) out.push(JSON.parse(String(r.body)) as Verdict);
      }
      return out;
    });
  }

  async verdictsWithMarks(digests: Digest[]): Promise<{ verdicts: Verdict[]; marks: Map<Digest, ReadMarks> }> {
    // one read transaction: the marks are those of the verdicts read
    return this.wrap('verdicts with marks', () =>
      this.db.transaction(() => {
        const verdicts: Verdict[] = [];
        const vrows: Row[] = [];
        const rrows: Row[] = [];
        for (const c of chunks(digests)) {
          const ph = c.map(() => '?').join(',');
          for (const r of this.st(`SELECT registry, repository, digest, updated_seq AS seq, body FROM verdicts WHERE digest IN (${ph}) ORDER BY digest, registry, repository`).all(...c) as Row[]) {
            vrows.push(r);
            verdicts.push(JSON.parse(String(r.body)) as Verdict);
          }
          // from the index (migration 21): write_seq sits after the body in the row
          rrows.push(...(this.st(`SELECT digest, write_seq AS seq FROM reports INDEXED BY reports_by_digest_seq WHERE digest IN (${ph})`).all(...c) as Row[]));
        }
        return { verdicts, marks: marksOf(digests, rrows, vrows) };
      })(),
    );
  }

  /** The stored marks of `digests` now (inside the caller's transaction). */
  private marksNow(digests: Digest[]): Map<Digest, ReadMarks> {
    const vrows: Row[] = [];
    const rrows: Row[] = [];
    for (const c of chunks(digests)) {
      const ph = c.map(() => '?').join(',');
      vrows.push(...(this.st(`SELECT registry, repository, digest, updated_seq AS seq FROM verdicts WHERE digest IN (${ph})`).all(...c) as Row[]));
      rrows.push(...(this.st(`SELECT digest, write_seq AS seq FROM reports INDEXED BY reports_by_digest_seq WHERE digest IN (${ph})`).all(...c) as Row[]));
    }
    return marksOf(digests, rrows, vrows);
  }

  async claimRun(id: string, kind: MonitorRunKind, vulndbDigest: string | null, owner: string, leaseMs: number, now: number): Promise<MonitorRun | undefined> {
    return this.wrap('claim run', () =>
      this.db.transaction(() => {
        const row = this.st('SELECT * FROM monitor_runs WHERE id = ?').get(id) as Row | undefined;
        if (!row) {
          this.st("INSERT INTO monitor_runs (id, kind, vulndb_digest, state, owner, lease_until, cursor, started_at) VALUES (?, ?, ?, 'running', ?, ?, '', ?)")
            .run(id, kind, vulndbDigest, owner, now + leaseMs, now);
        } else {
          const run = runFromRow(row);
          if (run.state === 'done') return undefined;
          if (run.owner !== owner && run.leaseUntil >= now) return undefined;
          this.st('UPDATE monitor_runs SET owner = ?, lease_until = ? WHERE id = ?').run(owner, now + leaseMs, id);
        }
        return runFromRow(this.st('SELECT * FROM monitor_runs WHERE id = ?').get(id) as Row);
      })(),
    );
  }

  async getRun(id: string): Promise<MonitorRun | undefined> {
    return this.wrap('get run', () => {
      const row = this.st('SELECT * FROM monitor_runs WHERE id = ?').get(id) as Row | undefined;
      return row ? runFromRow(row) : undefined;
    });
  }

  async listRuns(limit: number, filter: { kind?: MonitorRunKind; state?: MonitorRun['state']; resumableBy?: { owner: string; now: number } } = {}): Promise<MonitorRun[]> {
    const r = filter.resumableBy;
    return this.wrap('list runs', () =>
      (
        this.st(
          "SELECT * FROM monitor_runs WHERE (? IS NULL OR kind = ?) AND (? IS NULL OR state = ?) AND (? IS NULL OR (state = 'running' AND (lease_until < ? OR owner = ?))) ORDER BY started_at DESC, id DESC LIMIT ?",
        ).all(filter.kind ?? null, filter.kind ?? null, filter.state ?? null, filter.state ?? null, r ? 1 : null, r?.now ?? 0, r?.owner ?? null, limit) as Row[]
      ).map(runFromRow),
    );
  }

  async finishRun(id: string, owner: string, stats: Record<string, unknown>, now: number): Promise<boolean> {
    return this.wrap('finish run', () => this.st("UPDATE monitor_runs SET state = 'done', finished_at = ?, stats = ?, lease_until = 0 WHERE id = ? AND owner = ? AND state = 'running'").run(now, JSON.stringify(stats), id, owner).changes === 1);
  }

  async commit(r: Rejudgement, now: number): Promise<boolean> {
    const { run, ...one } = r;
    return (await this.commitBatch({ run, rejudged: [one], unchanged: [], vulndbDigest: null }, now)) !== false;
  }

  async markJudged(run: Rejudgement['run'], digests: Digest[], vulndbDigest: string | null, now: number): Promise<boolean> {
    return (await this.commitBatch({ run, rejudged: [], unchanged: digests, vulndbDigest }, now)) !== false;
  }

  async commitBatch(all: RejudgementBatch, now: number): Promise<false | BatchWritten> {
    // one transaction (one WAL commit) for the batch; every statement prepared once per connection
    return this.wrap('commit re-judgements', () =>
      this.db.transaction(() => {
        const moved = this.st("UPDATE monitor_runs SET cursor = ?, lease_until = ? WHERE id = ? AND owner = ? AND state = 'running'")
          .run(all.run.cursor, now + all.run.leaseMs, all.run.id, all.run.owner).changes;
        if (moved !== 1) return false;
        // images another writer judged again since the pass read them are left as that writer stored them
        // (the single writer: nothing lands between this read and the writes below)
        const { batch: b, written } = withoutSuperseded(all, this.marksNow(markedDigests(all)));
        // Rows of one kind written together (multi-row statements), each read the writes depend on made
        // once for the batch: a batch costs a few dozen statements, not a dozen per image.
        this.writeVerdicts(b.rejudged.flatMap((r) => r.verdicts));
        this.insertRows('INSERT INTO image_changes (at, run, registry, repository, digest, body) VALUES', b.rejudged.flatMap((r) => r.changes.map((c) => [c.at, c.run, c.registry, c.repository, c.digest, changeText(c)])));
        const at = new Date(now).toISOString();
        this.insertRows('INSERT INTO audit (at, actor, action, registry, repository, digest, tag, detail) VALUES', b.rejudged.flatMap((r) => r.audits.map((a) => [
          at, a.actor, a.action, a.registry ?? null, a.repository ?? null, a.digest ?? null, a.tag ?? null, a.detail ? JSON.stringify(a.detail) : null,
        ])));
        const prepared = (sql: string) => this.st(sql);
        for (const r of b.rejudged) if (r.report) writeReport(this.db, r.report.digest, JSON.stringify(r.report.body), now, prepared);
        // A patch has a row of its own; the report's row is not written (SQLite rewrites a row's body
        // pages when it writes the row). What a delta needs is read before the indexes are written.
        const patches = b.rejudged.flatMap((r) => (r.reportPatch && !r.report ? [r.reportPatch] : []));
        const states = this.patchStates(patches.map((p) => p.digest));
        const sigs = this.writeIndexes(b.rejudged.flatMap((r) => (r.index ? [{ ...r.index, reportAt: r.report || r.reportPatch ? now : r.index.reportAt }] : [])), now, new Map([...states].map(([d, cur]) => [d, (cur.findings_sig as string | null) ?? null])));
        this.insertRows('INSERT INTO report_patches (digest, patch) VALUES', patches.flatMap((p) => {
          const cur = states.get(p.digest);
          if (!cur) return [];
          const state = { fromBody: cur.from_body === 1, sig: (cur.findings_sig as string | null) ?? null, previous: (cur.previous as string | null) ?? null };
          return [[p.digest, storedPatchText(p, state, sigs.get(p.digest))]];
        }), 'ON CONFLICT (digest) DO UPDATE SET patch = excluded.patch');
        // holds: each key as its last write leaves it
        const holds = new Map<string, { registry: string; repository: string; digest: Digest; dueAt: number | null }>();
        for (const r of b.rejudged) for (const h of r.holds ?? []) holds.set(JSON.stringify([h.registry, h.repository, h.digest]), h);
        const clear = [...holds.values()].filter((h) => h.dueAt === null);
        if (clear.length) this.st("DELETE FROM monitor_holds WHERE (registry, repository, digest) IN (SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?))").run(JSON.stringify(clear.map((h) => [h.registry, h.repository, h.digest])));
        this.insertRows('INSERT INTO monitor_holds (registry, repository, digest, due_at) VALUES', [...holds.values()].filter((h) => h.dueAt !== null).map((h) => [h.registry, h.repository, h.digest, h.dueAt]), 'ON CONFLICT (registry, repository, digest) DO UPDATE SET due_at = excluded.due_at');
        this.insertRows('INSERT INTO monitor_outbox (at, body) VALUES', b.rejudged.flatMap((r) => (r.notices ?? []).map((n) => [now, JSON.stringify(n)])));
        for (const c of chunks(b.unchanged)) this.st(`UPDATE image_index SET vulndb_digest = ? WHERE digest IN (${c.map(() => '?').join(',')})`).run(b.vulndbDigest, ...c);
        return written;
      })(),
    );
  }

  async claimOutbox(owner: string, limit: number, leaseMs: number, now: number): Promise<OutboxNotice[]> {
    return this.wrap('claim outbox', () =>
      this.db.transaction(() => {
        const rows = this.st('SELECT seq, body FROM monitor_outbox WHERE lease_until < ? OR owner = ? ORDER BY seq LIMIT ?').all(now, owner, limit) as Row[];
        const up = this.st('UPDATE monitor_outbox SET owner = ?, lease_until = ? WHERE seq = ?');
        for (const r of rows) up.run(owner, now + leaseMs, r.seq);
        return rows.map((r) => ({ seq: Number(r.seq), body: JSON.parse(String(r.body)) as unknown }));
      })(),
    );
  }

  async addOutbox(bodies: unknown[], at: number): Promise<void> {
    if (!bodies.length) return;
    this.wrap('add outbox', () => this.db.transaction(() => this.insertRows('INSERT INTO monitor_outbox (at, body) VALUES', bodies.map((b) => [at, JSON.stringify(b)])))());
  }

  async outboxDone(owner: string, seqs: number[]): Promise<void> {
    this.wrap('outbox done', () =>
      this.db.transaction(() => {
        for (const c of chunks(seqs)) this.st(`DELETE FROM monitor_outbox WHERE owner = ? AND seq IN (${c.map(() => '?').join(',')})`).run(owner, ...c);
      })(),
    );
  }

  async listChanges(digest: Digest, limit: number): Promise<ChangeRecord[]> {
    return this.wrap('list changes', () => (this.st('SELECT body FROM image_changes WHERE digest = ? ORDER BY seq DESC LIMIT ?').all(digest, limit) as Row[]).map((r) => JSON.parse(String(r.body)) as ChangeRecord));
  }

  async dueHolds(now: number, latest = Number.MAX_SAFE_INTEGER): Promise<Array<{ registry: string; repository: string; digest: Digest; dueAt: number }>> {
    return this.wrap('due holds', () =>
      (this.st('SELECT registry, repository, digest, due_at FROM monitor_holds WHERE due_at <= ? OR due_at > ? ORDER BY due_at').all(now, latest) as Row[]).map((r) => ({
        registry: String(r.registry), repository: String(r.repository), digest: String(r.digest) as Digest, dueAt: Number(r.due_at),
      })),
    );
  }
}

/** An image_findings row (either dialect). */
/**
 * The affected-images page, for both stores (`$n` placeholders; SQLite's are rewritten to named ones):
 * $1 upper-cased id, $2 the digest to start after (`''`: from the first), $3 images wanted + 1 (the
 * extra one says whether there are more). `page` walks the `(alias, digest, fkey)` primary key from
 * `$2` and stops after `$3` images; the findings are then one range of that key, up to the page's last
 * digest (a join on the page would let a planner scan every row of the alias and probe the page).
 * The same digest range is repeated on `image_findings`: it changes no row (each hit is one key of it)
 * but bounds that side too, so a plan made without statistics (a new store, PostgreSQL's generic plan
 * of the prepared statement) probes its primary key per hit rather than building a bitmap per hit
 * (measured: 404 hits, 15 ms → 2 ms).
 */
export const AFFECTED_PAGE_SQL = `WITH page AS (SELECT DISTINCT digest FROM finding_ids WHERE alias = $1 AND digest > $2 ORDER BY digest LIMIT $3)
SELECT a.digest, a.fkey, f.first_seen, f.body FROM finding_ids a
JOIN image_findings f ON f.digest = a.digest AND f.fkey = a.fkey
WHERE a.alias = $1 AND a.digest > $2 AND a.digest <= (SELECT max(digest) FROM page)
  AND f.digest > $2 AND f.digest <= (SELECT max(digest) FROM page)
ORDER BY a.digest, a.fkey`;

/**
 * The rows of {@link AFFECTED_PAGE_SQL} (asked for `limit + 1` images) as a page of at most `limit`
 * images: the findings of the extra image are dropped and say `more`.
 */
export function pageOfAffected(rows: Row[], limit: number): { hits: AffectedImage[]; more: boolean } {
  const hits: AffectedImage[] = [];
  let images = 0;
  let last: string | undefined;
  for (const r of rows) {
    const digest = String(r.digest);
    if (digest !== last) {
      if (++images > limit) return { hits, more: true };
      last = digest;
    }
    hits.push({ digest: digest as Digest, firstSeen: Number(r.first_seen), finding: JSON.parse(String(r.body)) });
  }
  return { hits, more: false };
}

/**
 * The rows of a packages page (asked for `limit + 1` images, in digest order) as at most `limit`
 * images: the rows of the extra image are dropped and say `more`.
 */
export function pageOfPackages(rows: Row[], limit: number): { rows: Array<{ digest: Digest; entry: IndexedPackages }>; more: boolean } {
  const out: Array<{ digest: Digest; entry: IndexedPackages }> = [];
  let images = 0;
  let last: string | undefined;
  for (const r of rows) {
    const digest = String(r.digest);
    if (digest !== last) {
      if (++images > limit) return { rows: out, more: true };
      last = digest;
    }
    for (const e of JSON.parse(String(r.body)) as IndexedPackages[]) out.push({ digest: digest as Digest, entry: e });
  }
  return { rows: out, more: false };
}

export function findingFromRow(r: Row): IndexedFinding {
  const body = String(r.body);
  const finding = JSON.parse(body) as IndexedFinding['finding'];
  TEXT.set(finding, body);
  return { key: String(r.fkey), pkg: String(r.pkg), firstSeen: Number(r.first_seen), finding };
}


/**
 * {@link findingFromRow} parsing each distinct body once: images built on one base hold the same
 * findings (same package instance, same advisory), stored as the same text, so one read of many
 * images' findings parses a small share of its rows. Rows with equal bodies share one finding object:
 * callers treat them as read-only (they copy to change one, as the judge does).
 */
export function sharedFindingParser(): (r: Row) => IndexedFinding {
  const parse = sharedFindingParts();
  return (r) => parse(String(r.fkey), String(r.pkg), Number(r.first_seen), String(r.body));
}

/**
 * Distinct finding bodies a {@link sharedFindingParts} parser keeps at most (some 30 MB at the ~600-byte
 * bodies of npm findings): a parser kept for a whole pass over images that share little would otherwise
 * hold every finding of the store.
 */
export const SHARED_FINDINGS_MAX = 50_000;

/**
 * {@link sharedFindingParser} for a row's columns given apart (rows read as arrays): a {@link FindingParser}.
 * Past `max` distinct bodies it starts over (forgets what it parsed): later rows of an earlier body are a
 * new object, equal to the first.
 *
 * A row whose key was last read with the same body takes that body's object without looking the body
 * up: every row's body is a new string, and a lookup by it hashes all of its characters (some 600 for
 * an npm finding), its key a tenth of that; comparing two equal strings is a plain memory compare.
 * A pass reads some 35 rows per image, nearly all of keys read before with the same body. The lookup
 * by key only shortens the way to the object the body lookup gives (both are forgotten together).
 */
export function sharedFindingParts(max = SHARED_FINDINGS_MAX): FindingParser {
  const parsed = new Map<string, IndexedFinding['finding']>();
  const byKey = new Map<string, { body: string; finding: IndexedFinding['finding'] }>();
  return (key, pkg, firstSeen, body) => {
    const last = byKey.get(key);
    if (last !== undefined && last.body === body) return { key, pkg, firstSeen, finding: last.finding };
    let finding = parsed.get(body);
    if (!finding) {
      finding = JSON.parse(body) as IndexedFinding['finding'];
      if (parsed.size >= max) {
        parsed.clear();
        byKey.clear();
      }
      parsed.set(body, finding);
      TEXT.set(finding, body);
    }
    // many keys of one body would grow this past the bodies kept: bounded alike
    if (byKey.size >= max) byKey.clear();
    // the text the object was parsed from, not this row's copy of it: a pass's rows would otherwise
    // keep a second string per key alive beside the bodies kept
    byKey.set(key, { body: TEXT.get(finding) ?? body, finding });
    return { key, pkg, firstSeen, finding };
  };
}

/**
 * A top-level entry's manifest digest in an `image_packages.body` (JSON text of IndexedPackages[]): in
 * JSON text a quote inside a string is escaped, so this matches only an object member named `manifest`.
 */
const MANIFEST_MEMBER = /"manifest":"(sha256:[0-9a-f]{64})"/g;

/**
 * A parser of `image_packages.body` texts (JSON arrays of {@link IndexedPackages}) that parses each
 * distinct text once up to the entries' `manifest` (the image's own digest, so no two images' texts are
 * equal): the text with every manifest member's digest blanked is parsed once and kept; a text of the
 * same form gets entries copied from it with its own digests put back, in order, on the entries whose
 * manifest is blank. The form is kept only when that gives back the very text it was made from (so the
 * blanked members are exactly those entries' own, in that order: not a member inside a package, not a
 * text in a string, not an entry whose manifest was empty); else each text of that form is parsed as
 * it is. Entries and their package objects are shared between the rows of one parser: callers treat
 * them as read-only.
 */
export function sharedPackagesParser(): (body: string) => IndexedPackages[] {
  const parsed = new Map<string, IndexedPackages[] | null>();
  const fill = (shape: IndexedPackages[], digests: string[]) => {
    let k = 0;
    return shape.map((e) => (e.manifest === '' ? { ...e, manifest: digests[k++] as Digest } : e));
  };
  return (body) => {
    // A text holding an empty manifest member already could equal another's blank form: its blank
    // member would be filled with a digest it does not hold. Such a text is parsed as it is, and so
    // every kept form was made from a text whose blank members are all digests put back.
    if (body.includes('"manifest":""')) return JSON.parse(body) as IndexedPackages[];
    const digests: string[] = [];
    const blank = body.replace(MANIFEST_MEMBER, (_m, d: string) => {
      digests.push(d);
      return '"manifest":""';
    });
    let shape = parsed.get(blank);
    if (shape === undefined) {
      const entries = JSON.parse(blank) as IndexedPackages[];
      shape = Array.isArray(entries) && entries.every((e) => typeof e === 'object' && e !== null) && JSON.stringify(fill(entries, digests)) === body ? entries : null;
      parsed.set(blank, shape);
    }
    return shape === null ? (JSON.parse(body) as IndexedPackages[]) : fill(shape, digests);
  };
}

/**
 * `image_packages` rows under the pairs `$PKGS`, grouped by their text with the row's own digest blanked
 * where it is a `manifest` member's value (images built alike then share one text): the pair, that text,
 * the images (comma-separated), and whether any row of the group held an empty manifest member already
 * (its blank could not be told from one made here). The rows are read in table order (rowid), not the
 * pair index's: the rows of one image lie together, so each table page is read once rather than once per
 * row (about half the read's time at 10,000 images).
 */
const PACKAGE_GROUPS_SQL = `SELECT pkg, replace(body, '"manifest":"' || digest || '"', '"manifest":""') AS blank, group_concat(digest), max(instr(body, '"manifest":""') > 0)
  FROM image_packages WHERE rowid IN (SELECT rowid FROM image_packages WHERE pkg IN ($PKGS)) GROUP BY pkg, blank`;

/** `image_findings` rows under the pairs `$PKGS`, grouped by (pair, key, body), with their images (comma-separated); read in table order as {@link PACKAGE_GROUPS_SQL}. */
const FINDING_GROUPS_SQL = `SELECT pkg, fkey, body, group_concat(digest) FROM image_findings WHERE rowid IN (SELECT rowid FROM image_findings WHERE pkg IN ($PKGS)) GROUP BY pkg, fkey, body`;

/** A row of a package-group query: pair, blanked text, digests (comma-separated), whether an empty manifest was there before. */
export type PackageGroupRow = [string, string, string, number | boolean];

/** The count of non-overlapping occurrences of `needle` in `s`. */
function occurrences(s: string, needle: string): number {
  let n = 0;
  for (let i = s.indexOf(needle); i >= 0; i = s.indexOf(needle, i + needle.length)) n++;
  return n;
}

/**
 * {@link PackageGroup}s from grouped rows (either store). A group's text is used only when putting each
 * image's digest back on its entries whose manifest is blank gives back the stored text exactly: no row
 * had an empty manifest member before, the text is JSON as `JSON.stringify` writes it, and every blanked
 * member is a top-level entry's `manifest` (not a package's member, not inside a string). Else `redo`
 * names the rows to read one by one.
 */
export function packageGroupsOf(rows: PackageGroupRow[]): { groups: PackageGroup[]; redo: Array<{ pkg: string; digests: Digest[] }> } {
  const groups: PackageGroup[] = [];
  const redo: Array<{ pkg: string; digests: Digest[] }> = [];
  for (const [pkg, blank, list, hadEmpty] of rows) {
    const digests = list.split(',') as Digest[];
    let entries: IndexedPackages[] | undefined;
    if (!hadEmpty) {
      try {
        const parsed = JSON.parse(blank) as unknown;
        if (Array.isArray(parsed) && parsed.every((e) => typeof e === 'object' && e !== null && !Array.isArray(e)) && JSON.stringify(parsed) === blank) entries = parsed as IndexedPackages[];
      } catch {
        entries = undefined;
      }
    }
    const own = entries ? entries.flatMap((e, i) => (e.manifest === '' ? [i] : [])) : [];
    if (!entries || own.length !== occurrences(blank, '"manifest":""')) {
      redo.push({ pkg, digests });
      continue;
    }
    groups.push({ pkg, entries, own, digests });
  }
  return { groups, redo };
}

/** Groups an image's indexed packages by pair (one row per pair and image). */
export function mergeByPkg(entries: IndexedPackages[]): Array<{ pkg: string; entries: IndexedPackages[] }> {
  const m = new Map<string, IndexedPackages[]>();
  for (const e of entries) {
    const l = m.get(e.pkg);
    if (l) l.push(e);
    else m.set(e.pkg, [e]);
  }
  return [...m].map(([pkg, list]) => ({ pkg, entries: list }));
}
