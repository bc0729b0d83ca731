/**
 * Referrers (signatures, SBOMs, attestations: manifests whose `subject` is the image) follow the
 * image they describe. Distribution has no referrers API, so clients keep the fallback tag
 * `sha256-<hex>` (an index of the referrers; distribution-spec "Referrers Tag Schema",
 * protocols.md §4.7); registries with the API index referrers by their `subject` themselves.
 */
import { isPushgateError, parseManifestDocument, type Descriptor, type Digest } from '../../core/index.js';
import { referrersTag, type RegistryClient } from '../../registry/client.js';
import { removePartialCopy } from './quarantine-lock.js';
import type { OwnWrite } from './types.js';

/** What {@link moveReferrers} did. */
export interface ReferrersMoved {
  /** Digests of the referrer manifests handled. */
  digests: Digest[];
  /** True when the fallback tag index was copied/deleted too. */
  fallbackTag: boolean;
  writes: OwnWrite[];
  /**
   * What was left where it was, and why: the list or a referrer that could not be read, a referrer (or the
   * fallback index) that could not be copied whole (content missing from the repository, over the manifest
   * size limit) or deleted. A referrer is the pusher's content: it never stops the action on the image.
   */
  left: Array<{ digest?: Digest; why: string }>;
}

const why = (e: unknown): string => (e instanceof Error ? e.message : String(e));

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
async function ownFallbackIndex(client: RegistryClient, repo: string, digest: Digest, verified: Map<Digest, boolean>): Promise<{ digest: Digest; entries: Descriptor[] } | undefined> {
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
  return { digest: m.digest, entries: doc.index.manifests };
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
 *
 * Never throws. Referrers, their list and their blobs are written by anyone who can push (on Distribution
 * the list is the `sha256-<hex>` tag): a referrer whose blob the pusher deleted, or a list over the manifest
 * size limit, failed every copy, and the image they describe stayed under its tag for good (the action was
 * retried forever; see threat-model.md "Digest pushes, index children and restores"). Whatever cannot be
 * read, copied whole or deleted is left where it was ({@link ReferrersMoved.left}, named in the action's
 * detail) and the action on the image goes on; a registry that fails for good fails the image's own
 * requests next, and the action is retried as before. A referrer that was not copied is not deleted.
 *
 * Every referrer copied to `to` is listed there: by the source's fallback index when that was copied whole,
 * else by `to`'s fallback index with the copied ones added ({@link listInFallbackIndex}).
 * @param held given when the caller holds the lock of `to` (a quarantine repository, ./quarantine-lock.ts):
 *   then what a copy that failed part-way stored in `to` is removed again while it says the lock is held.
 */
export async function moveReferrers(client: RegistryClient, from: string, digest: Digest, to: string | undefined, held?: () => Promise<boolean>): Promise<ReferrersMoved> {
  const out: ReferrersMoved = { digests: [], fallbackTag: false, writes: [], left: [] };
  const verified = new Map<Digest, boolean>();
  const refs: Descriptor[] = [];
  let listed: Descriptor[] = [];
  try {
    listed = await listedReferrers(client, from, digest);
  } catch (e) {
    out.left.push({ why: `the referrers could not be listed: ${why(e)}` });
  }
  for (const r of listed) {
    if (!verified.has(r.digest)) {
      try {
        verified.set(r.digest, await isReferrerOf(client, from, r.digest, digest));
      } catch (e) {
        verified.set(r.digest, false);
        out.left.push({ digest: r.digest, why: `could not be read: ${why(e)}` });
      }
    }
    if (verified.get(r.digest) && !refs.some((x) => x.digest === r.digest)) refs.push(r);
  }
  let own: { digest: Digest; entries: Descriptor[] } | undefined;
  try {
    own = await ownFallbackIndex(client, from, digest, verified);
  } catch (e) {
    out.left.push({ why: `the fallback tag ${referrersTag(digest)} could not be read: ${why(e)}` });
  }
  const index = own?.digest;
  if (!refs.length && !index) return out;
  const copied = new Set<Digest>();
  if (to) {
    // A copy that fails part-way leaves what it stored in `to` (an index's children by digest) unlisted
    // there: with the lock of `to` held (a quarantine repository), that is removed again (./quarantine-lock.ts).
    const copy = async (d: Digest, ref: string): Promise<void> => {
      const written: Digest[] = [];
      try {
        await client.copyImage(from, d, to, ref, written);
      } catch (e) {
        if (held) {
          const kept = await removePartialCopy(client, to, written, held);
          if (kept.length) out.left.push({ why: `partly copied to ${to} and not removed there (its lock was lost or the delete failed): ${kept.join(', ')}` });
        }
        throw e;
      }
    };
    if (index) {
      // The index carries every referrer: copying it copies them (children by digest first). Unless `to`
      // lists referrers of `digest` already under another index (a release into a repository whose own list
      // stayed, listing referrers that could not be moved): that list is kept and added to (below).
      const there = await client.resolve(to, referrersTag(digest)).catch(() => undefined);
      if (!there || there.digest === index) {
        try {
          await copy(index, referrersTag(digest));
          out.writes.push({ repository: to, digest: index, tag: referrersTag(digest) });
          copied.add(index);
        } catch (e) {
          out.left.push({ digest: index, why: `the fallback tag ${referrersTag(digest)} could not be copied: ${why(e)}` });
        }
      }
    }
    for (const r of refs) {
      try {
        await copy(r.digest, r.digest);
        out.writes.push({ repository: to, digest: r.digest });
        copied.add(r.digest);
      } catch (e) {
        out.left.push({ digest: r.digest, why: `could not be copied: ${why(e)}` });
      }
    }
    // Without the source's fallback index in `to` (it could not be copied whole, it lists more than
    // referrers, or `to` has its own list), the referrers copied there would be listed by nothing: on a
    // registry without the referrers API the `sha256-<hex>` tag is the only way release and retention find
    // them, so they stayed there for good. They are added to `to`'s fallback index (the referrers tag
    // schema's own update: what `to` lists already, and these).
    const moved = refs.filter((r) => copied.has(r.digest));
    if (!(index && copied.has(index)) && moved.length) {
      try {
        const l = await listInFallbackIndex(client, to, digest, moved);
        if (l.write) out.writes.push(l.write);
        if (!l.listed) out.left.push({ why: `${to}:${referrersTag(digest)} is not an index pushgate reads: the referrers copied there are not listed by it` });
        // Every referrer the source's index lists is now copied and listed in `to`: the index may go.
        else if (own && own.entries.every((d) => copied.has(d.digest))) copied.add(own.digest);
      } catch (e) {
        out.left.push({ why: `the copied referrers could not be listed under ${to}:${referrersTag(digest)}: ${why(e)}` });
      }
    }
  }
  const remove = async (d: Digest): Promise<boolean> => {
    if (to && !copied.has(d)) return false;
    try {
      await deleteIfPresent(client, from, d);
      return true;
    } catch (e) {
      out.left.push({ digest: d, why: `could not be deleted: ${why(e)}` });
      return false;
    }
  };
  for (const r of refs) if (await remove(r.digest)) out.digests.push(r.digest);
  if (index) out.fallbackTag = await remove(index);
  return out;
}

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/**
 * Lists `refs` (referrers of `digest` stored in `repo`) in `repo`'s fallback referrers index
 * (`sha256-<hex>`, distribution-spec "Referrers Tag Schema"): an OCI index holding what that tag lists
 * already and each of `refs` not among them. A tag holding something pushgate does not read as an index
 * is not overwritten.
 * @returns `listed`: whether the tag now lists every one of `refs`; `write`: the index written, if one was
 *   (none when all were listed already, or when the tag holds no index).
 * @throws RegistryError when the tag cannot be read or written.
 */
export async function listInFallbackIndex(client: RegistryClient, repo: string, digest: Digest, refs: readonly Descriptor[]): Promise<{ listed: boolean; write?: OwnWrite }> {
  const tag = referrersTag(digest);
  let listed: Descriptor[] = [];
  let current;
  try {
    current = await client.getManifest(repo, tag);
  } catch (e) {
    if (!isPushgateError(e, 'NOT_FOUND')) throw e;
  }
  if (current) {
    let doc;
    try {
      doc = parseManifestDocument(current.bytes, current.mediaType);
    } catch {
      return { listed: false };
    }
    if (doc.kind !== 'index') return { listed: false };
    listed = doc.index.manifests;
  }
  const add = refs.filter((r) => !listed.some((l) => l.digest === r.digest));
  if (!add.length) return { listed: true };
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...listed, ...add] }));
  const put = await client.putManifest(repo, tag, bytes, OCI_INDEX);
  return { listed: true, write: { repository: repo, digest: put, tag } };
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

/** `; deleted 2 referrers (…)` and what was left in place and why, or '' when there were none. */
export function describeReferrers(m: ReferrersMoved, verb: string): string {
  const n = m.digests.length;
  const moved = !n && !m.fallbackTag ? '' : `; ${verb} ${n} referrer${n === 1 ? '' : 's'} (signatures, SBOMs)${m.fallbackTag ? ' and the fallback referrers tag' : ''}`;
  const shown = m.left.slice(0, 5).map((l) => (l.digest ? `${l.digest} ${l.why}` : l.why));
  if (m.left.length > shown.length) shown.push(`and ${m.left.length - shown.length} more`);
  const left = shown.length ? `; left in place (referrers never stop the action): ${shown.join('; ')}` : '';
  return moved + left;
}
