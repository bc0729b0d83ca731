/**
 * Lost notifications are reconciled: just the repositories an unreadable envelope named (no
 * catalog walk), or the whole registry when it named none; requests that arrive while a pass runs
 * are merged into one next pass per registry ("the whole registry" wins). A fake registry client
 * and gate record what the passes read and queue.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { PushEvent, Verdict } from '../../../src/core/index.js';
import type { PushgateConfig } from '../../../src/config/types.js';
import type { Gate } from '../../../src/gate/gate.js';
import { LostEventsReconciler, reconcile } from '../../../src/gate/reconcile.js';
import type { Store } from '../../../src/store/index.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;

function setup(repos: Record<string, string[]>, verdicts: Record<string, Partial<Verdict>> = {}) {
  const reads: string[] = [];
  const queued: PushEvent[] = [];
  let gateOpen: () => void = () => undefined;
  let hold: Promise<void> | undefined;
  const client = {
    catalog: async () => {
      reads.push('catalog');
      return Object.keys(repos);
    },
    listTags: async (repo: string) => {
      reads.push(`tags ${repo}`);
      if (hold) await hold;
      if (!repos[repo]) throw new Error(`${repo}: NAME_UNKNOWN`);
      return repos[repo]!;
    },
    resolve: async (repo: string, tag: string) => ({ digest: D(String(repos[repo]!.indexOf(tag) + 1)), mediaType: 'x', size: 1 }),
  };
  const gate = {
    client: () => client,
    isRecordedQuarantineCopy: async () => false,
    // The stored decision and mode stand for every tag here (the real gate derives them per tag's mapping).
    viewFor: (v: Verdict, tag?: string) => ({ tag, decision: v.decision ?? 'allow', mode: v.mode ?? 'enforce', reasons: v.reasons ?? [] }),
    resumeBlocked: async () => 0,
    ingest: async (e: PushEvent) => {
      queued.push(e);
      return { inserted: true };
    },
  } as unknown as Gate;
  const store = { getVerdict: async (_r: string, repo: string, digest: string) => verdicts[`${repo}@${digest}`] as Verdict | undefined } as unknown as Store;
  const config = { registries: [{ name: 'lab', quarantine: { repositoryPrefix: 'quarantine/' } }, { name: 'other', quarantine: { repositoryPrefix: 'quarantine/' } }] } as unknown as PushgateConfig;
  return {
    reads,
    queued,
    gate,
    store,
    config,
    holdTags() {
      hold = new Promise((r) => (gateOpen = r));
    },
    release() {
      hold = undefined;
      gateOpen();
    },
  };
}

describe('gate: lost notifications are reconciled', () => {
  it('reconcile with repositories reads only those, never the catalog; unfinished verdicts are queued again', async () => {
    const s = setup({ 'team/a': ['v1', 'v2'], 'team/b': ['v1'], 'team/c': ['v1'] }, {
      [`team/a@${D('1')}`]: { tags: ['v1'], complete: true, reasons: [], enforcement: { action: 'none', status: 'skipped', detail: '' } },
      [`team/a@${D('2')}`]: { tags: ['v2'], complete: false, reasons: [], evaluatedAt: '2026-01-01T00:00:00Z' },
    });
    const r = await reconcile({ config: s.config, gate: s.gate, store: s.store, registry: 'lab', repositories: ['team/a', 'team/a'] });
    expect(s.reads).to.deep.equal(['tags team/a']);
    expect(r).to.deep.include({ tags: 2, queued: 1 });
    expect(s.queued.map((e) => `${e.repository}:${e.tag}`)).to.deep.equal(['team/a:v2']);
  });

  it('requests during a pass are merged into one next pass per registry; the whole registry wins', async () => {
    const s = setup({ 'team/a': ['v1'], 'team/b': ['v1'], 'team/c': ['v1'] });
    const rec = new LostEventsReconciler({ config: s.config, gate: s.gate, store: s.store });
    s.holdTags();
    rec.request('lab', ['team/a']);
    await new Promise((r) => setTimeout(r, 10));
    rec.request('lab', ['team/b']);
    rec.request('lab', ['team/c']);
    rec.request('lab', undefined);
    rec.request('lab', ['team/b']);
    s.release();
    await rec.idle;
    expect(s.reads).to.deep.equal(['tags team/a', 'catalog', 'tags team/a', 'tags team/b', 'tags team/c']);
    s.reads.length = 0;
    rec.request('lab', ['team/b']);
    rec.request('lab', ['team/c']);
    await rec.idle;
    expect(s.reads).to.deep.equal(['tags team/b', 'tags team/c']);
    rec.stop();
  });

  it('property: a tag found on a digest that blocks it in enforce mode is queued again, however final its verdict (pushed back without a handled notification); a settled tag is not', async () => {
    const verdict = fc.record({
      listed: fc.boolean(),
      complete: fc.boolean(),
      decision: fc.constantFrom('allow', 'warn', 'quarantine', 'reject'),
      mode: fc.constantFrom('enforce', 'warn', 'audit'),
      enforcement: fc.constantFrom(undefined, 'done', 'failed', 'skipped', 'pending'),
      released: fc.boolean(),
      evaluatedAt: fc.integer({ min: 0, max: 1e12 }).map((t) => new Date(t).toISOString()),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.option(verdict, { nil: undefined }), { minLength: 1, maxLength: 6 }), async (vs) => {
        const tags = vs.map((_, i) => `v${i}`);
        const verdicts: Record<string, Partial<Verdict>> = {};
        vs.forEach((x, i) => {
          if (!x) return;
          verdicts[`team/a@${D(String(i + 1))}`] = {
            tags: x.listed ? [tags[i]!] : [],
            complete: x.complete,
            decision: x.decision as Verdict['decision'],
            mode: x.mode as Verdict['mode'],
            reasons: x.released ? [{ rule: 'released', action: 'allow', message: 'released' }] : [],
            evaluatedAt: x.evaluatedAt,
            ...(x.enforcement ? { enforcement: { action: 'quarantine', status: x.enforcement as 'done', detail: '' } } : {}),
          };
        });
        const s = setup({ 'team/a': tags }, verdicts);
        const r = await reconcile({ config: s.config, gate: s.gate, store: s.store, registry: 'lab', repositories: ['team/a'] });
        expect(r.errors).to.deep.equal([]);
        const queued = new Set(s.queued.map((e) => e.tag));
        vs.forEach((x, i) => {
          const blocking = !!x && !x.released && (x.decision === 'quarantine' || x.decision === 'reject') && x.mode === 'enforce';
          const finished = !!x && (x.released || (x.complete && x.enforcement !== 'failed'));
          const settled = !!x && x.listed && finished && !blocking;
          expect(queued.has(tags[i]), `${tags[i]}: ${JSON.stringify(x)}`).to.equal(!settled);
        });
        // Queued again once per evaluation: a second pass over the same state derives the same ids.
        const again = setup({ 'team/a': tags }, verdicts);
        await reconcile({ config: again.config, gate: again.gate, store: again.store, registry: 'lab', repositories: ['team/a'] });
        expect(again.queued.map((e) => e.id)).to.deep.equal(s.queued.map((e) => e.id));
      }),
      { numRuns: 200 },
    );
  });

  it('a repository that no longer exists is an error of that pass, not a thrown one', async () => {
    const s = setup({ 'team/a': ['v1'] });
    const r = await reconcile({ config: s.config, gate: s.gate, store: s.store, registry: 'lab', repositories: ['team/gone'] });
    expect(r.errors.map((e) => e.repository)).to.deep.equal(['team/gone']);
  });
});
