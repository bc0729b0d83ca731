/**
 * Workload usage from admission: per image digest the validating webhook admitted, the workload that
 * runs it, written to the store (src/store/workloads.ts) so "which images have CVE-X" also answers
 * "and what runs them".
 *
 * Off the review's hot path: a review only adds to an in-memory buffer (rows of one identity merged:
 * a Deployment scaled to 100 pods is one row), flushed every {@link FLUSH_INTERVAL_MS} or at
 * {@link FLUSH_ROWS} rows by an upsert. The buffer is bounded: while the store is down, rows that do not
 * fit are dropped oldest first and counted (`pushgate_workload_usage_dropped_total`); a review is never
 * delayed or failed by this.
 *
 * The identity is read from the AdmissionReview as the API server sent it: `request.namespace`, the
 * object's controller ownerReference (kind, name) when it has one, else the object's own kind and name.
 * Annotations and labels are never read. Only reviews whose caller authenticated as the API server
 * (client certificate, src/server/admission-listener.ts) are recorded: anyone else's review is a claim.
 */
import type { Digest } from '../core/index.js';
import type { WorkloadStore, WorkloadUsage } from '../store/workloads.js';
import { WORKLOAD_BATCH_MAX } from '../store/workloads.js';

/** Who runs an image: a namespace and a workload's kind and name. */
export interface WorkloadIdentity {
  namespace: string;
  kind: string;
  name: string;
}

/** Rows written at once; a full batch is flushed without waiting for the timer. */
export const FLUSH_ROWS = 500;
/** Longest a row waits in the buffer before a flush is attempted, ms. */
export const FLUSH_INTERVAL_MS = 1000;
/** Distinct rows buffered at most; beyond it the oldest are dropped (counted). */
export const BUFFER_MAX = 20_000;
/** Longest namespace, kind or name kept (Kubernetes names are at most 253 characters). */
const NAME_MAX = 253;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Usable as an identity part: a non-empty string no longer than {@link NAME_MAX}, without NUL (PostgreSQL text cannot hold it; no Kubernetes name has one). */
function part(v: unknown): v is string {
  return typeof v === 'string' && v !== '' && v.length <= NAME_MAX && !v.includes('\u0000');
}

/**
 * The workload a reviewed object belongs to: its `controller: true` ownerReference (the API server
 * allows at most one) when that has a kind and a name, else the object itself (`request.kind.kind`,
 * `request.name` or `metadata.name`, then `metadata.generateName` for an object named by the server).
 * The namespace is `request.namespace`. Undefined when no usable namespace, kind or name is there.
 */
export function workloadOf(req: { namespace?: unknown; name?: unknown; kind?: { kind?: unknown }; object?: unknown }): WorkloadIdentity | undefined {
  const namespace = req.namespace;
  if (!part(namespace)) return undefined;
  const md = isRecord(req.object) && isRecord(req.object.metadata) ? req.object.metadata : undefined;
  const refs = Array.isArray(md?.ownerReferences) ? md.ownerReferences : [];
  const ctl = refs.find((r): r is Record<string, unknown> => isRecord(r) && r.controller === true);
  if (ctl) return part(ctl.kind) && part(ctl.name) ? { namespace, kind: ctl.kind, name: ctl.name } : undefined;
  const kind = req.kind?.kind;
  const given = (v: unknown) => typeof v === 'string' && v !== '';
  // The first name given is the name: one that cannot be stored is not replaced by another.
  const name = given(req.name) ? req.name : given(md?.name) ? md?.name : md?.generateName;
  return part(kind) && part(name) ? { namespace, kind, name } : undefined;
}

/** Options of a {@link WorkloadRecorder}. */
export interface WorkloadRecorderOptions {
  store: WorkloadStore;
  /** `admission.cluster`: written with every row; empty when not configured. */
  cluster?: string;
  /** Clock in ms (default `Date.now`). */
  now?: () => number;
  flushIntervalMs?: number;
  flushRows?: number;
  bufferMax?: number;
  /** Rows dropped because the buffer was full (a metric). */
  onDropped?: (n: number) => void;
  /** A flush failed (the rows stay buffered for the next one). */
  onFlushError?: (e: unknown) => void;
}

/**
 * Buffers workload usage and writes it in batches. {@link record} never blocks or throws;
 * {@link close} stops the timer and makes one last flush attempt.
 */
export class WorkloadRecorder {
  private buffer = new Map<string, WorkloadUsage>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closed = false;
  /** Rows dropped since start. */
  dropped = 0;

  constructor(private readonly o: WorkloadRecorderOptions) {}

  /** Rows waiting to be written. */
  get pending(): number {
    return this.buffer.size;
  }

  /** Records that `who` runs each of `digests` now. */
  record(who: WorkloadIdentity, digests: Iterable<Digest>): void {
    if (this.closed) return;
    const at = (this.o.now ?? Date.now)();
    const cluster = this.o.cluster ?? '';
    for (const digest of digests) {
      const row: WorkloadUsage = { digest, cluster, namespace: who.namespace, kind: who.kind, name: who.name, firstSeen: at, lastSeen: at };
      this.merge(row);
    }
    if (this.buffer.size >= (this.o.flushRows ?? FLUSH_ROWS)) void this.flush();
    else this.arm();
  }

  private merge(row: WorkloadUsage): void {
    const k = JSON.stringify([row.digest, row.cluster, row.namespace, row.kind, row.name]);
    const had = this.buffer.get(k);
    if (had) {
      had.firstSeen = Math.min(had.firstSeen, row.firstSeen);
      had.lastSeen = Math.max(had.lastSeen, row.lastSeen);
      return;
    }
    const max = this.o.bufferMax ?? BUFFER_MAX;
    let drop = 0;
    while (this.buffer.size >= max) {
      // Map order is insertion order: the first key is the oldest row.
      this.buffer.delete(this.buffer.keys().next().value as string);
      drop++;
    }
    if (drop) this.countDropped(drop);
    this.buffer.set(k, row);
  }

  private countDropped(n: number): void {
    this.dropped += n;
    try {
      this.o.onDropped?.(n);
    } catch {
      // a metric never fails a review
    }
  }

  private arm(): void {
    if (this.timer || this.closed || !this.buffer.size) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.o.flushIntervalMs ?? FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  /**
   * Writes what is buffered, in batches of at most {@link FLUSH_ROWS}; one flush at a time (a call
   * during one waits for it). On a store error the unwritten rows go back into the buffer (merged with
   * newer ones, bounded) and the timer retries.
   */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = undefined;
      this.arm();
    });
    return this.flushing;
  }

  private async drain(): Promise<void> {
    const per = Math.min(this.o.flushRows ?? FLUSH_ROWS, WORKLOAD_BATCH_MAX);
    while (this.buffer.size) {
      const batch: WorkloadUsage[] = [];
      for (const [k, r] of this.buffer) {
        batch.push(r);
        this.buffer.delete(k);
        if (batch.length >= per) break;
      }
      try {
        await this.o.store.recordUsage(batch);
      } catch (e) {
        // Put back behind nothing newer: the failed rows are the oldest, so a full buffer drops them first.
        const newer = this.buffer;
        this.buffer = new Map();
        for (const r of batch) this.merge(r);
        for (const r of newer.values()) this.merge(r);
        try {
          this.o.onFlushError?.(e);
        } catch {
          // logging never fails a flush
        }
        return;
      }
    }
  }

  /** Stops the timer and attempts a last flush (errors are reported through `onFlushError`, not thrown). */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
