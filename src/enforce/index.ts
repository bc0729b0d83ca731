/**
 * Enforcement: what a decision does to the registry. `enforce` mode acts; `warn` and `audit`
 * modes record only. A manifest pushed by digest without a tag is pullable as `repository@digest`,
 * so it is enforced like a tagged one. On Distribution it is quarantined by digest (copied to
 * `<prefix><repository>@digest`, no tag: `sha256-<hex>` is the referrers fallback tag) or deleted. A
 * blocking index child pushed by digest before its index is therefore gone when the index arrives, and
 * the index PUT fails with MANIFEST_BLOB_UNKNOWN: the index would block anyway (its decision is the
 * worst of its children's). A blocked index takes its blocking children out of the repository with it
 * (./actions/children.ts). Harbor fires no webhook when a tag is added later
 * (UI, API, replication) and caches proxy-cache pulls by digest, so there a blocked artifact pushed
 * by digest is acted on at once: labelled, copied to the quarantine project (quarantine) and
 * removed. An artifact an index already references cannot be deleted in Harbor (412): it is left
 * labelled, and the index that names it is enforced.
 *
 * Distribution: through the OCI distribution API (./actions/quarantine.ts, reject.ts, restore.ts,
 * referrers.ts, release.ts). Harbor: through its REST API v2.0 (./actions/harbor-*.ts).
 * Every action returns the manifests pushgate wrote ({@link OwnWrite}) so the gate recognizes
 * their notifications as its own traffic.
 */
import { isBlocking, isPushgateError, type Decision, type Digest, type Enforcement, type PolicyMode } from '../core/index.js';
import type { RegistryClient } from '../registry/client.js';
import { HarborApi, type HarborApiOptions } from './actions/harbor-api.js';
import { harborQuarantine, type HarborQuarantineOptions } from './actions/harbor-quarantine.js';
import { harborDeleteQuarantined, harborRelease } from './actions/harbor-release.js';
import { harborReject } from './actions/harbor-reject.js';
import { quarantine } from './actions/quarantine.js';
import { reject } from './actions/reject.js';
import { deleteQuarantined, release } from './actions/release.js';
import type { ActionResult, OwnWrite } from './actions/types.js';
import type { ChildBlocks } from './actions/children.js';
import type { QuarantineLock } from './actions/quarantine-lock.js';
import type { TagLinkClock } from './actions/tag-link.js';

export type { ActionResult, OwnWrite } from './actions/types.js';
export type { ChildBlocks } from './actions/children.js';
export { inProcessQuarantineLock, isLockWaitExpired, lockWaitExpired, QUARANTINE_LOCK_WAIT_MS } from './actions/quarantine-lock.js';
export type { QuarantineLock, QuarantineLockOptions } from './actions/quarantine-lock.js';
export { repointTag } from './actions/restore.js';
export { ageClock, awaitTagLink, tagLinkChecks, transientPause, TAG_LINK_BUDGET, TAG_LINK_WAIT_MS } from './actions/tag-link.js';
export type { TagLinkClock, TagLinkResult, TagLinkWait } from './actions/tag-link.js';
export { HarborApi, splitRepository, repositoryPath } from './actions/harbor-api.js';
export type { HarborApiOptions } from './actions/harbor-api.js';
export type { HarborQuarantineOptions } from './actions/harbor-quarantine.js';

/** Harbor settings of a registry: its API and the quarantine options. */
export interface HarborTarget {
  api: HarborApi;
  options: HarborQuarantineOptions;
}

/** What to enforce. */
export interface EnforceRequest {
  client: RegistryClient;
  type: 'distribution' | 'harbor';
  repository: string;
  digest: Digest;
  tag?: string;
  decision: Decision;
  mode: PolicyMode;
  quarantinePrefix: string;
  /**
   * A digest pushgate allowed for `tag` before and whose current verdict still allows it for `tag`
   * (the gate re-derives it): the tag is restored to it. Without it the tag is left absent.
   */
  restoreDigest?: Digest;
  /** Whether a child of a blocked index blocks by its own verdict (then it leaves the repository too). */
  childBlocks?: ChildBlocks;
  /** Required for `type: harbor`. */
  harbor?: HarborTarget;
  /**
   * Distribution, a tagged push: the clock of the wait for the tag's link (./actions/tag-link.ts: the
   * event's age; default: a push stored now), or `'awaited'` when the caller waited for it already.
   */
  tagLink?: TagLinkClock | 'awaited';
  /**
   * Called (and awaited) for every manifest pushgate wrote (quarantine copy, restored tag, moved
   * referrer), so its notification is recognized as own traffic.
   */
  onWrite?: (w: OwnWrite) => unknown;
  /**
   * Distribution: serialises the writes into a quarantine repository (./actions/quarantine-lock.ts). The gate
   * passes a lock held in its store, so the replicas sharing it take turns; default: within this process.
   */
  quarantineLock?: QuarantineLock;
  /** Longest wait for that lock (ms) before the image is removed without a copy; default {@link QUARANTINE_LOCK_WAIT_MS}. */
  quarantineLockWaitMs?: number;
}

/**
 * Builds the Harbor target of a registry entry (`registries[]` of type harbor): the API at
 * `<url>/api/v2.0` with the registry's credentials, the quarantine project (default: the
 * repository prefix without its `/`), label (default `quarantined`) and remove mode (default `artifact`).
 */
export function harborTarget(rc: HarborApiOptions & { quarantine: { repositoryPrefix: string; project?: string; label?: string; remove?: 'artifact' | 'tag' } }): HarborTarget {
  return {
    api: new HarborApi(rc),
    options: {
      project: rc.quarantine.project ?? rc.quarantine.repositoryPrefix.replace(/\/+$/, ''),
      label: rc.quarantine.label ?? 'quarantined',
      remove: rc.quarantine.remove ?? 'artifact',
    },
  };
}

/** The quarantine repository of `repository` (`<prefix><repository>`, or `<project>/<repository>` on Harbor). */
export function quarantineRepositoryOf(req: Pick<EnforceRequest, 'type' | 'quarantinePrefix' | 'harbor'>, repository: string): string {
  return req.type === 'harbor' && req.harbor ? `${req.harbor.options.project}/${repository}` : `${req.quarantinePrefix}${repository}`;
}

/**
 * Acts on a decision. Never throws: a failed action is returned with status `failed` and the
 * registry's error, so the verdict records it (the caller decides whether to retry).
 */
export async function enforce(req: EnforceRequest): Promise<Enforcement> {
  const r = await act(req);
  for (const w of r.writes) {
    try {
      await req.onWrite?.(w);
    } catch {
      // Not remembered: its notification is judged like any push (never a bypass).
    }
  }
  return { action: r.action, status: r.status, detail: r.detail };
}

async function act(req: EnforceRequest): Promise<ActionResult> {
  const skip = (detail: string): ActionResult => ({ action: 'none', status: 'skipped', detail, writes: [] });
  if (!isBlocking(req.decision)) return skip(`decision ${req.decision}: nothing to do`);
  if (req.mode !== 'enforce') return skip(`mode ${req.mode}: a ${req.decision} is recorded, not acted on`);
  const action = req.decision === 'quarantine' ? 'quarantine' : 'delete';
  const qrepo = quarantineRepositoryOf(req, req.repository);
  try {
    if (req.type === 'harbor') {
      if (!req.harbor) return { action, status: 'failed', detail: 'harbor registry without its API settings', writes: [] };
      if (req.decision === 'quarantine') return await harborQuarantine(req.harbor.api, req.repository, req.digest, req.tag, req.harbor.options, req.restoreDigest);
      return await harborReject(req.harbor.api, req.repository, req.digest, req.tag, req.restoreDigest, qrepo);
    }
    // Checked immediately before acting: a blocked manifest that is no longer in the repository (removed
    // by an earlier event of the same push, or by a person) leaves nothing to copy or delete, and its
    // tag is not touched; the verdict says why.
    if (!(await req.client.resolve(req.repository, req.digest))) {
      return { action, status: 'done', detail: `nothing to do: ${req.repository}@${req.digest} is no longer in the repository (removed already)${req.tag ? `; ${req.repository}:${req.tag} left as it is` : ''}`, writes: [] };
    }
    if (req.decision === 'quarantine') return await quarantine(req.client, req.repository, req.digest, req.tag, req.quarantinePrefix, req.restoreDigest, req.childBlocks, req.tagLink, req.quarantineLock, req.quarantineLockWaitMs);
    return await reject(req.client, req.repository, req.digest, req.tag, req.restoreDigest, req.childBlocks, req.tagLink);
  } catch (e) {
    if (isPushgateError(e, 'NOT_FOUND') && (await goneAlready(req, (e as Error).message))) {
      // Deleted meanwhile (by a duplicate notification, or a person): the goal is reached.
      return { action, status: 'done', detail: `already gone: ${(e as Error).message}`, writes: [] };
    }
    if (req.type === 'harbor' && !req.tag && /DELETE artifact \S+: 412\b/.test((e as Error).message)) {
      // Harbor keeps an artifact an index references (precondition failed): the index is what serves it.
      return { action: req.decision === 'quarantine' ? 'label' : 'none', status: 'skipped', detail: `not removed: an index references it (${(e as Error).message}); the index that names it is enforced`, writes: [] };
    }
    return { action, status: 'failed', detail: (e as Error).message, writes: [] };
  }
}

/**
 * Whether a NOT_FOUND met during an action means the blocked image is gone, so the action's goal is
 * reached. Never read from the error's words alone: they quote the repository and tag, which the pusher
 * names (a NOT_FOUND from a referrer's missing blob in a repository called `team/auto-delete` read as
 * "deleted meanwhile", and the enforcement was recorded done with the image still served under its tag).
 * Distribution: asked of the registry (the manifest no longer resolves by digest; an error asking is not
 * gone). Harbor: only the 404 of the DELETE of this very artifact (`DELETE artifact <repository>@<digest>:
 * 404`; a repository name holds no space or `@`).
 */
async function goneAlready(req: EnforceRequest, message: string): Promise<boolean> {
  if (req.type === 'harbor') return new RegExp(`: DELETE artifact [^\\s@]+@${req.digest}: 404\\b`).test(message);
  try {
    return (await req.client.resolve(req.repository, req.digest)) === undefined;
  } catch {
    return false;
  }
}

/** Where a quarantined copy is, and where it goes back to. */
export interface ReleaseRequest {
  client: RegistryClient;
  type: 'distribution' | 'harbor';
  harbor?: HarborTarget;
  quarantineRepository: string;
  digest: Digest;
  repository: string;
  /** '' for an image quarantined after a push by digest only: it goes back by digest. */
  tag: string;
}

/**
 * Copies a quarantined image (with its referrers) back to `repository:tag` and deletes the
 * quarantined copy.
 * @throws PushgateError (NOT_FOUND when the copy is gone) from the registry.
 */
export async function releaseQuarantined(req: ReleaseRequest): Promise<ActionResult> {
  if (req.type === 'harbor') {
    if (!req.harbor) throw new Error('harbor registry without its API settings');
    return harborRelease(req.harbor.api, req.quarantineRepository, req.digest, req.repository, req.tag);
  }
  return release(req.client, req.quarantineRepository, req.digest, req.repository, req.tag);
}

/**
 * Deletes a quarantined copy (retention). false when it was already gone.
 * @throws PushgateError from the registry.
 */
export async function deleteQuarantinedCopy(req: Omit<ReleaseRequest, 'repository' | 'tag'>): Promise<boolean> {
  if (req.type === 'harbor') {
    if (!req.harbor) throw new Error('harbor registry without its API settings');
    return harborDeleteQuarantined(req.harbor.api, req.quarantineRepository, req.digest);
  }
  return deleteQuarantined(req.client, req.quarantineRepository, req.digest);
}
