/**
 * Sigstore verification (sigstore-js: @sigstore/bundle, @sigstore/verify) of
 * - Sigstore bundles (`application/vnd.dev.sigstore.bundle.v0.3+json` and earlier), as cosign v3 stores
 *   them as OCI 1.1 referrers of the image: a DSSE envelope of an in-toto Statement whose subject is
 *   the image's manifest digest and whose predicate type is `https://sigstore.dev/cosign/sign/v1`
 *   (an attestation of another predicate type is not a signature), or a message signature over the
 *   manifest bytes;
 * - cosign legacy keyless signatures (`.sig` tag with certificate and Rekor bundle annotations), turned
 *   into the equivalent v0.1 message-signature bundle over the simple-signing payload, so one verifier
 *   checks every keyless signature the same way.
 *
 * Keyless: the certificate must chain to the trusted root's Fulcio CAs, carry an SCT from one of its CT
 * logs, and be valid at a time the transparency log vouches for (inclusion proof or promise verified
 * from the bundle, offline). An expired certificate is fine when the log entry is from its validity
 * window: that is how every Fulcio certificate (10 minutes) is used. Key-based bundles need no log.
 */
import crypto from 'node:crypto';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier, type Signer } from '@sigstore/verify';
import type { FoundSignature, KeyAuthority, KeylessAuthority, SignedImage, TrustRoot } from './types.js';
import { checkClaims } from './cosign-legacy.js';
import { namesDigest, parseStatement, subjectDigests, type Statement } from './in-toto.js';

export const BUNDLE_MEDIA_TYPE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';
/** Predicate type of cosign v3's image signature statement. */
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

const EMPTY_ROOT = TrustedRoot.fromJSON({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] });

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const verifierCache = new WeakMap<object, Verifier>();

function keylessVerifier(root: TrustRoot): Verifier {
  let v = verifierCache.get(root);
  if (!v) {
    // An SCT is required when the root names CT logs (public-good Fulcio); a private Fulcio without a
    // CT log issues certificates without one.
    const ctlogs = isRecord(root.json) && Array.isArray(root.json.ctlogs) ? root.json.ctlogs.length : 0;
    v = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(root.json)), { tlogThreshold: 1, ctlogThreshold: ctlogs > 0 ? 1 : 0, timestampThreshold: 1 });
    verifierCache.set(root, v);
  }
  return v;
}

function keyVerifier(authority: KeyAuthority): Verifier {
  let v = verifierCache.get(authority);
  if (!v) {
    // The authority's key answers every hint: the signature decides, whatever key id the signer wrote.
    const material = toTrustMaterial(EMPTY_ROOT, () => ({ publicKey: authority.publicKey, validFor: () => true }));
    v = new Verifier(material, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
    verifierCache.set(authority, v);
  }
  return v;
}

/** Parses bundle JSON bytes. @throws Error saying what is wrong. */
export function parseBundle(bytes: Buffer): Bundle {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new Error('bundle is not JSON', { cause: e });
  }
  try {
    return bundleFromJSON(json);
  } catch (e) {
    throw new Error(`not a Sigstore bundle: ${errText(e)}`, { cause: e });
  }
}

/**
 * Checks that a bundle is about this image. DSSE: an in-toto Statement (payload type
 * `application/vnd.in-toto+json`) of predicate type {@link COSIGN_SIGN_PREDICATE} with a subject whose
 * digest (sha256/sha512) is the image's manifest digest. Message signature: checked by the verifier
 * against the manifest bytes.
 * @returns undefined when it holds, else why not.
 */
export function checkBundleSubject(bundle: Bundle, image: SignedImage): string | undefined {
  if (bundle.content.$case === 'messageSignature') return image.manifest ? undefined : 'message-signature bundle but the manifest bytes are not known';
  const env = bundle.content.dsseEnvelope;
  if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE) return `DSSE payload type ${env.payloadType} is not an in-toto statement`;
  // Read as cosign's Go readers read it (src/trust/in-toto.ts): a key spelled `SUBJECT` or `predicate_type`
  // beside the JSON name is the same field to them, and JSON.parse would read the other one.
  let st: Statement;
  try {
    st = parseStatement(env.payload);
  } catch (e) {
    return `DSSE payload is not an in-toto Statement pushgate reads: ${errText(e)}`;
  }
  if (st.predicateType !== COSIGN_SIGN_PREDICATE) return `an attestation of ${JSON.stringify(st.predicateType)}, not an image signature (${COSIGN_SIGN_PREDICATE})`;
  if (!namesDigest(st, image.digest)) return `signature is for ${subjectDigests(st)}, not this image (${image.digest})`;
  return undefined;
}

function checkIdentity(signer: Signer, authority: KeylessAuthority): string | undefined {
  const san = signer.identity?.subjectAlternativeName;
  const issuer = signer.identity?.extensions?.issuer;
  if (issuer !== authority.issuer) return `certificate issuer ${JSON.stringify(issuer)} is not ${authority.issuer}`;
  if (san === undefined) return 'certificate has no subject alternative name';
  if (authority.subject !== undefined && san !== authority.subject) return `certificate identity ${san} is not ${authority.subject}`;
  if (authority.subjectRegExp && !authority.subjectRegExp.test(san)) return `certificate identity ${san} does not match ${authority.subjectRegExp.source}`;
  return undefined;
}

/** The identity a signer proved: the certificate's SAN and issuer, or the key's name. */
function identityOf(signer: Signer, fallback: string): string {
  const san = signer.identity?.subjectAlternativeName;
  return san ? `${san} (${signer.identity?.extensions?.issuer ?? 'no issuer'})` : fallback;
}

/**
 * Verifies a Sigstore bundle found as a referrer of the image against one authority.
 * @returns `{identity}` when it verifies, else `{why}`.
 */
export function verifyBundle(bytes: Buffer, authority: KeyAuthority | KeylessAuthority, image: SignedImage, root: TrustRoot | undefined): { identity: string } | { why: string } {
  let bundle: Bundle;
  try {
    bundle = parseBundle(bytes);
  } catch (e) {
    return { why: errText(e) };
  }
  const subject = checkBundleSubject(bundle, image);
  if (subject) return { why: subject };
  return verifyParsedBundle(bundle, authority, root, image.manifest);
}

/**
 * Verifies the signature of a parsed bundle against one authority (key: the authority's key, no log;
 * keyless: chain, SCT, transparency log, identity), nothing about what it says: the caller checks the
 * subject ({@link checkBundleSubject}, or the attestation's statement).
 * @param manifest the signed bytes of a message-signature bundle.
 */
export function verifyParsedBundle(bundle: Bundle, authority: KeyAuthority | KeylessAuthority, root: TrustRoot | undefined, manifest?: Buffer): { identity: string } | { why: string } {
  const isKeyBundle = bundle.verificationMaterial.content.$case === 'publicKey';
  if (authority.kind === 'key' && !isKeyBundle) return { why: `signed with a certificate, not with key ${authority.name}` };
  if (authority.kind === 'keyless' && isKeyBundle) return { why: 'signed with a key, not with a certificate' };
  if (authority.kind === 'keyless' && !root) return { why: 'no trusted root configured for keyless verification (admission.signatures.trustedRoot)' };
  try {
    const entity = toSignedEntity(bundle, bundle.content.$case === 'messageSignature' ? manifest : undefined);
    if (authority.kind === 'key') {
      const signer = keyVerifier(authority).verify(entity);
      return { identity: identityOf(signer, `key ${authority.name}`) };
    }
    const signer = keylessVerifier(root!).verify(entity, { extensions: { issuer: authority.issuer } });
    const bad = checkIdentity(signer, authority);
    return bad ? { why: bad } : { identity: identityOf(signer, authority.name) };
  } catch (e) {
    return { why: `bundle does not verify: ${errText(e)}` };
  }
}

/**
 * The v0.1 bundle equivalent of a cosign legacy keyless signature: message signature over the
 * payload, the leaf certificate, and the Rekor entry from the `dev.sigstore.cosign/bundle` annotation
 * with its SignedEntryTimestamp as inclusion promise (how sigstore-js and cosign itself verify these).
 * @throws Error saying which annotation is missing or malformed.
 */
export function legacyToBundle(sig: FoundSignature): Bundle {
  if (!sig.payload || sig.signature === undefined) throw new Error('no payload or signature annotation');
  if (!sig.certificate) throw new Error('no certificate annotation');
  if (!sig.rekorBundle) throw new Error('no Rekor bundle annotation: the certificate\'s validity cannot be checked against a logged time');
  let leaf: crypto.X509Certificate;
  try {
    leaf = new crypto.X509Certificate(sig.certificate);
  } catch (e) {
    throw new Error('certificate annotation is not a PEM certificate', { cause: e });
  }
  let rb: { SignedEntryTimestamp?: unknown; Payload?: { body?: unknown; integratedTime?: unknown; logIndex?: unknown; logID?: unknown } };
  try {
    rb = JSON.parse(sig.rekorBundle) as typeof rb;
  } catch (e) {
    throw new Error('Rekor bundle annotation is not JSON', { cause: e });
  }
  const p = rb.Payload;
  if (typeof rb.SignedEntryTimestamp !== 'string' || !p || typeof p.body !== 'string' || typeof p.integratedTime !== 'number' || typeof p.logIndex !== 'number' || typeof p.logID !== 'string' || !/^[0-9a-f]{64}$/.test(p.logID)) {
    throw new Error('Rekor bundle annotation lacks SignedEntryTimestamp, body, integratedTime, logIndex or logID');
  }
  let kind = 'hashedrekord';
  let version = '0.0.1';
  try {
    const body = JSON.parse(Buffer.from(p.body, 'base64').toString('utf8')) as { kind?: string; apiVersion?: string };
    kind = body.kind ?? kind;
    version = body.apiVersion ?? version;
  } catch (e) {
    throw new Error('Rekor entry body is not base64 JSON', { cause: e });
  }
  return bundleFromJSON({
    mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
    verificationMaterial: {
      x509CertificateChain: { certificates: [{ rawBytes: leaf.raw.toString('base64') }] },
      tlogEntries: [
        {
          logIndex: String(p.logIndex),
          logId: { keyId: Buffer.from(p.logID, 'hex').toString('base64') },
          kindVersion: { kind, version },
          integratedTime: String(p.integratedTime),
          inclusionPromise: { signedEntryTimestamp: rb.SignedEntryTimestamp },
          canonicalizedBody: p.body,
        },
      ],
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
    messageSignature: {
      messageDigest: { algorithm: 'SHA2_256', digest: crypto.createHash('sha256').update(sig.payload).digest('base64') },
      signature: sig.signature.trim(),
    },
  });
}

/**
 * Says so when the signing certificate was not valid at the time the log entry records (an expired
 * or not yet valid certificate): the verifier refuses it too, with a less telling message.
 */
function outsideValidity(sig: FoundSignature): string | undefined {
  try {
    const leaf = new crypto.X509Certificate(sig.certificate!);
    const t = (JSON.parse(sig.rekorBundle!) as { Payload: { integratedTime: number } }).Payload.integratedTime * 1000;
    const from = Date.parse(leaf.validFrom);
    const to = Date.parse(leaf.validTo);
    if (t < from || t > to) {
      const iso = (ms: number) => new Date(ms).toISOString();
      return `certificate ${t > to ? 'expired' : 'not yet valid'} when the signature was logged (${iso(t)}; valid ${iso(from)} to ${iso(to)})`;
    }
  } catch {
    // legacyToBundle already refused what does not parse.
  }
  return undefined;
}

/**
 * Verifies a cosign legacy keyless signature against a keyless authority: certificate chain, SCT,
 * Rekor promise and entry, signature over the payload, identity; then the payload's claims.
 * @returns `{identity}` when it verifies, else `{why}`.
 */
export function verifyLegacyKeyless(sig: FoundSignature, authority: KeylessAuthority, image: SignedImage, root: TrustRoot | undefined): { identity: string } | { why: string } {
  if (!root) return { why: 'no trusted root configured for keyless verification (admission.signatures.trustedRoot)' };
  let bundle: Bundle;
  try {
    bundle = legacyToBundle(sig);
  } catch (e) {
    return { why: errText(e) };
  }
  const expired = outsideValidity(sig);
  if (expired) return { why: expired };
  try {
    const signer = keylessVerifier(root).verify(toSignedEntity(bundle, sig.payload), { extensions: { issuer: authority.issuer } });
    const bad = checkIdentity(signer, authority);
    if (bad) return { why: bad };
    const claims = checkClaims(sig.payload!, image);
    return claims ? { why: claims } : { identity: identityOf(signer, authority.name) };
  } catch (e) {
    return { why: `signature does not verify: ${errText(e)}` };
  }
}
