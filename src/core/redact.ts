/**
 * Takes credentials out of text that names URLs, before the text reaches a log, an error message, an API
 * answer or a stored record. A URL may carry a password as user info (`https://user:pass@mirror/…`) or a
 * token in its query (a pre-signed S3, GCS or Azure URL, `?private_token=` of a package registry); the
 * operator wrote it into the configuration, but everything pushgate says about the URL (a failed download
 * on the unauthenticated `/readyz`, the vulnerability sources the console shows every viewer) must not.
 *
 * Works on raw text rather than parsed URLs, so a URL the WHATWG parser refuses (a password holding `)` or
 * a quote, a message that cuts the URL short) is redacted too: user info is whatever stands between
 * `scheme://` and the last `@` before the authority ends (`/`, `?`, `#`, `\` or white space, as the WHATWG
 * URL parser ends it), and a query parameter is masked when its name says it carries a secret.
 */

/** `scheme://` followed by the authority up to its last `@`: the user info. */
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^/?#\\\s]*@/gi;

/**
 * Query parameters whose value is a credential: any name holding token, secret, password, passwd, key,
 * credential, signature or auth (`apiKey`, `private_token`, `X-Amz-Signature`, `X-Goog-Credential`), every
 * `X-Amz-`/`X-Goog-` parameter of a pre-signed URL, and Azure SAS `sig`.
 */
const SECRET_PARAM = /([?&](?:[^=&#\s]*(?:token|secret|passw(?:or)?d|key|credential|signature|auth)[^=&#\s]*|x-amz-[^=&#\s]*|x-goog-[^=&#\s]*|sig)=)[^&#\s]*/gi;

/** The text shown in place of a secret. */
export const REDACTED = 'REDACTED';

/**
 * `text` with the user info of every URL in it replaced by `REDACTED@` and every secret-looking query
 * parameter's value by `REDACTED` (see the module comment). Text without URLs comes back unchanged.
 */
export function redactSecretsInText(text: string): string {
  return text.replace(USERINFO, `$1${REDACTED}@`).replace(SECRET_PARAM, `$1${REDACTED}`);
}
