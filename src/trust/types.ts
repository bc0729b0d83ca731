/**
 * Signature trust: who may vouch for an image (authorities), what was found in the registry
 * (cosign's legacy `.sig` layout and Sigstore bundles stored as OCI 1.1 referrers), and what a
 * verification concluded. Verification decides only on bytes the registry serves and on keys and
 * trust roots pushgate was configured with, never on what an annotation or media type claims.
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import type { Digest } from '../core/index.js';

/** A PEM public key (ECDSA P-256/P-384, RSA, Ed25519) trusted to sign images. */
export interface KeyAuthority {
  name: string;
  kind: 'key';
  publicKey: KeyObject;
}

/**
 * A keyless (Fulcio) identity: a certificate chaining to the trusted root's certificate authorities
 * whose OIDC issuer (extension 1.3.6.1.4.1.57264.1.8, or the legacy .1.1) equals `issuer` and whose
 * subject alternative name equals `subject` or matches `subjectRegExp` (anchored).
 */
export interface KeylessAuthority {
  name: string;
  kind: 'keyless';
  issuer: string;
  subject?: string;
  subjectRegExp?: RegExp;
}

export type Authority = KeyAuthority | KeylessAuthority;

/** A Sigstore trusted root (`application/vnd.dev.sigstore.trustedroot+json;version=0.1`), parsed. */
export interface TrustRoot {
  /** The document as read (handed to @sigstore/verify for bundles). */
  json: unknown;
  /** Fulcio CA chains: each chain leaf-most first, with the validity window the root gives. */
  certificateAuthorities: Array<{ certificates: X509Certificate[]; start?: number; end?: number }>;
  /** Transparency log keys by log id (hex of sha256 of the DER SPKI, as Rekor names its log). */
  tlogKeys: Map<string, { key: KeyObject; start?: number; end?: number }>;
}

/** Where a signature was found. */
export type SignatureLayout = 'cosign-sig-tag' | 'sigstore-bundle-referrer';

/** One signature of an image as read from the registry, before any verification. */
export interface FoundSignature {
  layout: SignatureLayout;
  /** Tag (`sha256-<hex>.sig`) or referrer manifest digest, plus the layer index: for messages. */
  source: string;
  /** Legacy layout: the simple-signing payload (layer bytes, digest verified). */
  payload?: Buffer;
  /** Legacy layout: base64 signature (annotation `dev.cosignproject.cosign/signature`). */
  signature?: string;
  /** Legacy layout: PEM certificate and chain annotations (`dev.sigstore.cosign/certificate`, `/chain`). */
  certificate?: string;
  chain?: string;
  /** Legacy layout: Rekor bundle annotation (`dev.sigstore.cosign/bundle`), as JSON text. */
  rekorBundle?: string;
  /** Bundle layout: the Sigstore bundle JSON (layer bytes, digest verified). */
  bundle?: Buffer;
}

/** Verification of one found signature against one authority. */
export type SignatureVerification =
  | { ok: true; authority: string; layout: SignatureLayout; source: string; identity: string }
  | { ok: false; authority: string; layout: SignatureLayout; source: string; why: string };

/** What a verifier needs to know of the image. */
export interface SignedImage {
  /** Manifest digest the signature must name. */
  digest: Digest;
  /** Exact manifest bytes (a message-signature bundle signs their digest). */
  manifest?: Buffer;
  /**
   * True when a signed docker-reference (`host/repository`) names this image: the caller knows
   * the registry's host aliases. Absent: any reference passes.
   */
  referenceMatches?(reference: string): boolean;
}
