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
 */
import { performance } from 'node:perf_hooks';
import type { Digest } from '../../core/index.js';
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
}

/**
 * Checks (HEAD) until `repository:tag` resolves to the pushed digest (`wait.digest`; without it, any digest), at the event ages of {@link tagLinkChecks}
 * and never after the last one: an event older than {@link TAG_LINK_WAIT_MS} makes no request. Only "not
 * found" and another digest (the tag's previous one) are waited out: any other answer (the registry refuses pushgate's token, the network fails) ends
 * the wait at once, so a refusing registry costs one request here, not one per check; the action that
 * follows reports the error.
 */
export async function awaitTagLink(client: RegistryClient, repository: string, tag: string, wait: TagLinkWait = {}): Promise<TagLinkResult> {
  const clock = wait.clock ?? ageClock();
  const checks = tagLinkChecks(wait.budget);
  const last = checks.at(-1)!;
  const slice = wait.sliceMs ?? Number.POSITIVE_INFINITY;
  let heads = 0;
  let paused = 0;
  for (;;) {
    if (clock.age() > last) return { heads, linked: false };
    heads++;
    try {
      const now = await client.resolve(repository, tag);
      if (now && (wait.digest === undefined || now.digest === wait.digest)) return { heads, linked: true };
    } catch {
      return { heads, linked: false };
    }
    const age = clock.age();
    const next = checks.find((c) => c > age);
    if (next === undefined) return { heads, linked: false };
    const pause = next - age;
    if (paused + pause > slice) return { heads, linked: false, retryInMs: Math.ceil(pause) };
    await clock.sleep(pause);
    paused += pause;
  }
}
