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
 * A scheme that may start an authority: an http(s), ws(s) or ftp scheme with any run of `/` and `\`, even
 * none (the WHATWG parser reads them all as the same authority), or any `scheme://`. A generic scheme is
 * matched from the start of its run of scheme characters only (a letter in the run checked by the caller),
 * so a long run costs one pass rather than one per start: the match stays linear in the text's length.
 */
const SCHEME = /(?:https?|wss?|ftp):[/\\]*|(?<![a-z0-9+.-])[a-z0-9+.-]+:\/\//gi;

/** Characters that end an authority: `/?#\`, and a line break (user info may hold blanks, which the parser percent-encodes). */
const AUTHORITY_END = /[/?#\\\r\n]/;

/**
 * A query (or fragment) parameter's separator, name and `=`. `;` separates parameters for some servers, a
 * `?` inside a query starts another name for them too, and a fragment (`#access_token=…`, OAuth's implicit
 * grant) is part of the text though never sent. The name holds no separator, so every name is read once.
 */
const PARAM = /([?&;#])([^=?&#;\s]*)=/g;

/** A parameter's value: up to `&`, `#` or a blank. */
const VALUE = /[^&#\s]*/y;

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
 * Linear in the text's length (it reaches logs from remote answers), and no recursion.
 */
export function redactSecretsInText(text: string): string {
  return redactParams(redactUserInfo(text));
}

/**
 * The user info of every authority replaced: whatever stands between a scheme (see SCHEME) and the last
 * `@` before the authority ends. The ends and the last `@` before each place are found once, up front.
 */
function redactUserInfo(text: string): string {
  if (!text.includes('@')) return text;
  const n = text.length;
  const end = new Int32Array(n + 1);
  end[n] = n;
  for (let i = n - 1; i >= 0; i--) end[i] = AUTHORITY_END.test(text[i]!) ? i : end[i + 1]!;
  const lastAt = new Int32Array(n + 1);
  lastAt[0] = -1;
  for (let i = 0; i < n; i++) lastAt[i + 1] = text.charCodeAt(i) === 0x40 ? i : lastAt[i]!;
  const blank = new Int32Array(n + 1);
  blank[n] = n;
  for (let i = n - 1; i >= 0; i--) blank[i] = /\s/.test(text[i]!) ? i : blank[i + 1]!;
  const lastColon = new Int32Array(n + 1);
  lastColon[0] = -1;
  for (let i = 0; i < n; i++) lastColon[i + 1] = text.charCodeAt(i) === 0x3a ? i : lastColon[i]!;
  const out: string[] = [];
  let kept = 0;
  const re = new RegExp(SCHEME.source, SCHEME.flags);
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const from = m.index + m[0].length;
    let at = lastAt[end[from]!]!;
    // A password holding `/`, `?` or `#` unencoded ends the authority early: `user:p#ss` is no host and
    // port, the parser refuses the URL and the error (`Failed to parse URL from …`) repeats it whole. Such
    // a colon before the end, with no `@` but one later before a blank: the user info runs to that `@`.
    const colon = lastColon[end[from]!]!;
    if (at < from && colon >= from && end[from]! < n && !/^\d*$/.test(text.slice(colon + 1, end[from]!))) at = lastAt[blank[from]!]!;
    if (at < from || (m[0].endsWith('://') && !/[a-z]/i.test(m[0]))) {
      re.lastIndex = m.index + 1;
      continue;
    }
    out.push(text.slice(kept, from), `${REDACTED}@`);
    kept = at + 1;
    re.lastIndex = kept;
  }
  out.push(text.slice(kept));
  return out.join('');
}

/** Secret parameter values masked; a kept value is read on for the parameters a `;` or `?` starts in it. */
function redactParams(text: string): string {
  const out: string[] = [];
  let kept = 0;
  const re = new RegExp(PARAM.source, PARAM.flags);
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (!SECRET_NAME.test(decodedName(m[2]!))) continue;
    VALUE.lastIndex = re.lastIndex;
    VALUE.exec(text);
    out.push(text.slice(kept, re.lastIndex), REDACTED);
    kept = VALUE.lastIndex;
    re.lastIndex = kept;
  }
  out.push(text.slice(kept));
  return out.join('');
}
