/**
 * Incomplete verdicts are not final: a verdict whose scan did not complete or whose enforcement
 * failed is queued again (reconcile and the scheduled retry) until it completes or an operator
 * releases it; each unfinished evaluation is queued once (real SQLite store, gate's ingest).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PushEvent, Verdict } from '../../../src/core/index.js';
import { Gate as GateClass } from '../../../src/gate/gate.js';
import type { Gate } from '../../../src/gate/gate.js';
import { isFinalVerdict, reconcile, retryUnfinished } from '../../../src/gate/reconcile.js';
import type { PushgateConfig } from '../../../src/config/types.js';
import { openStore, type Store } from '../../../src/store/index.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;
function verdict(over: Partial<Verdict> = {}): Verdict {
  return {
    registry: 'lab',
    repository: 'team/app',
    digest: D('a'),
    tags: ['v1'],
    decision: 'quarantine',
    complete: true,
    reasons: [],
    mode: 'enforce',
    policy: { name: 'p', revision: 'r1' },
    vulndb: { builtAt: null },
    evaluatedAt: new Date(Date.now() - 3_600_000).toISOString(),
    ...over,
  };
}

describe('gate: unfinished verdicts are retried', () => {
  let dir: string;
  let store: Store;
  let queued: PushEvent[];
  let gate: Gate;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-unfinished-'));
    store = await openStore(`sqlite://${path.join(dir, 'p.db')}`);
    queued = [];
    gate = { ingest: async (e: PushEvent) => ((queued.push(e), await store.enqueue(e))) } as unknown as Gate;
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('isFinalVerdict: complete and enforced (or nothing to do) is final; incomplete, failed enforcement are not; a release is', () => {
    expect(isFinalVerdict(verdict({ enforcement: { action: 'quarantine', status: 'done', detail: '' } }))).to.equal(true);
    expect(isFinalVerdict(verdict({ decision: 'allow', enforcement: { action: 'none', status: 'skipped', detail: '' } }))).to.equal(true);
    expect(isFinalVerdict(verdict({ complete: false }))).to.equal(false);
    expect(isFinalVerdict(verdict({ complete: false, decision: 'allow' }))).to.equal(false);
    expect(isFinalVerdict(verdict({ enforcement: { action: 'quarantine', status: 'failed', detail: '401 invalid_token' } }))).to.equal(false);
    expect(isFinalVerdict(verdict({ complete: false, reasons: [{ rule: 'released', action: 'allow', message: 'released by ops' }] }))).to.equal(true);
  });

  it('queues each tag of each unfinished verdict once per evaluation; final ones and fresh ones wait', async () => {
    await store.putVerdict(verdict({ digest: D('1'), complete: false, tags: ['v1', 'latest'] }));
    await store.putVerdict(verdict({ digest: D('2'), enforcement: { action: 'delete', status: 'failed', detail: 'x' } }));
    await store.putVerdict(verdict({ digest: D('3'), enforcement: { action: 'quarantine', status: 'done', detail: '' } }));
    await store.putVerdict(verdict({ digest: D('4'), complete: false, tags: [] }));
    await store.putVerdict(verdict({ digest: D('5'), complete: false, evaluatedAt: new Date().toISOString() }));
    const r = await retryUnfinished({ gate, store, minAgeMs: 60_000 });
    expect(r).to.deep.equal({ unfinished: 2, queued: 3 });
    expect(queued.map((e) => `${e.digest.slice(7, 8)}:${e.tag}`).sort()).to.deep.equal(['1:latest', '1:v1', '2:v1']);
    expect((await retryUnfinished({ gate, store, minAgeMs: 60_000 })).queued).to.equal(0);
    // a new (still unfinished) evaluation is retried again
    await store.putVerdict(verdict({ digest: D('2'), evaluatedAt: new Date(Date.now() - 120_000).toISOString(), enforcement: { action: 'delete', status: 'failed', detail: 'y' } }));
    expect((await retryUnfinished({ gate, store, minAgeMs: 60_000 })).queued).to.equal(1);
  });

  it('property: exactly the non-final tagged verdicts old enough are queued', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ complete: fc.boolean(), failed: fc.boolean(), released: fc.boolean(), tagged: fc.boolean(), old: fc.boolean() }), { minLength: 1, maxLength: 8 }),
        async (specs) => {
          await store.close();
          fs.rmSync(dir, { recursive: true, force: true });
          dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-unfinished-'));
          store = await openStore(`sqlite://${path.join(dir, 'p.db')}`);
          queued = [];
          let want = 0;
          for (const [i, s] of specs.entries()) {
            await store.putVerdict(
              verdict({
                digest: `sha256:${i.toString(16).padStart(64, '0')}`,
                complete: s.complete,
                tags: s.tagged ? ['t'] : [],
                enforcement: { action: 'quarantine', status: s.failed ? 'failed' : 'done', detail: '' },
                reasons: s.released ? [{ rule: 'released', action: 'allow', message: '' }] : [],
                evaluatedAt: new Date(Date.now() - (s.old ? 3_600_000 : 1000)).toISOString(),
              }),
            );
            if (s.tagged && s.old && !s.released && (!s.complete || s.failed)) want++;
          }
          expect((await retryUnfinished({ gate, store, minAgeMs: 60_000 })).queued).to.equal(want);
        },
      ),
      { numRuns: 40 },
    );
  });
});

/**
 * The re-queue waits only for a live event of its own tag: enforcement follows the event's tag mapping, so
 * an event of another tag (which a pusher keeps queued by pushing that tag over and over) never stands in
 * for it, nor does the first tag's new event for the verdict's other tags. Real SQLite store and the
 * gate's own `ingest` (bound to that store).
 */
describe('gate: re-queues wait only for a live event of their own tag', () => {
  let dir: string;
  let store: Store;
  let gate: Gate;
  let inserted: PushEvent[];
  const fresh = async () => {
    if (store) await store.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-unfinished-tag-'));
    store = await openStore(`sqlite://${path.join(dir, 'p.db')}`);
    inserted = [];
    const host = { opts: { store }, announce: () => undefined, queue: { nudge: async () => undefined } };
    gate = {
      ingest: async (e: PushEvent, o?: { unlessPending?: boolean | 'tag' }) => {
        const r = await GateClass.prototype.ingest.call(host as unknown as Gate, e, o);
        if (r.inserted) inserted.push(e);
        return r;
      },
    } as unknown as Gate;
  };
  beforeEach(fresh);
  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
    store = undefined as unknown as Store;
    dir = '';
  });

  it('every tag of an unfinished verdict is queued, beside a live event of another tag; a live event of the tag itself holds it', async () => {
    await store.putVerdict(verdict({ digest: D('1'), complete: false, tags: ['dev-1', 'latest', 'prod'] }));
    // The pusher's flood of dev-1 pushes: one of them is always queued.
    await store.enqueue({ id: 'flood-1', source: 'distribution', registry: 'lab', action: 'push', repository: 'team/app', digest: D('1'), tag: 'dev-1' });
    const r = await retryUnfinished({ gate, store, minAgeMs: 60_000 });
    expect(r).to.deep.equal({ unfinished: 1, queued: 2 });
    expect(inserted.map((e) => e.tag).sort()).to.deep.equal(['latest', 'prod']);
    // A later evaluation still unfinished: nothing more while those events are live.
    await store.putVerdict(verdict({ digest: D('1'), complete: false, tags: ['dev-1', 'latest', 'prod'], evaluatedAt: new Date(Date.now() - 120_000).toISOString() }));
    expect((await retryUnfinished({ gate, store, minAgeMs: 60_000 })).queued).to.equal(0);
  });

  it('reconcile: a blocked tag pushed back to its digest is queued again while the pusher keeps an event of an allowed tag of that digest queued', async () => {
    // prod maps to enforce (blocked), dev-* to an allowing mapping; both tags point at the digest.
    await store.putVerdict(verdict({ digest: D('1'), tags: ['dev-1', 'prod'], enforcement: { action: 'quarantine', status: 'done', detail: '' } }));
    const client = { catalog: async () => ['team/app'], listTags: async () => ['dev-1', 'prod'], resolve: async () => ({ digest: D('1'), mediaType: 'x', size: 1 }) };
    const viewFor = (v: Verdict, tag?: string) => (tag?.startsWith('dev-') ? { tag, decision: 'allow', mode: 'enforce', reasons: [] } : { tag, decision: v.decision, mode: 'enforce', reasons: [] });
    const g = { ...gate, ingest: (gate as unknown as { ingest: unknown }).ingest, client: () => client, isRecordedQuarantineCopy: async () => false, viewFor, resumeBlocked: async () => 0 } as unknown as Gate;
    const config = { registries: [{ name: 'lab', quarantine: { repositoryPrefix: 'quarantine/' } }] } as unknown as PushgateConfig;
    await store.enqueue({ id: 'flood-1', source: 'distribution', registry: 'lab', action: 'push', repository: 'team/app', digest: D('1'), tag: 'dev-1' });
    expect((await reconcile({ config, gate: g, store, registry: 'lab' })).queued).to.equal(1);
    expect(inserted.map((e) => e.tag)).to.deep.equal(['prod']);
    // The next pass waits for that prod event (one live event per tag, however often enforcement fails).
    expect((await reconcile({ config, gate: g, store, registry: 'lab' })).queued).to.equal(0);
  });

  it('property: queued = the tags of the unfinished verdict without a queued event of that repository, digest and tag (events of other tags, digests, repositories or none do not count)', async () => {
    const TAGS = ['a', 'b', 'c', 'd'];
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.constantFrom(...TAGS), { minLength: 1, maxLength: 4 }),
        fc.array(fc.record({ tag: fc.option(fc.constantFrom(...TAGS), { nil: undefined }), otherDigest: fc.boolean(), otherRepo: fc.boolean() }), { maxLength: 6 }),
        async (tags, live) => {
          await fresh();
          await store.putVerdict(verdict({ digest: D('1'), complete: false, tags }));
          for (const [i, l] of live.entries()) {
            await store.enqueue({ id: `l-${i}`, source: 'distribution', registry: 'lab', action: 'push', repository: l.otherRepo ? 'team/other' : 'team/app', digest: l.otherDigest ? D('2') : D('1'), tag: l.tag });
          }
          const liveTags = new Set(live.filter((l) => !l.otherRepo && !l.otherDigest).map((l) => l.tag));
          const want = tags.filter((t) => !liveTags.has(t));
          expect((await retryUnfinished({ gate, store, minAgeMs: 60_000 })).queued).to.equal(want.length);
          expect(inserted.map((e) => e.tag).sort()).to.deep.equal([...want].sort());
        },
      ),
      { numRuns: 60 },
    );
  });
});
