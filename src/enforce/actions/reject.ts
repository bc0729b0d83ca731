/** Reject on Distribution: delete the manifest by digest (every tag on it goes with it). */
import type { Digest, Enforcement } from '../../core/index.js';
import type { RegistryClient } from '../../registry/client.js';
import { tagsOf } from './quarantine.js';

/** Deletes `repository@digest`. */
export async function reject(client: RegistryClient, repository: string, digest: Digest): Promise<Enforcement> {
  const removed = await tagsOf(client, repository, digest);
  await client.deleteManifest(repository, digest);
  return {
    action: 'delete',
    status: 'done',
    detail: `deleted ${repository}@${digest} by digest${removed.length ? ` (tag${removed.length > 1 ? 's' : ''} ${removed.join(', ')} removed with it)` : ''}`,
  };
}
