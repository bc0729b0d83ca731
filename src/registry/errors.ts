/**
 * Typed registry errors: every failure of the OCI distribution client is a {@link RegistryError}
 * carrying the registry's error codes (distribution-spec "Error Codes", protocols.md §4.8), the HTTP
 * status, a retry hint and the request URL without credentials. Modelled on go-containerregistry
 * `pkg/v1/remote/transport/error.go`.
 */
import { PushgateError, type ErrorCode } from '../core/errors.js';

/** One entry of an OCI error body `{"errors":[{"code","message","detail"}]}`. */
export interface RegistryErrorEntry {
  code: string;
  message?: string;
  detail?: unknown;
}

/** A failed registry operation. `code` (PushgateError) is derived from the status; see {@link codeForStatus}. */
export class RegistryError extends PushgateError {
  /** HTTP status, when the registry answered. */
  readonly status?: number;
  /** The registry's error codes (`MANIFEST_UNKNOWN`, `UNAUTHORIZED`, …), possibly empty. */
  readonly registryCodes: string[];
  /** The request URL, without userinfo or query secrets. */
  readonly url: string;

  constructor(
    code: ErrorCode,
    message: string,
    opts: {
      status?: number;
      registryCodes?: string[];
      url: string;
      retryable?: boolean;
      cause?: unknown;
      details?: Record<string, unknown>;
    },
  ) {
    super(code, message, { cause: safeCause(opts.cause), retryable: opts.retryable, details: opts.details });
    this.name = 'RegistryError';
    this.status = opts.status;
    this.registryCodes = opts.registryCodes ?? [];
    this.url = opts.url;
  }
}

/**
 * What may travel as an error's `cause`: a PushgateError as it is (its messages are built without
 * secrets), anything else reduced to a plain Error with its message and `code`. An axios error
 * carries the request config, `Authorization` included, and its socket; logged with its cause, it
 * would print the registry's password.
 */
export function safeCause(cause: unknown): unknown {
  if (cause === undefined || cause instanceof PushgateError) return cause;
  const c = cause as { message?: unknown; code?: unknown } | null;
  const out = new Error(typeof c?.message === 'string' ? c.message : String(cause));
  if (typeof c?.code === 'string') Object.assign(out, { code: c.code });
  return out;
}

/** True when `err` is a {@link RegistryError}. */
export function isRegistryError(err: unknown): err is RegistryError {
  return err instanceof RegistryError;
}

/** The PushgateError code for an HTTP status: 401/403 → UNAUTHORIZED, 404 → NOT_FOUND, 405 → UNSUPPORTED, else REGISTRY. */
export function codeForStatus(status: number): ErrorCode {
  if (status === 401 || status === 403) return 'UNAUTHORIZED';
  if (status === 404) return 'NOT_FOUND';
  if (status === 405) return 'UNSUPPORTED';
  return 'REGISTRY';
}

/** True for statuses worth retrying: 408, 429 and 5xx except 501 and 505. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

/**
 * Parses an OCI error body. Tolerates any body (HTML, empty, truncated): returns the entries it
 * could read, never throws.
 */
export function parseErrorBody(body: Buffer | string | undefined): RegistryErrorEntry[] {
  if (!body || body.length === 0) return [];
  const text = typeof body === 'string' ? body : body.toString('utf8');
  try {
    const j = JSON.parse(text) as unknown;
    const errs = (j as { errors?: unknown })?.errors;
    if (!Array.isArray(errs)) return [];
    return errs
      .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
      .map((e) => ({
        code: typeof e.code === 'string' ? e.code : 'UNKNOWN',
        message: typeof e.message === 'string' ? e.message : undefined,
        detail: e.detail,
      }));
  } catch {
    return [];
  }
}

/** Removes userinfo from a URL and masks secret-looking query parameters, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    for (const k of [...u.searchParams.keys()]) {
      if (/token|secret|password|signature|credential|x-amz-|sig$/i.test(k)) u.searchParams.set(k, 'REDACTED');
    }
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}

/**
 * True for a body pushgate refused to read because it is larger than the request's limit (a manifest over
 * the client's `maxManifestBytes`, 4 MiB by default): the same document is over the same limit on every
 * try, so no retry helps.
 */
export function isOverLimit(e: unknown): boolean {
  return e instanceof PushgateError && e.code === 'SIZE_MISMATCH' && typeof e.details?.overLimitBytes === 'number';
}
