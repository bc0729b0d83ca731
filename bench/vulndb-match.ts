/**
 * Benchmark: matching a 1,000-package inventory (npm names from the fixture records plus Debian
 * source packages of the bookworm data, at versions below their fixes) against the fixture index,
 * beside a baseline in the same run: the same number of indexed SQLite lookups with no evaluation.
 * Then the same inventory against an index that also holds the enrichment data (the fixture NVD records,
 * the KEV catalog, endoflife.date pages and an EPSS score for every CVE of the records — made up, no real
 * EPSS file is available), with the OS end-of-life lookup the judge adds per image.
 * Each figure is the CPU time per call of a batch of RUNS calls, the best of ROUNDS batches (the machine is
 * shared: the least disturbed batch), the measurements alternating batch by batch.
 * With `BENCH_BEFORE=<git revision>`, that revision's vulndb is built too (git archive + tsc into .cache,
 * its own index files) and measured alternately with the current one, so one run prints the before/after ratio.
 * Prints packages/s, CPU ms per match call (goal: under 20 ms, with enrichment too) and the ratios to the baseline.
 * Run: `[BENCH_BEFORE=REV] npx tsx bench/vulndb-match.ts`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import zlib from 'node:zlib';
import Database from 'better-sqlite3';
import type { OsInfo, Package } from '../src/core/inventory.js';
import * as current from '../src/vulndb/index.js';

type Vulndb = Pick<typeof current, 'eolFindings' | 'eolSubjects' | 'updateDb' | 'VulnDb'>;

const ROUNDS = 7;
const RUNS = 20;
const FIX = 'test/fixtures/vulndb/osv';
const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-bench-'));

// the same records with every enrichment source; EPSS made up for each CVE named by the records
const cveIds = new Set<string>();
for (const eco of ['npm', 'debian-bookworm'])
  for (const f of fs.readdirSync(path.join(FIX, eco)))
    for (const a of (JSON.parse(fs.readFileSync(path.join(FIX, eco, f), 'utf8')) as { aliases?: string[] }).aliases ?? []) if (/^CVE-\d{4}-\d+$/.test(a)) cveIds.add(a);
const epssFile = path.join(tmp, 'epss.csv.gz');
fs.writeFileSync(epssFile, zlib.gzipSync(`#model_version:v0,score_date:2025-08-25T00:00:00Z\ncve,epss,percentile\n${[...cveIds].map((c, i) => `${c},${((i % 97) / 100).toFixed(5)},${((i % 89) / 100).toFixed(5)}`).join('\n')}\n`));
const ENRICHED_SOURCES = [FIX, 'nvd:test/fixtures/vulndb/nvd/cve', 'kev:test/fixtures/vulndb/kev/known_exploited_vulnerabilities.json', `epss:${epssFile}`, 'eol:test/fixtures/vulndb/eol/products'];

const pkgs: Package[] = [];
const names = new Set<string>();
for (const f of fs.readdirSync(path.join(FIX, 'npm'))) {
  const r = JSON.parse(fs.readFileSync(path.join(FIX, 'npm', f), 'utf8')) as { affected: Array<{ package: { name: string } }> };
  names.add(r.affected[0].package.name);
}
for (const f of fs.readdirSync(path.join(FIX, 'debian-bookworm'))) {
  const r = JSON.parse(fs.readFileSync(path.join(FIX, 'debian-bookworm', f), 'utf8')) as { affected: Array<{ package: { name: string } }> };
  names.add(`deb:${r.affected[0].package.name}`);
}
let i = 0;
while (pkgs.length < 1000) {
  for (const n of names) {
    if (pkgs.length >= 1000) break;
    if (n.startsWith('deb:')) {
      const src = n.slice(4);
      pkgs.push({ ecosystem: 'Debian', name: `lib${src}${i}`, version: '1.0-1', sourceName: src, purl: '', path: '/var/lib/dpkg/status', analyzer: 'os/dpkg' });
    } else pkgs.push({ ecosystem: 'npm', name: n, version: `0.${i}.0`, purl: '', path: `/app/node_modules/${n}/package.json`, analyzer: 'lang/npm' });
  }
  i++;
}
const osInfo: OsInfo = { id: 'debian', versionId: '12', ecosystem: 'Debian:12' };

/** One vulndb build under test: its plain and enriched indexes, opened, caches warm. */
async function setup(lib: Vulndb, tag: string) {
  const dbPath = path.join(tmp, `${tag}.sqlite`);
  const enrichedPath = path.join(tmp, `${tag}-enriched.sqlite`);
  await lib.updateDb({ path: dbPath, sources: [FIX] });
  await lib.updateDb({ path: enrichedPath, sources: ENRICHED_SOURCES });
  const db = lib.VulnDb.open(dbPath);
  const edb = lib.VulnDb.open(enrichedPath);
  const plain = () => db.match(pkgs, osInfo);
  const enrichedMatch = () => edb.match(pkgs, osInfo);
  const enriched = () => ({ fs2: edb.match(pkgs, osInfo), eol: lib.eolFindings(lib.eolSubjects(osInfo, ['NODE_VERSION=18.20.8'], pkgs), (p) => edb.eolCycles(p), Date.now()) });
  // warm: statement and prepared-range caches
  plain();
  enriched();
  return { dbPath, db, edb, plain, enrichedMatch, enriched, best: { plain: Infinity, enriched: Infinity, enrichedMatch: Infinity } };
}

/** CPU ms per call of `f`, over a batch of RUNS calls. */
function cpuPerCall(f: () => unknown): number {
  const c0 = process.cpuUsage();
  for (let r = 0; r < RUNS; r++) f();
  const cu = process.cpuUsage(c0);
  return (cu.user + cu.system) / 1000 / RUNS;
}

const now = await setup(current, 'current');
const before = process.env.BENCH_BEFORE;
let prev: Awaited<ReturnType<typeof setup>> | undefined;
const cleanup: string[] = [];
if (before) {
  // the revision's tree inside the checkout (node_modules resolves), built like the shipped image
  const src = fs.mkdtempSync(path.join(root, '.cache', 'bench-before-src-'));
  execFileSync('sh', ['-c', `git -C "${root}" archive "${before}" src tsconfig.json tsconfig.build.json | tar -x -C "${src}"`], { stdio: 'inherit' });
  const dist = fs.mkdtempSync(path.join(root, '.cache', 'bench-before-dist-'));
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(src, 'tsconfig.build.json'), '--outDir', dist], { stdio: 'inherit' });
  cleanup.push(src, dist);
  prev = await setup((await import(pathToFileURL(path.join(dist, 'vulndb', 'index.js')).href)) as Vulndb, 'before');
}

// baseline: the same lookups, rows fetched, nothing evaluated
const raw = new Database(now.dbPath, { readonly: true });
const stmt = raw.prepare('SELECT a.compiled, r.id FROM affected a JOIN records r ON r.rid = a.rid WHERE a.ecosystem = ? AND a.name = ?');
const baseRun = (): number => {
  let rows = 0;
  for (const p of pkgs) rows += stmt.all(p.ecosystem === 'npm' ? 'npm' : 'debian', p.sourceName ?? p.name).length;
  return rows;
};
baseRun();
let baseMs = Infinity;
for (let r = 0; r < ROUNDS; r++) {
  baseMs = Math.min(baseMs, cpuPerCall(baseRun));
  for (const t of prev ? [now, prev] : [now]) {
    t.best.plain = Math.min(t.best.plain, cpuPerCall(t.plain));
    t.best.enriched = Math.min(t.best.enriched, cpuPerCall(t.enriched));
    t.best.enrichedMatch = Math.min(t.best.enrichedMatch, cpuPerCall(t.enrichedMatch));
  }
}
const findings = now.plain().length;
const enriched = now.enriched();
const withNvd = enriched.fs2.filter((f) => f.severities?.some((x) => x.source === 'nvd')).length;
if (prev) {
  // the same findings from both builds
  const same = JSON.stringify(prev.enriched().fs2) === JSON.stringify(enriched.fs2) && JSON.stringify(prev.plain()) === JSON.stringify(now.plain());
  console.log(`findings of ${before} and the current build: ${same ? 'identical' : 'DIFFERENT'}`);
}
for (const t of prev ? [now, prev] : [now]) {
  t.db.close();
  t.edb.close();
}
raw.close();
fs.rmSync(tmp, { recursive: true, force: true });
for (const d of cleanup) fs.rmSync(d, { recursive: true, force: true });
const { plain: ms, enriched: ems, enrichedMatch: emsMatch } = now.best;
console.log(`load average: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (${os.cpus().length} cores); best of ${ROUNDS} batches of ${RUNS} calls`);
console.log(`inventory ${pkgs.length} packages, ${findings} findings`);
console.log(`baseline lookups only: ${baseMs.toFixed(2)} ms CPU`);
console.log(`VulnDb.match:          ${ms.toFixed(2)} ms CPU per call, ${Math.round(pkgs.length / (ms / 1000))} packages/s (goal < 20 ms)`);
console.log(`ratio: ${(ms / baseMs).toFixed(2)}x`);
console.log(`with enrichment:       ${ems.toFixed(2)} ms CPU per call (match + end-of-life), ${enriched.fs2.length} findings, ${withNvd} NVD-rated, ` +
  `${enriched.fs2.filter((f) => f.kev).length} KEV, ${enriched.fs2.filter((f) => f.epss).length} EPSS, ${enriched.eol.length} eol (goal < 20 ms)`);
console.log(`  of which VulnDb.match: ${emsMatch.toFixed(2)} ms CPU`);
console.log(`ratio with enrichment: ${(ems / baseMs).toFixed(2)}x baseline, ${(ems / ms).toFixed(2)}x plain match`);
if (prev) {
  const p = prev.best;
  console.log(`${before}: VulnDb.match ${p.plain.toFixed(2)} ms CPU, with enrichment ${p.enriched.toFixed(2)} ms CPU (of which match ${p.enrichedMatch.toFixed(2)})`);
  console.log(`after/before: match ${(ms / p.plain).toFixed(2)}x, with enrichment ${(ems / p.enriched).toFixed(2)}x`);
}
