/**
 * Authentication errors as token issuers and registries state them, turned into what an operator
 * should check: the issuer's own code (OAuth 2.0 RFC 6749 §5.2 `error`, Distribution `errors[].code`,
 * docker/auth `details`) and the registry's Bearer challenge error (RFC 6750 §3: `invalid_token`,
 * `insufficient_scope`).
 */
/**
 * The error a token issuer put in its answer: OAuth 2.0 `{"error", "error_description"}` (RFC 6749
 * §5.2), Distribution `{"errors": [{"code", "message"}]}`, or docker/auth `{"details"}`; undefined
 * when the body says none. Only these fields are read (never the rest of the body), cut to 200 characters.
 */
export function issuerErrorOf(body: Buffer): { code: string; text: string } | undefined {
  let j: unknown;
  try {
    j = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!j || typeof j !== 'object') return undefined;
  const o = j as Record<string, unknown>;
  const cut = (x: string) => x.replace(/\s+/g, ' ').trim().slice(0, 200);
  if (typeof o.error === 'string' && o.error) {
    const d = typeof o.error_description === 'string' && o.error_description ? ` (${cut(o.error_description)})` : '';
    return { code: cut(o.error), text: `${cut(o.error)}${d}` };
  }
  const e = Array.isArray(o.errors) ? (o.errors[0] as Record<string, unknown> | undefined) : undefined;
  if (e && typeof e.code === 'string' && e.code) {
    return { code: cut(e.code), text: `${cut(e.code)}${typeof e.message === 'string' && e.message ? ` (${cut(e.message)})` : ''}` };
  }
  if (typeof o.details === 'string' && o.details) return { code: 'details', text: `(${cut(o.details)})` };
  return undefined;
}

const HINT_INVALID_TOKEN = "the registry does not accept tokens from its issuer: check that the issuer's signing certificate, issuer name and service match the registry's auth.token settings, and that both clocks agree";
const HINT_SCOPE = "the account lacks permission: grant pushgate's account pull, push and delete on the repository at the token issuer (Harbor: the robot account's permissions)";
const HINT_CREDENTIALS = 'check registries[].auth (user name, password or token) and that the account exists and is enabled at the token issuer';
const HINT_OTHER = 'check registries[].auth and the token issuer\'s log';

/**
 * Every text {@link tokenHint} returns. They speak to the operator of `pushgate serve` (its
 * `registries[].auth`, its account's push and delete rights): `pushgate scan` of a registry the
 * configuration does not name replaces them with how its user logs in (src/cli/registry-client.ts).
 */
export const TOKEN_HINTS: readonly string[] = [HINT_INVALID_TOKEN, HINT_SCOPE, HINT_CREDENTIALS, HINT_OTHER];

/** What to check for a token issuer's or registry's authentication error code. */
export function tokenHint(code: string | undefined): string {
  switch ((code ?? '').toLowerCase()) {
    case 'invalid_token':
      return HINT_INVALID_TOKEN;
    case 'insufficient_scope':
    case 'denied':
      return HINT_SCOPE;
    case 'invalid_grant':
    case 'invalid_client':
    case 'unauthorized':
    case 'details':
      return HINT_CREDENTIALS;
    default:
      return HINT_OTHER;
  }
}
