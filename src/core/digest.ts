/**
 * Content digests as defined by the OCI image spec (descriptor.md, "Digests"):
 * `algorithm ":" encoded`. pushgate produces and verifies sha256 only; sha512 is parsed.
 */
import { PushgateError } from './errors.js';

/** A digest string such as `sha256:<64 lowercase hex>`. */
export type Digest = string;

const DIGEST_RE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const SHA256_RE = /^sha256:[a-f0-9]{64}$/;
const SHA512_RE = /^sha512:[a-f0-9]{128}$/;

/** True when `s` is a well-formed sha256 or sha512 digest. */
export function isDigest(s: string): boolean {
  return DIGEST_RE.test(s) && (SHA256_RE.test(s) || SHA512_RE.test(s));
}

/**
 * Validates a digest string.
 * @throws PushgateError BAD_REFERENCE when it is not `sha256:<64 hex>` or `sha512:<128 hex>`.
 */
export function parseDigest(s: string): Digest {
  if (!isDigest(s)) {
    throw new PushgateError(
      'BAD_REFERENCE',
      `"${s}" is not a digest: expected sha256:<64 lowercase hex> (or sha512:<128 hex>)`,
    );
  }
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
