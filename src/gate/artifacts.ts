/**
 * Non-image artefacts: signatures (cosign, Notation), SBOMs, attestations (in-toto, buildx
 * attestation manifests), Helm charts and other OCI artifacts stored in a registry. They are
 * recorded and passed, never scanned or blocked (issue 6): their verdict is `allow` with one
 * reason `artifact` naming the artifact type.
 *
 * Detection follows the OCI image-spec v1.1 (manifest.md "Guidelines for Artifact Usage"):
 * `artifactType` when set, else the config media type when it is not an image config
 * ({@link nonImageArtifactType}); and, for the older convention cosign and buildx use (an OCI image
 * config with non-layer blobs), a manifest whose every layer has a media type that is not a
 * filesystem layer is typed by its first layer's media type
 * (e.g. `application/vnd.dev.cosign.simplesigning.v1+json`, `application/vnd.in-toto+json`).
 */
import type { Digest, PolicyMode } from '../core/index.js';
import { nonImageArtifactType, parseManifest } from '../registry/manifest.js';
import type { Judgement } from './judge.js';

/** Name of the reason recorded for a non-image artefact. */
export const ARTIFACT_RULE = 'artifact';

/** Filesystem layer media types (OCI image-spec layer.md, Docker manifest v2 schema 2), without parameters. */
const LAYER_TYPE = /^application\/vnd\.(oci\.image\.layer\.(v1\.tar|nondistributable\.v1\.tar)|docker\.image\.rootfs\.(foreign\.)?diff\.tar)(\+(gzip|zstd))?$|^application\/vnd\.docker\.image\.rootfs\.(foreign\.)?diff\.tar\.gzip$/;

/**
 * The artifact type of manifest bytes that are not a runnable image, or undefined for an image
 * or an index of images (and for bytes that do not parse: the scan reports those).
 * @param bytes the manifest exactly as stored; @param mediaType its media type.
 */
export function artifactTypeOf(bytes: Buffer, mediaType: string): string | undefined {
  let parsed;
  try {
    parsed = parseManifest(bytes, mediaType);
  } catch {
    return undefined;
  }
  const declared = nonImageArtifactType(parsed);
  if (declared) return declared;
  if (parsed.kind !== 'manifest') return undefined;
  const layers = parsed.manifest.layers;
  if (layers.length > 0 && layers.every((l) => !LAYER_TYPE.test(l.mediaType.split(';')[0].trim()))) return layers[0].mediaType;
  return undefined;
}

/** What {@link artifactJudgement} needs: where the manifest lives and how the policy names things. */
export interface ArtifactContext {
  target: string;
  digest: Digest;
  mediaType: string;
  artifactType: string;
  policy: { name: string; revision: string };
  mode: PolicyMode;
  vulndbBuiltAt: string | null;
}

/**
 * The judgement of a non-image artefact: decision `allow`, complete, one `artifact` reason, an
 * empty report (nothing is scanned).
 */
export function artifactJudgement(ctx: ArtifactContext): Judgement {
  const reasons = [{ rule: ARTIFACT_RULE, action: 'allow' as const, message: `not a container image (artifact type ${ctx.artifactType}): recorded and passed, not scanned` }];
  return {
    report: {
      target: ctx.target,
      digest: ctx.digest,
      mediaType: ctx.mediaType,
      packages: [],
      findings: [],
      secrets: [],
      config: [],
      diagnostics: [],
      complete: true,
      verdict: { decision: 'allow', reasons, policy: ctx.policy, complete: true },
      vulndb: { builtAt: ctx.vulndbBuiltAt },
      scannedAt: new Date().toISOString(),
    },
    evaluation: { decision: 'allow', reasons, policy: ctx.policy, mode: ctx.mode },
    children: [],
  };
}
