/**
 * Re-evaluation after a policy change (issue 7). In the same run, over N stored inventories (default
 * 10,000, cloned with distinct digests from real scans of the lab images: debian-minbase, node-app,
 * adm-zip, each ~90-300 packages) in a real SQLite store:
 *   (1) baseline: load every stored verdict and its stored scan (`scan:<digest>`, JSON) — what any
 *       re-evaluation must at least do;
 *   (2) load + judge: the same loads, each scan matched against the vulnerability database (the
 *       offline OSV fixtures) and evaluated with the changed policy (judgeScan);
 *   (3) the full pass of the server (reevaluateStored): load, judge, write the new verdict and report.
 * Goal: evaluation adds under 1x the load time, i.e. (2 - 1) / 1 < 1.
 *
 * Usage: npx tsx bench/policy-reevaluate.ts [count=10000]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { Verdict } from '../src/core/index.js';
import { judgeScan } from '../src/gate/judge.js';
import { reevaluateStored } from '../src/gate/reevaluate.js';
import { compilePolicy, defaultPolicy, DEFAULT_POLICY_YAML } from '../src/policy/index.js';
import { scanTarget, type ImageScan } from '../src/scan/engine.js';
import { openStore } from '../src/store/index.js';
import { updateDb, VulnDb } from '../src/vulndb/index.js';
import { labOci, ROOT } from '../test/helpers/lab.js';

const N = Number(process.argv[2] ?? 10_000);

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-bench-reeval-'));
  try {
    await updateDb({ path: path.join(dir, 'v.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    const db = VulnDb.open(path.join(dir, 'v.sqlite'));
    const store = await openStore(`sqlite:${path.join(dir, 'p.db')}`);
    const templates: ImageScan[] = [];
    for (const [n, t] of [['debian-minbase', 'bookworm'], ['node-app', 'vuln'], ['adm-zip', '0.4.7']]) templates.push(await scanTarget(labOci(n, t)));
    const oldPolicy = defaultPolicy();
    const newPolicy = compilePolicy(DEFAULT_POLICY_YAML.replace(/(name: runs-as-root\n\s+action:) warn/, '$1 quarantine'), '<bench>');
    if (newPolicy.revision === oldPolicy.revision) throw new Error('the policy change did not apply');
    console.log(`preparing ${N} stored inventories (packages per template: ${templates.map((t) => t.platforms[0].inventory.packages.length).join(', ')})…`);
    for (let i = 0; i < N; i++) {
      const t = templates[i % templates.length];
      const digest = `sha256:${createHash('sha256').update(`bench-${i}`).digest('hex')}`;
      await store.putLayer(`scan:${digest}`, { ...t, digest, platforms: t.platforms.map((p) => ({ ...p, manifestDigest: digest })) });
      const v: Verdict = { registry: 'lab', repository: `team/app-${i % 100}`, digest, tags: [`v${i}`], decision: 'warn', complete: true, reasons: [], mode: 'enforce', policy: { name: oldPolicy.name, revision: oldPolicy.revision }, vulndb: { builtAt: db.builtAt }, evaluatedAt: new Date().toISOString() };
      await store.putVerdict(v);
    }

    const time = async (f: () => Promise<void>) => {
      const t0 = performance.now();
      await f();
      return performance.now() - t0;
    };
    const runs = 3;
    const load: number[] = [];
    const judge: number[] = [];
    let decisions: Record<string, number> = {};
    for (let r = 0; r < runs; r++) {
      load.push(await time(async () => {
        const vs = await store.listVerdicts({ limit: Number.MAX_SAFE_INTEGER });
        for (const v of vs) if (!(await store.getLayer(`scan:${v.digest}`))) throw new Error('missing scan');
      }));
      judge.push(await time(async () => {
        decisions = {};
        const vs = await store.listVerdicts({ limit: Number.MAX_SAFE_INTEGER });
        for (const v of vs) {
          const scan = (await store.getLayer(`scan:${v.digest}`)) as ImageScan;
          const j = judgeScan(scan, db, newPolicy, { registry: v.registry, repository: v.repository, tag: v.tags[0] });
          decisions[j.evaluation.decision] = (decisions[j.evaluation.decision] ?? 0) + 1;
        }
      }));
    }
    const full = await reevaluateStored({ store, policy: newPolicy, vulndb: db });
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const l = med(load);
    const j = med(judge);
    console.log(`inventories:                ${N}`);
    console.log(`(1) load (baseline):        ${l.toFixed(0)} ms  (${((l / N) * 1000).toFixed(0)} µs each)`);
    console.log(`(2) load + judge:           ${j.toFixed(0)} ms  (${((j / N) * 1000).toFixed(0)} µs each)  decisions ${JSON.stringify(decisions)}`);
    console.log(`    evaluation adds:        ${(j - l).toFixed(0)} ms = ${((j - l) / l).toFixed(2)}x the load time (goal < 1x)`);
    console.log(`(3) full pass with writes:  ${full.ms.toFixed(0)} ms  (${full.reevaluated} re-judged, ${full.changed} changed)`);
    db.close();
    await store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
