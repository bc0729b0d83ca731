/**
 * The gate's surface for the modules built on it (admission, proxy, server, cli): look up
 * verdicts by content address, ask for an assessment, and report what happened. Implemented by
 * src/gate/gate.ts; admission and proxy depend only on this interface.
 */
import type { Digest, PolicyMode, PushEvent, Verdict, ScanReport } from '../core/index.js';
import type { CompiledSignatureRule } from '../policy/types.js';
import type { RegistryConfig } from '../config/types.js';
import type { RegistryClient } from '../registry/client.js';
import type { VerdictView } from './verdict-view.js';
import type { ChangeRecord } from '../store/monitor-types.js';
import type { QuarantineRecord } from '../store/types.js';

export type { ChangeRecord } from '../store/monitor-types.js';

/** What to assess: one manifest (or index) in one repository of a guarded registry. */
export interface AssessRequest {
  /** Configured registry name (`registries[].name`). */
  registry: string;
  repository: string;
  digest: Digest;
  tag?: string;
  /** Who asks: recorded in the audit log. */
  source: 'distribution' | 'harbor' | 'api' | 'reconcile' | 'proxy' | 'admission';
}

/**
 * A manifest that is not in the registry yet (held by the proxy at its PUT): its blobs are
 * already uploaded, so they are fetched from the registry by digest.
 */
export interface PendingManifest {
  registry: string;
  repository: string;
  tag?: string;
  /** Exact bytes of the PUT body. */
  bytes: Buffer;
  mediaType: string;
}

/** Observation hooks (the metrics module implements them; domain code never imports prom-client). */
export interface GateHooks {
  admission?(decision: 'allow' | 'deny' | 'warn' | 'error', seconds: number): void;
  proxyRequest?(method: string, code: number): void;
  proxyGate?(seconds: number): void;
  /** +1 per request the proxy refused for its path; `reason` as in src/proxy/route.ts `PathRefusal`. */
  proxyRefusedPath?(reason: string): void;
  /**
   * +1 per blocked push; `rule` = the first blocking rule. `judged`: the registry vouches for the
   * repository: it notified the push (async), or pushgate read every blob of a complete verdict
   * from it (sync). False for refusals resting on nothing but the client's word (gate error,
   * timeout, an incomplete scan of blobs that may not exist).
   */
  blockedPush?(registry: string, repository: string, rule: string, mode: 'async' | 'sync', judged: boolean): void;
  /** +1 per image of an admission review that would start a scan, by what happened (src/admission/scan-triggers.ts). */
  admissionScanTrigger?(result: 'queued' | 'scanned' | 'coalesced' | 'over-review-cap' | 'rate-limited'): void;
  /** +1 per admission connection or request refused before any review was read. */
  admissionRefused?(reason: 'no-client-cert' | 'untrusted-client-cert' | 'client-name-not-allowed' | 'tls-error'): void;
  /** +1 per review carrying the break-glass annotation: honoured or refused. */
  admissionBreakGlass?(result: 'honoured' | 'refused'): void;
}

/** One audit record (who did what to which image, and why). */
export interface AuditEntry {
  actor: string;
  action: string;
  registry?: string;
  repository?: string;
  digest?: Digest;
  tag?: string;
  detail?: Record<string, unknown>;
}

/** The gate as seen by admission, proxy, server and cli. */
export interface GateApi {
  /**
   * The configured registry that `host[:port]` reaches (its URL host or one of its aliases, under
   * the one host normalizer, src/core/host.ts), if pushgate guards it.
   * @throws PushgateError BAD_ARGUMENT when `host` is not a host name or reaches several registries.
   */
  registryForHost(host: string): RegistryConfig | undefined;
  /** The registry client for a configured registry name (throws PushgateError NOT_FOUND otherwise). */
  client(registry: string): RegistryClient;
  /**
   * The monitor's change records of (registry, repository, digest), newest first (at most 50), for
   * telling a verdict that became blocking through a database change from one blocking since its push
   * (src/admission/standing.ts). Optional: without it no image counts as newly failing.
   */
  changes?(registry: string, repository: string, digest: Digest): Promise<ChangeRecord[]>;
  /** The stored verdict of (registry, repository, digest), if any. Never scans. */
  verdict(registry: string, repository: string, digest: Digest): Promise<Verdict | undefined>;
  /**
   * The quarantine record holding `repository:tag` of `registry` now (state `quarantined`, newest), if
   * any: why a tag the registry no longer has is missing. Optional: without it a missing tag is only
   * missing. Never decides admission (the registry does: a missing tag is denied either way).
   */
  quarantinedTag?(registry: string, repository: string, tag: string): Promise<QuarantineRecord | undefined>;
  /**
   * Scans and judges now (joining a scan of the same digest already running), stores and returns
   * the verdict. Does not enforce. Rejects with PushgateError when `deadlineMs` passes first.
   */
  assess(req: AssessRequest, opts?: { deadlineMs?: number; signal?: AbortSignal }): Promise<Verdict>;
  /** Judges a manifest held at its PUT (proxy). Stores the verdict keyed by the manifest's digest. */
  assessPending(m: PendingManifest, opts?: { deadlineMs?: number; signal?: AbortSignal }): Promise<{ verdict: Verdict; report: ScanReport }>;
  /**
   * Queues an asynchronous scan (durable). A request from `admission` is not queued when an event
   * of the same (registry, repository, digest) is already queued or running (store.enqueueUnlessPending).
   */
  enqueue(req: AssessRequest): Promise<void>;
  /**
   * The decision, mode and reasons `v` carries for `tag` (undefined: the digest without a tag), derived
   * from its raw evaluations with the mapping of (registry, repository, tag) under the policy in force
   * (src/gate/verdict-view.ts). Every decision to deny, refuse or enforce is read through this.
   */
  viewFor(v: Verdict, tag?: string): VerdictView;
  /**
   * The mode (`enforce` | `warn` | `audit`) of the mapping of (registry, repository, tag) under the policy
   * in force, for a reference without a verdict yet. Optional: without it such a reference counts as `enforce`.
   */
  modeFor?(registry: string, repository: string, tag?: string): PolicyMode;
  /** True when `repository` is where `registry` keeps quarantine copies (`quarantine.repositoryPrefix`, Harbor's quarantine project). */
  isQuarantineRepository(registry: string, repository: string): boolean;
  /** Writes an audit record. */
  audit(entry: AuditEntry): Promise<void>;
  /**
   * Calls `listener` with every push or delete event the gate queues (registry notifications,
   * reconcile, API), once it is durable; for caches that a new manifest makes stale (signature checks).
   * Optional. @returns a function that removes the listener.
   */
  onPush?(listener: (ev: PushEvent) => void): () => void;
  hooks: GateHooks;
  /**
   * The policy in force (its revision changes with every reload, exception and release); memos of verdicts
   * key on it. `signatures`: its signature rules, checked at admission.
   */
  readonly currentPolicy?: { readonly revision: string; readonly signatures?: readonly CompiledSignatureRule[] };
}
