/** Store factory: `sqlite:PATH` (default) or `postgres://…` URLs. */
import { PushgateError } from '../core/index.js';
import { isConnectionError, openPostgresStore } from './postgres-store.js';
import { openSqliteStore } from './sqlite-store.js';
import type { MigrationReport, Store } from './types.js';

export type { Store, MigrationReport, QueuedEvent, AuditRecord, AuditFilter, StoredException, StoredVexDocument, QuarantineRecord, QuarantineQuery, QuarantineState, QueueState, OwnWriteKey, RetryRequest, VerdictQuery, VerdictPage, VerdictCursor, AuditRuleCount } from './types.js';
export { QUEUE_STATES } from './types.js';
export type { BaseCatalogStore, CatalogEntry, CatalogTag } from './base-catalog-types.js';
export type { WorkloadStore, WorkloadUsage, ImageWorkloads } from './workloads.js';
export { WORKLOAD_BATCH_MAX } from './workloads.js';
export type { ClusterStateStore, ClusterStateName, InForce } from './cluster-state.js';
export { CHUNK_BYTES, builtLater } from './cluster-state.js';
export type { MonitorStore, MonitorRun, MonitorRunKind, ChangeRecord, FindingParser, FindingGroup, ImageIndex, IndexedFinding, IndexedPackages, PackageGroup, Rejudgement, RejudgementBatch, ReadMarks, BatchWritten, OutboxNotice, AffectedImage, AffectedPageRequest } from './monitor-types.js';
export { entriesOf } from './monitor-types.js';

/**
 * Opens and migrates the store named by `url`: `sqlite:./data/pushgate.db`, `sqlite::memory:`,
 * or `postgres://user:pass@host:5432/db` (also `postgresql://`).
 * @throws PushgateError BAD_CONFIG for another scheme, STORE when it cannot be opened (after `opts.waitMs`
 *   of retries when the server is unreachable; `retryable` is true then).
 */
export async function openStore(url: string, opts: OpenStoreOptions = {}): Promise<Store> {
  // Only a server that is down or restarting is waited for; bad URLs, logins and migrations fail at once.
  return retrying(() => openOnce(url, opts.onMigrated), (e) => e instanceof PushgateError && e.retryable, opts);
}

/**
 * Runs `f`, a store operation of a replica's start (reads before it serves), and runs it again after a
 * backoff while it fails because the connection to the store is gone: the server ended it (restart,
 * failover, `pg_terminate_backend`: SQLSTATE 57P01 and class 08) or cannot be reached. The pool replaces
 * the ended connection, so the next try usually succeeds; without this, a replica started while
 * PostgreSQL restarts exits between opening the store and serving. Statement errors fail at once.
 * `f` must be safe to run again (a read, or writes that are idempotent).
 * @param opts.waitMs how long to keep trying (ms, the same budget as {@link openStore}'s); 0 = one try.
 * @throws the last error of `f` once the budget is spent, or its first error that is not a lost connection.
 */
export function retryingStore<T>(f: () => Promise<T>, opts: OpenStoreOptions = {}): Promise<T> {
  return retrying(f, connectionLost, opts);
}

/** True for an error (or a STORE error caused by one) that says the store's connection is gone. */
function connectionLost(e: unknown): boolean {
  return isConnectionError(e) || (e instanceof PushgateError && e.code === 'STORE' && isConnectionError(e.cause));
}

async function retrying<T>(f: () => Promise<T>, retryable: (e: unknown) => boolean, opts: OpenStoreOptions): Promise<T> {
  const deadline = Date.now() + (opts.waitMs ?? 0);
  for (let attempt = 1; ; attempt++) {
    try {
      return await f();
    } catch (e) {
      if (!retryable(e) || Date.now() >= deadline) throw e;
      const delay = Math.min(5000, 250 * 2 ** Math.min(attempt - 1, 5), Math.max(0, deadline - Date.now()));
      opts.onWait?.(e instanceof PushgateError ? e : new PushgateError('STORE', (e as Error).message, { cause: e, retryable: true }), attempt, delay);
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
  /** Called once the schema is current, with what the migration did ({@link MigrationReport}), before the store is returned. */
  onMigrated?: (report: MigrationReport) => void;
}

async function openOnce(url: string, onMigrated?: (report: MigrationReport) => void): Promise<Store> {
  let store: Store;
  if (url.startsWith('sqlite:')) store = openSqliteStore(url.slice('sqlite:'.length));
  else if (url.startsWith('postgres://') || url.startsWith('postgresql://')) store = await openPostgresStore(url);
  else throw new PushgateError('BAD_CONFIG', `store.url "${url}" is not supported: use sqlite:PATH or postgres://USER@HOST:PORT/DB`);
  try {
    // Not `onMigrated?.(await store.migrate())`: without a callback that would skip the migration itself.
    const report = await store.migrate();
    onMigrated?.(report);
  } catch (e) {
    await store.close().catch(() => undefined);
    throw e;
  }
  return store;
}
export { findingSetSignature, sharedFindingParts as findingParser } from './sqlite-monitor.js';
export type { ReportPatch } from './report-patch.js';
