/**
 * The durable side of reconciles asked for because notifications were lost: a registry restart seen from a
 * new `source.instanceID` (`registry-instance-new` with `reconcile: registry`, src/server/registry-instances.ts)
 * or an envelope pushgate could not read (`events-lost`, src/server/app.ts). Both requests are audit records
 * written before the reconcile is asked for; a pass that completes leaves a `reconcile-done` record naming
 * the newest request record (by `seq`) that existed when the pass started, and what it walked. A request is
 * settled once a completed pass that started after it walked its repositories (a pass that could not read
 * some repositories records the rest as walked, and those as owed); any other request is still
 * owed, whichever process asked for it and whatever happened to that process since (a SIGKILL, an upgrade, a
 * replica scaled away): {@link pendingReconcile} reads what is owed so a starting process asks again.
 *
 * Why the request's `seq` and the pass's start, not the completion time: a request recorded while a pass
 * runs is for pushes that pass may have walked past, so only a later pass settles it. Why `seq` is safe on
 * PostgreSQL, where sequence numbers are taken before commit: a request whose number is below the newest one
 * a pass saw took its number before that one committed, so the pushes it stands for (all made before the
 * envelope that revealed them arrived) were in the registry before the pass started walking.
 */
import type { AuditRecord, Store } from '../store/index.js';

/** Audit actions that ask for a reconcile of a registry (some only of named repositories). */
export const RECONCILE_REQUEST_ACTIONS = ['registry-instance-new', 'events-lost'];
/** The audit action of a completed reconcile pass of one registry. */
export const RECONCILE_DONE_ACTION = 'reconcile-done';

/** What a reconcile walks: the whole registry, or these repositories. */
export type ReconcileScope = 'registry' | ReadonlySet<string>;

/** Records read per page while looking back. */
const PAGE = 200;
/** Request records read back at most: past them, older unread requests are assumed owed (the whole registry). */
const MAX_REQUESTS = 2000;
/** Completion records read back at most while looking for one of the whole registry. */
const MAX_DONES = 1000;
/** The longest a sweep waits for a live process's pass, however long passes of the registry took (6 h). */
const MAX_PASS_WAIT_MS = 6 * 3600_000;
/** Repositories named in one completion record (a longer list is cut: the repositories cut off count as not walked). */
const MAX_DONE_REPOSITORIES = 1000;

const strings = (x: unknown): string[] => (Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string') : []);

/**
 * The scope a request record asks for: undefined for a first instance (`reconcile: none`: nothing before it
 * could be lost). A record that kept fewer repository names than its envelope named (`repositoryCount`), or
 * none, or whose `reconcile` field is unknown, asks for the whole registry.
 */
export function requestScope(r: Pick<AuditRecord, 'detail'>): ReconcileScope | undefined {
  const d = r.detail ?? {};
  if (d.reconcile === 'none') return undefined;
  if (d.reconcile === 'repositories') {
    const repos = strings(d.repositories);
    const count = typeof d.repositoryCount === 'number' ? d.repositoryCount : repos.length;
    if (repos.length && count <= repos.length) return new Set(repos);
  }
  return 'registry';
}

/** A completed pass as its `reconcile-done` record states it. */
interface Pass {
  /** The newest request's `seq` when it started. */
  covers: number;
  scope: ReconcileScope;
  /** Of a pass of the whole registry: the repositories it could not read in full (empty for none). */
  except: ReadonlySet<string>;
}

const NOTHING: ReadonlySet<string> = new Set();

/**
 * The `scope` of a record of a pass of the whole registry that could not read the repositories in its
 * `except`. Not `registry`: a pushgate of the version before read any such record as a whole pass and
 * settled those repositories; it reads this one as a pass of no repository (settling nothing).
 */
const PARTIAL = 'registry-except';

/** The pass a `reconcile-done` record states, or undefined for a malformed one. */
function doneOf(r: Pick<AuditRecord, 'detail'>): Pass | undefined {
  const d = r.detail ?? {};
  if (typeof d.covers !== 'number') return undefined;
  if (d.scope === 'registry' || d.scope === PARTIAL) {
    const except = strings(d.except);
    // A list of what was left out that is not a list of strings cannot be trusted to name all of it.
    if (d.except !== undefined && (!Array.isArray(d.except) || except.length !== d.except.length)) return undefined;
    if (d.scope === PARTIAL && !except.length) return undefined;
    return { covers: d.covers, scope: 'registry', except: except.length ? new Set(except) : NOTHING };
  }
  return { covers: d.covers, scope: new Set(strings(d.repositories)), except: NOTHING };
}

/** Whether the pass `p` read `repo` in full. */
const walked = (p: Pass, repo: string): boolean => (p.scope === 'registry' ? !p.except.has(repo) : p.scope.has(repo));

/**
 * What is still owed, given request and completion records of one registry: the union of what the requests
 * asked for, less what a completed pass that started after each request (its `covers` ≥ the request's `seq`)
 * read in full; `registry` when an owed request asks for the whole registry and no pass of the whole registry
 * started after it; undefined when nothing is owed. A pass of the whole registry that could not read some
 * repositories (`except`) settles the requests before it but for those: they are owed from its start, as if
 * it had asked for them (a reader stops at the newest such pass and no longer sees the requests before it).
 * Pure: the records may come in any order.
 */
export function owedScope(requests: ReadonlyArray<Pick<AuditRecord, 'seq' | 'detail'>>, dones: ReadonlyArray<Pick<AuditRecord, 'detail'>>): ReconcileScope | undefined {
  const passes = dones.map(doneOf).filter((x): x is Pass => !!x);
  const full = Math.max(0, ...passes.filter((p) => p.scope === 'registry' && !p.except.size).map((p) => p.covers));
  const debts: Array<{ seq: number; scope: ReconcileScope }> = [];
  for (const q of requests) {
    const scope = requestScope(q);
    if (scope) debts.push({ seq: q.seq, scope });
  }
  for (const p of passes) if (p.scope === 'registry' && p.except.size) debts.push({ seq: p.covers, scope: p.except });
  const owed = new Set<string>();
  for (const d of debts) {
    if (d.seq <= full) continue;
    const after = passes.filter((p) => p.covers >= d.seq);
    let repos: Iterable<string>;
    if (d.scope === 'registry') {
      const whole = after.filter((p) => p.scope === 'registry');
      if (!whole.length) return 'registry';
      // What none of the passes of the whole registry read (each read every repository but its `except`).
      repos = [...whole[0]!.except].filter((r) => whole.every((p) => p.except.has(r)));
    } else repos = d.scope;
    for (const repo of repos) if (!after.some((p) => walked(p, repo))) owed.add(repo);
  }
  return owed.size ? owed : undefined;
}

/**
 * The newest request record's `seq` of `registry` (0 when none): read when a pass starts, it is what the
 * pass's completion record settles. @throws the store's error.
 */
export async function requestWatermark(store: Pick<Store, 'listAudit'>, registry: string): Promise<number> {
  const [r] = await store.listAudit(1, { registry, actions: RECONCILE_REQUEST_ACTIONS });
  return r?.seq ?? 0;
}

/**
 * What a completed (not aborted) pass over `scope` read in full, given its errors (ReconcileResult.errors of
 * one registry): everything but the repositories an error names. Undefined when it read nothing it can vouch
 * for: an error that names no repository (the catalog, the registry itself), or a pass of named repositories
 * that failed in each, or one of the whole registry that failed in more repositories than a record lists.
 */
export function walkedScope(scope: ReconcileScope, errors: ReadonlyArray<{ repository?: string }>): { scope: ReconcileScope; except: ReadonlySet<string> } | undefined {
  const failed = new Set<string>();
  for (const e of errors) {
    if (e.repository === undefined) return undefined;
    failed.add(e.repository);
  }
  if (scope === 'registry') return failed.size > MAX_DONE_REPOSITORIES ? undefined : { scope, except: failed.size ? failed : NOTHING };
  const read = new Set([...scope].filter((r) => !failed.has(r)));
  return read.size ? { scope: read, except: NOTHING } : undefined;
}

/**
 * Records a completed pass of `registry` over `scope` that started when `covers` was the newest request's
 * `seq` ({@link requestWatermark}). Only for what the pass read in full ({@link walkedScope}): a failed or
 * aborted pass must leave its requests owed, and a pass of the whole registry names the repositories it could
 * not read in `except` (they stay owed). @throws the store's error (the requests then stay owed), or an Error
 * when `except` is longer than a record lists (cut, it would settle what was not read).
 */
export async function recordReconcileDone(store: Pick<Store, 'audit'>, registry: string, covers: number, scope: ReconcileScope, counts: { tags: number; queued: number; owner?: string; ms?: number }, except: ReadonlySet<string> = NOTHING): Promise<void> {
  if (except.size > MAX_DONE_REPOSITORIES) throw new Error(`a reconcile that could not read ${except.size} repositories is not recorded as done`);
  const kind = scope !== 'registry' ? 'repositories' : except.size ? PARTIAL : 'registry';
  const detail: Record<string, unknown> = { covers, scope: kind, tags: counts.tags, queued: counts.queued, ...(counts.owner ? { owner: counts.owner } : {}), ...(counts.ms !== undefined ? { ms: Math.round(counts.ms) } : {}) };
  if (scope !== 'registry') detail.repositories = [...scope].slice(0, MAX_DONE_REPOSITORIES);
  else if (except.size) detail.except = [...except];
  await store.audit({ actor: 'pushgate', action: RECONCILE_DONE_ACTION, registry, detail });
}

/**
 * What reconcile of `registry` is still owed ({@link owedScope}) from its audit records: the completion records
 * back to the newest one of the whole registry (at most 1000), and the request records newer than that one
 * (at most 2000: a longer backlog owes the whole registry). `minAgeMs` leaves out requests younger than that,
 * or than twice the longest pass those completion records took (`ms`; at most 6 h), by their `at` against
 * `now`: a live process is probably still working on them (a pass of a big registry outlasts a sweep's
 * interval, and every replica's sweep would start one more walk of it); `passWait: false` waits `minAgeMs`
 * only (the caller's own pass of the registry failed: nobody is working on them). @throws the store's error.
 */
export async function pendingReconcile(store: Pick<Store, 'listAudit'>, registry: string, opts: { minAgeMs?: number; now?: number; passWait?: boolean } = {}): Promise<ReconcileScope | undefined> {
  const dones: AuditRecord[] = [];
  let whole = 0;
  for (let before: number | undefined; dones.length < MAX_DONES; ) {
    const page = await store.listAudit(PAGE, { registry, action: RECONCILE_DONE_ACTION, ...(before !== undefined ? { beforeSeq: before } : {}) });
    dones.push(...page);
    const w = page.map(doneOf).find((p) => p?.scope === 'registry');
    if (w) {
      whole = w.covers;
      break;
    }
    if (page.length < PAGE) break;
    before = page[page.length - 1]!.seq;
  }
  const requests: AuditRecord[] = [];
  let reachedWhole = false;
  for (let before: number | undefined; ; ) {
    const page = await store.listAudit(PAGE, { registry, actions: RECONCILE_REQUEST_ACTIONS, ...(before !== undefined ? { beforeSeq: before } : {}) });
    for (const r of page) {
      if (r.seq <= whole) {
        reachedWhole = true;
        break;
      }
      requests.push(r);
    }
    if (reachedWhole || page.length < PAGE) break;
    if (requests.length >= MAX_REQUESTS) return 'registry';
    before = page[page.length - 1]!.seq;
  }
  const longest = Math.max(0, ...dones.map((d) => (typeof d.detail?.ms === 'number' && Number.isFinite(d.detail.ms) ? d.detail.ms : 0)));
  const wait = opts.minAgeMs ? Math.max(opts.minAgeMs, opts.passWait === false ? 0 : Math.min(2 * longest, MAX_PASS_WAIT_MS)) : 0;
  const cutoff = (opts.now ?? Date.now()) - wait;
  const old = wait ? requests.filter((r) => Date.parse(r.at) <= cutoff) : requests;
  return owedScope(old, dones);
}
