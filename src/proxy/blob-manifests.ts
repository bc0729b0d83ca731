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
import crypto from 'node:crypto';
import type http from 'node:http';
import type { Readable } from 'node:stream';
import type { RegistryClient } from '../registry/client.js';
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
  if (typeof dcd === 'string' && isLinkDigest(dcd.trim())) return dcd.trim();
  const q = target.indexOf('?');
  if (q < 0) return undefined;
  const params = new URLSearchParams(target.slice(q + 1));
  for (const key of ['digest', 'mount']) {
    const v = params.get(key);
    if (v && isLinkDigest(v)) return v;
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

/**
 * The digest algorithms Distribution links a blob under (go-digest's: the registry binary links
 * crypto/sha256 and crypto/sha512, which registers SHA-384 too). An upload completed with
 * `digest=<sha384 or sha512>` is linked under that digest *and* the canonical sha256 one
 * (blobwriter.go `Commit` → `linkBlob(canonical, desc.Digest)`), and the registry answers with the
 * sha256 one only. The `digest` parameter may come from the query or, as Go's `r.FormValue` reads
 * it, from an `application/x-www-form-urlencoded` body the proxy never reads: so the aliases are
 * computed from the blob's bytes, never taken from the request.
 */
export const LINK_ALGORITHMS = ['sha256', 'sha384', 'sha512'] as const;

/** A blob digest Distribution may link: `sha256:<64 hex>`, `sha384:<96 hex>` or `sha512:<128 hex>`. */
export function isLinkDigest(s: string): boolean {
  return /^(?:sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$/.test(s);
}

/**
 * Past this many bytes a blob's aliases are not computed (only the link the registry named is removed).
 * Distribution reads a manifest whole and refuses one over 4 MiB (storage/io.go `maxBlobGetSize`),
 * so a blob it serves as a manifest is smaller.
 */
export const ALIAS_READ_LIMIT = 16 * 1024 * 1024;

/**
 * Every digest the blob `digest` of `repo` may be linked under: `digest` and its bytes' digest by
 * each of {@link LINK_ALGORITHMS}. Past {@link ALIAS_READ_LIMIT} bytes only `digest`: the registry
 * serves no manifest that large under any name.
 * @throws RegistryError when the blob cannot be read.
 */
export async function blobAliases(client: RegistryClient, repo: string, digest: string): Promise<string[]> {
  const hashes = LINK_ALGORITHMS.map((a) => ({ a, h: crypto.createHash(a) }));
  let read = 0;
  const stream = await client.getBlob(repo, digest);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      read += chunk.length;
      if (read > ALIAS_READ_LIMIT) return [digest];
      for (const { h } of hashes) h.update(chunk);
    }
  } finally {
    stream.destroy();
  }
  return [...new Set([digest, ...hashes.map(({ a, h }) => `${a}:${h.digest('hex')}`)])];
}

/**
 * Whether `e` is the registry's 404 (a RegistryError's `status`). Read off the error rather than by
 * `instanceof`: a second copy of the error module (a loader that instantiates it twice) would
 * otherwise make every 404 an unanswered check.
 */
function isNotFound(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { status?: unknown }).status === 404;
}

/** What the check found about a linked blob. */
export type LinkedBlobCheck =
  | { kind: 'blob' }
  | { kind: 'removed'; digest: string }
  | { kind: 'unchecked'; digest: string; error: string }
  | { kind: 'left'; digest: string; error: string };

/**
 * Removes every link of the blob `digest` in `repo` (each alias, {@link blobAliases}; only `digest`
 * itself when its bytes cannot be read). @returns the first failure's message, or undefined.
 */
async function unlinkAll(client: RegistryClient, repo: string, digest: string): Promise<string | undefined> {
  let aliases: string[];
  let failure: string | undefined;
  try {
    aliases = await blobAliases(client, repo, digest);
  } catch (e) {
    // 404: the link under `digest` is already gone; an alias may not be, and its bytes are not at hand
    if (!isNotFound(e)) failure = (e as Error).message;
    aliases = [digest];
  }
  for (const d of aliases) {
    try {
      await client.deleteBlob(repo, d);
    } catch (e) {
      failure ??= (e as Error).message;
    }
  }
  return failure;
}

/**
 * Checks the blob `digest` just linked into `repo`: when the registry serves it as a manifest there,
 * removes every link of the blob (pushgate's credentials), its aliases by other algorithms included.
 * When the registry does not say, the links are removed too (fail closed: the client is told to push
 * again, which links an ordinary blob again). Never throws.
 * - `blob`: not served as a manifest (or nothing was linked);
 * - `removed`: it was, and its links are gone;
 * - `unchecked`: the registry did not say; its links are gone (the client is told to retry);
 * - `left`: served as a manifest, or not said, and a link could not be removed.
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
    if (isNotFound(e)) return { kind: 'blob' };
    const left = await unlinkAll(client, repo, digest);
    return left === undefined ? { kind: 'unchecked', digest, error: (e as Error).message } : { kind: 'left', digest, error: `${(e as Error).message}; ${left}` };
  }
  if (!served) return { kind: 'blob' };
  const left = await unlinkAll(client, repo, digest);
  return left === undefined ? { kind: 'removed', digest } : { kind: 'left', digest, error: left };
}
