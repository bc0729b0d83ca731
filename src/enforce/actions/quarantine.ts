/**
 * Quarantine on Distribution: copy the manifest (blobs by cross-repository mount) to
 * `<prefix><repository>:<tag>`, then delete the original by digest. Deleting by digest removes
 * every tag of that digest in the repository (Distribution has no tag delete before 3.0).
 */
import type { Digest, Enforcement } from '../../core/index.js';
import type { RegistryClient } from '../../registry/client.js';

/** Copies `repository@digest` into the quarantine repository under `tag`, then deletes the original. */
export async function quarantine(client: RegistryClient, repository: string, digest: Digest, tag: string, prefix: string): Promise<Enforcement> {
  const target = `${prefix}${repository}`;
  await client.copyImage(repository, digest, target, tag);
  const removed = await tagsOf(client, repository, digest);
  await client.deleteManifest(repository, digest);
  return {
    action: 'quarantine',
    status: 'done',
    detail: `copied to ${target}:${tag}, then deleted ${repository}@${digest} by digest${removed.length ? ` (which also removed tag${removed.length > 1 ? 's' : ''} ${removed.join(', ')})` : ''}`,
  };
}

/**
 * The tags of `repository` that currently point at `digest` (checked with HEAD; up to 50 tags),
 * so the verdict can say which tags a delete by digest removes.
 */
export async function tagsOf(client: RegistryClient, repository: string, digest: Digest): Promise<string[]> {
  let tags: string[];
  try {
    tags = await client.listTags(repository);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const t of tags.slice(0, 50)) {
    const r = await client.resolve(repository, t).catch(() => undefined);
    if (r?.digest === digest) out.push(t);
  }
  return out;
}
