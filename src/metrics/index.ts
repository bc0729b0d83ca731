/**
 * Every pushgate metric, defined once (the only importer of prom-client). Names and labels are
 * the public contract of DESIGN.md §3 "Metrics"; label values are bounded (registry names,
 * repositories, rule names), never digests or advisory ids.
 *
 * No label takes a value as a client sent it: a `repository` label names only a repository the
 * registry vouches for (it notified the push, or pushgate read a complete verdict's blobs from it),
 * as a valid name, folded to `metrics.repositoryDepth` components
 * ({@link repositoryLabel}); an event's `action` label is one of the actions senders define
 * ({@link actionLabel}). Whatever clients push, the number of series stays bounded.
 */
import client from 'prom-client';
import type { GateHooks } from '../gate/types.js';
import { isRegistryRepositoryName } from '../core/names.js';
import { DECISIONS } from '../core/index.js';

/** `registry` label of `pushgate_images_by_decision` for verdicts of a registry no longer configured. */
export const OTHER_REGISTRY = '(other)';

/** `repository` label value of a push pushgate holds no verdict for, or whose name is not valid. */
export const UNJUDGED_REPOSITORY = '(unjudged)';
/** `repository` label value once {@link MAX_REPOSITORY_LABELS} distinct values are in use. */
export const OTHER_REPOSITORY = '(other)';
/** Distinct `repository` label values one process exposes at most; later ones count as {@link OTHER_REPOSITORY}. */
export const MAX_REPOSITORY_LABELS = 1000;

/**
 * The `repository` label value of a repository.
 * @param judged true only when the registry vouches for the repository: it notified the push, or
 *   pushgate read every blob of a complete verdict from it. A verdict alone is not enough: a
 *   manifest naming blobs that do not exist is judged too (incomplete).
 * @param depth path components kept (`metrics.repositoryDepth`; 0 = all): `team/app/api` at 1 → `team`.
 * @returns the (folded) name, or {@link UNJUDGED_REPOSITORY} when not judged or not a name the registry
 *   stores (Distribution's name grammar, a domain-like first component such as `Team/app` included:
 *   src/core/names.ts isRegistryRepositoryName; such pushes are judged, and their blocks are counted as theirs).
 */
export function repositoryLabel(repository: string, judged: boolean, depth: number): string {
  if (!judged || !isRegistryRepositoryName(repository)) return UNJUDGED_REPOSITORY;
  return depth > 0 ? repository.split('/').slice(0, depth).join('/') : repository;
}

/** Event actions Distribution (`push`, `pull`, `delete`, `mount`) and Harbor (event types) define. */
const KNOWN_ACTIONS = new Set(['push', 'pull', 'delete', 'mount', 'unknown', 'PUSH_ARTIFACT', 'PULL_ARTIFACT', 'DELETE_ARTIFACT', 'SCANNING_COMPLETED', 'SCANNING_FAILED', 'SCANNING_STOPPED', 'QUOTA_EXCEED', 'QUOTA_WARNING', 'REPLICATION', 'TAG_RETENTION']);

/** The `action` label value of a notification event: a defined action, else `other`. */
export function actionLabel(action: string): string {
  return KNOWN_ACTIONS.has(action) ? action : 'other';
}

/**
 * Wraps `counter.inc` so that the named labels pass through their fold functions first (callers
 * keep using the counter as prom-client's).
 */
function folded<T extends client.Counter<string>>(counter: T, folds: Record<string, (v: string) => string>): T {
  const inc = counter.inc.bind(counter) as (labels?: client.LabelValues<string> | number, value?: number) => void;
  counter.inc = ((labels?: client.LabelValues<string> | number, value?: number) => {
    if (labels && typeof labels === 'object') {
      const l = { ...labels };
      for (const [k, f] of Object.entries(folds)) if (l[k] !== undefined) l[k] = f(String(l[k]));
      inc(l, value);
    } else {
      inc(labels, value);
    }
  }) as T['inc'];
  return counter;
}

/**
 * Runs `refresh` after each {@link Coalesced.request}, at most one at a time: requests while one runs
 * make exactly one more run after it (a burst of verdict writes costs two counting queries, not one
 * per write). Errors go to `onError` and never reach the caller.
 */
export class Coalesced {
  private running?: Promise<void>;
  private again = false;
  constructor(private readonly refresh: () => Promise<void>, private readonly onError: (e: unknown) => void) {}

  /** Asks for a run; the promise settles when a run that started after this call has finished. */
  request(): Promise<void> {
    if (this.running) {
      // The loop below runs once more before the promise settles.
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.refresh();
        } catch (e) {
          this.onError(e);
        }
      } while (this.again);
      this.running = undefined;
    })();
    return this.running;
  }
}

/** The metric set of one process, on its own prom-client registry. */
export class Metrics {
  readonly registry = new client.Registry();
  readonly eventsReceived = folded(this.counter('pushgate_events_received_total', 'Notification events received, by sender and action (actions senders do not define count as `other`).', ['source', 'action']), { action: actionLabel });
  readonly eventsDropped = this.counter('pushgate_events_dropped_total', 'Notification events ignored (blobs, pulls, own traffic, unknown registries, ...).', ['source', 'reason']);
  readonly eventsLost = this.counter('pushgate_events_lost_total', 'Notification envelopes from an authenticated sender that could not be read (oversized, not JSON, not an envelope): answered 2xx, recorded, and reconciled.', ['source', 'registry', 'reason']);
  readonly scans = this.counter('pushgate_scans_total', 'Image scans, by result (complete, incomplete, failed, cached).', ['result']);
  readonly scanDuration = new client.Histogram({ name: 'pushgate_scan_duration_seconds', help: 'Wall time of one image scan, seconds.', buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300], registers: [this.registry] });
  readonly scannedBytes = this.counter('pushgate_scanned_bytes_total', 'Compressed blob bytes read by scans.', []);
  readonly verdicts = this.counter('pushgate_verdicts_total', 'Verdicts stored, by decision.', ['decision']);
  readonly blockedPushes = this.counter('pushgate_blocked_pushes_total', 'Pushes blocked (+1 per push); rule = the first blocking rule; mode async (notification) or sync (proxy); repository only when the registry vouches for it (notified push, complete verdict), folded to metrics.repositoryDepth, else (unjudged).', ['registry', 'repository', 'rule', 'mode']);
  readonly verdictReasons = this.counter('pushgate_verdict_reasons_total', 'Policy rules that fired, by rule.', ['rule']);
  readonly referrersPublished = this.counter('pushgate_referrers_published_total', 'Publications of verdict referrers (SBOM, report, attestation), by result: published, unchanged, gone, failed (retried by the next pass), skipped.', ['result']);
  readonly enforcementActions = this.counter('pushgate_enforcement_actions_total', 'Actions taken on registries, by action and result.', ['action', 'result']);
  readonly registryRequests = this.counter('pushgate_registry_requests_total', 'HTTP requests to registries, by registry, method and status code.', ['registry', 'method', 'code']);
  readonly queueDepth = new client.Gauge({ name: 'pushgate_queue_depth', help: 'Events queued or being processed.', registers: [this.registry] });
  readonly queueEvents = new client.Gauge({
    name: 'pushgate_queue_events',
    help: 'Queued events by state: queued, running, blocked-on-registry (outlived the retry budget while the registry did not answer; resumed when it does), failed (cannot succeed).',
    labelNames: ['state'],
    registers: [this.registry],
  });
  readonly listingTruncated = this.counter('pushgate_listing_truncated_total', 'Listings a reconcile pass read only up to their bound (5,000 pages, 500,000 entries, 128 MiB), by registry and listing (catalog, tags): the entries past it are not walked; what pushgate knows of them (stored verdicts) still is.', ['registry', 'listing']);
  readonly storeErrors = this.counter('pushgate_store_errors_total', "Failed store calls of the event queue's machinery (claim, retry, complete, gauges, probe), by operation; each is retried with a backoff.", ['operation']);
  readonly vulndbAge = new client.Gauge({
    name: 'pushgate_vulndb_age_seconds',
    help: 'Age of each source of the loaded vulnerability database (osv, nvd, kev, epss, eol), seconds: since the date the data states (KEV release, EPSS score date, newest NVD change), else since the build.',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly admissionRequests = this.counter('pushgate_admission_requests_total', 'Admission reviews answered, by decision.', ['decision']);
  readonly admissionDuration = new client.Histogram({ name: 'pushgate_admission_duration_seconds', help: 'Time to answer one admission review, seconds.', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry] });
  readonly admissionScanTriggers = this.counter('pushgate_admission_scan_triggers_total', 'Images of admission reviews without a verdict that would start a scan, by result (queued, scanned, coalesced, over-review-cap, rate-limited).', ['result']);
  readonly admissionRefused = this.counter('pushgate_admission_refused_total', 'Admission connections refused before a review was read, by reason (no-client-cert, untrusted-client-cert, client-name-not-allowed, tls-error).', ['reason']);
  readonly workloadUsageDropped = this.counter('pushgate_workload_usage_dropped_total', 'Workload usage records (workload, image digest) dropped because the in-memory buffer was full while the store could not be written.', []);
  readonly admissionBreakGlass = this.counter('pushgate_admission_break_glass_total', 'Reviews carrying the break-glass annotation, by result (honoured, refused).', ['result']);
  readonly proxyRequests = this.counter('pushgate_proxy_requests_total', 'Requests through the push proxy, by method and status code.', ['method', 'code']);
  readonly proxyRefusedPaths = this.counter('pushgate_proxy_refused_paths_total', 'Requests the push proxy refused because their path is ambiguous or would route differently once decoded (400), or their transfer coding is not chunked alone (501, reason transfer-coding), by reason.', ['reason']);
  readonly proxyGateDuration = new client.Histogram({ name: 'pushgate_proxy_gate_duration_seconds', help: 'Time a manifest PUT was held for judging, seconds.', buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120], registers: [this.registry] });
  readonly monitorRuns = this.counter('pushgate_monitor_runs_total', 'Monitor passes (stored images judged again after a database change, a full pass, a grace period ending), by kind (db, all) and result (done, skipped: another replica holds or did it, failed).', ['kind', 'result']);
  readonly monitorDuration = new client.Histogram({ name: 'pushgate_monitor_duration_seconds', help: 'Wall time of one monitor pass, seconds.', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300], registers: [this.registry] });
  readonly imagesByDecision = new client.Gauge({
    name: 'pushgate_images_by_decision',
    help: 'Stored verdicts (image digests per repository, index children included) by registry and decision (allow, warn, quarantine, reject); refreshed after verdict writes and monitor passes. Registries no longer configured count as (other).',
    labelNames: ['registry', 'decision'],
    registers: [this.registry],
  });
  readonly monitorSuperseded = this.counter('pushgate_monitor_superseded_total', 'Images a monitor pass judged but left unwritten because a push, admission, rescan or another pass judged them again after the pass read them (the newer judgement stands), by kind (db, all).', ['kind']);
  readonly newFindings = this.counter('pushgate_new_findings_total', 'Findings a monitor pass found in images judged before (new since their last judgement), by severity.', ['severity']);

  private readonly repositoryDepth: number;
  private readonly repositories = new Set<string>();

  /**
   * @param opts.defaultMetrics process metrics (`pushgate_process_*`), default on.
   * @param opts.repositoryDepth `metrics.repositoryDepth` (default 0: whole names).
   */
  constructor(opts: { defaultMetrics?: boolean; repositoryDepth?: number } = {}) {
    this.repositoryDepth = opts.repositoryDepth ?? 0;
    if (opts.defaultMetrics !== false) client.collectDefaultMetrics({ register: this.registry, prefix: 'pushgate_process_' });
  }

  /**
   * The `repository` label of this process ({@link repositoryLabel}), at most
   * {@link MAX_REPOSITORY_LABELS} distinct values.
   */
  repositoryLabel(repository: string, judged: boolean): string {
    const v = repositoryLabel(repository, judged, this.repositoryDepth);
    if (v === UNJUDGED_REPOSITORY || this.repositories.has(v)) return v;
    if (this.repositories.size >= MAX_REPOSITORY_LABELS) return OTHER_REPOSITORY;
    this.repositories.add(v);
    return v;
  }

  /**
   * Sets `pushgate_images_by_decision` from the store's counts: every configured registry gets every
   * decision (0 when it has none, so a rise from nothing is a rate), other registry names fold to
   * {@link OTHER_REGISTRY}, other decision values are left out. Labels stay bounded by the configuration.
   * @param counts `Store.countVerdicts()`
   * @param registries configured registry names (`registries[].name`)
   */
  setImagesByDecision(counts: Array<{ registry: string; decision: string; count: number }>, registries: string[]): void {
    const known = new Set(registries);
    const values = new Map<string, number>();
    const key = (r: string, d: string) => `${r}\u0000${d}`;
    for (const r of registries) for (const d of DECISIONS) values.set(key(r, d), 0);
    for (const c of counts) {
      if (!(DECISIONS as readonly string[]).includes(c.decision)) continue;
      const k = key(known.has(c.registry) ? c.registry : OTHER_REGISTRY, c.decision);
      values.set(k, (values.get(k) ?? 0) + c.count);
    }
    this.imagesByDecision.reset();
    for (const [k, n] of values) {
      const [registry, decision] = k.split('\u0000');
      this.imagesByDecision.set({ registry: registry!, decision: decision! }, n);
    }
  }

  private counter(name: string, help: string, labelNames: string[]): client.Counter<string> {
    return new client.Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** Prometheus text exposition (version 0.0.4). */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Content-Type of {@link text}. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The hooks the gate, admission and proxy report through. */
  hooks(): GateHooks {
    return {
      admission: (decision, seconds) => {
        this.admissionRequests.inc({ decision });
        this.admissionDuration.observe(seconds);
      },
      proxyRequest: (method, code) => this.proxyRequests.inc({ method, code: String(code) }),
      proxyGate: (seconds) => this.proxyGateDuration.observe(seconds),
      proxyRefusedPath: (reason) => this.proxyRefusedPaths.inc({ reason }),
      blockedPush: (registry, repository, rule, mode, judged) => this.blockedPushes.inc({ registry, repository: this.repositoryLabel(repository, judged), rule, mode }),
      admissionScanTrigger: (result) => this.admissionScanTriggers.inc({ result }),
      admissionRefused: (reason) => this.admissionRefused.inc({ reason }),
      admissionBreakGlass: (result) => this.admissionBreakGlass.inc({ result }),
    };
  }
}
