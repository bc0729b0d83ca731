/**
 * Quarantine on Harbor (REST API v2.0, protocols.md §2.6): label the artifact, copy it into the
 * quarantine project under `<quarantine project>/<project>/<repository>` (Harbor's copy keeps the
 * digest and carries accessories such as cosign signatures), then delete the artifact (every tag)
 * or only the pushed tag (`quarantine.remove: tag`), and restore the tag to the last allowed
 * digest after a blocked re-push. Harbor fires PUSH_ARTIFACT in the quarantine project for the
 * copy: pushgate drops events of repositories under its quarantine prefix (own traffic). Adding a
 * tag through the API fires no webhook at all.
 */
import { isPushgateError, type Digest } from '../../core/index.js';
import type { HarborApi } from './harbor-api.js';
import { harborRestore } from './harbor-restore.js';
import type { ActionResult } from './types.js';

/** Harbor quarantine settings (config `registries[].quarantine`). */
export interface HarborQuarantineOptions {
  /** Quarantine project (default: the repository prefix without its trailing `/`). */
  project: string;
  /** Label to attach (default `quarantined`). */
  label: string;
  /** Delete the whole artifact (default) or only the pushed tag. */
  remove: 'artifact' | 'tag';
}

/**
 * Quarantines `repository@digest` pushed as `tag`, or pushed by digest (`tag` undefined: the whole
 * artifact is deleted whatever `remove` says, there is no pushed tag to take away).
 * @throws PushgateError from the Harbor API (the gate records a failed enforcement and retries).
 */
export async function harborQuarantine(api: HarborApi, repository: string, digest: Digest, tag: string | undefined, o: HarborQuarantineOptions, restoreDigest?: Digest): Promise<ActionResult> {
  const project = repository.slice(0, repository.indexOf('/'));
  try {
    await api.addLabel(repository, digest, await api.labelId(o.label, project));
  } catch (e) {
    // A remembered label id Harbor no longer knows (the label was deleted or recreated): look it up again once.
    if (!isPushgateError(e, 'NOT_FOUND')) throw e;
    api.forgetLabel(o.label, project);
    await api.addLabel(repository, digest, await api.labelId(o.label, project));
  }
  const target = `${o.project}/${repository}`;
  await api.copyArtifact(target, repository, digest);
  const tagOnly = o.remove === 'tag' && tag !== undefined;
  if (tagOnly) await api.deleteTag(repository, digest, tag);
  else await api.deleteArtifact(repository, digest);
  const restored = restoreDigest && tag ? await harborRestore(api, repository, tag, restoreDigest, target) : undefined;
  return {
    action: 'quarantine',
    status: 'done',
    detail:
      `labelled "${o.label}", copied to ${target}@${digest}, then ${tagOnly ? `deleted tag ${repository}:${tag}` : `deleted artifact ${repository}@${digest} with all its tags${tag ? '' : ' (pushed by digest)'}`}` +
      (restored ? `; ${restored.detail}` : ''),
    writes: [{ repository: target, digest }, ...(restored?.writes ?? [])],
    quarantined: tag ? { repository: target, tag } : undefined,
  };
}
