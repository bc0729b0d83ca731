/**
 * Quarantine on Distribution: copy the manifest (blobs by cross-repository mount) to
 * `<prefix><repository>:<tag>` with its referrers, restore the tag to the last allowed digest when
 * this was a re-push, then delete the original by digest. Deleting by digest removes every tag of
 * that digest in the repository (Distribution has no tag delete before 3.0). The restore happens
 * before the delete, so the tag never points at nothing.
 *
 * A manifest pushed by digest only is copied by digest (`<prefix><repository>@<digest>`, no tag: the
 * `sha256-<hex>` spelling is the referrers fallback tag and must not be taken) and deleted the same way.
 * An index takes its blocking children (./children.ts) out of the original repository with it: they
 * were copied to quarantine as part of the index, and by digest they would still be pullable.
 */
import { isPushgateError, repositoryNameProblem, type Digest } from '../../core/index.js';
import type { RegistryClient } from '../../registry/client.js';
import { deleteBlockingChildren, describeChildren, type ChildBlocks } from './children.js';
import { describeReferrers, moveReferrers } from './referrers.js';
import { reject } from './reject.js';
import { restoreTag } from './restore.js';
import type { ActionResult, OwnWrite } from './types.js';

/**
 * Quarantines `repository@digest` (pushed as `tag`, or by digest only when `tag` is undefined).
 * @param restoreDigest a digest whose current verdict allows it for the tag (the gate checks), if any.
 * @param childBlocks whether a child of an index blocks by its own verdict (then it leaves the original repository too).
 * @param linkWait the wait for the tag's link before anything is written ({@link awaitTagLink}); the
 *   delete a quarantine falls back to does not wait again.
 * @throws RegistryError when the copy or the delete fails (the caller records a failed enforcement and retries).
 */
export async function quarantine(client: RegistryClient, repository: string, digest: Digest, tag: string | undefined, prefix: string, restoreDigest?: Digest, childBlocks?: ChildBlocks, linkWait: TagLinkWait = TAG_LINK_WAIT): Promise<ActionResult> {
  if (tag) await awaitTagLink(client, repository, tag, linkWait.timeoutMs, linkWait.budget);
  const target = `${prefix}${repository}`;
  const impossible = repositoryNameProblem(target);
  if (impossible !== undefined) {
    // A repository name near the registry's 255 characters leaves no room for the prefix: no copy can
    // be made there, ever (retrying fails the same way and left the image pullable under its tag, for
    // a pusher to choose). It is deleted instead, as when the copy cannot be made whole (below).
    const r = await reject(client, repository, digest, tag, restoreDigest, childBlocks, 'awaited');
    return { ...r, detail: `cannot be quarantined: ${target} ${impossible.replace(/^the repository name /, '')}, so no copy can be made there: ${r.detail}` };
  }
  try {
    await client.copyImage(repository, digest, target, tag ?? digest);
  } catch (e) {
    if (!isPushgateError(e, 'NOT_FOUND')) throw e;
    // An index whose blocking child pushgate already removed (pushed by digest before it, rejected: never
    // copied) cannot be copied whole; it is deleted instead, so nothing of it stays pullable.
    const r = await reject(client, repository, digest, tag, restoreDigest, childBlocks, 'awaited');
    return { ...r, detail: `could not be copied to ${target} (${(e as Error).message}): ${r.detail}` };
  }
  const writes: OwnWrite[] = [{ repository: target, digest, tag }];
  const refs = await moveReferrers(client, repository, digest, target);
  writes.push(...refs.writes);
  const removed = await tagsOf(client, repository, digest);
  const restored = tag && restoreDigest ? await restoreTag(client, repository, tag, restoreDigest, digest) : undefined;
  if (restored) writes.push(...restored.writes);
  const index = childBlocks ? await client.getManifest(repository, digest) : undefined;
  await client.deleteManifest(repository, digest);
  const children = index ? await deleteBlockingChildren(client, repository, index, childBlocks) : { deleted: [], kept: [] };
  const gone = restored?.ok ? removed.filter((t) => t !== tag) : removed;
  return {
    action: 'quarantine',
    status: 'done',
    detail:
      `copied to ${tag ? `${target}:${tag}` : `${target}@${digest} (pushed by digest: no tag)`}, then deleted ${repository}@${digest} by digest` +
      (gone.length ? ` (which also removed tag${gone.length > 1 ? 's' : ''} ${gone.join(', ')})` : '') +
      describeChildren(children) +
      describeReferrers(refs, `moved to ${target}:`) +
      (restored ? `; ${restored.detail}` : ''),
    writes,
    quarantined: { repository: target, tag: tag ?? '' },
  };
}

/** The wait for a tag link: HEAD requests at most, and the pause before the first retry, ms (doubled each time). */
export const TAG_LINK_BUDGET = { requests: 7, firstDelayMs: 100 };
/**
 * How long {@link awaitTagLink} waits at most (ms): past the budget's pauses (6.3 s), so the budget ends
 * the wait. A registry starved of CPU (many pushes at once) was seen to link a tag more than 2 s
 * after it sent the push notification.
 */
export const TAG_LINK_TIMEOUT_MS = 8000;
/** One enforcement's wait for a tag link: at most `timeoutMs` (ms) and `budget` (HEADs, first pause in ms). */
export interface TagLinkWait {
  timeoutMs: number;
  budget: typeof TAG_LINK_BUDGET;
}
/** The wait {@link quarantine} and the delete ({@link reject}) use unless told otherwise. */
export const TAG_LINK_WAIT: TagLinkWait = { timeoutMs: TAG_LINK_TIMEOUT_MS, budget: TAG_LINK_BUDGET };

/**
 * Waits until `repository:tag` resolves (HEAD) to any digest, for at most `timeoutMs` and
 * {@link TAG_LINK_BUDGET}`.requests` HEADs with doubling pauses (100, 200, 400, … 3200 ms).
 * Distribution 2.8 sends the manifest push notification from ManifestService.Put, before the PUT
 * handler links the tag: a delete by digest that wins that race leaves the tag linked to a deleted
 * manifest (listed, never pullable), and a restored tag would be overwritten by the late link.
 * Normally the first HEAD already sees the link. Only "not found" is waited out: any other answer
 * (the registry refuses pushgate's token, the network fails) ends the wait at once, so a refusing
 * registry costs one request here, not one per poll; the action that follows reports the error.
 * @returns how many HEAD requests were made.
 */
export async function awaitTagLink(client: RegistryClient, repository: string, tag: string, timeoutMs = TAG_LINK_TIMEOUT_MS, budget = TAG_LINK_BUDGET): Promise<number> {
  const until = Date.now() + timeoutMs;
  let delay = budget.firstDelayMs;
  for (let n = 1; ; n++) {
    let found: boolean;
    try {
      found = !!(await client.resolve(repository, tag));
    } catch {
      return n;
    }
    if (found || n >= budget.requests || Date.now() + delay > until) return n;
    await new Promise((res) => setTimeout(res, delay));
    delay *= 2;
  }
}

/**
 * The tags of `repository` that currently point at `digest` (checked with HEAD; up to 50 tags),
 * so the verdict can say which tags a delete by digest removes.
 */
export async function tagsOf(client: RegistryClient, repository: string, digest: Digest): Promise<string[]> {
  let tags: string[];
  try {
    tags = await client.listTags(repository);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const t of tags.slice(0, 50)) {
    const r = await client.resolve(repository, t).catch(() => undefined);
    if (r?.digest === digest) out.push(t);
  }
  return out;
}
