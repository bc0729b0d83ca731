/**
 * Replicas agree on the vulnerability database and the policy revision in force (src/gate/vulndb-sync.ts,
 * src/gate/policy-sync.ts): two in-process `pushgate serve` replicas on one real PostgreSQL database, a real
 * Distribution registry holding the images their queue workers judge. Also: a monitor `--all` pass resumes a
 * dead owner's run by the database's clock, whatever the replica's own clock says.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { PushgateConfig } from '../../../src/config/types.js';
import type { Digest, PushEvent } from '../../../src/core/index.js';
import { Monitor } from '../../../src/monitor/index.js';
import { startServer, type RunningServer } from '../../../src/server/serve.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { labGateConfig, labRegistryConfig, silentLogger } from '../../helpers/gate.js';
import { startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { buildDb, osvRecord } from '../../helpers/monitor.js';
import { freshDatabase } from '../../helpers/postgres.js';
import { makeImage, Raw, sleep } from '../../helpers/raw-push.js';
import { freePort } from './harness.js';

const LODASH = osvRecord('npm/NSWG-NPM-368.json');
const ADM_ZIP = osvRecord('npm/NSWG-NPM-458.json');

async function until<T>(what: string, f: () => Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function readyz(s: RunningServer): Promise<{ status: string; cluster?: string; vulndb: unknown }> {
  return (await fetch(`http://127.0.0.1:${s.port}/readyz`)).json() as never;
}

describe('scale-out: one vulnerability database and one policy revision across replicas (PostgreSQL)', function () {
  this.timeout(60_000);
  let root: string;
  let registry: LabRegistry;
  let raw: Raw;
  let db: { url: string; drop(): Promise<void> };
  let store: Store;
  let oldDigest: string;
  let newDigest: string;
  const running: RunningServer[] = [];
  const images: Array<{ digest: string; mediaType: string }> = [];

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-cluster-'));
    // B's database is built first (older), A's after it (newer, one more advisory); each test copies them
    const older = await buildDb(path.join(root, 'old.sqlite'), [LODASH]);
    oldDigest = older.contentDigest!;
    older.close();
    await sleep(20);
    const newer = await buildDb(path.join(root, 'new.sqlite'), [LODASH, ADM_ZIP]);
    newDigest = newer.contentDigest!;
    newer.close();
    expect(newDigest).to.not.equal(oldDigest);
    registry = startRegistry(await freePort());
    raw = new Raw(registry.host);
    for (let i = 0; i < 4; i++) {
      const img = makeImage('good', `cluster-${i}-${randomUUID()}`);
      await raw.pushBlobs('team/app', img.blobs);
      const put = await raw.putManifest('team/app', `t${i}`, img);
      expect(put.status).to.equal(201);
      images.push(img);
    }
  });
  after(() => {
    registry?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });
  beforeEach(async () => {
    for (const [d, f] of [['a', 'new.sqlite'], ['b', 'old.sqlite']]) {
      fs.rmSync(path.join(root, d), { recursive: true, force: true });
      fs.mkdirSync(path.join(root, d));
      fs.copyFileSync(path.join(root, f), path.join(root, d, 'vulndb.sqlite'));
    }
    db = await freshDatabase('pushgate_cluster');
    store = await openStore(db.url);
  });
  afterEach(async () => {
    for (const s of running.splice(0)) await s.close();
    await store.close();
    await db.drop();
  });

  function configOf(dir: 'a' | 'b', policy?: string): PushgateConfig {
    const c = labGateConfig(path.join(root, dir), [labRegistryConfig('lab', Number(registry.host.split(':')[1]), 'token')]);
    c.store.url = db.url;
    c.scan.workers = 1;
    if (policy) c.policy = policy;
    return c;
  }
  async function serve(dir: 'a' | 'b', o: { policy?: string } = {}): Promise<RunningServer> {
    const s = await startServer(configOf(dir, o.policy), silentLogger, { policyWatchMs: 100 });
    running.push(s);
    return s;
  }
  async function close(s: RunningServer): Promise<void> {
    running.splice(running.indexOf(s), 1);
    await s.close();
  }
  function event(i: number): PushEvent {
    return { id: randomUUID(), source: 'api', registry: 'lab', action: 'push', repository: 'team/app', digest: images[i].digest as Digest, tag: `t${i}`, mediaType: images[i].mediaType };
  }
  const verdictOf = (i: number) => store.getVerdict('lab', 'team/app', images[i].digest as Digest);

  it('a replica with an older database judges nothing until it fetched the one in force; a damaged copy is refused', async () => {
    const a = await serve('a');
    const inForce = await until('A publishes its database', async () => (await store.clusterState.get('vulndb'))?.file && (await store.clusterState.get('vulndb')));
    expect(inForce.digest).to.equal(newDigest);
    expect(inForce.file!.chunks).to.equal(await store.clusterState.chunkCount(newDigest));
    await close(a);

    // one byte of the stored file flipped: B must refuse the copy and keep its own, without judging
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const original = (await c.query('SELECT data FROM vulndb_chunks WHERE digest = $1 AND n = 0', [newDigest])).rows[0].data as Buffer;
    const flipped = Buffer.from(original);
    flipped[flipped.length >> 1] ^= 0xff;
    await c.query('UPDATE vulndb_chunks SET data = $1 WHERE digest = $2 AND n = 0', [flipped, newDigest]);

    const b = await serve('b');
    const held = await until('B reports the mismatch', async () => {
      const r = await readyz(b);
      return r.cluster?.includes('refused') && r;
    });
    expect(held.status).to.equal('not ready');
    expect(held.cluster).to.include(oldDigest).and.include(newDigest).and.include('damaged');
    await store.enqueue(event(0));
    await sleep(1500);
    expect((await store.queueCounts()).queued, 'the event waits in the queue').to.equal(1);
    expect(await verdictOf(0), 'B judged nothing with its old database').to.equal(undefined);
    expect(fs.readdirSync(path.join(root, 'b')).filter((f) => f.includes('.fetch-')), 'the refused copy is deleted').to.deep.equal([]);

    // the store's copy repaired and announced: B fetches it, then judges the queued event with it
    await c.query('UPDATE vulndb_chunks SET data = $1 WHERE digest = $2 AND n = 0', [original, newDigest]);
    await c.end();
    await store.publish('vulndb');
    const v0 = await until('B judges the queued event', () => verdictOf(0));
    expect(v0.vulndb?.digest).to.equal(newDigest);
    expect((await readyz(b)).status).to.equal('ready');
    expect(b.gate.vulndbReadiness()).to.deep.include({ ok: true, digest: newDigest });

    // A (back, its own database the one in force) judges too: both name the same database
    await close(b);
    await serve('a');
    await store.enqueue(event(1));
    const v1 = await until('A judges', () => verdictOf(1));
    expect(v1.vulndb?.digest).to.equal(newDigest);
    const installed = await store.listAudit(10, { action: 'vulndb-installed' });
    expect(installed.map((r) => r.detail?.digest)).to.deep.equal([newDigest]);
  });

  it('a newer database started later becomes the one in force; the older replica fetches it instead of taking the cluster back', async () => {
    const b = await serve('b');
    await until('B publishes', async () => (await store.clusterState.get('vulndb'))?.digest === oldDigest);
    const a = await serve('a');
    await until('A replaces it', async () => (await store.clusterState.get('vulndb'))?.digest === newDigest);
    await until('B fetched the newer one', async () => b.gate.vulndbReadiness().ok && (b.gate.vulndbReadiness() as { digest: string }).digest === newDigest);
    expect((await readyz(a)).status).to.equal('ready');
    await until('B is ready', async () => (await readyz(b)).status === 'ready');
    await store.enqueue(event(2));
    expect((await until('judged', () => verdictOf(2))).vulndb?.digest).to.equal(newDigest);
    // B's file on disk is now the newer database, so a restart of B does not publish its old one again
    await close(b);
    await serve('b');
    await sleep(300);
    expect((await store.clusterState.get('vulndb'))?.digest).to.equal(newDigest);
  });

  it('a replica that starts with no database fetches the one in force instead of building its own', async () => {
    await serve('a');
    await until('A publishes', async () => (await store.clusterState.get('vulndb'))?.digest === newDigest);
    fs.rmSync(path.join(root, 'b', 'vulndb.sqlite'));
    const b = await serve('b');
    await until('B is ready', async () => (await readyz(b)).status === 'ready');
    expect(b.gate.vulndbReadiness()).to.deep.include({ ok: true, digest: newDigest });
  });

  it('a replica whose policy revision is not the one in force says so in /readyz and claims nothing until its file catches up', async () => {
    const text = fs.readFileSync(path.join(process.cwd(), 'config/policy.yaml'), 'utf8');
    const p1 = path.join(root, 'a', 'policy.yaml');
    const p2 = path.join(root, 'b', 'policy.yaml');
    fs.writeFileSync(p1, text);
    fs.writeFileSync(p2, `${text}\n# the newer revision\n`);
    const a = await serve('a', { policy: p1 });
    const revA = a.control.basePolicy.revision;
    const b = await serve('b', { policy: p2 });
    const revB = b.control.basePolicy.revision;
    expect(revB).to.not.equal(revA);
    expect((await store.clusterState.get('policy'))?.digest, 'the policy loaded last is in force').to.equal(revB);
    const held = await until('A reports the mismatch', async () => {
      const r = await readyz(a);
      return r.cluster?.includes(revB) && r;
    });
    expect(held.status).to.equal('not ready');
    expect(held.cluster).to.include(revA);
    await close(b);
    await store.enqueue(event(3));
    await sleep(1500);
    expect((await store.queueCounts()).queued, 'A claimed nothing').to.equal(1);
    // A's file catches up (a ConfigMap update reaching the pod): A reloads it, agrees and judges
    fs.writeFileSync(p1, fs.readFileSync(p2));
    const v3 = await until('A judges after its reload', () => verdictOf(3));
    expect(v3.policy.revision).to.equal(revB);
    expect((await readyz(a)).status).to.equal('ready');
  });

  it('monitor --all resumes a dead owner\'s run when its lease ended on the database clock, whatever this replica\'s clock says', async () => {
    const dead = await store.monitor.claimRun('all:dead', 'all', null, 'dead-owner', 1, Date.now());
    expect(dead?.id).to.equal('all:dead');
    await sleep(50); // the 1 ms lease has ended on the database's clock
    // this replica's clock runs an hour behind: by it the lease would still run
    const mon = new Monitor({ store, logger: silentLogger, vulndb: () => undefined, policy: () => (undefined as never), now: () => Date.now() - 3_600_000, owner: 'me' });
    const stats = await mon.all();
    expect(stats.run).to.equal('all:dead');
    expect(stats.skipped ?? false).to.equal(false);
  });
});
