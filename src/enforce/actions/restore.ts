/**
 * Tag restore on Distribution: after a blocked re-push of an existing tag, point the tag back at
 * an earlier digest, so pulls of `app:v1` keep working. The gate picks that digest: one it allowed for
 * the tag before AND whose current verdict, under the policy in force, still allows it for the tag
 * (src/gate/gate.ts `restoreTarget`). The manifest is read by digest from the repository (a re-push
 * moves the tag but leaves the old manifest and its blobs in place). It is never copied back out of
 * the quarantine repository: that is a release, which only an operator does.
 */
import { isPushgateError, type Digest } from '../../core/index.js';
import type { RegistryClient } from '../../registry/client.js';
import type { OwnWrite } from './types.js';

/** What {@link restoreTag} did: a sentence for the verdict and the manifest written. */
export interface Restored {
  ok: boolean;
  /** True when nothing was tried because the tag no longer pointed where it had to. */
  skipped?: boolean;
  detail: string;
  writes: OwnWrite[];
}

/**
 * Why `repository:tag` must not be written now, or undefined when it still points at `expected`. A HEAD
 * of the tag immediately before the write: a tag that moved on (a newer push) or went away (deleted by a
 * person) is not pointed back. Distribution has no conditional PUT, so a push landing between this check
 * and the write is still overwritten; the gate repairs that when it handles the newer push's event.
 */
async function movedFrom(client: RegistryClient, repository: string, tag: string, expected: Digest): Promise<string | undefined> {
  const now = await client.resolve(repository, tag);
  if (!now) return `${repository}:${tag} no longer exists`;
  if (now.digest !== expected) return `${repository}:${tag} now points at ${now.digest}, not at ${expected}`;
  return undefined;
}

/**
 * Re-tags `repository:tag` to `digest`, only if the tag still points at `blocked` (the digest the verdict
 * is about), checked immediately before the write. Never throws: a failure or a skip is returned with
 * `ok: false` and the reason (the blocked image is still removed; the tag is then absent). A `digest`
 * no longer in the repository is not restored (the tag is left absent).
 */
export async function restoreTag(client: RegistryClient, repository: string, tag: string, digest: Digest, blocked: Digest): Promise<Restored> {
  const skip = (why: string): Restored => ({ ok: false, skipped: true, detail: `did not restore ${repository}:${tag} to ${digest}: ${why} (a newer push or a person moved it; it is left as it is)`, writes: [] });
  try {
    const m = await client.getManifest(repository, digest);
    const moved = await movedFrom(client, repository, tag, blocked);
    if (moved) return skip(moved);
    await client.putManifest(repository, tag, m.bytes, m.mediaType);
    return { ok: true, detail: `restored ${repository}:${tag} to ${digest}, the last digest allowed for it (and allowed now)`, writes: [{ repository, digest, tag }] };
  } catch (e) {
    const why = isPushgateError(e, 'NOT_FOUND') ? `it is no longer in ${repository} (never copied back out of quarantine: that takes a release)` : (e as Error).message;
    return { ok: false, detail: `could not restore ${repository}:${tag} to ${digest}: ${why}; the tag is left absent`, writes: [] };
  }
}

/**
 * Points `repository:tag` at `digest` again after a restore of pushgate's overwrote that push, only if
 * the tag still points at `overwrittenWith` (what the restore wrote), checked immediately before the
 * write. Never throws.
 */
export async function repointTag(client: RegistryClient, repository: string, tag: string, digest: Digest, overwrittenWith: Digest): Promise<Restored> {
  try {
    const m = await client.getManifest(repository, digest);
    const moved = await movedFrom(client, repository, tag, overwrittenWith);
    if (moved) return { ok: false, skipped: true, detail: `left ${repository}:${tag} as it is: ${moved}`, writes: [] };
    await client.putManifest(repository, tag, m.bytes, m.mediaType);
    return { ok: true, detail: `pointed ${repository}:${tag} at ${digest} again: a restore to ${overwrittenWith} had overwritten that newer push`, writes: [{ repository, digest, tag }] };
  } catch (e) {
    return { ok: false, detail: `could not point ${repository}:${tag} at ${digest} again: ${(e as Error).message}`, writes: [] };
  }
}
