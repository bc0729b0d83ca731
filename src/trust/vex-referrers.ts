/**
 * VEX documents attached to an image in its registry, kept only when a configured authority signed
 * them for exactly this image digest:
 *
 * - cosign attestations with an OpenVEX predicate (`cosign attest --type openvex`, predicate type
 *   {@link OPENVEX_PREDICATE_TYPES}): the legacy `sha256-<hex>.att` manifest whose layers are DSSE
 *   envelopes (src/trust/dsse.ts; key-based: verified with the authority's key over the DSSE PAE), and
 *   cosign v3 Sigstore bundle referrers carrying a DSSE envelope (verified by @sigstore/verify, key or
 *   keyless). The in-toto statement's subject must name the image digest; the predicate is the document.
 * - plain VEX documents stored as OCI 1.1 referrers (artifact type {@link VEX_ARTIFACT_TYPES}): unsigned
 *   by themselves, so they count only when a cosign signature of the referrer manifest itself (legacy
 *   `.sig` tag or bundle referrer of that digest, src/trust/collect.ts) verifies for an authority.
 *
 * Everything else is ignored and said so: an attestation nobody trusted signed, one for another digest,
 * an unsigned VEX referrer. Fetched documents are bounded ({@link MAX_VEX_BLOB_BYTES}, {@link MAX_VEX_REFERRERS}).
 * A registry that cannot be asked throws (the caller decides: the gate judges without referrer VEX).
 */
import { readAll } from '../registry/auth/authenticator.js';
import { isRegistryError, parseManifest, type RegistryClient } from '../registry/index.js';
import type { Descriptor, Digest } from '../core/index.js';
import { checkSignatures } from './check.js';
import { collectSignatures, legacyTagManifest } from './collect.js';
import { CERTIFICATE_ANNOTATION } from './cosign-legacy.js';
import { DSSE_MEDIA_TYPE, IN_TOTO_PAYLOAD_TYPE, parseEnvelope, verifyEnvelope, type DsseEnvelope } from './dsse.js';
import { namesDigest, OPENVEX_PREDICATE_TYPES, parseStatement, subjectDigests, type Statement } from './in-toto.js';
import { BUNDLE_MEDIA_TYPE_V03, parseBundle, verifyParsedBundle } from './sigstore-verify.js';
import type { Authority, TrustRoot } from './types.js';

/** Artifact types of plain VEX referrers (OpenVEX, CycloneDX with `vulnerabilities[].analysis`, CSAF). */
export const VEX_ARTIFACT_TYPES = ['application/vnd.openvex+json', 'application/vnd.cyclonedx+json', 'application/csaf+json'];
/** Largest attestation layer, bundle or VEX document read. */
export const MAX_VEX_BLOB_BYTES = 1024 * 1024;
/** Most referrers (and `.att` layers) read per image. */
export const MAX_VEX_REFERRERS = 32;

/** A VEX document a configured authority signed for the image. */
export interface SignedVexDocument {
  /** The document, JSON text (the predicate of an attestation, the layer of a plain referrer). */
  text: string;
  /** Where it came from: the referrer (or `.att`) manifest digest. */
  referrer: Digest;
  authority: string;
  /** What the authority proved (key name, certificate identity). */
  identity: string;
  layout: 'cosign-att-tag' | 'sigstore-bundle-referrer' | 'signed-vex-referrer';
  /** `referrer <digest> signed by <authority>` (with the `.att` layer index for the legacy layout). */
  source: string;
}

/** What {@link collectVexReferrers} found: documents to apply, and sentences on what it ignored. */
export interface CollectedVex {
  documents: SignedVexDocument[];
  ignored: string[];
}

function text(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function blob(client: RegistryClient, repo: string, d: Descriptor): Promise<Buffer> {
  if (d.size > MAX_VEX_BLOB_BYTES) throw new Error(`layer ${d.digest} is ${d.size} bytes (limit ${MAX_VEX_BLOB_BYTES})`);
  return readAll(await client.getBlob(repo, d.digest, { verify: true, size: d.size }), MAX_VEX_BLOB_BYTES);
}

/** The `sha256-<hex>.att` tag cosign writes attestations of `digest` under. */
export function attestationTag(digest: Digest): string {
  return `${digest.replace(':', '-')}.att`;
}

/**
 * The OpenVEX statement inside an envelope, when it is one about `digest`.
 * @returns the statement, `undefined` for an attestation of another predicate (not VEX: skipped
 *   silently), or a sentence saying why a VEX attestation is refused.
 */
export function vexStatementOf(env: DsseEnvelope, digest: Digest): Statement | undefined | string {
  if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE) return undefined;
  let st: Statement;
  try {
    st = parseStatement(env.payload);
  } catch (e) {
    return text(e);
  }
  if (!OPENVEX_PREDICATE_TYPES.includes(st.predicateType)) return undefined;
  if (!namesDigest(st, digest)) return `a VEX attestation for ${subjectDigests(st)}, not this image (${digest}): ignored`;
  return st;
}

async function legacyAttestations(client: RegistryClient, repo: string, digest: Digest, authorities: Authority[], out: CollectedVex): Promise<void> {
  const tag = attestationTag(digest);
  const m = await legacyTagManifest(client, repo, tag, 'an attestation manifest', out.ignored);
  if (!m) return;
  const layers = m.manifest.layers.filter((l) => l.mediaType === DSSE_MEDIA_TYPE).slice(0, MAX_VEX_REFERRERS);
  for (const [i, l] of layers.entries()) {
    const at = `${tag} layer ${i}`;
    try {
      const env = parseEnvelope(await blob(client, repo, l));
      const st = vexStatementOf(env, digest);
      if (st === undefined) continue;
      if (typeof st === 'string') {
        out.ignored.push(`${at}: ${st}`);
        continue;
      }
      const signer = authorities.find((a) => a.kind === 'key' && verifyEnvelope(env, a.publicKey));
      if (signer) {
        out.documents.push({ text: JSON.stringify(st.predicate), referrer: m.digest, authority: signer.name, identity: `key ${signer.name}`, layout: 'cosign-att-tag', source: `referrer ${m.digest} (${tag} layer ${i}) signed by ${signer.name}` });
        continue;
      }
      const keyless = l.annotations?.[CERTIFICATE_ANNOTATION] ? '; keyless attestations in the legacy layout are not verified: attach them as cosign v3 bundles' : '';
      out.ignored.push(`${at}: VEX attestation not signed by a configured authority (${authorities.map((a) => a.name).join(', ')})${keyless}: ignored`);
    } catch (e) {
      out.ignored.push(`${at}: ${text(e)}`);
    }
  }
}

async function bundleAttestation(client: RegistryClient, repo: string, digest: Digest, ref: Digest, layer: Descriptor, authorities: Authority[], root: TrustRoot | undefined, out: CollectedVex): Promise<void> {
  const bundle = parseBundle(await blob(client, repo, layer));
  if (bundle.content.$case !== 'dsseEnvelope') return;
  const e = bundle.content.dsseEnvelope;
  const st = vexStatementOf({ payloadType: e.payloadType, payload: e.payload, signatures: [] }, digest);
  if (st === undefined) return;
  if (typeof st === 'string') return void out.ignored.push(`referrer ${ref}: ${st}`);
  const why: string[] = [];
  for (const a of authorities) {
    const r = verifyParsedBundle(bundle, a, root);
    if ('identity' in r) {
      out.documents.push({ text: JSON.stringify(st.predicate), referrer: ref, authority: a.name, identity: r.identity, layout: 'sigstore-bundle-referrer', source: `referrer ${ref} signed by ${a.name}` });
      return;
    }
    why.push(`${a.name}: ${r.why}`);
  }
  out.ignored.push(`referrer ${ref}: VEX attestation not signed by a configured authority (${why.join('; ')}): ignored`);
}

async function plainVex(client: RegistryClient, repo: string, ref: Digest, manifest: Buffer, layer: Descriptor | undefined, authorities: Authority[], root: TrustRoot | undefined, out: CollectedVex): Promise<void> {
  if (!layer) return void out.ignored.push(`VEX referrer ${ref} has no layer: ignored`);
  const { found, problems } = await collectSignatures(client, repo, ref);
  const check = checkSignatures({ name: 'vex-referrer', require: 'anyOf', mode: 'enforce', authorities }, found, problems, { digest: ref, manifest }, root);
  const v = check.verified[0];
  if (!check.satisfied || !v) return void out.ignored.push(`unsigned VEX referrer ${ref} ignored: ${found.length ? `${found.length} signature(s), none by a configured authority` : 'no cosign signature of the referrer'}`);
  const doc = await blob(client, repo, layer);
  out.documents.push({ text: doc.toString('utf8'), referrer: ref, authority: v.authority, identity: v.identity, layout: 'signed-vex-referrer', source: `referrer ${ref} signed by ${v.authority}` });
}

async function referrers(client: RegistryClient, repo: string, digest: Digest, authorities: Authority[], root: TrustRoot | undefined, out: CollectedVex): Promise<void> {
  const all = await client.referrers(repo, digest);
  const wanted = all.filter((d) => d.artifactType === BUNDLE_MEDIA_TYPE_V03 || VEX_ARTIFACT_TYPES.includes(d.artifactType ?? '')).slice(0, MAX_VEX_REFERRERS);
  for (const r of wanted) {
    try {
      const m = await client.getManifest(repo, r.digest);
      const parsed = parseManifest(m.bytes, m.mediaType);
      if (parsed.kind !== 'manifest') continue;
      if (parsed.manifest.subject?.digest !== digest) {
        out.ignored.push(`referrer ${r.digest} is listed for ${digest} but its subject is ${parsed.manifest.subject?.digest ?? 'missing'}: ignored`);
        continue;
      }
      // What the manifest says it is, not what the (writable) fallback index lists.
      const type = parsed.manifest.artifactType ?? parsed.manifest.config.mediaType;
      if (type === BUNDLE_MEDIA_TYPE_V03) {
        const layer = parsed.manifest.layers.find((l) => l.mediaType === BUNDLE_MEDIA_TYPE_V03);
        if (layer) await bundleAttestation(client, repo, digest, r.digest, layer, authorities, root, out);
      } else if (VEX_ARTIFACT_TYPES.includes(type)) {
        await plainVex(client, repo, r.digest, m.bytes, parsed.manifest.layers[0], authorities, root, out);
      }
    } catch (e) {
      if (isRegistryError(e) && e.status !== 404) throw e;
      out.ignored.push(`referrer ${r.digest}: ${text(e)}`);
    }
  }
}

/**
 * The VEX documents that `authorities` signed for `repo@digest` (see the module comment).
 * @param root trusted root for keyless authorities (undefined: keyless authorities verify nothing).
 * @throws RegistryError when the registry cannot be asked (network, auth, 5xx).
 */
export async function collectVexReferrers(client: RegistryClient, repo: string, digest: Digest, authorities: Authority[], root: TrustRoot | undefined): Promise<CollectedVex> {
  const out: CollectedVex = { documents: [], ignored: [] };
  if (!authorities.length) return out;
  await legacyAttestations(client, repo, digest, authorities, out);
  await referrers(client, repo, digest, authorities, root, out);
  return out;
}
