/**
 * The gate: the only module that knows the whole flow. Notifications are queued durably
 * (src/store), workers claim them, resolve and scan the manifest (src/scan through
 * {@link registrySource}), match (src/vulndb), judge (src/policy), store one verdict per
 * (registry, repository, digest), and enforce (src/enforce). A failure to reach the registry puts
 * the event back with a backoff; nothing accepted is dropped.
 */
import fs from 'node:fs';
import { LRUCache } from 'lru-cache';
import { randomUUID } from 'node:crypto';
import {
  isBlocking,
  PushgateError,
  type Digest,
  type Evaluation,
  type PolicyMode,
  type PushEvent,
  type ScanReport,
  type Verdict,
} from '../core/index.js';
import type { PushgateConfig, RegistryConfig } from '../config/types.js';
import { enforce } from '../enforce/index.js';
import type { CompiledPolicy } from '../policy/index.js';
import { evaluate } from '../policy/index.js';
import { RegistryClient } from '../registry/client.js';
import { scanImage, type ImageScan, type LayerCache } from '../scan/engine.js';
import type { Store } from '../store/index.js';
import { VulnDb } from '../vulndb/index.js';
import { judgeScan, type Judgement } from './judge.js';
import { registrySource } from './registry-source.js';
import type { AssessRequest, AuditEntry, GateApi, GateHooks, PendingManifest } from './types.js';

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
  vulndbAge?(seconds: number): void;
  registryRequest?(registry: string, method: string, code: number | 'error'): void;
}

/** What the gate needs. */
export interface GateOptions {
  config: PushgateConfig;
  store: Store;
  policy: CompiledPolicy;
  logger: Logger;
  hooks?: GateHooks;
  counters?: GateCounters;
  /** Lease of a claimed event in ms (default 30 s): how long a killed process's event waits before another worker takes it. */
  leaseMs?: number;
  /** Creates the client of a configured registry (tests may wrap it). */
  clientFactory?: (rc: RegistryConfig, onRequest: (e: { method: string; code: number | 'error' }) => void) => RegistryClient;
}

const SCAN_KEY = (digest: Digest) => `scan:${digest}`;
/** Default lease of a claimed event, ms; renewed every third of it while the worker is busy. */
const DEFAULT_LEASE_MS = 30_000;

/** See the module comment. */
export class Gate implements GateApi {
  readonly hooks: GateHooks;
  private readonly clients = new Map<string, RegistryClient>();
  private readonly inflight = new Map<string, Promise<Judgement>>();
  private policy: CompiledPolicy;
  private vulndb: VulnDb | undefined;
  private vulndbMtime = 0;
  private vulndbCheckedAt = 0;
  private running = false;
  private workers: Promise<void>[] = [];
  private wake: (() => void) | undefined;
  private readonly workerId = `${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly leaseMs: number;
  /** Decoded layer analyses in memory in front of the store's table (a warm scan parses no JSON). */
  private readonly layerMemory = new LRUCache<string, object>({ max: 256 });

  constructor(private readonly opts: GateOptions) {
    this.hooks = opts.hooks ?? {};
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    this.policy = opts.policy;
    this.refreshVulnDb(true);
  }

  /** The policy in force. */
  get currentPolicy(): CompiledPolicy {
    return this.policy;
  }

  /** Replaces the policy (hot reload); stored verdicts are re-evaluated on their next event. */
  setPolicy(p: CompiledPolicy): void {
    this.policy = p;
  }

  /** The opened vulnerability database, if there is one (re-opened when the file was replaced). */
  currentVulnDb(): VulnDb | undefined {
    this.refreshVulnDb(false);
    return this.vulndb;
  }

  private refreshVulnDb(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.vulndbCheckedAt < 2000) return;
    this.vulndbCheckedAt = now;
    const file = this.opts.config.vulndb.path;
    let mtime: number;
    try {
      mtime = fs.statSync(file).mtimeMs;
    } catch {
      mtime = 0;
    }
    if (mtime === this.vulndbMtime && !force) return;
    this.vulndbMtime = mtime;
    const old = this.vulndb;
    this.vulndb = undefined;
    if (mtime) {
      try {
        this.vulndb = VulnDb.open(file);
        this.opts.logger.info({ path: file, builtAt: this.vulndb.builtAt }, 'vulnerability database loaded');
      } catch (e) {
        this.opts.logger.warn({ err: (e as Error).message }, 'vulnerability database could not be opened');
      }
    }
    if (old && old !== this.vulndb) setTimeout(() => old.close(), 30_000).unref();
    const built = this.vulndb?.builtAt ? Date.parse(this.vulndb.builtAt) : NaN;
    if (Number.isFinite(built)) this.opts.counters?.vulndbAge?.((Date.now() - built) / 1000);
  }

  registryForHost(host: string): RegistryConfig | undefined {
    return this.opts.config.registries.find((r) => new URL(r.url).host === host);
  }

  private registryConfig(name: string): RegistryConfig {
    const rc = this.opts.config.registries.find((r) => r.name === name);
    if (!rc) throw new PushgateError('NOT_FOUND', `registry "${name}" is not configured (registries[].name)`);
    return rc;
  }

  client(registry: string): RegistryClient {
    let c = this.clients.get(registry);
    if (c) return c;
    const rc = this.registryConfig(registry);
    const onRequest = (e: { method: string; code: number | 'error' }) => this.opts.counters?.registryRequest?.(rc.name, e.method, e.code);
    c = this.opts.clientFactory
      ? this.opts.clientFactory(rc, onRequest)
      : new RegistryClient({
          name: rc.name,
          url: rc.url,
          insecure: rc.insecure,
          ca: rc.ca,
          clientCert: rc.clientCert,
          clientKey: rc.clientKey,
          auth: rc.auth,
          timeoutMs: rc.timeoutMs,
          concurrency: rc.concurrency,
          onRequest,
        });
    this.clients.set(registry, c);
    return c;
  }

  async verdict(registry: string, repository: string, digest: Digest): Promise<Verdict | undefined> {
    return this.opts.store.getVerdict(registry, repository, digest);
  }

  modeFor(registry: string, repository: string, tag?: string): PolicyMode {
    return evaluate(this.policy, { registry, repository, tag, findings: [], secrets: [], config: [], diagnostics: [], packages: [], complete: true }).mode;
  }

  async audit(entry: AuditEntry): Promise<void> {
    await this.opts.store.audit(entry);
  }

  async enqueue(req: AssessRequest): Promise<void> {
    await this.ingest({
      id: `${req.source}-${randomUUID()}`,
      source: req.source === 'admission' ? 'api' : req.source,
      registry: req.registry,
      action: 'push',
      repository: req.repository,
      digest: req.digest,
      tag: req.tag,
    });
  }

  /** Durably queues events (resolves after they are on disk) and wakes a worker. */
  async ingest(event: PushEvent): Promise<{ inserted: boolean }> {
    const r = await this.opts.store.enqueue(event);
    this.wake?.();
    this.opts.counters?.queueDepth?.(await this.opts.store.queueDepth());
    return r;
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

  /** Scans (or reuses the stored inventory of) `digest` and judges it for this repository. */
  private async judge(req: { registry: string; repository: string; digest: Digest; tag?: string }, pending?: { bytes: Buffer; mediaType: string }): Promise<Judgement> {
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
        try {
          scan = await scanImage(registrySource(this.client(req.registry), req.repository, req.digest, pending), { layerCache: this.layerCache(), tmpDir: this.opts.config.scan.tmpDir });
        } catch (e) {
          this.opts.counters?.scan?.('failed', Number(process.hrtime.bigint() - t0) / 1e9, 0);
          throw e;
        }
        const complete = !scan.diagnostics.some((d) => d.incomplete) && scan.platforms.every((p) => !p.inventory.diagnostics.some((d) => d.incomplete));
        this.opts.counters?.scan?.(complete ? 'complete' : 'incomplete', Number(process.hrtime.bigint() - t0) / 1e9, scan.bytesRead);
        // Only complete scans are reused: an incomplete one (bad layer, registry hiccup) is tried again next time.
        if (complete) await this.opts.store.putLayer(SCAN_KEY(req.digest), scan);
      }
      return judgeScan(scan, vulndb, this.policy, { registry: req.registry, repository: req.repository, tag: req.tag });
    })();
    this.inflight.set(key, p);
    try {
      return await p;
    } finally {
      this.inflight.delete(key);
    }
  }

  private verdictFrom(req: { registry: string; repository: string; digest: Digest; tag?: string }, j: Judgement, digest: Digest = req.digest, evaluation: Evaluation = j.evaluation, complete: boolean = j.report.complete): Verdict {
    return {
      registry: req.registry,
      repository: req.repository,
      digest,
      tags: req.tag ? [req.tag] : [],
      decision: evaluation.decision,
      complete,
      reasons: evaluation.reasons,
      mode: j.evaluation.mode,
      policy: evaluation.policy,
      vulndb: { builtAt: j.report.vulndb?.builtAt ?? null },
      evaluatedAt: new Date().toISOString(),
    };
  }

  /** Judges and stores the verdicts (the manifest's, and one per platform child of an index). */
  private async judgeAndStore(req: { registry: string; repository: string; digest: Digest; tag?: string }, pending?: { bytes: Buffer; mediaType: string }): Promise<{ verdict: Verdict; report: ScanReport }> {
    const j = await this.judge(req, pending);
    const verdict = this.verdictFrom(req, j);
    // The mode comes from the mapping; a blocking decision in warn mode is recorded as warn (DESIGN.md §3).
    if (verdict.mode === 'warn' && isBlocking(verdict.decision)) verdict.decision = 'warn';
    await this.opts.store.putReport(req.digest, j.report);
    for (const c of j.children) {
      if (c.digest === req.digest) continue;
      const cv = this.verdictFrom({ ...req, tag: undefined }, j, c.digest, { ...c.evaluation }, c.complete);
      if (cv.mode === 'warn' && isBlocking(cv.decision)) cv.decision = 'warn';
      await this.opts.store.putVerdict(cv);
    }
    await this.opts.store.putVerdict(verdict);
    this.opts.counters?.verdict?.(verdict);
    return { verdict, report: j.report };
  }

  async assess(req: AssessRequest, opts: { deadlineMs?: number; signal?: AbortSignal } = {}): Promise<Verdict> {
    this.registryConfig(req.registry);
    const work = this.judgeAndStore(req).then((r) => r.verdict);
    return withDeadline(work, opts.deadlineMs, `scan of ${req.repository}@${req.digest}`);
  }

  async assessPending(m: PendingManifest, opts: { deadlineMs?: number; signal?: AbortSignal } = {}): Promise<{ verdict: Verdict; report: ScanReport }> {
    this.registryConfig(m.registry);
    const digest = `sha256:${(await import('node:crypto')).createHash('sha256').update(m.bytes).digest('hex')}`;
    const work = this.judgeAndStore({ registry: m.registry, repository: m.repository, digest, tag: m.tag }, { bytes: m.bytes, mediaType: m.mediaType });
    return withDeadline(work, opts.deadlineMs, `scan of ${m.repository}@${digest}`);
  }

  /**
   * Handles one queued event: judge (reusing a stored verdict of the same digest and policy
   * revision, so a re-push of a blocked digest is enforced again without rescanning), enforce,
   * record the tag history and the audit trail.
   */
  async processEvent(ev: PushEvent): Promise<Verdict | undefined> {
    const rc = this.registryConfig(ev.registry);
    if (ev.action === 'delete') {
      await this.audit({ actor: ev.actor ?? 'registry', action: 'deleted', registry: ev.registry, repository: ev.repository, digest: ev.digest, tag: ev.tag });
      return undefined;
    }
    const prior = await this.opts.store.getVerdict(ev.registry, ev.repository, ev.digest);
    let verdict: Verdict;
    if (prior && prior.complete && prior.policy.revision === this.policy.revision) {
      verdict = { ...prior, tags: ev.tag ? [ev.tag] : [], evaluatedAt: new Date().toISOString() };
      this.opts.counters?.scan?.('cached', 0, 0);
    } else {
      verdict = (await this.judgeAndStore({ registry: ev.registry, repository: ev.repository, digest: ev.digest, tag: ev.tag })).verdict;
    }
    const enforcement = await enforce({
      client: this.client(ev.registry),
      type: rc.type,
      repository: ev.repository,
      digest: ev.digest,
      tag: ev.tag,
      decision: verdict.decision,
      mode: verdict.mode,
      quarantinePrefix: rc.quarantine.repositoryPrefix,
    });
    verdict.enforcement = enforcement;
    if (enforcement.action !== 'none') this.opts.counters?.enforcement?.(enforcement.action, enforcement.status);
    await this.opts.store.putVerdict(verdict);
    const blocked = isBlocking(verdict.decision) && verdict.mode === 'enforce';
    if (ev.tag) await this.opts.store.recordTag(ev.registry, ev.repository, ev.tag, ev.digest, !blocked);
    if (blocked && ev.tag) {
      const rule = verdict.reasons.find((r) => isBlocking(r.action))?.rule ?? 'unknown';
      this.hooks.blockedPush?.(ev.registry, ev.repository, rule, 'async');
    }
    await this.audit({
      actor: ev.actor ?? 'unknown',
      action: `verdict:${verdict.decision}`,
      registry: ev.registry,
      repository: ev.repository,
      digest: ev.digest,
      tag: ev.tag,
      detail: { reasons: verdict.reasons.map((r) => r.rule), enforcement },
    });
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

  /** Starts `config.scan.workers` workers claiming queued events. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const n = Math.max(1, this.opts.config.scan.workers);
    for (let i = 0; i < n; i++) this.workers.push(this.workerLoop(`${this.workerId}-${i}`));
  }

  /** Stops the workers after their current event; an event in progress keeps its lease and is retried if the process dies. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await Promise.all(this.workers);
    this.workers = [];
  }

  /** Processes queued events until none is due (tests and `pushgate reconcile`). */
  async drain(): Promise<number> {
    let n = 0;
    for (;;) {
      const worker = `${this.workerId}-drain`;
      const job = await this.opts.store.claim(worker, this.leaseMs);
      if (!job) return n;
      await this.runJob(worker, job.seq, job.event, job.attempts);
      n++;
    }
  }

  private async workerLoop(id: string): Promise<void> {
    while (this.running) {
      let job;
      try {
        job = await this.opts.store.claim(id, this.leaseMs);
      } catch (e) {
        this.opts.logger.error({ err: (e as Error).message }, 'store: claim failed');
      }
      if (!job) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 500);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        continue;
      }
      await this.runJob(id, job.seq, job.event, job.attempts);
    }
  }

  private async runJob(worker: string, seq: number, event: PushEvent, attempts: number): Promise<void> {
    // Heartbeat: the lease is short (a killed process's event is picked up again within a minute)
    // and renewed while this worker is busy with it.
    const beat = setInterval(() => {
      this.opts.store.extendLease(seq, worker, this.leaseMs).catch(() => undefined);
    }, this.leaseMs / 3);
    beat.unref();
    try {
      await this.processEvent(event);
      await this.opts.store.complete(seq);
    } catch (e) {
      const err = e as PushgateError;
      const gone = err instanceof PushgateError && err.code === 'NOT_FOUND';
      if (gone) {
        this.opts.logger.warn({ repository: event.repository, digest: event.digest, err: err.message }, 'manifest is gone; event completed');
        await this.audit({ actor: 'pushgate', action: 'manifest-gone', registry: event.registry, repository: event.repository, digest: event.digest, tag: event.tag, detail: { error: err.message } });
        await this.opts.store.complete(seq);
      } else {
        const delay = Math.min(5 * 60_000, 1000 * 2 ** Math.min(attempts, 9));
        this.opts.logger.warn({ repository: event.repository, digest: event.digest, attempts, retryInMs: delay, err: err.message }, 'event failed; will retry');
        await this.opts.store.retry(seq, err.message, delay, 50);
      }
    } finally {
      clearInterval(beat);
    }
    this.opts.counters?.queueDepth?.(await this.opts.store.queueDepth());
  }
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
