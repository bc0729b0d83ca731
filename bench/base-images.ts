/**
 * Base image benchmark, on the real path: the base catalog in the real store (SQLite file, and the
 * PostgreSQL on 127.0.0.1:5432 when it answers), loaded by the real BaseCatalog, against the real scan
 * of the lab's node-app:vuln OCI layout (scan + match + judge) measured in the same run:
 *   detect     base detection of node-app (chain match) against a catalog of 1,000 catalog images
 *   recommend  recommendations for a base whose repository has 50 tags with stored scans (what
 *              GET /api/v1/images/{digest} computes per request)
 *   load       loading the whole catalog from the store (once per process start)
 * Goals: detect ≤ 5 ms per scan; recommend ≤ 50 ms. Printed as medians and as ratios to the scan.
 * Usage: npx tsx bench/base-images.ts [rounds]
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Digest, Finding } from '../src/core/index.js';
import { BaseCatalog } from '../src/base/catalog.js';
import { judgeScan } from '../src/gate/judge.js';
import { defaultPolicy } from '../src/policy/index.js';
import { scanImage } from '../src/scan/engine.js';
import { openLocalSource } from '../src/scan/local-source.js';
import type { ImageSource } from '../src/scan/source.js';
import { openStore, type Store } from '../src/store/index.js';
import { updateDb, VulnDb } from '../src/vulndb/index.js';
import { freshDatabase } from '../test/helpers/postgres.js';
import { labOci, ROOT } from '../test/helpers/lab.js';

const rounds = Number(process.argv[2] ?? 20);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const d = (s: string): Digest => `sha256:${crypto.createHash('sha256').update(s).digest('hex')}` as Digest;
const sevs = ['critical', 'high', 'medium', 'low'] as const;

function findings(n: number, seed: number): Finding[] {
  return Array.from({ length: n }, (_, i) => ({ id: `DEB-${seed % 7}-${i}`, aliases: [], ecosystem: 'Debian:12', package: `p${i}`, installedVersion: '1', fixedVersions: i % 2 ? ['2'] : [], severity: sevs[(i + seed) % 4], path: '/var/lib/dpkg/status' }));
}

/** Fills the store: the real debian base as lab/debian:12.0, 49 more tags of lab/debian, 950 images of other repositories. */
async function fill(store: Store, baseDiffIds: Digest[]): Promise<void> {
  const cat = new BaseCatalog(store.baseCatalog, [{ registry: 'lab', repositories: ['**'] }]);
  let t = 1;
  await cat.record('lab', 'lab/debian', d('base'), [{ digest: d('base'), platform: 'linux/amd64', diffIDs: baseDiffIds, findings: findings(40, 0) }], '12.0', t++);
  const flavours = ['', '-slim', '-curl'];
  for (let i = 1; i < 50; i++) {
    const tag = `${12 + Math.floor(i / 25)}.${i % 25}${flavours[i % 3]}`;
    const dg = d(`debian-${i}`);
    await cat.record('lab', 'lab/debian', dg, [{ digest: dg, platform: 'linux/amd64', diffIDs: [d(`deb-layer-${i}`)], findings: findings(40 - (i % 30), i) }], tag, t++);
  }
  for (let i = 0; i < 950; i++) {
    const depth = 1 + (i % 6);
    const chain = Array.from({ length: depth }, (_, k) => d(`other-${i % 97}-${k}-${k === depth - 1 ? i : 0}`));
    const dg = d(`other-${i}`);
    await cat.record('lab', `lab/other${i % 40}`, dg, [{ digest: dg, platform: 'linux/amd64', diffIDs: chain, findings: findings(i % 20, i) }], `${i % 5}.${i}`, t++);
  }
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-bench-base-'));
  try {
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    const db = VulnDb.open(path.join(dir, 'vulndb.sqlite'));
    const policy = defaultPolicy();
    const target = labOci('node-app', 'vuln');
    const scanOnce = async () => {
      const src = (await openLocalSource(target)) as ImageSource;
      try {
        const s = await scanImage(src, { tmpDir: dir });
        judgeScan(s, db, policy);
        return s;
      } finally {
        await src.close?.();
      }
    };
    const first = await scanOnce();
    const p = first.platforms[0];
    const baseIds = [p.layers[0].diffID!];
    const scanMs: number[] = [];
    for (let i = 0; i < Math.min(rounds, 5); i++) {
      const t0 = process.hrtime.bigint();
      await scanOnce();
      scanMs.push(ms(t0));
    }
    const scan = median(scanMs);
    console.log(`baseline  scan+judge of node-app:vuln (OCI layout, warm page cache): median ${scan.toFixed(1)} ms over ${scanMs.length}`);

    const stores: Array<{ name: string; open: () => Promise<{ store: Store; done: () => Promise<void> }> }> = [
      { name: 'sqlite', open: async () => ({ store: await openStore(`sqlite:${path.join(dir, 'store.db')}`), done: async () => undefined }) },
      { name: 'postgres', open: async () => { const f = await freshDatabase('pushgate_bench_base'); return { store: await openStore(f.url), done: f.drop }; } },
    ];
    for (const s of stores) {
      let opened: { store: Store; done: () => Promise<void> };
      try {
        opened = await s.open();
      } catch (e) {
        console.log(`${s.name}: skipped (${(e as Error).message})`);
        continue;
      }
      try {
        await fill(opened.store, baseIds);
        const loads: number[] = [];
        let cat!: BaseCatalog;
        for (let i = 0; i < 3; i++) {
          cat = new BaseCatalog(opened.store.baseCatalog, [{ registry: 'lab', repositories: ['**'] }]);
          const t0 = process.hrtime.bigint();
          await cat.load();
          loads.push(ms(t0));
        }
        const input = { platform: p.platform, layers: p.layers, history: p.config.history };
        const det: number[] = [];
        let method = '';
        for (let i = 0; i < rounds * 10; i++) {
          const t0 = process.hrtime.bigint();
          const r = cat.detect(input);
          det.push(ms(t0));
          method = `${r.base.method} ${r.base.repository}:${r.base.tags.join(',')} with ${r.base.recommendations?.length ?? 0} recommendations`;
        }
        const chain: number[] = [];
        for (let i = 0; i < rounds * 10; i++) {
          const t0 = process.hrtime.bigint();
          cat.index.longestPrefix(p.layers.map((l) => l.diffID!));
          chain.push(ms(t0));
        }
        const base = cat.byDigest(d('base'))[0];
        const rec: number[] = [];
        let n = 0;
        for (let i = 0; i < rounds * 10; i++) {
          const t0 = process.hrtime.bigint();
          n = cat.recommendFor(base).length;
          rec.push(ms(t0));
        }
        const dm = median(det);
        const rm = median(rec);
        console.log(`${s.name.padEnd(8)}  catalog ${cat.list().length} images (lab/debian: ${cat.currentTags('lab', 'lab/debian').length} tags); load median ${median(loads).toFixed(1)} ms`);
        console.log(`${s.name.padEnd(8)}  detect (incl. its recommendations): median ${dm.toFixed(3)} ms = ${(dm / scan * 100).toFixed(2)}% of the scan  [goal ≤ 5 ms] ${dm <= 5 ? 'ok' : 'MISSED'}  (${method})`);
        console.log(`${s.name.padEnd(8)}  chain match alone (ChainIndex.longestPrefix): median ${median(chain).toFixed(4)} ms`);
        console.log(`${s.name.padEnd(8)}  recommend for a base with 50 tags: median ${rm.toFixed(3)} ms = ${(rm / scan * 100).toFixed(2)}% of the scan, ${n} candidates  [goal ≤ 50 ms] ${rm <= 50 ? 'ok' : 'MISSED'}`);
      } finally {
        await opened.store.close();
        await opened.done();
      }
    }
    db.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
