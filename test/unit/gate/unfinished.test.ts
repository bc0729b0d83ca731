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
import type { Gate } from '../../../src/gate/gate.js';
import { isFinalVerdict, retryUnfinished } from '../../../src/gate/reconcile.js';
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
