/**
 * Benchmark: `db update` of every OSV folder of the shared vulndata plus its enrichment data (NVD CVE
 * records `nvd:`, the KEV catalog `kev:`, endoflife.date pages `eol:`, and an EPSS file `epss:` — synthetic,
 * since no real one is available: 250,000 rows `CVE-…,score,percentile` gzipped like FIRST's daily file),
 * or the fixture set when the shared data is absent, beside a baseline measured in the same run: reading +
 * `JSON.parse` of the same JSON files (other files read, gunzipped and split into lines), nothing else. Each measurement runs in a fresh plain-Node child process (bench/vulndb-import-child.mjs;
 * modules loaded, caches cold), the two alternate, and the best of ROUNDS is kept for each (the
 * machine is shared: the minimum is the least disturbed run). Prints both wall and CPU times (user +
 * system of the child; on a loaded machine the CPU ratio is the steadier one), the ratios and the load
 * average (goal: within 3×). pushgate is measured as it ships (the container image runs the tsc build), so
 * the sources are compiled with tsconfig.build.json into .cache/bench-dist-* first; no TypeScript loader runs
 * in the timed code (under tsx the same import took about 25% longer here).
 * With `BENCH_BEFORE=<git revision>`, that revision's sources are built too (git archive into .cache) and
 * measured alternately with the other two, so one run prints the before/after ratio of a change.
 * Run: `[BENCH_BEFORE=REV] npx tsx bench/vulndb-import.ts [DIR...]`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import type { UpdateStats } from '../src/vulndb/index.js';

const SHARED = '/work/shared/vulndata';
const ROUNDS = 7;

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
  // inside the checkout, so the build resolves node_modules (.cache is git-ignored)
  const dist = fs.mkdtempSync(path.join(root, '.cache', 'bench-dist-'));
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json'), '--outDir', dist], { stdio: 'inherit' });
  const before = process.env.BENCH_BEFORE;
  let beforeDist: string | undefined;
  let beforeSrc: string | undefined;
  if (before) {
    // the revision's tree inside the checkout (node_modules resolves), built like the current one
    beforeSrc = fs.mkdtempSync(path.join(root, '.cache', 'bench-before-src-'));
    execFileSync('sh', ['-c', `git -C "${root}" archive "${before}" src tsconfig.json tsconfig.build.json | tar -x -C "${beforeSrc}"`], { stdio: 'inherit' });
    beforeDist = fs.mkdtempSync(path.join(root, '.cache', 'bench-before-dist-'));
    execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(beforeSrc, 'tsconfig.build.json'), '--outDir', beforeDist], { stdio: 'inherit' });
  }
  const childScript = path.join(root, 'bench/vulndb-import-child.mjs');
  const run = (mode: string, d = dist): { ms: number; cpuMs: number; n?: number; st?: UpdateStats } =>
    JSON.parse(execFileSync(process.execPath, [childScript, mode, ...(mode === 'update' ? [d] : []), ...dirs], { encoding: 'utf8', maxBuffer: 64 << 20 }).trim().split('\n').at(-1) ?? '{}') as { ms: number; cpuMs: number };
  let prev = Infinity;
  let prevCpu = Infinity;
  let prevDigest: string | undefined;
  let base = Infinity;
  let ours = Infinity;
  let baseCpu = Infinity;
  let oursCpu = Infinity;
  let st: UpdateStats | undefined;
  for (let r = 0; r < ROUNDS; r++) {
    const b = run('baseline');
    base = Math.min(base, b.ms);
    baseCpu = Math.min(baseCpu, b.cpuMs);
    const o = run('update');
    ours = Math.min(ours, o.ms);
    oursCpu = Math.min(oursCpu, o.cpuMs);
    st = o.st;
    if (beforeDist) {
      const p = run('update', beforeDist);
      prev = Math.min(prev, p.ms);
      prevCpu = Math.min(prevCpu, p.cpuMs);
      prevDigest = p.st?.contentDigest;
    }
  }
  console.log(`files ${files.length}, records imported ${st?.imported}, bad ${st?.badRecords.length}, by ecosystem ${JSON.stringify(st?.byEcosystem)}`);
  console.log(`sources: ${(st?.sources ?? []).map((x) => `${x.kind} ${x.items}`).join(', ')}`);
  for (const b of st?.badRecords.slice(0, 5) ?? []) console.log(`  bad: ${b.file}: ${b.error}`);
  console.log(`load average: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (${os.cpus().length} cores)`);
  console.log(`baseline read+JSON.parse: ${base.toFixed(0)} ms wall, ${baseCpu.toFixed(0)} ms CPU (best of ${ROUNDS}, fresh process each)`);
  console.log(`pushgate db update:       ${ours.toFixed(0)} ms wall, ${oursCpu.toFixed(0)} ms CPU (best of ${ROUNDS}, fresh process each)`);
  console.log(`ratio: ${(ours / base).toFixed(2)}x wall, ${(oursCpu / baseCpu).toFixed(2)}x CPU (goal <= 3x)`);
  if (beforeDist) {
    console.log(`${before} db update:  ${prev.toFixed(0)} ms wall, ${prevCpu.toFixed(0)} ms CPU (best of ${ROUNDS}); ratio to baseline ${(prev / base).toFixed(2)}x wall, ${(prevCpu / baseCpu).toFixed(2)}x CPU`);
    console.log(`after/before: ${(ours / prev).toFixed(2)}x wall, ${(oursCpu / prevCpu).toFixed(2)}x CPU; content digest ${prevDigest === st?.contentDigest ? 'unchanged' : `CHANGED (${prevDigest} → ${st?.contentDigest})`}`);
    fs.rmSync(beforeDist, { recursive: true, force: true });
    fs.rmSync(beforeSrc!, { recursive: true, force: true });
  }
  fs.rmSync(dist, { recursive: true, force: true });
  fs.rmSync(epss, { force: true });
}
