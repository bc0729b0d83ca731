/**
 * One writer at a time per quarantine repository. A quarantine copy stores an index's children by digest
 * before the index, and one that fails part-way deletes the children it stored that the repository did not
 * have before ({@link removePartialCopy}). "Did not have before" is a HEAD before each PUT: two copies into
 * one quarantine repository at once (two workers, or two replicas, enforcing two blocked indexes that share a
 * child) both saw the shared child absent, and the copy that failed deleted it under the one that finished,
 * whose recorded quarantine copy then named a child that was gone (its release and inspection failed). With
 * the copies of one repository serialised, what a copy finds absent no other copy is writing, so its
 * clean-up deletes only what it alone stored. A check of the quarantine records instead would not do: a
 * copy is recorded after it finished, so the one in flight is in no record.
 *
 * The gate passes a lock held in the store (a leased `cluster_jobs` row per quarantine repository,
 * src/gate/cluster-jobs.ts `withClusterLease`), which serialises the replicas sharing a PostgreSQL store;
 * {@link inProcessQuarantineLock} serialises one process only (the default, for callers without a store).
 */
import { isPushgateError, PushgateError, type Digest } from '../../core/index.js';
import type { RegistryClient } from '../../registry/client.js';

/**
 * How long a quarantine waits for another copy into its quarantine repository (ms) before it gives up on
 * the copy and removes the image instead (src/enforce/actions/quarantine.ts). A copy's length is the
 * pusher's to choose (an index of thousands of children, each of thousands of layers): without a bound, one
 * slow copy held every later quarantine of that repository, and the queue workers waiting on them, so a
 * blocked image stayed served and other repositories' events waited too.
 */
export const QUARANTINE_LOCK_WAIT_MS = 120_000;

/** Options of one {@link QuarantineLock} call. */
export interface QuarantineLockOptions {
  /** Longest wait for the lock (ms), then {@link lockWaitExpired}; default: without bound. */
  waitMs?: number;
}

/**
 * Runs `fn` while no other quarantine copy into `target` (a quarantine repository, on this registry) runs.
 * `held()` says whether the lock is still this caller's (a store lease is renewed by it; false once it was
 * lost, e.g. to a replica that found it expired): a clean-up deletes nothing unless it is.
 * @throws what `fn` throws; PushgateError STORE when a store lock cannot be taken; PushgateError TIMEOUT
 *   ({@link isLockWaitExpired}) when `opts.waitMs` passed while another held it (`fn` did not run).
 */
export type QuarantineLock = <T>(target: string, fn: (held: () => Promise<boolean>) => Promise<T>, opts?: QuarantineLockOptions) => Promise<T>;

/** The error of a lock wait past its bound: `fn` did not run. */
export function lockWaitExpired(target: string, waitMs: number): PushgateError {
  return new PushgateError('TIMEOUT', `the quarantine repository ${target} was busy with another copy for ${waitMs} ms`, { retryable: true, details: { quarantineLockWait: true } });
}

/** Whether `e` is {@link lockWaitExpired}'s error (read off its details: a copy's own TIMEOUT is not it). */
export function isLockWaitExpired(e: unknown): boolean {
  return isPushgateError(e, 'TIMEOUT') && (e as PushgateError).details?.quarantineLockWait === true;
}

const tails = new Map<string, Promise<unknown>>();

/** A {@link QuarantineLock} within this process: a promise chain per target (entries end with their chain). */
export const inProcessQuarantineLock: QuarantineLock = async <T>(target: string, fn: (held: () => Promise<boolean>) => Promise<T>, opts: QuarantineLockOptions = {}): Promise<T> => {
  const before = tails.get(target) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((r) => (done = r));
  const tail = before.then(() => mine);
  tails.set(target, tail);
  if (opts.waitMs !== undefined) {
    let timer: NodeJS.Timeout | undefined;
    const expired = await Promise.race([before.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), opts.waitMs)))]);
    clearTimeout(timer);
    if (expired) {
      // out of the line: those after this caller wait only for those before it
      done();
      if (tails.get(target) === tail) void tail.then(() => tails.get(target) === tail && tails.delete(target));
      throw lockWaitExpired(target, opts.waitMs);
    }
  }
  await before;
  try {
    return await fn(async () => true);
  } finally {
    done();
    if (tails.get(target) === tail) tails.delete(target);
  }
};

/**
 * Deletes from `target`, newest first, what a failed copy stored there that the repository did not have
 * before it (`written`, from RegistryClient.copyImage), while the caller holds the target's
 * {@link QuarantineLock}. When the lock is no longer held nothing is deleted: another copy may now be
 * using those manifests. Never throws.
 * @returns what was left there (not deleted: the lock was lost, or the delete failed).
 */
export async function removePartialCopy(client: RegistryClient, target: string, written: readonly Digest[], held: () => Promise<boolean>): Promise<Digest[]> {
  if (!written.length) return [];
  if (!(await held().catch(() => false))) return [...written];
  const left: Digest[] = [];
  for (const d of [...written].reverse()) {
    await client.deleteManifest(target, d).catch((e: unknown) => {
      if (!isPushgateError(e, 'NOT_FOUND')) left.push(d);
    });
  }
  return left;
}
