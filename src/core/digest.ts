/**
 * Content digests as defined by the OCI image spec (descriptor.md, "Digests"):
 * `algorithm ":" encoded`.
 *
 * A manifest is judged under sha256 only ({@link isDigest}): the image spec's registered algorithms are
 * sha256 (every implementation) and sha512 (optional), and CNCF Distribution (2.8 and 3.0) refuses a
 * manifest pushed by a sha512 digest (DIGEST_INVALID, distribution/distribution#4420). pushgate keys
 * its verdicts, own-writes memo, quarantine copies and admission look-ups by the sha256 digest it
 * computes; a registry that stored a manifest under sha512 too would keep it under a name pushgate
 * never judged, so every reference to a manifest by sha512 (webhook event, admission image,
 * proxied PUT, API or CLI argument) is refused with {@link SHA512_MANIFEST_REASON}.
 * Blobs (config and layers) may be named by sha512 in a manifest ({@link isContentDigest}): their
 * bytes are verified by the descriptor's own algorithm while they stream, so what is judged is
 * exactly what the registry serves under that name.
 */
import { PushgateError } from './errors.js';

/** A digest string such as `sha256:<64 lowercase hex>`. */
export type Digest = string;

const SHA256_RE = /^sha256:[a-f0-9]{64}$/;
const SHA512_RE = /^sha512:[a-f0-9]{128}$/;

/** Why a manifest reference by sha512 is refused (the module comment says more). */
export const SHA512_MANIFEST_REASON =
  'a manifest named by a sha512 digest is not accepted: pushgate judges manifests by their sha256 digest (the one digest every registry stores them under; Distribution refuses sha512 manifests), so a sha512 name is one it never judged; use the image\'s sha256 digest';

/**
 * True when `s` is a sha256 digest (`sha256:<64 lowercase hex>`): the only digest a manifest is
 * judged, stored and looked up by. A sha512 digest is false here (see {@link isContentDigest}).
 */
export function isDigest(s: string): boolean {
  return SHA256_RE.test(s);
}

/**
 * True when `s` is a sha256 or sha512 digest (`sha512:<128 lowercase hex>`): the digest of a blob a
 * manifest names, verified by its own algorithm when read.
 */
export function isContentDigest(s: string): boolean {
  return SHA256_RE.test(s) || SHA512_RE.test(s);
}

/** Why `s` is no manifest digest: {@link SHA512_MANIFEST_REASON} for a sha512 one, else the expected form. */
export function manifestDigestProblem(s: string): string {
  return SHA512_RE.test(s) ? SHA512_MANIFEST_REASON : `"${s.length > 200 ? `${s.slice(0, 200)}…` : s}" is not a sha256 digest (sha256:<64 lowercase hex>)`;
}

/**
 * Validates a manifest digest string.
 * @throws PushgateError BAD_REFERENCE when it is not `sha256:<64 lowercase hex>` (a sha512 one with
 *   {@link SHA512_MANIFEST_REASON}).
 */
export function parseDigest(s: string): Digest {
  if (!isDigest(s)) throw new PushgateError('BAD_REFERENCE', manifestDigestProblem(s));
  return s;
}

/** The algorithm part of a digest (`sha256`). */
export function digestAlgorithm(d: Digest): string {
  return d.slice(0, d.indexOf(':'));
}

/** The encoded (hex) part of a digest. */
export function digestHex(d: Digest): string {
  return d.slice(d.indexOf(':') + 1);
}

/** A short form for messages: `sha256:abcdef012345`. */
export function shortDigest(d: Digest): string {
  return d.length > 19 ? d.slice(0, 19) : d;
}
