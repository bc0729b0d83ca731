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

/**
 * `scheme://` (or an http(s) scheme with any run of `/` and `\`, even none, which the WHATWG parser reads
 * as the same authority) followed by the authority up to its last `@`: the user info. The user info may
 * hold blanks (the parser percent-encodes them), so only a line break ends it besides `/?#\`.
 */
const USERINFO = /((?:https?|wss?|ftp):[/\\]*|[a-z][a-z0-9+.-]*:\/\/)[^/?#\\\r\n]*@/gi;

/**
 * A query (or fragment) parameter: separator, name, `=`, value. `;` separates parameters for some
 * servers, and a fragment (`#access_token=…`, OAuth's implicit grant) is part of the text though never sent.
 */
const PARAM = /([?&;#])([^=&#;\s]*)=([^&#\s]*)/g;

/**
 * Parameter names whose value is a credential, tested on the percent-decoded name in any case: any name
 * holding token, secret, pass, pwd, key, credential, signature, auth, jwt or session (`apiKey`,
 * `private_token`, `X-Amz-Signature`, `pass`), `pw`, every `X-Amz-`/`X-Goog-` parameter of a pre-signed
 * URL, and Azure SAS `sig`.
 */
const SECRET_NAME = /token|secret|pass|pwd|key|credential|signature|auth|jwt|session|^pw$|^x-amz-|^x-goog-|^sig$/i;

/** The text shown in place of a secret. */
export const REDACTED = 'REDACTED';

function decodedName(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
}

/**
 * `text` with the user info of every URL in it replaced by `REDACTED@` and every secret-looking query
 * parameter's value by `REDACTED` (see the module comment). Text without URLs comes back unchanged.
 */
export function redactSecretsInText(text: string): string {
  return redactParams(text.replace(USERINFO, `$1${REDACTED}@`));
}

/** Secret parameter values masked; a value runs to `&`, `#` or a blank, and a `;` in a kept value starts another parameter. */
function redactParams(text: string): string {
  return text.replace(PARAM, (_all, sep: string, name: string, value: string) =>
    (SECRET_NAME.test(decodedName(name)) ? `${sep}${name}=${REDACTED}` : `${sep}${name}=${redactParams(value)}`));
}
