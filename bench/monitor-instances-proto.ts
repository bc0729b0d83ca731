/**
 * Prototype measurement (not the store's code): the floor of a per-package-instance layout for the
 * monitor's database pass (docs/DESIGN.md, monitoring, "Not done yet: a database pass"), on the data of
 * bench/monitor.ts (same inventories, same 100 held-back advisories, same default policy).
 *
 * Layout measured (SQLite, WAL, synchronous=FULL, as the store opens it; in /dev/shm):
 * - `instances(id, pkg, body)`: each distinct package instance (ecosystem, name, version, source, place:
 *   path, layer, purl, platform, OS release), indexed by its advisory pair;
 * - `instance_findings(instance, body)`: the instance's findings under the database that matched it
 *   (one JSON array), `instance_diffs(run, instance, body)`: what a change did to it (new, resolved,
 *   re-rated), written once per pass for every image holding it;
 * - `image_instances(instance, digest)` WITHOUT ROWID (+ `(digest, instance)`): which images hold it;
 * - per image only: `verdicts` as the store keeps them (rewritten when the evaluations change), a change
 *   row that names the run and the decision before/after (its findings are the diffs of its instances),
 *   an audit row.
 *
 * Timed, after the swap to the database with the 100 advisories:
 * 1. re-match: the instances under the changed pairs read, matched again (one memo), compared with
 *    their stored findings (JSON text): the changed instances and their diffs;
 * 2. which images: the images holding a changed instance (one query on the instance key);
 * 3. judge: each such image's findings composed from its instances (every instance of it that has a
 *    finding, from memory after one read of `image_instances` for those instances), the vulnerability
 *    rules evaluated again (src/policy/evaluate.ts `patchFindingRules`, the pass's own call);
 * 4. write: one transaction: changed instances' findings and diffs, per changed image a change row and
 *    an audit row, and its verdict when its evaluations changed.
 * Printed with wall and CPU time (this process) and the bytes written: SQLite, what this process handed
 * to write calls (/proc/self/io); PostgreSQL, the WAL the pass generated (pg_current_wal_lsn).
 * Both stores get the same seed (PostgreSQL at PUSHGATE_TEST_PG, default 127.0.0.1:5432, a fresh database
 * dropped afterwards). Run: `npx tsx bench/monitor-instances-proto.ts` (BENCH_IMAGES=N;
 * BENCH_STORES=sqlite or postgres).
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
import { scanTarget } from '../src/scan/engine.js';
import { findingText } from '../src/store/finding-text.js';
import { advisoryKeys } from '../src/vulndb/keys.js';
import type { VulnDb } from '../src/vulndb/index.js';
import { buildDb, digestOf, scanOf } from '../test/helpers/monitor.js';
import { labImages } from '../test/helpers/lab.js';

const N = Number(process.env.BENCH_IMAGES ?? 10_000);
const FIX = 'test/fixtures/vulndb/osv';

// --- the inventories of bench/monitor.ts --------------------------------------------------------------
const lab = labImages();
const base = await scanTarget(`oci:${path.join(lab, 'debian-minbase')}:bookworm`);
const app = await scanTarget(`oci:${path.join(lab, 'node-app')}:vuln`);
const basePkgs = base.platforms[0].inventory.packages;
const appPkgs = app.platforms[0].inventory.packages.filter((p) => p.ecosystem === 'npm');
const osInfo = base.platforms[0].inventory.os!;
type Rec = { id: string; aliases?: string[]; affected: Array<{ package: { name: string; ecosystem: string }; ranges?: Array<{ events: Array<Record<string, string>> }> }> };
const all: Rec[] = [];
for (const eco of ['npm', 'debian-bookworm']) for (const f of fs.readdirSync(path.join(FIX, eco))) all.push(JSON.parse(fs.readFileSync(path.join(FIX, eco, f), 'utf8')) as Rec);
const npm = all.filter((r) => r.affected[0].package.ecosystem === 'npm');
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const held = new Set<string>();
while (held.size < 100) held.add(npm[Math.floor(rand() * npm.length)].id);
const v1 = all.filter((r) => !held.has(r.id));
const pool = new Map<string, string[]>();
for (const r of npm) {
  const name = r.affected[0].package.name;
  const vs = pool.get(name) ?? [];
  for (const a of r.affected) for (const rg of a.ranges ?? []) for (const e of rg.events) for (const v of Object.values(e)) if (/^\d+\.\d+\.\d+$/.test(v) && !vs.includes(v)) vs.push(v);
  if (vs.length) pool.set(name, vs);
}
const names = [...pool.keys()];
function inventory(i: number): Package[] {
  const extra: Package[] = [];
  const used = new Set<string>();
  while (extra.length < 20) {
    const name = names[Math.floor(rand() * names.length)];
    if (used.has(name)) continue;
    used.add(name);
    const vs = pool.get(name)!;
    const v = vs[Math.floor(rand() * vs.length)];
    extra.push({ ecosystem: 'npm', name, version: v, purl: `pkg:npm/${name}@${v}`, path: `/srv/app${i % 7}/node_modules/${name}/package.json`, analyzer: 'lang/npm' });
  }
  return [...basePkgs, ...appPkgs, ...extra];
}

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
}
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
        for (const [id, c] of inst) {
          upF.run(c.text, id);
          insD.run(run, id, JSON.stringify(c.diff));
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
      const col = <T extends unknown[]>(l: T[], k: number) => l.map((r) => r[k]);
      await c.query(`UPDATE verdicts v SET decision = u.d, body = u.b, evaluated_at = u.at, updated_seq = (SELECT COALESCE(MAX(updated_seq), 0) FROM verdicts) + u.n
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS u(d, b, at, repo, digest, n)
        WHERE v.registry = 'lab' AND v.repository = u.repo AND v.digest = u.digest`, [0, 1, 2, 3, 4].map((k) => col(verdicts, k)));
      await c.query("INSERT INTO image_changes (at, run, registry, repository, digest, body) SELECT u.at, $1, 'lab', u.repo, u.digest, u.ref FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(at, repo, digest, ref)", [run, ...[0, 1, 2, 3].map((k) => col(rs, k))]);
      await c.query("INSERT INTO audit (at, actor, action, registry, repository, digest, detail) SELECT u.at, 'monitor', 'monitor:changed', 'lab', u.repo, u.digest, u.ref FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(at, repo, digest, ref)", [0, 1, 2, 3].map((k) => col(rs, k)));
      await c.query('COMMIT');
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
  // 2. images holding a changed instance
  const holders = new Map<string, number[]>();
  for (const [id, digest] of await io.holders([...changedInst.keys()])) {
    const l = holders.get(digest);
    if (l) l.push(id);
    else holders.set(digest, [id]);
  }
  lap();
  // 3. which changed instances can move an evaluation: per rule set, those whose findings before or
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
  // 4. the holders' decisions (every holder), the verdict bodies and instance lists of those holding a
  //    relevant changed instance, every instance's findings
  const holderList = [...holders.keys()];
  const verdictOf = new Map<string, { repository: string; decision: string; body?: string }>();
  for (const [d, repo, decision] of await io.decisions(holderList)) verdictOf.set(d, { repository: repo, decision });
  const maybe = holderList.filter((d) => holders.get(d)!.some((id) => relevantAny.has(id)));
  for (const [d, b] of await io.bodies(maybe)) verdictOf.get(d)!.body = b;
  const idsOf = new Map<string, Int32Array>();
  const readLists = async (ds: string[]) => {
    for (const [d, b] of await io.lists(ds)) idsOf.set(d, new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
  };
  await readLists(maybe);
  const current: Array<Finding[] | undefined> = [];
  for (const [id, b] of await io.findings()) current[id] = JSON.parse(b) as Finding[];
  for (const [id, c] of changedInst) current[id] = c.findings.length ? c.findings : undefined;
  lap();
  // 5. judge: per holder with a changed instance relevant to one of its rule sets, its findings composed
  //    from its instances (risk order, as a report lists them) and the vulnerability rules evaluated again
  const sig = (r: Record<string, { decision: string; reasons: Array<{ rule: string; action?: string; message?: string }> }>) => JSON.stringify(Object.entries(r).sort().map(([k, e]) => [k, e.decision, e.reasons.map((x) => `${x.rule}:${x.action}:${x.message}`)]));
  type Out = { digest: string; repository: string; before: string; after: string; body?: string; instances: number[] };
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
    findings.sort(compareRisk);
    const next: Record<string, unknown> = {};
    for (const rs of Object.keys(raw)) next[rs] = patchFindingRules(policy, rs, raw[rs], { registry: 'lab', repository: v.repository, digest: digest as never, findings });
    if (sig(raw as never) !== sig(next as never)) {
      const upd = summarize(policy, { ...stored, evaluations: next as Verdict['evaluations'], evaluatedAt: new Date().toISOString() });
      o.after = upd.decision;
      o.body = JSON.stringify(upd);
    }
    return o;
  };
  const out = holderList.map((d) => judge(d, false));
  const evaluated = out.filter((o) => o.body);
  lap();
  // 6. write, one transaction (W2): the changed instances' findings and diffs, every changed verdict, a
  //    change and an audit row for each image whose evaluations changed (the other holders' change
  //    records composed on read from the run's instance diffs and the image's instances)
  const at = new Date().toISOString();
  const row = (o: Out): [string, string, string, string] => [at, o.repository, o.digest, JSON.stringify({ decision: { before: o.before, after: o.after }, instances: o.instances })];
  await io.write('db:proto', changedInst, evaluated.map((o) => [o.after, o.body!, at, o.repository, o.digest]), evaluated.map(row));
  lap();
  const w6 = await io.bytes();
  // W1, measured after it, alone: a change and an audit row for every holder
  const w1t = performance.now();
  const w1c = process.cpuUsage();
  await io.write('db:proto-w1', new Map(), [], out.map(row));
  const w1ms = performance.now() - w1t;
  const w1cpu = cpuOf(w1c, process.cpuUsage());
  const w1b = (await io.bytes()) - w6;

  // check: composing every other holder (no relevance filter) changes no evaluation
  const tA = performance.now();
  const rest = holderList.filter((d) => !idsOf.has(d));
  for (const [d, b] of await io.bodies(rest)) verdictOf.get(d)!.body = b;
  await readLists(rest);
  let mismatch = 0;
  for (const o of out) if (!o.body && judge(o.digest, true).body) mismatch++;
  const aMs = performance.now() - tA;

  const ph = (k: number) => `${fmt(laps[k].at - laps[k - 1].at)} ms   cpu ${fmt(cpuOf(laps[k - 1].cpu, laps[k].cpu))} ms`;
  const newFindings = [...changedInst.values()].reduce((a, c) => a + c.diff.new.length, 0);
  console.log(`\n${io.name}, db pass (prototype): ${changed.length} pairs changed, ${under.length} instances under them, ${changedInst.size} changed (${newFindings} new findings on them; ${relevantAny.size} meeting a rule), ${holders.size} images hold one, ${maybe.length} a relevant one, ${evaluated.length} with changed evaluations`);
  console.log(`  1. re-match the instances under the changed pairs        ${ph(1)}`);
  console.log(`  2. images holding a changed instance                     ${ph(2)}`);
  console.log(`  3. changed instances meeting a rule, per rule set         ${ph(3)}`);
  console.log(`  4. read: decisions, verdicts + instance lists, findings  ${ph(4)}`);
  console.log(`  5. compose + rules where relevant                        ${ph(5)}`);
  console.log(`  6. write: instances, verdicts, change + audit rows of the ${evaluated.length} (W2)   ${ph(6)}   wrote ${fmt((w6 - w0) / 1e6)} MB`);
  const total = laps[6].at - p0;
  console.log(`  total                                                    ${fmt(total)} ms   cpu ${fmt(cpuOf(c0, laps[6].cpu))} ms   goal ≤ 1000 ms: ${total <= 1000 ? 'met' : 'MISSED'}`);
  console.log(`  W1 (a change + audit row for each of the ${holders.size} holders) would add ${fmt(w1ms)} ms, cpu ${fmt(w1cpu)} ms, ${fmt(w1b / 1e6)} MB (${fmt(w1b / holders.size / 1e3)} KB per holder)`);
  console.log(`  check: every other holder composed in full: ${mismatch} evaluations differ (${fmt(aMs)} ms, not in the total)`);
  if (mismatch) throw new Error('the relevance filter missed a changed evaluation');
}

console.log(`instance-layout prototype: ${os.cpus().length} CPUs, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
try {
  const dbPath = path.join(tmp, 'vulndb.sqlite');
  let db: VulnDb = await buildDb(dbPath, v1 as never);
  // --- seed: instances, their findings under the first database, images holding them, verdicts -------
  seed = 7;
  const instKey = (p: Package) => JSON.stringify([p.ecosystem, p.name, p.version, p.sourceName ?? '', p.sourceVersion ?? '', p.path, p.layer ?? '', p.purl ?? '', p.platform ?? ''] as const);
  const inst = new Map<string, { id: number; pkg: Package; pair: string }>();
  const s: Seed = { instances: [], findings: [], holds: [], lists: [], verdicts: [] };
  const t0 = performance.now();
  let held = 0;
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
    held += ids.length;
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
    s.findings.push([e.id, `[${(db.match([e.pkg], osInfo, { memo }) as Finding[]).map(findingText).join(',')}]`]);
  }
  const vBytes = s.verdicts.reduce((a, v) => a + v[3].length, 0) / N;
  console.log(`seed: ${N} images, ${inst.size} distinct instances, ${fmt(held / N)} instances per image, verdict body ${fmt(vBytes)} B avg   (${fmt(performance.now() - t0)} ms, not a result)`);
  const ios: Io[] = [];
  if (STORES.includes('sqlite')) ios.push(sqliteIo(path.join(tmp, 'store.db')));
  if (STORES.includes('postgres')) ios.push(await postgresIo());
  try {
    for (const io of ios) await io.load(s);
    db.close();
    db = await buildDb(dbPath, all as never);
    const changed = [...db.digestRecord().changed.keys()];
    for (const io of ios) await pass(io, db, changed);
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
