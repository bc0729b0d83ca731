/**
 * Quarantine on Distribution: copy the manifest (blobs by cross-repository mount) to
 * `<prefix><repository>:<tag>` with its referrers, restore the tag to the last allowed digest when
 * this was a re-push, then delete the original by digest. Deleting by digest removes every tag of
 * that digest in the repository (Distribution has no tag delete before 3.0). The restore happens
 * before the delete, so the tag never points at nothing.
 */
import type { Digest } from '../../core/index.js';
import type { RegistryClient } from '../../registry/client.js';
import { describeReferrers, moveReferrers } from './referrers.js';
import { restoreTag } from './restore.js';
import type { ActionResult, OwnWrite } from './types.js';

/**
 * Quarantines `repository@digest` (pushed as `tag`).
 * @param restoreDigest the last digest pushgate allowed for the tag (store.lastAllowed), if any.
 * @throws RegistryError when the copy or the delete fails (the caller records a failed enforcement and retries).
 */
export async function quarantine(client: RegistryClient, repository: string, digest: Digest, tag: string, prefix: string, restoreDigest?: Digest): Promise<ActionResult> {
  await awaitTagLink(client, repository, tag);
  const target = `${prefix}${repository}`;
  await client.copyImage(repository, digest, target, tag);
  const writes: OwnWrite[] = [{ repository: target, digest, tag }];
  const refs = await moveReferrers(client, repository, digest, target);
  writes.push(...refs.writes);
  const removed = await tagsOf(client, repository, digest);
  const restored = restoreDigest ? await restoreTag(client, repository, tag, restoreDigest, target, digest) : undefined;
  if (restored) writes.push(...restored.writes);
  await client.deleteManifest(repository, digest);
  const gone = restored?.ok ? removed.filter((t) => t !== tag) : removed;
  return {
    action: 'quarantine',
    status: 'done',
    detail:
      `copied to ${target}:${tag}, then deleted ${repository}@${digest} by digest` +
      (gone.length ? ` (which also removed tag${gone.length > 1 ? 's' : ''} ${gone.join(', ')})` : '') +
      describeReferrers(refs, `moved to ${target}:`) +
      (restored ? `; ${restored.detail}` : ''),
    writes,
    quarantined: { repository: target, tag },
  };
}

/** The wait for a tag link: HEAD requests at most, and the pause before the first retry, ms (doubled each time). */
export const TAG_LINK_BUDGET = { requests: 5, firstDelayMs: 100 };

/**
 * Waits until `repository:tag` resolves (HEAD) to any digest, for at most `timeoutMs` and
 * {@link TAG_LINK_BUDGET}`.requests` HEADs with doubling pauses (100, 200, 400, 800 ms).
 * Distribution 2.8 sends the manifest push notification from ManifestService.Put, before the PUT
 * handler links the tag: a delete by digest that wins that race leaves the tag linked to a deleted
 * manifest (listed, never pullable), and a restored tag would be overwritten by the late link.
 * Normally the first HEAD already sees the link. Only "not found" is waited out: any other answer
 * (the registry refuses pushgate's token, the network fails) ends the wait at once, so a refusing
 * registry costs one request here, not one per poll; the action that follows reports the error.
 * @returns how many HEAD requests were made.
 */
export async function awaitTagLink(client: RegistryClient, repository: string, tag: string, timeoutMs = 2000, budget = TAG_LINK_BUDGET): Promise<number> {
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
