/**
 * Benchmark: `db update` of every OSV folder of the shared vulndata plus its enrichment data (NVD CVE
 * records `nvd:`, the KEV catalog `kev:`, endoflife.date pages `eol:`, and an EPSS file `epss:` — synthetic,
 * since no real one is available: 250,000 rows `CVE-…,score,percentile` gzipped like FIRST's daily file),
 * or the fixture set when the shared data is absent, beside a floor measured in the same run: reading +
 * `JSON.parse` of the same JSON files (other files read, gunzipped and split into lines), nothing else.
 * Every measurement runs in a fresh process; the kinds alternate, ROUNDS rounds, and each prints its best
 * (the machine is shared: the least disturbed run) and its median. CPU time is user + system of the whole
 * process, every thread (on a loaded machine the CPU ratio is the steadier one).
 *
 * Two pairs are measured:
 * - **user path** (the goal figure): `node bin/pushgate.js db update --db FRESH --source …` of a full build
 *   (scripts/build.mjs: the bundled command line, as the container image runs it: PUSHGATE_USE_DIST=1, no
 *   look at the sources), so it runs with what bin/pushgate.js sets for a command that is not `serve` (its
 *   JIT_FLAGS, e.g. a larger interrupt budget) and through its code cache (warmed by one unmeasured run
 *   first: a user's second and later updates). Timed as a whole process (bench/cpu-at-exit.cjs); the floor
 *   runs in a fresh process with the same V8 flags (read from that build's bin/pushgate.js). Printed twice:
 *   after Node's own start-up (the ratio of the goal: what pushgate's code adds over the floor's) and for
 *   the whole process, start-up included.
 * - **in-process** (the figure printed before, kept for comparison): updateDb() of tsc's build called by a
 *   plain-Node child (bench/vulndb-import-child.mjs, no flags, no code cache), its CPU time from the call
 *   to its end, beside the floor's time inside the same kind of child.
 *
 * With `BENCH_BEFORE=<git revision>`, that revision's sources are built too (git archive into .cache) and
 * measured in turn with the others, so one run prints the before/after ratio of a change and whether the
 * database content digest changed. No TypeScript loader runs in any timed process.
 * Run: `[BENCH_BEFORE=REV] [BENCH_ROUNDS=N] npx tsx bench/vulndb-import.ts [DIR...]` (ROUNDS 7 by default; the
 * builds take about a minute each).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import type { UpdateStats } from '../src/vulndb/index.js';

const SHARED = '/work/shared/vulndata';
const ROUNDS = Number(process.env.BENCH_ROUNDS) || 7;

function* walk(d: string): Generator<string> {
  if (!fs.statSync(d).isDirectory()) {
    yield d;
    return;
  }
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (/\.(json|md|csv|csv\.gz)$/.test(e.name)) yield p;
  }
}

/** A synthetic EPSS file in FIRST's layout: `rows` CVE ids with pseudo-random scores (made up). */
function syntheticEpss(file: string, rows: number): void {
  const lines = ['#model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z', 'cve,epss,percentile'];
  let x = 12345;
  for (let i = 0; i < rows; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    lines.push(`CVE-${1999 + (i % 27)}-${10000 + i},${(x / 2 ** 31).toFixed(5)},${(i / rows).toFixed(5)}`);
  }
  fs.writeFileSync(file, zlib.gzipSync(`${lines.join('\n')}\n`));
}

/** A measurement: wall and CPU time (ms) of the timed part. */
interface Timing {
  ms: number;
  cpuMs: number;
}

/** Best (minimum) and median of a list of timings, per field. */
function summary(list: readonly Timing[]): { best: Timing; median: Timing } {
  const pick = (f: (t: Timing) => number) => {
    const v = list.map(f).sort((a, b) => a - b);
    return { min: v[0], med: v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2 };
  };
  const ms = pick((t) => t.ms);
  const cpu = pick((t) => t.cpuMs);
  return { best: { ms: ms.min, cpuMs: cpu.min }, median: { ms: ms.med, cpuMs: cpu.med } };
}

/** `wall ms, CPU ms` of the best and the median. */
const fmt = (list: readonly Timing[]): string => {
  const { best, median } = summary(list);
  return `best ${best.ms.toFixed(0)} ms wall, ${best.cpuMs.toFixed(0)} ms CPU; median ${median.ms.toFixed(0)} ms wall, ${median.cpuMs.toFixed(0)} ms CPU`;
};

/** `a / b` of the best and of the median, wall and CPU. */
const ratio = (a: readonly Timing[], b: readonly Timing[]): string => {
  const x = summary(a);
  const y = summary(b);
  return `best ${(x.best.ms / y.best.ms).toFixed(2)}x wall, ${(x.best.cpuMs / y.best.cpuMs).toFixed(2)}x CPU; median ${(x.median.ms / y.median.ms).toFixed(2)}x wall, ${(x.median.cpuMs / y.median.cpuMs).toFixed(2)}x CPU`;
};

/** The files of the build of scripts/build.mjs, as `git ls-files` lists them (tracked and new, not ignored). */
const BUILD_INPUTS = ['src', 'ui', 'bin', 'scripts', 'package.json', 'tsconfig.json', 'tsconfig.build.json'];

const args = process.argv.slice(2);
{
  const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
  fs.mkdirSync(path.join(root, '.cache'), { recursive: true });
  const epss = path.join(root, '.cache', 'bench-epss_scores.csv.gz');
  syntheticEpss(epss, 250_000);
  const enrich = (base: string, nvd: string) => [`nvd:${nvd}`, `kev:${path.join(base, 'kev/known_exploited_vulnerabilities.json')}`, `epss:${epss}`, `eol:${path.join(base, 'eol/products')}`];
  const dirs = args.length
    ? args
    : fs.existsSync(SHARED)
      ? [...fs.readdirSync(SHARED).map((d) => path.join(SHARED, d, 'osv')).filter((d) => fs.existsSync(d)), ...enrich(SHARED, path.join(SHARED, 'nvd/cve'))]
      : ['test/fixtures/vulndb/osv', ...enrich('test/fixtures/vulndb', 'test/fixtures/vulndb/nvd/cve')];
  const files = dirs.flatMap((d) => [...walk(d.replace(/^(nvd|kev|epss|eol):/, ''))]);
  for (const f of files) fs.readFileSync(f); // warm the page cache so every run reads from memory
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
  const scratch: string[] = [];
  // inside the checkout, so the builds resolve node_modules (.cache is git-ignored)
  const tmpDir = (prefix: string): string => {
    const d = fs.mkdtempSync(path.join(root, '.cache', prefix));
    scratch.push(d);
    return d;
  };

  // In-process: tsc's build of the sources as they are (and of BENCH_BEFORE's).
  const dist = tmpDir('bench-dist-');
  execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', dist], { stdio: 'inherit' });
  // User path: a full build (scripts/build.mjs) of a copy of the build's inputs as they are in the checkout.
  const cur = tmpDir('bench-user-cur-');
  const listed = execFileSync('git', ['-C', root, 'ls-files', '-z', '-c', '-o', '--exclude-standard', '--', ...BUILD_INPUTS], { encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const f of listed) {
    if (!fs.existsSync(path.join(root, f))) continue; // deleted, not yet staged
    fs.mkdirSync(path.dirname(path.join(cur, f)), { recursive: true });
    fs.copyFileSync(path.join(root, f), path.join(cur, f));
  }
  execFileSync(process.execPath, [path.join(cur, 'scripts/build.mjs')], { stdio: 'inherit' });
  const before = process.env.BENCH_BEFORE;
  let beforeDist: string | undefined;
  let beforeUser: string | undefined;
  if (before) {
    // the revision's tree inside the checkout (node_modules resolves), built like the current one
    beforeUser = tmpDir('bench-before-src-');
    const present = BUILD_INPUTS.filter((p) => execFileSync('git', ['-C', root, 'ls-tree', '--name-only', before, p], { encoding: 'utf8' }).trim() !== '');
    execFileSync('sh', ['-c', `git -C "${root}" archive "${before}" ${present.join(' ')} | tar -x -C "${beforeUser}"`], { stdio: 'inherit' });
    beforeDist = tmpDir('bench-before-dist-');
    execFileSync(process.execPath, [tsc, '-p', path.join(beforeUser, 'tsconfig.build.json'), '--outDir', beforeDist], { stdio: 'inherit' });
    execFileSync(process.execPath, [path.join(beforeUser, 'scripts/build.mjs')], { stdio: 'inherit' });
  }

  const childScript = path.join(root, 'bench/vulndb-import-child.mjs');
  const run = (mode: string, d = dist): Timing & { n?: number; st?: UpdateStats } =>
    JSON.parse(execFileSync(process.execPath, [childScript, mode, ...(mode === 'update' ? [d] : []), ...dirs], { encoding: 'utf8', maxBuffer: 64 << 20 }).trim().split('\n').at(-1) ?? '{}') as Timing;

  // The V8 flags a build's bin/pushgate.js sets for a command other than `serve` (its JIT_FLAGS constant).
  const jitFlags = (tree: string): string[] => {
    const m = /^const JIT_FLAGS = '([^']*)';$/m.exec(fs.readFileSync(path.join(tree, 'bin/pushgate.js'), 'utf8'));
    return m && m[1] ? m[1].split(' ') : [];
  };
  const hook = path.join(root, 'bench/cpu-at-exit.cjs');
  const work = tmpDir('bench-run-');
  const cpuOut = path.join(work, 'cpu.json');
  /** A whole process timed by the hook: `total` from its start, `timing` after Node's own start-up. */
  const timed = (argv: string[], env: NodeJS.ProcessEnv = {}): { total: Timing; timing: Timing } => {
    fs.rmSync(cpuOut, { force: true });
    execFileSync(process.execPath, ['-r', hook, ...argv], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 << 20, env: { ...process.env, ...env, BENCH_CPU_OUT: cpuOut } });
    const r = JSON.parse(fs.readFileSync(cpuOut, 'utf8')) as Timing & { bootMs: number; bootCpuMs: number };
    return { total: { ms: r.ms, cpuMs: r.cpuMs }, timing: { ms: r.ms - r.bootMs, cpuMs: r.cpuMs - r.bootCpuMs } };
  };
  const sourceArgs = dirs.flatMap((d) => ['--source', d]);
  let dbN = 0;
  /** `pushgate db update` as users run it, with `tree`'s build; the database's content digest. */
  const userRun = (tree: string): { total: Timing; timing: Timing; digest: string } => {
    const db = path.join(work, `vulndb-${dbN++}.sqlite`);
    const t = timed([path.join(tree, 'bin/pushgate.js'), 'db', 'update', '--db', db, '--cache-dir', path.join(work, `cache-${path.basename(tree)}`), ...sourceArgs], { PUSHGATE_USE_DIST: '1' });
    const digest = execFileSync(process.execPath, ['-e', `const D = require(${JSON.stringify(path.join(root, 'node_modules/better-sqlite3'))}); const d = new D(process.argv[1], { readonly: true }); process.stdout.write(d.prepare("SELECT value FROM meta WHERE key = 'contentDigest'").pluck().get()); d.close();`, db], { encoding: 'utf8' });
    fs.rmSync(db, { force: true });
    return { ...t, digest };
  };
  const floorRun = (tree: string) => timed([...jitFlags(tree), childScript, 'baseline', ...dirs]);

  // one unmeasured run of each build: its code cache written, as after a user's first update
  userRun(cur);
  if (beforeUser) userRun(beforeUser);

  const r = { base: [] as Timing[], ours: [] as Timing[], prev: [] as Timing[], floor: [] as Timing[], floorTotal: [] as Timing[], user: [] as Timing[], userTotal: [] as Timing[], userPrev: [] as Timing[], userPrevTotal: [] as Timing[] };
  let st: UpdateStats | undefined;
  let prevDigest: string | undefined;
  const digests = new Set<string>();
  for (let round = 0; round < ROUNDS; round++) {
    const f = floorRun(cur);
    r.floor.push(f.timing);
    r.floorTotal.push(f.total);
    const u = userRun(cur);
    r.user.push(u.timing);
    r.userTotal.push(u.total);
    digests.add(`current ${u.digest}`);
    if (beforeUser) {
      const p = userRun(beforeUser);
      r.userPrev.push(p.timing);
      r.userPrevTotal.push(p.total);
      digests.add(`before ${p.digest}`);
    }
    r.base.push(run('baseline'));
    const o = run('update');
    r.ours.push(o);
    st = o.st;
    if (beforeDist) {
      const p = run('update', beforeDist);
      r.prev.push(p);
      prevDigest = p.st?.contentDigest;
    }
  }
  console.log(`files ${files.length}, records imported ${st?.imported}, bad ${st?.badRecords.length}, by ecosystem ${JSON.stringify(st?.byEcosystem)}`);
  console.log(`sources: ${(st?.sources ?? []).map((x) => `${x.kind} ${x.items}`).join(', ')}`);
  for (const b of st?.badRecords.slice(0, 5) ?? []) console.log(`  bad: ${b.file}: ${b.error}`);
  console.log(`load average: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (${os.cpus().length} cores); ${ROUNDS} rounds, fresh process each, kinds alternating`);
  console.log(`\nuser path: node bin/pushgate.js db update (flags ${jitFlags(cur).join(' ') || 'none'}, code cache warm) vs floor (same flags)`);
  console.log(`  floor read+JSON.parse:   ${fmt(r.floor)}   (after Node start-up)`);
  console.log(`  pushgate db update:      ${fmt(r.user)}`);
  console.log(`  ratio:                   ${ratio(r.user, r.floor)} (goal <= 3x)`);
  console.log(`  whole process: floor ${fmt(r.floorTotal)}; db update ${fmt(r.userTotal)}; ratio ${ratio(r.userTotal, r.floorTotal)}`);
  if (beforeUser) {
    console.log(`  ${before} db update: ${fmt(r.userPrev)}; ratio to floor ${ratio(r.userPrev, r.floor)}`);
    console.log(`  after/before:            ${ratio(r.user, r.userPrev)}`);
  }
  const userDigests = [...digests];
  console.log(`  content digests: ${userDigests.join(', ')}${beforeUser ? (new Set(userDigests.map((d) => d.split(' ')[1])).size === 1 ? ' (unchanged)' : ' (CHANGED)') : ''}`);
  console.log('\nin-process (the figure printed before): updateDb() in a plain-Node child, no flags, no code cache, vs read+JSON.parse in the same kind of child');
  console.log(`  baseline read+JSON.parse: ${fmt(r.base)}`);
  console.log(`  pushgate updateDb:        ${fmt(r.ours)}`);
  console.log(`  ratio:                    ${ratio(r.ours, r.base)}`);
  if (beforeDist) {
    console.log(`  ${before} updateDb: ${fmt(r.prev)}; ratio to baseline ${ratio(r.prev, r.base)}`);
    console.log(`  after/before:             ${ratio(r.ours, r.prev)}; content digest ${prevDigest === st?.contentDigest ? 'unchanged' : `CHANGED (${prevDigest} → ${st?.contentDigest})`}`);
  }
  for (const d of scratch) fs.rmSync(d, { recursive: true, force: true });
  fs.rmSync(epss, { force: true });
}
