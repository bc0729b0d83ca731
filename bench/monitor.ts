/**
 * Benchmark: continuous monitoring at 10,000 stored images, on SQLite and on PostgreSQL.
 *
 * Inventories are synthetic, built from real package lists: every image holds the dpkg packages of the
 * lab image debian-minbase:bookworm and the npm packages of node-app:vuln (both scanned here by the
 * scan engine), plus 20 npm packages drawn (seeded) from the names of the OSV fixture records, each at
 * a version taken from that record's range events (so some are affected, some not).
 * The images are stored as the gate stores them (scan, report, verdict) under a database built from the
 * fixtures minus 100 npm advisories; then the database with all of them is swapped in.
 *
 * Printed per store, each beside the baseline measured in the same run, "load": reading and parsing the
 * stored inventories (complete scans) of all images, which any re-match must at least do without an index:
 * - index: the one-time indexing of every stored image (after an upgrade; then per new report);
 * - db pass: the pass after the change touching 100 advisories (goal ≤ 1 s), here hitting nearly every
 *   image (each holds 20 of the ~300 npm names the fixtures cover), so nearly every image is judged again;
 * - db pass, misses: 100 more advisories on names the images hold, at versions none has (most advisories
 *   miss most images): only the re-match of the changed pairs runs;
 * - full pass: `pushgate monitor --all`, every image judged again (goal ≤ 10 s);
 * - affected: "which images have CVE-X", medians of 20: one page of the paged query (limit 100, goal
 *   ≤ 50 ms) and every page at limit 1000, beside the unbounded query it replaced (every hit read at
 *   once, each image's verdicts found by filtering all of them: quadratic), measured in the same run.
 *   Measured for the advisory a change brought and for one every image holds (a Debian base finding).
 * Each database pass is printed split where it has its candidates: the re-match (catch-up, index states,
 * the changed pairs matched again and compared: which images change) and the judgement and write (each
 * candidate patched or judged in full: findings, diff, rules; the batches' writes; the closing move of
 * the other images' indexes to the new database).
 * Each pass also prints the CPU time of this process (user + system) during it: on a shared machine it
 * moves far less with other processes' load than wall time (SQLite's work is in this process;
 * PostgreSQL's server is not).
 * The database pass also prints the bytes this process handed to write calls during it (Linux): for SQLite
 * its WAL frames and checkpoint copies, a figure the machine's load does not move (pages written, not
 * payload: each changed image rewrites pages spread over the tables).
 * Run: `npx tsx bench/monitor.ts` (BENCH_IMAGES=N for another count; BENCH_STORES=sqlite or postgres;
 * BENCH_AFFECTED_ONLY=1: only seed, index and the affected-images figures, for the common advisory).
 * SQLite lives in /dev/shm when it exists (the bench measures pushgate, not the disk); PostgreSQL at
 * 127.0.0.1:5432 (PUSHGATE_TEST_PG), a fresh database dropped afterwards.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Digest } from '../src/core/index.js';
import { SCAN_KEY } from '../src/gate/gate.js';
import { Monitor } from '../src/monitor/index.js';
import { defaultPolicy } from '../src/policy/index.js';
import { openStore, type Store } from '../src/store/index.js';
import { VulnDb } from '../src/vulndb/index.js';
import { buildDb, digestOf, scanOf, storeImage } from '../test/helpers/monitor.js';
import { all, base, held, inventory, npm, reseed, v1, type Rec } from './monitor-data.js';

const N = Number(process.env.BENCH_IMAGES ?? 10_000);
const STORES = (process.env.BENCH_STORES ?? 'sqlite,postgres').split(',');
const AFFECTED_ONLY = process.env.BENCH_AFFECTED_ONLY === '1';
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

const osInfo = base.platforms[0].inventory.os;

const shm = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
const tmp = fs.mkdtempSync(path.join(shm, 'pushgate-bench-monitor-'));
const dbPath = path.join(tmp, 'vulndb.sqlite');
const ms = (t0: number) => performance.now() - t0;
/** CPU time of this process (user + system, ms) since `c0`: less swayed than wall time by other processes on a shared machine. */
const cpuMs = (c0: NodeJS.CpuUsage) => { const u = process.cpuUsage(c0); return (u.user + u.system) / 1000; };
const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
/**
 * Bytes this process has handed to write calls so far (Linux /proc/self/io `wchar`; undefined elsewhere):
 * for SQLite, the pass's WAL frames and checkpoint copies. Unlike time, it does not move with the load of
 * a shared machine.
 */
const wchar = (): number | undefined => {
  try {
    return Number(/^wchar: (\d+)$/m.exec(fs.readFileSync('/proc/self/io', 'utf8'))?.[1]);
  } catch {
    return undefined;
  }
};
const wrote = (w0: number | undefined, n: number) => {
  const w = wchar();
  return w0 === undefined || w === undefined || Number.isNaN(w) ? '' : `   wrote ${fmt((w - w0) / 1e6)} MB (${fmt((w - w0) / n / 1e3)} KB per image)`;
};

async function run(kind: string, store: Store): Promise<void> {
  const policy = defaultPolicy();
  reseed(7);
  let db: VulnDb = await buildDb(dbPath, v1 as never);
  let t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const scan = scanOf(digestOf(i + 1), inventory(i));
    scan.platforms[0].inventory.os = osInfo;
    await storeImage(store, { repository: `team/app${i % 500}`, tag: `v${i}`, scan, db, policy });
  }
  const seedMs = ms(t0);
  // where a database pass has its candidates: the pass's time split into re-match and judge + write
  let split: { at: number; cpu: NodeJS.CpuUsage; candidates: number; patched: number } | undefined;
  const mon = new Monitor({ store, logger: quiet, vulndb: () => db, policy: () => policy, onCandidates: (c) => (split = { at: performance.now(), cpu: process.cpuUsage(), ...c }) });
  /** The two phases of the database pass that started at `t` (wall) and `c` (CPU), ended at `end`. */
  const phases = (t: number, c: NodeJS.CpuUsage, end: { at: number; cpu: NodeJS.CpuUsage }): string[] => {
    if (!split) return ['    (no candidates phase: no database pass ran)'];
    const cpu = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage) => (b.user + b.system - a.user - a.system) / 1000;
    const s = split;
    split = undefined;
    return [
      `    re-match: catch-up, index states, candidates (which images change)  ${fmt(s.at - t)} ms   cpu ${fmt(cpu(c, s.cpu))} ms   (${s.candidates} candidates, ${s.patched} to patch)`,
      `    judge + write: patch (findings, diff, rules), batches, index move    ${fmt(end.at - s.at)} ms   cpu ${fmt(cpu(s.cpu, end.cpu))} ms`,
    ];
  };
  const mark = () => ({ at: performance.now(), cpu: process.cpuUsage() });
  t0 = performance.now();
  const indexed = await mon.catchUp();
  const indexMs = ms(t0);
  if (AFFECTED_ONLY) {
    console.log(`\n${kind}: ${N} images (BENCH_AFFECTED_ONLY: seed, index, affected-images query)`);
    console.log(`  seed (judge + store, not a result)  ${fmt(seedMs)} ms`);
    console.log(`  index every image once (upgrade)    ${fmt(indexMs)} ms   (${indexed} images)`);
    for (const l of await affectedFigures(store, mon, await commonCve(store))) console.log(l);
    db.close();
    return;
  }

  // baseline: every stored inventory read and parsed
  t0 = performance.now();
  let pkgs = 0;
  const loadC0 = process.cpuUsage();
  for (let i = 0; i < N; i++) pkgs += ((await store.getLayer(SCAN_KEY(digestOf(i + 1)))) as { platforms: Array<{ inventory: { packages: unknown[] } }> }).platforms[0].inventory.packages.length;
  const loadMs = ms(t0);
  const loadCpu = cpuMs(loadC0);

  db.close();
  db = await buildDb(dbPath, all as never);
  const changed = db.digestRecord().changed.size;
  t0 = performance.now();
  let c0 = process.cpuUsage();
  const w0 = wchar();
  const pass = await mon.tick();
  const passMs = ms(t0);
  const passCpu = cpuMs(c0);
  const passWrote = wrote(w0, N);
  const passPhases = phases(t0, c0, mark());

  t0 = performance.now();
  c0 = process.cpuUsage();
  const full = await mon.all();
  const fullMs = ms(t0);
  const fullCpu = cpuMs(c0);

  // Second change: 100 advisories on packages the images hold, none affecting an installed version (the
  // common case: most new advisories miss most images): only the partial re-match runs, nothing is judged.
  db.close();
  const misses = [...held].slice(0, 100).map((id, k) => {
    const r = structuredClone(npm.find((x) => x.id === id)!) as Rec & { severity?: unknown };
    r.id = `BENCH-MISS-${k}`;
    r.aliases = [];
    for (const a of r.affected) a.ranges = [{ type: 'SEMVER', events: [{ introduced: '999.0.0' }, { fixed: '999.0.1' }] } as never];
    return r;
  });
  db = await buildDb(dbPath, [...all, ...misses] as never);
  const changed2 = db.digestRecord().changed.size;
  t0 = performance.now();
  c0 = process.cpuUsage();
  const miss = await mon.tick();
  const missMs = ms(t0);
  const missCpu = cpuMs(c0);
  const missPhases = phases(t0, c0, mark());

  // an advisory the change brought: the first new finding of a change record, by its first alias (a CVE)
  let cve = '';
  for (let i = 0; i < N && !cve; i++) {
    const c = (await store.monitor.listChanges(digestOf(i + 1), 1))[0];
    const f = c?.new.find((x) => x.aliases.length);
    if (f) cve = f.aliases[0];
  }
  const affected = [...(cve ? await affectedFigures(store, mon, cve) : []), ...(await affectedFigures(store, mon, await commonCve(store)))];
  db.close();

  console.log(`\n${kind}: ${N} images, ${pkgs} packages (${fmt(pkgs / N)} per image), 100 advisories added → ${changed} (ecosystem, package) pairs changed`);
  console.log(`  seed (judge + store, not a result)  ${fmt(seedMs)} ms`);
  console.log(`  load: read + parse every inventory  ${fmt(loadMs)} ms   (baseline = 1.00)   cpu ${fmt(loadCpu)} ms`);
  console.log(`  index every image once (upgrade)    ${fmt(indexMs)} ms   ×${(indexMs / loadMs).toFixed(2)}   (${indexed} images)`);
  console.log(`  db pass after the change            ${fmt(passMs)} ms   ×${(passMs / loadMs).toFixed(2)}   goal ≤ 1000 ms: ${passMs <= 1000 ? 'met' : 'MISSED'}   (matched ${pass?.matched}, judged again ${pass?.rejudged}, patched ${pass?.patched ?? 0}, changed ${pass?.changed}, new findings ${pass?.newFindings})   cpu ${fmt(passCpu)} ms${passWrote}`);
  for (const l of passPhases) console.log(l);
  console.log(`  db pass, 100 advisories missing every installed version (${changed2} pairs)  ${fmt(missMs)} ms   ×${(missMs / loadMs).toFixed(2)}   goal ≤ 1000 ms: ${missMs <= 1000 ? 'met' : 'MISSED'}   (matched ${miss?.matched}, judged again ${miss?.rejudged})   cpu ${fmt(missCpu)} ms`);
  for (const l of missPhases) console.log(l);
  console.log(`  full pass (monitor --all)           ${fmt(fullMs)} ms   ×${(fullMs / loadMs).toFixed(2)}   goal ≤ 10000 ms: ${fullMs <= 10_000 ? 'met' : 'MISSED'}   (judged ${full.rejudged}, changed ${full.changed})   cpu ${fmt(fullCpu)} ms`);
  for (const l of affected) console.log(l);
}

/**
 * The advisory (first alias, else id) of image 1's first finding on a package every image holds (the
 * lab images' packages, not the drawn ones under /srv/app*): held by every image.
 */
async function commonCve(store: Store): Promise<string> {
  const r = (await store.getReport(digestOf(1))) as { findings: Array<{ id: string; aliases: string[]; path?: string }> };
  const shared = r.findings.filter((x) => !x.path?.startsWith('/srv/app'));
  const f = shared.find((x) => x.aliases.length) ?? shared[0];
  if (!f) throw new Error('no finding on the lab images\' packages: the common-advisory figure needs one');
  return f.aliases[0] ?? f.id;
}

/**
 * Figures of the affected-images query for `cve`, medians of 20: the unbounded query it replaced
 * (every hit read at once, each image's verdicts found by filtering all of them) as the baseline, one
 * page at the default limit, and every page at limit 1000.
 */
async function affectedFigures(store: Store, mon: Monitor, cve: string): Promise<string[]> {
  const median = async (f: () => Promise<number>): Promise<{ ms: number; n: number }> => {
    const times: number[] = [];
    let n = 0;
    for (let k = 0; k < 21; k++) {
      const t = performance.now();
      n = await f();
      if (k) times.push(ms(t));
    }
    times.sort((a, b) => a - b);
    return { ms: times[10], n };
  };
  // before: the query as it was (every hit in one unbounded store read, every verdict filtered per image)
  const unbounded = await median(async () => {
    const { hits: all } = await store.monitor.affectedBy(cve, { limit: 1e9 });
    const digests = [...new Set(all.map((h) => h.digest))];
    const verdicts = await store.monitor.verdictsOf(digests);
    return digests.map((d) => verdicts.filter((v) => v.digest === d)).length;
  });
  // after: one page (default limit 100), and every page at the largest limit (1000) one after another
  const aff = await median(async () => (await mon.affected(cve)).images.length);
  const walk = await median(async () => {
    let n = 0;
    let after: Digest | undefined;
    for (;;) {
      const p = await mon.affected(cve, { limit: 1000, after });
      n += p.images.length;
      if (!p.more) return n;
      after = p.next;
    }
  });
  const affMs = aff.ms;
  return [
    `  affected by ${cve}, medians of 20 (${unbounded.n} images hold it):`,
    `    before: unbounded, verdicts filtered per image  ${fmt(unbounded.ms)} ms   (baseline = 1.00)`,
    `    one page (limit 100)                            ${fmt(affMs)} ms   ×${(affMs / unbounded.ms).toFixed(3)}   goal ≤ 50 ms: ${affMs <= 50 ? 'met' : 'MISSED'}   (${aff.n} images)`,
    `    every page at limit 1000, one after another     ${fmt(walk.ms)} ms   ×${(walk.ms / unbounded.ms).toFixed(3)}   (${walk.n} images)`,
  ];
}

console.log(`monitor bench: ${os.cpus().length} CPUs, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
try {
  if (STORES.includes('sqlite')) {
    const store = await openStore(`sqlite:${path.join(tmp, 'pushgate.db')}`);
    try {
      await run('SQLite', store);
    } finally {
      await store.close();
    }
  }
  if (STORES.includes('postgres')) {
    const BASE = process.env.PUSHGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432';
    const name = `pushgate_bench_monitor_${process.pid}`;
    const admin = new pg.Client({ connectionString: `${BASE}/postgres` });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const store = await openStore(`${BASE}/${name}`);
    try {
      await run('PostgreSQL', store);
    } finally {
      await store.close();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
