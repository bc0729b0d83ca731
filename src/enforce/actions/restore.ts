/**
 * Tag restore on Distribution: after a blocked re-push of an existing tag, point the tag back at
 * the last digest pushgate allowed for it, so pulls of `app:v1` keep working. The manifest is read
 * by digest from the repository (a re-push moves the tag but leaves the old manifest and its blobs
 * in place) or, failing that, copied back from the quarantine repository.
 */
import { isPushgateError, type Digest } from '../../core/index.js';
import type { RegistryClient } from '../../registry/client.js';
import type { OwnWrite } from './types.js';

/** What {@link restoreTag} did: a sentence for the verdict and the manifest written. */
export interface Restored {
  ok: boolean;
  detail: string;
  writes: OwnWrite[];
}

/**
 * Re-tags `repository:tag` to `digest`. Never throws: a failure is returned with `ok: false` and
 * the reason (the blocked image is still removed; the tag is then absent).
 */
export async function restoreTag(client: RegistryClient, repository: string, tag: string, digest: Digest, quarantineRepository: string): Promise<Restored> {
  try {
    const m = await client.getManifest(repository, digest);
    await client.putManifest(repository, tag, m.bytes, m.mediaType);
    return { ok: true, detail: `restored ${repository}:${tag} to ${digest}, the last digest pushgate allowed for it`, writes: [{ repository, digest, tag }] };
  } catch (e) {
    if (!isPushgateError(e, 'NOT_FOUND')) return { ok: false, detail: `could not restore ${repository}:${tag} to ${digest}: ${(e as Error).message}`, writes: [] };
  }
  try {
    await client.copyImage(quarantineRepository, digest, repository, tag);
    return { ok: true, detail: `restored ${repository}:${tag} to ${digest} (the last digest pushgate allowed for it), copied back from ${quarantineRepository}`, writes: [{ repository, digest, tag }] };
  } catch (e) {
    const why = isPushgateError(e, 'NOT_FOUND') ? `it is neither in ${repository} nor in ${quarantineRepository} any more` : (e as Error).message;
    return { ok: false, detail: `could not restore ${repository}:${tag} to ${digest}: ${why}`, writes: [] };
  }
}
