import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '../../../src/store/index.js';
import type { PushEvent, Verdict } from '../../../src/core/index.js';
import { freshDatabase } from '../../helpers/postgres.js';
import { ROOT } from '../../helpers/lab.js';

const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;

function ev(id: string, over: Partial<PushEvent> = {}): PushEvent {
  return { id, source: 'distribution', registry: 'lab', action: 'push', repository: 'team/app', digest: D1, tag: 'v1', ...over };
}
function verdict(over: Partial<Verdict> = {}): Verdict {
  return {
    registry: 'lab', repository: 'team/app', digest: D1, tags: ['v1'], decision: 'warn', complete: true, reasons: [],
    mode: 'enforce', policy: { name: 'default', revision: 'r1' }, vulndb: { builtAt: null }, evaluatedAt: new Date().toISOString(), ...over,
  };
}

function contract(name: string, open: () => Promise<{ store: Store; done(): Promise<void> }>) {
  describe(`store contract: ${name}`, () => {
    let store: Store;
    let done: () => Promise<void>;
    beforeEach(async () => ({ store, done } = await open()));
    afterEach(async () => done());

    it('queues durably, de-duplicates by sender event id, claims oldest first', async () => {
      const a = await store.enqueue(ev('e1'));
      const dup = await store.enqueue(ev('e1'));
      const b = await store.enqueue(ev('e2', { digest: D2, tag: 'v2' }));
      expect(a.inserted).to.equal(true);
      expect(dup).to.deep.equal({ inserted: false, seq: a.seq });
      expect(b.inserted).to.equal(true);
      expect(await store.queueDepth()).to.equal(2);
      const c1 = await store.claim('w1', 60_000);
      const c2 = await store.claim('w2', 60_000);
      expect(c1?.event.id).to.equal('e1');
      expect(c2?.event.id).to.equal('e2');
      expect(await store.claim('w3', 60_000)).to.equal(undefined);
      expect(await store.complete(c1!.seq, 'w1')).to.equal(true);
      expect(await store.queueDepth()).to.equal(1);
    });

    it('queues a whole envelope in one transaction: order kept, duplicates within and across envelopes found', async () => {
      const first = await store.enqueue(ev('e0'));
      const events = Array.from({ length: 1200 }, (_, i) => ev(`b${i}`, { digest: `sha256:${i.toString(16).padStart(64, '0')}`, tag: `t${i}` }));
      events.splice(600, 0, ev('b3', { digest: D2 }), ev('e0'));
      const r = await store.enqueueMany(events);
      expect(r).to.have.length(events.length);
      expect(r.filter((x) => x.inserted)).to.have.length(1200);
      expect(r[600]).to.deep.equal({ inserted: false, seq: r[3].seq });
      expect(r[601]).to.deep.equal({ inserted: false, seq: first.seq });
      const fresh = r.filter((x) => x.inserted).map((x) => x.seq);
      expect(fresh).to.deep.equal([...fresh].sort((a, b) => a - b));
      expect(await store.queueDepth()).to.equal(1201);
      // Retried by the sender: nothing new.
      const again = await store.enqueueMany(events.slice(0, 10));
      expect(again.every((x) => !x.inserted)).to.equal(true);
      expect(await store.enqueueMany([])).to.deep.equal([]);
      // Claimed in envelope order after the earlier event.
      expect((await store.claim('w', 60_000))?.event.id).to.equal('e0');
      expect((await store.claim('w', 60_000))?.event.id).to.equal('b0');
    });

    it('re-claims an event whose lease expired (a crashed worker loses nothing)', async () => {
      await store.enqueue(ev('e1'));
      const c1 = await store.claim('w1', 1);
      await new Promise((r) => setTimeout(r, 10));
      const c2 = await store.claim('w2', 60_000);
      expect(c2?.seq).to.equal(c1?.seq);
      expect(c2?.attempts).to.equal(2);
    });

    it('a heartbeat extends the lease so a busy worker keeps its event', async () => {
      await store.enqueue(ev('e1'));
      const c1 = await store.claim('w1', 50);
      await store.extendLease(c1!.seq, 'w1', 60_000);
      await new Promise((r) => setTimeout(r, 80));
      expect(await store.claim('w2', 60_000)).to.equal(undefined);
      await store.extendLease(c1!.seq, 'someone-else', 1);
      expect(await store.claim('w2', 60_000)).to.equal(undefined);
    });

    it('retries with a delay; a failed event is final, a blocked one waits for its registry', async () => {
      await store.enqueue(ev('e1'));
      const c = await store.claim('w', 60_000);
      expect(await store.retry(c!.seq, 'w', { error: 'registry down', retryInMs: 60_000 })).to.equal(true);
      expect(await store.claim('w', 60_000)).to.equal(undefined);
      expect(await store.queueDepth()).to.equal(1);
      await store.enqueue(ev('e2', { tag: 'v2' }));
      const c2 = await store.claim('w', 60_000);
      await store.retry(c2!.seq, 'w', { error: 'boom', retryInMs: 0, state: 'failed' });
      expect(await store.queueDepth()).to.equal(1);
      expect(await store.queueCounts()).to.deep.equal({ queued: 1, running: 0, 'blocked-on-registry': 0, failed: 1 });
    });

    it('verdictSeqTop is the write sequence of the latest verdict write (0 when none); it is the first row of pageVerdicts', async () => {
      expect(await store.verdictSeqTop()).to.equal(0);
      await store.putVerdict(verdict());
      const one = await store.verdictSeqTop();
      expect(one).to.be.greaterThan(0);
      await store.putVerdict(verdict({ digest: D2 }));
      await store.putVerdict(verdict()); // rewritten: back on top
      const top = await store.verdictSeqTop();
      expect(top).to.be.greaterThan(one);
      const page = await store.pageVerdicts({ limit: 1 });
      expect(page.items[0].digest).to.equal(D1);
      expect(page.next?.[0]).to.equal(top);
    });

    it('keys verdicts by (registry, repository, digest) and merges tags', async () => {
      await store.putVerdict(verdict());
      await store.putVerdict(verdict({ tags: ['latest'], decision: 'reject' }));
      await store.putVerdict(verdict({ repository: 'other/app', decision: 'allow', tags: [] }));
      const v = await store.getVerdict('lab', 'team/app', D1);
      expect(v?.decision).to.equal('reject');
      expect(v?.tags).to.deep.equal(['latest', 'v1']);
      expect((await store.getVerdict('lab', 'other/app', D1))?.decision).to.equal('allow');
      expect(await store.getVerdict('lab', 'team/app', D2)).to.equal(undefined);
      const list = await store.listVerdicts({ registry: 'lab' });
      expect(list.map((x) => x.repository)).to.deep.equal(['other/app', 'team/app']);
    });

    it('keeps tag history and the last allowed digest', async () => {
      await store.recordTag('lab', 'team/app', 'v1', D1, true);
      await new Promise((r) => setTimeout(r, 5));
      await store.recordTag('lab', 'team/app', 'v1', D2, false);
      expect(await store.lastAllowed('lab', 'team/app', 'v1', D2)).to.equal(D1);
      expect(await store.lastAllowed('lab', 'team/app', 'v1', D1)).to.equal(undefined);
      await store.putVerdict(verdict({ digest: D2, decision: 'reject' }));
      expect((await store.getVerdictByTag('lab', 'team/app', 'v1'))?.digest).to.equal(D2);
    });

    it('keeps the first putLayer and lets replaceLayer win', async () => {
      await store.putLayer('r1', { v: 1 });
      await store.putLayer('r1', { v: 2 });
      expect(await store.getLayer('r1')).to.deep.equal({ v: 1 });
      await store.replaceLayer('r1', { v: 3 });
      expect(await store.getLayer('r1')).to.deep.equal({ v: 3 });
      await store.replaceLayer('r2', { v: 4 });
      expect(await store.getLayer('r2')).to.deep.equal({ v: 4 });
    });

    it('stores reports, layer analyses and audit records', async () => {
      await store.putLayer('k1', { files: 3 });
      expect(await store.getLayer('k1')).to.deep.equal({ files: 3 });
      expect(await store.getLayer('k2')).to.equal(undefined);
      await store.audit({ actor: 'pushgate', action: 'quarantine', repository: 'team/app', detail: { why: 'x' } });
      const a = await store.listAudit(10);
      expect(a[0]).to.include({ actor: 'pushgate', action: 'quarantine', repository: 'team/app' });
      expect(a[0].detail).to.deep.equal({ why: 'x' });
      expect(await store.ping()).to.equal(true);
    });

    it('the audit log is append-only: UPDATE and DELETE fail in the database', async () => {
      await store.audit({ actor: 'alice', action: 'release', repository: 'team/app' });
      const raw = (store as unknown as { db?: { exec(sql: string): void }; pool?: { query(sql: string): Promise<unknown> } });
      const tamper = async (sql: string) => (raw.db ? raw.db.exec(sql) : await raw.pool!.query(sql));
      let err: Error | undefined;
      try { await tamper("UPDATE audit SET actor = 'mallory'"); } catch (e) { err = e as Error; }
      expect(err?.message).to.match(/append-only/);
      err = undefined;
      try { await tamper('DELETE FROM audit'); } catch (e) { err = e as Error; }
      expect(err?.message).to.match(/append-only/);
      expect((await store.listAudit(10))[0]).to.include({ actor: 'alice', action: 'release' });
    });

    it('stores admin exceptions with who and when, oldest first', async () => {
      const a = await store.addException('alice', { reason: 'vendor fix pending', owner: 'team-a', expires: '2099-01-01', ids: ['CVE-2024-1'] });
      const b = await store.addException('bob', { reason: 'false positive', owner: 'team-b', expires: '2099-02-01', digest: D1 });
      expect(b.id).to.be.greaterThan(a.id);
      const all = await store.listExceptions();
      expect(all.map((e) => [e.actor, e.expires])).to.deep.equal([['alice', '2099-01-01'], ['bob', '2099-02-01']]);
      expect(all[0].spec).to.deep.equal({ reason: 'vendor fix pending', owner: 'team-a', expires: '2099-01-01', ids: ['CVE-2024-1'] });
      expect(Date.parse(all[1].at)).to.be.closeTo(Date.now(), 60_000);
    });

    it('tracks quarantined copies: query by image, state and age', async () => {
      const q1 = await store.recordQuarantine({ registry: 'lab', repository: 'team/app', tag: 'v1', digest: D1, quarantineRepository: 'quarantine/team/app' });
      await new Promise((r) => setTimeout(r, 5));
      const cut = Date.now();
      await new Promise((r) => setTimeout(r, 5));
      const q2 = await store.recordQuarantine({ registry: 'lab', repository: 'team/app', tag: 'v2', digest: D2, quarantineRepository: 'quarantine/team/app' });
      expect(q1.state).to.equal('quarantined');
      expect((await store.listQuarantine({ registry: 'lab' })).map((q) => q.id)).to.deep.equal([q2.id, q1.id]);
      expect((await store.listQuarantine({ before: cut })).map((q) => q.tag)).to.deep.equal(['v1']);
      expect((await store.listQuarantine({ repository: 'team/app', tag: 'v2', digest: D2 })).map((q) => q.id)).to.deep.equal([q2.id]);
      await store.setQuarantineState(q1.id, 'released');
      expect((await store.listQuarantine({ state: 'quarantined' })).map((q) => q.tag)).to.deep.equal(['v2']);
      const [r1] = await store.listQuarantine({ state: 'released' });
      expect(r1).to.include({ id: q1.id, tag: 'v1', digest: D1, quarantineRepository: 'quarantine/team/app', state: 'released' });
      expect(r1.stateAt).to.be.at.least(r1.at);
    });

    it('the last allowed digest skips one blocked since (a re-evaluation blocked it)', async () => {
      await store.recordTag('lab', 'team/app', 'v1', D1, true);
      await new Promise((r) => setTimeout(r, 5));
      await store.recordTag('lab', 'team/app', 'v1', D2, true);
      await new Promise((r) => setTimeout(r, 5));
      expect(await store.lastAllowed('lab', 'team/app', 'v1')).to.equal(D2);
      await store.recordTag('lab', 'team/app', 'v1', D2, false);
      expect(await store.lastAllowed('lab', 'team/app', 'v1')).to.equal(D1);
    });

    it('manifestAgeMs: time since the first event of a manifest in a repository, done or open, any tag; undefined before any', async () => {
      expect(await store.manifestAgeMs('lab', 'team/app', D1)).to.equal(undefined);
      await store.enqueue(ev('m1', { tag: undefined }));
      const c = await store.claim('w1', 60_000);
      expect(await store.complete(c!.seq, 'w1')).to.equal(true);
      await new Promise((r) => setTimeout(r, 300));
      // Pushed again, by digest and by tag: the age still counts from the first event.
      await store.enqueue(ev('m2', { tag: undefined }));
      await store.enqueue(ev('m3'));
      const age = await store.manifestAgeMs('lab', 'team/app', D1);
      expect(age).to.be.at.least(250);
      expect(age).to.be.below(60_000);
      expect(await store.manifestAgeMs('lab', 'team/app', D2), 'another digest').to.equal(undefined);
      expect(await store.manifestAgeMs('lab', 'other/app', D1), 'another repository').to.equal(undefined);
      expect(await store.manifestAgeMs('other', 'team/app', D1), 'another registry').to.equal(undefined);
    });

    it('every digest once allowed for a tag, newest first, each once, without one blocked since or the excepted one', async () => {
      const D3 = `sha256:${'3'.repeat(64)}`;
      const D4 = `sha256:${'4'.repeat(64)}`;
      const tick = () => new Promise((r) => setTimeout(r, 5));
      for (const d of [D1, D2, D3, D1, D4]) {
        await store.recordTag('lab', 'team/app', 'v1', d, true);
        await tick();
      }
      await store.recordTag('lab', 'team/app', 'v2', D2, true);
      expect(await store.allowedForTag('lab', 'team/app', 'v1', undefined, 10)).to.deep.equal([D4, D1, D3, D2]);
      expect(await store.allowedForTag('lab', 'team/app', 'v1', D4, 2)).to.deep.equal([D1, D3]);
      await tick();
      await store.recordTag('lab', 'team/app', 'v1', D3, false);
      expect(await store.allowedForTag('lab', 'team/app', 'v1', D4, 10)).to.deep.equal([D1, D2]);
    });

    it('own writes: consumed by one event (its redelivery too), not by another, not after expiry, renewed by a new write', async () => {
      const now = Date.now();
      const w = { registry: 'lab', repository: 'quarantine/team/app', digest: D1, tag: 'v1' };
      expect(await store.consumeOwnWrite(w, 'e0', now), 'nothing remembered').to.equal(false);
      await store.rememberOwnWrite(w, now + 60_000);
      // every field of the key counts
      for (const other of [{ ...w, registry: 'other' }, { ...w, repository: 'team/app' }, { ...w, digest: D2 }, { ...w, tag: '' }, { ...w, tag: 'v2' }]) {
        expect(await store.consumeOwnWrite(other, 'e1', now), JSON.stringify(other)).to.equal(false);
      }
      expect(await store.consumeOwnWrite(w, 'e1', now)).to.equal(true);
      expect(await store.consumeOwnWrite(w, 'e1', now), 'a redelivery of the same event').to.equal(true);
      expect(await store.consumeOwnWrite(w, 'e2', now), 'another event').to.equal(false);
      await store.rememberOwnWrite(w, now + 60_000);
      expect(await store.consumeOwnWrite(w, 'e2', now), 'a new write of the same target').to.equal(true);
      const x = { ...w, tag: 'v3' };
      await store.rememberOwnWrite(x, now + 1_000);
      expect(await store.consumeOwnWrite(x, 'e3', now + 1_001), 'expired').to.equal(false);
      // concurrent consumers (several replicas): exactly one wins
      const y = { ...w, tag: 'v4' };
      await store.rememberOwnWrite(y, now + 60_000);
      const wins = await Promise.all(['a', 'b', 'c', 'd'].map((id) => store.consumeOwnWrite(y, id, now)));
      expect(wins.filter(Boolean)).to.have.length(1);
    });

    it('counts verdicts by registry and decision (one per repository and digest, rewrites not double counted)', async () => {
      expect(await store.countVerdicts()).to.deep.equal([]);
      await store.putVerdict(verdict({ decision: 'allow' }));
      await store.putVerdict(verdict({ decision: 'reject' })); // the same image judged again
      await store.putVerdict(verdict({ repository: 'team/other', decision: 'reject' }));
      await store.putVerdict(verdict({ digest: D2, decision: 'warn' }));
      await store.putVerdict(verdict({ registry: 'harbor', digest: D2, decision: 'warn' }));
      const got = (await store.countVerdicts()).sort((a, b) => `${a.registry}${a.decision}`.localeCompare(`${b.registry}${b.decision}`));
      expect(got).to.deep.equal([
        { registry: 'harbor', decision: 'warn', count: 1 },
        { registry: 'lab', decision: 'reject', count: 2 },
        { registry: 'lab', decision: 'warn', count: 1 },
      ]);
    });
  });
}

contract('sqlite', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-store-'));
  const store = await openStore(`sqlite:${path.join(dir, 'p.db')}`);
  return { store, done: async () => { await store.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
});

contract('postgres', async () => {
  const db = await freshDatabase();
  const store = await openStore(db.url);
  return { store, done: async () => { await store.close(); await db.drop(); } };
});

describe('store: durability', () => {
  it('an event acknowledged by enqueue survives SIGKILL of the process', function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-kill-'));
    const file = path.join(dir, 'p.db');
    const script = `
      import { openStore } from ${JSON.stringify(path.join(ROOT, 'src/store/index.ts'))};
      const s = await openStore(${JSON.stringify('sqlite:' + file)});
      const r = await s.enqueue({ id: 'k1', source: 'distribution', registry: 'lab', action: 'push', repository: 'a/b', digest: ${JSON.stringify(D1)}, tag: 'v1' });
      process.stdout.write('acked ' + r.seq + '\\n', () => process.kill(process.pid, 'SIGKILL'));
      setInterval(() => {}, 1000);
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', cwd: ROOT });
    expect(r.signal).to.equal('SIGKILL');
    expect(r.stdout).to.match(/acked 1/);
    return openStore(`sqlite:${file}`).then(async (s) => {
      const c = await s.claim('w', 1000);
      expect(c?.event.id).to.equal('k1');
      await s.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
  });
});
