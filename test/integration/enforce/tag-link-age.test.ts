/**
 * The wait for a pushed tag's link, measured from the event's age, on a real Distribution 2.8 registry
 * with a real SQLite store and a real PostgreSQL store. A pusher with push rights can make push events
 * whose tag never links while the digest is there (two tags and racing deletes); here the same state is
 * made directly: the manifest is pushed by digest only, and the event names tag v1 of it. Every HEAD of
 * v1 that pushgate makes is counted.
 * - A fresh event: one claim checks the tag for a short slice (ages 0, 100, 300 ms) and goes back to
 *   the queue, due at the next check; the worker is free meanwhile. Over all its claims the event makes at
 *   most seven HEADs, and the blocked image is quarantined once the wait (6.3 s of age) is over.
 * - An event older than the wait (a restart, a backlog, a retry): no HEAD of the tag at all, enforced in
 *   its first claim. Before, every claim waited 6.3 s and made seven HEADs from the moment it was claimed.
 * Port 21960.
 */
import Database from 'better-sqlite3';
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { PushEvent } from '../../../src/core/index.js';
import { Gate } from '../../../src/gate/gate.js';
import { compilePolicy } from '../../../src/policy/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { labGateConfig, labRegistryConfig } from '../../helpers/gate.js';
import { startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { freshDatabase } from '../../helpers/postgres.js';
import { makeImage, Raw } from '../../helpers/raw-push.js';
import { FAULTS_POLICY } from '../faults/helpers.js';

const REG_PORT = 21960;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`enforce: the wait for a tag link follows the event's age (real registry, ${kind} store)`, function () {
    this.timeout(120_000);
    let dir: string;
    let reg: LabRegistry;
    let raw: Raw;
    let store: Store;
    let url: string;
    let drop: (() => Promise<void>) | undefined;
    let gate: Gate;
    const heads: string[] = [];
    const policy = compilePolicy(FAULTS_POLICY, 'faults-policy.yaml');
    const logger = { debug() {}, info() {}, warn() {}, error() {} };

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-taglink-'));
      reg = startRegistry(REG_PORT);
      raw = new Raw(reg.host);
    });
    after(() => {
      reg?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    beforeEach(async () => {
      heads.length = 0;
      if (kind === 'sqlite') url = `sqlite:${path.join(dir, `s-${Date.now()}.db`)}`;
      else ({ url, drop } = await freshDatabase('pushgate_taglink'));
      store = await openStore(url);
      gate = new Gate({ config: labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, 't')]), store, policy, logger });
      // Counts what pushgate asks the registry about tag v1 (the registry answers).
      const c = gate.client('lab');
      const resolve = c.resolve.bind(c);
      c.resolve = (async (repository: string, ref: string, ...rest: unknown[]) => {
        if (ref === 'v1') heads.push(repository);
        return (resolve as (...a: unknown[]) => ReturnType<typeof resolve>)(repository, ref, ...rest);
      }) as typeof c.resolve;
    });
    afterEach(async () => {
      await store.close();
      await drop?.();
      drop = undefined;
    });

    /** A blocked image (a private key: quarantined) pushed by digest only: its tag v1 never links. */
    async function pushUnlinked(repository: string, nonce: string): Promise<PushEvent> {
      const img = makeImage('secret', `${nonce}-${kind}-${Date.now()}`);
      await raw.pushBlobs(repository, img.blobs);
      const put = await raw.putManifest(repository, img.digest, img);
      expect(put.status, put.body).to.equal(201);
      return { id: `ev-${nonce}`, source: 'distribution', registry: 'lab', action: 'push', repository, tag: 'v1', digest: img.digest as `sha256:${string}` };
    }

    /** Moves the event's stored time back by `ms`, as if pushgate had stored it that long ago. */
    async function age(seq: number, ms: number): Promise<void> {
      if (kind === 'sqlite') {
        const db = new Database(url.slice('sqlite:'.length));
        db.prepare('UPDATE events SET created_at = created_at - ? WHERE seq = ?').run(ms, seq);
        db.close();
      } else {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        await c.query('UPDATE events SET created_at = created_at - $1 WHERE seq = $2', [ms, seq]);
        await c.end();
      }
    }

    it('a fresh event: a short slice per claim, back to the queue in between, at most seven HEADs in all; then quarantined', async () => {
      const ev = await pushUnlinked('team/fresh', 'fresh');
      await gate.ingest(ev);
      expect(await gate.drain()).to.equal(1);
      // The first claim judged the image, checked v1 at ages 0, 100 and 300 ms at most, and put the event back.
      expect(heads.length, 'HEADs of v1 in one claim').to.be.within(1, 3);
      expect(await store.queueCounts()).to.include({ queued: 1, running: 0 });
      expect(await raw.served('team/fresh', ev.digest), 'not acted on yet').to.equal(ev.digest);
      const v0 = await store.getVerdict('lab', 'team/fresh', ev.digest);
      expect(v0?.decision, 'judged, blocking: admission denies it meanwhile').to.equal('quarantine');
      // The queue hands it out again at each check until the wait is over.
      const deadline = Date.now() + 60_000;
      while ((await store.queueCounts()).queued + (await store.queueCounts()).running > 0) {
        if (Date.now() > deadline) throw new Error('the event did not complete');
        await gate.drain();
        await sleep(50);
      }
      expect(heads.length, 'HEADs of v1 over every claim').to.be.within(1, 7);
      const v = await store.getVerdict('lab', 'team/fresh', ev.digest);
      expect(v?.enforcement?.status, JSON.stringify(v?.enforcement)).to.equal('done');
      expect(v?.enforcement?.action).to.equal('quarantine');
      expect(await raw.served('team/fresh', ev.digest), 'gone from the repository').to.equal(undefined);
      expect(await raw.served('quarantine/team/fresh', 'v1')).to.equal(ev.digest);
    });

    it('an event stored longer ago than the wait (a restart, a backlog): no HEAD of its tag, enforced in its first claim', async () => {
      for (const [n, ms] of [[1, 6_400], [2, 60_000], [3, 3_600_000]] as const) {
        heads.length = 0;
        const ev = await pushUnlinked(`team/old${n}`, `old${n}`);
        await gate.ingest(ev);
        const { seq } = await store.enqueue(ev);
        await age(seq, ms);
        expect(await gate.drain(), `${ms} ms old`).to.equal(1);
        expect(heads, `${ms} ms old: HEADs of v1`).to.deep.equal([]);
        const v = await store.getVerdict('lab', `team/old${n}`, ev.digest);
        expect(v?.enforcement?.status, JSON.stringify(v?.enforcement)).to.equal('done');
        expect(await raw.served(`team/old${n}`, ev.digest)).to.equal(undefined);
        expect(await store.queueCounts()).to.include({ queued: 0, running: 0 });
      }
    });
  });
}
