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
 * Bounds on the reads of one index's attestations. BuildKit writes one attestation manifest per platform
 * with one provenance statement (an SBOM statement beside it is not read), so the defaults leave room for a
 * 64-platform index while a crafted index (thousands of statement layers, all one 4 MiB blob) costs at most
 * `maxBytes`.
 */
export interface ProvenanceLimits {
  /** Attestation manifests fetched per index. */
  maxManifests: number;
  /** Distinct provenance statements fetched per index (a digest listed again is read once). */
  maxStatements: number;
  /** Total bytes of statements fetched per index (by their descriptor sizes). */
  maxBytes: number;
}

/** Default {@link ProvenanceLimits}: 64 attestation manifests, 128 statements, 16 MiB. */
export const PROVENANCE_LIMITS: Readonly<ProvenanceLimits> = { maxManifests: 64, maxStatements: 128, maxBytes: 16 << 20 };

/** Options of {@link indexProvenance}. */
export interface IndexProvenanceOptions {
  limits?: Partial<ProvenanceLimits>;
  /** Called once, with one sentence, when a bound stopped the reads (the materials read so far are kept). */
  onIncomplete?: (message: string) => void;
}

/**
 * The provenance materials per image manifest digest of the index `indexBytes`. Unreadable attestations are
 * skipped (the image then has no provenance evidence); never throws for bad content. Each statement digest is
 * read once; past a bound of {@link ProvenanceLimits} reading stops and `onIncomplete` says which. Stopping only
 * withholds evidence: detection then falls back to the catalog chain or history (src/base/detect.ts), and a
 * provenance hit must be at least as long as the chain anyway.
 */
export async function indexProvenance(indexBytes: Buffer, fetch: AttestationFetcher, opts: IndexProvenanceOptions = {}): Promise<Map<string, ProvenanceMaterial[]>> {
  const lim = { ...PROVENANCE_LIMITS, ...opts.limits };
  const out = new Map<string, ProvenanceMaterial[]>();
  let doc;
  try {
    doc = parseManifestDocument(indexBytes);
  } catch {
    return out;
  }
  if (doc.kind !== 'index') return out;
  // Materials per statement digest (undefined: unreadable), so a digest listed again costs no read.
  const statements = new Map<string, ProvenanceMaterial[] | undefined>();
  // (subject, statement) pairs already added: a statement listed again adds no copy of its materials.
  const added = new Set<string>();
  let manifests = 0;
  let bytes = 0;
  let stopped: string | undefined;
  const read = async (digest: Digest, size: number): Promise<ProvenanceMaterial[] | undefined> => {
    if (statements.has(digest)) return statements.get(digest);
    if (statements.size >= lim.maxStatements) stopped = `more than ${lim.maxStatements} provenance statements`;
    else if (bytes + size > lim.maxBytes) stopped = `provenance statements beyond ${lim.maxBytes} bytes`;
    if (stopped) return undefined;
    bytes += size;
    statements.set(digest, undefined);
    try {
      const mats = provenanceMaterials(JSON.parse((await fetch.blob(digest, size)).toString('utf8')));
      statements.set(digest, mats);
      return mats;
    } catch {
      return undefined;
    }
  };
  for (const d of doc.index.manifests) {
    if (stopped) break;
    const subject = d.annotations?.['vnd.docker.reference.digest'];
    if (d.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest' || !subject) continue;
    if (manifests >= lim.maxManifests) {
      stopped = `more than ${lim.maxManifests} attestation manifests`;
      break;
    }
    manifests++;
    try {
      const m = parseManifestDocument(await fetch.manifest(d.digest));
      if (m.kind !== 'manifest') continue;
      for (const l of m.manifest.layers ?? []) {
        if (!(l.annotations?.['in-toto.io/predicate-type'] ?? '').startsWith('https://slsa.dev/provenance/')) continue;
        if (l.size > MAX_STATEMENT_BYTES) continue;
        const mats = await read(l.digest, l.size);
        if (stopped) break;
        const key = `${subject} ${l.digest}`;
        if (!mats?.length || added.has(key)) continue;
        added.add(key);
        out.set(subject, [...(out.get(subject) ?? []), ...mats]);
      }
    } catch {
      continue;
    }
  }
  if (stopped) opts.onIncomplete?.(`the index has ${stopped}; the rest of its provenance attestations were not read`);
  return out;
}
