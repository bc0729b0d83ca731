/**
 * Quarantine on Harbor (REST API v2.0, protocols.md §2.6): label the artifact, copy it into the
 * quarantine project under `<quarantine project>/<project>/<repository>` (Harbor's copy keeps the
 * digest and carries accessories such as cosign signatures), then delete the artifact (every tag)
 * or only the pushed tag (`quarantine.remove: tag`), and restore the tag to the last allowed
 * digest after a blocked re-push. Harbor fires PUSH_ARTIFACT in the quarantine project for the
 * copy: pushgate drops events of repositories under its quarantine prefix (own traffic). Adding a
 * tag through the API fires no webhook at all.
 */
import { isPushgateError, repositoryNameProblem, type Digest } from '../../core/index.js';
import type { HarborApi } from './harbor-api.js';
import { harborReject } from './harbor-reject.js';
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
 * artifact is deleted whatever `remove` says, there is no pushed tag to take away). A repository whose
 * quarantine name would exceed Distribution's 255 characters has the artifact deleted instead
 * ({@link harborReject}), the reason in the detail.
 * @throws PushgateError from the Harbor API (the gate records a failed enforcement and retries).
 */
export async function harborQuarantine(api: HarborApi, repository: string, digest: Digest, tag: string | undefined, o: HarborQuarantineOptions, restoreDigest?: Digest): Promise<ActionResult> {
  const target = `${o.project}/${repository}`;
  const impossible = repositoryNameProblem(target);
  if (impossible !== undefined) {
    // Harbor keeps its repositories in Distribution, whose names end at 255 characters: a repository
    // named near that (a name a pusher chooses) leaves no room for the quarantine project, and the copy
    // would fail on every try while the artifact stayed pullable. It is deleted instead, as a reject.
    const r = await harborReject(api, repository, digest, tag, restoreDigest);
    return { ...r, detail: `cannot be quarantined: ${target} ${impossible.replace(/^the repository name /, '')}, so no copy can be made there: ${r.detail}` };
  }
  const project = repository.slice(0, repository.indexOf('/'));
  try {
    await api.addLabel(repository, digest, await api.labelId(o.label, project));
  } catch (e) {
    // A remembered label id Harbor no longer knows (the label was deleted or recreated): look it up again once.
    if (!isPushgateError(e, 'NOT_FOUND')) throw e;
    api.forgetLabel(o.label, project);
    await api.addLabel(repository, digest, await api.labelId(o.label, project));
  }
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
