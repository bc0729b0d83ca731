/**
 * The synthetic stored images of the monitoring benchmarks (bench/monitor.ts and its per-instance
 * prototype bench/monitor-instances-proto.ts), built from real package lists so that both measure the
 * same data: every image holds the dpkg packages of the lab image debian-minbase:bookworm and the npm
 * packages of node-app:vuln (scanned here by the scan engine), plus 20 npm packages drawn (seeded) from
 * the names of the OSV fixture records, each at a version taken from that record's range events.
 * The advisories are all fixture records of npm and Debian 12, with 100 npm records (`held`) held back
 * from the first database (`v1`): the change a database pass judges.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Package } from '../src/core/index.js';
import { scanTarget } from '../src/scan/engine.js';
import { labImages } from '../test/helpers/lab.js';

/** The OSV fixture records the databases are built from (test/fixtures/vulndb/osv). */
export const FIX = 'test/fixtures/vulndb/osv';

/** An OSV record as the benchmarks read it. */
export type Rec = { id: string; aliases?: string[]; affected: Array<{ package: { name: string; ecosystem: string }; ranges?: Array<{ events: Array<Record<string, string>> }> }> };

// --- real package lists ---------------------------------------------------------------------------
const lab = labImages();
/** The scan of debian-minbase, whose packages (and OS release) every synthetic image holds. */
export const base = await scanTarget(`oci:${path.join(lab, 'debian-minbase')}:bookworm`);
const app = await scanTarget(`oci:${path.join(lab, 'node-app')}:vuln`);
const basePkgs = base.platforms[0].inventory.packages;
const appPkgs = app.platforms[0].inventory.packages.filter((p) => p.ecosystem === 'npm');

// --- advisories: all fixtures; 100 npm records held back from the first database ---------------------
/** Every fixture record (npm, then Debian 12). */
export const all: Rec[] = [];
for (const eco of ['npm', 'debian-bookworm']) for (const f of fs.readdirSync(path.join(FIX, eco))) all.push(JSON.parse(fs.readFileSync(path.join(FIX, eco, f), 'utf8')) as Rec);
/** The npm records of {@link all}. */
export const npm = all.filter((r) => r.affected[0].package.ecosystem === 'npm');
let seed = 42;
/** The benchmarks' seeded generator (a linear congruential one): the same draws in every run. */
const rand = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
/** Sets the generator's seed (each store's images are drawn from the same seed). */
export function reseed(s: number): void {
  seed = s;
}
/** The ids of the 100 npm records held back from the first database. */
export const held = new Set<string>();
while (held.size < 100) held.add(npm[Math.floor(rand() * npm.length)].id);
/** The first database's records: {@link all} without {@link held}. */
export const v1 = all.filter((r) => !held.has(r.id));

// version pools per npm name: every range event version (introduced, fixed, last_affected)
const pool = new Map<string, string[]>();
for (const r of npm) {
  const name = r.affected[0].package.name;
  const vs = pool.get(name) ?? [];
  for (const a of r.affected) for (const rg of a.ranges ?? []) for (const e of rg.events) for (const v of Object.values(e)) if (/^\d+\.\d+\.\d+$/.test(v) && !vs.includes(v)) vs.push(v);
  if (vs.length) pool.set(name, vs);
}
/** The npm names the fixtures cover (each with at least one plain x.y.z version in its ranges). */
const names = [...pool.keys()];

/** The packages of synthetic image `i`: the lab images' packages and 20 drawn npm packages (draws from {@link rand}). */
export function inventory(i: number): Package[] {
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
