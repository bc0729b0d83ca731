/**
 * Reconciliation (issue 6, DESIGN.md §3 `pushgate reconcile`): walk the guarded registries'
 * repositories and tags, and queue every manifest the store has no verdict for (under that tag).
 * This catches notifications a registry lost (Distribution keeps its delivery queue in memory, so
 * a registry restart drops pending events: protocols.md §1.5) and images pushed before pushgate
 * was installed. The queued events are processed like notifications: judged once, enforced. Events
 * that outlived their retry budget while a registry did not answer (`blocked-on-registry`) are
 * queued again once its catalog can be read.
 */
import { PushgateError, isBlocking, type Verdict } from '../core/index.js';
import { createHash } from 'node:crypto';
import type { PushgateConfig } from '../config/types.js';
import type { Store } from '../store/index.js';
import { ListingBoundError } from '../registry/client.js';
import type { Gate, Logger } from './gate.js';
import { scheduleClusterJob } from './cluster-jobs.js';
import { pendingReconcile, recordReconcileDone, requestWatermark, walkedScope } from './reconcile-ledger.js';

/** Options of {@link reconcile}. */
export interface ReconcileOptions {
  config: PushgateConfig;
  gate: Gate;
  store: Store;
  logger?: Logger;
  /** Only this configured registry (`registries[].name`). */
  registry?: string;
  /** Stops between tags when aborted (serve's shutdown). */
  signal?: AbortSignal;
  /**
   * Only these repositories of the registry (no catalog walk): the repositories a lost notification
   * envelope named. Recorded quarantine copies are still skipped.
   */
  repositories?: string[];
}

/** What a pass found. */
export interface ReconcileResult {
  /** Tags looked at. */
  tags: number;
  /** Tags queued because no verdict names them. */
  queued: number;
  /** Events that were blocked on a registry (it did not answer) and are queued again because it answers now. */
  resumed: number;
  /** Repositories or tags that could not be read (registry errors; the pass goes on). */
  errors: Array<{ registry: string; repository?: string; tag?: string; message: string }>;
  /**
   * Listings that stopped at their bound ({@link ListLimits}: a catalog of a registry, the tags of a
   * repository, `repository` absent for the catalog): walked up to the bound and for what the store
   * knows (repositories and tags of stored verdicts), reported (log, metric, audit), not an error (a
   * later pass cannot read past the bound either).
   */
  truncated?: Array<{ registry: string; repository?: string; limit: string; read: number; known: number }>;
}

/** Most stored verdicts read for what the store knows of a listing cut at its bound. */
const KNOWN_SCAN = 500_000;

/**
 * What the store knows of a listing cut at its bound: the repositories of `registry`'s stored verdicts
 * (`repository` undefined), or the tags the stored verdicts of `repository` list. At most
 * {@link KNOWN_SCAN} verdicts are read.
 */
async function knownFromStore(store: Store, registry: string, repository?: string): Promise<string[]> {
  const out = new Set<string>();
  let after: Awaited<ReturnType<Store['pageVerdicts']>>['next'];
  for (let read = 0; read < KNOWN_SCAN;) {
    const page = await store.pageVerdicts({ registry, repository, after, limit: 1000 });
    read += page.items.length;
    for (const v of page.items) {
      if (v.registry !== registry) continue;
      if (repository === undefined) out.add(v.repository);
      else if (v.repository === repository) for (const t of v.tags) out.add(t);
    }
    if (!page.next || !page.items.length) break;
    after = page.next;
  }
  return [...out];
}

/**
 * `partial` (what the registry listed up to the bound) and what the store knows of the listing, for a
 * listing that stopped at its bound; the cut is logged, counted and audited. A pusher who pushes more
 * tags than the bound would otherwise have the whole repository skipped: its blocked images pushed back
 * under a known tag, and its unjudged ones listed before the bound, went unseen.
 */
async function walkWhatIsKnown(opts: ReconcileOptions, result: ReconcileResult, registry: string, e: ListingBoundError, repository?: string): Promise<string[]> {
  const known = await knownFromStore(opts.store, registry, repository);
  const all = [...new Set([...e.partial, ...known])];
  (result.truncated ??= []).push({ registry, repository, limit: e.limit, read: e.partial.length, known: known.length });
  opts.gate.countListingTruncated(registry, repository === undefined ? 'catalog' : 'tags');
  opts.logger?.warn({ registry, repository, limit: e.limit, read: e.partial.length, known: known.length, err: e.message }, `reconcile: the ${repository === undefined ? 'catalog' : 'tag list'} is longer than pushgate reads; walking what was read and what the store knows`);
  await opts.store.audit({ actor: 'pushgate', action: 'listing-truncated', registry, repository, detail: { listing: repository === undefined ? 'catalog' : 'tags', limit: e.limit, read: e.partial.length, known: known.length } })
    .catch((err: Error) => opts.logger?.warn({ registry, repository, err: err.message }, 'could not audit a truncated listing'));
  return all;
}

/**
 * One reconciliation pass. Repositories under a registry's quarantine prefix are walked like any
 * other: only the quarantine copies pushgate recorded there are skipped, so an image someone else
 * pushed into the prefix is judged. A tag counts as judged when the verdict of the digest it points at
 * lists it, is final ({@link isFinalVerdict}) and does not block for that tag ({@link blocksTag}): an
 * incomplete verdict, one whose enforcement failed, or a blocking digest the tag was pushed back to
 * is queued again. The queued event's id is derived from (registry, repository, tag, digest, and the
 * evaluation time of a verdict queued again), so two passes (or two replicas) queue a missed manifest
 * once, and a verdict queued again once per evaluation, and only while no event of its digest and tag is live.
 * @throws PushgateError NOT_FOUND when `opts.registry` is not configured.
 */
export async function reconcile(opts: ReconcileOptions): Promise<ReconcileResult> {
  const { config, gate, store } = opts;
  const result: ReconcileResult = { tags: 0, queued: 0, resumed: 0, errors: [], truncated: [] };
  if (opts.registry && !config.registries.some((r) => r.name === opts.registry)) {
    throw new PushgateError('NOT_FOUND', `--registry ${opts.registry}: no such registry in the configuration (registries[].name: ${config.registries.map((r) => r.name).join(', ') || 'none'})`);
  }
  for (const rc of config.registries) {
    if (opts.registry && rc.name !== opts.registry) continue;
    const client = gate.client(rc.name);
    let repos: string[];
    try {
      repos = opts.repositories ? [...new Set(opts.repositories)] : await client.catalog();
    } catch (e) {
      if (e instanceof ListingBoundError) repos = await walkWhatIsKnown(opts, result, rc.name, e);
      else {
        result.errors.push({ registry: rc.name, message: (e as Error).message });
        opts.logger?.warn({ registry: rc.name, err: (e as Error).message }, 'reconcile: catalog could not be read');
        continue;
      }
    }
    // The registry answers: the events that outlived their retry budget while it did not go back to the queue.
    try {
      result.resumed += await gate.resumeBlocked(rc.name);
    } catch (e) {
      result.errors.push({ registry: rc.name, message: `blocked events could not be resumed: ${(e as Error).message}` });
    }
    for (const repo of repos) {
      let tags: string[];
      try {
        tags = await client.listTags(repo);
      } catch (e) {
        if (e instanceof ListingBoundError) {
          try {
            tags = await walkWhatIsKnown(opts, result, rc.name, e, repo);
          } catch (err) {
            result.errors.push({ registry: rc.name, repository: repo, message: `${e.message}; what the store knows could not be read: ${(err as Error).message}` });
            continue;
          }
        } else {
          result.errors.push({ registry: rc.name, repository: repo, message: (e as Error).message });
          continue;
        }
      }
      for (const tag of tags) {
        if (opts.signal?.aborted) return result;
        result.tags++;
        try {
          const r = await client.resolve(repo, tag);
          if (!r) continue;
          const v = await store.getVerdict(rc.name, repo, r.digest);
          const again = v !== undefined && (!isFinalVerdict(v) || blocksTag(gate, v, tag));
          if (v && v.tags.includes(tag) && !again) continue;
          if (await gate.isRecordedQuarantineCopy(rc.name, repo, r.digest)) continue;
          const attempt = again ? `\0${v.evaluatedAt}` : '';
          const id = `reconcile-${createHash('sha256').update(`${rc.name}\0${repo}\0${tag}\0${r.digest}${attempt}`).digest('hex').slice(0, 32)}`;
          // A verdict queued again waits for a live event of its digest and tag (queued, running, parked):
          // each processing stores a new evaluation time, so while enforcement keeps failing every pass
          // would add one more event, held behind the earlier ones of its tag, without bound. Only of its
          // tag: an event of another tag is enforced under that tag's mapping (an allowed dev tag does not
          // act on a blocked prod tag), and a pusher can keep one queued by pushing that tag over and over.
          const { inserted } = await gate.ingest({ id, source: 'reconcile', registry: rc.name, action: 'push', repository: repo, digest: r.digest, tag, mediaType: r.mediaType, actor: 'pushgate-reconcile' }, { unlessPending: again ? 'tag' : false });
          if (inserted) result.queued++;
        } catch (e) {
          result.errors.push({ registry: rc.name, repository: repo, tag, message: (e as Error).message });
        }
      }
    }
  }
  opts.logger?.info({ tags: result.tags, queued: result.queued, resumed: result.resumed, errors: result.errors.length, truncated: result.truncated?.length ?? 0 }, 'reconcile pass done');
  return result;
}

/**
 * {@link reconcile}, then a `reconcile-done` record (src/gate/reconcile-ledger.ts) for each registry the pass
 * read (not aborted; no error of that registry outside its repositories, {@link walkedScope}: a repository
 * that could not be read is named in the record and stays owed), so the requests recorded before the pass started
 * (registry restarts, lost envelopes) are settled and not asked again by a restarted `pushgate serve`. The
 * request watermarks are read before the walk; a registry whose watermark or record cannot be read or written
 * is logged and stays owed. Same errors as {@link reconcile}.
 */
export async function reconcileRecorded(opts: ReconcileOptions & { owner?: string }): Promise<ReconcileResult> {
  const names = opts.config.registries.map((r) => r.name).filter((n) => !opts.registry || n === opts.registry);
  const covers = new Map<string, number>();
  for (const name of names) {
    try {
      covers.set(name, await requestWatermark(opts.store, name));
    } catch (e) {
      opts.logger?.warn({ registry: name, err: (e as Error).message }, 'could not read the reconcile requests; the pass runs but is not recorded as done');
    }
  }
  const started = Date.now();
  const r = await reconcile(opts);
  if (opts.signal?.aborted) return r;
  const ms = Date.now() - started;
  const scope = opts.repositories ? new Set(opts.repositories) : 'registry';
  for (const [name, seq] of covers) {
    const read = walkedScope(scope, r.errors.filter((e) => e.registry === name));
    if (!read) continue;
    await recordReconcileDone(opts.store, name, seq, read.scope, { tags: r.tags, queued: r.queued, owner: opts.owner, ms }, read.except).catch((e: Error) =>
      opts.logger?.warn({ registry: name, err: e.message }, 'could not record the completed reconcile; it is asked for again at the next start'),
    );
  }
  return r;
}

/**
 * Runs {@link reconcile} every `intervalMs` (config `reconcile.interval`; 0 = off), once per cluster: the
 * replicas sharing the store take turns through a job lease (src/gate/cluster-jobs.ts), a pass starts one
 * interval after the last one ended, whichever replica ran it, and a replica that dies mid-pass hands over
 * when its lease expires. Each pass leaves a `reconcile-pass` audit record (owner, start on the database's
 * clock, counts), and a `reconcile-done` record of each registry it read in full ({@link reconcileRecorded}).
 * Returns a stopper that aborts a running pass.
 */
export function scheduleReconcile(opts: Omit<ReconcileOptions, 'signal'> & { intervalMs: number }): () => void {
  if (!opts.intervalMs || opts.intervalMs <= 0) return () => undefined;
  return scheduleClusterJob({
    store: opts.store,
    logger: opts.logger,
    name: 'reconcile',
    intervalMs: opts.intervalMs,
    run: async ({ signal, startedAt, owner }) => {
      const r = await reconcileRecorded({ ...opts, signal, owner });
      await opts.store.audit({ actor: 'pushgate', action: 'reconcile-pass', detail: { owner, startedAt, tags: r.tags, queued: r.queued, resumed: r.resumed, errors: r.errors.length, aborted: signal.aborted } });
    },
  });
}

/**
 * Whether `tag` pointing at `v`'s digest is a state enforcement never leaves behind: the verdict, as
 * seen from that tag under the policy in force, blocks in `enforce` mode (a release turns every
 * evaluation to allow). Enforcing such a verdict takes the tag off the digest (quarantine, restore,
 * delete), so finding the tag there again means it was pushed back, by tag, under a notification
 * pushgate never handled (a registry restart dropped it): a final verdict that lists the tag
 * from its first push must not make reconcile pass it by.
 */
export function blocksTag(gate: Pick<Gate, 'viewFor'>, v: Verdict, tag: string): boolean {
  if (v.reasons.some((r) => r.rule === 'released')) return false;
  const view = gate.viewFor(v, tag);
  return isBlocking(view.decision) && view.mode === 'enforce';
}

/**
 * True when a verdict needs no more work: the scan completed and its enforcement did not fail, or
 * an operator released the image (a `released` reason). A verdict that could not be completed
 * (registry auth, network, scan error) or whose enforcement failed is not final: reconcile and
 * {@link scheduleUnfinishedRetry} queue it again until it is.
 */
export function isFinalVerdict(v: Verdict): boolean {
  if (v.reasons.some((r) => r.rule === 'released')) return true;
  return v.complete && v.enforcement?.status !== 'failed';
}

/** What one {@link retryUnfinished} pass did. */
export interface RetryResult {
  /** Unfinished verdicts seen (tagged ones; an untagged index child is retried with its index). */
  unfinished: number;
  /** Events queued (one per tag of an unfinished verdict, once per evaluation). */
  queued: number;
}

/**
 * Queues the tags of every stored verdict that is not final ({@link isFinalVerdict}) and was
 * evaluated at least `minAgeMs` ago, so an image judged while the registry refused pushgate (an
 * expired robot account, a token issuer outage, a network split) is judged and enforced again once
 * the registry answers, without an operator. Reads the newest `limit` verdicts.
 */
export async function retryUnfinished(opts: { gate: Gate; store: Store; logger?: Logger; minAgeMs?: number; limit?: number; now?: number }): Promise<RetryResult> {
  const now = opts.now ?? Date.now();
  const out: RetryResult = { unfinished: 0, queued: 0 };
  const verdicts = await opts.store.listVerdicts({ limit: opts.limit ?? 5000 });
  for (const v of verdicts) {
    if (isFinalVerdict(v) || !v.tags.length) continue;
    if (now - Date.parse(v.evaluatedAt) < (opts.minAgeMs ?? 0)) continue;
    out.unfinished++;
    for (const tag of v.tags) {
      const id = `retry-${createHash('sha256').update(`${v.registry}\0${v.repository}\0${tag}\0${v.digest}\0${v.evaluatedAt}`).digest('hex').slice(0, 32)}`;
      // Not while an event of the digest and tag is live (see reconcile): its processing is the retry.
      // Per tag: the first tag's new event must not stand in for the other tags of the verdict.
      const { inserted } = await opts.gate.ingest({ id, source: 'reconcile', registry: v.registry, action: 'push', repository: v.repository, digest: v.digest, tag, actor: 'pushgate-retry' }, { unlessPending: 'tag' });
      if (inserted) out.queued++;
    }
  }
  if (out.queued) opts.logger?.info({ ...out }, 'unfinished verdicts queued again');
  return out;
}

/**
 * Runs {@link retryUnfinished} every `intervalMs`, once per cluster (a job lease, as {@link scheduleReconcile});
 * a verdict is retried once it is `intervalMs` old, so a registry that keeps refusing costs one attempt per
 * tag and interval. Returns a stopper.
 */
export function scheduleUnfinishedRetry(opts: { gate: Gate; store: Store; logger?: Logger; intervalMs: number }): () => void {
  if (!opts.intervalMs || opts.intervalMs <= 0) return () => undefined;
  return scheduleClusterJob({ store: opts.store, logger: opts.logger, name: 'retry-unfinished', intervalMs: opts.intervalMs, run: () => retryUnfinished({ ...opts, minAgeMs: opts.intervalMs }) });
}

/** Options of {@link LostEventsReconciler}. */
export type LostEventsReconcilerOptions = Omit<ReconcileOptions, 'signal' | 'registry' | 'repositories'> & {
  /** The pass (default {@link reconcile}; tests stand in a controlled one). */
  pass?: (opts: ReconcileOptions) => Promise<ReconcileResult>;
  /** Owner named in completion records (default: none). */
  owner?: string;
};

/**
 * Reconciles what lost notifications named, one pass per registry at a time: a request while a
 * pass runs is merged into the next pass (repositories are unioned; "the whole registry" wins).
 * A pass that was not aborted leaves a `reconcile-done` audit record (src/gate/reconcile-ledger.ts) of what
 * it read in full, so the requests it settled are not asked again (a repository whose tags could not be read
 * stays owed alone: one repository a robot account may not read does not make every sweep walk the whole
 * registry again); the requests
 * no completed pass settled (this process was killed mid-pass, a pass failed, a replica went away) are
 * asked again by {@link LostEventsReconciler.recover}, which serve calls at start and every few minutes.
 */
export class LostEventsReconciler {
  private readonly pending = new Map<string, Set<string> | 'all'>();
  private readonly running = new Set<string>();
  /** Registries whose last pass here did not read everything: their sweep need not wait for a pass to end. */
  private readonly unfinished = new Set<string>();
  private readonly ac = new AbortController();
  /** Resolves when no pass is running or pending (tests). */
  idle: Promise<void> = Promise.resolve();

  constructor(private readonly opts: LostEventsReconcilerOptions) {}

  /**
   * Asks for a pass over `repositories` of `registry` (undefined: every repository).
   * Never throws; a failed pass is logged and stays owed (asked again by {@link recover}).
   */
  request(registry: string, repositories: string[] | undefined): void {
    if (this.ac.signal.aborted) return;
    const cur = this.pending.get(registry);
    if (!repositories || cur === 'all') this.pending.set(registry, 'all');
    else this.pending.set(registry, new Set([...(cur ?? []), ...repositories]));
    if (!this.running.has(registry)) this.idle = Promise.all([this.idle, this.run(registry)]).then(() => undefined);
  }

  /** Whether a pass of `registry` is running or waiting in this process. */
  busy(registry: string): boolean {
    return this.running.has(registry) || this.pending.has(registry);
  }

  /**
   * Asks again for every reconcile the store says is owed ({@link pendingReconcile}) for each configured
   * registry this process is not already reconciling; requests younger than `minAgeMs` are left to the
   * process that made them. Never throws: a registry whose records cannot be read is logged and left for
   * the next call. @returns the registries asked for, with what.
   */
  async recover(minAgeMs = 0): Promise<Array<{ registry: string; scope: 'registry' | string[] }>> {
    const asked: Array<{ registry: string; scope: 'registry' | string[] }> = [];
    for (const rc of this.opts.config.registries) {
      if (this.ac.signal.aborted) break;
      if (this.busy(rc.name)) continue;
      let owed: Awaited<ReturnType<typeof pendingReconcile>>;
      try {
        owed = await pendingReconcile(this.opts.store, rc.name, { minAgeMs, passWait: !this.unfinished.has(rc.name) });
      } catch (e) {
        this.opts.logger?.warn({ registry: rc.name, err: (e as Error).message }, 'could not read which reconciles are owed; trying again later');
        continue;
      }
      if (!owed || this.busy(rc.name)) continue;
      const scope = owed === 'registry' ? 'registry' : [...owed].sort();
      this.opts.logger?.warn({ registry: rc.name, repositories: scope === 'registry' ? 'all' : scope.length }, `a reconcile of registry ${rc.name} asked for after lost notifications never completed; reconciling now`);
      asked.push({ registry: rc.name, scope });
      this.request(rc.name, scope === 'registry' ? undefined : scope);
    }
    return asked;
  }

  private async run(registry: string): Promise<void> {
    this.running.add(registry);
    const { store, logger } = this.opts;
    try {
      for (;;) {
        const what = this.pending.get(registry);
        if (!what || this.ac.signal.aborted) return;
        this.pending.delete(registry);
        // Read before the walk: the requests recorded so far are the ones this pass can settle.
        let covers: number | undefined;
        try {
          covers = await requestWatermark(store, registry);
        } catch (e) {
          logger?.warn({ registry, err: (e as Error).message }, 'could not read the reconcile requests; the pass runs but is not recorded as done');
        }
        const started = Date.now();
        try {
          const r = await (this.opts.pass ?? reconcile)({ ...this.opts, registry, repositories: what === 'all' ? undefined : [...what], signal: this.ac.signal });
          // What it read in full is settled; a repository it could not read stays owed (asked again by recover).
          const read = this.ac.signal.aborted ? undefined : walkedScope(what === 'all' ? 'registry' : what, r.errors);
          const complete = !!read && !read.except.size && (read.scope === 'registry' || read.scope.size === (what === 'all' ? 0 : what.size));
          if (complete) this.unfinished.delete(registry);
          else this.unfinished.add(registry);
          logger?.info({ registry, repositories: what === 'all' ? 'all' : what.size, queued: r.queued, errors: r.errors.length, complete }, 'reconcile after lost notifications done');
          if (read && covers !== undefined) {
            await recordReconcileDone(store, registry, covers, read.scope, { tags: r.tags, queued: r.queued, owner: this.opts.owner, ms: Date.now() - started }, read.except).catch((e: Error) =>
              logger?.warn({ registry, err: e.message }, 'could not record the completed reconcile; it is asked for again at the next start'),
            );
          }
        } catch (e) {
          this.unfinished.add(registry);
          logger?.warn({ registry, err: (e as Error).message }, 'reconcile after lost notifications failed');
        }
      }
    } finally {
      this.running.delete(registry);
    }
  }

  /** Aborts a running pass and drops pending ones (they stay owed in the store). */
  stop(): void {
    this.ac.abort();
    this.pending.clear();
  }
}
