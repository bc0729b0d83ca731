/**
 * Manifest bytes fetched from a registry, read by the one reader in src/core/manifest-parse.ts
 * (Go's key matching; ambiguous documents refused with MANIFEST_INVALID). This module keeps the
 * registry-facing names: media type detection from a response, schema 1 refusal.
 */
import { isContentDigest } from '../core/digest.js';
import { PushgateError } from '../core/errors.js';
import { goFoldKey, parseJsonTree, type JsonNode } from '../core/go-json.js';
import { MediaTypes, type Descriptor } from '../core/manifest.js';
import { bareMediaType, manifestMediaType, nonImageArtifactType, parseManifestDocument, type ParsedManifest } from '../core/manifest-parse.js';

export { bareMediaType, nonImageArtifactType, type ParsedManifest };

/** Media types of Docker schema 1, which pushgate refuses. */
export const SCHEMA1_MEDIA_TYPES: readonly string[] = [MediaTypes.dockerSchema1, MediaTypes.dockerSchema1Signed];

/** The OCI empty descriptor's media type (image-spec manifest.md "Guidance for an Empty Descriptor"). */
export const OCI_EMPTY_MEDIA_TYPE = 'application/vnd.oci.empty.v1+json';

/**
 * The media type of manifest bytes: the response Content-Type unless it is generic, else the
 * body's `mediaType` (read with Go's key matching), else inferred from the shape. Schema 1 is
 * reported as the Docker schema 1 type.
 */
export function detectManifestMediaType(bytes: Buffer, contentType?: string): string {
  return manifestMediaType(bytes, contentType);
}

/** True for Docker schema 1 media types. */
export function isSchema1(mediaType: string): boolean {
  return mediaType === MediaTypes.dockerSchema1 || mediaType === MediaTypes.dockerSchema1Signed;
}

/**
 * Parses and validates manifest bytes (src/core/manifest-parse.ts parseManifestDocument).
 * @throws PushgateError UNSUPPORTED for schema 1 or a media type that is neither a manifest nor
 *   an index; MANIFEST_INVALID for a document Go's decoder could read differently (colliding or
 *   duplicate keys, wrong types), a body `mediaType` that disagrees with `mediaType`, or a
 *   malformed document.
 */
export function parseManifest(bytes: Buffer, mediaType: string): ParsedManifest {
  if (isSchema1(mediaType)) throw new PushgateError('UNSUPPORTED', 'Docker schema 1 manifests are not supported: push the image again with a current client (schema 2 or OCI)');
  return parseManifestDocument(bytes, mediaType);
}

/**
 * Every descriptor that any reader of `bytes` could follow, for copying a document pushgate
 * refuses to read (a quarantine copy must hold whatever the registry and runtimes would read):
 * the objects under every top-level key that Go's decoder files as `config`, `layers` or
 * `manifests`, each spelling and repetition included. Objects without a valid digest are left out.
 * @returns blobs (config and layers) and child manifests; empty lists for bytes that are not JSON.
 */
export function referencedDescriptors(bytes: Buffer): { blobs: Descriptor[]; manifests: Descriptor[] } {
  const out = { blobs: [] as Descriptor[], manifests: [] as Descriptor[] };
  let root: JsonNode;
  try {
    root = parseJsonTree(bytes.toString('utf8'));
  } catch {
    return out;
  }
  if (root.t !== 'object') return out;
  const asDescriptor = (n: JsonNode): Descriptor | undefined => {
    if (n.t !== 'object') return undefined;
    const get = (f: string) => n.members.filter(([k]) => goFoldKey(k) === goFoldKey(f)).map(([, v]) => v);
    const digest = get('digest').find((v): v is { t: 'string'; v: string } => v.t === 'string' && isContentDigest(v.v));
    if (!digest) return undefined;
    const mt = get('mediaType').find((v): v is { t: 'string'; v: string } => v.t === 'string');
    const size = get('size').find((v): v is { t: 'number'; raw: string } => v.t === 'number');
    return { mediaType: mt?.v ?? '', digest: digest.v, size: size ? Number(size.raw) : -1 };
  };
  for (const [k, v] of root.members) {
    const f = goFoldKey(k);
    const list = f === 'CONFIG' ? [v] : (f === 'LAYERS' || f === 'MANIFESTS') && v.t === 'array' ? v.items : [];
    for (const item of list) {
      const d = asDescriptor(item);
      if (d) (f === 'MANIFESTS' ? out.manifests : out.blobs).push(d);
    }
  }
  return out;
}
