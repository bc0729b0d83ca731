/**
 * The gate's wait for a pushed tag's link before it deletes or quarantines a blocked push on Distribution
 * (why: src/enforce/actions/tag-link.ts). A queue worker checks the tag for a short slice of the wait
 * ({@link TAG_LINK_SLICE_MS}: the usual race is over by then); when the next check is further off, the
 * event goes back to the queue, due then ({@link DeferredEnforcement}), instead of holding the worker
 * for the rest of the wait. Checks follow the event's age (the time since pushgate stored it), so across
 * claims, retries and restarts the event is waited on for one budget ({@link TAG_LINK_WAIT_MS}) at most.
 */
import type { PushEvent } from '../core/index.js';
import { ageClock, awaitTagLink, TAG_LINK_WAIT_MS, type TagLinkClock, type TagLinkResult } from '../enforce/index.js';
import type { RegistryClient } from '../registry/client.js';
import { DeferredEnforcement } from './digest-pushes.js';

/** How long one claim of an event may pause in a worker for its tag's link, ms (the checks at ages 0, 100 and 300 ms). */
export const TAG_LINK_SLICE_MS = 300;

/**
 * Waits for `ev`'s tag to link, by the event's `age` (undefined: no queued event, e.g. a direct call, then
 * the whole wait runs here from now). Returns once the tag is linked, or the wait is over (past
 * {@link TAG_LINK_WAIT_MS} of age, the registry answered something other than "not found", or the
 * pushed digest is gone): the action goes on. @throws DeferredEnforcement when the next check is due after this claim's slice.
 */
export async function awaitPushedTagLink(client: RegistryClient, ev: PushEvent & { tag: string }, age?: TagLinkClock): Promise<TagLinkResult> {
  if (!age) return awaitTagLink(client, ev.repository, ev.tag, { clock: ageClock(), digest: ev.digest });
  const r = await awaitTagLink(client, ev.repository, ev.tag, { clock: age, sliceMs: TAG_LINK_SLICE_MS, digest: ev.digest });
  if (r.retryInMs === undefined) return r;
  // A digest already gone (an earlier event of the same push removed it) leaves nothing to act on: no wait.
  if (!(await client.resolve(ev.repository, ev.digest).then((d) => !!d, () => true))) return r;
  throw new DeferredEnforcement(
    r.retryInMs,
    `${ev.repository}:${ev.tag} is not linked yet ${Math.round(age.age())} ms after pushgate stored its push event (Distribution notifies before it links the tag): checked again in ${r.retryInMs} ms, for at most ${TAG_LINK_WAIT_MS} ms of the event's age`,
  );
}
