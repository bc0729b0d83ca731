/**
 * The children of a blocked index on Distribution. Deleting an index by digest leaves its child
 * manifests in the repository, each still pullable as `repository@<child digest>`. After the index
 * is quarantined (its copy carries the children) or rejected, every child whose own verdict blocks
 * is deleted from the original repository too, nested indexes walked the same way. A child that does
 * not block stays: another, allowed index (or a tag) may use it. An allowed index never names a
 * blocking child under the same mapping (an index's decision is the worst of its children's).
 */
import { isPushgateError, type Digest } from '../../core/index.js';
import type { RegistryClient } from '../../registry/client.js';
import { isOverLimit } from '../../registry/errors.js';
import { referencedDescriptors } from '../../registry/manifest.js';
import { deleteIfPresent } from './referrers.js';

/**
 * Whether a child manifest blocks by its own verdict (as seen from its digest, in `enforce` mode).
 * `undefined` (no verdict): not deleted here; its own push event (Distribution notifies each child
 * PUT) judges and enforces it.
 */
export type ChildBlocks = (digest: Digest) => Promise<boolean | undefined>;

/** What {@link deleteBlockingChildren} did. */
export interface ChildrenDeleted {
  /** Child digests deleted from the original repository (nested ones included). */
  deleted: Digest[];
  /** Children kept because they do not block (or have no verdict yet). */
  kept: Digest[];
}

/**
 * Deletes from `repository` the children of the index `index` (its bytes, read before the index was
 * deleted) that block, depth-first: a nested index goes when it blocks itself or when one of its own
 * children went (it would name content that is no longer there). At most `limit` manifests are read.
 * Without `childBlocks`, or for a manifest that is not an index, nothing happens.
 * @throws RegistryError when a delete fails (the caller records a failed enforcement and retries).
 */
export async function deleteBlockingChildren(client: RegistryClient, repository: string, index: { bytes: Buffer }, childBlocks: ChildBlocks | undefined, limit = 256): Promise<ChildrenDeleted> {
  const out: ChildrenDeleted = { deleted: [], kept: [] };
  if (!childBlocks) return out;
  const seen = new Set<Digest>();
  const walk = async (bytes: Buffer): Promise<boolean> => {
    let any = false;
    for (const child of referencedDescriptors(bytes).manifests) {
      if (seen.has(child.digest) || seen.size >= limit) continue;
      seen.add(child.digest);
      let grandchildren = false;
      let overLimit = false;
      const m = await client.getManifest(repository, child.digest).catch((e: unknown) => {
        if (isPushgateError(e, 'NOT_FOUND')) return undefined;
        // Too large to read (over the client's `maxManifestBytes`): its own verdict still decides, its children unread.
        if (isOverLimit(e)) return (overLimit = true), undefined;
        throw e;
      });
      if (!m && !overLimit) continue; // gone already (its own push event, or a person)
      if (m && referencedDescriptors(m.bytes).manifests.length) grandchildren = await walk(m.bytes);
      if (grandchildren || (await childBlocks(child.digest)) === true) {
        await deleteIfPresent(client, repository, child.digest);
        out.deleted.push(child.digest);
        any = true;
      } else {
        out.kept.push(child.digest);
      }
    }
    return any;
  };
  await walk(index.bytes);
  return out;
}

/**
 * The bytes of `repository@digest` for {@link deleteBlockingChildren}, or undefined when the manifest is
 * larger than pushgate reads (the client's `maxManifestBytes`): then its children are not walked (each had
 * its own push event, which judges and enforces it by digest), and the manifest itself is still removed.
 * @throws RegistryError for any other failure.
 */
export async function readForChildren(client: RegistryClient, repository: string, digest: Digest): Promise<{ bytes: Buffer } | undefined> {
  try {
    return await client.getManifest(repository, digest);
  } catch (e) {
    if (isOverLimit(e)) return undefined;
    throw e;
  }
}

/** `; also deleted 2 blocking children (…) from the repository`, or '' when none went. */
export function describeChildren(c: ChildrenDeleted): string {
  if (!c.deleted.length) return '';
  return `; also deleted ${c.deleted.length} blocking child manifest${c.deleted.length === 1 ? '' : 's'} of the index from the repository (${c.deleted.join(', ')})${c.kept.length ? `, kept ${c.kept.length} that do not block` : ''}`;
}
