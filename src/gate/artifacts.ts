/**
 * Non-image artefacts: SBOMs, Helm charts and other OCI artifacts stored in a registry, recorded
 * and passed, never scanned or blocked: their verdict is `allow` with one reason `artifact` naming
 * the artifact type.
 *
 * What is an artefact is decided by content, as a runtime would see it, never by what the pusher
 * declares ({@link nonImageArtifactType}): a manifest whose config is not an image config AND which
 * has no filesystem layer. `artifactType` (on a manifest or an index) decides nothing: runtimes
 * ignore it. Signatures and attestations stored with an image config (cosign, BuildKit) are
 * scanned like images; their data layers hold no files (src/scan/classify.ts). An index is never an
 * artefact: its children are judged.
 */
import type { Digest, PolicyMode } from '../core/index.js';
import { nonImageArtifactType, parseManifest } from '../registry/manifest.js';
import type { Judgement } from './judge.js';

/** Name of the reason recorded for a non-image artefact. */
export const ARTIFACT_RULE = 'artifact';

/**
 * The artifact type of manifest bytes that are not a runnable image, or undefined for an image,
 * an index, or bytes that do not parse (the scan reports those as incomplete).
 * @param bytes the manifest exactly as stored; @param mediaType its media type.
 */
export function artifactTypeOf(bytes: Buffer, mediaType: string): string | undefined {
  try {
    return nonImageArtifactType(parseManifest(bytes, mediaType));
  } catch {
    return undefined;
  }
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
