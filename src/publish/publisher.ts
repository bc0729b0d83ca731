/**
 * Publishing a verdict's referrers to the image's registry, decided from what the registry holds (never
 * from memory, so a restart or another replica decides the same):
 * 1. read the image's referrers (the referrers API, else the `sha256-<hex>` fallback index);
 * 2. pushgate's entries ({@link PUBLISHER_ANNOTATION}) all carrying the current {@link verdictKey}, one per
 *    published type, and the listed attestation verifies with pushgate's key for this digest and verdict:
 *    nothing to do (annotations are writable by any pusher: alone they would let a forged or relabelled
 *    entry keep a stale "allow" attestation in place of the new verdict);
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
import crypto from 'node:crypto';
import type { Descriptor, Digest } from '../core/index.js';
import { readAll } from '../registry/auth/authenticator.js';
import { isRegistryError, parseManifest, referrersTag, type RegistryClient } from '../registry/index.js';
import { mergeFallbackIndex, OCI_INDEX_MEDIA_TYPE, type IndexJson } from '../registry/referrers.js';
import { namesDigest, parseStatement } from '../trust/in-toto.js';
import { BUNDLE_MEDIA_TYPE_V03, parseBundle, verifyParsedBundle } from '../trust/sigstore-verify.js';
import { ATTESTATION_ARTIFACT_TYPE, PUBLISHED_TYPES, PUBLISHER, PUBLISHER_ANNOTATION, VERDICT_KEY_ANNOTATION, VERDICT_PREDICATE_TYPE, verdictKey, verdictReferrers, verdictStatement, type PublishedVerdict, type ReferrerArtifact } from './documents.js';

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

/** Largest attestation bundle read back (ours are a few KiB). */
const MAX_BUNDLE_BYTES = 1024 * 1024;
/** Predicate fields that must match the verdict for a published attestation to be current (not the times or version). */
const COMPARED = ['decision', 'mode', 'complete', 'policy', 'vulnerabilityDatabase', 'reasons', 'reasonCount'] as const;

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
    // The listing (and a manifest's annotations) is writable by any pusher: "current" only when the
    // listed attestation is one pushgate's key signed for this digest and this verdict.
    if (ReferrerPublisher.current(before, key) && (await this.signedByUs(client, req.repository, req.digest, req.verdict, before))) return { result: 'unchanged' };
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

  /**
   * True when the listed attestation entry carrying our annotations is a referrer of `digest` whose
   * Sigstore bundle verifies with pushgate's key and whose statement names `digest` with the predicate
   * {@link verdictStatement} writes for `verdict` (the fields the verdict key covers). Anything else
   * (a forged entry, a bundle signed by another key, an unreadable manifest) is false: publish again.
   * @throws RegistryError when the registry cannot be read (not 404): the caller retries.
   */
  private async signedByUs(client: RegistryClient, repo: string, digest: Digest, verdict: PublishedVerdict, listed: Descriptor[]): Promise<boolean> {
    const entry = listed.find((d) => isOurs(d) && d.artifactType === ATTESTATION_ARTIFACT_TYPE);
    if (!entry) return false;
    try {
      const m = await client.getManifest(repo, entry.digest);
      const p = parseManifest(m.bytes, m.mediaType);
      if (p.kind !== 'manifest' || p.manifest.subject?.digest !== digest) return false;
      const layer = p.manifest.layers.find((l) => l.mediaType === BUNDLE_MEDIA_TYPE_V03);
      if (!layer || layer.size > MAX_BUNDLE_BYTES) return false;
      const bundle = parseBundle(await readAll(await client.getBlob(repo, layer.digest, { verify: true, size: layer.size }), MAX_BUNDLE_BYTES));
      if (bundle.content.$case !== 'dsseEnvelope') return false;
      const ok = verifyParsedBundle(bundle, { kind: 'key', name: PUBLISHER, publicKey: crypto.createPublicKey(this.o.key) }, undefined);
      if (!('identity' in ok)) return false;
      const st = parseStatement(bundle.content.dsseEnvelope.payload);
      if (st.predicateType !== VERDICT_PREDICATE_TYPE || !namesDigest(st, digest)) return false;
      const want = verdictStatement('', digest, verdict, new Date(0), '').predicate;
      const got = st.predicate as Record<string, unknown> | null;
      return !!got && COMPARED.every((f) => JSON.stringify(got[f]) === JSON.stringify(want[f]));
    } catch (e) {
      if (isRegistryError(e) && e.status !== 404) throw e;
      return false;
    }
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
