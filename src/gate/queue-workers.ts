/**
 * The queue's workers: claim events from the store (leases, heartbeats), run them through the gate, and
 * settle failures: backoff and retry, a bounded wait for a manifest the registry does not show yet, the
 * end of the retry budget (an incomplete verdict, enforced), `blocked-on-registry` while the registry does
 * not answer, and the probe that resumes those events when it does. Store failures anywhere here are logged,
 * counted and retried, never an unhandled rejection. The gate (src/gate/gate.ts) owns judging and
 * enforcing; this room owns when and how often.
 */
import { randomUUID } from 'node:crypto';
import { blockingRules, isPushgateError, PushgateError, type Enforcement, type PushEvent, type RawEvaluation, type Verdict } from '../core/index.js';
import type { PushgateConfig, RegistryConfig } from '../config/types.js';
import type { CompiledPolicy } from '../policy/index.js';
import { candidateRuleSets, evaluateRuleSet } from '../policy/index.js';
import type { RegistryClient } from '../registry/client.js';
import { isOverLimit } from '../registry/errors.js';
import type { QueuedEvent, Store } from '../store/index.js';
import type { VulnDb } from '../vulndb/index.js';
import type { GateCounters, Logger } from './gate.js';
import type { TagLinkClock } from '../enforce/index.js';
import { DeferredEnforcement } from './digest-pushes.js';
import { claimedEventAge, TAG_LINK_HAND_BACKS } from './tag-links.js';
import type { AuditEntry } from './types.js';
import { summarize, withView, type VerdictView } from './verdict-view.js';

/** Attempts of a queued event when `queue.maxAttempts` is not configured. */
const DEFAULT_MAX_ATTEMPTS = 10;
/**
 * Attempts of an event whose manifest the registry says is not there before it completes without a
 * verdict: registries on eventually consistent storage (S3) can answer 404 just after the push.
 */
const NOT_FOUND_ATTEMPTS = 3;
/** Default interval of the probe of registries with blocked events, ms. */
const DEFAULT_PROBE_MS = 10_000;
/**
 * How long an event parked while its registry answered (it refuses the enforcement, or the scan keeps
 * failing) waits before a probe may resume it, ms. Parked because the registry did not answer: at once.
 */
const PARK_HOLD_MS = 5 * 60_000;

/** A claimed event as the gate handles it. */
export interface QueueJob {
  seq: number;
  worker: string;
  /**
   * The event's age (ms since pushgate stored it, on the store's clock at the claim, then the monotonic
   * clock): what the wait for a pushed tag's link is measured from (src/enforce/actions/tag-link.ts);
   * past that wait once the event was handed back for its tag's link too often (src/gate/tag-links.ts
   * {@link claimedEventAge}).
   */
  age?: TagLinkClock;
  /**
   * How often the event was put back to wait (`QueuedEvent.linkHandBacks`: for its tag's link, or, pushed
   * by digest only, for the end of its grace), counted in the store across claims, restarts and replicas.
   */
  handBacks?: number;
}

/** What the workers need of the gate. */
export interface QueueHost {
  readonly currentPolicy: CompiledPolicy;
  processEvent(ev: PushEvent, job?: QueueJob): Promise<Verdict | undefined>;
  enforceAndRecord(ev: PushEvent, rc: RegistryConfig, stored: Verdict, view: VerdictView, seq?: number, age?: TagLinkClock, handBacks?: number): Promise<Enforcement>;
  audit(entry: AuditEntry): Promise<void>;
  client(registry: string): RegistryClient;
  registryConfig(name: string): RegistryConfig;
  viewFor(v: Verdict, tag?: string): VerdictView;
  currentVulnDb(): VulnDb | undefined;
  /** Why this replica must not claim events now (it disagrees with the cluster on what to judge with), or undefined. */
  claimHold(): string | undefined;
}

/** The workers' settings (from the gate's options). */
export interface QueueOptions {
  config: PushgateConfig;
  store: Store;
  logger: Logger;
  counters?: GateCounters;
  /** Lease of a claimed event, ms. */
  leaseMs: number;
  /** Interval of the probe of registries with blocked events, ms (default `queue.registryProbeIntervalMs`, else 10 s). */
  probeIntervalMs?: number;
  /** Base of the exponential retry backoff, ms (default 1000). */
  retryBaseMs?: number;
}

/** See the module comment. */
export class QueueWorkers {
  private running = false;
  private workers: Promise<void>[] = [];
  private wake: (() => void) | undefined;
  private readonly workerId = `${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly leaseMs: number;
  private depthAt = 0;
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;

  constructor(
    private readonly gate: QueueHost,
    private readonly o: QueueOptions,
  ) {
    this.leaseMs = o.leaseMs;
  }

  /** Wakes a waiting worker (an event was queued) and refreshes the queue gauges. */
  async nudge(): Promise<void> {
    this.wake?.();
    await this.refreshQueueGauges();
  }

  /** Starts `config.scan.workers` workers claiming queued events, and the probe of registries with blocked events. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const n = Math.max(1, this.o.config.scan.workers);
    for (let i = 0; i < n; i++) this.workers.push(this.workerLoop(`${this.workerId}-${i}`));
    const every = Math.max(100, this.o.probeIntervalMs ?? this.o.config.queue?.registryProbeIntervalMs ?? DEFAULT_PROBE_MS);
    this.probeTimer = setInterval(() => void this.probeBlocked(), every);
    this.probeTimer.unref();
  }

  /** Stops the workers after their current event; an event in progress keeps its lease and is retried if the process dies. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    this.wake?.();
    await Promise.all(this.workers);
    this.workers = [];
  }

  /** Processes queued events until none is due (tests and `pushgate reconcile`). */
  async drain(): Promise<number> {
    let n = 0;
    for (;;) {
      const worker = `${this.workerId}-drain`;
      if (this.gate.claimHold()) return n;
      const job = await this.o.store.claim(worker, this.leaseMs);
      if (!job) return n;
      await this.runJob(worker, job);
      n++;
    }
  }

  /**
   * One worker: claims and runs events until stopped. Nothing in it rejects: a store that fails to hand
   * out an event is logged, counted and asked again with a backoff (0.5 s doubling to 5 s).
   */
  private async workerLoop(id: string): Promise<void> {
    let storeBackoff = 0;
    while (this.running) {
      let job: Awaited<ReturnType<Store['claim']>>;
      let idleMs = 500;
      try {
        // A replica that disagrees with the cluster on the database or policy in force leaves events queued
        // for the replicas that agree (or for itself once it caught up): nothing is lost, nothing misjudged.
        job = this.gate.claimHold() ? undefined : await this.o.store.claim(id, this.leaseMs);
        storeBackoff = 0;
      } catch (e) {
        storeBackoff = Math.min(5000, storeBackoff ? storeBackoff * 2 : 500);
        idleMs = storeBackoff;
        this.storeFailed('claim', e, { retryInMs: storeBackoff });
      }
      if (!job) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, idleMs);
          // a store that just failed is not asked again before its backoff, however many events arrive
          if (!storeBackoff)
            this.wake = () => {
              clearTimeout(t);
              resolve();
            };
        });
        continue;
      }
      try {
        await this.runJob(id, job);
      } catch (e) {
        // runJob settles its own failures; this is the last guard of the loop (never an unhandled rejection)
        this.o.logger.error({ seq: job.seq, err: (e as Error).message }, 'worker: event could not be settled; its lease expires and it is claimed again');
      }
    }
  }

  private async runJob(worker: string, job: QueuedEvent): Promise<void> {
    const { seq, event, attempts } = job;
    const age = claimedEventAge(job.ageMs, job.linkHandBacks);
    if (job.linkHandBacks >= TAG_LINK_HAND_BACKS) {
      this.o.logger.warn(
        { seq, registry: event.registry, repository: event.repository, tag: event.tag, digest: event.digest, ageMs: job.ageMs, linkHandBacks: job.linkHandBacks },
        "handed back for its tag's link as often as the wait has checks: past the wait, whatever the store's clock says (acted on as an event older than the wait)",
      );
    }
    // Heartbeat: the lease is short (a killed process's event is picked up again within a minute)
    // and renewed while this worker is busy with it.
    const beat = setInterval(() => {
      this.o.store.extendLease(seq, worker, this.leaseMs).catch((e: unknown) => this.storeFailed('extend lease', e, { seq }));
    }, this.leaseMs / 3);
    beat.unref();
    try {
      await this.gate.processEvent(event, { seq, worker, age, handBacks: job.linkHandBacks });
    } catch (e) {
      await this.settleFailure(worker, seq, event, attempts, e as Error, age, job.linkHandBacks);
    } finally {
      clearInterval(beat);
    }
    await this.refreshQueueGauges();
  }

  /**
   * Decides what a failed attempt leads to. pushgate's own store failing: the event goes back with a
   * backoff and its attempt refunded. The registry says the manifest is not there (and the event's own manifest does not resolve: a NOT_FOUND of anything else it looked up is an ordinary failure): tried again
   * {@link NOT_FOUND_ATTEMPTS} times (eventually consistent storage) before it completes without a
   * verdict. Retry budget spent: when the registry does not answer its probe the event waits as
   * `blocked-on-registry` (resumed when it answers); otherwise it ends with an incomplete verdict
   * ({@link giveUp}). Otherwise: again after an exponential backoff. A store failure while settling is
   * retried a few times; after that the event's lease expires and it is claimed again.
   */
  private async settleFailure(worker: string, seq: number, event: PushEvent, attempts: number, err: Error, age?: TagLinkClock, handBacks?: number): Promise<void> {
    const maxAttempts = this.o.config.queue?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    const base = this.o.retryBaseMs ?? 1000;
    const backoff = (n: number) => Math.min(5 * 60_000, base * 2 ** Math.min(n, 9));
    const ctx = { seq, registry: event.registry, repository: event.repository, tag: event.tag, digest: event.digest, attempts };
    const put = (what: string, r: Parameters<Store['retry']>[2]) => this.withStoreRetry(what, () => this.o.store.retry(seq, worker, r)).then((owned) => this.checkOwned(owned, 'retry', ctx));
    try {
      if (err instanceof DeferredEnforcement) {
        await this.defer(put, ctx, err);
        return;
      }
      if (isPushgateError(err, 'STORE')) {
        this.storeFailed('process event', err, ctx);
        await put('retry', { error: err.message, retryInMs: backoff(1), refund: true });
        return;
      }
      // Only the event's own manifest being gone ends it: a NOT_FOUND from anything else the event looked
      // up (another image, a referrer) while its manifest is still served is an ordinary failure.
      if (isPushgateError(err, 'NOT_FOUND') && (await this.manifestGone(event))) {
        if (attempts < NOT_FOUND_ATTEMPTS) {
          const delay = backoff(attempts - 1);
          this.o.logger.warn({ ...ctx, retryInMs: delay, err: err.message }, 'manifest not found; tried again (the registry may not show it yet)');
          await put('retry', { error: err.message, retryInMs: delay });
          return;
        }
        this.o.logger.warn({ ...ctx, err: err.message }, 'manifest is gone; event completed');
        await this.withStoreRetry('complete', () =>
          this.completeJob(seq, worker, event, { actor: 'pushgate', action: 'manifest-gone', registry: event.registry, repository: event.repository, digest: event.digest, tag: event.tag, detail: { error: err.message, attempts } }),
        );
        return;
      }
      if (attempts >= maxAttempts || isPermanent(err)) {
        const down = !isPermanent(err) && !(await this.registryAnswers(event.registry));
        await this.giveUp(worker, seq, event, attempts, err, down, age, handBacks);
        return;
      }
      const delay = backoff(attempts);
      this.o.logger.warn({ ...ctx, retryInMs: delay, err: err.message }, 'event failed; will retry');
      await put('retry', { error: err.message, retryInMs: delay });
    } catch (e2) {
      if (e2 instanceof DeferredEnforcement) {
        // giveUp's incomplete verdict blocks a manifest pushed by digest only that is still in its grace.
        await this.defer(put, ctx, e2).catch((e3: unknown) => this.storeFailed('settle event', e3, { ...ctx, note: 'its lease expires and it is claimed again' }));
        return;
      }
      // Settling itself failed (the store went away in giveUp, say): the event goes back for a later try.
      this.storeFailed('settle event', e2, ctx);
      try {
        await put('retry', { error: (e2 as Error).message, retryInMs: backoff(1), refund: isPushgateError(e2, 'STORE') });
      } catch (e3) {
        this.storeFailed('settle event', e3, { ...ctx, note: 'its lease expires and it is claimed again' });
      }
    }
  }

  /**
   * Whether the registry no longer has the event's manifest (`repository@digest` does not resolve). An
   * error asking is not gone: the event is retried as for any failure.
   */
  private async manifestGone(ev: PushEvent): Promise<boolean> {
    try {
      return (await this.gate.client(ev.registry).resolve(ev.repository, ev.digest)) === undefined;
    } catch {
      return false;
    }
  }

  /**
   * Puts an event back until its enforcement may go on (the grace of a manifest pushed by digest only
   * ends, or the next check of a pushed tag's link is due): queued, due then, its attempt refunded
   * (waiting is no failure); a hand-back for the tag's link is counted in the same write (the count
   * bounds that wait: src/gate/tag-links.ts). It is in the store like any queued event, so a restart or another replica
   * picks it up when due, and no worker is held meanwhile.
   */
  private async defer(put: (what: string, r: Parameters<Store['retry']>[2]) => Promise<void>, ctx: object, d: DeferredEnforcement): Promise<void> {
    this.o.logger.info({ ...ctx, retryInMs: d.waitMs, why: d.message }, 'enforcement deferred');
    await put('defer', { error: d.message, retryInMs: d.waitMs, refund: true, ...(d.counted ? { linkHandBack: true } : {}) });
  }

  /**
   * Parks an event as `blocked-on-registry`: never final; the registry probe (or a reconcile pass)
   * resumes it with a fresh budget once the registry answers and `holdMs` has passed.
   */
  private async park(worker: string, seq: number, ev: PushEvent, why: string, holdMs: number): Promise<void> {
    this.o.logger.warn({ seq, registry: ev.registry, repository: ev.repository, tag: ev.tag, digest: ev.digest, err: why }, 'event blocked on its registry; resumed when the registry answers');
    const owned = await this.withStoreRetry('park', () => this.o.store.retry(seq, worker, { error: why, retryInMs: holdMs, state: 'blocked-on-registry' }));
    this.checkOwned(owned, 'park', { seq });
    if (owned) await this.withStoreRetry('audit', () => this.gate.audit({ actor: 'pushgate', action: 'event-blocked-on-registry', registry: ev.registry, repository: ev.repository, digest: ev.digest, tag: ev.tag, detail: { error: why } }));
    this.depthAt = 0;
    await this.refreshQueueGauges();
  }

  /** Completes a claimed event with its audit record; a stale worker's completion is refused and logged. */
  async completeJob(seq: number, worker: string, ev: PushEvent, entry: AuditEntry): Promise<void> {
    const owned = await this.o.store.complete(seq, worker, entry);
    this.checkOwned(owned, 'complete', { seq, registry: ev.registry, repository: ev.repository, tag: ev.tag, digest: ev.digest });
  }

  private checkOwned(owned: boolean, op: string, ctx: object): void {
    if (!owned) this.o.logger.warn({ ...ctx, op }, 'stale worker: its lease expired and the event was claimed by another worker; this worker\'s result was refused');
  }

  /**
   * Runs a store call of the queue machinery, retrying it with a backoff (250 ms doubling to 5 s) when
   * the store fails; every failure is logged and counted. While the workers run, it keeps trying (the
   * worker owns the event and has nothing better to do while its store is away; if its lease expires
   * meanwhile, the owner check refuses the late write). Stopped (or `pushgate reconcile`'s drain): four
   * tries. @throws the last failure.
   */
  private async withStoreRetry<T>(op: string, fn: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await fn();
      } catch (e) {
        this.storeFailed(op, e, { try: i + 1 });
        if (i >= 3 && !this.running) throw e;
        await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** i)));
      }
    }
  }

  private storeFailed(op: string, e: unknown, ctx: object): void {
    this.o.counters?.storeError?.(op);
    this.o.logger.error({ ...ctx, op, err: (e as Error)?.message ?? String(e) }, `store: ${op} failed`);
  }

  /** Refreshes the queue gauges (at most every 250 ms); a store failure here is counted, never thrown. */
  private async refreshQueueGauges(): Promise<void> {
    const c = this.o.counters;
    if (!c?.queueDepth && !c?.queueEvents) return;
    const now = Date.now();
    if (now - this.depthAt < 250) return;
    this.depthAt = now;
    try {
      if (c.queueDepth) c.queueDepth(await this.o.store.queueDepth());
      if (c.queueEvents) c.queueEvents(await this.o.store.queueCounts());
    } catch (e) {
      this.storeFailed('queue gauges', e, {});
    }
  }

  /**
   * True when `registry` answers GET /v2/ with the configured client: 200, or any answer below 500 (a
   * 401 is an answer: its credentials are a separate problem). A refused connection, a timeout or a 5xx is not.
   */
  async registryAnswers(registry: string): Promise<boolean> {
    try {
      await this.gate.client(registry).ping();
      return true;
    } catch (e) {
      const status = (e as { status?: number }).status;
      return typeof status === 'number' && status < 500;
    }
  }

  /**
   * Resumes the events blocked on `registry` when it answers (the probe, reconcile). @returns how many.
   */
  async resumeBlocked(registry: string): Promise<number> {
    if (!(await this.registryAnswers(registry))) return 0;
    const n = await this.o.store.resumeBlocked(registry);
    if (n > 0) {
      this.o.logger.info({ registry, events: n }, 'registry answers again; blocked events resumed');
      await this.gate.audit({ actor: 'pushgate', action: 'events-resumed', registry, detail: { events: n } });
      this.wake?.();
      this.depthAt = 0;
      await this.refreshQueueGauges();
    }
    return n;
  }

  /** One probe pass over the registries with blocked events (one pass at a time; store failures counted). */
  private async probeBlocked(): Promise<void> {
    if (this.probing || !this.running) return;
    this.probing = true;
    try {
      for (const registry of await this.o.store.blockedRegistries()) {
        if (!this.o.config.registries.some((r) => r.name === registry)) continue;
        await this.resumeBlocked(registry);
      }
      this.depthAt = 0;
      await this.refreshQueueGauges();
    } catch (e) {
      this.storeFailed('probe blocked registries', e, {});
    } finally {
      this.probing = false;
    }
  }

  /**
   * Ends the retry budget of an event that failed `attempts` times (or cannot succeed): a manifest
   * that was never judged gets a `complete: false` verdict with a `scan-failed` diagnostic, which the
   * policy's `onIncomplete` judges and pushgate enforces like any other verdict (admission sees it at
   * once). A manifest that was judged but whose enforcement keeps failing keeps its verdict (which
   * records the failure). When the registry does not answer (`registryDown`), the event is parked as
   * `blocked-on-registry` whatever that verdict is, and judged for real once the registry answers; when
   * the registry answers but refuses the enforcement, it is parked for {@link PARK_HOLD_MS}. Otherwise
   * the event is completed; only a permanent error is final (`failed`).
   */
  private async giveUp(worker: string, seq: number, ev: PushEvent, attempts: number, err: Error, registryDown: boolean, age?: TagLinkClock, handBacks?: number): Promise<void> {
    const store = this.o.store;
    const rc = this.gate.registryConfig(ev.registry);
    const prior = await store.getVerdict(ev.registry, ev.repository, ev.digest);
    if (ev.action !== 'push' || (prior && prior.complete && prior.policy.revision === this.gate.currentPolicy.revision)) {
      if (isPermanent(err)) {
        await this.gate.audit({ actor: 'pushgate', action: 'event-abandoned', registry: ev.registry, repository: ev.repository, digest: ev.digest, tag: ev.tag, detail: { attempts, error: err.message } });
        this.checkOwned(await store.retry(seq, worker, { error: err.message, retryInMs: 0, state: 'failed' }), 'retry', { seq });
      } else await this.park(worker, seq, ev, `retry budget of ${attempts} attempt(s) spent: ${err.message}`, registryDown ? 0 : PARK_HOLD_MS);
      return;
    }
    const message = `the scan failed after ${attempts} attempt(s): ${err.message}`;
    const ctx = { registry: ev.registry, repository: ev.repository, tag: ev.tag, digest: ev.digest };
    const input = { ...ctx, findings: [], secrets: [], config: [], packages: [], diagnostics: [{ code: 'scan-failed', message, incomplete: true }], complete: false };
    const evaluations: Record<string, RawEvaluation> = {};
    for (const rs of candidateRuleSets(this.gate.currentPolicy, ctx)) {
      const ev2 = evaluateRuleSet(this.gate.currentPolicy, input, rs);
      const reasons = [...ev2.reasons];
      if (!reasons.some((r) => r.findings?.includes('scan-failed'))) reasons.push({ rule: 'scan-failed', action: 'allow', message });
      evaluations[rs] = { decision: ev2.decision, reasons };
    }
    const stored = summarize(this.gate.currentPolicy, {
      registry: ev.registry,
      repository: ev.repository,
      digest: ev.digest,
      tags: [...new Set([...(prior?.tags ?? []), ...(ev.tag ? [ev.tag] : [])])].sort(),
      decision: 'allow',
      complete: false,
      reasons: [],
      mode: 'enforce',
      policy: { name: this.gate.currentPolicy.name, revision: this.gate.currentPolicy.revision },
      vulndb: { builtAt: this.gate.currentVulnDb()?.builtAt ?? null },
      evaluatedAt: new Date().toISOString(),
      evaluations,
    });
    const view = this.gate.viewFor(stored, ev.tag);
    const enforcement = await this.gate.enforceAndRecord(ev, rc, stored, view, seq, age, handBacks);
    const verdict = withView(stored, view);
    const reasons = verdict.reasons;
    this.o.counters?.verdict?.(verdict);
    const entry = verdictAudit(ev, verdict, { reasons: reasons.map((r) => r.rule), enforcement, attempts, error: err.message });
    this.o.logger.warn({ registry: ev.registry, repository: ev.repository, digest: ev.digest, attempts, decision: verdict.decision, err: err.message }, 'scan failed for good; incomplete verdict');
    if (enforcement.status === 'failed' || registryDown) {
      await this.gate.audit(entry);
      const down = registryDown || !(await this.registryAnswers(ev.registry));
      await this.park(worker, seq, ev, enforcement.status === 'failed' ? `${message}; enforcement failed: ${enforcement.detail}` : `${message}; registry ${ev.registry} does not answer`, down ? 0 : PARK_HOLD_MS);
    } else {
      await this.completeJob(seq, worker, ev, entry);
    }
  }
}

/**
 * The audit record of a verdict on a push event. `detail.blocking` names the rules whose action blocks
 * (quarantine, reject), once each, beside whatever `detail` says (its `reasons` list every rule that
 * fired, warnings included): the console's "blocked by rule" counts read `blocking`
 * (Store.countAuditRules), so a warning rule is never counted as blocking a push.
 */
export function verdictAudit(ev: PushEvent, verdict: Verdict, detail: Record<string, unknown>): AuditEntry {
  return { actor: ev.actor ?? 'unknown', action: `verdict:${verdict.decision}`, registry: ev.registry, repository: ev.repository, digest: ev.digest, tag: ev.tag, detail: { ...detail, blocking: blockingRules(verdict) } };
}

/** Errors that no retry can fix (a schema 1 or malformed manifest): the event ends at once. */
export function isPermanent(err: unknown): boolean {
  // A manifest larger than pushgate reads (4 MiB) is so on every try (src/registry/errors.ts isOverLimit).
  return err instanceof PushgateError && !err.retryable && (err.code === 'UNSUPPORTED' || err.code === 'BAD_REFERENCE' || err.code === 'MANIFEST_INVALID' || isOverLimit(err));
}
