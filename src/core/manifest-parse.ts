/**
 * The one reader of manifests, indexes and image configs, used by every part of pushgate that
 * looks inside one (registry client, scan engine, proxy, gate). Documents are read as the Go
 * programs that store and run them read them (CNCF Distribution; containerd, Docker and CRI-O):
 * keys matched to fields case-insensitively, the last of several winning (src/core/go-json.ts).
 * Where the readers could disagree, the document is refused with PushgateError MANIFEST_INVALID
 * naming the key, never read one way while the registry and the runtime read it another:
 * `layers` next to `Layers`, a duplicated key, a field of the wrong type, a negative size, a
 * document that is both a manifest and an index.
 *
 * Field sets: OCI image-spec v1.1 `specs-go/v1` (Manifest, Index, Descriptor, Platform, Image,
 * ImageConfig, RootFS, History), Docker manifest v2 schema 2 and manifest list, and the Docker
 * image config (moby `image.V1Image`, `container.Config`). Classification by content (what a
 * runtime would unpack) is here too: {@link nonImageArtifactType}, {@link isAttestationManifest}.
 */
import { isContentDigest, isDigest, manifestDigestProblem } from './digest.js';
import { PushgateError } from './errors.js';
import { GoDecodeError, decodeGo, go, parseJsonTree, type GoType, type JsonNode } from './go-json.js';
import { MediaTypes, isIndexMediaType, isManifestMediaType, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest } from './manifest.js';

const PLATFORM = go.struct({
  architecture: go.string, os: go.string, 'os.version': go.string, 'os.features': go.slice(go.string), variant: go.string, features: go.slice(go.string),
});
const ANNOTATIONS = go.map(go.string);
const DESCRIPTOR = go.struct({
  mediaType: go.string, digest: go.string, size: go.int(0), urls: go.slice(go.string), annotations: ANNOTATIONS, data: go.bytes, platform: PLATFORM, artifactType: go.string,
});
/**
 * A manifest and an index in one struct: the document is read once, then its kind is decided
 * (a document with fields of both is refused, as Distribution's validateManifest/validateIndex do).
 */
const DOCUMENT = go.struct({
  schemaVersion: go.int(), mediaType: go.string, artifactType: go.string, config: DESCRIPTOR, layers: go.slice(DESCRIPTOR), manifests: go.slice(DESCRIPTOR), subject: DESCRIPTOR, annotations: ANNOTATIONS,
});
/** The runtime configuration (image-spec ImageConfig; moby container.Config adds fields read as unknown). */
const CONTAINER_CONFIG = go.struct({
  User: go.string, ExposedPorts: go.map(go.struct({})), Env: go.slice(go.string), Entrypoint: go.slice(go.string), Cmd: go.slice(go.string),
  Volumes: go.map(go.struct({})), WorkingDir: go.string, Labels: go.map(go.string), StopSignal: go.string, ArgsEscaped: go.bool,
  Shell: go.slice(go.string), OnBuild: go.slice(go.string),
});
const IMAGE_CONFIG = go.struct({
  created: go.string, author: go.string, architecture: go.string, os: go.string, 'os.version': go.string, 'os.features': go.slice(go.string), variant: go.string,
  config: CONTAINER_CONFIG, container_config: CONTAINER_CONFIG,
  rootfs: go.struct({ type: go.string, diff_ids: go.slice(go.string) }),
  history: go.slice(go.struct({ created: go.string, created_by: go.string, author: go.string, comment: go.string, empty_layer: go.bool })),
});

/** A Content-Type or media type without parameters, trimmed and lower case (as Go's mime.ParseMediaType gives it). */
export function bareMediaType(ct: string | undefined): string {
  return (ct ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Content-Types that say nothing about the document (the body's `mediaType` or shape decides). */
const GENERIC_TYPES = new Set(['', 'application/json', 'text/plain', 'application/octet-stream']);

/** A manifest or index as read by {@link parseManifestDocument}. */
export type ParsedManifest =
  | { kind: 'manifest'; mediaType: string; manifest: ImageManifest }
  | { kind: 'index'; mediaType: string; index: ImageIndex };

function invalid(what: string, e: unknown): PushgateError {
  if (e instanceof GoDecodeError) {
    return new PushgateError('MANIFEST_INVALID', `${what}: ${e.message}`, { cause: e, details: { path: e.path, ...(e.key !== undefined ? { key: e.key } : {}) } });
  }
  return new PushgateError('MANIFEST_INVALID', `${what}: ${(e as Error).message}`, { cause: e });
}

function tree(bytes: Buffer | string, what: string): JsonNode {
  try {
    return parseJsonTree(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (e) {
    throw invalid(what, e);
  }
}

function decode(n: JsonNode, type: GoType, what: string): Record<string, unknown> {
  if (n.t !== 'object') throw new PushgateError('MANIFEST_INVALID', `${what} is not a JSON object`);
  try {
    return decodeGo(n, type) as Record<string, unknown>;
  } catch (e) {
    throw invalid(what, e);
  }
}

/**
 * Checks one descriptor. `names: 'manifest'` (an index's children, a subject) takes only the digest
 * a manifest is judged by (sha256, {@link isDigest}); blobs take sha256 or sha512.
 */
function checkDescriptor(d: unknown, where: string, names: 'blob' | 'manifest' = 'blob'): Descriptor {
  const o = d as Record<string, unknown>;
  const bad = (msg: string) => new PushgateError('MANIFEST_INVALID', `${where}${msg}`, { details: { path: where } });
  if (!o || typeof o !== 'object') throw bad(' is not a descriptor object');
  if (typeof o.mediaType !== 'string' || !o.mediaType) throw bad('.mediaType is missing');
  if (typeof o.digest !== 'string' || !isContentDigest(o.digest)) throw bad(`.digest "${String(o.digest ?? '').slice(0, 200)}" is not a sha256/sha512 digest`);
  if (names === 'manifest' && !isDigest(o.digest)) throw bad(`.digest: ${manifestDigestProblem(o.digest)}`);
  if (typeof o.size !== 'number') throw bad('.size is missing');
  return o as unknown as Descriptor;
}

const SCHEMA1 = 'Docker schema 1 manifests are not supported: push the image again with a current client (schema 2 or OCI)';

/**
 * Reads manifest or index bytes. The media type is `declared` (a response Content-Type, a PUT's
 * Content-Type, an index entry's `mediaType`) unless that is generic, else the body's
 * `mediaType`, else the shape (`manifests` → OCI index, `config` → OCI manifest).
 * @returns the document with every field under its canonical name.
 * @throws PushgateError MANIFEST_INVALID (with `details.path`/`details.key`) for bytes that are not
 *   JSON, keys that collide under Go's case folding, duplicate keys, wrong types, a negative size,
 *   a body `mediaType` other than the declared one, fields of both a manifest and an index, a
 *   missing or malformed config/layers/manifests; UNSUPPORTED for Docker schema 1 and media types
 *   that are neither a manifest nor an index.
 */
export function parseManifestDocument(bytes: Buffer | string, declared?: string): ParsedManifest {
  const n = tree(bytes, 'manifest');
  const j = decode(n, DOCUMENT, 'manifest');
  const ct = bareMediaType(declared);
  if (j.schemaVersion === 1 || ct === MediaTypes.dockerSchema1 || ct === MediaTypes.dockerSchema1Signed) throw new PushgateError('UNSUPPORTED', SCHEMA1);
  if (j.schemaVersion !== 2) throw new PushgateError('MANIFEST_INVALID', `manifest schemaVersion ${String(j.schemaVersion)} is not 2`, { details: { path: 'schemaVersion' } });
  const body = typeof j.mediaType === 'string' && j.mediaType ? j.mediaType : undefined;
  if (body && !GENERIC_TYPES.has(ct) && body !== ct) {
    throw new PushgateError('MANIFEST_INVALID', `manifest mediaType "${body}" differs from its declared type "${ct}"`, { details: { path: 'mediaType' } });
  }
  const hasIndexFields = j.manifests !== undefined;
  const hasManifestFields = j.config !== undefined || j.layers !== undefined;
  if (hasIndexFields && hasManifestFields) {
    throw new PushgateError('MANIFEST_INVALID', 'the document has both "manifests" (an index) and "config"/"layers" (a manifest); registries and runtimes could read it as either: push one or the other', { details: { path: 'manifests' } });
  }
  const mediaType = !GENERIC_TYPES.has(ct) ? ct : body ?? (hasIndexFields ? MediaTypes.ociIndex : j.config !== undefined ? MediaTypes.ociManifest : ct || 'application/octet-stream');
  if (j.subject !== undefined) checkDescriptor(j.subject, 'subject', 'manifest');
  if (isIndexMediaType(mediaType)) {
    if (hasManifestFields) throw new PushgateError('MANIFEST_INVALID', `an index (${mediaType}) must not have "config" or "layers"`, { details: { path: 'config' } });
    if (!Array.isArray(j.manifests)) throw new PushgateError('MANIFEST_INVALID', 'index has no "manifests" array', { details: { path: 'manifests' } });
    j.manifests.forEach((d, i) => checkDescriptor(d, `manifests[${i}]`, 'manifest'));
    return { kind: 'index', mediaType, index: j as unknown as ImageIndex };
  }
  if (!isManifestMediaType(mediaType)) throw new PushgateError('UNSUPPORTED', `media type "${mediaType}" is neither an image manifest nor an index`);
  if (hasIndexFields) throw new PushgateError('MANIFEST_INVALID', `an image manifest (${mediaType}) must not have "manifests"`, { details: { path: 'manifests' } });
  if (j.config === undefined) throw new PushgateError('MANIFEST_INVALID', 'manifest has no "config" descriptor', { details: { path: 'config' } });
  checkDescriptor(j.config, 'config');
  if (!Array.isArray(j.layers)) throw new PushgateError('MANIFEST_INVALID', 'manifest has no "layers" array', { details: { path: 'layers' } });
  j.layers.forEach((d, i) => checkDescriptor(d, `layers[${i}]`));
  return { kind: 'manifest', mediaType, manifest: j as unknown as ImageManifest };
}

/**
 * The media type of manifest bytes as {@link parseManifestDocument} decides it, for callers that
 * need it before (or without) a full parse; bytes that do not parse get the declared type (or
 * `application/octet-stream`), and the parse that follows reports the problem. Schema 1
 * (`schemaVersion: 1`) is reported as the Docker schema 1 type.
 */
export function manifestMediaType(bytes: Buffer | string, declared?: string): string {
  const ct = bareMediaType(declared);
  try {
    return parseManifestDocument(bytes, declared).mediaType;
  } catch (e) {
    if (e instanceof PushgateError && e.code === 'UNSUPPORTED' && e.message === SCHEMA1) return ct === MediaTypes.dockerSchema1Signed ? ct : MediaTypes.dockerSchema1;
    return ct || 'application/octet-stream';
  }
}

/**
 * Reads image config bytes (image-spec config.md; Docker image JSON). Fields pushgate reads are
 * under their canonical names; other keys are kept as written.
 * @throws PushgateError MANIFEST_INVALID naming the key for colliding or duplicate keys and wrong
 *   types (`Env` not an array of strings, `Cmd` as a string, which containerd refuses and Docker
 *   reads as one argument, …).
 */
export function parseImageConfig(bytes: Buffer | string): ImageConfig & Record<string, unknown> {
  return decode(tree(bytes, 'image config'), IMAGE_CONFIG, 'image config') as ImageConfig & Record<string, unknown>;
}

/** One image of a `docker save` archive's manifest.json (moby image/tarexport `manifestItem`). */
export interface DockerSaveItem {
  Config: string;
  RepoTags?: string[];
  Layers: string[];
}

const DOCKER_SAVE = go.slice(go.struct({ Config: go.string, RepoTags: go.slice(go.string), Layers: go.slice(go.string), Parent: go.string, LayerSources: go.map(go.any) }));

/**
 * Reads a `docker save` manifest.json as `docker load` (Go) reads it: `Layers` and `layers` are one
 * field, so a file with both is refused rather than read one way here and another way there.
 * @throws PushgateError MANIFEST_INVALID naming the key, or when it is not an array of images with
 *   a `Config` and `Layers`.
 */
export function parseDockerSaveManifest(bytes: Buffer | string): DockerSaveItem[] {
  const n = tree(bytes, 'manifest.json');
  let list: unknown;
  try {
    list = decodeGo(n, DOCKER_SAVE);
  } catch (e) {
    throw invalid('manifest.json', e);
  }
  if (!Array.isArray(list) || list.some((e: Record<string, unknown>) => typeof e?.Config !== 'string' || !Array.isArray(e.Layers))) {
    throw new PushgateError('MANIFEST_INVALID', 'manifest.json is not a docker save manifest (expected [{"Config": …, "Layers": [...]}])');
  }
  return list as DockerSaveItem[];
}

/** Config media types of runnable container images. */
const IMAGE_CONFIG_TYPES = new Set<string>([MediaTypes.ociConfig, MediaTypes.dockerConfig]);

/** True for an image config media type (OCI or Docker; compared without parameters, case-insensitively). */
export function isImageConfigMediaType(mt: string | undefined): boolean {
  return IMAGE_CONFIG_TYPES.has(bareMediaType(mt));
}

/**
 * True for a media type a runtime may unpack as a filesystem layer: the OCI layer family
 * (`application/vnd.oci.image.layer.*`: tar, +gzip, +zstd, nondistributable, encrypted) and the
 * Docker rootfs family (`application/vnd.docker.image.rootfs.*`). Compared by prefix, without
 * parameters, case-insensitively: containerd's `images.IsLayerType` matches the OCI prefix, Docker
 * lower-cases before it compares.
 */
export function isFilesystemLayerMediaType(mt: string | undefined): boolean {
  const b = bareMediaType(mt);
  return b.startsWith('application/vnd.oci.image.layer.') || b.startsWith('application/vnd.docker.image.rootfs.');
}

/** True for an in-toto attestation layer (`application/vnd.in-toto+json`, BuildKit; `application/vnd.in-toto.<predicate>+json`). */
export function isAttestationLayerMediaType(mt: string | undefined): boolean {
  return /^application\/vnd\.in-toto(\.[a-z0-9.+-]+)?\+json$/.test(bareMediaType(mt));
}

/**
 * Config media types Docker Engine (moby, classic image store) pulls and runs as an image besides
 * the two image config types: `defaultImageTypes` of moby's daemon/internal/distribution
 * (registry.go; "unexpected values" some old registries served), checked exactly on Docker schema 2
 * manifests and, before Engine 25, on OCI manifests too.
 */
const DOCKER_LEGACY_CONFIG_TYPES = new Set(['application/octet-stream', 'application/json', 'text/html', '']);

/**
 * True for a config media type some runtime reads as an image config and runs: an image config
 * type ({@link isImageConfigMediaType}), a Docker legacy type ({@link DOCKER_LEGACY_CONFIG_TYPES}),
 * or, for OCI manifests pulled by Docker Engine 25 and later (moby `checkSupportedMediaType`: the
 * lower-cased type equal to or under `application/vnd.oci.image.` or `application/vnd.docker.`,
 * except `application/vnd.docker.ai.` models), a type under those prefixes. Compared without
 * parameters, case-insensitively: wider than each runtime's own rule, never narrower.
 */
export function runtimeReadsAsImageConfig(mt: string | undefined): boolean {
  const b = bareMediaType(mt);
  if (isImageConfigMediaType(b) || DOCKER_LEGACY_CONFIG_TYPES.has(b)) return true;
  if (b.startsWith('application/vnd.docker.ai.')) return false;
  return b.startsWith('application/vnd.oci.image.') || b.startsWith('application/vnd.docker.');
}

/**
 * The artifact type of a manifest that no runtime would run, or undefined for an image: its config
 * is not one any runtime reads as an image config ({@link runtimeReadsAsImageConfig}: Docker Engine
 * runs a config typed `application/octet-stream` with layers typed the same, sniffing their
 * compression) AND none of its layers is a filesystem layer. `artifactType` alone never makes a
 * manifest an artifact (runtimes ignore it); it only names the type when the content already says
 * "not an image". Indexes are never artifacts: their children are judged.
 */
export function nonImageArtifactType(p: ParsedManifest): string | undefined {
  if (p.kind !== 'manifest') return undefined;
  const m = p.manifest;
  if (runtimeReadsAsImageConfig(m.config.mediaType)) return undefined;
  if (m.layers.some((l) => isFilesystemLayerMediaType(l.mediaType))) return undefined;
  return m.artifactType || m.config.mediaType;
}

/**
 * True for an attestation manifest (BuildKit stores them as index children: a config and layers of
 * in-toto type): at least one layer and every layer an in-toto attestation. Annotations
 * (`vnd.docker.reference.type`) and an `unknown/unknown` platform are what a client says about a
 * child; they decide nothing. The caller still checks the layers' bytes are not archives.
 */
export function isAttestationManifest(m: ImageManifest): boolean {
  return m.layers.length > 0 && m.layers.every((l) => isAttestationLayerMediaType(l.mediaType));
}
