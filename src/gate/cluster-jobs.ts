/**
 * Periodic work done once per cluster. Every replica sharing a store runs the same schedule, but a pass of
 * a job runs on one replica at a time and once per interval: the job is a store row taken with a lease on
 * the database's clock (Store.claimJob), renewed while the pass runs, and due again one interval after the
 * pass ended. A replica that dies mid-pass stops renewing; its lease expires and the next replica that
 * looks takes the job over (the pass starts again: every job here is idempotent, it queues events by
 * deterministic ids or re-reads what is left to do).
 */
import { randomUUID } from 'node:crypto';
import { lockWaitExpired, type QuarantineLock } from '../enforce/index.js';
import { PushgateError } from '../core/errors.js';
import type { Store } from '../store/index.js';
import type { Logger } from './gate.js';

/** This process's name as a job owner (pid and a random tail: a restarted pod reuses pids). */
export const JOB_OWNER = `${process.pid}-${randomUUID().slice(0, 8)}`;

/** Options of {@link scheduleClusterJob}. */
export interface ClusterJobOptions {
  store: Store;
  logger?: Logger;
  /** The job's name (one row per name): `reconcile`, `retry-unfinished`, `quarantine-retention`. */
  name: string;
  /** Interval between the end of one pass and the start of the next, ms (> 0). */
  intervalMs: number;
  /** Lease of a pass, ms; renewed every third of it while the pass runs (default 30 s). */
  leaseMs?: number;
  /** How often a replica looks whether the job is due, ms (default: a quarter of the interval, 250 ms..30 s). */
  checkMs?: number;
  /** Owner name (default {@link JOB_OWNER}). */
  owner?: string;
  /**
   * One pass. `signal` aborts when the replica lost the job (its lease was taken over) or stops.
   * `startedAt`: the pass's start on the database's clock.
   */
  run(ctx: { signal: AbortSignal; startedAt: number; owner: string }): Promise<unknown>;
}

/**
 * Looks every `checkMs` whether job `name` is due and, when this replica takes it, runs one pass.
 * The first pass of a job never run is due at once on the first look (after `checkMs`). Store failures are
 * logged and the next look tries again. Returns a stopper that aborts a running pass (its lease then
 * expires unless it finished).
 */
export function scheduleClusterJob(o: ClusterJobOptions): () => void {
  const owner = o.owner ?? JOB_OWNER;
  const leaseMs = o.leaseMs ?? 30_000;
  const checkMs = o.checkMs ?? Math.min(30_000, Math.max(250, Math.floor(o.intervalMs / 4)));
  const stopAll = new AbortController();
  let running = false;
  const look = async () => {
    if (running || stopAll.signal.aborted) return;
    running = true;
    try {
      const got = await o.store.claimJob(o.name, owner, leaseMs);
      if (!got) return;
      const lost = new AbortController();
      const onStop = () => lost.abort();
      stopAll.signal.addEventListener('abort', onStop);
      const beat = setInterval(() => {
        o.store.renewJob(o.name, owner, leaseMs).then(
          (ok) => {
            if (!ok) {
              o.logger?.warn({ job: o.name, owner }, 'periodic job: lease lost to another replica; this pass stops');
              lost.abort();
            }
          },
          (e: Error) => o.logger?.warn({ job: o.name, err: e.message }, 'periodic job: lease renewal failed'),
        );
      }, Math.max(100, Math.floor(leaseMs / 3)));
      beat.unref();
      try {
        await o.run({ signal: lost.signal, startedAt: got.startedAt, owner });
      } catch (e) {
        o.logger?.warn({ job: o.name, err: (e as Error).message }, 'periodic job pass failed; due again after its interval');
      } finally {
        clearInterval(beat);
        stopAll.signal.removeEventListener('abort', onStop);
      }
      // A pass aborted by a stop leaves its lease to expire: the job is not done, another replica takes it.
      if (!stopAll.signal.aborted && !lost.signal.aborted) await o.store.finishJob(o.name, owner, o.intervalMs);
    } catch (e) {
      o.logger?.warn({ job: o.name, err: (e as Error).message }, 'periodic job: store failed; the next look tries again');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void look(), checkMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    stopAll.abort();
  };
}

/**
 * Runs `fn` while holding job `name` (a one-off pass, not periodic: due again at once when it ends), waiting
 * while another replica holds it (polling every `pollMs`). Serializes work such as a re-evaluation across
 * replicas: the second replica's pass starts after the first's ended and finds what is left.
 * @throws what `fn` throws; PushgateError STORE when the store fails.
 */
export async function withClusterJob<T>(store: Store, name: string, fn: () => Promise<T>, o: { leaseMs?: number; pollMs?: number; owner?: string } = {}): Promise<T> {
  return withClusterLease(store, name, () => fn(), o);
}

/**
 * {@link withClusterJob} whose `fn` can ask whether the lease is still its own: `held()` renews it and is
 * true while this caller owns the row (false once its lease ran out and another owner took it, or the store
 * failed). A step that must not run outside the lease (a delete another holder could depend on) asks
 * first; the lease then lasts `leaseMs` from that answer.
 * `maxWaitMs` bounds the wait for another owner (then `expired()`, or PushgateError TIMEOUT; `fn` did not run).
 * @throws what `fn` throws; PushgateError STORE when the store fails before `fn` starts.
 */
export async function withClusterLease<T>(store: Store, name: string, fn: (held: () => Promise<boolean>) => Promise<T>, o: { leaseMs?: number; pollMs?: number; owner?: string; maxWaitMs?: number; expired?: () => Error } = {}): Promise<T> {
  const owner = `${o.owner ?? JOB_OWNER}-${randomUUID().slice(0, 8)}`;
  const leaseMs = o.leaseMs ?? 30_000;
  const giveUpAt = o.maxWaitMs !== undefined ? Date.now() + o.maxWaitMs : Infinity;
  while (!(await store.claimJob(name, owner, leaseMs))) {
    if (Date.now() >= giveUpAt) throw o.expired?.() ?? new PushgateError('TIMEOUT', `${name}: held by another owner for ${o.maxWaitMs} ms`, { retryable: true });
    await new Promise((r) => setTimeout(r, o.pollMs ?? 500));
  }
  let lost = false;
  const renew = async (): Promise<boolean> => {
    if (lost) return false;
    const ok = await store.renewJob(name, owner, leaseMs).catch(() => false);
    if (!ok) lost = true;
    return ok;
  };
  const beat = setInterval(() => void renew(), Math.max(100, Math.floor(leaseMs / 3)));
  beat.unref();
  try {
    return await fn(renew);
  } finally {
    clearInterval(beat);
    await store.finishJob(name, owner, 0).catch(() => undefined);
  }
}

/**
 * The lock of the quarantine repositories of `registry` (src/enforce/actions/quarantine-lock.ts) held in
 * `store`: a leased `cluster_jobs` row per repository (`quarantine-copy:<registry>/<repository>`; lease 30 s,
 * renewed while held, polled every 100 ms while another holds it, for at most the caller's `waitMs`). Every replica sharing the store takes
 * its turn, and a replica that dies holding it loses it when the lease runs out.
 */
export function storeQuarantineLock(store: Store, registry: string): QuarantineLock {
  return (target, fn, opts) =>
    withClusterLease(store, `quarantine-copy:${registry}/${target}`, fn, { pollMs: 100, maxWaitMs: opts?.waitMs, expired: () => lockWaitExpired(target, opts?.waitMs ?? 0) });
}
