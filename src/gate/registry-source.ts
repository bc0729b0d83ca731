/**
 * An {@link ImageSource} backed by a registry: the scan engine reads manifests and blobs through
 * the OCI distribution API without knowing about registries (scan never imports registry).
 */
import type { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { PushgateError, type Descriptor, type Digest } from '../core/index.js';
import type { RegistryClient } from '../registry/client.js';
import type { ImageSource } from '../scan/source.js';

/**
 * Source for `repository@digest` (or a tag, resolved once) in a registry.
 * @param pending bytes of a manifest that is not in the registry yet (proxy: held at its PUT).
 */
export function registrySource(
  client: RegistryClient,
  repository: string,
  ref: string,
  pending?: { bytes: Buffer; mediaType: string },
): ImageSource {
  const target = `${client.host}/${repository}${ref.includes(':') ? '@' : ':'}${ref}`;
  return {
    target,
    async root() {
      if (pending) {
        const digest = `sha256:${createHash('sha256').update(pending.bytes).digest('hex')}`;
        return { digest, mediaType: pending.mediaType, bytes: pending.bytes };
      }
      return client.getManifest(repository, ref);
    },
    async manifest(desc: Descriptor): Promise<Buffer> {
      const m = await client.getManifest(repository, desc.digest);
      if (m.digest !== desc.digest) {
        throw new PushgateError('DIGEST_MISMATCH', `manifest ${repository}@${desc.digest} hashed to ${m.digest}`);
      }
      return m.bytes;
    },
    async blob(desc: Descriptor): Promise<Readable> {
      return client.getBlob(repository, desc.digest as Digest);
    },
  };
}
