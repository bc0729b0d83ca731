/**
 * Typed errors shared by every module. Every error that crosses a module boundary is a
 * {@link PushgateError} with a stable `code`, a `retryable` hint and an optional `cause`,
 * wrapped with a short context (`registry: GET manifest team/app@sha256:…: 401 UNAUTHORIZED`).
 * Messages that reach a user say what is wrong and what to do next.
 */

/** Stable error codes. Append only: scripts and tests match on them. */
export type ErrorCode =
  | 'BAD_ARGUMENT' // a CLI argument or API parameter is malformed
  | 'BAD_CONFIG' // the configuration or a policy document is invalid
  | 'BAD_REFERENCE' // an image reference or digest does not parse
  | 'NOT_FOUND' // a target, blob, manifest or record does not exist
  | 'DIGEST_MISMATCH' // content does not hash to the digest it was addressed by
  | 'SIZE_MISMATCH' // content is longer or shorter than its descriptor says
  | 'CORRUPT_LAYER' // a layer cannot be decompressed or its tar cannot be read
  | 'UNSUPPORTED' // a media type, manifest schema or format pushgate does not handle
  | 'REGISTRY' // the registry answered with an error (see RegistryError in src/registry)
  | 'NETWORK' // a connection failed or timed out
  | 'UNAUTHORIZED' // credentials missing or refused
  | 'FORBIDDEN' // a registry or host is not one the configuration names
  | 'VULNDB' // the vulnerability database is missing, corrupt or could not be built
  | 'STORE' // the verdict store failed
  | 'TIMEOUT' // a deadline passed before the work finished
  | 'INTERNAL' // a bug: report it
  | 'MANIFEST_INVALID'; // a manifest, index or image config that Go's decoder (registry, runtime) could read differently: colliding or duplicate keys, wrong types

/** An error with a stable code, a retry hint and the underlying cause. */
export class PushgateError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  /** Optional extra data for logs and reports (never secrets). */
  readonly details?: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { cause?: unknown; retryable?: boolean; details?: Record<string, unknown> } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'PushgateError';
    this.code = code;
    this.retryable = opts.retryable ?? false;
    this.details = opts.details;
  }
}

/** True when `err` is a {@link PushgateError}, optionally of the given code. */
export function isPushgateError(err: unknown, code?: ErrorCode): err is PushgateError {
  return err instanceof PushgateError && (code === undefined || err.code === code);
}

/**
 * Wraps any thrown value with a context prefix, keeping the code and retry hint of a
 * PushgateError (`wrap(e, 'scan layer sha256:ab…')` → `scan layer sha256:ab…: <message>`).
 */
export function wrapError(err: unknown, context: string, code: ErrorCode = 'INTERNAL'): PushgateError {
  if (err instanceof PushgateError) {
    return new PushgateError(err.code, `${context}: ${err.message}`, {
      cause: err,
      retryable: err.retryable,
      details: err.details,
    });
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new PushgateError(code, `${context}: ${msg}`, { cause: err });
}
