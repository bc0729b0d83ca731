/**
 * cosign's legacy signature layout: a manifest tagged `sha256-<hex>.sig` in the image's repository
 * whose layers are simple-signing payloads (`application/vnd.dev.cosign.simplesigning.v1+json`), one
 * per signature, each with annotations:
 * - `dev.cosignproject.cosign/signature`: base64 signature over the payload bytes (ECDSA P-256 with
 *   SHA-256, ASN.1 DER, for cosign's own keys and Fulcio certificates);
 * - `dev.sigstore.cosign/certificate`, `dev.sigstore.cosign/chain`: PEM signing certificate and its
 *   chain (keyless, or a key with a certificate);
 * - `dev.sigstore.cosign/bundle`: the Rekor "bundle" (SignedEntryTimestamp and the entry's body,
 *   integrated time, log index and log id).
 * (cosign `pkg/oci/static`, `pkg/cosign/bundle`; protocols.md §4.7 for the tag.)
 */
import crypto from 'node:crypto';
import type { FoundSignature, KeyAuthority, SignedImage } from './types.js';
import { parseSimpleSigning } from './simple-signing.js';

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const CERTIFICATE_ANNOTATION = 'dev.sigstore.cosign/certificate';
export const CHAIN_ANNOTATION = 'dev.sigstore.cosign/chain';
export const REKOR_BUNDLE_ANNOTATION = 'dev.sigstore.cosign/bundle';

/** The legacy signature tag of a digest: `sha256-<hex>.sig`. */
export function signatureTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`;
}

/**
 * The hash cosign signs with for a key: SHA-256 for ECDSA and RSA (cosign's default for every key it
 * loads from PEM), none for Ed25519 (which hashes itself).
 */
function hashFor(key: crypto.KeyObject): string | null {
  return key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
}

/** Verifies `signature` (base64) over `data` with `key`; false for a signature that does not decode. */
export function verifyRaw(key: crypto.KeyObject, data: Buffer, signature: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature.trim())) return false;
  try {
    return crypto.verify(hashFor(key), data, key, Buffer.from(signature.trim(), 'base64'));
  } catch {
    return false;
  }
}

/**
 * Checks the claims of a legacy payload against the image: the signed digest is the image's, the
 * signed reference names the image's repository (when the caller can tell).
 * @returns undefined when they hold, else why not.
 */
export function checkClaims(payload: Buffer, image: SignedImage): string | undefined {
  let claims;
  try {
    claims = parseSimpleSigning(payload);
  } catch (e) {
    return (e as Error).message;
  }
  if (claims.manifestDigest !== image.digest) return `signature is for ${claims.manifestDigest}, not this image (${image.digest})`;
  if (image.referenceMatches && !image.referenceMatches(claims.dockerReference)) {
    return `signature names repository ${JSON.stringify(claims.dockerReference)}, not this image's`;
  }
  return undefined;
}

/**
 * Verifies a legacy signature with a public key: the signature over the exact payload bytes, then
 * the payload's claims. A certificate annotation, if any, is ignored: the key decides.
 * @returns undefined when it verifies, else why not.
 */
export function verifyLegacyWithKey(sig: FoundSignature, authority: KeyAuthority, image: SignedImage): string | undefined {
  if (!sig.payload || sig.signature === undefined) return 'no payload or signature annotation';
  if (!verifyRaw(authority.publicKey, sig.payload, sig.signature)) return `signature does not verify with key ${authority.name}`;
  return checkClaims(sig.payload, image);
}
