/**
 * Release from quarantine on Distribution: copy `<quarantineRepository>@digest` (and its referrers)
 * back to `repository:tag`, then delete the quarantined copy by digest.
 */
import type { Digest } from '../../core/index.js';
import type { RegistryClient } from '../../registry/client.js';
import { deleteIfPresent, describeReferrers, moveReferrers } from './referrers.js';
import type { ActionResult, OwnWrite } from './types.js';

/**
 * Moves a quarantined image back. `tag` '' (an image quarantined after a push by digest only): it goes
 * back by digest, with no tag.
 * @throws RegistryError (NOT_FOUND when the quarantined copy is gone, e.g. removed by retention).
 */
export async function release(client: RegistryClient, quarantineRepository: string, digest: Digest, repository: string, tag: string): Promise<ActionResult> {
  await client.copyImage(quarantineRepository, digest, repository, tag || digest);
  const writes: OwnWrite[] = [{ repository, digest, tag: tag || undefined }];
  const refs = await moveReferrers(client, quarantineRepository, digest, repository);
  writes.push(...refs.writes);
  await deleteIfPresent(client, quarantineRepository, digest);
  return {
    action: 'restore',
    status: 'done',
    detail: `released: copied ${quarantineRepository}@${digest} back to ${tag ? `${repository}:${tag}` : `${repository}@${digest}`}, then deleted the quarantined copy${describeReferrers(refs, `moved back to ${repository}:`)}`,
    writes,
  };
}

/**
 * Deletes a quarantined copy and its referrers (retention). A copy already gone counts as done.
 * @returns false when the copy was not there any more.
 * @throws RegistryError
 */
export async function deleteQuarantined(client: RegistryClient, quarantineRepository: string, digest: Digest): Promise<boolean> {
  await moveReferrers(client, quarantineRepository, digest, undefined);
  return deleteIfPresent(client, quarantineRepository, digest);
}
