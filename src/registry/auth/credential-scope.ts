/**
 * Where a registry's credentials may go: the one place that decides it (STYLE.md habit 14).
 *
 * - The registry's `Authorization` (Basic password, bearer token from its realm, a static token) goes
 *   only to the registry's own origin: scheme, host and port of `registries[].url`, compared as the
 *   WHATWG URL parser normalizes them (lower-case host, default port dropped, IPv4 in any numeric
 *   spelling made dotted-decimal, IPv6 compressed). `localhost`, `[::1]`, aliases and a host with a
 *   trailing dot are other origins: a redirect there goes without credentials.
 * - The Basic password (or an OAuth2 refresh token) goes to a token realm only when the realm is
 *   listed in `registries[].auth.realms`, or, when that list is absent, when it is the realm the
 *   registry's own origin announced first in a `WWW-Authenticate` challenge (trust on first use, pinned
 *   for the life of the client: the gate keeps one client per registry per process). A later challenge
 *   naming a realm on another origin is refused: an answer that can change the realm could otherwise
 *   collect the password. An announced realm must be https, except that a plain-http registry on
 *   loopback (the lab) may announce an http realm on loopback.
 * - Once a redirect chain leaves the origin a credential was made for, no later hop carries it, not
 *   even a hop back to that origin (the foreign host chose that URL). https → http redirects are
 *   refused, as are redirects to other schemes or to URLs carrying user info, and cross-origin
 *   redirects of requests other than GET and HEAD (Distribution only redirects blob reads).
 *
 * Stricter than Go's net/http (which keeps `Authorization` across ports of one host and into
 * subdomains) on purpose: a registry's storage or CDN never needs the registry's credentials
 * (distribution-spec "Pulling blobs": the redirect target is a pre-signed URL).
 */
import { PushgateError } from '../../core/errors.js';

/** `scheme://host[:port]` of an http(s) URL, normalized; undefined for anything else. */
export function originOf(url: string | URL): string | undefined {
  try {
    const u = typeof url === 'string' ? new URL(url) : url;
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
    return u.origin;
  } catch {
    return undefined;
  }
}

/** True for loopback hosts as the URL parser writes them: 127.0.0.0/8, `[::1]`, `localhost`. */
export function isLoopbackHostname(hostname: string): boolean {
  return /^127\.\d+\.\d+\.\d+$/.test(hostname) || hostname === '[::1]' || hostname === 'localhost';
}

/** The answer of {@link CredentialScope.admitRealm}. */
export type RealmDecision = { ok: true; origin: string } | { ok: false; reason: string };

/** The answer of {@link checkRedirect}: the next URL, or why it is refused. */
export type RedirectDecision = { ok: true; url: string } | { ok: false; reason: string };

/**
 * Decides whether a redirect may be followed (see the module comment for the rules).
 * @param from the URL that answered with the redirect.
 * @param location the `Location` header, resolved against `from`.
 * @param method the request method.
 */
export function checkRedirect(from: string, location: string, method: string): RedirectDecision {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    return { ok: false, reason: `redirect to "${location.slice(0, 200)}", which is not a URL` };
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') return { ok: false, reason: `redirect to a ${next.protocol} URL (only http and https are followed)` };
  if (next.username || next.password) return { ok: false, reason: `redirect to ${next.origin} with user info in the URL` };
  const prev = new URL(from);
  if (prev.protocol === 'https:' && next.protocol === 'http:') return { ok: false, reason: `redirect from https to plain http (${next.origin}): a downgrade is never followed` };
  if (next.origin !== prev.origin && method !== 'GET' && method !== 'HEAD') return { ok: false, reason: `${method} redirected to another origin (${next.origin})` };
  return { ok: true, url: next.toString() };
}

/** Credential scope of one registry. */
export class CredentialScope {
  /** The registry's origin, normalized. */
  readonly registryOrigin: string;
  private readonly registryUrl: URL;
  /** Origins of configured realms, or undefined when trust on first use applies. */
  private readonly configured?: ReadonlySet<string>;
  /** The realm origin pinned by the first challenge (trust on first use). */
  private pinned?: string;

  /**
   * @param registryName for messages (`registries[].name`).
   * @param registryUrl `registries[].url`.
   * @param realms `registries[].auth.realms`: token realm URLs (or origins) allowed to receive the credentials.
   * @throws PushgateError BAD_CONFIG for a realm that is not an http(s) URL, or an http realm of an https registry.
   */
  constructor(
    readonly registryName: string,
    registryUrl: string,
    realms?: string[],
  ) {
    const o = originOf(registryUrl);
    if (!o) throw new PushgateError('BAD_CONFIG', `registries[${registryName}].url "${registryUrl}" is not an http(s) URL`);
    this.registryOrigin = o;
    this.registryUrl = new URL(registryUrl);
    if (realms) {
      const set = new Set<string>();
      for (const r of realms) {
        const ro = originOf(r);
        if (!ro) throw new PushgateError('BAD_CONFIG', `registries[${registryName}].auth.realms: "${r}" is not an http(s) URL: write the token endpoint, e.g. https://auth.example.test/token`);
        if (this.registryUrl.protocol === 'https:' && ro.startsWith('http:')) {
          throw new PushgateError('BAD_CONFIG', `registries[${registryName}].auth.realms: "${r}" is plain http for an https registry; the password would cross the network in clear: use https`);
        }
        set.add(ro);
      }
      this.configured = set;
    }
  }

  /** True when the registry's `Authorization` may be sent to `url` (its origin is the registry's). */
  isRegistry(url: string): boolean {
    return originOf(url) === this.registryOrigin;
  }

  /** True when the realm credential (Basic password, refresh token) may be sent to `url`. */
  isAdmittedRealm(url: string): boolean {
    const o = originOf(url);
    if (!o) return false;
    return this.configured ? this.configured.has(o) : this.pinned === o;
  }

  /** The pinned or configured realms, for messages. */
  private knownRealms(): string {
    return this.configured ? [...this.configured].join(', ') || '(none)' : (this.pinned ?? '(none)');
  }

  /**
   * Decides about a realm announced by the registry's own origin in a `WWW-Authenticate` challenge.
   * Admitting the first announced realm pins it. Call only for challenges from the registry origin.
   */
  admitRealm(realm: string): RealmDecision {
    let u: URL;
    try {
      u = new URL(realm);
    } catch {
      return { ok: false, reason: `the registry announced token realm "${realm.slice(0, 200)}", which is not a URL` };
    }
    const o = originOf(u);
    if (!o) return { ok: false, reason: `the registry announced token realm ${u.protocol} URL; only http(s) realms are used` };
    if (u.username || u.password) return { ok: false, reason: `the registry announced token realm ${o} with user info in the URL` };
    const key = `registries[${this.registryName}].auth.realms`;
    if (this.configured) {
      if (this.configured.has(o)) return { ok: true, origin: o };
      return { ok: false, reason: `the registry announced token realm ${o}, which is not in ${key} (${this.knownRealms()}); add it there if that server is the registry's token service` };
    }
    if (this.pinned) {
      if (this.pinned === o) return { ok: true, origin: o };
      return {
        ok: false,
        reason: `the registry announced token realm ${o}, but its first announced realm was ${this.pinned}; pushgate keeps the first realm for the life of the process: list the new realm in ${key} (and restart) if the move is intended`,
      };
    }
    if (u.protocol === 'http:') {
      const labLoopback = this.registryUrl.protocol === 'http:' && isLoopbackHostname(this.registryUrl.hostname) && isLoopbackHostname(u.hostname);
      if (!labLoopback) {
        return { ok: false, reason: `the registry announced token realm ${o} over plain http; the password would cross the network in clear: serve the token endpoint over https, or list it in ${key}` };
      }
    }
    this.pinned = o;
    return { ok: true, origin: o };
  }
}
