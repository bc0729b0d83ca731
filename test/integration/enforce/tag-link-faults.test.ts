/**
 * The wait for a pushed tag's link when the registry or the store's clock misbehaves, on a real
 * Distribution 2.8 registry with a real SQLite store and a real PostgreSQL store.
 *
 * - A store clock behind the event's `created_at` (a clock set back an hour; here the event's stored time
 *   is moved an hour ahead, which the age reads the same): the event looked 0 ms old at every claim, so
 *   an event whose tag never links was handed back, attempt refunded, for the hour, holding its tag's later
 *   events. Its hand-backs are now counted in the store: after 7 (counted across a restart of pushgate
 *   half way) it is past the wait and quarantined.
 * - A 503 or 429 from the registry to the check of the tag: the wait ended there and the action went on
 *   before Distribution linked the tag, so a blocked re-push was quarantined while the tag still named the
 *   allowed digest (restore skipped) and the late link left the tag on the deleted manifest. Now such an
 *   answer is "not linked yet" within the budget; Retry-After is honoured only within the budget, and after
 *   it the image is quarantined as an old event's is.
 *
 * The 503 and 429 come from an in-process front (test/helpers/fault-front.ts) in front of the real
 * registry, for HEADs of the pushed tag only: a real registry does not produce them on demand. The tag
 * link of the re-push is written into the registry's storage as Distribution's tag store writes it, 4 s
 * after pushgate stored the event (as test/integration/enforce/tag-link-repush.test.ts). Ports 21962-21963.
 */
import Database from 'better-sqlite3';
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { PushEvent } from '../../../src/core/index.js';
import { Gate } from '../../../src/gate/gate.js';
import { GRACE_HAND_BACKS } from '../../../src/gate/digest-pushes.js';
import { TAG_LINK_HAND_BACKS } from '../../../src/gate/tag-links.js';
import { compilePolicy } from '../../../src/policy/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { startFaultFront, type Fault, type FaultFront } from '../../helpers/fault-front.js';
import { labGateConfig, labRegistryConfig } from '../../helpers/gate.js';
import { startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { freshDatabase } from '../../helpers/postgres.js';
import { makeImage, Raw } from '../../helpers/raw-push.js';
import { FAULTS_POLICY } from '../faults/helpers.js';

const REG_PORT = 21962;
const FRONT_PORT = 21963;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`enforce: the wait for a tag link when the store clock steps or the registry fails the check (real registry, ${kind} store)`, function () {
    this.timeout(120_000);
    let dir: string;
    let reg: LabRegistry;
    let front: FaultFront;
    let raw: Raw;
    let store: Store;
    let url: string;
    let drop: (() => Promise<void>) | undefined;
    let gate: Gate;
    /** The front's answer to a request (undefined: passed to the registry). */
    let fault: (method: string, p: string) => Fault | undefined = () => undefined;
    const policy = compilePolicy(FAULTS_POLICY, 'faults-policy.yaml');
    const logger = { debug() {}, info() {}, warn() {}, error() {} };
    const newGate = (s: Store) => new Gate({ config: labGateConfig(dir, [labRegistryConfig('lab', FRONT_PORT, 't')]), store: s, policy, logger });

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-taglink-faults-'));
      reg = startRegistry(REG_PORT);
      raw = new Raw(reg.host);
      front = await startFaultFront(FRONT_PORT, REG_PORT, (m, p) => fault(m, p));
    });
    after(async () => {
      await front?.close();
      reg?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    beforeEach(async () => {
      fault = () => undefined;
      front.seen.length = 0;
      if (kind === 'sqlite') url = `sqlite:${path.join(dir, `s-${Date.now()}.db`)}`;
      else ({ url, drop } = await freshDatabase('pushgate_taglink_faults'));
      store = await openStore(url);
      gate = newGate(store);
    });
    afterEach(async () => {
      await store.close();
      await drop?.();
      drop = undefined;
    });

    /** Runs SQL on the store's database directly (SQLite `?` placeholders, numbered for PostgreSQL). */
    async function sql(q: string, args: unknown[] = []): Promise<Array<Record<string, unknown>>> {
      if (kind === 'sqlite') {
        const db = new Database(url.slice('sqlite:'.length));
        try {
          const st = db.prepare(q);
          return st.reader ? (st.all(...args) as Array<Record<string, unknown>>) : (st.run(...args), []);
        } finally {
          db.close();
        }
      }
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        let i = 0;
        return (await c.query(q.replace(/\?/g, () => `$${++i}`), args)).rows;
      } finally {
        await c.end();
      }
    }

    const handBacks = async (seq: number) => Number((await sql('SELECT link_hand_backs AS n FROM events WHERE seq = ?', [seq]))[0]!.n);
    const open = async () => {
      const q = await store.queueCounts();
      return q.queued + q.running;
    };

    /** HEADs of `repository:v1` the front saw (pushgate's checks of the tag), with the fault answered. */
    const tagHeads = (repository: string) => front.seen.filter((s) => s.method === 'HEAD' && s.path === `/v2/${repository}/manifests/v1`);

    /** A blocked image (a private key: quarantined) pushed by digest only, and its event for tag v1. */
    async function pushBlocked(repository: string, nonce: string): Promise<PushEvent> {
      const img = makeImage('secret', `${nonce}-${kind}-${Date.now()}`);
      await raw.pushBlobs(repository, img.blobs);
      const put = await raw.putManifest(repository, img.digest, img);
      expect(put.status, put.body).to.equal(201);
      return { id: `ev-${nonce}`, source: 'distribution', registry: 'lab', action: 'push', repository, tag: 'v1', digest: img.digest as `sha256:${string}` };
    }

    /** Links `repository:tag` to `digest` as Distribution's tag store does (storage/tagstore.go Tag). */
    function linkTag(repository: string, tag: string, digest: string): void {
      const tags = path.join(reg.storage, 'docker/registry/v2/repositories', repository, '_manifests/tags', tag);
      const [alg, hex] = digest.split(':');
      for (const p of [path.join(tags, 'index', alg!, hex!, 'link'), path.join(tags, 'current/link')]) {
        fs.mkdirSync(path.dirname(p), { recursive: true });
        fs.writeFileSync(p, digest);
      }
    }

    async function settle(ms = 60_000): Promise<void> {
      const deadline = Date.now() + ms;
      while ((await open()) > 0) {
        if (Date.now() > deadline) throw new Error(`the queue did not settle in ${ms} ms`);
        await gate.drain();
        await sleep(50);
      }
    }

    it('a store clock an hour behind the event: handed back 7 times (counted across a restart), then quarantined; not for an hour', async () => {
      const ev = await pushBlocked('team/stepped', 'stepped');
      await gate.ingest(ev);
      const { seq } = await store.enqueue(ev);
      // The event's stored time an hour ahead of the store's clock: its age reads 0 at every claim for an hour.
      await sql('UPDATE events SET created_at = created_at + ? WHERE seq = ?', [3_600_000, seq]);
      const t0 = Date.now();
      // Half way, pushgate restarts: a new store connection and a new gate; the count is in the store.
      while ((await handBacks(seq)) < 3) {
        if (Date.now() - t0 > 30_000) throw new Error('not handed back 3 times in 30 s');
        await gate.drain();
        await sleep(50);
      }
      await store.close();
      store = await openStore(url);
      gate = newGate(store);
      expect(await handBacks(seq), 'the count survives the restart').to.be.at.least(3);
      // Before: handed back for the hour (the drain loop below ran out of time).
      await settle(30_000);
      expect(await handBacks(seq)).to.equal(TAG_LINK_HAND_BACKS);
      const v = await store.getVerdict('lab', 'team/stepped', ev.digest);
      expect(v?.enforcement?.action, JSON.stringify(v?.enforcement)).to.equal('quarantine');
      expect(v?.enforcement?.status).to.equal('done');
      expect(await raw.served('team/stepped', ev.digest), 'gone from the repository').to.equal(undefined);
      expect(await raw.served('quarantine/team/stepped', 'v1')).to.equal(ev.digest);
      // at most one slice (three checks) per claim before the cap, none after it, plus the quarantine's own look at the tags
      expect(tagHeads('team/stepped').length).to.be.at.most(TAG_LINK_HAND_BACKS * 3 + 1);
      expect(Date.now() - t0, 'seconds, not an hour').to.be.below(30_000);
    });

    it('a manifest pushed by digest only, store clock an hour behind its event: the grace is waited out a bounded number of times, then it is quarantined; not for an hour', async () => {
      // The grace, counted from the digest's first event on the store's clock, read 2 s at every claim for
      // as long as that clock lagged: the event was put back, attempt refunded, every 2 s for the hour,
      // and the blocked manifest stayed pullable by digest all that time.
      const graceGate = new Gate({ config: { ...labGateConfig(dir, [labRegistryConfig('lab', FRONT_PORT, 't')]), enforcement: { untaggedGraceMs: 2_000 } }, store, policy, logger });
      const repository = 'team/stepped-digest';
      const img = makeImage('secret', `digest-${kind}-${Date.now()}`);
      await raw.pushBlobs(repository, img.blobs);
      expect((await raw.putManifest(repository, img.digest, img)).status).to.equal(201);
      const ev: PushEvent = { id: 'ev-stepped-digest', source: 'distribution', registry: 'lab', action: 'push', repository, digest: img.digest as `sha256:${string}` };
      await graceGate.ingest(ev);
      const { seq } = await store.enqueue(ev);
      await sql('UPDATE events SET created_at = created_at + ? WHERE seq = ?', [3_600_000, seq]);
      const t0 = Date.now();
      const deadline = t0 + 40_000;
      while ((await open()) > 0 && Date.now() < deadline) {
        await graceGate.drain();
        await sleep(50);
      }
      const v = await store.getVerdict('lab', repository, ev.digest);
      expect(v?.enforcement?.action, JSON.stringify(v?.enforcement)).to.equal('quarantine');
      expect(v?.enforcement?.status).to.equal('done');
      expect(await raw.served(repository, ev.digest), 'gone from the repository').to.equal(undefined);
      expect(await raw.served(`quarantine/${repository}`, ev.digest)).to.equal(ev.digest);
      expect(await handBacks(seq)).to.equal(GRACE_HAND_BACKS);
      expect(Date.now() - t0, 'seconds, not an hour').to.be.below(40_000);
    });

    it('503 to the first checks of a re-pushed tag: the wait goes on to the link, the tag is restored (before: quarantined before the link, the tag left on the deleted manifest)', async () => {
      const repository = 'team/repush503';
      const good = makeImage('good', `good-${kind}-${Date.now()}`);
      await raw.pushBlobs(repository, good.blobs);
      expect((await raw.putManifest(repository, 'v1', good)).status).to.equal(201);
      await gate.ingest({ id: 'ev-good', source: 'distribution', registry: 'lab', action: 'push', repository, tag: 'v1', digest: good.digest as `sha256:${string}` });
      await settle();
      expect(await raw.served(repository, 'v1')).to.equal(good.digest);

      // The blocked re-push: stored by digest, its event handled, the tag linked 4 s later. The registry
      // answers the first four HEADs of v1 with 503 (the client's three retries included, as before).
      let failed = 0;
      fault = (m, p) => (m === 'HEAD' && p === `/v2/${repository}/manifests/v1` && failed++ < 4 ? { status: 503 } : undefined);
      const ev = await pushBlocked(repository, 'repush503');
      await gate.ingest(ev);
      const linked = sleep(4_000).then(() => linkTag(repository, 'v1', ev.digest));
      await settle();
      await linked;

      expect(failed, 'the registry failed four checks').to.be.at.least(4);
      const v = await store.getVerdict('lab', repository, ev.digest);
      expect(v?.enforcement?.action, JSON.stringify(v?.enforcement)).to.equal('quarantine');
      expect(v?.enforcement?.status).to.equal('done');
      expect(await raw.served(repository, ev.digest), 'the blocked digest is gone from the repository').to.equal(undefined);
      expect(await raw.served(`quarantine/${repository}`, 'v1')).to.equal(ev.digest);
      expect(await raw.served(repository, 'v1'), 'v1 is restored to the allowed image and stays there').to.equal(good.digest);
    });

    it('429 with Retry-After: 3600 to every check: honoured only within the budget, then quarantined as an old event is', async () => {
      const repository = 'team/limited';
      fault = (m, p) => (m === 'HEAD' && p === `/v2/${repository}/manifests/v1` ? { status: 429, headers: { 'retry-after': '3600' } } : undefined);
      const ev = await pushBlocked(repository, 'limited');
      await gate.ingest(ev);
      const { seq } = await store.enqueue(ev);
      const t0 = Date.now();
      await settle();
      const v = await store.getVerdict('lab', repository, ev.digest);
      expect(v?.enforcement?.action, JSON.stringify(v?.enforcement)).to.equal('quarantine');
      expect(v?.enforcement?.status).to.equal('done');
      expect(await raw.served(repository, ev.digest)).to.equal(undefined);
      expect(await raw.served(`quarantine/${repository}`, 'v1')).to.equal(ev.digest);
      // The wait checked once (one request: no client retries), put the event back due at the last check
      // (the hour asked for lies past the budget), and went on only then (before: the 429 ended it at once).
      // Claimed at or just past 6.3 s of age, the last check is made or not: the action is the same.
      const heads = tagHeads(repository);
      expect(heads.length, JSON.stringify(heads)).to.be.within(1, 2);
      expect(await handBacks(seq)).to.equal(1);
      expect(Date.now() - t0, 'the budget of age, not the hour').to.be.within(5_500, 30_000);
    });
  });
}
