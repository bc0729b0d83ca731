/**
 * Signatures made in cosign's published formats, for tests: the legacy simple-signing layer (cosign
 * `sign --key`, payload from src/trust/simple-signing.ts, ECDSA P-256 SHA-256 ASN.1 signature) and the
 * cosign v3 bundle (DSSE envelope of an in-toto Statement v1 with predicate
 * `https://sigstore.dev/cosign/sign/v1`, bundle v0.3 with a public-key hint, no log entry, as
 * `cosign sign --new-bundle-format --tlog-upload=false` writes it), plus pushing both to a registry.
 */
import crypto from 'node:crypto';
import { simpleSigningPayload } from '../../src/trust/simple-signing.js';
import type { FoundSignature } from '../../src/trust/types.js';

/** A public key as the PEM (SPKI) a policy's authority `key` holds. */
export function publicKeyPem(k: crypto.KeyObject): string {
  return String(k.export({ type: 'spki', format: 'pem' }));
}

/** `s` with every line indented by `n` spaces: a PEM block under a YAML `key: |`. */
export function indentBlock(s: string, n: number): string {
  return s.trim().split('\n').map((l) => `${' '.repeat(n)}${l}`).join('\n');
}

/**
 * A policy's `spec.vex` block (two-space indented under `spec:`) trusting each named public key as a
 * VEX authority.
 */
export function vexAuthoritiesYaml(authorities: Array<{ name: string; key: crypto.KeyObject }>): string {
  return ['  vex:', '    authorities:', ...authorities.map((a) => `      - name: ${a.name}\n        key: |\n${indentBlock(publicKeyPem(a.key), 10)}`)].join('\n');
}

export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/** A legacy signature of `digest` as `reference`, signed with `key`. */
export function signLegacy(key: crypto.KeyObject, reference: string, digest: string, payload = simpleSigningPayload(reference, digest as `sha256:${string}`)): FoundSignature {
  return { layout: 'cosign-sig-tag', source: 'test', payload, signature: crypto.sign('sha256', payload, key).toString('base64') };
}

/** DSSE pre-authentication encoding (DSSE v1 protocol). */
export function pae(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${body.length} `), body]);
}

/** A cosign v3 bundle signing `digest` with `key` (bytes as cosign stores them in the referrer's layer). */
export function dsseBundle(key: crypto.KeyObject, digest: string, predicateType = COSIGN_SIGN_PREDICATE, predicate: unknown = {}): Buffer {
  const [alg, hex] = digest.split(':');
  const stmt = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ digest: { [alg]: hex }, annotations: {} }], predicateType, predicate }));
  const pub = crypto.createPublicKey(key).export({ type: 'spki', format: 'der' });
  const sig = crypto.sign('sha256', pae('application/vnd.in-toto+json', stmt), key);
  return Buffer.from(
    JSON.stringify({
      mediaType: BUNDLE_MEDIA_TYPE,
      verificationMaterial: { publicKey: { hint: crypto.createHash('sha256').update(pub).digest('base64') } },
      dsseEnvelope: { payload: stmt.toString('base64'), payloadType: 'application/vnd.in-toto+json', signatures: [{ sig: sig.toString('base64') }] },
    }),
  );
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const sha = (b: Buffer) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;

/** A manifest to push and the blobs it names. */
export interface Pushable {
  bytes: Buffer;
  mediaType: string;
  digest: string;
  blobs: Buffer[];
}

/**
 * The `sha256-<hex>.sig` manifest cosign writes for legacy signatures: an image config whose rootfs
 * lists the payload layers, one `application/vnd.dev.cosign.simplesigning.v1+json` layer per signature
 * with its annotations (cosign `pkg/oci/static`, `pkg/oci/mutate`).
 */
export function legacySignatureManifest(sigs: FoundSignature[]): Pushable {
  const payloads = sigs.map((s) => s.payload!);
  const config = Buffer.from(JSON.stringify({ architecture: '', created: '0001-01-01T00:00:00Z', history: payloads.map(() => ({ created: '0001-01-01T00:00:00Z' })), os: '', rootfs: { type: 'layers', diff_ids: payloads.map(sha) }, config: {} }));
  const layers = sigs.map((s) => ({
    mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
    size: s.payload!.length,
    digest: sha(s.payload!),
    annotations: {
      'dev.cosignproject.cosign/signature': s.signature ?? '',
      ...(s.certificate ? { 'dev.sigstore.cosign/certificate': s.certificate } : {}),
      ...(s.chain ? { 'dev.sigstore.cosign/chain': s.chain } : {}),
      ...(s.rekorBundle ? { 'dev.sigstore.cosign/bundle': s.rekorBundle } : {}),
    },
  }));
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: config.length, digest: sha(config) }, layers }));
  return { bytes, mediaType: OCI_MANIFEST, digest: sha(bytes), blobs: [config, ...payloads] };
}

/**
 * The referrer cosign v3 attaches for a bundle (artifact type = bundle media type, empty config, one
 * bundle layer, `subject` = the image), and the referrers fallback index (`sha256-<hex>` tag) that
 * lists it on a registry without the referrers API.
 */
export function bundleReferrer(bundle: Buffer, subject: { digest: string; size: number; mediaType: string }): { referrer: Pushable; fallbackIndex: Pushable } {
  const empty = Buffer.from('{}');
  const annotations = { 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': COSIGN_SIGN_PREDICATE };
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: BUNDLE_MEDIA_TYPE,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', size: 2, digest: sha(empty) },
      layers: [{ mediaType: BUNDLE_MEDIA_TYPE, size: bundle.length, digest: sha(bundle) }],
      subject,
      annotations,
    }),
  );
  const referrer = { bytes, mediaType: OCI_MANIFEST, digest: sha(bytes), blobs: [empty, bundle] };
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, size: bytes.length, digest: referrer.digest, artifactType: BUNDLE_MEDIA_TYPE, annotations }] }));
  return { referrer, fallbackIndex: { bytes: index, mediaType: OCI_INDEX, digest: sha(index), blobs: [] } };
}

/** DSSE media type of cosign's `.att` layers. */
export const DSSE_ENVELOPE_MEDIA_TYPE = 'application/vnd.dsse.envelope.v1+json';

/**
 * A DSSE envelope as `cosign attest --key` writes it into a `.att` layer: an in-toto Statement v0.1 of
 * `predicateType` about `digest` (named `name`), signed over the DSSE PAE with `key` (cosign
 * `pkg/cosign/attestation` GenerateStatement, whose tests pin the JSON as
 * `{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"name":…,"digest":{"sha256":…}}],"predicateType":"https://openvex.dev/ns","predicate":…}`;
 * `dsse.WrapSigner`).
 */
export function attestationEnvelope(key: crypto.KeyObject, name: string, digest: string, predicateType: string, predicate: unknown): Buffer {
  const [alg, hex] = digest.split(':');
  const stmt = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', subject: [{ name, digest: { [alg]: hex } }], predicateType, predicate }));
  const sig = crypto.sign('sha256', pae('application/vnd.in-toto+json', stmt), key);
  return Buffer.from(JSON.stringify({ payloadType: 'application/vnd.in-toto+json', payload: stmt.toString('base64'), signatures: [{ keyid: '', sig: sig.toString('base64') }] }));
}

/**
 * The `sha256-<hex>.att` manifest cosign writes for legacy attestations: like the `.sig` manifest, one
 * `application/vnd.dsse.envelope.v1+json` layer per attestation, with an empty signature annotation
 * and the `predicateType` annotation (cosign `pkg/oci/static` with `static.WithLayerMediaType`).
 */
export function attestationManifest(envelopes: Buffer[], predicateType: string): Pushable {
  const config = Buffer.from(JSON.stringify({ architecture: '', created: '0001-01-01T00:00:00Z', history: envelopes.map(() => ({ created: '0001-01-01T00:00:00Z' })), os: '', rootfs: { type: 'layers', diff_ids: envelopes.map(sha) }, config: {} }));
  const layers = envelopes.map((e) => ({ mediaType: DSSE_ENVELOPE_MEDIA_TYPE, size: e.length, digest: sha(e), annotations: { 'dev.cosignproject.cosign/signature': '', predicateType } }));
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: config.length, digest: sha(config) }, layers }));
  return { bytes, mediaType: OCI_MANIFEST, digest: sha(bytes), blobs: [config, ...envelopes] };
}

/**
 * A plain VEX document attached as an OCI 1.1 referrer (as `oras attach --artifact-type
 * application/vnd.openvex+json` writes it: empty config, one layer, `subject` = the image), and the
 * referrers fallback index listing it.
 */
export function vexReferrer(doc: Buffer, subject: { digest: string; size: number; mediaType: string }, artifactType = 'application/vnd.openvex+json'): { referrer: Pushable; fallbackIndex: Pushable } {
  const empty = Buffer.from('{}');
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType, config: { mediaType: 'application/vnd.oci.empty.v1+json', size: 2, digest: sha(empty) }, layers: [{ mediaType: artifactType, size: doc.length, digest: sha(doc) }], subject }));
  const referrer = { bytes, mediaType: OCI_MANIFEST, digest: sha(bytes), blobs: [empty, doc] };
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, size: bytes.length, digest: referrer.digest, artifactType }] }));
  return { referrer, fallbackIndex: { bytes: index, mediaType: OCI_INDEX, digest: sha(index), blobs: [] } };
}
