/**
 * Prototype measurement (not the store's code): the floor of a per-package-instance layout for the
 * monitor's database pass (docs/DESIGN.md, monitoring, "Prototype of the per-instance layout"), on the
 * data of bench/monitor.ts (same inventories, same 100 held-back advisories, same default policy).
 *
 * Layout measured, the same on SQLite (WAL, synchronous=FULL, as the store opens it; in /dev/shm) and
 * PostgreSQL (PUSHGATE_TEST_PG, default 127.0.0.1:5432, a fresh database dropped afterwards):
 * - `instances(id, pkg, body)`: each distinct package instance (ecosystem, name, version, source, place:
 *   path, layer, purl, platform), by advisory pair; `instance_findings(instance, vulndb, body)`: its
 *   findings under the database that matched it (one JSON array); `instance_ids(alias, instance)`;
 *   `instance_diffs(run, instance, body)`: what a change did to it, written once for every image holding it;
 * - `image_instances(instance, digest)`: who holds it; `image_index(digest, instances)`: each image's
 *   instance ids, packed (4 bytes an id);
 * - per image: `verdicts` as the store keeps them, `image_changes` and `audit` rows.
 *
 * Timed, after the swap to the database with the 100 advisories (then the misses pass of bench/monitor.ts,
 * 100 advisories on names the images hold at versions none has, the same way):
 * 1. the instances under the changed pairs re-matched (one memo) and compared with their stored
 *    findings (JSON text): the changed instances and their diffs;
 * 2. per rule set, the changed instances with, before or after, a finding one of its vulnerability rules
 *    matches (rules match finding by finding; an exception only removes items);
 * 3. the images holding one of those; 4. their verdicts and instance lists, every instance's findings;
 * 5. each one's findings composed from its instances (risk order) and its vulnerability rules evaluated
 *    again (src/policy/evaluate.ts `patchFindingRules`); a new verdict where the evaluations changed;
 * 6. one transaction (W2): the changed instances' findings, diffs and alias rows, the changed verdicts, a
 *    change and an audit row for those images. W1 (every image holding a changed instance read with its
 *    decision, a change and an audit row for each) is measured after it, alone.
 * Checked in the same run (not timed): composing every other image holding a changed instance changes
 * no evaluation; the composed findings of sampled images are the report's findings as the gate judges
 * the whole inventory; the rank order is `compareRisk`'s. Also timed: one page of the affected-images query.
 * Printed with wall and CPU time (this process) and the bytes written: SQLite, what this process handed
 * to write calls (/proc/self/io); PostgreSQL, the WAL the pass generated (pg_current_wal_lsn).
 * Run: `npx tsx bench/monitor-instances-proto.ts` (BENCH_IMAGES=N; BENCH_STORES=sqlite or postgres).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { compareRisk, type Finding, type Package, type Verdict } from '../src/core/index.js';
import { judgeScan } from '../src/gate/judge.js';
import { summarize } from '../src/gate/verdict-view.js';
import { diffFindings } from '../src/monitor/image-index.js';
import { defaultPolicy } from '../src/policy/index.js';
import { patchFindingRules } from '../src/policy/evaluate.js';
import { findingText } from '../src/store/finding-text.js';
import { advisoryKeys } from '../src/vulndb/keys.js';
import type { VulnDb } from '../src/vulndb/index.js';
import { buildDb, digestOf, scanOf } from '../test/helpers/monitor.js';
import { all, base, held, inventory, npm, reseed, v1 } from './monitor-data.js';

const N = Number(process.env.BENCH_IMAGES ?? 10_000);

const osInfo = base.platforms[0].inventory.os!;

const STORES = (process.env.BENCH_STORES ?? 'sqlite,postgres').split(',');
const shm = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
const tmp = fs.mkdtempSync(path.join(shm, 'pushgate-proto-instances-'));
const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const wchar = (): number => Number(/^wchar: (\d+)$/m.exec(fs.readFileSync('/proc/self/io', 'utf8'))?.[1]);
const cpuOf = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage) => (b.user + b.system - a.user - a.system) / 1000;
const policy = defaultPolicy();
const inList = (n: number) => Array(n).fill('?').join(',');

/** The seed, as rows of the prototype's tables. */
interface Seed {
  instances: Array<[number, string, string]>;
  findings: Array<[number, string]>;
  holds: Array<[number, string]>;
  lists: Array<[string, Buffer]>;
  verdicts: Array<[string, string, string, string, string, number]>;
  /** (alias, instance): every id and alias of every finding of the instance, upper-cased. */
  ids: Array<[string, number]>;
}
/** The (alias, instance) rows of an instance's findings. */
const aliasRows = (id: number, fs: Finding[]): Array<[string, number]> => [...new Set(fs.flatMap((f) => [f.id, ...f.aliases].map((a) => a.toUpperCase())))].map((a) => [a, id]);
/** A changed instance: its findings' text under the new database, the findings, its diff. */
type Changed = { text: string; findings: Finding[]; diff: ReturnType<typeof diffFindings> };
/** What one store does for the pass (each read in chunks of 500 keys). */
interface Io {
  name: string;
  load(s: Seed): Promise<void>;
  under(pairs: string[]): Promise<Array<{ id: number; body: string; old: string }>>;
  holders(ids: number[]): Promise<Array<[number, string]>>;
  decisions(digests: string[]): Promise<Array<[string, string, string]>>;
  bodies(digests: string[]): Promise<Array<[string, string]>>;
  lists(digests: string[]): Promise<Array<[string, Buffer]>>;
  findings(): Promise<Array<[number, string]>>;
  /** One transaction: changed instances (findings, diffs), verdicts (decision, body, at, repository, digest), change + audit rows (at, repository, digest, ref). */
  write(run: string, inst: Map<number, Changed>, verdicts: Array<[string, string, string, string, string]>, rows: Array<[string, string, string, string]>): Promise<void>;
  /**
   * One page of "which images have advisory `alias`": the images (digest order, after `after`, at most
   * `limit`) holding an instance with a finding of it, with those instances' findings and the images'
   * verdicts. Returns how many images.
   */
  affected(alias: string, after: string, limit: number): Promise<number>;
  /** Bytes written so far (a counter). */
  bytes(): Promise<number>;
  close(): Promise<void>;
}
const chunks = async <T, R>(keys: T[], f: (part: T[]) => Promise<R[]>): Promise<R[]> => {
  const out: R[] = [];
  for (let k = 0; k < keys.length; k += 500) out.push(...(await f(keys.slice(k, k + 500))));
  return out;
};

function sqliteIo(file: string): Io {
  const sq = new Database(file);
  sq.pragma('journal_mode = WAL');
  sq.pragma('synchronous = FULL');
  return {
    name: 'SQLite',
    async load(s) {
      sq.exec(`
CREATE TABLE instances (id INTEGER PRIMARY KEY, pkg TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX instances_by_pkg ON instances (pkg);
CREATE TABLE instance_findings (instance INTEGER PRIMARY KEY, vulndb TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE instance_diffs (run TEXT NOT NULL, instance INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (run, instance));
CREATE TABLE image_instances (instance INTEGER NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (instance, digest)) WITHOUT ROWID;
CREATE TABLE image_index (digest TEXT PRIMARY KEY, instances BLOB NOT NULL);
CREATE TABLE instance_ids (alias TEXT NOT NULL, instance INTEGER NOT NULL, PRIMARY KEY (alias, instance)) WITHOUT ROWID;
CREATE TABLE verdicts (registry TEXT NOT NULL, repository TEXT NOT NULL, digest TEXT NOT NULL, decision TEXT NOT NULL, body TEXT NOT NULL, evaluated_at TEXT NOT NULL, updated_seq BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (registry, repository, digest));
CREATE INDEX verdicts_updated_seq ON verdicts (updated_seq);
CREATE INDEX verdicts_by_digest ON verdicts (digest);
CREATE TABLE image_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, run TEXT NOT NULL, registry TEXT NOT NULL, repository TEXT NOT NULL, digest TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX image_changes_by_digest ON image_changes (digest, seq);
CREATE TABLE audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, registry TEXT, repository TEXT, digest TEXT, tag TEXT, detail TEXT);
CREATE INDEX audit_by_digest_seq ON audit (digest, seq);
`);
      sq.transaction(() => {
        const ins = (sql: string, rows: unknown[][]) => { const st = sq.prepare(sql); for (const r of rows) st.run(...r); };
        ins('INSERT INTO instances (id, pkg, body) VALUES (?, ?, ?)', s.instances);
        ins("INSERT INTO instance_findings (instance, vulndb, body) VALUES (?, 'db1', ?)", s.findings);
        ins('INSERT OR IGNORE INTO image_instances (instance, digest) VALUES (?, ?)', s.holds);
        ins('INSERT INTO image_index (digest, instances) VALUES (?, ?)', s.lists);
        ins('INSERT INTO instance_ids (alias, instance) VALUES (?, ?)', s.ids);
        ins("INSERT INTO verdicts (registry, repository, digest, decision, body, evaluated_at, updated_seq) VALUES ('lab', ?, ?, ?, ?, ?, ?)", s.verdicts);
      })();
      sq.pragma('wal_checkpoint(TRUNCATE)');
    },
    under: (pairs) => chunks(pairs, async (part) => sq.prepare(`SELECT i.id AS id, i.body AS body, f.body AS old FROM instances i JOIN instance_findings f ON f.instance = i.id WHERE i.pkg IN (${inList(part.length)})`).all(...part) as Array<{ id: number; body: string; old: string }>),
    holders: (ids) => chunks(ids, async (part) => sq.prepare(`SELECT instance, digest FROM image_instances WHERE instance IN (${inList(part.length)})`).raw().all(...part) as Array<[number, string]>),
    decisions: (ds) => chunks(ds, async (part) => sq.prepare(`SELECT digest, repository, decision FROM verdicts WHERE digest IN (${inList(part.length)})`).raw().all(...part) as Array<[string, string, string]>),
    bodies: (ds) => chunks(ds, async (part) => sq.prepare(`SELECT digest, body FROM verdicts WHERE digest IN (${inList(part.length)})`).raw().all(...part) as Array<[string, string]>),
    lists: (ds) => chunks(ds, async (part) => sq.prepare(`SELECT digest, instances FROM image_index WHERE digest IN (${inList(part.length)})`).raw().all(...part) as Array<[string, Buffer]>),
    findings: async () => sq.prepare("SELECT instance, body FROM instance_findings WHERE body <> '[]'").raw().all() as Array<[number, string]>,
    async write(run, inst, verdicts, rows) {
      sq.transaction(() => {
        const upF = sq.prepare("UPDATE instance_findings SET vulndb = 'db2', body = ? WHERE instance = ?");
        const insD = sq.prepare('INSERT INTO instance_diffs (run, instance, body) VALUES (?, ?, ?)');
        const delI = sq.prepare('DELETE FROM instance_ids WHERE instance = ?');
        const insI = sq.prepare('INSERT INTO instance_ids (alias, instance) VALUES (?, ?)');
        for (const [id, c] of inst) {
          upF.run(c.text, id);
          insD.run(run, id, JSON.stringify(c.diff));
          delI.run(id);
          for (const r of aliasRows(id, c.findings)) insI.run(...r);
        }
        const upV = sq.prepare("UPDATE verdicts SET decision = ?, body = ?, evaluated_at = ?, updated_seq = (SELECT COALESCE(MAX(updated_seq), 0) + 1 FROM verdicts) WHERE registry = 'lab' AND repository = ? AND digest = ?");
        for (const v of verdicts) upV.run(...v);
        const insC = sq.prepare("INSERT INTO image_changes (at, run, registry, repository, digest, body) VALUES (?, ?, 'lab', ?, ?, ?)");
        const insA = sq.prepare("INSERT INTO audit (at, actor, action, registry, repository, digest, detail) VALUES (?, 'monitor', 'monitor:changed', 'lab', ?, ?, ?)");
        for (const [at, repo, digest, ref] of rows) {
          insC.run(at, run, repo, digest, ref);
          insA.run(at, repo, digest, ref);
        }
      })();
    },
    async affected(alias, after, limit) {
      const rows = sq.prepare('SELECT ii.digest, ii.instance FROM instance_ids a JOIN image_instances ii ON ii.instance = a.instance WHERE a.alias = ? AND ii.digest > ? ORDER BY ii.digest LIMIT ?').raw().all(alias.toUpperCase(), after, limit * 4) as Array<[string, number]>;
      const digests = [...new Set(rows.map((r) => r[0]))].slice(0, limit);
      const insts = [...new Set(rows.map((r) => r[1]))];
      const f = sq.prepare(`SELECT instance, body FROM instance_findings WHERE instance IN (${inList(insts.length)})`).raw().all(...insts) as Array<[number, string]>;
      const fs = new Map(f.map(([i, b]) => [i, (JSON.parse(b) as Finding[]).filter((x) => [x.id, ...x.aliases].some((a) => a.toUpperCase() === alias.toUpperCase()))]));
      const v = digests.length ? sq.prepare(`SELECT digest, body FROM verdicts WHERE digest IN (${inList(digests.length)})`).raw().all(...digests) as Array<[string, string]> : [];
      for (const [, b] of v) JSON.parse(b);
      return digests.filter((d) => rows.some((r) => r[0] === d && fs.get(r[1])?.length)).length;
    },
    bytes: async () => wchar(),
    close: async () => void sq.close(),
  };
}

async function postgresIo(): Promise<Io> {
  const BASE = process.env.PUSHGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432';
  const name = `pushgate_proto_instances_${process.pid}`;
  const admin = new pg.Client({ connectionString: `${BASE}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const c = new pg.Client({ connectionString: `${BASE}/${name}` });
  await c.connect();
  const rows = async <R>(sql: string, args: unknown[] = []): Promise<R[]> => (await c.query({ text: sql, values: args, rowMode: 'array' })).rows as R[];
  return {
    name: 'PostgreSQL',
    async load(s) {
      await c.query(`
CREATE TABLE instances (id INTEGER PRIMARY KEY, pkg TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX instances_by_pkg ON instances (pkg);
CREATE TABLE instance_findings (instance INTEGER PRIMARY KEY, vulndb TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE instance_diffs (run TEXT NOT NULL, instance INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (run, instance));
CREATE TABLE image_instances (instance INTEGER NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (instance, digest));
CREATE TABLE image_index (digest TEXT PRIMARY KEY, instances BYTEA NOT NULL);
CREATE TABLE instance_ids (alias TEXT NOT NULL, instance INTEGER NOT NULL, PRIMARY KEY (alias, instance));
CREATE TABLE verdicts (registry TEXT NOT NULL, repository TEXT NOT NULL, digest TEXT NOT NULL, decision TEXT NOT NULL, body TEXT NOT NULL, evaluated_at TEXT NOT NULL, updated_seq BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (registry, repository, digest));
CREATE INDEX verdicts_updated_seq ON verdicts (updated_seq);
CREATE INDEX verdicts_by_digest ON verdicts (digest);
CREATE TABLE image_changes (seq BIGSERIAL PRIMARY KEY, at TEXT NOT NULL, run TEXT NOT NULL, registry TEXT NOT NULL, repository TEXT NOT NULL, digest TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX image_changes_by_digest ON image_changes (digest, seq);
CREATE TABLE audit (seq BIGSERIAL PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, registry TEXT, repository TEXT, digest TEXT, tag TEXT, detail TEXT);
CREATE INDEX audit_by_digest_seq ON audit (digest, seq);
`);
      const cols = <T extends unknown[]>(rs: T[], k: number) => rs.map((r) => r[k]);
      for (let k = 0; k < s.holds.length; k += 20_000) {
        const part = s.holds.slice(k, k + 20_000);
        await c.query('INSERT INTO image_instances (instance, digest) SELECT * FROM unnest($1::int[], $2::text[]) ON CONFLICT DO NOTHING', [cols(part, 0), cols(part, 1)]);
      }
      await c.query('INSERT INTO instances (id, pkg, body) SELECT * FROM unnest($1::int[], $2::text[], $3::text[])', [cols(s.instances, 0), cols(s.instances, 1), cols(s.instances, 2)]);
      await c.query("INSERT INTO instance_findings (instance, vulndb, body) SELECT i, 'db1', b FROM unnest($1::int[], $2::text[]) AS u(i, b)", [cols(s.findings, 0), cols(s.findings, 1)]);
      await c.query('INSERT INTO image_index (digest, instances) SELECT * FROM unnest($1::text[], $2::bytea[])', [cols(s.lists, 0), cols(s.lists, 1)]);
      await c.query('INSERT INTO instance_ids (alias, instance) SELECT * FROM unnest($1::text[], $2::int[])', [cols(s.ids, 0), cols(s.ids, 1)]);
      await c.query("INSERT INTO verdicts (registry, repository, digest, decision, body, evaluated_at, updated_seq) SELECT 'lab', * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])", [0, 1, 2, 3, 4, 5].map((k) => cols(s.verdicts, k)));
      await c.query('VACUUM ANALYZE');
      await c.query('CHECKPOINT');
    },
    under: (pairs) => chunks(pairs, async (part) => (await c.query('SELECT i.id AS id, i.body AS body, f.body AS old FROM instances i JOIN instance_findings f ON f.instance = i.id WHERE i.pkg = ANY($1)', [part])).rows as Array<{ id: number; body: string; old: string }>),
    holders: (ids) => chunks(ids, (part) => rows<[number, string]>('SELECT instance, digest FROM image_instances WHERE instance = ANY($1)', [part])),
    decisions: (ds) => chunks(ds, (part) => rows<[string, string, string]>('SELECT digest, repository, decision FROM verdicts WHERE digest = ANY($1)', [part])),
    bodies: (ds) => chunks(ds, (part) => rows<[string, string]>('SELECT digest, body FROM verdicts WHERE digest = ANY($1)', [part])),
    lists: (ds) => chunks(ds, (part) => rows<[string, Buffer]>('SELECT digest, instances FROM image_index WHERE digest = ANY($1)', [part])),
    findings: () => rows<[number, string]>("SELECT instance, body FROM instance_findings WHERE body <> '[]'"),
    async write(run, inst, verdicts, rs) {
      await c.query('BEGIN');
      const ids = [...inst.keys()];
      await c.query("UPDATE instance_findings f SET vulndb = 'db2', body = u.b FROM unnest($1::int[], $2::text[]) AS u(i, b) WHERE f.instance = u.i", [ids, ids.map((i) => inst.get(i)!.text)]);
      await c.query('INSERT INTO instance_diffs (run, instance, body) SELECT $1, * FROM unnest($2::int[], $3::text[])', [run, ids, ids.map((i) => JSON.stringify(inst.get(i)!.diff))]);
      await c.query('DELETE FROM instance_ids WHERE instance = ANY($1)', [ids]);
      const al = ids.flatMap((i) => aliasRows(i, inst.get(i)!.findings));
      await c.query('INSERT INTO instance_ids (alias, instance) SELECT * FROM unnest($1::text[], $2::int[])', [al.map((r) => r[0]), al.map((r) => r[1])]);
      const col = <T extends unknown[]>(l: T[], k: number) => l.map((r) => r[k]);
      await c.query(`UPDATE verdicts v SET decision = u.d, body = u.b, evaluated_at = u.at, updated_seq = (SELECT COALESCE(MAX(updated_seq), 0) FROM verdicts) + u.n
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS u(d, b, at, repo, digest, n)
        WHERE v.registry = 'lab' AND v.repository = u.repo AND v.digest = u.digest`, [0, 1, 2, 3, 4].map((k) => col(verdicts, k)));
      await c.query("INSERT INTO image_changes (at, run, registry, repository, digest, body) SELECT u.at, $1, 'lab', u.repo, u.digest, u.ref FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(at, repo, digest, ref)", [run, ...[0, 1, 2, 3].map((k) => col(rs, k))]);
      await c.query("INSERT INTO audit (at, actor, action, registry, repository, digest, detail) SELECT u.at, 'monitor', 'monitor:changed', 'lab', u.repo, u.digest, u.ref FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(at, repo, digest, ref)", [0, 1, 2, 3].map((k) => col(rs, k)));
      await c.query('COMMIT');
    },
    async affected(alias, after, limit) {
      const rs = await rows<[string, number]>('SELECT ii.digest, ii.instance FROM instance_ids a JOIN image_instances ii ON ii.instance = a.instance WHERE a.alias = $1 AND ii.digest > $2 ORDER BY ii.digest LIMIT $3', [alias.toUpperCase(), after, limit * 4]);
      const digests = [...new Set(rs.map((r) => r[0]))].slice(0, limit);
      const insts = [...new Set(rs.map((r) => r[1]))];
      const f = await rows<[number, string]>('SELECT instance, body FROM instance_findings WHERE instance = ANY($1)', [insts]);
      const fs = new Map(f.map(([i, b]) => [i, (JSON.parse(b) as Finding[]).filter((x) => [x.id, ...x.aliases].some((a) => a.toUpperCase() === alias.toUpperCase()))]));
      for (const [, b] of await rows<[string, string]>('SELECT digest, body FROM verdicts WHERE digest = ANY($1)', [digests])) JSON.parse(b);
      return digests.filter((d) => rs.some((r) => r[0] === d && fs.get(r[1])?.length)).length;
    },
    bytes: async () => Number((await c.query("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint AS n")).rows[0].n),
    async close() {
      await c.end();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** The database pass on one store, printed; throws when the relevance filter missed an evaluation. */
async function pass(io: Io, db: VulnDb, changed: string[]): Promise<void> {
  const w0 = await io.bytes();
  const c0 = process.cpuUsage();
  const p0 = performance.now();
  const laps: Array<{ at: number; cpu: NodeJS.CpuUsage }> = [{ at: p0, cpu: c0 }];
  const lap = () => laps.push({ at: performance.now(), cpu: process.cpuUsage() });
  // 1. re-match the instances under the changed pairs
  const under = await io.under(changed);
  const memo = db.matchMemo();
  const changedInst = new Map<number, Changed>();
  const oldOf = new Map<number, Finding[]>();
  for (const r of under) {
    const f = db.match([JSON.parse(r.body) as Package], osInfo, { memo }) as Finding[];
    const text = `[${f.map(findingText).join(',')}]`;
    if (text === r.old) continue;
    const old = JSON.parse(r.old) as Finding[];
    oldOf.set(r.id, old);
    changedInst.set(r.id, { text, findings: f, diff: diffFindings(old, f) });
  }
  lap();
  // 2. which changed instances can move an evaluation: per rule set, those whose findings before or
  //    after meet one of its vulnerability rules (rules match finding by finding,
  //    src/policy/rules/vulnerability.ts; an exception only removes items, so "no item without the
  //    image's exceptions" holds for every image holding the instance)
  const relevantIn = new Map<string, Set<number>>();
  const relevantAny = new Set<number>();
  for (const rs of Object.keys(policy.ruleSets)) {
    const names = new Set((policy.ruleSets[rs]?.rules ?? []).filter((r) => r.kind === 'vulnerability').map((r) => r.name));
    const set = new Set<number>();
    for (const [id, c] of changedInst) {
      const e = patchFindingRules(policy, rs, { decision: 'allow', reasons: [] }, { registry: '', repository: '', digest: 'sha256:0' as never, findings: [...oldOf.get(id)!, ...c.findings] });
      if (e?.reasons.some((x) => names.has(x.rule))) {
        set.add(id);
        relevantAny.add(id);
      }
    }
    relevantIn.set(rs, set);
  }
  lap();
  // 3. the images holding a relevant changed instance (the only ones whose evaluations can change)
  const holders = new Map<string, number[]>();
  const addHolder = (id: number, digest: string) => {
    const l = holders.get(digest);
    if (l) l.push(id);
    else holders.set(digest, [id]);
  };
  for (const [id, digest] of await io.holders([...relevantAny])) addHolder(id, digest);
  lap();
  // 4. the verdicts and instance lists of those images, every instance's findings
  const holderList = [...holders.keys()];
  const verdictOf = new Map<string, { repository: string; decision: string; body?: string }>();
  for (const [d, b] of await io.bodies(holderList)) {
    const v = JSON.parse(b) as Verdict;
    verdictOf.set(d, { repository: v.repository, decision: v.decision, body: b });
  }
  const idsOf = new Map<string, Int32Array>();
  const readLists = async (ds: string[]) => {
    for (const [d, b] of await io.lists(ds)) idsOf.set(d, new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
  };
  await readLists(holderList);
  const current: Array<Finding[] | undefined> = [];
  for (const [id, b] of await io.findings()) current[id] = JSON.parse(b) as Finding[];
  for (const [id, c] of changedInst) current[id] = c.findings.length ? c.findings : undefined;
  lap();
  // 5. judge: per holder with a changed instance relevant to one of its rule sets, its findings composed
  //    from its instances (risk order, as a report lists them) and the vulnerability rules evaluated again
  const sig = (r: Record<string, { decision: string; reasons: Array<{ rule: string; action?: string; message?: string }> }>) => JSON.stringify(Object.entries(r).sort().map(([k, e]) => [k, e.decision, e.reasons.map((x) => `${x.rule}:${x.action}:${x.message}`)]));
  type Out = { digest: string; repository: string; before: string; after: string; body?: string; instances: number[] };
  const rank = new Map<Finding, number>();
  {
    const distinct = [...new Set(current.flatMap((l) => l ?? []))].sort(compareRisk);
    distinct.forEach((f, k) => rank.set(f, k > 0 && compareRisk(distinct[k - 1], f) === 0 ? rank.get(distinct[k - 1])! : k));
  }
  /** Wall time of the judgement's parts (ms), for the images judged in step 5. */
  const split = { compose: 0, sort: 0, rules: 0, verdict: 0 };
  const judge = (digest: string, all: boolean): Out => {
    const chg = holders.get(digest)!;
    const v = verdictOf.get(digest)!;
    const o: Out = { digest, repository: v.repository, before: v.decision, after: v.decision, instances: chg };
    if (!v.body) return o;
    const stored = JSON.parse(v.body) as Verdict;
    const raw = stored.evaluations ?? {};
    if (!all && !Object.keys(raw).some((rs) => chg.some((id) => relevantIn.get(rs)?.has(id)))) return o;
    const findings: Finding[] = [];
    for (const id of idsOf.get(digest)!) {
      const f = current[id];
      if (f) for (const x of f) findings.push(x);
    }
    let q = performance.now();
    const tick = (k: keyof typeof split) => { const n = performance.now(); split[k] += n - q; q = n; };
    tick('compose');
    // risk order by a rank made once per pass for every finding object the instances share (ties keep
    // composition order, as the stable sort by compareRisk does)
    findings.sort((a, b) => rank.get(a)! - rank.get(b)!);
    tick('sort');
    if (all && [...findings].sort(compareRisk).some((f, k) => f !== findings[k])) throw new Error('the rank order is not the risk order');
    const next: Record<string, unknown> = {};
    for (const rs of Object.keys(raw)) next[rs] = patchFindingRules(policy, rs, raw[rs], { registry: 'lab', repository: v.repository, digest: digest as never, findings });
    tick('rules');
    if (sig(raw as never) !== sig(next as never)) {
      const upd = summarize(policy, { ...stored, evaluations: next as Verdict['evaluations'], evaluatedAt: new Date().toISOString() });
      o.after = upd.decision;
      o.body = JSON.stringify(upd);
    }
    tick('verdict');
    return o;
  };
  const out = holderList.map((d) => judge(d, false));
  const evaluated = out.filter((o) => o.body);
  const parts = Object.entries(split).map(([k, x]) => `${k} ${fmt(x)}`).join(', ');
  lap();
  // 6. write, one transaction (W2): the changed instances' findings and diffs, every changed verdict, a
  //    change and an audit row for each image whose evaluations changed (the other holders' change
  //    records composed on read from the run's instance diffs, the image's instances and its verdict
  //    history; their notices at delivery)
  const at = new Date().toISOString();
  const row = (o: Out): [string, string, string, string] => [at, o.repository, o.digest, JSON.stringify({ decision: { before: o.before, after: o.after }, instances: o.instances })];
  await io.write('db:proto', changedInst, evaluated.map((o) => [o.after, o.body!, at, o.repository, o.digest]), evaluated.map(row));
  lap();
  const w6 = await io.bytes();
  // W1, measured after it, alone: every image holding a changed instance (not only a relevant one) read
  // with its decision, and a change and an audit row written for each
  const w1t = performance.now();
  const w1c = process.cpuUsage();
  const allHolders = new Map<string, number[]>();
  for (const [id, digest] of await io.holders([...changedInst.keys()])) {
    const l = allHolders.get(digest);
    if (l) l.push(id);
    else allHolders.set(digest, [id]);
  }
  const decisions = new Map((await io.decisions([...allHolders.keys()])).map(([d, repo, dec]) => [d, { repo, dec }]));
  const byDigest = new Map(out.map((o) => [o.digest, o]));
  const w1rows = [...allHolders].map(([d, ids]): [string, string, string, string] => {
    const o = byDigest.get(d);
    const v = decisions.get(d)!;
    return [at, v.repo, d, JSON.stringify({ decision: { before: o?.before ?? v.dec, after: o?.after ?? v.dec }, instances: ids })];
  });
  await io.write('db:proto-w1', new Map(), [], w1rows);
  const w1ms = performance.now() - w1t;
  const w1cpu = cpuOf(w1c, process.cpuUsage());
  const w1b = (await io.bytes()) - w6;

  // check: composing every other image holding a changed instance (no relevance filter) changes no evaluation
  const tA = performance.now();
  const rest = [...allHolders.keys()].filter((d) => !holders.has(d));
  for (const d of rest) holders.set(d, allHolders.get(d)!);
  for (const [d, b] of await io.bodies(rest)) {
    const v = JSON.parse(b) as Verdict;
    verdictOf.set(d, { repository: v.repository, decision: v.decision, body: b });
  }
  await readLists(rest);
  let mismatch = 0;
  for (const d of rest) if (judge(d, true).body) mismatch++;
  const aMs = performance.now() - tA;

  const ph = (k: number) => `${fmt(laps[k].at - laps[k - 1].at)} ms   cpu ${fmt(cpuOf(laps[k - 1].cpu, laps[k].cpu))} ms`;
  const newFindings = [...changedInst.values()].reduce((a, c) => a + c.diff.new.length, 0);
  console.log(`\n${io.name}, db pass (prototype): ${changed.length} pairs changed, ${under.length} instances under them, ${changedInst.size} changed (${newFindings} new findings on them; ${relevantAny.size} meeting a rule), ${allHolders.size} images hold one, ${holderList.length} a relevant one, ${evaluated.length} with changed evaluations`);
  console.log(`  1. re-match the instances under the changed pairs        ${ph(1)}`);
  console.log(`  2. changed instances meeting a rule, per rule set        ${ph(2)}`);
  console.log(`  3. images holding one of those                           ${ph(3)}`);
  console.log(`  4. read: their verdicts + instance lists, findings       ${ph(4)}`);
  console.log(`  5. compose + rules where relevant                        ${ph(5)}   (${parts} ms; the rest: the verdicts parsed, the filter)`);
  console.log(`  6. write: instances, verdicts, change + audit rows of the ${evaluated.length} (W2)   ${ph(6)}   wrote ${fmt((w6 - w0) / 1e6)} MB`);
  const total = laps[6].at - p0;
  console.log(`  total                                                    ${fmt(total)} ms   cpu ${fmt(cpuOf(c0, laps[6].cpu))} ms   goal ≤ 1000 ms: ${total <= 1000 ? 'met' : 'MISSED'}`);
  console.log(`  W1 (every image holding a changed instance read with its decision, a change + audit row for each of the ${allHolders.size}) would add ${fmt(w1ms)} ms, cpu ${fmt(w1cpu)} ms, ${fmt(w1b / 1e6)} MB (${fmt(w1b / Math.max(1, allHolders.size) / 1e3)} KB per image)`);
  console.log(`  check: the other ${rest.length} images holding a changed instance composed in full: ${mismatch} evaluations differ (${fmt(aMs)} ms, not in the total)`);
  if (mismatch) throw new Error('the relevance filter missed a changed evaluation');
  // the affected-images query, one page (limit 100), medians of 20: an advisory the change brought, and
  // one that every image holds (the most held alias of an instance every image holds)
  const brought = [...changedInst.values()].flatMap((c) => c.diff.new).find((f) => f.aliases.length);
  const common = (current[1] ?? current.find((x) => x?.length))?.[0];
  for (const [what, f] of [['brought by the change', brought], ['held by every image', common]] as const) {
    if (!f) continue;
    const alias = f.aliases[0] ?? f.id;
    const times: number[] = [];
    let n = 0;
    for (let k = 0; k < 21; k++) {
      const t = performance.now();
      n = await io.affected(alias, '', 100);
      if (k) times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    console.log(`  affected by ${alias} (${what}), one page (limit 100), median of 20: ${fmt(times[10])} ms   goal ≤ 50 ms: ${times[10] <= 50 ? 'met' : 'MISSED'}   (${n} images)`);
  }
}

console.log(`instance-layout prototype: ${os.cpus().length} CPUs, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
try {
  const dbPath = path.join(tmp, 'vulndb.sqlite');
  let db: VulnDb = await buildDb(dbPath, v1 as never);
  // --- seed: instances, their findings under the first database, images holding them, verdicts -------
  reseed(7);
  const instKey = (p: Package) => JSON.stringify([p.ecosystem, p.name, p.version, p.sourceName ?? '', p.sourceVersion ?? '', p.path, p.layer ?? '', p.purl ?? '', p.platform ?? ''] as const);
  const inst = new Map<string, { id: number; pkg: Package; pair: string }>();
  const s: Seed = { instances: [], findings: [], holds: [], lists: [], verdicts: [], ids: [] };
  const t0 = performance.now();
  let holdCount = 0;
  const sample: Array<{ digest: string; pkgs: Package[]; ids: number[] }> = [];
  for (let i = 0; i < N; i++) {
    const digest = digestOf(i + 1);
    const pkgs = inventory(i);
    const keys = advisoryKeys(pkgs, osInfo);
    const ids: number[] = [];
    pkgs.forEach((p, k) => {
      const key = instKey(p);
      let e = inst.get(key);
      if (!e) inst.set(key, (e = { id: inst.size + 1, pkg: p, pair: keys[k] ?? '' }));
      ids.push(e.id);
      s.holds.push([e.id, digest]);
    });
    holdCount += ids.length;
    if (i % Math.max(1, Math.floor(N / 200)) === 0) sample.push({ digest, pkgs, ids });
    s.lists.push([digest, Buffer.from(Int32Array.from(ids).buffer)]);
    const scan = scanOf(digest, pkgs);
    scan.platforms[0].inventory.os = osInfo;
    const repository = `team/app${i % 500}`;
    const j = judgeScan(scan, db, policy, { registry: 'lab', repository, tag: `v${i}` });
    const v = summarize(policy, {
      registry: 'lab', repository, digest, tags: [`v${i}`], decision: 'allow', reasons: [], mode: 'enforce', complete: j.report.complete,
      policy: j.evaluation.policy, vulndb: { builtAt: j.report.vulndb?.builtAt ?? null, digest: j.report.vulndb?.digest ?? null }, evaluatedAt: new Date().toISOString(), evaluations: j.raw,
    });
    s.verdicts.push([repository, digest, v.decision, JSON.stringify(v), v.evaluatedAt, i + 1]);
  }
  const memo = db.matchMemo();
  for (const e of inst.values()) {
    s.instances.push([e.id, e.pair, JSON.stringify(e.pkg)]);
    const fs = db.match([e.pkg], osInfo, { memo }) as Finding[];
    s.findings.push([e.id, `[${fs.map(findingText).join(',')}]`]);
    s.ids.push(...aliasRows(e.id, fs));
  }
  const vBytes = s.verdicts.reduce((a, v) => a + v[3].length, 0) / N;
  console.log(`seed: ${N} images, ${inst.size} distinct instances, ${fmt(holdCount / N)} instances per image, verdict body ${fmt(vBytes)} B avg   (${fmt(performance.now() - t0)} ms, not a result)`);
  const ios: Io[] = [];
  if (STORES.includes('sqlite')) ios.push(sqliteIo(path.join(tmp, 'store.db')));
  if (STORES.includes('postgres')) ios.push(await postgresIo());
  try {
    for (const io of ios) await io.load(s);
    db.close();
    db = await buildDb(dbPath, all as never);
    const changed = [...db.digestRecord().changed.keys()];
    for (const io of ios) await pass(io, db, changed);
    // the misses pass of bench/monitor.ts: 100 more advisories on names the images hold, at versions none has
    const missDb = path.join(tmp, 'vulndb-misses.sqlite');
    fs.copyFileSync(dbPath, missDb);
    const misses = [...held].slice(0, 100).map((id, k) => {
      const r = structuredClone(npm.find((x) => x.id === id)!);
      r.id = `BENCH-MISS-${k}`;
      r.aliases = [];
      for (const a of r.affected) a.ranges = [{ type: 'SEMVER', events: [{ introduced: '999.0.0' }, { fixed: '999.0.1' }] } as never];
      return r;
    });
    const db3 = await buildDb(missDb, [...all, ...misses] as never);
    console.log('\n--- misses: 100 advisories missing every installed version ---');
    for (const io of ios) await pass(io, db3, [...db3.digestRecord().changed.keys()]);
    db3.close();
    // check: an image's findings composed from its instances (each matched alone) are its report's
    // findings as the gate judges the whole inventory (same objects' JSON, risk order), for a sample
    const m2 = db.matchMemo();
    const byId = new Map([...inst.values()].map((e) => [e.id, e.pkg]));
    let differ = 0;
    for (const x of sample) {
      const composed: Finding[] = [];
      for (const id of x.ids) composed.push(...(db.match([byId.get(id)!], osInfo, { memo: m2 }) as Finding[]));
      composed.sort(compareRisk);
      const scan = scanOf(x.digest as never, x.pkgs);
      scan.platforms[0].inventory.os = osInfo;
      const report = judgeScan(scan, db, policy, { registry: 'lab', repository: 'team/app0' }).report;
      if (JSON.stringify(composed) !== JSON.stringify(report.findings)) differ++;
    }
    console.log(`\ncheck: findings composed from instances = the report's findings for ${sample.length - differ} of ${sample.length} sampled images`);
    if (differ) throw new Error('composed findings differ from the report');
    db.close();
  } finally {
    for (const io of ios) await io.close();
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
