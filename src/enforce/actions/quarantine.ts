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
import { isOverLimit } from '../../registry/errors.js';
import { deleteBlockingChildren, describeChildren, readForChildren, type ChildBlocks } from './children.js';
import { inProcessQuarantineLock, isLockWaitExpired, QUARANTINE_LOCK_WAIT_MS, removePartialCopy, type QuarantineLock } from './quarantine-lock.js';
import { describeReferrers, moveReferrers, type ReferrersMoved } from './referrers.js';
import { reject } from './reject.js';
import { restoreTag } from './restore.js';
import { awaitTagLink, type TagLinkClock } from './tag-link.js';
import type { ActionResult, OwnWrite } from './types.js';

/**
 * Quarantines `repository@digest` (pushed as `tag`, or by digest only when `tag` is undefined).
 * @param restoreDigest a digest whose current verdict allows it for the tag (the gate checks), if any.
 * @param childBlocks whether a child of an index blocks by its own verdict (then it leaves the original repository too).
 * @param linkWait the clock of the wait for the tag's link before anything is written ({@link awaitTagLink}:
 *   the event's age; default: a push stored now), or `'awaited'` when the caller waited already; the
 *   delete a quarantine falls back to does not wait again.
 * @param lock serialises the writes into the quarantine repository (./quarantine-lock.ts; default: within this process).
 * @param lockWaitMs longest wait for `lock` (ms): past it the image is removed without a copy (as {@link reject}
 *   does), so no copy another pusher made slow keeps a blocked image served.
 * @throws RegistryError when the copy or the delete fails (the caller records a failed enforcement and retries).
 */
export async function quarantine(client: RegistryClient, repository: string, digest: Digest, tag: string | undefined, prefix: string, restoreDigest?: Digest, childBlocks?: ChildBlocks, linkWait?: TagLinkClock | 'awaited', lock?: QuarantineLock, lockWaitMs = QUARANTINE_LOCK_WAIT_MS): Promise<ActionResult> {
  if (tag && linkWait !== 'awaited') await awaitTagLink(client, repository, tag, { clock: linkWait, digest });
  const target = `${prefix}${repository}`;
  const impossible = repositoryNameProblem(target);
  if (impossible !== undefined) {
    // A repository name near the registry's 255 characters leaves no room for the prefix: no copy can
    // be made there, ever (retrying fails the same way and left the image pullable under its tag, for
    // a pusher to choose). It is deleted instead, as when the copy cannot be made whole (below).
    const r = await reject(client, repository, digest, tag, restoreDigest, childBlocks, 'awaited');
    return { ...r, detail: `cannot be quarantined: ${target} ${impossible.replace(/^the repository name /, '')}, so no copy can be made there: ${r.detail}` };
  }
  // The copy, its clean-up and the referrers' copies write to the quarantine repository: one writer at a
  // time there (./quarantine-lock.ts), so a failed copy's clean-up never deletes what another copy uses.
  let copy: { failed: Error; left: Digest[] } | { refs: ReferrersMoved };
  try {
    copy = await (lock ?? inProcessQuarantineLock)(target, copyInto, { waitMs: lockWaitMs });
  } catch (e) {
    if (!isLockWaitExpired(e)) throw e;
    // Another copy into the quarantine repository holds it past the bound (its length is its pusher's to
    // choose): this image is removed now rather than served until that copy ends.
    const r = await reject(client, repository, digest, tag, restoreDigest, childBlocks, 'awaited');
    return { ...r, detail: `could not be copied to ${target} (${(e as Error).message}): ${r.detail}` };
  }
  async function copyInto(held: () => Promise<boolean>): Promise<{ failed: Error; left: Digest[] } | { refs: ReferrersMoved }> {
    const written: Digest[] = [];
    try {
      await client.copyImage(repository, digest, target, tag ?? digest, written);
    } catch (e) {
      // What the failed copy stored in the quarantine repository before it stopped (an index's children
      // before the one missing or too large to read) has no quarantine record and no release: removed, so
      // no unrecorded copy of a blocked image stays there. Manifests the target had before are not named.
      const left = await removePartialCopy(client, target, written, held);
      return { failed: e as Error, left };
    }
    return { refs: await moveReferrers(client, repository, digest, target, held) };
  }
  if ('failed' in copy) {
    const e = copy.failed;
    if (!isPushgateError(e, 'NOT_FOUND') && !isOverLimit(e)) throw e;
    // An index whose blocking child pushgate already removed (pushed by digest before it, rejected: never
    // copied) cannot be copied whole; it is deleted instead, so nothing of it stays pullable. Nor can a
    // manifest (or child) larger than pushgate reads (the client's `maxManifestBytes`), which a registry with
    // a higher limit stores: the copy failed on every try and the image stayed under its tag.
    const r = await reject(client, repository, digest, tag, restoreDigest, childBlocks, 'awaited');
    const left = copy.left.length ? `; left in ${target} (its lock was lost or the delete failed): ${copy.left.join(', ')}` : '';
    return { ...r, detail: `could not be copied to ${target} (${e.message}): ${r.detail}${left}` };
  }
  const refs = copy.refs;
  const writes: OwnWrite[] = [{ repository: target, digest, tag }];
  writes.push(...refs.writes);
  const removed = await tagsOf(client, repository, digest);
  const restored = tag && restoreDigest ? await restoreTag(client, repository, tag, restoreDigest, digest) : undefined;
  if (restored) writes.push(...restored.writes);
  const index = childBlocks ? await readForChildren(client, repository, digest) : undefined;
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
