/**
 * Tag restore on Harbor: `POST …/artifacts/{last allowed digest}/tags {"name": tag}`; when that
 * artifact is no longer in the repository but in the quarantine project, it is copied back first.
 */
import { isPushgateError, type Digest } from '../../core/index.js';
import type { HarborApi } from './harbor-api.js';
import type { Restored } from './restore.js';

/** Re-tags `repository:tag` to `digest`. Never throws (see {@link Restored}). */
export async function harborRestore(api: HarborApi, repository: string, tag: string, digest: Digest, quarantineRepository?: string): Promise<Restored> {
  try {
    try {
      await api.createTag(repository, digest, tag);
      return { ok: true, detail: `restored ${repository}:${tag} to ${digest}, the last digest pushgate allowed for it`, writes: [{ repository, digest, tag }] };
    } catch (e) {
      if (!isPushgateError(e, 'NOT_FOUND') || !quarantineRepository) throw e;
    }
    await api.copyArtifact(repository, quarantineRepository, digest);
    await api.createTag(repository, digest, tag);
    return { ok: true, detail: `restored ${repository}:${tag} to ${digest} (the last digest pushgate allowed for it), copied back from ${quarantineRepository}`, writes: [{ repository, digest, tag }] };
  } catch (e) {
    return { ok: false, detail: `could not restore ${repository}:${tag} to ${digest}: ${(e as Error).message}`, writes: [] };
  }
}
