/** Reject on Harbor: delete the artifact (every tag and accessory goes), then restore the tag after a blocked re-push. */
import type { Digest } from '../../core/index.js';
import type { HarborApi } from './harbor-api.js';
import { harborRestore } from './harbor-restore.js';
import type { ActionResult } from './types.js';

/**
 * Deletes `repository@digest` through the Harbor API.
 * @throws PushgateError from the API.
 */
export async function harborReject(api: HarborApi, repository: string, digest: Digest, tag?: string, restoreDigest?: Digest, quarantineRepository?: string): Promise<ActionResult> {
  await api.deleteArtifact(repository, digest);
  const restored = tag && restoreDigest ? await harborRestore(api, repository, tag, restoreDigest, quarantineRepository) : undefined;
  return {
    action: 'delete',
    status: 'done',
    detail: `deleted artifact ${repository}@${digest} with all its tags${restored ? `; ${restored.detail}` : ''}`,
    writes: restored?.writes ?? [],
  };
}
