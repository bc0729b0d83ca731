/**
 * The durable side of reconciles asked for because notifications were lost: a registry restart seen from a
 * new `source.instanceID` (`registry-instance-new` with `reconcile: registry`, src/server/registry-instances.ts)
 * or an envelope pushgate could not read (`events-lost`, src/server/app.ts). Both requests are audit records
 * written before the reconcile is asked for; a pass that completes leaves a `reconcile-done` record naming
 * the newest request record (by `seq`) that existed when the pass started, and what it walked. A request is
 * settled once a completed pass that started after it walked its repositories; any other request is still
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

/** The scope and start watermark a `reconcile-done` record states, or undefined for a malformed one. */
function doneOf(r: Pick<AuditRecord, 'detail'>): { covers: number; scope: ReconcileScope } | undefined {
  const d = r.detail ?? {};
  if (typeof d.covers !== 'number') return undefined;
  return { covers: d.covers, scope: d.scope === 'registry' ? 'registry' : new Set(strings(d.repositories)) };
}

/**
 * What is still owed, given request and completion records of one registry: the union of what the requests
 * asked for, less what a completed pass that started after each request (its `covers` ≥ the request's `seq`)
 * walked; `registry` when an owed request asks for the whole registry; undefined when nothing is owed.
 * Pure: the records may come in any order.
 */
export function owedScope(requests: ReadonlyArray<Pick<AuditRecord, 'seq' | 'detail'>>, dones: ReadonlyArray<Pick<AuditRecord, 'detail'>>): ReconcileScope | undefined {
  const passes = dones.map(doneOf).filter((x): x is NonNullable<typeof x> => !!x);
  const whole = Math.max(0, ...passes.filter((p) => p.scope === 'registry').map((p) => p.covers));
  const owed = new Set<string>();
  for (const q of requests) {
    if (q.seq <= whole) continue;
    const scope = requestScope(q);
    if (!scope) continue;
    if (scope === 'registry') return 'registry';
    for (const repo of scope) {
      if (!passes.some((p) => p.covers >= q.seq && p.scope !== 'registry' && p.scope.has(repo))) owed.add(repo);
    }
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
 * Records a completed pass of `registry` over `scope` that started when `covers` was the newest request's
 * `seq` ({@link requestWatermark}). Only for a pass that read everything it was to read: a failed, aborted or
 * partial pass must leave its requests owed. @throws the store's error (the requests then stay owed).
 */
export async function recordReconcileDone(store: Pick<Store, 'audit'>, registry: string, covers: number, scope: ReconcileScope, counts: { tags: number; queued: number; owner?: string }): Promise<void> {
  const detail: Record<string, unknown> = { covers, scope: scope === 'registry' ? 'registry' : 'repositories', tags: counts.tags, queued: counts.queued, ...(counts.owner ? { owner: counts.owner } : {}) };
  if (scope !== 'registry') detail.repositories = [...scope].slice(0, MAX_DONE_REPOSITORIES);
  await store.audit({ actor: 'pushgate', action: RECONCILE_DONE_ACTION, registry, detail });
}

/**
 * What reconcile of `registry` is still owed ({@link owedScope}) from its audit records: the completion records
 * back to the newest one of the whole registry (at most 1000), and the request records newer than that one
 * (at most 2000: a longer backlog owes the whole registry). `minAgeMs` leaves out requests younger than that
 * (by their `at`, against `now`): a live process is probably still working on them. @throws the store's error.
 */
export async function pendingReconcile(store: Pick<Store, 'listAudit'>, registry: string, opts: { minAgeMs?: number; now?: number } = {}): Promise<ReconcileScope | undefined> {
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
  const cutoff = (opts.now ?? Date.now()) - (opts.minAgeMs ?? 0);
  const old = opts.minAgeMs ? requests.filter((r) => Date.parse(r.at) <= cutoff) : requests;
  return owedScope(old, dones);
}
