/**
 * Referrers (signatures, SBOMs, attestations: manifests whose `subject` is the image) follow the
 * image they describe. Distribution has no referrers API, so clients keep the fallback tag
 * `sha256-<hex>` (an index of the referrers; distribution-spec "Referrers Tag Schema",
 * protocols.md §4.7); registries with the API index referrers by their `subject` themselves.
 */
import { isPushgateError, type Descriptor, type Digest } from '../../core/index.js';
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

async function fallbackIndex(client: RegistryClient, repo: string, digest: Digest): Promise<Digest | undefined> {
  const r = await client.resolve(repo, referrersTag(digest)).catch((e: unknown) => {
    if (isPushgateError(e, 'NOT_FOUND') || isPushgateError(e, 'UNSUPPORTED')) return undefined;
    throw e;
  });
  return r?.digest;
}

/**
 * Copies the referrers of `from@digest` to `to` (when `to` is given) and then deletes them from
 * `from`: each referrer manifest by digest (with its blobs, by mount), and the fallback tag index
 * under the same tag. Referrers of referrers are not followed.
 * @throws RegistryError from the registry (a failure leaves the originals in place).
 */
export async function moveReferrers(client: RegistryClient, from: string, digest: Digest, to: string | undefined): Promise<ReferrersMoved> {
  const refs: Descriptor[] = await client.referrers(from, digest);
  const index = await fallbackIndex(client, from, digest);
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
