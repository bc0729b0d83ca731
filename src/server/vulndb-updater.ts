/**
 * Keeps the vulnerability database of `pushgate serve` current: builds it at start when there is none (a
 * fresh install serves within the time of one build, not after the first scheduled update), retries a failed
 * first build with backoff, and rebuilds every `vulndb.updateInterval`. Each build is written beside the old
 * file and swapped in atomically (src/vulndb/update.ts); the gate re-opens the file when it changes.
 */
import { setLongInterval, type LongInterval } from '../core/timers.js';
import type { PushgateConfig } from '../config/types.js';
import type { Logger } from '../gate/gate.js';
import { updateDb, type UpdateStats } from '../vulndb/index.js';

/** First retry of a failed initial build, ms; doubled per failure up to {@link MAX_RETRY_MS}. */
export const FIRST_RETRY_MS = 15_000;
/** Longest wait between retries of a failed initial build, ms. */
export const MAX_RETRY_MS = 15 * 60_000;

/** What the updater needs. */
export interface VulnDbUpdaterDeps {
  config: Pick<PushgateConfig, 'vulndb'>;
  logger: Logger;
  /** True when a usable database is loaded (the gate's readiness). */
  hasDatabase(): boolean;
  /** First retry delay of a failed initial build, ms (default {@link FIRST_RETRY_MS}). */
  firstRetryMs?: number;
  /** Called after a new database was swapped in (the gate re-opens it at once). */
  onBuilt?(): void;
  /**
   * Runs `pass` every `intervalMs` (default: on this replica's own timer). `pushgate serve` on PostgreSQL passes
   * a cluster job (src/gate/cluster-jobs.ts), so one replica builds per interval and the others fetch its
   * file (src/gate/vulndb-sync.ts). @returns a stopper.
   */
  schedule?(pass: () => Promise<unknown>, intervalMs: number): () => void;
  /** The build (default: {@link updateDb}); tests pass the real one too, this is for wiring only. */
  build?: typeof updateDb;
}

/** See the module comment. */
export class VulnDbUpdater {
  private running: Promise<UpdateStats | undefined> | undefined;
  private interval: LongInterval | undefined;
  private stopSchedule: (() => void) | undefined;
  private retry: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private lastError: string | undefined;
  private startedAt: string | undefined;

  constructor(private readonly deps: VulnDbUpdaterDeps) {}

  /** Starts the schedule; builds at once when there is no usable database and sources are configured. */
  start(): void {
    const { vulndb } = this.deps.config;
    if (!vulndb.sources.length) return;
    if (vulndb.updateIntervalMs > 0) {
      if (this.deps.schedule) this.stopSchedule = this.deps.schedule(() => this.update('scheduled'), vulndb.updateIntervalMs);
      else this.interval = setLongInterval(() => void this.update('scheduled'), vulndb.updateIntervalMs);
    }
    if (!this.deps.hasDatabase()) void this.update('initial');
  }

  /** What the updater is doing, for readiness while there is no database (undefined when idle and fine). */
  note(): string | undefined {
    if (this.running) return `building it now from ${this.deps.config.vulndb.sources.length} source(s), started ${this.startedAt}`;
    if (this.lastError) return `the last build failed (${this.lastError}); retrying`;
    return undefined;
  }

  /** Runs one build unless one is running; resolves with its stats, or undefined when it failed. */
  update(why: 'initial' | 'scheduled' | 'retry'): Promise<UpdateStats | undefined> {
    if (this.running) return this.running;
    const { vulndb } = this.deps.config;
    const log = this.deps.logger;
    this.startedAt = new Date().toISOString();
    log.info({ why, sources: vulndb.sources.length }, 'vulnerability database update started');
    this.running = (this.deps.build ?? updateDb)({ path: vulndb.path, sources: vulndb.sources, ecosystems: vulndb.ecosystems, nvdApiKey: vulndb.nvdApiKey, log: (line) => log.info({ vulndb: line }, 'vulndb update') })
      .then((st) => {
        this.failures = 0;
        this.lastError = undefined;
        this.deps.onBuilt?.();
        log.info({ records: st.imported, builtAt: st.builtAt }, 'vulnerability database updated');
        return st;
      })
      .catch((e: Error) => {
        this.lastError = e.message;
        this.failures++;
        if (this.deps.hasDatabase()) {
          log.warn({ err: e.message }, 'vulnerability database update failed; the old one keeps serving');
        } else if (!this.stopped) {
          // Without a database every scan is incomplete: do not wait for the next interval.
          const wait = Math.min(MAX_RETRY_MS, (this.deps.firstRetryMs ?? FIRST_RETRY_MS) * 2 ** (this.failures - 1));
          log.error({ err: e.message, retryInMs: wait }, 'vulnerability database could not be built; scans are incomplete until it is');
          clearTimeout(this.retry);
          this.retry = setTimeout(() => void this.update('retry'), wait);
          this.retry.unref();
        }
        return undefined;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  /** Stops the schedule and retries; a build in progress finishes (its file swap is atomic). */
  stop(): void {
    this.stopped = true;
    this.interval?.stop();
    this.stopSchedule?.();
    clearTimeout(this.retry);
  }
}
