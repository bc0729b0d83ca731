/**
 * The proxy's one reading of a request path: how CNCF Distribution 2.8's router sees it, and
 * whether pushgate may act on it.
 *
 * Distribution (Go net/http + gorilla/mux, `StrictSlash(true)`, no `UseEncodedPath`) routes on
 * the percent-DECODED path: `/%762/x/app/%6danifests/v1`, `/v2/x%2Fapp/manifests/v1` and
 * `/v2/x/app/manifests/v%31` are all a manifest PUT of `x/app`. A decoded path that `path.Clean`
 * would change (`//`, `.` and `..` segments, also when spelled `%2e` or `%2F`) is answered with a
 * 301 to the cleaned path, so is a path that differs from a route only by a trailing slash; an
 * invalid escape is a plain 400; matching is case-sensitive (`/V2/` is a 404) but the first name
 * component may hold upper case and a port (it is a domain in the reference grammar). An
 * absolute-form target (`PUT http://any/v2/…`) is routed on its path. `;`, `+` and a raw `#` are
 * ordinary characters. test/security/proxy-paths.test.ts shows each of these against the real
 * registry and checks {@link distributionRoute} against it on generated paths.
 *
 * {@link canonicalRequest} computes that reading once; the proxy takes every route decision from
 * it and forwards exactly its canonical path, so pushgate and the registry cannot disagree. A
 * request whose raw spelling would route differently from its decoded form (any percent-encoding
 * inside a route), or that is ambiguous (not origin-form, a fragment, an escape that decodes to
 * `%`, `\` or a control character, a path the registry would clean), is refused with a reason.
 */

/** The routes of the Distribution 2.8 API (registry/api/v2/descriptors.go), plus OCI 1.1 referrers. */
export type RouteKind = 'base' | 'catalog' | 'tags-list' | 'manifest' | 'blob' | 'blob-upload' | 'blob-upload-chunk' | 'referrers';

/** Where the registry sends a request path. */
export type Route =
  /** A registry route; `name` is the repository, `reference` a tag or digest, `digest`, `uuid` as routed. */
  | { kind: RouteKind; name?: string; reference?: string; digest?: string; uuid?: string }
  /** The router answers 301 to `location` (an unclean path, or a trailing slash off by one); nothing runs. */
  | { kind: 'redirect'; location: string }
  /** No route: 404 page not found. */
  | { kind: 'none' };

/** Why a request path is refused (the `reason` label of `pushgate_proxy_refused_requests_total`). */
export type PathRefusal =
  | 'request-target' // not origin-form (`http://host/…`, `*`)
  | 'bad-escape' // `%` not followed by two hex digits
  | 'encoded-route' // percent-encoding changes where the request routes
  | 'double-encoding' // an escape decodes to `%`
  | 'bad-character' // fragment `#`, backslash, control or non-ASCII byte
  | 'unclean-path'; // empty, `.` or `..` segments (also encoded): the registry would rewrite it

/** The proxy's decision for one request target. */
export type PathDecision =
  | {
      ok: true;
      /** How Distribution routes it. */
      route: Route;
      /** The target to send upstream: canonical path (escaped where needed) and the raw query. */
      target: string;
    }
  | {
      ok: false;
      reason: PathRefusal;
      /** One line for the client: what is wrong and what to send instead. */
      message: string;
      /** How Distribution would have routed it, when its router accepts the target at all. */
      route?: Route;
    };

// Repository name and reference grammar of Distribution 2.8 (reference/regexp.go, go-digest's
// DigestRegexp), as the router's path variables use them.
const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]*)';
const NAME_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?`;
const NAME = `(?:${DOMAIN}/)?${NAME_COMPONENT}(?:/${NAME_COMPONENT})*`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+';
const UUID = '[a-zA-Z0-9-_.=]+';

/** Route templates in the router's order; `slash` = the template ends with `/`. */
const ROUTES: Array<{ kind: RouteKind; re: RegExp; slash: boolean; groups: Array<'name' | 'reference' | 'digest' | 'uuid'> }> = [
  { kind: 'base', re: /^\/v2$/, slash: true, groups: [] },
  { kind: 'tags-list', re: new RegExp(`^/v2/(${NAME})/tags/list$`), slash: false, groups: ['name'] },
  { kind: 'manifest', re: new RegExp(`^/v2/(${NAME})/manifests/(${TAG}|${DIGEST})$`), slash: false, groups: ['name', 'reference'] },
  { kind: 'blob', re: new RegExp(`^/v2/(${NAME})/blobs/(${DIGEST})$`), slash: false, groups: ['name', 'digest'] },
  { kind: 'blob-upload', re: new RegExp(`^/v2/(${NAME})/blobs/uploads$`), slash: true, groups: ['name'] },
  { kind: 'blob-upload-chunk', re: new RegExp(`^/v2/(${NAME})/blobs/uploads/(${UUID})$`), slash: false, groups: ['name', 'uuid'] },
  { kind: 'catalog', re: /^\/v2\/_catalog$/, slash: false, groups: [] },
  // Not served by 2.8 (a 404 there), routed by Distribution 3 and OCI 1.1 registries.
  { kind: 'referrers', re: new RegExp(`^/v2/(${NAME})/referrers/(${DIGEST})$`), slash: false, groups: ['name', 'digest'] },
];

/**
 * Go's `path.Clean` on an absolute path, keeping a trailing slash as gorilla/mux's `cleanPath` does.
 */
export function cleanPath(p: string): string {
  if (p === '') return '/';
  const abs = p.startsWith('/') ? p : `/${p}`;
  const out: string[] = [];
  for (const seg of abs.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  let np = `/${out.join('/')}`;
  if (abs.endsWith('/') && np !== '/') np += '/';
  return np;
}

/**
 * The route of a DECODED path as gorilla/mux in Distribution 2.8 picks it: an unclean path
 * redirects, then the first template that matches with or without a trailing slash wins (a
 * trailing slash off by one redirects, StrictSlash).
 */
export function routeDecoded(path: string): Route {
  const clean = cleanPath(path);
  if (clean !== path) return { kind: 'redirect', location: clean };
  const trailing = path.length > 1 && path.endsWith('/');
  const bare = trailing ? path.slice(0, -1) : path;
  for (const r of ROUTES) {
    const m = r.re.exec(bare);
    if (!m) continue;
    if (trailing !== r.slash) return { kind: 'redirect', location: r.slash ? `${bare}/` : bare };
    const route: { kind: RouteKind; name?: string; reference?: string; digest?: string; uuid?: string } = { kind: r.kind };
    r.groups.forEach((g, i) => {
      route[g] = m[i + 1];
    });
    return route;
  }
  return { kind: 'none' };
}

/** Percent-decodes as Go's `url.PathUnescape`: `undefined` on a malformed escape; bytes as latin1 chars. */
export function decodePath(raw: string): string | undefined {
  if (!raw.includes('%')) return raw;
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== '%') {
      out += c;
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
    out += String.fromCharCode(parseInt(hex, 16));
    i += 2;
  }
  return out;
}

/** Characters sent unescaped in a forwarded path (RFC 3986 pchar minus `%`, plus `/`). */
const PLAIN = /[A-Za-z0-9\-._~!$&'()*+,;=:@/]/;

/** Escapes a decoded path so that the registry decodes it back to exactly `path`. */
export function encodePath(path: string): string {
  let out = '';
  for (const c of path) out += PLAIN.test(c) ? c : `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/**
 * How Distribution 2.8 routes request target `target` (origin-form or absolute-form, as it
 * arrives on the request line), or `undefined` when Go's server refuses it (400).
 */
export function distributionRoute(target: string): Route | undefined {
  let path = target;
  const abs = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?]*/.exec(target);
  if (abs) path = target.slice(abs[0].length) || '/';
  else if (!target.startsWith('/')) return target === '*' ? { kind: 'redirect', location: '/*' } : undefined;
  const q = path.indexOf('?');
  const decoded = decodePath(q >= 0 ? path.slice(0, q) : path);
  return decoded === undefined ? undefined : routeDecoded(decoded);
}

function sameRoute(a: Route, b: Route): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The proxy's reading of request target `target` (`req.url`): the route Distribution takes and
 * the canonical target to forward, or a refusal with its reason. Only the path is read; the query
 * is forwarded as received (the router ignores it).
 */
export function canonicalRequest(target: string): PathDecision {
  const route = distributionRoute(target);
  const refuse = (reason: PathRefusal, message: string): PathDecision => ({ ok: false, reason, message, ...(route ? { route } : {}) });
  if (!target.startsWith('/')) {
    return refuse('request-target', `request target "${short(target)}" is not a path; send origin-form requests such as /v2/<name>/manifests/<reference>`);
  }
  const q = target.indexOf('?');
  const rawPath = q >= 0 ? target.slice(0, q) : target;
  const query = q >= 0 ? target.slice(q) : '';
  if (rawPath.includes('#')) return refuse('bad-character', `request path "${short(rawPath)}" contains "#"; a fragment is never part of a registry path`);
  const decoded = decodePath(rawPath);
  if (decoded === undefined) return refuse('bad-escape', `request path "${short(rawPath)}" has a "%" that is not followed by two hex digits`);
  if (decoded.includes('%')) return refuse('double-encoding', `request path "${short(rawPath)}" is percent-encoded twice; send registry paths unencoded`);
  // eslint-disable-next-line no-control-regex
  if (/[\\\x00-\x20\x7f-\uffff]/.test(decoded)) {
    return refuse('bad-character', `request path "${short(rawPath)}" contains a backslash, space, control or non-ASCII character, which no registry path has`);
  }
  const r = route!;
  if (cleanPath(decoded) !== decoded) {
    return refuse('unclean-path', `request path "${short(rawPath)}" has empty, "." or ".." segments; send the path as ${cleanPath(decoded)}`);
  }
  if (decoded !== rawPath && !sameRoute(routeDecoded(rawPath), r)) {
    return refuse('encoded-route', `request path "${short(rawPath)}" is percent-encoded where the registry decodes it (it reads ${short(decoded)}); send registry paths unencoded`);
  }
  return { ok: true, route: r, target: encodePath(decoded) + query };
}

function short(s: string): string {
  const printable = s.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 200 ? `${printable.slice(0, 199)}…` : printable;
}
