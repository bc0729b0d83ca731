/**
 * Benchmark: matching a 1,000-package inventory (npm names from the fixture records plus Debian
 * source packages of the bookworm data, at versions below their fixes) against the fixture index,
 * beside a baseline in the same run: the same number of indexed SQLite lookups with no evaluation.
 * Then the same inventory against an index that also holds the enrichment data (the fixture NVD records,
 * the KEV catalog, endoflife.date pages and an EPSS score for every CVE of the records — made up, no real
 * EPSS file is available), with the OS end-of-life lookup the judge adds per image.
 * Prints packages/s, CPU ms per match call (goal: under 20 ms, with enrichment too) and the ratios to the baseline.
 * Run: `npx tsx bench/vulndb-match.ts`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Package } from '../src/core/inventory.js';
import zlib from 'node:zlib';
import { eolFindings, eolSubjects, updateDb, VulnDb } from '../src/vulndb/index.js';

const FIX = 'test/fixtures/vulndb/osv';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-bench-'));
const dbPath = path.join(tmp, 'vulndb.sqlite');
await updateDb({ path: dbPath, sources: [FIX] });
// the same records with every enrichment source; EPSS made up for each CVE named by the records
const cveIds = new Set<string>();
for (const eco of ['npm', 'debian-bookworm'])
  for (const f of fs.readdirSync(path.join(FIX, eco)))
    for (const a of (JSON.parse(fs.readFileSync(path.join(FIX, eco, f), 'utf8')) as { aliases?: string[] }).aliases ?? []) if (/^CVE-\d{4}-\d+$/.test(a)) cveIds.add(a);
const epssFile = path.join(tmp, 'epss.csv.gz');
fs.writeFileSync(epssFile, zlib.gzipSync(`#model_version:v0,score_date:2025-08-25T00:00:00Z\ncve,epss,percentile\n${[...cveIds].map((c, i) => `${c},${((i % 97) / 100).toFixed(5)},${((i % 89) / 100).toFixed(5)}`).join('\n')}\n`));
const enrichedPath = path.join(tmp, 'enriched.sqlite');
await updateDb({
  path: enrichedPath,
  sources: [FIX, 'nvd:test/fixtures/vulndb/nvd/cve', 'kev:test/fixtures/vulndb/kev/known_exploited_vulnerabilities.json', `epss:${epssFile}`, 'eol:test/fixtures/vulndb/eol/products'],
});

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
const osInfo = { id: 'debian', versionId: '12', ecosystem: 'Debian:12' };

// baseline: the same lookups, rows fetched, nothing evaluated
const raw = new Database(dbPath, { readonly: true });
const stmt = raw.prepare('SELECT a.compiled, r.id FROM affected a JOIN records r ON r.rid = a.rid WHERE a.ecosystem = ? AND a.name = ?');
const baseRun = (): number => {
  let rows = 0;
  for (const p of pkgs) rows += stmt.all(p.ecosystem === 'npm' ? 'npm' : 'debian', p.sourceName ?? p.name).length;
  return rows;
};
const db = VulnDb.open(dbPath);
db.match(pkgs, osInfo); // warm: statement and prepared-range caches
baseRun();
const RUNS = 20;
let c0 = process.cpuUsage();
for (let r = 0; r < RUNS; r++) baseRun();
let cu = process.cpuUsage(c0);
const baseMs = (cu.user + cu.system) / 1000 / RUNS;
let findings = 0;
c0 = process.cpuUsage();
for (let r = 0; r < RUNS; r++) findings = db.match(pkgs, osInfo).length;
cu = process.cpuUsage(c0);
const ms = (cu.user + cu.system) / 1000 / RUNS;
const edb = VulnDb.open(enrichedPath);
const enrichedRun = () => {
  const fs2 = edb.match(pkgs, osInfo);
  const eol = eolFindings(eolSubjects(osInfo, ['NODE_VERSION=18.20.8'], pkgs), (p) => edb.eolCycles(p), Date.now());
  return { fs2, eol };
};
enrichedRun(); // warm
c0 = process.cpuUsage();
let enriched = { fs2: [] as ReturnType<VulnDb['match']>, eol: [] as ReturnType<typeof eolFindings> };
for (let r = 0; r < RUNS; r++) enriched = enrichedRun();
cu = process.cpuUsage(c0);
const ems = (cu.user + cu.system) / 1000 / RUNS;
c0 = process.cpuUsage();
for (let r = 0; r < RUNS; r++) edb.match(pkgs, osInfo);
cu = process.cpuUsage(c0);
const emsMatch = (cu.user + cu.system) / 1000 / RUNS;
const withNvd = enriched.fs2.filter((f) => f.severities?.some((x) => x.source === 'nvd')).length;
db.close();
edb.close();
raw.close();
fs.rmSync(tmp, { recursive: true, force: true });
console.log(`inventory ${pkgs.length} packages, ${findings} findings`);
console.log(`baseline lookups only: ${baseMs.toFixed(2)} ms CPU`);
console.log(`VulnDb.match:          ${ms.toFixed(2)} ms CPU per call, ${Math.round(pkgs.length / (ms / 1000))} packages/s (goal < 20 ms)`);
console.log(`ratio: ${(ms / baseMs).toFixed(2)}x`);
console.log(`with enrichment:       ${ems.toFixed(2)} ms CPU per call (match + end-of-life), ${enriched.fs2.length} findings, ${withNvd} NVD-rated, ` +
  `${enriched.fs2.filter((f) => f.kev).length} KEV, ${enriched.fs2.filter((f) => f.epss).length} EPSS, ${enriched.eol.length} eol (goal < 20 ms)`);
console.log(`  of which VulnDb.match: ${emsMatch.toFixed(2)} ms CPU`);
console.log(`ratio with enrichment: ${(ems / baseMs).toFixed(2)}x baseline, ${(ems / ms).toFixed(2)}x plain match`);
