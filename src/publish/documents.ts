/**
 * What pushgate attaches to a judged image as OCI 1.1 referrers (image-spec v1.1 "Guidelines for Artifact
 * Usage": `artifactType` set, config the empty descriptor `application/vnd.oci.empty.v1+json`, one layer
 * holding the document, `subject` = the image's manifest descriptor):
 * - the SBOM, CycloneDX 1.6 JSON (artifact type `application/vnd.cyclonedx+json`);
 * - the vulnerability report, pushgate's JSON report (DESIGN §3; artifact type
 *   {@link REPORT_ARTIFACT_TYPE}): the full contract with findings, diagnostics and the verdict, which
 *   SARIF would flatten to results without the decision;
 * - the verdict attestation: an in-toto Statement v1 of predicate type {@link VERDICT_PREDICATE_TYPE}
 *   ({@link VerdictPredicate}), DSSE-signed and packaged as a Sigstore bundle v0.3 (artifact type and
 *   layer media type `application/vnd.dev.sigstore.bundle.v0.3+json`, annotations as cosign v3 writes
 *   them), so `cosign verify-attestation --key`, Kyverno and Ratify can check it.
 * Every referrer carries {@link PUBLISHER_ANNOTATION} and {@link VERDICT_KEY_ANNOTATION}: the first marks
 * pushgate's own entries in a shared referrers list, the second says which verdict they describe.
 */
import crypto from 'node:crypto';
import type { Descriptor, Digest, Reason } from '../core/index.js';
import { IN_TOTO_STATEMENT_V1, signStatementBundle, type InTotoStatement } from '../trust/attest.js';
import { BUNDLE_MEDIA_TYPE_V03 } from '../trust/sigstore-verify.js';

/** OCI image manifest media type. */
export const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
/** The empty config blob `{}` and its descriptor (image-spec v1.1 "Guidance for an Empty Descriptor"). */
export const EMPTY_BLOB = Buffer.from('{}');
export const EMPTY_DESCRIPTOR: Descriptor = { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 };
/** Artifact type of the SBOM referrer. */
export const SBOM_ARTIFACT_TYPE = 'application/vnd.cyclonedx+json';
/** Artifact type (and layer media type) of the report referrer. */
export const REPORT_ARTIFACT_TYPE = 'application/vnd.pushgate.report.v1+json';
/** Artifact type of the attestation referrer (cosign v3's). */
export const ATTESTATION_ARTIFACT_TYPE = BUNDLE_MEDIA_TYPE_V03;
/** Predicate type of pushgate's verdict attestation. */
export const VERDICT_PREDICATE_TYPE = 'https://pushgate.dev/attestation/verdict/v1';
/** Manifest annotation marking pushgate's referrers (value {@link PUBLISHER}). */
export const PUBLISHER_ANNOTATION = 'dev.pushgate.published-by';
export const PUBLISHER = 'pushgate';
/** Manifest annotation: the {@link verdictKey} of the verdict a referrer describes. */
export const VERDICT_KEY_ANNOTATION = 'dev.pushgate.verdict-key';
/** The artifact types pushgate publishes, one referrer each. */
export const PUBLISHED_TYPES = [SBOM_ARTIFACT_TYPE, REPORT_ARTIFACT_TYPE, ATTESTATION_ARTIFACT_TYPE] as const;
/** Most reasons written into the attestation (the report has them all). */
export const MAX_PREDICATE_REASONS = 50;

/** The verdict fields published (a stored Verdict has them). */
export interface PublishedVerdict {
  decision: string;
  mode: string;
  complete: boolean;
  reasons: Reason[];
  policy: { name: string; revision: string };
  vulndb: { builtAt: string | null; digest?: string | null };
  evaluatedAt: string;
}

/**
 * The predicate of {@link VERDICT_PREDICATE_TYPE}: what pushgate decided for the subject, under which
 * policy revision and vulnerability database, and when. `reasons` holds the first
 * {@link MAX_PREDICATE_REASONS} (rule, action, message); `reasonCount` all of them.
 */
export interface VerdictPredicate {
  verifier: { id: string; version: string };
  timeVerified: string;
  evaluatedAt: string;
  decision: string;
  mode: string;
  complete: boolean;
  policy: { name: string; revision: string };
  vulnerabilityDatabase: { digest: string | null; builtAt: string | null };
  reasons: Array<{ rule: string; action: string; message: string }>;
  reasonCount: number;
}

/**
 * A stable key of what the referrers say about a verdict: decision, mode, completeness, policy,
 * database and reasons (not the time). Equal keys: the published referrers are current.
 * `sha256:<hex>` of their canonical JSON.
 */
export function verdictKey(digest: Digest, v: PublishedVerdict): string {
  const doc = [1, digest, v.decision, v.mode, v.complete, v.policy.name, v.policy.revision, v.vulndb.digest ?? v.vulndb.builtAt ?? null, v.reasons.map((r) => [r.rule, r.action, r.message])];
  return `sha256:${crypto.createHash('sha256').update(JSON.stringify(doc)).digest('hex')}`;
}

/** The in-toto statement of a verdict: subject `name` (`host[:port]/repository`) at `digest`. */
export function verdictStatement(name: string, digest: Digest, v: PublishedVerdict, at: Date, toolVersion: string): InTotoStatement {
  const [alg, hex] = digest.split(':');
  const predicate: VerdictPredicate = {
    verifier: { id: 'https://pushgate.dev/pushgate', version: toolVersion },
    timeVerified: at.toISOString(),
    evaluatedAt: v.evaluatedAt,
    decision: v.decision,
    mode: v.mode,
    complete: v.complete,
    policy: { name: v.policy.name, revision: v.policy.revision },
    vulnerabilityDatabase: { digest: v.vulndb.digest ?? null, builtAt: v.vulndb.builtAt },
    reasons: v.reasons.slice(0, MAX_PREDICATE_REASONS).map((r) => ({ rule: r.rule, action: r.action, message: r.message })),
    reasonCount: v.reasons.length,
  };
  return { _type: IN_TOTO_STATEMENT_V1, subject: [{ name, digest: { [alg]: hex } }], predicateType: VERDICT_PREDICATE_TYPE, predicate: predicate as unknown as Record<string, unknown> };
}

/** One referrer to push: its manifest bytes and digest, the blobs it names, its descriptor for a referrers list. */
export interface ReferrerArtifact {
  artifactType: string;
  manifest: Buffer;
  digest: Digest;
  blobs: Array<{ digest: Digest; bytes: Buffer }>;
  descriptor: Descriptor;
}

function sha256(b: Buffer): Digest {
  return `sha256:${crypto.createHash('sha256').update(b).digest('hex')}` as Digest;
}

/** A referrer manifest of `subject` holding `content` as its one layer. */
export function referrerArtifact(subject: Descriptor, artifactType: string, layerMediaType: string, content: Buffer, annotations: Record<string, string>): ReferrerArtifact {
  const layer: Descriptor = { mediaType: layerMediaType, digest: sha256(content), size: content.length };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      artifactType,
      config: EMPTY_DESCRIPTOR,
      layers: [layer],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations,
    }),
  );
  const digest = sha256(manifest);
  return {
    artifactType,
    manifest,
    digest,
    blobs: [{ digest: EMPTY_DESCRIPTOR.digest, bytes: EMPTY_BLOB }, { digest: layer.digest, bytes: content }],
    descriptor: { mediaType: OCI_MANIFEST_MEDIA_TYPE, digest, size: manifest.length, artifactType, annotations },
  };
}

/** What {@link verdictReferrers} needs. */
export interface VerdictDocuments {
  /** `host[:port]/repository`: the statement's subject name. */
  name: string;
  subject: Descriptor;
  verdict: PublishedVerdict;
  sbom: Buffer;
  report: Buffer;
  key: crypto.KeyObject;
  at: Date;
  toolVersion: string;
}

/** The three referrers of one verdict: SBOM, report, signed attestation (in {@link PUBLISHED_TYPES} order). */
export function verdictReferrers(d: VerdictDocuments): ReferrerArtifact[] {
  const base = { 'org.opencontainers.image.created': d.at.toISOString(), [PUBLISHER_ANNOTATION]: PUBLISHER, [VERDICT_KEY_ANNOTATION]: verdictKey(d.subject.digest, d.verdict) };
  const bundle = signStatementBundle(verdictStatement(d.name, d.subject.digest, d.verdict, d.at, d.toolVersion), d.key);
  return [
    referrerArtifact(d.subject, SBOM_ARTIFACT_TYPE, SBOM_ARTIFACT_TYPE, d.sbom, base),
    referrerArtifact(d.subject, REPORT_ARTIFACT_TYPE, REPORT_ARTIFACT_TYPE, d.report, base),
    // cosign v3's annotations on an attestation bundle referrer.
    referrerArtifact(d.subject, ATTESTATION_ARTIFACT_TYPE, BUNDLE_MEDIA_TYPE_V03, bundle, { ...base, 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': VERDICT_PREDICATE_TYPE }),
  ];
}
