/**
 * Three `pushgate serve` replicas on one PostgreSQL database and one real Distribution 2.8 registry, as
 * deployed behind a Kubernetes Service: the registry has one notification endpoint (the Service, here a
 * round-robin balancer, test/integration/scaleout/harness.ts), each notification lands on one live
 * replica and is queued in the shared store, and every replica's workers drain that one queue. Pushes
 * are raw OCI API pushes of small distinct images sharing one layer that holds a private key (the default
 * policy rejects: the manifest is deleted). During the pushes replicas are SIGKILLed at seeded random
 * points and restarted, and once, in the middle, every PostgreSQL connection of the database is ended by
 * the server (`pg_terminate_backend`, what clients see when PostgreSQL restarts; a real `pg_ctlcluster
 * restart` would break the other suites sharing this server). Then:
 * - every pushed (repository, digest) has exactly one verdict, enforced once (deleted), and one verdict
 *   record in the audit log; nothing is left in the queue; no replica exited on its own;
 * - pushes to one tag are judged in push order even though three replicas claim them;
 * - with `reconcile.interval` set on all three replicas, a reconcile pass runs once per interval in the
 *   cluster (its `reconcile-pass` audit records, spaced by the interval on the database's clock).
 * PUSHGATE_SCALEOUT_PUSHES (default 200) and PUSHGATE_SCALEOUT_SEED change the load and the schedule;
 * `PUSHGATE_SCALEOUT_PUSHES=1000` is the 1,000-push run of the issue. KEEP_DIR=1 keeps the work directory.
 * PUSHGATE_SCALEOUT_RESTART_PG=1 restarts the PostgreSQL server itself (`pg_ctlcluster <version> main
 * restart`, as root) instead of ending connections: for a run by hand with nothing else using the server.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '../../../src/store/index.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { ROOT } from '../../helpers/lab.js';
import { freshDatabase } from '../../helpers/postgres.js';
import { ensureBlob, imageConfig, imageManifest, labClient, registryOn, secretLayer } from '../notifications/helpers.js';
import { Balancer, freePort, killReplica, restartPostgres, seeded, startReplica, stopReplica, terminateConnections, type Replica } from './harness.js';

const PUSHES = Number(process.env.PUSHGATE_SCALEOUT_PUSHES ?? 200);
const RESTART_PG = process.env.PUSHGATE_SCALEOUT_RESTART_PG === '1';
const SEED = Number(process.env.PUSHGATE_SCALEOUT_SEED ?? 19);
const REPLICAS = 3;
const KILLS = 3;
const TOKEN = 'scaleout-token-0123456789abcdef';
const ADMIN_PG = process.env.PUSHGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function configText(dir: string, url: string, regPort: number, extra: string[] = []): string {
  return [
    'server:',
    '  listen: 127.0.0.1:0',
    'log:',
    '  level: error',
    'store:',
    `  url: ${url}`,
    'vulndb:',
    `  path: ${dir}/vulndb.sqlite`,
    '  sources: []',
    'scan:',
    '  workers: 2',
    ...extra,
    'registries:',
    '  - name: lab',
    `    url: http://127.0.0.1:${regPort}`,
    '    webhook:',
    `      token: ${TOKEN}`,
    '',
  ].join('\n');
}

describe(`scale-out: ${REPLICAS} replicas on one PostgreSQL, ${PUSHES} pushes, replicas SIGKILLed, connections ended`, function () {
  this.timeout(Math.max(300_000, PUSHES * 900));
  let dir: string;
  let storage: string;
  let regPort: number;
  let db: { url: string; drop(): Promise<void> };
  let store: Store;
  const balancer = new Balancer();
  const replicas: Replica[] = [];
  const crashes: string[] = [];

  const cfg = () => path.join(dir, 'pushgate.yaml');
  async function start(i: number, prev?: Replica): Promise<Replica> {
    const r = await startReplica(`replica-${i}`, cfg(), {}, prev);
    replicas[i] = r;
    balancer.set(r);
    return r;
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-scaleout-'));
    storage = path.join(dir, 'registry');
    db = await freshDatabase('pg_scaleout');
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    regPort = await freePort();
    const lb = await balancer.start();
    fs.writeFileSync(cfg(), configText(dir, db.url, regPort));
    registryOn('start', storage, regPort, ['--notify-url', `http://127.0.0.1:${lb}/webhooks/distribution`, '--notify-header', `Authorization: Bearer ${TOKEN}`, '--notify-ignore-actions', 'pull'], { NOTIFY_BACKOFF: '300ms', NOTIFY_THRESHOLD: '3' });
    // Started one after the other: the first applies the migrations under its advisory lock.
    for (let i = 0; i < REPLICAS; i++) await start(i);
    store = await openStore(db.url);
  });

  after(async () => {
    await store?.close();
    for (const r of replicas) if (r) await killReplica(r);
    await balancer.close();
    registryOn('stop', storage, regPort);
    if (process.env.KEEP_DIR) process.stderr.write(`kept ${dir} and ${db.url}\n`);
    else {
      fs.rmSync(dir, { recursive: true, force: true });
      await db?.drop();
    }
  });

  it('judges, enforces and audits every push once, in order per tag, with nothing left queued', async () => {
    const t0 = Date.now();
    const rnd = seeded(SEED);
    const c = labClient(`http://127.0.0.1:${regPort}`);
    const layer = await secretLayer();
    const nRepos = Math.max(10, Math.ceil(PUSHES / 10));
    const repos = Array.from({ length: nRepos }, (_, i) => `scale/app${i}`);
    for (const r of repos) await ensureBlob(c, r, layer.gz);

    // Faults at seeded points: KILLS replica kills (a random replica each) and one end of every connection.
    const killAt = Array.from({ length: KILLS }, () => Math.floor(PUSHES * (0.1 + 0.7 * rnd()))).sort((a, b) => a - b);
    const killWho = killAt.map(() => Math.floor(rnd() * REPLICAS));
    const pgAt = Math.floor(PUSHES / 2);
    const log: string[] = [];

    const pushed = new Map<string, { repo: string; digest: string; tag: string }>();
    // Every fifth push goes to the repository's `shared` tag, one at a time per repository, so the
    // order the registry stored (and notified) them in is the order they were pushed.
    const sharedOrder = new Map<string, string[]>();
    const repoLock = new Map<string, Promise<void>>();
    const pushOne = async (n: number) => {
      const repo = repos[n % repos.length];
      const config = imageConfig(layer.diffId, n);
      await c.uploadBlob(repo, `sha256:${createHash('sha256').update(config).digest('hex')}`, config.length, config);
      const manifest = imageManifest(config, layer.gz);
      if (n % 5 === 0) {
        const prev = repoLock.get(repo) ?? Promise.resolve();
        const mine = prev.then(async () => {
          const digest = await c.putManifest(repo, 'shared', manifest, 'application/vnd.oci.image.manifest.v1+json');
          pushed.set(`${repo}@${digest}`, { repo, digest, tag: 'shared' });
          sharedOrder.set(repo, [...(sharedOrder.get(repo) ?? []), digest]);
        });
        repoLock.set(repo, mine.catch(() => undefined));
        await mine;
      } else {
        const digest = await c.putManifest(repo, `t${n}`, manifest, 'application/vnd.oci.image.manifest.v1+json');
        pushed.set(`${repo}@${digest}`, { repo, digest, tag: `t${n}` });
      }
    };

    let next = 0;
    let done = 0;
    let faults: Promise<void> = Promise.resolve();
    let pgFault: Promise<void> = Promise.resolve();
    let k = 0;
    let pgDone = false;
    let ended = 0;
    const fire = () => {
      while (k < killAt.length && done >= killAt[k]) {
        const who = killWho[k++];
        const at = done;
        faults = faults.then(async () => {
          const old = replicas[who];
          await killReplica(old);
          for (const e of old.crashes) crashes.push(e);
          log.push(`killed replica-${who} after ${at} pushes`);
          await start(who, { ...old, crashes: [] });
        });
      }
      if (!pgDone && done >= pgAt) {
        pgDone = true;
        const at = done;
        // Not behind a restart in progress: the fault hits while the pushes go on.
        pgFault = (RESTART_PG ? restartPostgres() : terminateConnections(`${ADMIN_PG}/postgres`, new URL(db.url).pathname.slice(1))).then((n) => {
          ended = n;
          log.push(RESTART_PG ? `restarted PostgreSQL (${n} connections were open) after ${at} pushes` : `ended ${n} PostgreSQL connections after ${at} pushes`);
        });
      }
    };
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < PUSHES) {
          await pushOne(next++);
          done++;
          if (process.env.SCALEOUT_DEBUG && done % 20 === 0) process.stderr.write(`pushed ${done} at ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
          fire();
        }
      }),
    );
    await faults;
    await pgFault;
    const pushSeconds = (Date.now() - t0) / 1000;
    expect(pushed.size).to.equal(PUSHES);
    expect(ended, 'the PostgreSQL fault ended connections').to.be.greaterThan(0);

    // Leases of killed workers expire after 30 s (on the database's clock); then another replica claims them.
    const deadline = Date.now() + 120_000 + PUSHES * 200;
    let missing = PUSHES;
    let open = 0;
    while (Date.now() < deadline) {
      const vs = await store.listVerdicts({ registry: 'lab', limit: PUSHES * 2 });
      const enforced = new Set(vs.filter((v) => v.enforcement).map((v) => `${v.repository}@${v.digest}`));
      missing = [...pushed.keys()].filter((k2) => !enforced.has(k2)).length;
      const counts = await store.queueCounts();
      open = counts.queued + counts.running + counts['blocked-on-registry'] + counts.failed;
      if (missing === 0 && open === 0) break;
      if (process.env.SCALEOUT_DEBUG) process.stderr.write(`missing ${missing}, open ${JSON.stringify(counts)}\n`);
      await sleep(1000);
    }
    const tails = () => replicas.map((r) => `--- ${r.name} (port ${r.port})\n${r.stderr.slice(-4000)}`).join('\n');
    expect(missing, `pushes without an enforced verdict\n${log.join('\n')}\n${tails()}`).to.equal(0);
    expect(open, 'events left in the queue').to.equal(0);

    const verdicts = await store.listVerdicts({ registry: 'lab', limit: PUSHES * 2 });
    expect(verdicts).to.have.length(PUSHES); // one per (repository, digest), none extra
    for (const v of verdicts) {
      expect(pushed.has(`${v.repository}@${v.digest}`), `${v.repository}@${v.digest}`).to.equal(true);
      expect(v.decision).to.equal('reject');
      expect(v.enforcement).to.include({ action: 'delete', status: 'done' });
      expect(v.vulndb?.digest, 'each verdict names the database that judged it').to.match(/^sha256:[0-9a-f]{64}$/);
    }
    const audit = (await store.listAudit(PUSHES * 20)).reverse(); // oldest first
    const perKey = new Map<string, number>();
    const sharedJudged = new Map<string, string[]>();
    for (const a of audit) {
      if (!a.action.startsWith('verdict:')) continue;
      const key = `${a.repository}@${a.digest}`;
      perKey.set(key, (perKey.get(key) ?? 0) + 1);
      if (a.tag === 'shared') sharedJudged.set(a.repository!, [...(sharedJudged.get(a.repository!) ?? []), a.digest!]);
    }
    expect([...perKey.entries()].filter(([, n]) => n !== 1), 'recorded more than once').to.deep.equal([]);
    for (const key of pushed.keys()) expect(perKey.get(key), key).to.equal(1);
    expect(perKey.size).to.equal(PUSHES);
    // Events of one tag: judged in the order they were pushed, whichever replica claimed them.
    for (const [repo, order] of sharedOrder) expect(sharedJudged.get(repo), repo).to.deep.equal(order);
    // Enforced on the registry: every tag is gone.
    for (const r of repos) expect(await c.listTags(r), r).to.deep.equal([]);
    // No replica ended on its own (store errors included): only the test's kills.
    for (const r of replicas) for (const e of r.crashes) crashes.push(e);
    expect(crashes, tails()).to.deep.equal([]);
    for (const r of replicas) expect(r.child.exitCode, r.name).to.equal(null);
    const served = [...balancer.served.entries()].map(([n, x]) => `${n}=${x}`).join(' ');
    process.stderr.write(
      `      scale-out: ${PUSHES} pushes in ${pushSeconds.toFixed(1)} s, all judged and enforced after ${((Date.now() - t0) / 1000).toFixed(1)} s; ${log.join('; ')}; notifications served ${served}, ${balancer.failed} failed in flight, answers other than 2xx ${JSON.stringify(Object.fromEntries(balancer.statuses))} (both redelivered)\n`,
    );
  });

  it('runs a reconcile pass once per interval across the replicas (audit records on the database clock)', async () => {
    const intervalMs = 2000;
    await Promise.all(replicas.map((r) => killReplica(r)));
    fs.writeFileSync(cfg(), configText(dir, db.url, regPort, ['reconcile:', `  interval: ${intervalMs}ms`]));
    const since = (await store.listAudit(1))[0]?.seq ?? 0;
    const w0 = Date.now();
    await Promise.all(Array.from({ length: REPLICAS }, (_, i) => start(i)));
    // A replica dies in the middle: its lease (if it held one) is taken over when it ends.
    await sleep(4000);
    await killReplica(replicas[0]);
    await sleep(6000);
    await Promise.all(replicas.slice(1).map((r) => stopReplica(r)));
    const windowMs = Date.now() - w0;
    const passes = (await store.listAudit(1000, { action: 'reconcile-pass' })).filter((a) => a.seq > since).reverse();
    const at = passes.map((p) => Number(p.detail?.startedAt));
    const owners = new Set(passes.map((p) => String(p.detail?.owner)));
    // Three replicas each running the schedule on their own would make about three times as many.
    expect(passes.length, `passes in ${windowMs} ms with a ${intervalMs} ms interval`).to.be.within(3, Math.floor(windowMs / intervalMs) + 1);
    for (let i = 1; i < at.length; i++) expect(at[i] - at[i - 1], `pass ${i} started ${at[i] - at[i - 1]} ms after the one before`).to.be.at.least(intervalMs - 50);
    process.stderr.write(`      scale-out reconcile: ${passes.length} passes in ${windowMs} ms by ${owners.size} replica(s), gaps ${at.slice(1).map((t, i) => t - at[i]).join(', ')} ms\n`);
  });
});
