/**
 * Reject on Distribution: delete the manifest by digest (every tag on it goes with it) and its
 * referrers (signatures and SBOMs of a rejected image would be orphans). After a blocked re-push
 * the tag is first restored to the last digest pushgate allowed for it (and allows now). An index
 * takes its blocking children with it (./children.ts).
 */
import type { Digest } from '../../core/index.js';
import type { RegistryClient } from '../../registry/client.js';
import { deleteBlockingChildren, describeChildren, readForChildren, type ChildBlocks } from './children.js';
import { tagsOf } from './quarantine.js';
import { describeReferrers, moveReferrers } from './referrers.js';
import { restoreTag } from './restore.js';
import { awaitTagLink, type TagLinkClock } from './tag-link.js';
import type { ActionResult } from './types.js';

/**
 * Deletes `repository@digest`.
 * @param tag the pushed tag (undefined: pushed by digest only), restored to `restoreDigest` when given.
 * @param childBlocks whether a child of an index blocks by its own verdict (then it is deleted too).
 * @param linkWait the clock of the wait for the tag's link ({@link awaitTagLink}: the event's age; default:
 *   a push stored now), or `'awaited'` when the caller (the gate, or a quarantine that falls back to this
 *   delete) already waited: one event waits once, so a tag that never links costs one budget, not two.
 * @throws RegistryError when the delete fails.
 */
export async function reject(client: RegistryClient, repository: string, digest: Digest, tag?: string, restoreDigest?: Digest, childBlocks?: ChildBlocks, linkWait?: TagLinkClock | 'awaited'): Promise<ActionResult> {
  if (tag && linkWait !== 'awaited') await awaitTagLink(client, repository, tag, { clock: linkWait, digest });
  const removed = await tagsOf(client, repository, digest);
  const refs = await moveReferrers(client, repository, digest, undefined);
  const restored = tag && restoreDigest ? await restoreTag(client, repository, tag, restoreDigest, digest) : undefined;
  const index = childBlocks ? await readForChildren(client, repository, digest) : undefined;
  await client.deleteManifest(repository, digest);
  const children = index ? await deleteBlockingChildren(client, repository, index, childBlocks) : { deleted: [], kept: [] };
  const gone = restored?.ok ? removed.filter((t) => t !== tag) : removed;
  return {
    action: 'delete',
    status: 'done',
    detail:
      `deleted ${repository}@${digest} by digest${gone.length ? ` (tag${gone.length > 1 ? 's' : ''} ${gone.join(', ')} removed with it)` : ''}` +
      describeChildren(children) +
      describeReferrers(refs, 'deleted') +
      (restored ? `; ${restored.detail}` : ''),
    writes: restored?.writes ?? [],
  };
}
