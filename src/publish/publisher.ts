/**
 * Publishing a verdict's referrers to the image's registry, decided from what the registry holds (never
 * from memory, so a restart or another replica decides the same):
 * 1. read the image's referrers (the referrers API, else the `sha256-<hex>` fallback index);
 * 2. pushgate's entries ({@link PUBLISHER_ANNOTATION}) all carrying the current {@link verdictKey}, one per
 *    published type: nothing to do;
 * 3. else push the new referrers (blobs, then manifests by digest), and on a registry without the API
 *    rewrite the fallback index: read it, drop our previous entries, add the new ones, keep every other
 *    tool's entry (cosign's signatures and attestations), re-check that the tag still names what was
 *    read just before the PUT, and read it back after; a change by another writer restarts the merge;
 * 4. delete our previous referrer manifests, each only after reading it and finding a referrer of this
 *    image that carries our annotation (an index entry is writable by anyone who can push: it never
 *    makes pushgate delete an image or another tool's artifact).
 * Limit: Distribution has no conditional PUT, so another writer whose PUT lands between our re-check and
 * our PUT (one round trip) loses its entry; its own read-back (cosign has none) would see it.
 */
import type crypto from 'node:crypto';
import type { Descriptor, Digest } from '../core/index.js';
import { isRegistryError, parseManifest, referrersTag, type RegistryClient } from '../registry/index.js';
import { mergeFallbackIndex, OCI_INDEX_MEDIA_TYPE, type IndexJson } from '../registry/referrers.js';
import { PUBLISHED_TYPES, PUBLISHER, PUBLISHER_ANNOTATION, VERDICT_KEY_ANNOTATION, verdictKey, verdictReferrers, type PublishedVerdict, type ReferrerArtifact } from './documents.js';

/** One publication request: a verdict of `repository@digest` and how to render its documents. */
export interface PublishRequest {
  /** `host[:port]` of the registry, for the statement's subject name. */
  host: string;
  repository: string;
  digest: Digest;
  verdict: PublishedVerdict;
  /** Renders the SBOM (CycloneDX JSON) and the JSON report; called only when something is published. */
  documents(): Promise<{ sbom: Buffer; report: Buffer } | undefined>;
  /** Called before each manifest DELETE (so its registry notification is known as pushgate's own). */
  beforeDelete?(digest: Digest): Promise<void>;
}

/** What a publication did: `published` (new referrers), `unchanged` (current ones found), `gone` (no such image, or no report). */
export type PublishOutcome = { result: 'published'; referrers: Digest[]; removed: Digest[] } | { result: 'unchanged' } | { result: 'gone'; why: string };

/** Options of {@link ReferrerPublisher}. */
export interface PublisherOptions {
  /** pushgate's signing key (ECDSA P-256). Never logged or stored. */
  key: crypto.KeyObject;
  toolVersion: string;
  now?: () => Date;
  /** Merge attempts against concurrent writers of the fallback index (default 4). */
  maxMergeAttempts?: number;
}

const isOurs = (d: Descriptor) => d.annotations?.[PUBLISHER_ANNOTATION] === PUBLISHER;

/** See the module comment. */
export class ReferrerPublisher {
  constructor(private readonly o: PublisherOptions) {}

  /** Whether `listed` (the image's referrers) already holds exactly our current set for `key`. */
  static current(listed: Descriptor[], key: string): boolean {
    const ours = listed.filter(isOurs);
    return ours.length === PUBLISHED_TYPES.length && PUBLISHED_TYPES.every((t) => ours.some((d) => d.artifactType === t && d.annotations?.[VERDICT_KEY_ANNOTATION] === key));
  }

  /**
   * Publishes (or finds current) the referrers of one verdict.
   * @throws RegistryError / Error when the registry refuses or cannot be reached: the caller retries.
   */
  async publish(client: RegistryClient, req: PublishRequest): Promise<PublishOutcome> {
    const subject = await client.resolve(req.repository, req.digest);
    if (!subject) return { result: 'gone', why: `${req.repository}@${req.digest} is not in the registry` };
    const key = verdictKey(req.digest, req.verdict);
    const api = await client.referrersApi(req.repository, req.digest);
    const before = api ?? (await client.fallbackIndex(req.repository, req.digest))?.index.manifests ?? [];
    if (ReferrerPublisher.current(before, key)) return { result: 'unchanged' };
    const docs = await req.documents();
    if (!docs) return { result: 'gone', why: `no stored report of ${req.digest}` };
    const arts = verdictReferrers({
      name: `${req.host}/${req.repository}`,
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      verdict: req.verdict,
      sbom: docs.sbom,
      report: docs.report,
      key: this.o.key,
      at: (this.o.now ?? (() => new Date()))(),
      toolVersion: this.o.toolVersion,
    });
    for (const a of arts) await push(client, req.repository, a);
    const fresh = new Set(arts.map((a) => a.digest as string));
    let old: Descriptor[];
    if (api) {
      old = api.filter((d) => isOurs(d) && !fresh.has(d.digest));
    } else {
      old = await this.mergeFallback(client, req.repository, req.digest, arts);
    }
    const removed: Digest[] = [];
    for (const d of old) if (await this.deleteOurs(client, req.repository, req.digest, d.digest, req.beforeDelete)) removed.push(d.digest);
    return { result: 'published', referrers: arts.map((a) => a.digest), removed };
  }

  /** Rewrites the fallback index with `arts` in place of our previous entries; returns those previous entries. */
  private async mergeFallback(client: RegistryClient, repo: string, digest: Digest, arts: ReferrerArtifact[]): Promise<Descriptor[]> {
    const tag = referrersTag(digest);
    const fresh = new Set(arts.map((a) => a.digest as string));
    const attempts = this.o.maxMergeAttempts ?? 4;
    for (let i = 0; i < attempts; i++) {
      const read = await client.fallbackIndex(repo, digest);
      const old = (read?.index.manifests ?? []).filter((d) => isOurs(d) && !fresh.has(d.digest));
      const merged: IndexJson = mergeFallbackIndex(read?.index, new Set(old.map((d) => d.digest)), arts.map((a) => a.descriptor));
      // The tag must still name what was read: another writer's update in between is merged again.
      const now = await client.resolve(repo, tag);
      if ((now?.digest ?? undefined) !== read?.digest) continue;
      await client.putManifest(repo, tag, Buffer.from(JSON.stringify(merged)), OCI_INDEX_MEDIA_TYPE);
      const back = await client.fallbackIndex(repo, digest);
      const listed = new Set((back?.index.manifests ?? []).map((d) => d.digest as string));
      if ([...fresh].every((d) => listed.has(d))) return old;
    }
    throw new Error(`referrers fallback index ${repo}:${tag} kept changing under concurrent writers (${attempts} attempts); retried later`);
  }

  /** Deletes `ref` when it is a referrer of `digest` published by pushgate; tolerates a registry that cannot delete. */
  private async deleteOurs(client: RegistryClient, repo: string, digest: Digest, ref: Digest, beforeDelete?: (d: Digest) => Promise<void>): Promise<boolean> {
    let m;
    try {
      m = await client.getManifest(repo, ref);
    } catch (e) {
      if (isRegistryError(e) && e.status === 404) return true;
      throw e;
    }
    const p = parseManifest(m.bytes, m.mediaType);
    if (p.kind !== 'manifest' || p.manifest.subject?.digest !== digest || p.manifest.annotations?.[PUBLISHER_ANNOTATION] !== PUBLISHER) return false;
    try {
      await beforeDelete?.(ref);
      await client.deleteManifest(repo, ref);
      return true;
    } catch (e) {
      // Deletes disabled (405 UNSUPPORTED): the manifest stays, unlisted.
      if (isRegistryError(e) && (e.status === 405 || e.status === 404)) return e.status === 404;
      throw e;
    }
  }
}

async function push(client: RegistryClient, repo: string, a: ReferrerArtifact): Promise<void> {
  for (const b of a.blobs) {
    if (!(await client.blobExists(repo, b.digest))) await client.uploadBlob(repo, b.digest, b.bytes.length, b.bytes);
  }
  await client.putManifest(repo, a.digest, a.manifest, 'application/vnd.oci.image.manifest.v1+json');
}
