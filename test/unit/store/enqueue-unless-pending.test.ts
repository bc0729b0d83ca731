import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '../../../src/store/index.js';
import type { PushEvent } from '../../../src/core/index.js';
import { freshDatabase } from '../../helpers/postgres.js';

const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;
function ev(id: string, over: Partial<PushEvent> = {}): PushEvent {
  return { id, source: 'api', registry: 'lab', action: 'push', repository: 'team/app', digest: D1, ...over };
}

function contract(name: string, open: () => Promise<{ stores: [Store, Store]; done(): Promise<void> }>) {
  describe(`store enqueueUnlessPending: ${name}`, () => {
    let a: Store;
    let b: Store;
    let done: () => Promise<void>;
    beforeEach(async () => ({ stores: [a, b], done } = await open()));
    afterEach(async () => done());

    it('queues once per (registry, repository, digest) while queued or running, from any sender', async () => {
      const push = await a.enqueue(ev('push-1', { source: 'distribution', tag: 'v1' }));
      const r1 = await a.enqueueUnlessPending(ev('adm-1'));
      expect(r1).to.deep.equal({ inserted: false, seq: push.seq });
      expect((await a.enqueueUnlessPending(ev('adm-2', { repository: 'team/other' }))).inserted).to.equal(true);
      expect((await a.enqueueUnlessPending(ev('adm-3', { digest: D2 }))).inserted).to.equal(true);
      expect((await a.enqueueUnlessPending(ev('adm-4', { registry: 'other' }))).inserted).to.equal(true);
      const c = await a.claim('w', 60_000); // running still counts
      expect(c?.seq).to.equal(push.seq);
      expect((await a.enqueueUnlessPending(ev('adm-5'))).inserted).to.equal(false);
      await a.complete(c!.seq, 'w');
      const again = await a.enqueueUnlessPending(ev('adm-6'));
      expect(again.inserted).to.equal(true);
      expect(await a.queueDepth()).to.equal(4);
    });

    it('sameTag: only a live event of the same tag counts (none counts for none); queued, running or parked', async () => {
      // Another tag's event (a pusher can keep one queued by pushing that tag again and again) stands in for nothing.
      const dev = await a.enqueue(ev('push-dev', { source: 'distribution', tag: 'dev-1' }));
      const prod = await a.enqueueUnlessPending(ev('re-prod-1', { tag: 'prod' }), { sameTag: true });
      expect(prod.inserted).to.equal(true);
      expect(await a.enqueueUnlessPending(ev('re-prod-2', { tag: 'prod' }), { sameTag: true })).to.deep.equal({ inserted: false, seq: prod.seq });
      const untagged = await a.enqueueUnlessPending(ev('re-none-1'), { sameTag: true });
      expect(untagged.inserted).to.equal(true);
      expect((await a.enqueueUnlessPending(ev('re-none-2'), { sameTag: true })).inserted).to.equal(false);
      // Without sameTag the digest's first live event answers, whatever its tag.
      expect(await a.enqueueUnlessPending(ev('adm-1', { tag: 'v9' }))).to.deep.equal({ inserted: false, seq: dev.seq });
      // running, then parked (blocked-on-registry): still live for its tag
      const c = await a.claim('w', 60_000);
      expect(c?.seq).to.equal(dev.seq);
      expect((await a.enqueueUnlessPending(ev('re-dev-1', { tag: 'dev-1' }), { sameTag: true })).inserted).to.equal(false);
      await a.retry(dev.seq, 'w', { error: 'refused', retryInMs: 60_000, state: 'blocked-on-registry' });
      expect((await b.enqueueUnlessPending(ev('re-dev-2', { tag: 'dev-1' }), { sameTag: true })).inserted).to.equal(false);
    });

    it('sameTag is atomic under concurrent callers per tag (two store handles on one database)', async () => {
      const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).enqueueUnlessPending(ev(`c-${i}`, { tag: i % 4 < 2 ? 'x' : 'y' }), { sameTag: true })));
      expect(rs.filter((r) => r.inserted)).to.have.length(2);
      expect(await a.queueDepth()).to.equal(2);
    });

    it('is atomic under concurrent callers (two store handles on one database)', async () => {
      const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).enqueueUnlessPending(ev(`c-${i}`))));
      expect(rs.filter((r) => r.inserted)).to.have.length(1);
      expect(new Set(rs.map((r) => r.seq)).size).to.equal(1);
      expect(await a.queueDepth()).to.equal(1);
    });
  });
}

contract('sqlite', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-eup-'));
  const url = `sqlite:${path.join(dir, 'db.sqlite')}`;
  const a = await openStore(url);
  const b = await openStore(url);
  return {
    stores: [a, b],
    async done() {
      await a.close();
      await b.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

contract('postgres', async () => {
  const db = await freshDatabase('pushgate_eup');
  const a = await openStore(db.url);
  const b = await openStore(db.url);
  return {
    stores: [a, b],
    async done() {
      await a.close();
      await b.close();
      await db.drop();
    },
  };
});
