/**
 * Manifest bytes fetched from a registry, read by the one reader in src/core/manifest-parse.ts
 * (Go's key matching; ambiguous documents refused with MANIFEST_INVALID). This module keeps the
 * registry-facing names: media type detection from a response, schema 1 refusal.
 */
import { PushgateError } from '../core/errors.js';
import { MediaTypes } from '../core/manifest.js';
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
