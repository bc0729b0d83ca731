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
export type { MonitorStore, MonitorRun, MonitorRunKind, ChangeRecord, ImageIndex, IndexedFinding, IndexedPackages, Rejudgement, RejudgementBatch, OutboxNotice, AffectedImage, AffectedPageRequest } from './monitor-types.js';

/**
 * Opens and migrates the store named by `url`: `sqlite:./data/pushgate.db`, `sqlite::memory:`,
 * or `postgres://user:pass@host:5432/db` (also `postgresql://`).
 * @throws PushgateError BAD_CONFIG for another scheme, STORE when it cannot be opened.
 */
export async function openStore(url: string): Promise<Store> {
  let store: Store;
  if (url.startsWith('sqlite:')) store = openSqliteStore(url.slice('sqlite:'.length));
  else if (url.startsWith('postgres://') || url.startsWith('postgresql://')) store = await openPostgresStore(url);
  else throw new PushgateError('BAD_CONFIG', `store.url "${url}" is not supported: use sqlite:PATH or postgres://USER@HOST:PORT/DB`);
  await store.migrate();
  return store;
}
export { findingSetSignature } from './sqlite-monitor.js';
export type { ReportPatch } from './report-patch.js';
