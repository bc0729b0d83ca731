/**
 * The gate: the only module that knows the whole flow, and the coordinator of its rooms. A queued event is
 * resolved and scanned (src/scan through {@link registrySource}), matched (src/vulndb), judged (src/policy,
 * ./judge.ts), stored as one verdict per (registry, repository, digest) with the raw evaluation of every rule
 * set its tags can map to (./verdict-view.ts derives each tag's decision), and enforced (src/enforce).
 * The rooms: ./queue-workers.ts (claiming, retries, blocked-on-registry, the registry probe),
 * ./registry-directory.ts (clients, host names, quarantine places), ./own-traffic.ts (what pushgate wrote
 * itself), ./vulndb-holder.ts (the database judged with), ./artifacts.ts (non-image artefacts),
 * ./digest-pushes.ts (digests as pullable by digest: the grace of a push by digest only, what holds a
 * digest, restore targets).
 */
import { LRUCache } from 'lru-cache';
import { createHash, randomUUID } from 'node:crypto';
import {
  PushgateError,
  isPushgateError,
  type Digest,
  type Enforcement,
  type PolicyMode,
  type PushEvent,
  type RawEvaluation,
  type ScanReport,
  type Verdict,
} from '../core/index.js';
import { DEFAULT_UNTAGGED_GRACE_MS, type PushgateConfig, type RegistryConfig } from '../config/types.js';
import { enforce, repointTag, type ChildBlocks, type HarborTarget, type OwnWrite, type QuarantineLock, type TagLinkClock } from '../enforce/index.js';
import { storeQuarantineLock } from './cluster-jobs.js';
import type { CompiledPolicy } from '../policy/index.js';
import { candidateRuleSets, evaluate } from '../policy/index.js';
import { RegistryClient } from '../registry/client.js';
import { referencedDescriptors } from '../registry/manifest.js';
import { imageScanVersion, scanImage, type ImageScan, type LayerCache, type ScanOptions } from '../scan/engine.js';
import { ScanSlots } from '../scan/limits.js';
import { SpillPool } from '../scan/spill.js';
import type { ChangeRecord, QuarantineRecord, QueueState, Store } from '../store/index.js';
import type { VulnDb } from '../vulndb/index.js';
import { VulnDbHolder } from './vulndb-holder.js';
import { QueueWorkers, verdictAudit, type QueueJob } from './queue-workers.js';
import { awaitPushedTagLink } from './tag-links.js';
import { RegistryDirectory } from './registry-directory.js';
import { ARTIFACT_RULE, artifactJudgement, artifactTypeOf } from './artifacts.js';
import { DeferredEnforcement, DigestPushes } from './digest-pushes.js';
import { judgeScan, type Judgement } from './judge.js';
import { GateBaseImages, registryAttestations, type BaseImagesHost } from './base-images.js';
import { registrySource } from './registry-source.js';
import { readReferrerVex, referrerSubjectOf, REFERRER_TAG } from './referrer-vex.js';
import { loadTrustedRoot } from '../trust/trusted-root.js';
import type { TrustRoot } from '../trust/types.js';
import { OwnTraffic, plannedWrites, type OwnTrafficReason } from './own-traffic.js';
import { GatePublisher, type PublishResult } from './publish-referrers.js';
import type { AssessRequest, AuditEntry, GateApi, GateHooks, PendingManifest } from './types.js';
import { blocks, legacyRaw, summarize, viewOf, withView, type VerdictView } from './verdict-view.js';

/** Minimal structured logger (pino satisfies it). */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Counters the gate reports (implemented by src/metrics; all optional). */
export interface GateCounters {
  scan?(result: 'complete' | 'incomplete' | 'failed' | 'cached', seconds: number, bytes: number): void;
  verdict?(v: Verdict): void;
  enforcement?(action: string, result: string): void;
  queueDepth?(n: number): void;
  /** Age in seconds per source kind of the loaded database (`pushgate_vulndb_age_seconds{source}`). */
  vulndbAge?(ages: Record<string, number>): void;
  registryRequest?(registry: string, method: string, code: number | 'error'): void;
  /** Events per queue state (`pushgate_queue_events{state}`). */
  queueEvents?(counts: Record<QueueState, number>): void;
  /** A store call of the queue machinery failed (`pushgate_store_errors_total{operation}`); it is retried. */
  storeError?(operation: string): void;
  /** One publication of a verdict's referrers (`pushgate_referrers_published_total{result}`). */
  referrersPublished?(result: PublishResult): void;
  /** A listing (catalog, a repository's tags) stopped at its bound (`pushgate_listing_truncated_total{registry,listing}`). */
  listingTruncated?(registry: string, listing: 'catalog' | 'tags'): void;
}

/** What the gate needs. */
export interface GateOptions {
  config: PushgateConfig;
  store: Store;
  policy: CompiledPolicy;
  logger: Logger;
  hooks?: GateHooks;
  counters?: GateCounters;
  /** Lease of a claimed event in ms (default `config.queue.eventLeaseMs`, else 30 s): how long a killed process's event waits before another worker takes it. */
  leaseMs?: number;
  /** Creates the client of a configured registry (tests may wrap it). */
  clientFactory?: (rc: RegistryConfig, onRequest: (e: { method: string; code: number | 'error' }) => void) => RegistryClient;
  /**
   * Outbound notifications of enforced quarantines and rejects (src/gate/notify.ts). Awaited before the
   * event is completed: with an outbox the notice is then in the store (a rejection fails the event,
   * which is tried again).
   */
  notifier?: { blocked(v: Verdict): void | Promise<void> };
  /**
   * How often the registries that have events blocked on them are probed (GET /v2/), ms (default
   * `queue.registryProbeIntervalMs`, else 10 s). An answer resumes their events.
   */
  probeIntervalMs?: number;
  /** Base of the exponential retry backoff, ms (default 1000: 2 s, 4 s, … up to 5 min). */
  retryBaseMs?: number;
}

// Versioned: a scanner that finds more (secrets in the image config) never reuses an older scan.
/** Store key of the complete whole-image scan of `digest` (versioned: scans of older analyzers are not reused). Re-evaluation reads it too. */
export const SCAN_KEY = (digest: Digest) => `scan:${imageScanVersion()}:${digest}`;
/**
 * Actor of the events pushgate queues itself to re-judge a blocking digest whose hold ended (a tag moved
 * off it, or an index that named it was deleted: {@link DigestPushes.recheckTargets}). They are queued
 * with source `reconcile`, never `distribution`/`harbor`, so they can never pass for a registry's notification.
 */
export const RECHECK_ACTOR = 'pushgate-recheck';
/** Default lease of a claimed event, ms; renewed every third of it while the worker is busy. */
const DEFAULT_LEASE_MS = 30_000;

/** See the module comment. */
export class Gate implements GateApi {
  readonly hooks: GateHooks;
  private readonly inflight = new Map<string, Promise<Judgement>>();
  private policy: CompiledPolicy;
  private readonly vulndbHolder: VulnDbHolder;
  /**
   * The last tag restore pushgate made, per `registry\0repository\0tag`: the digest written and the seq
   * of the event being handled then. A later allowed event of the tag that finds the tag at exactly that
   * digest was overwritten by the restore (a push that landed between the tag check and the write).
   * In memory (bounded): the window it covers is the few seconds between a restore and the next event
   * of the tag, which per-tag ordering hands to a worker right after.
   */
  private readonly restores = new LRUCache<string, { digest: Digest; seq: number }>({ max: 10_000 });
  /** Decoded layer analyses in memory in front of the store's table (a warm scan parses no JSON). */
  private readonly layerMemory = new LRUCache<string, object>({ max: 256 });
  /**
   * Scans running at once (config `scan.workers`), whoever asked: queue workers, the push proxy and
   * admission reviews all wait here, so load on one path cannot multiply the scans in flight.
   */
  readonly scanSlots: ScanSlots;
  /** Digests as pullable by digest: grace, holders, restore targets (src/gate/digest-pushes.ts). */
  private readonly digests: DigestPushes;
  /** The queue's workers, retries, parking and registry probe (src/gate/queue-workers.ts). */
  private readonly queue: QueueWorkers;
  /** The temp space all scans of this process share (config `scan.tmpDirLimit`). */
  readonly spillPool: SpillPool;

  /** Base images: the catalog, detection before judging, catalog recording, the tag listing (src/gate/base-images.ts). */
  readonly baseImages: GateBaseImages;

  constructor(private readonly opts: GateOptions) {
    // Called only once the gate is built (recording, the tag listing), when its registry directory exists.
    this.baseImages = new GateBaseImages({ store: opts.store, config: opts.config, logger: opts.logger, isQuarantineRepository: (r, repo) => this.isQuarantineRepository(r, repo) });
    this.scanSlots = new ScanSlots(Math.max(1, opts.config.scan.workers));
    this.spillPool = new SpillPool(opts.config.scan.tmpDirLimitBytes);
    this.hooks = opts.hooks ?? {};
    this.queue = new QueueWorkers(this, { ...opts, leaseMs: opts.leaseMs ?? opts.config.queue?.eventLeaseMs ?? DEFAULT_LEASE_MS });
    this.policy = opts.policy;
    this.vulndbHolder = new VulnDbHolder(opts.config.vulndb.path, opts.logger, (age) => opts.counters?.vulndbAge?.(age), opts.config.source);
    this.own = new OwnTraffic({ store: opts.store, registry: (n) => opts.config.registries.find((r) => r.name === n), warn: (fields, message) => opts.logger.warn(fields, message) });
    this.registries = new RegistryDirectory({ config: opts.config, counters: opts.counters, clientFactory: opts.clientFactory, beforeManifestPut: (registry, w) => this.own.remember(registry, w) });
    this.digests = new DigestPushes({
      store: opts.store,
      policy: () => this.policy,
      vulndb: () => this.currentVulnDb(),
      client: (r) => this.client(r),
      audit: (e) => this.audit(e),
      scanKey: SCAN_KEY,
      untaggedGraceMs: opts.config.enforcement?.untaggedGraceMs ?? DEFAULT_UNTAGGED_GRACE_MS,
      bases: (s) => this.baseImages.bases(s),
    });
    if (opts.config.publish?.referrers.enabled) {
      this.publisher = new GatePublisher({
        config: opts.config,
        store: opts.store,
        logger: opts.logger,
        client: (r) => this.client(r),
        host: (r) => new URL(this.registryConfig(r).url).host,
        isQuarantineRepository: (r, repo) => this.isQuarantineRepository(r, repo),
        rememberDelete: (r, repo, d) => this.own.rememberDelete(r, repo, d),
        counter: (result) => opts.counters?.referrersPublished?.(result),
      });
    }
  }

  /** Publishing verdicts as referrers (config `publish.referrers`; undefined when off). */
  readonly publisher?: GatePublisher;

  /** The policy in force. */
  get currentPolicy(): CompiledPolicy {
    return this.policy;
  }

  /** Why queue workers hold off claiming, per cause (`vulndb`, `policy`): see {@link setClaimHold}. */
  private readonly holds = new Map<string, string>();

  /**
   * Holds off (with `reason`) or resumes (undefined) this replica's queue workers for `cause`: while any hold
   * is set, no event is claimed (events stay queued for replicas that agree with the cluster). Set by
   * src/gate/vulndb-sync.ts and src/gate/policy-sync.ts.
   */
  setClaimHold(cause: string, reason: string | undefined): void {
    if (reason) this.holds.set(cause, reason);
    else this.holds.delete(cause);
    if (!this.holds.size) void this.queue.nudge().catch(() => undefined);
  }

  /** The reasons queue workers hold off claiming, joined, or undefined when they claim. */
  claimHold(): string | undefined {
    return this.holds.size ? [...this.holds.values()].join('; ') : undefined;
  }

  /** Replaces the policy (hot reload); stored verdicts are re-evaluated on their next event. */
  setPolicy(p: CompiledPolicy): void {
    this.policy = p;
  }

  // --- Enforcement helpers (issue 7): Harbor API targets, pushgate's own writes ---------------

  /** Own-traffic decisions (src/gate/own-traffic.ts): the store's own-writes memo and the registry actor. */
  private readonly own: OwnTraffic;
  /** The configured registries: their clients, names and quarantine places (src/gate/registry-directory.ts). */
  private readonly registries: RegistryDirectory;

  /** The store the gate writes to (admin API, re-evaluation, retention). */
  get storeRef(): Store {
    return this.opts.store;
  }

  /** The configuration the gate runs with. */
  get configRef(): PushgateConfig {
    return this.opts.config;
  }

  /** The Harbor REST API target of a configured registry of type harbor (undefined for Distribution). */
  harborTarget(registry: string): HarborTarget | undefined {
    return this.registries.harborTarget(registry);
  }

  /** The quarantine repository of `repository` in `registry` (`<prefix><repository>`; Harbor: `<project>/<repository>`). */
  quarantineRepository(registry: string, repository: string): string {
    return this.registries.quarantineRepository(registry, repository);
  }

  /** True when `repository` lies under the quarantine prefix (or Harbor quarantine project) of `registry`. */
  isQuarantineRepository(registry: string, repository: string): boolean {
    return this.registries.isQuarantineRepository(registry, repository);
  }

  /**
   * True when `repository@digest` is a quarantine copy pushgate made and still keeps (a stored
   * quarantine record in state `quarantined`). Any tag on that manifest is pushgate's copy: deleting
   * it would delete the copy itself (Distribution deletes by digest).
   */
  async isRecordedQuarantineCopy(registry: string, repository: string, digest: Digest): Promise<boolean> {
    if (!this.isQuarantineRepository(registry, repository)) return false;
    const recs = await this.opts.store.listQuarantine({ registry, digest, state: 'quarantined' });
    return recs.some((r) => r.quarantineRepository === repository);
  }

  /**
   * True when `repository@digest` (a quarantine repository) is named by one of pushgate's own quarantine
   * copies there: a child of a quarantined index, which pushgate copied by digest before the index. Only
   * such a child is left alone when pushed by digest into a quarantine repository; anything else pushed
   * there by digest is judged and, when blocking, deleted like any other push.
   */
  async isChildOfQuarantineCopy(registry: string, repository: string, digest: Digest): Promise<boolean> {
    if (!this.isQuarantineRepository(registry, repository)) return false;
    const copies = (await this.opts.store.listQuarantine({ registry, state: 'quarantined' })).filter((r) => r.quarantineRepository === repository && r.digest !== digest);
    for (const c of copies) {
      const scan = (await this.opts.store.getLayer(SCAN_KEY(c.digest))) as ImageScan | undefined;
      if (scan?.platforms.some((p) => p.manifestDigest === digest)) return true;
      if (!scan) {
        const m = await this.client(registry).getManifest(repository, c.digest).catch(() => undefined);
        if (m && referencedDescriptors(m.bytes).manifests.some((d) => d.digest === digest)) return true;
      }
    }
    return false;
  }

  /** The digest of pushgate's own quarantine copy that `repository:tag` (a quarantine repository) held, if any other than `except`. */
  private async quarantinedCopyDigest(registry: string, repository: string, tag: string, except: Digest): Promise<Digest | undefined> {
    const recs = await this.opts.store.listQuarantine({ registry, tag, state: 'quarantined' });
    return recs.find((r) => r.quarantineRepository === repository && r.digest !== except)?.digest;
  }

  /** Remembers a manifest pushgate is about to write (or wrote) to `registry`: its notification is own traffic. */
  async rememberOwnWrite(registry: string, w: OwnWrite): Promise<void> {
    await this.own.remember(registry, w);
  }

  /**
   * Remembers the writes an action will make before it runs; returns its `onWrite` callback, which
   * remembers the writes learnt during the action (see {@link OwnTraffic.expect}).
   */
  async expectOwnWrites(registry: string, announced: OwnWrite[]): Promise<(w: OwnWrite) => Promise<void>> {
    this.client(registry); // made now if not yet: whether it announces its writes is known from here on
    const after = await this.own.expect(registry, announced);
    // A client that remembers each manifest before writing it needs no second, late entry (which
    // would reopen a memo its notification already used); Harbor's API copies still report after.
    return this.registries.announces(registry) && this.registryConfig(registry).type === 'distribution' ? async () => undefined : after;
  }

  /**
   * Whether a notification is pushgate's own traffic (a remembered write, or the registry's
   * authenticated actor is pushgate's account) and why; never from client-sent headers.
   */
  isOwnTraffic(ev: PushEvent): Promise<OwnTrafficReason | undefined> {
    return this.own.check(ev);
  }

  /**
   * Readiness of the vulnerability database: opened, verified when loaded, and answering a probe query now.
   * @returns `{ ok: true, builtAt, digest }` or `{ ok: false, error }` saying what is wrong and what to run.
   */
  vulndbReadiness(): { ok: true; builtAt: string | null; digest: string | null } | { ok: false; error: string } {
    return this.vulndbHolder.readiness();
  }

  /** Re-opens the vulnerability database now (after pushgate built a new one), not at the next 2 s check. */
  reloadVulnDb(): void {
    this.vulndbHolder.reload();
  }

  /** The opened vulnerability database, if there is one (re-opened when the file was replaced). */
  currentVulnDb(): VulnDb | undefined {
    return this.vulndbHolder.current();
  }

  /** The configured registry that `host` (any spelling, alias) names, if exactly one does (src/core/host.ts). */
  registryForHost(host: string): RegistryConfig | undefined {
    return this.registries.registryForHost(host);
  }

  /**
   * The configuration of registry `name`.
   * @throws PushgateError NOT_FOUND when no registry of that name is configured.
   */
  registryConfig(name: string): RegistryConfig {
    return this.registries.config(name);
  }

  /** The shared client of registry `name` (made on first use). @throws PushgateError NOT_FOUND when not configured. */
  client(registry: string): RegistryClient {
    return this.registries.client(registry);
  }

  async changes(registry: string, repository: string, digest: Digest): Promise<ChangeRecord[]> {
    // Records of other repositories holding the same digest are interleaved; read enough to keep 50 of ours.
    const all = await this.opts.store.monitor.listChanges(digest, 500);
    return all.filter((c) => c.registry === registry && c.repository === repository).slice(0, 50);
  }

  /** See {@link GateApi.quarantinedTag}. */
  async quarantinedTag(registry: string, repository: string, tag: string): Promise<QuarantineRecord | undefined> {
    return (await this.opts.store.listQuarantine({ registry, repository, tag, state: 'quarantined', limit: 1 }))[0];
  }

  async verdict(registry: string, repository: string, digest: Digest): Promise<Verdict | undefined> {
    return this.opts.store.getVerdict(registry, repository, digest);
  }

  /** The decision and mode `v` carries for `tag` (undefined: the digest without a tag) under the policy in force. */
  viewFor(v: Verdict, tag?: string): VerdictView {
    return viewOf(this.policy, v, tag);
  }

  /** The mode of the mapping of a reference (non-image artefacts record it; decisions use {@link viewFor}). */
  modeFor(registry: string, repository: string, tag?: string): PolicyMode {
    return evaluate(this.policy, { registry, repository, tag, findings: [], secrets: [], config: [], diagnostics: [], packages: [], complete: true }).mode;
  }

  async audit(entry: AuditEntry): Promise<void> {
    await this.opts.store.audit(entry);
  }

  async enqueue(req: AssessRequest): Promise<void> {
    const event: PushEvent = {
      id: `${req.source}-${randomUUID()}`,
      source: req.source === 'admission' ? 'api' : req.source,
      registry: req.registry,
      action: 'push',
      repository: req.repository,
      digest: req.digest,
      tag: req.tag,
    };
    // Admission reviews name digests their caller chooses: one pending event per (registry,
    // repository, digest) whoever asks and how often; the pending one produces the verdict.
    await this.ingest(event, { unlessPending: req.source === 'admission' });
  }

  /**
   * Durably queues events (resolves after they are on disk) and wakes a worker. With
   * `unlessPending: true`, not when an event of the same (registry, repository, digest) is queued,
   * running or parked; with `'tag'`, only when such an event is of the same tag too
   * (store.enqueueUnlessPending `sameTag`).
   */
  async ingest(event: PushEvent, opts: { unlessPending?: boolean | 'tag' } = {}): Promise<{ inserted: boolean }> {
    const r = opts.unlessPending ? await this.opts.store.enqueueUnlessPending(event, { sameTag: opts.unlessPending === 'tag' }) : await this.opts.store.enqueue(event);
    this.announce([event]);
    // Wakes a worker; the depth gauge is a COUNT over the queue, refreshed at most every 250 ms, not per event.
    await this.queue.nudge();
    return r;
  }

  /**
   * Durably queues the events of one notification envelope in one store transaction and wakes the workers.
   * @returns per event, whether it was new (false: a duplicate the sender retried).
   * @throws PushgateError STORE when the store refused; then none of them is queued.
   */
  async ingestMany(events: PushEvent[]): Promise<Array<{ inserted: boolean }>> {
    const r = await this.opts.store.enqueueMany(events);
    this.announce(events);
    await this.queue.nudge();
    return r;
  }

  private readonly pushListeners = new Set<(ev: PushEvent) => void>();

  /** Tells the listeners of {@link onPush} about queued events; a listener's failure is its own. */
  private announce(events: PushEvent[]): void {
    for (const ev of events) {
      for (const l of this.pushListeners) {
        try {
          l(ev);
        } catch {
          // A listener (a cache) never fails the notification.
        }
      }
    }
  }

  /** See {@link GateApi.onPush}. */
  onPush(listener: (ev: PushEvent) => void): () => void {
    this.pushListeners.add(listener);
    return () => this.pushListeners.delete(listener);
  }

  /** The layer cache: the store's persistent table (analyzer version + diffID keyed). */
  private layerCache(): LayerCache {
    const store = this.opts.store;
    const memory = this.layerMemory;
    return {
      get: async (key) => {
        const hot = memory.get(key);
        if (hot) return hot as never;
        const v = (await store.getLayer(`layer:${key}`)) as object | undefined;
        if (v) memory.set(key, v);
        return v as never;
      },
      set: async (key, value) => {
        memory.set(key, value as object);
        await store.putLayer(`layer:${key}`, value);
      },
    };
  }

  /** Options of every scan this gate runs: the configured deadline, limits and the shared temp space. */
  scanOptions(): ScanOptions {
    const c = this.opts.config.scan;
    return { layerCache: this.layerCache(), tmpDir: c.tmpDir, spillPool: this.spillPool, deadlineMs: c.deadlineMs, limits: c.limits };
  }

  /** Scans (or reuses the stored inventory of) `digest` and judges it for this repository. */
  private async judge(req: { registry: string; repository: string; digest: Digest; tag?: string }, pending?: { bytes: Buffer; mediaType: string }, via?: RegistryClient): Promise<Judgement> {
    const key = `${req.registry}\u0000${req.repository}\u0000${req.digest}`;
    const running = this.inflight.get(key);
    if (running) return running;
    const p = (async () => {
      const vulndb = this.currentVulnDb();
      let scan = (await this.opts.store.getLayer(SCAN_KEY(req.digest))) as ImageScan | undefined;
      if (scan) {
        this.opts.counters?.scan?.('cached', 0, 0);
      } else {
        const t0 = process.hrtime.bigint();
        const client = via ?? this.client(req.registry);
        try {
          // The root manifest is read once: non-image artefacts (signatures, SBOMs, attestations,
          // charts) are recorded and passed without a scan (src/gate/artifacts.ts).
          const root = pending ?? (await client.getManifest(req.repository, req.digest));
          const artifactType = artifactTypeOf(root.bytes, root.mediaType);
          if (artifactType) {
            return artifactJudgement({
              target: `${client.host}/${req.repository}@${req.digest}`,
              digest: req.digest,
              mediaType: root.mediaType,
              artifactType,
              policy: { name: this.policy.name, revision: this.policy.revision },
              mode: this.modeFor(req.registry, req.repository, req.tag),
              vulndbBuiltAt: vulndb?.builtAt ?? null,
            });
          }
          const source = registrySource(client, req.repository, req.digest, { bytes: root.bytes, mediaType: root.mediaType });
          scan = await this.scanSlots.run(() => scanImage(source, this.scanOptions()));
        } catch (e) {
          this.opts.counters?.scan?.('failed', Number(process.hrtime.bigint() - t0) / 1e9, 0);
          throw e;
        }
        const complete = !scan.diagnostics.some((d) => d.incomplete) && scan.platforms.every((p) => !p.inventory.diagnostics.some((d) => d.incomplete));
        this.opts.counters?.scan?.(complete ? 'complete' : 'incomplete', Number(process.hrtime.bigint() - t0) / 1e9, scan.bytesRead);
        // Only complete scans are reused: an incomplete one (bad layer, registry hiccup) is tried again next time.
        // Env values of the image config can hold secrets: the stored inventory keeps their names only.
        scan = redactConfigEnv(scan);
        if (complete) await this.opts.store.putLayer(SCAN_KEY(req.digest), scan);
      }
      const bases = await this.baseImages.bases(scan, registryAttestations(via ?? this.client(req.registry), req.repository, req.digest));
      // Signed VEX attached to this digest (policy spec.vex): read now, stored for re-judgements.
      const referrerVex = await readReferrerVex(this.opts.store, via ?? this.client(req.registry), { registry: req.registry, repository: req.repository }, req.digest, this.policy, () => this.vexTrustRoot());
      const j = judgeScan(scan, vulndb, this.policy, { registry: req.registry, repository: req.repository, tag: req.tag }, { bases, ...(referrerVex ? { referrerVex } : {}) });
      await this.baseImages.record(req, scan, j.report);
      return j;
    })();
    this.inflight.set(key, p);
    try {
      return await p;
    } finally {
      this.inflight.delete(key);
    }
  }

  /** The raw evaluations of a judgement per candidate rule set (a non-image artefact's one evaluation for each). */
  private rawOf(j: Judgement, req: { registry: string; repository: string }): Record<string, RawEvaluation> {
    if (j.raw) return j.raw;
    const one = legacyRaw(j.evaluation);
    return Object.fromEntries(candidateRuleSets(this.policy, req).map((rs) => [rs, one]));
  }

  /**
   * Judges and stores the verdicts (the manifest's, and one per platform child of an index). The
   * stored verdict keeps the raw evaluation per rule set; `stored` is it as stored (summarized over
   * its tags), `verdict` is it as seen from `req.tag`.
   */
  /**
   * @param keepEnforcement carry the stored verdict's enforcement over (a re-judgement no enforcement
   *   follows): without it a `failed` enforcement would read as final, and neither reconcile nor the retry of
   *   unfinished verdicts would act on the image again.
   */
  private async judgeAndStore(req: { registry: string; repository: string; digest: Digest; tag?: string }, pending?: { bytes: Buffer; mediaType: string }, via?: RegistryClient, keepEnforcement = false): Promise<{ verdict: Verdict; stored: Verdict; report: ScanReport }> {
    const j = await this.judge(req, pending, via);
    const prior = await this.opts.store.getVerdict(req.registry, req.repository, req.digest);
    const evaluatedAt = new Date().toISOString();
    const base = { registry: req.registry, repository: req.repository, policy: j.evaluation.policy, vulndb: { builtAt: j.report.vulndb?.builtAt ?? null, digest: j.report.vulndb?.digest ?? null }, evaluatedAt };
    await this.opts.store.putReport(req.digest, j.report);
    for (const c of j.children) {
      if (c.digest === req.digest) continue;
      const cv = summarize(this.policy, { ...base, digest: c.digest, tags: [], complete: c.complete, decision: 'allow', reasons: [], mode: 'enforce', evaluations: c.raw });
      await this.opts.store.putVerdict(cv);
    }
    const tags = [...new Set([...(prior?.tags ?? []), ...(req.tag ? [req.tag] : [])])].sort();
    const stored = summarize(this.policy, { ...base, digest: req.digest, tags, complete: j.report.complete, decision: 'allow', reasons: [], mode: 'enforce', evaluations: this.rawOf(j, req), ...(keepEnforcement && prior?.enforcement ? { enforcement: prior.enforcement } : {}) });
    await this.opts.store.putVerdict(stored);
    const verdict = withView(stored, viewOf(this.policy, stored, req.tag));
    this.opts.counters?.verdict?.(verdict);
    return { verdict, stored, report: j.report };
  }

  async assess(req: AssessRequest, opts: { deadlineMs?: number; signal?: AbortSignal } = {}): Promise<Verdict> {
    this.registryConfig(req.registry);
    const work = this.judgeAndStore(req).then((r) => r.verdict);
    return withDeadline(work, opts.deadlineMs, `scan of ${req.repository}@${req.digest}`);
  }

  async assessPending(m: PendingManifest, opts: { deadlineMs?: number; signal?: AbortSignal } = {}): Promise<{ verdict: Verdict; report: ScanReport }> {
    this.registryConfig(m.registry);
    const digest = `sha256:${createHash('sha256').update(m.bytes).digest('hex')}`;
    const work = this.judgeAndStore({ registry: m.registry, repository: m.repository, digest, tag: m.tag }, { bytes: m.bytes, mediaType: m.mediaType });
    return withDeadline(work, opts.deadlineMs, `scan of ${m.repository}@${digest}`);
  }

  /**
   * Handles one queued event: judge (reusing a stored verdict of the same digest and policy
   * revision, so a re-push of a blocked digest is enforced again without rescanning), enforce,
   * record the tag history and the audit trail.
   */
  async processEvent(ev: PushEvent, job?: QueueJob): Promise<Verdict | undefined> {
    const rc = this.registryConfig(ev.registry);
    // With a queue job, its completion and the final audit record are one transaction: a process
    // killed before it leaves the event to be processed again, so each event is recorded once.
    const finish = (entry: AuditEntry) => (job ? this.queue.completeJob(job.seq, job.worker, ev, entry) : this.audit(entry));
    if (ev.action === 'delete') {
      // An index deleted by digest holds its children no more: its blocking children are re-judged.
      await this.recheckLeft(ev, [ev.digest], `the manifest ${ev.digest} was deleted`, [ev.digest]);
      // A deleted attestation or fallback tag can take a VEX statement away: the image is judged again.
      if (ev.tag && REFERRER_TAG.test(ev.tag)) await this.rejudgeForVex(ev, undefined);
      await finish({ actor: ev.actor ?? 'registry', action: 'deleted', registry: ev.registry, repository: ev.repository, digest: ev.digest, tag: ev.tag });
      return undefined;
    }
    if (await this.isOwnTraffic(ev)) {
      // pushgate's own write (restored tag, released copy): never a new scan or a loop.
      await finish({ actor: 'pushgate', action: 'own-traffic', registry: ev.registry, repository: ev.repository, digest: ev.digest, tag: ev.tag });
      return undefined;
    }
    if (await this.isRecordedQuarantineCopy(ev.registry, ev.repository, ev.digest)) {
      // A quarantine copy pushgate made (its notification outlived the own-writes memo, or a
      // reconcile pass found it): never judged again, never deleted.
      await finish({ actor: 'pushgate', action: 'own-traffic', registry: ev.registry, repository: ev.repository, digest: ev.digest, tag: ev.tag, detail: { quarantineCopy: true } });
      return undefined;
    }
    if (ev.source === 'reconcile' && ev.actor === RECHECK_ACTOR && !ev.tag && !(await this.client(ev.registry).resolve(ev.repository, ev.digest))) {
      // A re-check of a digest that is gone already (acted on meanwhile, or deleted): nothing left to act on.
      await finish({ actor: 'pushgate', action: 'recheck-gone', registry: ev.registry, repository: ev.repository, digest: ev.digest });
      return undefined;
    }
    const prior = await this.opts.store.getVerdict(ev.registry, ev.repository, ev.digest);
    let stored: Verdict;
    if (prior && prior.complete && prior.policy.revision === this.policy.revision && prior.evaluations) {
      // The same digest again (a re-push, or a retag: Distribution notifies a retag as a manifest
      // push with the new tag): judged from the stored evaluations under the new tag's mapping.
      stored = { ...prior, tags: [...new Set([...prior.tags, ...(ev.tag ? [ev.tag] : [])])].sort(), evaluatedAt: new Date().toISOString() };
      this.opts.counters?.scan?.('cached', 0, 0);
      await this.baseImages.recordTag(ev.registry, ev.repository, ev.tag, ev.digest);
    } else {
      stored = (await this.judgeAndStore({ registry: ev.registry, repository: ev.repository, digest: ev.digest, tag: ev.tag })).stored;
    }
    const view = this.viewFor(stored, ev.tag);
    const enforcement = await this.enforceAndRecord(ev, rc, stored, view, job?.seq, job?.age, job?.handBacks);
    // Another image's re-judgement (the subject a referrer-looking tag or document names) only after this
    // image's own enforcement: the subject is the pusher's to name, and one whose judgement fails (deleted
    // from the registry, never fully scanned) failed every attempt of this event before its action, so a
    // blocked image pushed as `sha256-<hex of that subject>` was completed as "manifest gone", unenforced.
    await this.rejudgeForVex(ev, stored);
    const verdict = withView(stored, view);
    const entry = verdictAudit(ev, verdict, { reasons: verdict.reasons.map((r) => r.rule), enforcement, mode: view.mode, ruleSet: view.ruleSet, mapping: view.mapping });
    if (enforcement.status === 'failed') await this.audit(entry);
    else await finish(entry);
    this.opts.logger.info(
      { registry: ev.registry, repository: ev.repository, tag: ev.tag, digest: ev.digest, decision: verdict.decision, mode: verdict.mode, enforcement: enforcement.status },
      `verdict ${verdict.decision}`,
    );
    if (enforcement.status === 'failed') {
      // The verdict is stored; the event goes back to the queue so the action is tried again
      // (an unreachable registry never loses an enforcement).
      throw new PushgateError('REGISTRY', `enforcement of ${verdict.decision} on ${ev.repository}@${ev.digest} failed: ${enforcement.detail}`, { retryable: true });
    }
    return verdict;
  }

  /** The trusted root for keyless `spec.vex` authorities (`admission.signatures.trustedRoot`), loaded once. */
  private vexRoot: TrustRoot | undefined | null = null;
  private vexTrustRoot(): TrustRoot | undefined {
    if (this.vexRoot === null) {
      const file = this.opts.config.admission?.signatures?.trustedRoot;
      this.vexRoot = file ? loadTrustedRoot(file) : undefined;
    }
    return this.vexRoot;
  }

  /**
   * When `ev` may have attached (or removed) VEX for an image of its repository — an attestation
   * (`sha256-<hex>.att`), a referrer (an artefact with a subject, or the `sha256-<hex>` fallback index), a
   * signature of a referrer (`sha256-<hex>.sig`) — and the policy names `spec.vex` authorities, the image's
   * stored verdict is judged again with its referrers read anew: a signed VEX statement pushed after the
   * image lifts its block (the stored verdict and admission allow; an image pushgate quarantined still
   * comes back only by a release). Audited `vex-referrer-rejudged` with the decisions before and after.
   * @param stored the verdict of `ev` itself (undefined for a delete).
   */
  private async rejudgeForVex(ev: PushEvent, stored: Verdict | undefined): Promise<void> {
    if (!this.policy.vexAuthorities?.length) return;
    const tagged = ev.tag !== undefined && REFERRER_TAG.test(ev.tag);
    const artefact = !ev.tag && !!stored?.reasons.some((r) => r.rule === ARTIFACT_RULE);
    if (!tagged && !artefact) return;
    const subject = await referrerSubjectOf(this.client(ev.registry), ev.repository, ev.digest, ev.tag);
    if (!subject || subject === ev.digest) return;
    const before = await this.opts.store.getVerdict(ev.registry, ev.repository, subject);
    if (!before) return;
    // A judgement of the image already running may have read the referrers before this event's push:
    // it is let finish (its verdict stored first), and the image judged again after it.
    await this.inflight.get(`${ev.registry}\u0000${ev.repository}\u0000${subject}`)?.catch(() => undefined);
    // No enforcement follows this judgement: the image's recorded enforcement (a failed one still to be retried) stays.
    let after: Verdict;
    try {
      ({ stored: after } = await this.judgeAndStore({ registry: ev.registry, repository: ev.repository, digest: subject }, undefined, undefined, true));
    } catch (e) {
      // A subject no longer in the repository has nothing served to judge again (its next push is judged
      // then); any other failure is retried with the event.
      if (!isPushgateError(e, 'NOT_FOUND') || (await this.client(ev.registry).resolve(ev.repository, subject).catch(() => 'unknown')) !== undefined) throw e;
      await this.audit({ actor: 'pushgate', action: 'vex-referrer-rejudge-skipped', registry: ev.registry, repository: ev.repository, digest: subject, detail: { referrer: ev.digest, tag: ev.tag, why: `the subject is no longer in ${ev.repository}: ${(e as Error).message}` } });
      return;
    }
    await this.audit({ actor: 'pushgate', action: 'vex-referrer-rejudged', registry: ev.registry, repository: ev.repository, digest: subject, detail: { referrer: ev.digest, tag: ev.tag, before: before.decision, after: after.decision } });
    this.opts.logger.info({ registry: ev.registry, repository: ev.repository, digest: subject, referrer: ev.digest, before: before.decision, after: after.decision }, 'image judged again after a referrer changed');
  }

  /**
   * Acts on a verdict for one push event and records it: the enforcement of `view` (the verdict as
   * seen from the event's tag) with a tag restore for a blocked re-push, Harbor targets, pushgate's
   * own writes remembered; the quarantine record, the stored verdict (with the enforcement), the
   * notification, the tag history and the blocked-push metric. In a quarantine repository a blocking
   * verdict deletes (a copy cannot be quarantined into itself) and the tag goes back to pushgate's
   * own copy when it held one.
   */
  /**
   * @internal the queue workers' last step of an event (src/gate/queue-workers.ts giveUp).
   * @param handBacks how often the queued event was put back to wait ({@link QueueJob.handBacks}): bounds the grace of a push by digest only.
   */
  async enforceAndRecord(ev: PushEvent, rc: RegistryConfig, stored: Verdict, view: VerdictView, seq?: number, age?: TagLinkClock, handBacks = 0): Promise<Enforcement> {
    const blocked = blocks(view);
    const inQuarantine = this.isQuarantineRepository(ev.registry, ev.repository);
    const decision = inQuarantine && view.decision === 'quarantine' ? 'reject' : view.decision;
    let restoreDigest: Digest | undefined;
    if (ev.tag && blocked) {
      restoreDigest = inQuarantine
        ? await this.quarantinedCopyDigest(ev.registry, ev.repository, ev.tag, ev.digest)
        : // A blocked re-push of an existing tag: the tag goes back to a digest allowed for it then and now.
          await this.restoreTarget(ev.registry, ev.repository, ev.tag, ev.digest);
    }
    const qrepo = this.quarantineRepository(ev.registry, ev.repository);
    // A manifest pushed by digest only is pullable by digest: enforced on Distribution like a tag push,
    // once its grace is over (src/gate/digest-pushes.ts), unless an allowed tag or tagged index holds it.
    const heldBy = blocked && !ev.tag && rc.type === 'distribution' ? await this.heldByAllowedTag(stored) : undefined;
    // In a quarantine repository only the children of pushgate's own copies are left alone.
    const quarantineChild = blocked && !ev.tag && inQuarantine && (await this.isChildOfQuarantineCopy(ev.registry, ev.repository, ev.digest));
    const byDigest = blocked && !ev.tag && rc.type === 'distribution' && !quarantineChild && !heldBy;
    if (byDigest && view.mode === 'enforce') await this.deferInGrace(ev, stored, handBacks);
    const heldByIndex = byDigest ? await this.heldByTaggedIndex(stored) : undefined;
    const acts = blocked && (!!ev.tag || (byDigest && !heldByIndex));
    // Distribution notifies a push before it links the tag: the action waits for the link by the event's age,
    // and the event goes back to the queue rather than hold this worker (src/gate/tag-links.ts). Before the
    // own writes are announced, so a deferred event announces nothing yet.
    const linkAwaited = acts && ev.tag !== undefined && rc.type === 'distribution' && view.mode === 'enforce';
    if (linkAwaited) await awaitPushedTagLink(this.client(ev.registry), { ...ev, tag: ev.tag! }, age);
    // Remembered in the store before the writes exist (every replica sees them): their notifications
    // may be handled before enforce() returns. Writes learnt during the action come through onWrite.
    const onWrite = await this.expectOwnWrites(
      ev.registry,
      plannedWrites({ type: rc.type, acts, decision, repository: ev.repository, digest: ev.digest, tag: ev.tag, restoreDigest, quarantineRepository: qrepo }),
    );
    let retagged: Digest | undefined;
    // A child of a quarantined index, copied by pushgate into the quarantine repository by digest, is left
    // alone (a late notification must not delete it; admission never admits it).
    const enforcement: Enforcement =
      blocked && !ev.tag && (quarantineChild || heldBy || heldByIndex)
        ? {
            action: 'none',
            status: 'skipped',
            detail: heldBy
              ? `pushed by digest: left alone, tag ${heldBy} points at it and its mapping (${viewOf(this.policy, stored, heldBy).mode}) allows it`
              : heldByIndex
                ? `pushed by digest: left alone, the index ${ev.repository}:${heldByIndex.tag} (${heldByIndex.index}) names it and is allowed for that tag`
                : `a child of pushgate's quarantine copy in ${ev.repository}: left alone`,
          }
        : await enforce({
            client: this.client(ev.registry),
            type: rc.type,
            repository: ev.repository,
            digest: ev.digest,
            tag: ev.tag,
            decision,
            mode: view.mode,
            quarantinePrefix: rc.quarantine.repositoryPrefix,
            restoreDigest,
            childBlocks: this.childBlocks(ev.registry, ev.repository),
            harbor: this.harborTarget(ev.registry),
            tagLink: linkAwaited ? 'awaited' : undefined,
            quarantineLock: this.quarantineLock(ev.registry),
            onWrite: async (w) => {
              if (seq !== undefined && ev.tag && w.repository === ev.repository && w.tag === ev.tag) this.restores.set(tagKey(ev.registry, ev.repository, ev.tag), { digest: w.digest, seq });
              if (ev.tag && w.repository === ev.repository && w.tag === ev.tag) retagged = w.digest;
              await onWrite(w);
            },
          });
    if (seq !== undefined && ev.tag && rc.type === 'distribution' && !inQuarantine && view.mode === 'enforce' && !blocked) await this.repairOverwrittenTag(ev, seq);
    if (enforcement.action === 'quarantine' && enforcement.status === 'done' && (ev.tag || rc.type === 'distribution')) {
      // tag '' for a push by digest only: a release puts it back by digest.
      await this.opts.store.recordQuarantine({ registry: ev.registry, repository: ev.repository, tag: ev.tag ?? '', digest: ev.digest, quarantineRepository: qrepo });
    }
    stored.enforcement = enforcement;
    if (enforcement.action !== 'none') this.opts.counters?.enforcement?.(enforcement.action, enforcement.status);
    await this.opts.store.putVerdict(summarize(this.policy, stored));
    const seen = withView(stored, view);
    if (blocked && enforcement.status === 'done' && enforcement.action !== 'none') await this.opts.notifier?.blocked({ ...seen, tags: ev.tag ? [ev.tag] : seen.tags });
    if (ev.tag) {
      // The digests the tag leaves are re-judged by digest (a hold by this tag ends); queued before the
      // tag lists change, so an event retried after a failure here still finds them.
      const left = (await this.opts.store.tagHolders(ev.registry, ev.repository, ev.tag)).filter((d) => d !== ev.digest && d !== retagged);
      await this.recheckLeft(ev, left, `tag ${ev.tag} moved to ${retagged ?? ev.digest}`, [ev.digest, ...(retagged ? [retagged] : [])]);
      await this.opts.store.recordTag(ev.registry, ev.repository, ev.tag, ev.digest, !blocked);
      // Verdict tag lists follow the registry: the push moved the tag here, a restore moved it back.
      await this.opts.store.moveTag(ev.registry, ev.repository, ev.tag, ev.digest);
      if (retagged && retagged !== ev.digest) {
        await this.opts.store.recordTag(ev.registry, ev.repository, ev.tag, retagged, true);
        await this.opts.store.moveTag(ev.registry, ev.repository, ev.tag, retagged);
      }
    }
    if (blocked && ev.tag) {
      const rule = view.reasons.find((r) => r.action === view.decision)?.rule ?? view.reasons[0]?.rule ?? 'unknown';
      // The registry notified this push (or reconcile listed it): the repository exists there.
      this.hooks.blockedPush?.(ev.registry, ev.repository, rule, 'async', true);
    }
    // In the background, after everything above is recorded: publishing never delays or changes enforcement.
    this.publisher?.afterVerdict(summarize(this.policy, stored));
    return enforcement;
  }

  /**
   * Within the grace of a blocking manifest pushed by digest only (`enforcement.untaggedGrace`): stores
   * its verdict (blocking: admission denies the digest meanwhile) with a pending enforcement, audits
   * `enforcement-deferred`, and throws {@link DeferredEnforcement} so the queue worker puts the event
   * back, due when the grace ends. Returns when the grace is over.
   */
  private async deferInGrace(ev: PushEvent, stored: Verdict, handBacks: number): Promise<void> {
    const waitMs = await this.digests.graceLeftMs(ev.registry, ev.repository, ev.digest, handBacks);
    if (waitMs <= 0) return;
    const at = new Date(Date.now() + waitMs).toISOString();
    const detail = `pushed by digest only: acted on at ${at} (enforcement.untaggedGrace) unless an index pushed with a tag names it first; then it is judged and enforced with that index`;
    stored.enforcement = { action: 'none', status: 'pending', detail };
    await this.opts.store.putVerdict(summarize(this.policy, stored));
    await this.audit({ actor: 'pushgate', action: 'enforcement-deferred', registry: ev.registry, repository: ev.repository, digest: ev.digest, detail: { until: at, waitMs } });
    throw new DeferredEnforcement(waitMs, `${ev.repository}@${ev.digest}: ${detail}`, true);
  }

  /**
   * Queues a re-check event (source `reconcile`, actor {@link RECHECK_ACTOR}, no tag) of each digest
   * {@link DigestPushes.recheckTargets} finds in `left` (less `skip`), and audits `recheck-queued` with
   * `cause`. Such an event is handled like a push by digest only: enforced by digest unless an allowed
   * tag or tagged index holds the digest now, after the grace counted from its first event (no new
   * grace), and completed as `recheck-gone` when the digest is no longer in the repository. Nothing is
   * queued for a quarantine repository (pushgate's copies are never acted on) or for Harbor (no action
   * by digest there). The event id is derived from the triggering event and the digest, so handling that
   * event again (a retry, another replica after a lease expired) queues nothing twice.
   * @throws PushgateError STORE when the store fails (the triggering event is retried).
   */
  private async recheckLeft(ev: PushEvent, left: Digest[], cause: string, skip: Digest[]): Promise<void> {
    if (!left.length || this.registryConfig(ev.registry).type !== 'distribution' || this.isQuarantineRepository(ev.registry, ev.repository)) return;
    for (const digest of await this.digests.recheckTargets(ev.registry, ev.repository, left)) {
      if (skip.includes(digest)) continue;
      const id = `recheck-${createHash('sha256').update([ev.registry, ev.source, ev.id, ev.repository, ev.tag ?? '', digest].join('\0')).digest('hex').slice(0, 32)}`;
      const { inserted } = await this.ingest({ id, source: 'reconcile', registry: ev.registry, action: 'push', repository: ev.repository, digest, actor: RECHECK_ACTOR });
      if (inserted) await this.audit({ actor: 'pushgate', action: 'recheck-queued', registry: ev.registry, repository: ev.repository, digest, tag: ev.tag, detail: { cause } });
    }
  }

  /** See {@link DigestPushes.restoreTarget}. */
  restoreTarget(registry: string, repository: string, tag: string, blocked: Digest): Promise<Digest | undefined> {
    return this.digests.restoreTarget(registry, repository, tag, blocked);
  }

  /** See {@link DigestPushes.currentView}. */
  currentView(v: Verdict, tag?: string): Promise<VerdictView | undefined> {
    return this.digests.currentView(v, tag);
  }

  /** See {@link DigestPushes.heldByAllowedTag}. */
  heldByAllowedTag(v: Verdict): Promise<string | undefined> {
    return this.digests.heldByAllowedTag(v);
  }

  /** See {@link DigestPushes.heldByTaggedIndex}. */
  heldByTaggedIndex(v: Verdict): Promise<{ tag: string; index: Digest } | undefined> {
    return this.digests.heldByTaggedIndex(v);
  }

  /**
   * The lock of a quarantine repository of `registry` ({@link storeQuarantineLock}): quarantine copies into
   * one repository run one at a time across every replica sharing the store.
   */
  quarantineLock(registry: string): QuarantineLock {
    return storeQuarantineLock(this.opts.store, registry);
  }

  /** See {@link DigestPushes.childBlocks}. */
  childBlocks(registry: string, repository: string): ChildBlocks {
    return this.digests.childBlocks(registry, repository);
  }

  /**
   * An allowed push of a tag that a restore of pushgate's may have overwritten: the restore checked that
   * the tag still pointed at the blocked digest, but a push landing between that check and the write
   * (Distribution has no conditional PUT) is rolled back by it. When this event came after the one
   * whose handling restored the tag, and the tag still points at exactly the digest restored, the tag
   * is pointed at this event's digest again (checked immediately before the write) and the audit says so.
   */
  private async repairOverwrittenTag(ev: PushEvent & { tag?: string }, seq: number): Promise<void> {
    const key = tagKey(ev.registry, ev.repository, ev.tag!);
    const last = this.restores.get(key);
    if (!last || last.seq >= seq || last.digest === ev.digest) return;
    // The gate's clients remember each manifest before writing it; `after` covers a client that does not.
    const after = await this.expectOwnWrites(ev.registry, []);
    const r = await repointTag(this.client(ev.registry), ev.repository, ev.tag!, ev.digest, last.digest);
    for (const w of r.writes) await after(w);
    if (r.ok) {
      this.restores.set(key, { digest: ev.digest, seq });
      await this.recheckLeft(ev, [last.digest], `tag ${ev.tag} moved to ${ev.digest}`, [ev.digest]);
      // The tag's verdict is this digest's again (verdicts?image=repo:tag, admission by tag).
      await this.opts.store.moveTag(ev.registry, ev.repository, ev.tag!, ev.digest);
    } else this.restores.delete(key);
    this.opts.logger.info({ registry: ev.registry, repository: ev.repository, tag: ev.tag, digest: ev.digest, repaired: r.ok, detail: r.detail }, 'tag overwritten by a restore checked');
    if (r.ok) await this.audit({ actor: 'pushgate', action: 'tag-repaired', registry: ev.registry, repository: ev.repository, digest: ev.digest, tag: ev.tag, detail: { detail: r.detail, overwrittenBy: last.digest } });
  }

  /** Starts `config.scan.workers` workers claiming queued events, and the probe of registries with blocked events. */
  start(): void {
    this.queue.start();
    this.baseImages.start(this.baseImagesHost());
  }

  /** What the base catalog's tag listing asks of the registries and the judge. */
  baseImagesHost(): BaseImagesHost {
    return {
      listTags: (registry, repository) => this.client(registry).listTags(repository),
      listRepositories: (registry) => this.client(registry).catalog(),
      resolve: async (registry, repository, tag) => (await this.client(registry).resolve(repository, tag))?.digest,
      assess: (req) => this.judgeAndStore(req),
    };
  }

  /** Stops the workers after their current event; an event in progress keeps its lease and is retried if the process dies. */
  stop(): Promise<void> {
    this.baseImages.stop();
    return this.queue.stop();
  }

  /** Processes queued events until none is due (tests and `pushgate reconcile`). */
  drain(): Promise<number> {
    return this.queue.drain();
  }

  /** True when `registry` answers GET /v2/ (see {@link QueueWorkers.registryAnswers}). */
  registryAnswers(registry: string): Promise<boolean> {
    return this.queue.registryAnswers(registry);
  }

  /** Resumes the events blocked on `registry` when it answers (the probe, reconcile). @returns how many. */
  resumeBlocked(registry: string): Promise<number> {
    return this.queue.resumeBlocked(registry);
  }

  /** Counts a listing of `registry` that stopped at its bound (reconcile; {@link GateCounters.listingTruncated}). */
  countListingTruncated(registry: string, listing: 'catalog' | 'tags'): void {
    this.opts.counters?.listingTruncated?.(registry, listing);
  }

  // --- Scans with a caller's registry credential (Harbor scanner adapter, issue 6) -------------

  /**
   * Scans and judges like {@link assess}, but reads the registry with `credential` (the
   * short-lived robot account Harbor puts in a scan request) instead of the configured one. The
   * credential lives in a client made for this call only: never cached, stored or logged.
   * @throws PushgateError NOT_FOUND when `req.registry` is not configured; registry errors as assess.
   */
  async assessWithCredential(req: AssessRequest, credential: { username: string; password: string } | { token: string } | undefined): Promise<{ verdict: Verdict; report: ScanReport }> {
    const rc = this.registryConfig(req.registry);
    const via = credential ? this.registries.makeClient({ ...rc, auth: 'token' in credential ? { token: credential.token, realms: rc.auth?.realms } : { username: credential.username, password: credential.password, realms: rc.auth?.realms } }) : undefined;
    return this.judgeAndStore(req, undefined, via);
  }
}

/** Key of a tag in the gate's maps. */
function tagKey(registry: string, repository: string, tag: string): string {
  return [registry, repository, tag].join('\u0000');
}

/** A copy of the scan whose image configs keep Env names, never values (`NAME=***`). */
export function redactConfigEnv(scan: ImageScan): ImageScan {
  return {
    ...scan,
    platforms: scan.platforms.map((p) => {
      const env = p.config?.config?.Env;
      if (!env) return p;
      return { ...p, config: { ...p.config, config: { ...p.config.config, Env: env.map((e) => `${e.split('=')[0]}=***`) } } };
    }),
  };
}

/** Rejects with PushgateError TIMEOUT when `ms` passes before `p` settles (the work goes on). */
export function withDeadline<T>(p: Promise<T>, ms: number | undefined, what: string): Promise<T> {
  if (!ms || ms <= 0) return p;
  let timer: NodeJS.Timeout;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PushgateError('TIMEOUT', `${what} did not finish within ${ms} ms`, { retryable: true })), ms);
  });
  p.catch(() => undefined);
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
