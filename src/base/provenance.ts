/**
 * BuildKit provenance attestations of an index (docs.docker.com/build/metadata/attestations/attestation-storage):
 * an attestation manifest is an index entry annotated `vnd.docker.reference.type: attestation-manifest` whose
 * `vnd.docker.reference.digest` names the image manifest it describes; its layers are in-toto statements, the
 * provenance one annotated `in-toto.io/predicate-type: https://slsa.dev/provenance/v0.2` (or v1). The
 * materials name the images the build pulled (`pkg:docker/…` with digests): detection evidence, checked against
 * the layers by src/base/detect.ts.
 */
import { parseManifestDocument, type Digest } from '../core/index.js';
import { provenanceMaterials, type ProvenanceMaterial } from './detect.js';

/** Reads content by digest; the implementation verifies size and digest and bounds the size. */
export interface AttestationFetcher {
  manifest(digest: Digest): Promise<Buffer>;
  blob(digest: Digest, size: number): Promise<Buffer>;
}

/** Largest provenance statement read, bytes (BuildKit's are a few KiB; mode=max with a large context tens of KiB). */
export const MAX_STATEMENT_BYTES = 4 << 20;

/**
 * The provenance materials per image manifest digest of the index `indexBytes`. Unreadable attestations are
 * skipped (the image then has no provenance evidence); never throws for bad content.
 */
export async function indexProvenance(indexBytes: Buffer, fetch: AttestationFetcher): Promise<Map<string, ProvenanceMaterial[]>> {
  const out = new Map<string, ProvenanceMaterial[]>();
  let doc;
  try {
    doc = parseManifestDocument(indexBytes);
  } catch {
    return out;
  }
  if (doc.kind !== 'index') return out;
  for (const d of doc.index.manifests) {
    const subject = d.annotations?.['vnd.docker.reference.digest'];
    if (d.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest' || !subject) continue;
    try {
      const m = parseManifestDocument(await fetch.manifest(d.digest));
      if (m.kind !== 'manifest') continue;
      for (const l of m.manifest.layers ?? []) {
        if (!(l.annotations?.['in-toto.io/predicate-type'] ?? '').startsWith('https://slsa.dev/provenance/')) continue;
        if (l.size > MAX_STATEMENT_BYTES) continue;
        const mats = provenanceMaterials(JSON.parse((await fetch.blob(l.digest, l.size)).toString('utf8')));
        if (mats.length) out.set(subject, [...(out.get(subject) ?? []), ...mats]);
      }
    } catch {
      continue;
    }
  }
  return out;
}
