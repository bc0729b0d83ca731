/**
 * Benchmark: matching a 1,000-package inventory (npm names from the fixture records plus Debian
 * source packages of the bookworm data, at versions below their fixes) against the fixture index,
 * beside a baseline in the same run: the same number of indexed SQLite lookups with no evaluation.
 * Prints packages/s, CPU ms per match call (goal: under 20 ms) and the ratio to the baseline.
 * Run: `npx tsx bench/vulndb-match.ts`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Package } from '../src/core/inventory.js';
import { updateDb, VulnDb } from '../src/vulndb/index.js';

const FIX = 'test/fixtures/vulndb/osv';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-bench-'));
const dbPath = path.join(tmp, 'vulndb.sqlite');
await updateDb({ path: dbPath, sources: [FIX] });

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
db.close();
raw.close();
fs.rmSync(tmp, { recursive: true, force: true });
console.log(`inventory ${pkgs.length} packages, ${findings} findings`);
console.log(`baseline lookups only: ${baseMs.toFixed(2)} ms CPU`);
console.log(`VulnDb.match:          ${ms.toFixed(2)} ms CPU per call, ${Math.round(pkgs.length / (ms / 1000))} packages/s (goal < 20 ms)`);
console.log(`ratio: ${(ms / baseMs).toFixed(2)}x`);
