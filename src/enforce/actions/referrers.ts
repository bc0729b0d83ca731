/**
 * Referrers (signatures, SBOMs, attestations: manifests whose `subject` is the image) follow the
 * image they describe. Distribution has no referrers API, so clients keep the fallback tag
 * `sha256-<hex>` (an index of the referrers; distribution-spec "Referrers Tag Schema",
 * protocols.md §4.7); registries with the API index referrers by their `subject` themselves.
 */
import { isPushgateError, parseManifestDocument, type Descriptor, type Digest } from '../../core/index.js';
import { referrersTag, type RegistryClient } from '../../registry/client.js';
import type { OwnWrite } from './types.js';

/** What {@link moveReferrers} did. */
export interface ReferrersMoved {
  /** Digests of the referrer manifests handled. */
  digests: Digest[];
  /** True when the fallback tag index was copied/deleted too. */
  fallbackTag: boolean;
  writes: OwnWrite[];
}

/**
 * Whether `repo@candidate` is a referrer of `subject`: a manifest or index pushgate reads whose own
 * `subject` names that digest. A list of referrers (the fallback tag index, which anyone who can push
 * writes; on Distribution there is no other) is only a claim: a DELETE by digest of something it names
 * removes that manifest and every tag of it, so only what the content itself ties to `subject` is moved.
 * Unreadable or ambiguous documents are not referrers.
 */
async function isReferrerOf(client: RegistryClient, repo: string, candidate: Digest, subject: Digest): Promise<boolean> {
  try {
    const m = await client.getManifest(repo, candidate);
    if (m.digest !== candidate) return false;
    const doc = parseManifestDocument(m.bytes, m.mediaType);
    const own = doc.kind === 'manifest' ? doc.manifest.subject : doc.index.subject;
    return own?.digest === subject;
  } catch (e) {
    if (isPushgateError(e, 'NOT_FOUND') || isPushgateError(e, 'MANIFEST_INVALID') || isPushgateError(e, 'UNSUPPORTED')) return false;
    throw e;
  }
}

/**
 * The fallback tag index of `digest` when it is one pushgate may move: an index it reads, every entry
 * a referrer of `digest` ({@link isReferrerOf}). Anything else under the tag (an image, another index
 * pushed again under this tag, a document pushgate refuses to read) is left where it is: deleting it by
 * digest would take that manifest and its other tags with it.
 */
async function ownFallbackIndex(client: RegistryClient, repo: string, digest: Digest, verified: Map<Digest, boolean>): Promise<Digest | undefined> {
  let m;
  try {
    m = await client.getManifest(repo, referrersTag(digest));
  } catch (e) {
    if (isPushgateError(e, 'NOT_FOUND') || isPushgateError(e, 'UNSUPPORTED')) return undefined;
    throw e;
  }
  let doc;
  try {
    doc = parseManifestDocument(m.bytes, m.mediaType);
  } catch (e) {
    if (isPushgateError(e, 'MANIFEST_INVALID') || isPushgateError(e, 'UNSUPPORTED')) return undefined;
    throw e;
  }
  if (doc.kind !== 'index') return undefined;
  for (const d of doc.index.manifests) {
    if (!verified.has(d.digest)) verified.set(d.digest, await isReferrerOf(client, repo, d.digest, digest));
    if (!verified.get(d.digest)) return undefined;
  }
  return m.digest;
}

/** The referrers `client` lists for `digest`; a fallback index it cannot read lists none. */
async function listedReferrers(client: RegistryClient, repo: string, digest: Digest): Promise<Descriptor[]> {
  try {
    return await client.referrers(repo, digest);
  } catch (e) {
    if (isPushgateError(e, 'MANIFEST_INVALID') || isPushgateError(e, 'UNSUPPORTED')) return [];
    throw e;
  }
}

/**
 * Copies the referrers of `from@digest` to `to` (when `to` is given) and then deletes them from
 * `from`: each referrer manifest by digest (with its blobs, by mount), and the fallback tag index
 * under the same tag. Referrers of referrers are not followed. Only manifests whose own `subject` is
 * `digest` count as referrers, and the fallback index only when it lists nothing else
 * ({@link isReferrerOf}); whatever else a list names is neither copied nor deleted.
 * @throws RegistryError from the registry (a failure leaves the originals in place).
 */
export async function moveReferrers(client: RegistryClient, from: string, digest: Digest, to: string | undefined): Promise<ReferrersMoved> {
  const verified = new Map<Digest, boolean>();
  const refs: Descriptor[] = [];
  for (const r of await listedReferrers(client, from, digest)) {
    if (!verified.has(r.digest)) verified.set(r.digest, await isReferrerOf(client, from, r.digest, digest));
    if (verified.get(r.digest) && !refs.some((x) => x.digest === r.digest)) refs.push(r);
  }
  const index = await ownFallbackIndex(client, from, digest, verified);
  const out: ReferrersMoved = { digests: refs.map((r) => r.digest), fallbackTag: !!index, writes: [] };
  if (!refs.length && !index) return out;
  if (to) {
    if (index) {
      // The index carries every referrer: copying it copies them (children by digest first).
      await client.copyImage(from, index, to, referrersTag(digest));
      out.writes.push({ repository: to, digest: index, tag: referrersTag(digest) });
    }
    for (const r of refs) {
      await client.copyImage(from, r.digest, to, r.digest);
      out.writes.push({ repository: to, digest: r.digest });
    }
  }
  for (const r of refs) await deleteIfPresent(client, from, r.digest);
  if (index) await deleteIfPresent(client, from, index);
  return out;
}

/** Deletes a manifest by digest; one already gone is fine. */
export async function deleteIfPresent(client: RegistryClient, repo: string, digest: Digest): Promise<boolean> {
  try {
    await client.deleteManifest(repo, digest);
    return true;
  } catch (e) {
    if (isPushgateError(e, 'NOT_FOUND')) return false;
    throw e;
  }
}

/** ` and its 2 referrers (fallback tag sha256-…)`, or '' when there were none. */
export function describeReferrers(m: ReferrersMoved, verb: string): string {
  if (!m.digests.length && !m.fallbackTag) return '';
  const n = m.digests.length;
  return `; ${verb} ${n} referrer${n === 1 ? '' : 's'} (signatures, SBOMs)${m.fallbackTag ? ' and the fallback referrers tag' : ''}`;
}
