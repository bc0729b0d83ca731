/** Release from quarantine on Harbor: copy the artifact back, tag it, delete the quarantined copy; and retention's delete. */
import { isPushgateError, type Digest } from '../../core/index.js';
import type { HarborApi } from './harbor-api.js';
import type { ActionResult } from './types.js';

/**
 * Moves `quarantineRepository@digest` back to `repository:tag`. A tag that already exists on
 * another artifact is an error (409) the caller reports.
 * @throws PushgateError from the API.
 */
export async function harborRelease(api: HarborApi, quarantineRepository: string, digest: Digest, repository: string, tag: string): Promise<ActionResult> {
  await api.copyArtifact(repository, quarantineRepository, digest);
  await api.createTag(repository, digest, tag);
  await harborDeleteQuarantined(api, quarantineRepository, digest);
  return {
    action: 'restore',
    status: 'done',
    detail: `released: copied ${quarantineRepository}@${digest} back to ${repository}, tagged ${tag}, then deleted the quarantined copy`,
    writes: [{ repository, digest, tag }],
  };
}

/** Deletes a quarantined copy; false when it was already gone. @throws PushgateError */
export async function harborDeleteQuarantined(api: HarborApi, quarantineRepository: string, digest: Digest): Promise<boolean> {
  try {
    await api.deleteArtifact(quarantineRepository, digest);
    return true;
  } catch (e) {
    if (isPushgateError(e, 'NOT_FOUND')) return false;
    throw e;
  }
}
