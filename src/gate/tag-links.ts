/**
 * The gate's wait for a pushed tag's link before it deletes or quarantines a blocked push on Distribution
 * (why: src/enforce/actions/tag-link.ts). A queue worker checks the tag for a short slice of the wait
 * ({@link TAG_LINK_SLICE_MS}: the usual race is over by then); when the next check is further off, the
 * event goes back to the queue, due then ({@link DeferredEnforcement}), instead of holding the worker
 * for the rest of the wait. Checks follow the event's age (the time since pushgate stored it), so across
 * claims, retries and restarts the event is waited on for one budget ({@link TAG_LINK_WAIT_MS}) at most.
 *
 * The age is read on the store's clock at each claim, and a clock can step: one set back (or a store
 * clock behind the event's `created_at`: a failover to a host whose clock lags, a corrected clock) makes
 * the event look 0 ms old again at every claim for as long as the step, so it would be handed back,
 * attempt refunded, for that long, holding the later events of its tag. The hand-backs are counted with
 * the event in the store (`QueuedEvent.linkHandBacks`, src/store/types.ts: a restart or another replica keeps
 * counting); at {@link TAG_LINK_HAND_BACKS} the event is past the budget, whatever its clock says
 * ({@link claimedEventAge}). With a clock that does not step an event is handed back at most 4 times
 * (once per check beyond the first slice: 300 → 700 → 1500 → 3100 → 6300 ms), so the cap is never
 * what ends a wait then. A clock set forward makes the event look older and ends the wait early, as
 * the budget does: see below.
 *
 * Past the budget means what it means for an event stored more than 6.3 s ago: no more HEADs of the tag,
 * the action goes on. The blocking verdict is stored before any wait (admission denies the digest
 * throughout); the action deletes (or quarantines, then deletes) the pushed manifest by digest, so
 * nothing blocked stays pullable whether or not the tag was linked yet. What acting early can cost is
 * the tag, not safety: a link that comes after the delete leaves the tag naming a deleted manifest
 * (listed, every pull 404) and can overwrite a restore of a re-pushed tag.
 */
import type { PushEvent } from '../core/index.js';
import { ageClock, awaitTagLink, TAG_LINK_BUDGET, TAG_LINK_WAIT_MS, type TagLinkClock, type TagLinkResult } from '../enforce/index.js';
import type { RegistryClient } from '../registry/client.js';
import { DeferredEnforcement } from './digest-pushes.js';

/** How long one claim of an event may pause in a worker for its tag's link, ms (the checks at ages 0, 100 and 300 ms). */
export const TAG_LINK_SLICE_MS = 300;

/**
 * Hand-backs of one event to wait for its tag's link after which it is past the wait, whatever its
 * age says: the number of checks in the budget (7), above the 4 a clock that does not step needs.
 */
export const TAG_LINK_HAND_BACKS = TAG_LINK_BUDGET.requests;

/**
 * The age clock of a claimed event for the wait: its age at the claim (`ageMs`, store clock) growing
 * with the monotonic clock, or past {@link TAG_LINK_WAIT_MS} once the event was handed back
 * {@link TAG_LINK_HAND_BACKS} times to wait for its tag (`QueuedEvent.linkHandBacks`).
 * @param clockAt the clock of an event that is `ms` old now (tests: a virtual one).
 */
export function claimedEventAge(ageMs: number, linkHandBacks: number, clockAt: (ms: number) => TagLinkClock = ageClock): TagLinkClock {
  return clockAt(linkHandBacks >= TAG_LINK_HAND_BACKS ? Math.max(ageMs, TAG_LINK_WAIT_MS + 1) : ageMs);
}

/**
 * Waits for `ev`'s tag to link, by the event's `age` (undefined: no queued event, e.g. a direct call, then
 * the whole wait runs here from now). Returns once the tag is linked, or the wait is over (past
 * {@link TAG_LINK_WAIT_MS} of age or {@link TAG_LINK_HAND_BACKS} hand-backs, the registry answered
 * something other than "not found" or a transient error, or the pushed digest is gone): the action goes
 * on. @throws DeferredEnforcement (`tagLink`: counted as a hand-back) when the next check is due after
 * this claim's slice.
 */
export async function awaitPushedTagLink(client: RegistryClient, ev: PushEvent & { tag: string }, age?: TagLinkClock): Promise<TagLinkResult> {
  if (!age) return awaitTagLink(client, ev.repository, ev.tag, { clock: ageClock(), digest: ev.digest });
  const r = await awaitTagLink(client, ev.repository, ev.tag, { clock: age, sliceMs: TAG_LINK_SLICE_MS, digest: ev.digest });
  if (r.retryInMs === undefined) return r;
  // A digest already gone (an earlier event of the same push removed it) leaves nothing to act on: no wait.
  // One request: a registry that fails it is taken to still hold the digest.
  if (!(await client.resolve(ev.repository, ev.digest, { retries: 0 }).then((d) => !!d, () => true))) return r;
  throw new DeferredEnforcement(
    r.retryInMs,
    `${ev.repository}:${ev.tag} is not linked yet ${Math.round(age.age())} ms after pushgate stored its push event (Distribution notifies before it links the tag)` +
      (r.transient ? `; the registry's last answer was an error (${r.transient})` : '') +
      `: checked again in ${r.retryInMs} ms, for at most ${TAG_LINK_WAIT_MS} ms of the event's age or ${TAG_LINK_HAND_BACKS} hand-backs`,
    true,
  );
}
