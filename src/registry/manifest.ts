/**
 * Reading manifest bytes fetched from a registry: media type detection (Content-Type, else the
 * body's `mediaType`, else the shape), schema 1 refusal, and structural validation into the core
 * {@link ImageManifest} / {@link ImageIndex} shapes (OCI image-spec v1.1 manifest.md, image-index.md;
 * Docker manifest-v2-2.md). Artifact manifests (`artifactType`, `subject`) are image manifests.
 */
import { PushgateError } from '../core/errors.js';
import { isDigest } from '../core/digest.js';
import { MediaTypes, isIndexMediaType, type Descriptor, type ImageIndex, type ImageManifest } from '../core/manifest.js';

/** Media types of Docker schema 1, which pushgate refuses. */
export const SCHEMA1_MEDIA_TYPES: readonly string[] = [MediaTypes.dockerSchema1, MediaTypes.dockerSchema1Signed];

/** The OCI empty descriptor's media type (image-spec manifest.md "Guidance for an Empty Descriptor"). */
export const OCI_EMPTY_MEDIA_TYPE = 'application/vnd.oci.empty.v1+json';

/** A Content-Type without parameters, lower case. */
export function bareMediaType(ct: string | undefined): string {
  return (ct ?? '').split(';')[0].trim().toLowerCase();
}

/** A parsed manifest or index. */
export type ParsedManifest = { kind: 'manifest'; mediaType: string; manifest: ImageManifest } | { kind: 'index'; mediaType: string; index: ImageIndex };

function checkDescriptor(d: unknown, where: string): Descriptor {
  const o = d as Record<string, unknown>;
  if (!o || typeof o !== 'object') throw new PushgateError('UNSUPPORTED', `${where} is not a descriptor object`);
  if (typeof o.mediaType !== 'string' || !o.mediaType) throw new PushgateError('UNSUPPORTED', `${where}.mediaType is missing`);
  if (typeof o.digest !== 'string' || !isDigest(o.digest)) throw new PushgateError('UNSUPPORTED', `${where}.digest "${String(o.digest)}" is not a sha256/sha512 digest`);
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) throw new PushgateError('UNSUPPORTED', `${where}.size is not a non-negative integer`);
  return o as unknown as Descriptor;
}

/**
 * The media type of manifest bytes: the response Content-Type unless it is generic, else the
 * body's `mediaType`, else inferred (`manifests` → OCI index, `config`+`layers` → OCI manifest).
 * Schema 1 (`schemaVersion: 1`) is reported as the Docker schema 1 type.
 */
export function detectManifestMediaType(bytes: Buffer, contentType?: string): string {
  const ct = bareMediaType(contentType);
  let body: Record<string, unknown> | undefined;
  try {
    body = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    body = undefined;
  }
  if (body?.schemaVersion === 1) return ct === MediaTypes.dockerSchema1Signed ? ct : MediaTypes.dockerSchema1;
  if (ct && ct !== 'application/json' && ct !== 'text/plain' && ct !== 'application/octet-stream') return ct;
  if (body && typeof body.mediaType === 'string' && body.mediaType) return body.mediaType;
  if (body && Array.isArray(body.manifests)) return MediaTypes.ociIndex;
  if (body && body.config && Array.isArray(body.layers)) return MediaTypes.ociManifest;
  return ct || 'application/octet-stream';
}

/** True for Docker schema 1 media types. */
export function isSchema1(mediaType: string): boolean {
  return mediaType === MediaTypes.dockerSchema1 || mediaType === MediaTypes.dockerSchema1Signed;
}

/**
 * Parses and validates manifest bytes.
 * @throws PushgateError UNSUPPORTED for schema 1, a media type that is neither a manifest nor an
 *   index, a body whose `mediaType` disagrees with the Content-Type, or a malformed document.
 */
export function parseManifest(bytes: Buffer, mediaType: string): ParsedManifest {
  if (isSchema1(mediaType)) {
    throw new PushgateError('UNSUPPORTED', 'Docker schema 1 manifests are not supported: push the image again with a current client (schema 2 or OCI)');
  }
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new PushgateError('UNSUPPORTED', `manifest is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!j || typeof j !== 'object' || Array.isArray(j)) throw new PushgateError('UNSUPPORTED', 'manifest is not a JSON object');
  if (j.schemaVersion === 1) throw new PushgateError('UNSUPPORTED', 'Docker schema 1 manifests are not supported: push the image again with a current client (schema 2 or OCI)');
  if (j.schemaVersion !== 2) throw new PushgateError('UNSUPPORTED', `manifest schemaVersion ${String(j.schemaVersion)} is not 2`);
  if (typeof j.mediaType === 'string' && j.mediaType && j.mediaType !== mediaType) {
    throw new PushgateError('UNSUPPORTED', `manifest mediaType "${j.mediaType}" differs from its Content-Type "${mediaType}"`);
  }
  if (j.subject !== undefined) checkDescriptor(j.subject, 'subject');
  if (isIndexMediaType(mediaType) || (Array.isArray(j.manifests) && !j.config)) {
    if (!Array.isArray(j.manifests)) throw new PushgateError('UNSUPPORTED', 'index has no "manifests" array');
    j.manifests.forEach((d, i) => checkDescriptor(d, `manifests[${i}]`));
    return { kind: 'index', mediaType, index: j as unknown as ImageIndex };
  }
  if (!j.config) throw new PushgateError('UNSUPPORTED', `media type "${mediaType}" is neither an image manifest nor an index`);
  checkDescriptor(j.config, 'config');
  if (!Array.isArray(j.layers)) throw new PushgateError('UNSUPPORTED', 'manifest has no "layers" array');
  j.layers.forEach((d, i) => checkDescriptor(d, `layers[${i}]`));
  return { kind: 'manifest', mediaType, manifest: j as unknown as ImageManifest };
}

/** Config media types of runnable container images. */
const IMAGE_CONFIG_TYPES = new Set<string>([MediaTypes.ociConfig, MediaTypes.dockerConfig]);

/**
 * The artifact type of a manifest that is not a runnable image (a signature, SBOM, attestation,
 * Helm chart, …), or undefined for a container image. Per image-spec manifest.md: `artifactType`
 * when set, else the config media type when it is not an image config. Such artefacts are recorded
 * and passed, never scanned or blocked (issue 6).
 */
export function nonImageArtifactType(p: ParsedManifest): string | undefined {
  if (p.kind === 'index') return p.index.artifactType || undefined;
  const m = p.manifest;
  if (m.artifactType) return m.artifactType;
  if (!IMAGE_CONFIG_TYPES.has(m.config.mediaType)) return m.config.mediaType;
  return undefined;
}
