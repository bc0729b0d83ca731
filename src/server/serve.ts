/**
 * `pushgate serve`: opens the store, loads the policy and vulnerability database, starts the gate
 * workers and the HTTP listeners (API/webhooks, optional separate metrics listener, admission TLS
 * listener, push proxy), and shuts down cleanly on SIGTERM/SIGINT (in-flight events keep their
 * lease and are retried by the next process if this one dies).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_WORKLOAD_RETENTION_MS, type PushgateConfig } from '../config/types.js';
import { Gate, type GateCounters, type Logger } from '../gate/gate.js';
import { JOB_OWNER, scheduleClusterJob } from '../gate/cluster-jobs.js';
import { PolicySync } from '../gate/policy-sync.js';
import { VulnDbSync } from '../gate/vulndb-sync.js';
import { LostEventsReconciler, scheduleReconcile, scheduleUnfinishedRetry } from '../gate/reconcile.js';
import { Coalesced, Metrics } from '../metrics/index.js';
import { defaultPolicy, loadPolicy, type CompiledPolicy } from '../policy/index.js';
import { loadTrustedRoot } from '../trust/trusted-root.js';
import { openStore, retryingStore, type MigrationReport, type Store } from '../store/index.js';
import { Notifier } from '../gate/notify.js';
import { PolicyControl } from '../gate/reevaluate.js';
import { Monitor } from '../monitor/index.js';
import { createApp, metricsHandler } from './app.js';
import { Readiness } from './readiness.js';
import { VulnDbUpdater } from './vulndb-updater.js';

/** How often the monitor looks for a changed database and ended grace periods (src/monitor). */
const MONITOR_INTERVAL_MS = 10_000;

/** How often verdicts that are not final are queued again (each at most once per interval). */
const UNFINISHED_RETRY_MS = 5 * 60_000;

/**
 * How often the reconciles asked for after lost notifications that no pass completed are asked again (and the
 * least age of such a request before another process takes it up; at least twice the longest recent pass of
 * that registry, src/gate/reconcile-ledger.ts): a failed pass, or one whose process died while the others kept running.
 */
const LOST_RECONCILE_SWEEP_MS = 10 * 60_000;

/** A running server. */
export interface RunningServer {
  gate: Gate;
  store: Store;
  metrics: Metrics;
  /** Policy reload, exceptions, release and quarantine retention. */
  control: PolicyControl;
  /** Outbound notifications (when `notify[]` is configured). */
  notifier?: Notifier;
  /** Continuous monitoring: stored images judged again after a database change. */
  monitor: Monitor;
  /** Bound port of the main listener. */
  port: number;
  /** Bound port of the admission listener, when one is configured. */
  admissionPort?: number;
  /** Bound port of the push proxy, when one is configured. */
  proxyPort?: number;
  /** Bound port of the separate metrics listener, when `metrics.listen` names another address than the main one. */
  metricsPort?: number;
  close(): Promise<void>;
}

/**
 * Splits `host:port` (IPv6 as `[::1]:8080`).
 * @throws Error when it is not host:port or the port is over 65535 (the schema refuses both first).
 */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen);
  if (!m || Number(m[3]) > 65535) throw new Error(`listen address "${listen}" must be host:port with a port from 0 to 65535`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port: Number(m[3]) };
}

function listen(server: http.Server, addr: string): Promise<number> {
  const { host, port } = parseListen(addr);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

/** Maps gate counters to metrics. */
export function countersFor(metrics: Metrics, onVerdict?: () => void): GateCounters {
  return {
    scan: (result, seconds, bytes) => {
      metrics.scans.inc({ result });
      if (result !== 'cached') metrics.scanDuration.observe(seconds);
      if (bytes) metrics.scannedBytes.inc(bytes);
    },
    verdict: (v) => {
      metrics.verdicts.inc({ decision: v.decision });
      for (const r of v.reasons) metrics.verdictReasons.inc({ rule: r.rule });
      onVerdict?.();
    },
    enforcement: (action, result) => metrics.enforcementActions.inc({ action, result }),
    queueDepth: (n) => metrics.queueDepth.set(n),
    queueEvents: (counts) => {
      for (const [state, n] of Object.entries(counts)) metrics.queueEvents.set({ state }, n);
    },
    storeError: (operation) => metrics.storeErrors.inc({ operation }),
    listingTruncated: (registry, listing) => metrics.listingTruncated.inc({ registry, listing }),
    vulndbAge: (ages) => {
      for (const [source, s] of Object.entries(ages)) metrics.vulndbAge.set({ source }, s);
    },
    registryRequest: (registry, method, code) => metrics.registryRequests.inc({ registry, method, code: String(code) }),
  };
}

/**
 * Options of every listener serve starts: a request must arrive whole (headers and body) within
 * `server.readTimeout` or it is answered 408 and disconnected; the check runs every second so a
 * short timeout is kept to within a second.
 */
export function readBounds(config: PushgateConfig): http.ServerOptions {
  const requestTimeout = config.server.readTimeoutMs;
  return { requestTimeout, headersTimeout: Math.min(60_000, requestTimeout), connectionsCheckingInterval: Math.min(1000, requestTimeout) };
}

/**
 * How long (ms) an idle keep-alive connection stays open on the main and metrics listeners, as on
 * the proxy and admission listeners. Longer than the idle time of the clients that reuse connections
 * (load balancers' 60 s, a registry's notification sender between pushes, Prometheus between scrapes):
 * with Node's default of 5 s, a client that sent its next request just as the server closed the idle
 * connection got a reset (ECONNRESET) instead of an answer, and a POST (a notification) is not sent
 * again by the client on its own.
 */
export const KEEP_ALIVE_MS = 65_000;

/**
 * Says at start what the store's schema went through: an upgrade names the migrations it applied (the
 * operator sees that the store changed, and from which version a backup must be restored to go back), and a
 * store a newer pushgate migrated (a rollback, an old replica restarted mid-rollout) is named with a warning,
 * since this build does not know what those migrations added.
 */
export function logMigration(r: MigrationReport, logger: Pick<Logger, 'info' | 'warn'>): void {
  if (r.applied.length) {
    logger.info({ applied: r.applied.map((m) => `${m.version} ${m.name}`) }, `store schema migrated: ${r.applied.length} migration(s) applied, now at version ${r.applied[r.applied.length - 1].version}`);
  }
  if (r.unknown.length) {
    logger.warn({ unknownVersions: r.unknown }, `the store was migrated by a newer pushgate (schema versions ${r.unknown.join(', ')} are unknown to this one): this version serves, but does not read or write what those migrations added; run the newer version, or restore the store from the backup taken before the upgrade`);
  }
}

/**
 * Starts everything the configuration asks for.
 * @param opts.unfinishedRetryMs how often verdicts that are not final are queued again (default 5 minutes; tests shorten it).
 * @param opts.lostReconcileSweepMs how often owed reconciles after lost notifications are asked again (default 10 minutes).
 */
export async function startServer(config: PushgateConfig, logger: Logger, opts: { policy?: CompiledPolicy; policyWatchMs?: number; unfinishedRetryMs?: number; lostReconcileSweepMs?: number; monitorIntervalMs?: number; monitorNow?: () => number } = {}): Promise<RunningServer> {
  // A trusted root that does not parse fails the start, not the first review that needs it.
  if (config.admission.signatures?.trustedRoot) loadTrustedRoot(config.admission.signatures.trustedRoot);
  const waitForStore = {
    waitMs: config.store.connectTimeoutMs,
    onWait: (e: Error, attempt: number, delayMs: number) => logger.warn({ err: e.message, attempt, retryInMs: delayMs }, 'store unreachable, waiting before serving'),
  };
  const store = await openStore(config.store.url, { ...waitForStore, onMigrated: (r) => logMigration(r, logger) });
  // The reads between opening the store and serving are tried again while the store's connection is
  // gone: a replica started while PostgreSQL restarts (or ends its connections) waits and serves, as
  // openStore does, rather than exiting half started.
  const atStart = <T>(f: () => Promise<T>) => retryingStore(f, waitForStore);
  const policy = opts.policy ?? (config.policy ? loadPolicy(config.policy, { registries: config.registries }) : defaultPolicy());
  const metrics = new Metrics({ repositoryDepth: config.metrics.repositoryDepth });
  const notifier = config.notify.length ? new Notifier({ targets: config.notify, publicUrl: config.server.publicUrl, logger }) : undefined;
  // pushgate_images_by_decision: one grouped count after verdict writes and monitor passes, coalesced.
  const registryNames = config.registries.map((r) => r.name);
  const decisions = new Coalesced(
    async () => metrics.setImagesByDecision(await store.countVerdicts(), registryNames),
    (e) => logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'counting verdicts for pushgate_images_by_decision failed'),
  );
  const gate = new Gate({ config, store, policy, logger, hooks: metrics.hooks(), counters: countersFor(metrics, () => void decisions.request()), notifier });
  // The policy in force = the policy file + exceptions added through the admin API; the file is
  // watched (hot reload: an invalid file keeps the old policy) unless the caller passed a policy.
  const control = new PolicyControl({ gate, store, config, logger, policy, notifier });
  await atStart(() => control.init());
  if (!opts.policy) control.watch(opts.policyWatchMs);
  let ticking: Promise<unknown> | undefined;
  let stopping = false;
  // Continuous monitoring: after a database swap (seen by the gate's holder) the stored images it can
  // change are judged again; new findings go to notify[] targets with the new-findings event.
  const monitor = new Monitor({
    store,
    logger,
    vulndb: () => gate.currentVulnDb(),
    policy: () => gate.currentPolicy,
    bases: (s) => gate.baseImages.bases(s),
    notifier,
    act: (b, a, views) => control.actOnTags(b, a, views),
    now: opts.monitorNow,
    outboxLeaseMs: config.queue?.outboxLeaseMs,
    counters: {
      run: (kind, result, seconds) => {
        metrics.monitorRuns.inc({ kind, result });
        if (result === 'done') metrics.monitorDuration.observe(seconds);
        if (result === 'done') void decisions.request();
      },
      newFindings: (severity, n) => metrics.newFindings.inc({ severity }, n),
      superseded: (kind, n) => metrics.monitorSuperseded.inc({ kind }, n),
    },
  });
  // Notices of enforced verdicts go through the monitor's outbox, so a process killed before delivering
  // one leaves it to the next delivery (every monitor tick looks; src/gate/notify.ts).
  notifier?.useOutbox({ add: (bodies) => store.monitor.addOutbox(bodies, Date.now()), kick: () => monitor.kickOutbox() });
  metrics.queueDepth.set(await atStart(() => store.queueDepth()));
  await decisions.request();
  for (const [state, n] of Object.entries(await atStart(() => store.queueCounts()))) metrics.queueEvents.set({ state }, n);
  // Readiness waits for every listener this configuration starts.
  // One database and one policy revision across the replicas (src/gate/vulndb-sync.ts, policy-sync.ts): a
  // replica that disagrees with the store holds its queue workers and says so in /readyz.
  const vulndbSync = new VulnDbSync({
    store,
    logger,
    path: config.vulndb.path,
    owner: JOB_OWNER,
    local: () => {
      const r = gate.vulndbReadiness();
      return r.ok ? { digest: r.digest, builtAt: r.builtAt } : undefined;
    },
    reload: () => {
      gate.reloadVulnDb();
      void monitorTick();
    },
    hold: (reason) => gate.setClaimHold('vulndb', reason),
  });
  const policySync = new PolicySync({ store, logger, owner: JOB_OWNER, local: () => control.basePolicy, hold: (reason) => gate.setClaimHold('policy', reason) });
  const vulndbUpdater = new VulnDbUpdater({
    config,
    logger,
    hasDatabase: () => gate.vulndbReadiness().ok,
    onBuilt: () => {
      gate.reloadVulnDb();
      void vulndbSync.reconcile();
      void monitorTick();
    },
    // on PostgreSQL one replica builds per interval and publishes; the others fetch its file
    ...(store.clusterState.holdsFiles
      ? { schedule: (pass: () => Promise<unknown>, intervalMs: number) => scheduleClusterJob({ store, logger, name: 'vulndb-update', intervalMs, leaseMs: 60_000, run: pass }) }
      : {}),
  });
  const readiness = new Readiness({
    store,
    vulndb: () => {
      const r = gate.vulndbReadiness();
      const note = r.ok ? undefined : vulndbUpdater.note();
      return r.ok || !note ? r : { ok: false, error: `${r.error}; ${note}` };
    },
    cluster: () => {
      const why = [vulndbSync.disagreement(), policySync.disagreement()].filter(Boolean);
      return why.length ? why.join('; ') : undefined;
    },
  });
  const separateMetrics = !!config.metrics.listen && config.metrics.listen !== config.server.listen;
  const admissionOn = !!(config.admission.listen && config.admission.tls);
  if (separateMetrics) readiness.setListener('metrics', 'starting');
  if (admissionOn) readiness.setListener('admission', 'starting');
  if (config.proxy.listen) readiness.setListener('proxy', 'starting');
  // Notifications pushgate could not read are recorded and their repositories reconciled at once.
  const lostEvents = new LostEventsReconciler({ config, gate, store, logger, owner: JOB_OWNER });
  const app = createApp({ config, gate, store, metrics, logger, control, monitor, readiness, onEventsLost: (registry, repositories) => lostEvents.request(registry, repositories) });
  const main = http.createServer(readBounds(config), app);
  main.keepAliveTimeout = KEEP_ALIVE_MS;
  const port = await listen(main, config.server.listen);
  const closers: Array<() => Promise<void>> = [];
  let metricsPort: number | undefined;
  if (config.metrics.listen && config.metrics.listen !== config.server.listen) {
    const ms = http.createServer(readBounds(config), (req, res) => {
      if (req.url === '/metrics') {
        void metricsHandler(metrics)(req, res);
      } else {
        res.writeHead(404).end();
      }
    });
    ms.keepAliveTimeout = KEEP_ALIVE_MS;
    metricsPort = await listen(ms, config.metrics.listen);
    readiness.setListener('metrics', 'up');
    closers.push(() => new Promise((r) => ms.close(() => r())));
  }
  let admissionPort: number | undefined;
  let proxyPort: number | undefined;
  if (config.admission.listen && config.admission.tls) {
    const { startAdmissionListener } = await import('./admission-listener.js');
    const a = config.admission;
    // Workload usage (which workload runs which digest) for the affected-images answers; buffered, flushed
    // in batches, never on a review's path.
    const { WorkloadRecorder } = await import('../admission/workload-usage.js');
    const workloads = new WorkloadRecorder({
      store: store.workloads,
      cluster: a.cluster,
      onDropped: (n) => metrics.workloadUsageDropped.inc(n),
      onFlushError: (e) => logger.warn({ err: (e as Error).message }, 'workload usage not written yet; kept in memory (bounded) and retried'),
    });
    const adm = await startAdmissionListener(
      { gate, config: a, workloads },
      { listen: a.listen ?? '0.0.0.0:8443', cert: a.tls!.cert, key: a.tls!.key, clientCA: a.clientCA, clientNames: a.clientNames, allowUnauthenticated: a.allowUnauthenticated, requestTimeoutMs: config.server.readTimeoutMs },
    );
    closers.push(() => adm.close());
    closers.push(() => workloads.close());
    admissionPort = adm.port;
    readiness.setListener('admission', 'up');
    const { breakGlassWarnings } = await import('../admission/break-glass.js');
    for (const w of breakGlassWarnings(a.breakGlass)) logger.warn({}, w);
    if (!a.clientCA) logger.warn({ port: adm.port }, 'admission listener up WITHOUT client authentication (admission.allowUnauthenticated): anyone who reaches it can start scans');
    else logger.info({ port: adm.port, clientNames: a.clientNames }, 'admission listener up; callers must present a client certificate of admission.clientCA');
  }
  if (config.proxy.listen) {
    const { clearTextWarning, startProxy } = await import('../proxy/proxy.js');
    const px = await startProxy({ gate, config, log: (o, m) => logger.info(o, m) });
    closers.push(() => px.close());
    readiness.setListener('proxy', 'up');
    proxyPort = px.port;
    logger.info({ port: px.port, tls: !!config.proxy.tls }, 'push proxy up');
    const clear = clearTextWarning(config.proxy.listen, !!config.proxy.tls);
    if (clear) logger.warn({ listen: config.proxy.listen }, clear);
  }
  // The vulnerability database: the one in force fetched from the store (PostgreSQL) first; built at start when
  // there is none anywhere, then every vulndb.updateInterval.
  await policySync.start();
  void vulndbSync.start().finally(() => {
    if (!stopping) vulndbUpdater.start();
  });
  const age = setInterval(() => {
    const db = gate.currentVulnDb();
    if (db) for (const [source, s] of Object.entries(db.sourceAges())) metrics.vulndbAge.set({ source }, s);
  }, 15_000);
  age.unref();
  closers.push(async () => {
    stopping = true;
    clearInterval(age);
    vulndbUpdater.stop();
    vulndbSync.stop();
    policySync.stop();
  });
  // Periodic reconciliation (config reconcile.interval; off by default): judges manifests whose
  // notifications were lost (a registry restart drops Distribution's in-memory queue).
  const stopReconcile = scheduleReconcile({ config, gate, store, logger, intervalMs: config.reconcile?.intervalMs ?? 0 });
  closers.push(async () => stopReconcile());
  closers.push(async () => lostEvents.stop());
  // A reconcile asked for after lost notifications lives in this process's memory until its pass completes:
  // the ones no pass completed (a process killed mid-pass, a failed pass) are asked again now and every sweep.
  void lostEvents.recover();
  const sweepMs = opts.lostReconcileSweepMs ?? LOST_RECONCILE_SWEEP_MS;
  const sweep = setInterval(() => void lostEvents.recover(sweepMs), sweepMs);
  sweep.unref();
  closers.push(async () => clearInterval(sweep));
  // Verdicts that could not be completed (registry auth, network, scan error) or whose enforcement
  // failed are queued again every 5 minutes until they are final or released.
  const stopRetry = scheduleUnfinishedRetry({ gate, store, logger, intervalMs: opts.unfinishedRetryMs ?? UNFINISHED_RETRY_MS });
  closers.push(async () => stopRetry());
  // Publication pass of verdict referrers (publish.referrers): retries what failed, catches up verdicts
  // changed outside the push path (re-evaluation); once per cluster.
  const publisher = gate.publisher;
  if (publisher) {
    const stopPublish = scheduleClusterJob({
      store,
      logger,
      name: 'publish-referrers',
      intervalMs: Math.max(1000, config.publish?.referrers.retryIntervalMs ?? 60_000),
      run: async ({ signal }) => {
        const r = await publisher.pass(signal);
        if (r.visited) logger.info(r, 'referrers publication pass');
      },
    });
    closers.push(async () => stopPublish());
  }
  // Retention of quarantined copies (registries[].quarantine.retention): a pass at a quarter of the
  // shortest retention, at most hourly; once per cluster.
  const retentions = config.registries.map((r) => r.quarantine.retentionMs ?? 0).filter((ms) => ms > 0);
  if (retentions.length) {
    const stopPrune = scheduleClusterJob({
      store,
      logger,
      name: 'quarantine-retention',
      intervalMs: Math.max(1000, Math.min(3_600_000, Math.min(...retentions) / 4)),
      run: async () => {
        const r = await control.pruneQuarantine();
        if (r.deleted || r.failed) logger.info(r, 'quarantine retention pass');
      },
    });
    closers.push(async () => stopPrune());
  }
  // Retention of workload usage records (admission.workloadRetention): a pass at a quarter of it, at most
  // hourly; once per cluster. Runs whether or not this replica serves admission (others may write them).
  const workloadRetentionMs = config.admission.workloadRetentionMs ?? DEFAULT_WORKLOAD_RETENTION_MS;
  const stopWorkloadPrune = scheduleClusterJob({
    store,
    logger,
    name: 'workload-retention',
    intervalMs: Math.max(1000, Math.min(3_600_000, workloadRetentionMs / 4)),
    run: async () => {
      const deleted = await store.workloads.pruneUsage(Date.now() - workloadRetentionMs);
      if (deleted) logger.info({ deleted }, 'workload usage retention pass');
    },
  });
  closers.push(async () => stopWorkloadPrune());
  // The monitor's tick: a pass when the database in force changed (any replica's build, a `pushgate db
  // update` beside this process), holds whose grace period ended. Cheap when there is nothing to do.
  function monitorTick(): Promise<unknown> {
    // a replica that disagrees with the cluster's database or policy judges nothing, stored images included
    if (gate.claimHold()) return Promise.resolve();
    ticking ??= monitor
      .tick()
      .catch((e: Error) => logger.warn({ err: e.message }, 'monitor pass failed; the next tick resumes it'))
      .finally(() => (ticking = undefined));
    return ticking;
  }
  const monitorTimer = setInterval(() => void monitorTick(), opts.monitorIntervalMs ?? MONITOR_INTERVAL_MS);
  monitorTimer.unref();
  closers.push(async () => {
    clearInterval(monitorTimer);
    await ticking;
  });
  closers.push(() => control.close());
  gate.start();
  logger.info({ port, store: store.kind, policy: policy.name, revision: policy.revision }, 'pushgate serving');
  return {
    gate,
    store,
    metrics,
    control,
    notifier,
    monitor,
    port,
    ...(admissionPort !== undefined ? { admissionPort } : {}),
    ...(proxyPort !== undefined ? { proxyPort } : {}),
    ...(metricsPort !== undefined ? { metricsPort } : {}),
    async close() {
      (app.locals.dropAudit as { flush(): void } | undefined)?.flush();
      await new Promise<void>((r) => main.close(() => r()));
      main.closeAllConnections();
      for (const c of closers) await c();
      await gate.stop();
      await monitor.outboxIdle();
      await store.close();
    },
  };
}
