/**
 * Reads the signatures of an image from its registry, in both layouts cosign writes:
 * - legacy: the manifest tagged `sha256-<hex>.sig` in the image's repository, one simple-signing layer
 *   per signature (src/trust/cosign-legacy.ts);
 * - cosign v3: referrers of the image (OCI 1.1 referrers API, or the `sha256-<hex>` fallback index on
 *   registries without it, such as Distribution 2.8/3.x) of artifact type
 *   `application/vnd.dev.sigstore.bundle.v0.3+json`, whose layer is the bundle.
 * Every blob is fetched by digest and its size and digest verified while streaming; a referrer whose
 * `subject` is not the image is ignored (the fallback index is writable by anyone who can push).
 */
import { readAll } from '../registry/auth/authenticator.js';
import { isRegistryError, parseManifest, type RegistryClient } from '../registry/index.js';
import type { Descriptor, Digest, ImageManifest } from '../core/index.js';
import { CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, REKOR_BUNDLE_ANNOTATION, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, signatureTag } from './cosign-legacy.js';
import { BUNDLE_MEDIA_TYPE_V03 } from './sigstore-verify.js';
import type { FoundSignature } from './types.js';

/** Largest payload or bundle read (cosign's are a few KiB; Rekor bundles with chains ~10 KiB). */
export const MAX_SIGNATURE_BLOB_BYTES = 256 * 1024;
/** Most signatures read per image and layout: a registry cannot make a check do unbounded work. */
export const MAX_SIGNATURES = 32;

/** The signatures found, and what could not be read (each a sentence). */
export interface CollectedSignatures {
  found: FoundSignature[];
  problems: string[];
}

async function blob(client: RegistryClient, repo: string, d: Descriptor): Promise<Buffer> {
  if (d.size > MAX_SIGNATURE_BLOB_BYTES) throw new Error(`layer ${d.digest} is ${d.size} bytes (limit ${MAX_SIGNATURE_BLOB_BYTES})`);
  return readAll(await client.getBlob(repo, d.digest, { verify: true, size: d.size }), MAX_SIGNATURE_BLOB_BYTES);
}

function text(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The image manifest a cosign legacy tag (`sha256-<hex>.sig`, `.att`) names, parsed as the registry serves it.
 * @param what how its problems name it ("signature manifest").
 * @returns its digest and the manifest; undefined when the tag does not exist, or when the manifest is unreadable or an index (then the
 *   reason is pushed onto `problems`).
 * @throws RegistryError for any other registry failure (a registry that cannot be read decides nothing).
 */
export async function legacyTagManifest(client: RegistryClient, repo: string, tag: string, what: string, problems: string[]): Promise<{ digest: Digest; manifest: ImageManifest } | undefined> {
  let m;
  try {
    m = await client.getManifest(repo, tag);
  } catch (e) {
    if (isRegistryError(e) && e.status === 404) return undefined;
    throw e;
  }
  let parsed;
  try {
    parsed = parseManifest(m.bytes, m.mediaType);
  } catch (e) {
    problems.push(`${tag}: ${text(e)}`);
    return undefined;
  }
  if (parsed.kind !== 'manifest') {
    problems.push(`${tag} is an index, not ${what}`);
    return undefined;
  }
  return { digest: m.digest, manifest: parsed.manifest };
}

async function legacy(client: RegistryClient, repo: string, digest: Digest, out: CollectedSignatures): Promise<void> {
  const tag = signatureTag(digest);
  const manifest = (await legacyTagManifest(client, repo, tag, 'a signature manifest', out.problems))?.manifest;
  if (!manifest) return;
  const layers = manifest.layers.filter((l) => l.mediaType === SIMPLE_SIGNING_MEDIA_TYPE).slice(0, MAX_SIGNATURES);
  for (const [i, l] of layers.entries()) {
    const a = l.annotations ?? {};
    try {
      out.found.push({
        layout: 'cosign-sig-tag',
        source: `${tag} layer ${i}`,
        payload: await blob(client, repo, l),
        signature: a[SIGNATURE_ANNOTATION],
        ...(a[CERTIFICATE_ANNOTATION] ? { certificate: a[CERTIFICATE_ANNOTATION] } : {}),
        ...(a[CHAIN_ANNOTATION] ? { chain: a[CHAIN_ANNOTATION] } : {}),
        ...(a[REKOR_BUNDLE_ANNOTATION] ? { rekorBundle: a[REKOR_BUNDLE_ANNOTATION] } : {}),
      });
    } catch (e) {
      out.problems.push(`${tag} layer ${i}: ${text(e)}`);
    }
  }
}

async function bundles(client: RegistryClient, repo: string, digest: Digest, out: CollectedSignatures): Promise<void> {
  const refs = (await client.referrers(repo, digest, BUNDLE_MEDIA_TYPE_V03)).slice(0, MAX_SIGNATURES);
  for (const r of refs) {
    try {
      const m = await client.getManifest(repo, r.digest);
      const parsed = parseManifest(m.bytes, m.mediaType);
      if (parsed.kind !== 'manifest') continue;
      if (parsed.manifest.subject?.digest !== digest) {
        out.problems.push(`referrer ${r.digest} is listed for ${digest} but its subject is ${parsed.manifest.subject?.digest ?? 'missing'}: ignored`);
        continue;
      }
      const layer = parsed.manifest.layers.find((l) => l.mediaType === BUNDLE_MEDIA_TYPE_V03);
      if (!layer) continue;
      out.found.push({ layout: 'sigstore-bundle-referrer', source: `referrer ${r.digest}`, bundle: await blob(client, repo, layer) });
    } catch (e) {
      out.problems.push(`referrer ${r.digest}: ${text(e)}`);
    }
  }
}

/**
 * Every signature of `repo@digest` in both layouts.
 * @throws RegistryError when the registry cannot be asked (network, auth, 5xx): the caller fails closed.
 */
export async function collectSignatures(client: RegistryClient, repo: string, digest: Digest): Promise<CollectedSignatures> {
  const out: CollectedSignatures = { found: [], problems: [] };
  await Promise.all([legacy(client, repo, digest, out), bundles(client, repo, digest, out)]);
  return out;
}
