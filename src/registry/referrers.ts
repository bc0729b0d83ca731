/**
 * The OCI 1.1 referrers fallback ("Referrers Tag Schema", distribution-spec v1.1 §"Unavailable Referrers
 * API"): on a registry without `GET /v2/<name>/referrers/<digest>`, the referrers of a manifest are listed
 * in an image index tagged `sha256-<hex>` in the same repository. Several tools write that one index
 * (cosign, notation, oras, pushgate), each by read-modify-write. These are the pure parts: merging our
 * entries into an index without losing anyone else's, and answering a referrers request from it.
 */
import type { Descriptor, Digest } from '../core/index.js';

/** OCI image index media type. */
export const OCI_INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';

/** An image index as JSON: its known fields, and whatever else a writer put there (kept as is). */
export interface IndexJson {
  schemaVersion: 2;
  mediaType: typeof OCI_INDEX_MEDIA_TYPE;
  manifests: Array<Descriptor & Record<string, unknown>>;
  [other: string]: unknown;
}

/**
 * Reads fallback index bytes as JSON, keeping unknown fields and entries as written. Entries that
 * are not objects with a string `digest` are dropped (no reader can use them).
 * @throws Error when the bytes are not a JSON object with a `manifests` array.
 */
export function parseIndexJson(bytes: Buffer): IndexJson {
  const j = JSON.parse(bytes.toString('utf8')) as unknown;
  if (typeof j !== 'object' || j === null || Array.isArray(j) || !Array.isArray((j as { manifests?: unknown }).manifests)) throw new Error('not an image index (no manifests array)');
  const o = j as Record<string, unknown>;
  const manifests = (o.manifests as unknown[]).filter((m): m is Descriptor & Record<string, unknown> => typeof m === 'object' && m !== null && typeof (m as { digest?: unknown }).digest === 'string');
  return { ...o, schemaVersion: 2, mediaType: OCI_INDEX_MEDIA_TYPE, manifests };
}

/**
 * The fallback index after one writer's update: `existing` (undefined: no tag yet) without the entries
 * whose digest is in `remove` (the writer's own previous referrers), with `add` appended (an entry
 * already listed with the same digest is replaced, never doubled). Every other entry, its order and
 * every unknown field of the index and of the entries are kept exactly.
 */
export function mergeFallbackIndex(existing: IndexJson | undefined, remove: ReadonlySet<string>, add: Descriptor[]): IndexJson {
  const adding = new Set(add.map((d) => d.digest));
  const kept = (existing?.manifests ?? []).filter((m) => !remove.has(m.digest) && !adding.has(m.digest));
  const seen = new Set<string>();
  const added = add.filter((d) => !seen.has(d.digest) && (seen.add(d.digest), true)).map((d) => ({ ...d }) as Descriptor & Record<string, unknown>);
  return { ...(existing ?? {}), schemaVersion: 2, mediaType: OCI_INDEX_MEDIA_TYPE, manifests: [...kept, ...added] };
}

/**
 * The answer to `GET /v2/<name>/referrers/<digest>[?artifactType=…]` (distribution-spec v1.1 end-12a):
 * an image index of the referrer descriptors, filtered on `artifactType` when one is asked for, with the
 * `OCI-Filters-Applied: artifactType` header then. Built from a fallback index; entries without a digest
 * or media type are left out.
 * @param index the fallback index (undefined: no referrers, an empty list).
 */
export function referrersResponse(index: IndexJson | undefined, artifactType?: string): { body: IndexJson; headers: Record<string, string> } {
  const all = (index?.manifests ?? []).filter((m) => typeof m.mediaType === 'string');
  const manifests = artifactType ? all.filter((m) => m.artifactType === artifactType) : all;
  const headers: Record<string, string> = { 'content-type': OCI_INDEX_MEDIA_TYPE };
  if (artifactType) headers['oci-filters-applied'] = 'artifactType';
  return { body: { schemaVersion: 2, mediaType: OCI_INDEX_MEDIA_TYPE, manifests }, headers };
}

/** Digest-shaped string check for referrer digests (`<alg>:<hex>`), as the spec's digest grammar allows. */
export function isReferrerDigest(s: string): s is Digest {
  return /^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$/.test(s);
}
