/** Store factory: `sqlite:PATH` (default) or `postgres://…` URLs. */
import { PushgateError } from '../core/index.js';
import { openPostgresStore } from './postgres-store.js';
import { openSqliteStore } from './sqlite-store.js';
import type { Store } from './types.js';

export type { Store, QueuedEvent, AuditRecord, AuditFilter, StoredException, StoredVexDocument, QuarantineRecord, QuarantineQuery, QuarantineState, QueueState, OwnWriteKey, VerdictQuery, VerdictPage, VerdictCursor, AuditRuleCount } from './types.js';
export { QUEUE_STATES } from './types.js';
export type { BaseCatalogStore, CatalogEntry, CatalogTag } from './base-catalog-types.js';
export type { WorkloadStore, WorkloadUsage, ImageWorkloads } from './workloads.js';
export { WORKLOAD_BATCH_MAX } from './workloads.js';
export type { ClusterStateStore, ClusterStateName, InForce } from './cluster-state.js';
export { CHUNK_BYTES, builtLater } from './cluster-state.js';
export type { MonitorStore, MonitorRun, MonitorRunKind, ChangeRecord, ImageIndex, IndexedFinding, IndexedPackages, Rejudgement, RejudgementBatch, ReadMarks, BatchWritten, OutboxNotice, AffectedImage, AffectedPageRequest } from './monitor-types.js';

/**
 * Opens and migrates the store named by `url`: `sqlite:./data/pushgate.db`, `sqlite::memory:`,
 * or `postgres://user:pass@host:5432/db` (also `postgresql://`).
 * @throws PushgateError BAD_CONFIG for another scheme, STORE when it cannot be opened (after `opts.waitMs`
 *   of retries when the server is unreachable; `retryable` is true then).
 */
export async function openStore(url: string, opts: OpenStoreOptions = {}): Promise<Store> {
  const deadline = Date.now() + (opts.waitMs ?? 0);
  for (let attempt = 1; ; attempt++) {
    try {
      return await openOnce(url);
    } catch (e) {
      // Only a server that is down or restarting is waited for; bad URLs, logins and migrations fail at once.
      if (!(e instanceof PushgateError && e.retryable) || Date.now() >= deadline) throw e;
      const delay = Math.min(5000, 250 * 2 ** Math.min(attempt - 1, 5), Math.max(0, deadline - Date.now()));
      opts.onWait?.(e, attempt, delay);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  /**
   * How long (ms) to keep trying while the store is unreachable (PostgreSQL down, restarting, refusing
   * connections): a replica started during a database restart waits instead of exiting. 0 (default) = one try.
   */
  waitMs?: number;
  /** Called before each wait with the error, the attempt number (1-based) and the delay (ms) before the next try. */
  onWait?: (err: PushgateError, attempt: number, delayMs: number) => void;
}

async function openOnce(url: string): Promise<Store> {
  let store: Store;
  if (url.startsWith('sqlite:')) store = openSqliteStore(url.slice('sqlite:'.length));
  else if (url.startsWith('postgres://') || url.startsWith('postgresql://')) store = await openPostgresStore(url);
  else throw new PushgateError('BAD_CONFIG', `store.url "${url}" is not supported: use sqlite:PATH or postgres://USER@HOST:PORT/DB`);
  try {
    await store.migrate();
  } catch (e) {
    await store.close().catch(() => undefined);
    throw e;
  }
  return store;
}
export { findingSetSignature } from './sqlite-monitor.js';
export type { ReportPatch } from './report-patch.js';
