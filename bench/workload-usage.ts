/**
 * Workload usage recording: what it costs the admission review and how fast the store takes it.
 *
 * Real path: the real Gate reading the stored verdict of a judged image from the real store (SQLite, then
 * PostgreSQL at 127.0.0.1:5432 in a fresh database), `validateReview` as the listener calls it for an
 * authenticated API server, pods of many distinct ReplicaSets (so every review adds a buffer row and
 * flushes run while reviews go on). The pod pins the digest, so no registry request is made (as for a
 * pinned pod in production).
 *
 * Per store: (1) baseline: N reviews without a recorder; (2) the same N reviews with the recorder (1 s /
 * 500-row flushes running concurrently), alternated three times, medians. Printed: µs per review and the
 * ratio recorder/baseline (goal ≤ 1.1), the rows written and dropped, and the store's upsert throughput
 * (rows/s, 500-row batches) beside the time to read the image's workloads back (20 of them).
 *
 * Usage: npx tsx bench/workload-usage.ts [reviews=5000] [workloads=reviews] (e.g. 5000 50: pods of 50
 * ReplicaSets, merged in the buffer, as a cluster scaling its workloads)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { validateReview, type AdmissionDeps } from '../src/admission/review.js';
import { WorkloadRecorder } from '../src/admission/workload-usage.js';
import { Gate } from '../src/gate/gate.js';
import { defaultPolicy } from '../src/policy/index.js';
import { openStore, type Store } from '../src/store/index.js';
import { labGateConfig, labRegistryConfig, silentLogger } from '../test/helpers/gate.js';
import { buildDb, digestOf, npmPackage, osvRecord, scanOf, storeImage } from '../test/helpers/monitor.js';
import { freshDatabase } from '../test/helpers/postgres.js';

const N = Number(process.argv[2] ?? 5000);
/** Distinct workloads the pods belong to (default: every pod its own ReplicaSet, the worst case for the buffer). */
const W = Number(process.argv[3] ?? Number.MAX_SAFE_INTEGER);
const API_SERVER = { authenticated: true, id: 'cert:kube-apiserver' };

function review(n: number, digest: string): unknown {
  const i = n % W;
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `u${n}`, kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: `ns${i % 50}`, operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: { metadata: { generateName: `web${i}-`, ownerReferences: [{ kind: 'ReplicaSet', name: `web${i}-5d4f8b7c9`, controller: true }] }, spec: { containers: [{ name: 'c', image: `127.0.0.1:5999/shop/zip@${digest}` }] } },
    },
  };
}

async function reviews(deps: AdmissionDeps, digest: string, offset: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const r = (await validateReview(review(offset + i, digest), deps, { caller: API_SERVER })) as { body: { response: { allowed: boolean } } };
    if (!r.body.response.allowed) throw new Error('review denied: the bench measures admitted reviews');
  }
  return Number(process.hrtime.bigint() - t0) / 1000 / N;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function run(name: string, store: Store, dir: string): Promise<void> {
  const config = labGateConfig(dir, [labRegistryConfig('lab', 5999, 'tok')]);
  const policy = defaultPolicy();
  const db = await buildDb(path.join(dir, `vulndb-${name}.sqlite`), [osvRecord('npm/NSWG-NPM-368.json')]);
  const digest = digestOf(7);
  await storeImage(store, { repository: 'shop/zip', tag: 'v1', scan: scanOf(digest, [npmPackage('adm-zip', '0.4.9')]), db, policy });
  db.close();
  const gate = new Gate({ config, store, policy, logger: silentLogger });
  const recorder = new WorkloadRecorder({ store: store.workloads });
  const base: number[] = [];
  const withRec: number[] = [];
  // Baseline deps have the same keys (workloads: undefined): production always passes a recorder, and a
  // second object shape through the review code measures V8's inline caches, not the recorder.
  await reviews({ gate, config: config.admission, workloads: undefined }, digest, 0); // warm-up
  for (let round = 0; round < 3; round++) {
    base.push(await reviews({ gate, config: config.admission, workloads: undefined }, digest, 0));
    withRec.push(await reviews({ gate, config: config.admission, workloads: recorder }, digest, W < N ? 0 : (round + 1) * N));
  }
  await recorder.close();
  const b = median(base);
  const w = median(withRec);
  const stored = (await store.workloads.workloadsOf([digest], 20)).get(digest)?.count ?? 0;
  // store throughput alone: 20 batches of 500 new rows
  const rows = (k: number) => Array.from({ length: 500 }, (_, i) => ({ digest: digestOf(100 + k), cluster: '', namespace: 'bench', kind: 'ReplicaSet', name: `rs${i}`, firstSeen: 1, lastSeen: 2 }));
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < 20; k++) await store.workloads.recordUsage(rows(k));
  const upsertMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const t1 = process.hrtime.bigint();
  for (let k = 0; k < 20; k++) await store.workloads.workloadsOf([digestOf(100 + k)], 20);
  const readMs = Number(process.hrtime.bigint() - t1) / 1e6 / 20;
  console.log(`${name.padEnd(10)} review ${b.toFixed(1)} µs baseline, ${w.toFixed(1)} µs with recorder: ratio ${(w / b).toFixed(3)} (goal ≤ 1.1); rows stored ${stored} of ${Math.min(W, 3 * N)}, dropped ${recorder.dropped}`);
  console.log(`${name.padEnd(10)} upsert ${(10_000 / (upsertMs / 1000)).toFixed(0)} rows/s (500-row batches); read 20 workloads of an image with 500: ${readMs.toFixed(2)} ms`);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-bench-workloads-'));
try {
  const sqlite = await openStore(`sqlite:${path.join(dir, 'pushgate.db')}`);
  await run('sqlite', sqlite, dir);
  await sqlite.close();
  const pg = await freshDatabase('pg_workloads_bench');
  const pgStore = await openStore(pg.url);
  try {
    await run('postgres', pgStore, dir);
  } finally {
    await pgStore.close();
    await pg.drop();
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
