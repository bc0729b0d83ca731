/**
 * Blobs the registry serves as manifests. Distribution 2.x looks a manifest up under a repository's
 * manifest links and, for compatibility with 2.1.0 (which linked manifests there), under its blob
 * links too (registry.go `manifestLinkPathFns`). So a pusher who uploads the bytes of a manifest as a
 * blob (`POST …/blobs/uploads/` then `PUT <location>?digest=`), or mounts such a blob from another
 * repository (`POST …/blobs/uploads/?mount=<digest>&from=<repo>`), makes `<repo>@<digest>` pullable as
 * an image that no manifest PUT brought: the proxy judged nothing, and the registry notifies a blob push
 * (`application/octet-stream`, which the shipped notification config filters out) or a mount, never a
 * manifest. Shown against the real registry in test/security/blob-manifests.test.ts.
 *
 * The proxy therefore checks every upload it sees completed (201 to a `PUT` of an upload or a `POST`
 * that mounted): when the registry now serves the blob as a manifest of that repository, the blob's
 * link is removed with pushgate's credentials and the client told to push manifests with a manifest
 * PUT, where they are judged. No client pushes manifests as blobs (docker, podman, skopeo, crane,
 * oras, buildkit all PUT them). The check costs one ranged read of the blob's first bytes; only a
 * blob that starts as a JSON object (configs, mostly) is asked about as a manifest, since the registry
 * reads the whole blob to answer that.
 */
import type http from 'node:http';
import type { Readable } from 'node:stream';
import type { RegistryClient } from '../registry/client.js';
import { isContentDigest } from '../core/digest.js';
import { RegistryError } from '../registry/errors.js';
import type { Route } from './route.js';

/** Whether a request may complete a blob upload or mount (its 201 links a blob into the repository). */
export function mayLinkBlob(method: string, route: Route): route is Route & { kind: 'blob-upload' | 'blob-upload-chunk'; name: string } {
  return (method === 'PUT' && route.kind === 'blob-upload-chunk') || (method === 'POST' && route.kind === 'blob-upload');
}

/**
 * The digest a completed upload or mount linked: the registry's `Docker-Content-Digest`, else the
 * request's `digest` (upload) or `mount` parameter, the first of each as Go's `url.Values.Get` reads it.
 */
export function linkedDigest(upres: Pick<http.IncomingMessage, 'headers'>, target: string): string | undefined {
  const dcd = upres.headers['docker-content-digest'];
  if (typeof dcd === 'string' && isContentDigest(dcd.trim())) return dcd.trim();
  const q = target.indexOf('?');
  if (q < 0) return undefined;
  const params = new URLSearchParams(target.slice(q + 1));
  for (const key of ['digest', 'mount']) {
    const v = params.get(key);
    if (v && isContentDigest(v)) return v;
  }
  return undefined;
}

/** JSON white space Go's decoder skips before a value. */
const JSON_SPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * Whether the first bytes of `stream` (a blob) may start a JSON object, as every manifest Distribution
 * serves does (Go's decoder skips any amount of white space, then reads `{schemaVersion, mediaType}`).
 * Reads until the first byte that is not JSON white space, then destroys the stream. Past `limit` bytes
 * of white space the answer is true (the registry is asked), never a guess that it is no manifest.
 */
export async function startsAsJsonObject(stream: Readable, limit = 64 * 1024): Promise<boolean> {
  let seen = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      for (const b of chunk) {
        if (!JSON_SPACE.has(b)) return b === 0x7b;
        if (++seen >= limit) return true;
      }
    }
    return false;
  } finally {
    stream.destroy();
  }
}

/** What the check found about a linked blob. */
export type LinkedBlobCheck =
  | { kind: 'blob' }
  | { kind: 'removed'; digest: string }
  | { kind: 'unchecked'; digest: string; error: string }
  | { kind: 'left'; digest: string; error: string };

/**
 * Checks the blob `digest` just linked into `repo`: when the registry serves it as a manifest there,
 * removes the blob link (pushgate's credentials). Never throws.
 * - `blob`: not served as a manifest (or nothing was linked);
 * - `removed`: it was, and its link is gone;
 * - `unchecked`: the registry did not say (the client is told to retry; the link stays);
 * - `left`: it is served as a manifest and the link could not be removed.
 */
export async function checkLinkedBlob(client: RegistryClient, repo: string, digest: string | undefined): Promise<LinkedBlobCheck> {
  if (!digest) return { kind: 'blob' };
  let served: boolean;
  try {
    const json = await startsAsJsonObject(await client.getBlob(repo, digest));
    if (!json) return { kind: 'blob' };
    served = await client.servesAsManifest(repo, digest);
  } catch (e) {
    // No link at all (the 201 linked nothing readable here): nothing is served under it.
    if (e instanceof RegistryError && e.status === 404) return { kind: 'blob' };
    return { kind: 'unchecked', digest, error: (e as Error).message };
  }
  if (!served) return { kind: 'blob' };
  try {
    await client.deleteBlob(repo, digest);
    return { kind: 'removed', digest };
  } catch (e) {
    return { kind: 'left', digest, error: (e as Error).message };
  }
}
