/**
 * A reconcile asked for because notifications were lost (a registry's new instance, an unreadable envelope)
 * survives the process that was asked: a pass that completes records what it settled in the store, and a
 * process started on the same store asks again for exactly what no completed pass settled. A fast-check
 * property over sequences of requests (whole registry, named repositories, a registry's first instance),
 * pass outcomes (done, failed with an error, thrown) and crashes (the process stops dead: its running pass
 * never returns), on two registries, against a model: after each restart a pass runs iff some request is
 * newer than every completed pass that walked what it asked for, and over exactly what is owed; while a
 * process lives, one pass runs per registry and the requests made meanwhile are merged into one next pass.
 * The real LostEventsReconciler on real stores (SQLite in memory and PostgreSQL); only the registry walk
 * is stood in for, so the test decides when each pass ends and how.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { PushgateConfig } from '../../../src/config/types.js';
import type { Gate } from '../../../src/gate/gate.js';
import { LostEventsReconciler, reconcileRecorded, type ReconcileOptions, type ReconcileResult } from '../../../src/gate/reconcile.js';
import { owedScope, pendingReconcile, recordReconcileDone, requestScope, walkedScope } from '../../../src/gate/reconcile-ledger.js';
import type { Store } from '../../../src/store/index.js';
import { openTestStore } from '../../helpers/postgres.js';

const REPOS = ['team/a', 'team/b', 'team/c'];
type Scope = 'registry' | string[];
type Op =
  | { k: 'request'; reg: number; scope: Scope; via: 'instance' | 'lost' }
  | { k: 'first'; reg: number }
  | { k: 'finish'; reg: number; outcome: 'ok' | 'errors' | 'throw' }
  | { k: 'crash' };

const scopeArb: fc.Arbitrary<Scope> = fc.oneof(fc.constant<Scope>('registry'), fc.subarray(REPOS, { minLength: 1 }));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('request' as const), reg: fc.nat(1), scope: scopeArb, via: fc.constantFrom('instance' as const, 'lost' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('first' as const), reg: fc.nat(1) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('finish' as const), reg: fc.nat(1), outcome: fc.constantFrom('ok' as const, 'errors' as const, 'throw' as const) }) },
  { weight: 2, arbitrary: fc.constant({ k: 'crash' as const }) },
);

const norm = (s: Scope | ReadonlySet<string>): Scope => (s === 'registry' ? 'registry' : [...s].sort());
const merge = (a: Scope | null, b: Scope): Scope => (a === 'registry' || b === 'registry' ? 'registry' : [...new Set([...(a ?? []), ...b])].sort());

/** The model of one registry: its request records (in order), completed passes, and what the live process holds. */
interface RegModel {
  requests: Array<Scope | undefined>;
  /** `except`: the repositories a pass of the whole registry could not read. */
  dones: Array<{ covers: number; scope: Scope; except?: string[] }>;
  running: { scope: Scope; covers: number } | null;
  queued: Scope | null;
}

/**
 * What no completed pass settled: a request is settled for a repository by a pass that started after it and
 * read it in full; a request of the whole registry with no pass of the whole registry after it owes the registry.
 */
function modelOwed(m: RegModel): Scope | undefined {
  let whole = false;
  const owed = new Set<string>();
  const walked = (d: RegModel['dones'][number], repo: string) => (d.scope === 'registry' ? !d.except?.includes(repo) : d.scope.includes(repo));
  m.requests.forEach((scope, i) => {
    const seq = i + 1;
    if (!scope) return;
    const after = m.dones.filter((d) => d.covers >= seq);
    if (scope === 'registry' && !after.some((d) => d.scope === 'registry')) whole = true;
    for (const repo of scope === 'registry' ? REPOS : scope) if (!after.some((d) => walked(d, repo))) owed.add(repo);
  });
  return whole ? 'registry' : owed.size ? [...owed].sort() : undefined;
}

/** The repository a pass that ends with errors could not read (its stand-in reports the first it was to read). */
const failedRepo = (scope: Scope): string => (scope === 'registry' ? 'team/a' : scope[0]!);

interface Call {
  registry: string;
  scope: Scope;
  settle: (outcome: 'ok' | 'errors' | 'throw') => void;
}

async function until(what: string, f: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`gate: owed reconciles outlive the process (${kind})`, function () {
    this.timeout(120_000);
    let store: Store;
    let done: () => Promise<void>;
    let run = 0;
    before(async () => {
      ({ store, done } = await openTestStore(kind, 'pushgate_ledger'));
    });
    after(async () => done());

    it('property: after a restart a pass runs iff a request is newer than the completed passes that walked it, over exactly what is owed; live passes are merged', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 3, maxLength: 24, size: 'max' }), async (ops) => {
          // Registries of their own per run: the store is shared by the runs.
          run++;
          const regs = [`r${run}x0`, `r${run}x1`];
          const config = { registries: regs.map((name) => ({ name })) } as unknown as PushgateConfig;
          const models: RegModel[] = regs.map(() => ({ requests: [], dones: [], running: null, queued: null }));
          let calls: Call[] = [];
          const startProcess = () => {
            const mine: Call[] = [];
            calls = mine;
            const pass = (o: ReconcileOptions) =>
              new Promise<ReconcileResult>((resolve, reject) => {
                const call: Call = {
                  registry: o.registry!,
                  scope: o.repositories ? [...new Set(o.repositories)].sort() : 'registry',
                  settle: (outcome) => {
                    mine.splice(mine.indexOf(call), 1);
                    if (outcome === 'throw') reject(new Error('catalog: connection refused'));
                    else resolve({ tags: 1, queued: 0, resumed: 0, errors: outcome === 'errors' ? [{ registry: o.registry!, repository: failedRepo(call.scope), message: '500' }] : [] });
                  },
                };
                mine.push(call);
              });
            return new LostEventsReconciler({ config, gate: {} as Gate, store, pass });
          };
          let rec = startProcess();
          const start = (m: RegModel, scope: Scope) => {
            m.running = { scope, covers: m.requests.length };
          };
          // Waits until the process is where the model says: a pass of each registry blocked in the walk, or none busy.
          const settled = async () => {
            for (const [i, reg] of regs.entries()) {
              const m = models[i]!;
              if (m.running) await until(`a pass of ${reg}`, () => calls.some((c) => c.registry === reg));
              else await until(`${reg} idle`, () => !rec.busy(reg));
              const c = calls.filter((x) => x.registry === reg);
              expect(c.length, `${reg}: passes running`).to.be.at.most(1);
              expect(c[0]?.scope, `${reg}: the running pass`).to.deep.equal(m.running?.scope);
            }
          };
          for (const op of ops) {
            if (op.k === 'crash') {
              // SIGKILL: the running passes never return and nothing more is written by that process.
              rec = startProcess();
              for (const m of models) {
                m.running = null;
                m.queued = null;
              }
              const asked = await rec.recover();
              for (const [i, m] of models.entries()) {
                const owed = modelOwed(m);
                expect(asked.find((a) => a.registry === regs[i])?.scope, `${regs[i]}: asked again after the restart`).to.deep.equal(owed);
                if (owed) start(m, owed);
              }
            } else {
              const reg = regs[op.reg]!;
              const m = models[op.reg]!;
              if (op.k === 'first') {
                await store.audit({ actor: reg, action: 'registry-instance-new', registry: reg, detail: { instanceID: `i${m.requests.length}`, reconcile: 'none', previous: [] } });
                m.requests.push(undefined);
              } else if (op.k === 'request') {
                // As the app does: the audit record first, then the in-memory request.
                const detail = op.scope === 'registry'
                  ? op.via === 'instance' ? { instanceID: `i${m.requests.length}`, reconcile: 'registry' } : { reason: 'oversized', reconcile: 'registry', repositories: [], repositoryCount: 0 }
                  : { reason: 'not-json', reconcile: 'repositories', repositories: op.scope, repositoryCount: op.scope.length };
                await store.audit({ actor: reg, action: op.scope === 'registry' && op.via === 'instance' ? 'registry-instance-new' : 'events-lost', registry: reg, detail });
                m.requests.push(op.scope);
                rec.request(reg, op.scope === 'registry' ? undefined : op.scope);
                if (m.running) m.queued = merge(m.queued, op.scope);
                else start(m, op.scope);
              } else {
                const call = calls.find((c) => c.registry === reg);
                if (call) {
                  call.settle(op.outcome);
                  const { covers, scope } = m.running!;
                  if (op.outcome === 'ok') m.dones.push({ covers, scope });
                  // A pass that could not read one repository settles what it read, and says what it could not.
                  if (op.outcome === 'errors') {
                    if (scope === 'registry') m.dones.push({ covers, scope, except: [failedRepo(scope)] });
                    else if (scope.length > 1) m.dones.push({ covers, scope: scope.slice(1) });
                  }
                  m.running = null;
                  if (m.queued) start(m, m.queued);
                  m.queued = null;
                }
              }
            }
            await settled();
          }
        }),
        { numRuns: kind === 'sqlite' ? 120 : 25 },
      );
    });
  });
}

describe('gate: reconcile requests and completions read from audit records', () => {
  it('an envelope record that kept fewer names than it held, or none, or no reconcile field, owes the whole registry; a first instance owes nothing', () => {
    expect(requestScope({ detail: { reconcile: 'repositories', repositories: ['a'], repositoryCount: 150 } })).to.equal('registry');
    expect(requestScope({ detail: { reconcile: 'repositories', repositories: [], repositoryCount: 0 } })).to.equal('registry');
    expect(requestScope({ detail: {} })).to.equal('registry');
    expect(requestScope({ detail: { reconcile: 'none' } })).to.equal(undefined);
    expect(norm(requestScope({ detail: { reconcile: 'repositories', repositories: ['b', 'a'], repositoryCount: 2 } })!)).to.deep.equal(['a', 'b']);
  });

  it('a pass settles only requests recorded before it started: one recorded during the pass stays owed', () => {
    const req = (seq: number, detail: Record<string, unknown>) => ({ seq, detail });
    const dones = [{ detail: { covers: 1, scope: 'registry' } }];
    expect(owedScope([req(1, { reconcile: 'registry' })], dones)).to.equal(undefined);
    expect(owedScope([req(2, { reconcile: 'registry' }), req(1, { reconcile: 'registry' })], dones)).to.equal('registry');
    // a pass of named repositories settles those repositories only
    const some = [{ detail: { covers: 5, scope: 'repositories', repositories: ['a'] } }];
    expect(norm(owedScope([req(4, { reconcile: 'repositories', repositories: ['a', 'b'], repositoryCount: 2 })], some)!)).to.deep.equal(['b']);
    expect(owedScope([req(4, { reconcile: 'registry' })], some)).to.equal('registry');
  });

  it('a pass of the whole registry that could not read some repositories settles the rest: those stay owed until a later pass reads them', () => {
    const req = (seq: number, detail: Record<string, unknown>) => ({ seq, detail });
    const partial = (covers: number, except: string[]) => ({ detail: { covers, scope: except.length ? 'registry-except' : 'registry', except } });
    const named = (covers: number, repositories: string[]) => ({ detail: { covers, scope: 'repositories', repositories } });
    expect(norm(owedScope([req(3, { reconcile: 'registry' })], [partial(3, ['x'])])!)).to.deep.equal(['x']);
    // Owed from the pass's start even with the requests before it no longer read (a reader stops at the pass).
    expect(norm(owedScope([], [partial(3, ['x'])])!)).to.deep.equal(['x']);
    expect(owedScope([], [partial(3, ['x']), named(3, ['x'])])).to.equal(undefined);
    expect(norm(owedScope([], [partial(3, ['x']), named(2, ['x'])])!), 'a pass that started before it').to.deep.equal(['x']);
    expect(owedScope([], [partial(3, ['x']), partial(4, [])])).to.equal(undefined);
    // Two passes after a request: what neither read.
    expect(norm(owedScope([req(3, { reconcile: 'registry' })], [partial(3, ['x', 'y']), partial(5, ['y', 'z'])])!)).to.deep.equal(['y', 'z']);
    expect(owedScope([req(6, { reconcile: 'registry' })], [partial(5, ['y'])]), 'a request after it').to.equal('registry');
    expect(norm(owedScope([req(6, { reconcile: 'repositories', repositories: ['y', 'w'], repositoryCount: 2 })], [partial(7, ['y'])])!)).to.deep.equal(['y']);
    // A record whose list of what it left out is not a list of names settles nothing.
    expect(owedScope([req(3, { reconcile: 'registry' })], [{ detail: { covers: 3, scope: 'registry', except: 'x' } }])).to.equal('registry');
    expect(owedScope([req(3, { reconcile: 'registry' })], [{ detail: { covers: 3, scope: 'registry', except: ['x', 7] } }])).to.equal('registry');
    expect(owedScope([req(3, { reconcile: 'registry' })], [{ detail: { covers: 3, scope: 'registry-except' } }])).to.equal('registry');
  });

  it('what a pass read in full: nothing when an error names no repository, nor when every named repository failed', () => {
    expect(walkedScope('registry', [{ repository: 'b' }, { repository: 'b' }])).to.deep.equal({ scope: 'registry', except: new Set(['b']) });
    expect(walkedScope('registry', [{ repository: 'b' }, {}])).to.equal(undefined);
    expect(walkedScope(new Set(['a', 'b']), [{ repository: 'b' }])?.scope).to.deep.equal(new Set(['a']));
    expect(walkedScope(new Set(['b']), [{ repository: 'b' }])).to.equal(undefined);
    expect(walkedScope('registry', Array.from({ length: 1001 }, (_, i) => ({ repository: `r${i}` }))), 'more than a record lists').to.equal(undefined);
  });

  /**
   * Property: generated request and completion records (passes of the whole registry that could not read
   * some repositories among them), in any order of `seq`: no repository a request asked for is missed unless
   * a pass that started after the request read it, and nothing is owed beyond what some request or some
   * pass's `except` left unread; a pass of the whole registry that read everything after all of them settles all.
   */
  it('property: never settles a repository no pass read after the request; owes nothing no request or except names', () => {
    const U = ['a', 'b', 'c', 'd'];
    type Rec = { k: 'req'; scope: Scope } | { k: 'done'; covers: number; scope: Scope; except: string[] };
    const recArb: fc.Arbitrary<Rec> = fc.oneof(
      fc.record({ k: fc.constant('req' as const), scope: fc.oneof(fc.constant<Scope>('registry'), fc.subarray(U, { minLength: 1 })) }),
      fc.record({ k: fc.constant('done' as const), covers: fc.nat(30), scope: fc.oneof(fc.constant<Scope>('registry'), fc.subarray(U, { minLength: 1 })), except: fc.subarray(U) }),
    );
    fc.assert(
      fc.property(fc.array(recArb, { maxLength: 30 }), (recs) => {
        const requests: Array<{ seq: number; detail: Record<string, unknown> }> = [];
        const dones: Array<{ detail: Record<string, unknown> }> = [];
        const passes: Array<{ covers: number; walked: (r: string) => boolean; whole: boolean; except: string[] }> = [];
        const asked: Array<{ seq: number; scope: Scope }> = [];
        recs.forEach((r, i) => {
          if (r.k === 'req') {
            requests.push({ seq: i + 1, detail: r.scope === 'registry' ? { reconcile: 'registry' } : { reconcile: 'repositories', repositories: r.scope, repositoryCount: r.scope.length } });
            asked.push({ seq: i + 1, scope: r.scope });
          } else if (r.scope === 'registry') {
            dones.push({ detail: { covers: r.covers, scope: r.except.length ? 'registry-except' : 'registry', ...(r.except.length ? { except: r.except } : {}) } });
            passes.push({ covers: r.covers, walked: (x) => !r.except.includes(x), whole: true, except: r.except });
          } else {
            const scope = r.scope;
            dones.push({ detail: { covers: r.covers, scope: 'repositories', repositories: scope } });
            passes.push({ covers: r.covers, walked: (x) => scope.includes(x), whole: false, except: [] });
          }
        });
        const got = owedScope(requests, dones);
        const has = (x: string) => got === 'registry' || (got !== undefined && got.has(x));
        for (const q of asked) {
          const after = passes.filter((p) => p.covers >= q.seq);
          if (q.scope === 'registry' && !after.some((p) => p.whole)) expect(got, `request ${q.seq}`).to.equal('registry');
          for (const x of q.scope === 'registry' ? U : q.scope) if (!after.some((p) => p.walked(x))) expect(has(x), `request ${q.seq}: ${x}`).to.equal(true);
        }
        if (got === 'registry') expect(asked.some((q) => q.scope === 'registry')).to.equal(true);
        else for (const x of got ?? []) expect(asked.some((q) => q.scope === 'registry' || q.scope.includes(x)) || passes.some((p) => p.except.includes(x)), x).to.equal(true);
        const last = Math.max(0, requests.length ? Math.max(...requests.map((q) => q.seq)) : 0);
        expect(owedScope(requests, [...dones, { detail: { covers: last + 40, scope: 'registry' } }])).to.equal(undefined);
      }),
      { numRuns: 300 },
    );
  });
});

describe('gate: passes that settle requests (SQLite)', () => {
  let store: Store;
  let done: () => Promise<void>;
  beforeEach(async () => {
    ({ store, done } = await openTestStore('sqlite', 'unused'));
  });
  afterEach(async () => done());

  const config = { registries: [{ name: 'lab', quarantine: { repositoryPrefix: 'quarantine/' } }, { name: 'down', quarantine: { repositoryPrefix: 'quarantine/' } }] } as unknown as PushgateConfig;
  const gate = (onCatalog: () => void = () => undefined) =>
    ({
      client: (name: string) => ({
        catalog: async () => {
          onCatalog();
          if (name === 'down') throw new Error('connect ECONNREFUSED');
          return ['team/a'];
        },
        listTags: async () => ['v1'],
        resolve: async () => undefined,
      }),
      resumeBlocked: async () => 0,
    }) as unknown as Gate;
  const restart = (registry: string) => store.audit({ actor: registry, action: 'registry-instance-new', registry, detail: { instanceID: 'x', reconcile: 'registry' } });

  it('a scheduled or operator pass (reconcileRecorded) settles the registries it read in full, not one whose catalog failed, nor any when aborted', async () => {
    await restart('lab');
    await restart('down');
    const ac = new AbortController();
    await reconcileRecorded({ config, gate: gate(() => ac.abort()), store, signal: ac.signal });
    expect(await pendingReconcile(store, 'lab'), 'aborted: nothing settled').to.equal('registry');
    await reconcileRecorded({ config, gate: gate(), store });
    expect(await pendingReconcile(store, 'lab')).to.equal(undefined);
    expect(await pendingReconcile(store, 'down'), 'its catalog could not be read').to.equal('registry');
  });

  it('a pass of the whole registry that could not read one repository settles the rest: the next start asks for that repository, not the registry', async () => {
    let failing = true;
    let catalogs = 0;
    const tagsOf: string[] = [];
    const g = {
      client: () => ({
        catalog: async () => {
          catalogs++;
          return ['team/a', 'team/b', 'team/c'];
        },
        listTags: async (repo: string) => {
          tagsOf.push(repo);
          if (repo === 'team/b' && failing) throw new Error('403 DENIED: requested access to the resource is denied');
          return ['v1'];
        },
        resolve: async () => undefined,
      }),
      resumeBlocked: async () => 0,
    } as unknown as Gate;
    const one = { registries: [config.registries[0]] } as unknown as PushgateConfig;
    await restart('lab');
    await reconcileRecorded({ config: one, gate: g, store });
    expect(norm((await pendingReconcile(store, 'lab'))!)).to.deep.equal(['team/b']);
    // Not `scope: registry`, which the previous version read as a pass that read everything.
    const [rec0] = await store.listAudit(1, { registry: 'lab', action: 'reconcile-done' });
    expect(rec0!.detail).to.include({ scope: 'registry-except' }).and.to.have.deep.property('except', ['team/b']);
    // A restarted serve: its passes read team/b only, however often the repository still fails.
    for (let i = 0; i < 3; i++) {
      tagsOf.length = 0;
      const rec = new LostEventsReconciler({ config: one, gate: g, store });
      expect(await rec.recover()).to.deep.equal([{ registry: 'lab', scope: ['team/b'] }]);
      await rec.idle;
      expect(tagsOf).to.deep.equal(['team/b']);
    }
    expect(catalogs, 'the registry walked once').to.equal(1);
    failing = false;
    const rec = new LostEventsReconciler({ config: one, gate: g, store });
    await rec.recover();
    await rec.idle;
    expect(await pendingReconcile(store, 'lab')).to.equal(undefined);
    // A request after the partial pass still owes the whole registry.
    await recordReconcileDone(store, 'lab', 0, 'registry', { tags: 0, queued: 0 }, new Set(['team/c']));
    await restart('lab');
    expect(await pendingReconcile(store, 'lab')).to.equal('registry');
  });

  it('a sweep leaves requests younger than its age to the process that made them', async () => {
    await restart('lab');
    expect(await pendingReconcile(store, 'lab', { minAgeMs: 60_000 })).to.equal(undefined);
    expect(await pendingReconcile(store, 'lab', { minAgeMs: 60_000, now: Date.now() + 61_000 })).to.equal('registry');
  });

  it('a sweep waits twice as long as the longest recent pass of the registry took before it walks again what a live process may still be walking', async () => {
    const min = 60_000;
    await store.audit({ actor: 'pushgate', action: 'reconcile-done', registry: 'lab', detail: { covers: 0, scope: 'registry', tags: 9, queued: 0, ms: 30 * min } });
    await restart('lab');
    const now = Date.now();
    expect(await pendingReconcile(store, 'lab', { minAgeMs: 10 * min, now: now + 15 * min }), 'younger than two passes').to.equal(undefined);
    expect(await pendingReconcile(store, 'lab', { minAgeMs: 10 * min, now: now + 61 * min })).to.equal('registry');
    // A process whose own pass failed knows nobody is walking: it asks again after the sweep's age.
    expect(await pendingReconcile(store, 'lab', { minAgeMs: 10 * min, now: now + 11 * min, passWait: false })).to.equal('registry');
    // At start (no age) at once; and never longer than 6 hours, however long a pass took.
    expect(await pendingReconcile(store, 'lab')).to.equal('registry');
    await store.audit({ actor: 'pushgate', action: 'reconcile-done', registry: 'lab', detail: { covers: 0, scope: 'repositories', repositories: ['x'], tags: 9, queued: 0, ms: 100 * 3600_000 } });
    expect(await pendingReconcile(store, 'lab', { minAgeMs: 10 * min, now: now + 361 * min })).to.equal('registry');
    // The passes record how long they took.
    const rec = new LostEventsReconciler({ config, gate: gate(), store, pass: async () => {
      await new Promise((r) => setTimeout(r, 30));
      return { tags: 1, queued: 0, resumed: 0, errors: [] };
    } });
    rec.request('lab', undefined);
    await rec.idle;
    const [last] = await store.listAudit(1, { registry: 'lab', action: 'reconcile-done' });
    expect(last!.detail!.ms).to.be.a('number').and.at.least(25);
  });

  it('a process whose own pass failed sweeps its registry after the sweep\'s age, not after the longest pass', async () => {
    await store.audit({ actor: 'pushgate', action: 'reconcile-done', registry: 'lab', detail: { covers: 0, scope: 'registry', tags: 9, queued: 0, ms: 3600_000 } });
    await restart('lab');
    const failing = new LostEventsReconciler({ config, gate: gate(), store, pass: async () => ({ tags: 0, queued: 0, resumed: 0, errors: [{ registry: 'lab', message: 'catalog: 503' }] }) });
    failing.request('lab', undefined);
    await failing.idle;
    await new Promise((r) => setTimeout(r, 5));
    expect(await new LostEventsReconciler({ config, gate: gate(), store }).recover(1), 'another process waits for the pass').to.deep.equal([]);
    expect(await failing.recover(1)).to.deep.equal([{ registry: 'lab', scope: 'registry' }]);
    failing.stop();
    await failing.idle;
  });

  it('a pass aborted by stop() is not recorded: the request stays owed for the next process', async () => {
    await restart('lab');
    let release: () => void = () => undefined;
    const rec = new LostEventsReconciler({ config, gate: gate(), store, pass: () => new Promise((r) => (release = () => r({ tags: 1, queued: 0, resumed: 0, errors: [] }))) });
    rec.request('lab', undefined);
    await until('the pass started', () => rec.busy('lab'));
    await new Promise((r) => setTimeout(r, 20));
    rec.stop();
    release();
    await rec.idle;
    expect(await pendingReconcile(store, 'lab')).to.equal('registry');
  });
});
