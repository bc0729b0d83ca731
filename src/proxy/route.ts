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
 * `%`, `\` or a control character, a path the registry would redirect), is refused with a reason;
 * so the proxy forwards only paths the registry routes as they are.
 */
import { TAG_RE } from '../core/names.js';

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
  | 'unclean-path'; // empty, `.` or `..` segments (also encoded), a trailing slash off by one: the registry redirects

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
// DigestRegexp), one path segment at a time. Go's regexp engine is linear; these are written so
// that JavaScript's backtracking stays linear too (separators are never empty).
const NAME_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?$`);
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const UUID = /^[a-zA-Z0-9_.=-]+$/;

/**
 * Whether `segments` (split at `/`) form a repository name: an optional domain first (letters of
 * either case, an optional port) followed by at least one lower-case component.
 */
export function isRepositoryName(segments: string[]): boolean {
  if (segments.length === 0) return false;
  const [first, ...rest] = segments;
  if (!rest.every((c) => NAME_COMPONENT.test(c))) return false;
  return NAME_COMPONENT.test(first!) || (rest.length > 0 && DOMAIN.test(first!));
}

type Param = 'reference' | 'digest' | 'uuid';

/**
 * Route templates in the router's order: the fixed segments after `/v2/<name>/`, the pattern of
 * the last segment (a parameter) if any, and whether the template ends with `/`.
 */
const ROUTES: Array<{ kind: RouteKind; named: boolean; fixed: string[]; last?: { param: Param; re: RegExp }; slash: boolean }> = [
  { kind: 'base', named: false, fixed: [], slash: true },
  { kind: 'tags-list', named: true, fixed: ['tags', 'list'], slash: false },
  { kind: 'manifest', named: true, fixed: ['manifests'], last: { param: 'reference', re: /./ }, slash: false },
  { kind: 'blob', named: true, fixed: ['blobs'], last: { param: 'digest', re: DIGEST }, slash: false },
  { kind: 'blob-upload', named: true, fixed: ['blobs', 'uploads'], slash: true },
  { kind: 'blob-upload-chunk', named: true, fixed: ['blobs', 'uploads'], last: { param: 'uuid', re: UUID }, slash: false },
  { kind: 'catalog', named: false, fixed: ['_catalog'], slash: false },
  // Not served by 2.8 (a 404 there), routed by Distribution 3 and OCI 1.1 registries.
  { kind: 'referrers', named: true, fixed: ['referrers'], last: { param: 'digest', re: DIGEST }, slash: false },
];

function isReference(s: string): boolean {
  return TAG_RE.test(s) || DIGEST.test(s);
}

/** Matches the segments after `/v2/` (no trailing empty segment) against one template. */
function matchTemplate(t: (typeof ROUTES)[number], segs: string[]): Route | undefined {
  const tailLen = t.fixed.length + (t.last ? 1 : 0);
  const nameSegs = segs.slice(0, segs.length - tailLen);
  const tail = segs.slice(segs.length - tailLen);
  if (t.named ? !isRepositoryName(nameSegs) : nameSegs.length !== 0 || segs.length < tailLen) return undefined;
  if (!t.fixed.every((f, i) => tail[i] === f)) return undefined;
  const route: { kind: RouteKind; name?: string; reference?: string; digest?: string; uuid?: string } = { kind: t.kind };
  if (t.named) route.name = nameSegs.join('/');
  if (t.last) {
    const v = tail[tail.length - 1]!;
    if (!(t.last.param === 'reference' ? isReference(v) : t.last.re.test(v))) return undefined;
    route[t.last.param] = v;
  }
  return route;
}

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
  if (bare !== '/v2' && !bare.startsWith('/v2/')) return { kind: 'none' };
  const segs = bare === '/v2' ? [] : bare.slice(4).split('/');
  for (const t of ROUTES) {
    const route = matchTemplate(t, segs);
    if (!route) continue;
    if (trailing !== t.slash) return { kind: 'redirect', location: t.slash ? `${bare}/` : bare };
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
  if (r.kind === 'redirect') {
    // The registry would answer 301 and a client may follow it elsewhere: refuse instead of guessing.
    return refuse('unclean-path', `request path "${short(rawPath)}" has empty, "." or ".." segments or a trailing slash the registry rewrites; send it as ${encodePath(r.location)}`);
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
