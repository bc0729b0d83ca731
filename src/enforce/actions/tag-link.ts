/**
 * Waiting for a pushed tag's link before a blocked push is deleted or quarantined. Distribution 2.8 sends
 * the manifest push notification from ManifestService.Put, before the PUT handler links the tag: a delete
 * by digest that wins that race leaves the tag linked to a deleted manifest (listed, never pullable), and
 * a restored tag would be overwritten by the late link. The tag counts as linked only once it names the
 * pushed digest: a re-push of an existing tag (the case a restore is for) finds the tag still naming the
 * previous digest until the link. Normally the first HEAD already sees the link; a
 * registry starved of CPU (many pushes at once) was seen to link a tag more than 2 s after it sent the
 * notification.
 *
 * The wait is measured from the event's age: the time since pushgate stored the push event, on the
 * store's clock (src/store: the database's clock for PostgreSQL, the one process's for SQLite), never a
 * time the sender or the pusher wrote. The tag is checked at fixed ages ({@link tagLinkChecks}: 0, 100,
 * 300, … 6300 ms) and never after the last one, so an event older than that (a retry, an event claimed
 * again after a restart, or one that waited in a backlog) is not waited on at all: the registry has had
 * the whole wait since it sent the notification. A pusher who makes tags that never link (two tags and
 * racing deletes, the digest still there) therefore costs at most one wait per event in total, however
 * often the event is tried, and a burst of such events stalls the queue for one wait, not one per event.
 * A queued event's age can be wrong when the store's clock steps; the queue bounds that case by counting
 * the event's hand-backs (src/gate/tag-links.ts).
 *
 * A registry that answers a check with a transient error (429, 408, 5xx, a network failure: what the
 * registry client would retry) has not said the tag is linked: that check counts as "not linked yet" and
 * the next one is made at its age, later when the registry's `Retry-After` says so (at the first check at
 * or after it; past the budget, the last check). Ending the wait on such an error acted before the link: a
 * delete left the tag linked to the deleted manifest and a restore was overwritten by the late link. The
 * budget of age still ends the wait; what the action does then is what it does for an old event.
 */
import { performance } from 'node:perf_hooks';
import { isPushgateError, type Digest } from '../../core/index.js';
import type { RegistryClient } from '../../registry/client.js';

/** The checks of a tag link: HEAD requests at most, and the pause before the first retry, ms (doubled each time). */
export const TAG_LINK_BUDGET = { requests: 7, firstDelayMs: 100 };

/**
 * The event ages (ms) at which the tag is checked: `firstDelayMs · (2^k − 1)` for k = 0 … requests − 1
 * (0, 100, 300, 700, 1500, 3100, 6300 by default).
 */
export function tagLinkChecks(budget: typeof TAG_LINK_BUDGET = TAG_LINK_BUDGET): number[] {
  return Array.from({ length: Math.max(1, budget.requests) }, (_, k) => budget.firstDelayMs * (2 ** k - 1));
}

/** The age of an event (ms since pushgate stored it) past which its tag is not waited for: the last check, 6.3 s. */
export const TAG_LINK_WAIT_MS = tagLinkChecks().at(-1)!;

/** Time as the wait reads it: the event's age now (ms), and a pause. */
export interface TagLinkClock {
  /** Milliseconds since pushgate stored the event (its age at the claim plus the time since, on a monotonic clock). */
  age(): number;
  sleep(ms: number): Promise<void>;
}

/**
 * A clock for an event that was `ageMs` old now (0: a push stored now, for callers without a queued
 * event). Ages grow with the monotonic clock (`performance.now()`), so a wall clock that steps changes nothing.
 */
export function ageClock(ageMs = 0): TagLinkClock {
  const t0 = performance.now() - Math.max(0, ageMs);
  return { age: () => performance.now() - t0, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };
}

/** One wait: its clock, how long it may pause in total, and the checks. */
export interface TagLinkWait {
  /** Default: {@link ageClock}() (a push stored now). */
  clock?: TagLinkClock;
  /**
   * Longest total pause of this call, ms (default: no limit, the checks end the wait). When the next
   * check is further off, the call returns `retryInMs` instead of sleeping: a queue worker puts the event
   * back, due then, rather than being held.
   */
  sliceMs?: number;
  budget?: typeof TAG_LINK_BUDGET;
  /**
   * The pushed digest: the tag counts as linked only once it resolves to it. Without it, any digest counts,
   * which is wrong for a re-push of an existing tag: the tag still names the previous digest until the
   * registry links the new one, so the first HEAD would end the wait before the link it is there for.
   */
  digest?: Digest;
}

/** What a wait found. */
export interface TagLinkResult {
  /** HEAD requests of the tag made. */
  heads: number;
  /** The tag resolved to the pushed digest ({@link TagLinkWait.digest}; without one, to any digest). */
  linked: boolean;
  /** Not linked, and the next check is due in this many ms (only when `sliceMs` ran out first). */
  retryInMs?: number;
  /** The last check's transient registry error (429, 5xx, network), when the last check failed so. */
  transient?: string;
}

/**
 * When `err` (from a HEAD of the tag) is a transient answer of the registry, the pause it asks for
 * (`Retry-After`, ms; 0 without one); undefined for any other error (a refused token, a TLS failure, a
 * malformed answer): those end the wait.
 */
export function transientPause(err: unknown): number | undefined {
  if (!isPushgateError(err) || !err.retryable) return undefined;
  const ra = err.details?.retryAfterMs;
  return typeof ra === 'number' && Number.isFinite(ra) && ra > 0 ? ra : 0;
}

/**
 * Checks (HEAD) until `repository:tag` resolves to the pushed digest (`wait.digest`; without it, any digest), at the event ages of {@link tagLinkChecks}
 * and never after the last one: an event older than {@link TAG_LINK_WAIT_MS} makes no request. "Not
 * found", another digest (the tag's previous one) and a transient error ({@link transientPause}: 429,
 * 5xx, network; its `Retry-After` moves the next check to the first one at or after it, never past the
 * last) are waited out; each HEAD is one request (no client retries: the checks are the retries). Any
 * other answer (the registry refuses pushgate's token) ends the wait at once, so a refusing registry
 * costs one request here, not one per check; the action that follows reports the error.
 */
export async function awaitTagLink(client: RegistryClient, repository: string, tag: string, wait: TagLinkWait = {}): Promise<TagLinkResult> {
  const clock = wait.clock ?? ageClock();
  const checks = tagLinkChecks(wait.budget);
  const last = checks.at(-1)!;
  const slice = wait.sliceMs ?? Number.POSITIVE_INFINITY;
  let heads = 0;
  let paused = 0;
  let transient: string | undefined;
  const result = (r: TagLinkResult): TagLinkResult => (transient !== undefined && !r.linked ? { ...r, transient } : r);
  for (;;) {
    if (clock.age() > last) return result({ heads, linked: false });
    heads++;
    let after = 0;
    try {
      const now = await client.resolve(repository, tag, { retries: 0 });
      if (now && (wait.digest === undefined || now.digest === wait.digest)) return { heads, linked: true };
      transient = undefined;
    } catch (e) {
      const p = transientPause(e);
      if (p === undefined) return { heads, linked: false };
      transient = (e as Error).message;
      after = p;
    }
    const age = clock.age();
    let next = checks.find((c) => c > age);
    if (next === undefined) return result({ heads, linked: false });
    // Retry-After only within the budget: the first check at or after it, else the last check.
    if (after > 0) next = checks.find((c) => c >= age + after) ?? last;
    const pause = next - age;
    if (paused + pause > slice) return result({ heads, linked: false, retryInMs: Math.ceil(pause) });
    await clock.sleep(pause);
    paused += pause;
  }
}
