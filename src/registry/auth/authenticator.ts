/**
 * Per-registry authentication state (protocols.md §5): anonymous, Basic, and Bearer tokens obtained
 * through the `WWW-Authenticate` challenge from the realm (GET with Basic credentials, or the OAuth2
 * POST refresh-token grant with a GET fallback on 400/401/404/405 as containerd does). Tokens are cached
 * per (realm, service, merged scope set) and renewed before they expire. A request is retried at most
 * once after a 401, so a token that lacks scope (`insufficient_scope`) never causes a refresh loop.
 * A realm is used only when the {@link CredentialScope} admits it (configured, or the first one the
 * registry announced); the transport hands this class only challenges from the registry's own origin.
 */
import type { Readable } from 'node:stream';
import { PushgateError } from '../../core/errors.js';
import { RegistryError, redactUrl } from '../errors.js';
import { type Challenge, mergeScopes } from './challenge.js';
import type { Credentials } from './docker-config.js';
import type { CredentialScope } from './credential-scope.js';
import { issuerErrorOf, tokenHint } from './token-errors.js';

/**
 * The minimal HTTP call the authenticator needs (provided by the transport). `credential` is an
 * `Authorization` value the transport sends only to the origin of `url`, and only when the credential
 * scope admits that realm; nothing else is added.
 */
export type AuthSend = (req: {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  credential?: string;
  body?: Buffer;
  op: string;
}) => Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>;

interface CachedToken {
  token: string;
  /** epoch ms after which the token is not used */
  renewAt: number;
}

/** What the transport should do after a 401. */
export interface ChallengeOutcome {
  retry: boolean;
  /** Scopes to request on the retry (the request's plus the challenge's). */
  scopes: string[];
  /** The challenge's `error` parameter (`invalid_token`, `insufficient_scope`). */
  error?: string;
  /** Set when the challenge named a token realm the credential scope refuses: why. */
  refused?: string;
}

/** Options of {@link Authenticator}. */
export interface AuthenticatorOptions {
  /** Registry name for messages. */
  registry: string;
  /** Lazily loaded credentials (config or Docker config.json); may throw BAD_CONFIG. */
  credentials: () => Credentials | undefined;
  /** A static bearer token sent on every request (config `auth.token`). */
  staticToken?: string;
  /** OAuth2 client_id (default `pushgate`). */
  clientId?: string;
  send: AuthSend;
  /** Which token realms may receive the credentials. */
  scope: CredentialScope;
  /** Clock, for tests. */
  now?: () => number;
}

/** Authentication state for one registry. */
export class Authenticator {
  private scheme: 'unknown' | 'none' | 'basic' | 'bearer' = 'unknown';
  private realm?: string;
  private service?: string;
  private readonly tokens = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<CachedToken>>();
  private refreshToken?: string;
  private readonly now: () => number;
  /** Number of token requests made (for tests and metrics). */
  tokenRequests = 0;

  constructor(private readonly opts: AuthenticatorOptions) {
    this.now = opts.now ?? Date.now;
  }

  private basic(): string | undefined {
    const c = this.opts.credentials();
    if (!c?.username || c.password === undefined) return undefined;
    return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
  }

  /**
   * The Authorization header for a request needing `scopes`, or undefined (anonymous / not yet
   * challenged). May fetch a token.
   * @throws RegistryError UNAUTHORIZED when the token server refuses; NETWORK when it is unreachable.
   */
  async header(scopes: string[]): Promise<string | undefined> {
    if (this.opts.staticToken) return `Bearer ${this.opts.staticToken}`;
    const reg = this.opts.credentials()?.registryToken;
    if (reg) return `Bearer ${reg}`;
    if (this.scheme === 'basic') return this.basic();
    if (this.scheme === 'bearer') return `Bearer ${(await this.token(mergeScopes(scopes))).token}`;
    return undefined;
  }

  /**
   * Learns from a 401's challenges. `alreadyRetried` is true when this request was already sent
   * again after a 401: then nothing is retried (no loops).
   */
  onUnauthorized(challenges: Challenge[], scopes: string[], alreadyRetried: boolean): ChallengeOutcome {
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (this.opts.staticToken || this.opts.credentials()?.registryToken) {
      return { retry: false, scopes, error: bearer?.params.error };
    }
    if (bearer && bearer.params.realm) {
      const admitted = this.opts.scope.admitRealm(bearer.params.realm);
      // keep what worked before: a refused realm changes neither the scheme nor the cached tokens
      if (!admitted.ok) return { retry: false, scopes, error: bearer.params.error, refused: admitted.reason };
      this.scheme = 'bearer';
      this.realm = bearer.params.realm;
      this.service = bearer.params.service;
      const merged = mergeScopes([...scopes, ...(bearer.params.scope ? [bearer.params.scope] : [])]);
      // the cached token for these scopes was refused: forget it
      this.tokens.delete(this.key(mergeScopes(scopes)));
      this.tokens.delete(this.key(merged));
      return { retry: !alreadyRetried, scopes: merged, error: bearer.params.error };
    }
    if (basic) {
      const had = this.scheme === 'basic';
      this.scheme = 'basic';
      return { retry: !alreadyRetried && !had && this.basic() !== undefined, scopes };
    }
    return { retry: false, scopes };
  }

  private key(scopes: string[]): string {
    return `${this.realm}|${this.service ?? ''}|${scopes.join(' ')}`;
  }

  private async token(scopes: string[]): Promise<CachedToken> {
    const key = this.key(scopes);
    const cached = this.tokens.get(key);
    if (cached && cached.renewAt > this.now()) return cached;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetchToken(scopes).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    const t = await p;
    this.tokens.set(key, t);
    return t;
  }

  private async fetchToken(scopes: string[]): Promise<CachedToken> {
    const realm = this.realm as string;
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      throw new RegistryError('UNAUTHORIZED', `registry ${this.opts.registry}: token realm "${realm}" is not a URL`, { url: realm });
    }
    const clientId = this.opts.clientId ?? 'pushgate';
    const creds = this.opts.credentials();
    const refresh = this.refreshToken ?? creds?.identityToken;
    this.tokenRequests++;
    if (refresh) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh, client_id: clientId });
      if (this.service) form.set('service', this.service);
      if (scopes.length) form.set('scope', scopes.join(' '));
      // the refresh token travels in the body: only to an admitted realm, like the password
      if (!this.opts.scope.isAdmittedRealm(realmUrl.toString())) throw this.notAdmitted(realmUrl);
      const r = await this.opts.send({
        method: 'POST',
        url: realmUrl.toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(form.toString()),
        op: 'POST token',
      });
      if (r.status === 200) return this.parseTokenResponse(r.body, realmUrl.toString());
      // Harbor answers POST with 405; containerd falls back to GET on 400/401/404/405
      if (![400, 401, 404, 405].includes(r.status)) throw this.tokenError(r.status, realmUrl.toString(), r.body);
    }
    const u = new URL(realmUrl);
    if (this.service) u.searchParams.set('service', this.service);
    for (const s of scopes) u.searchParams.append('scope', s);
    u.searchParams.set('client_id', clientId);
    const b = this.basic();
    if (b && !this.opts.scope.isAdmittedRealm(u.toString())) throw this.notAdmitted(realmUrl);
    const r = await this.opts.send({ method: 'GET', url: u.toString(), headers: {}, credential: b, op: 'GET token' });
    if (r.status !== 200) throw this.tokenError(r.status, u.toString(), r.body);
    return this.parseTokenResponse(r.body, u.toString());
  }

  private notAdmitted(realm: URL): RegistryError {
    return new RegistryError('FORBIDDEN', `registry ${this.opts.registry}: token realm ${realm.origin} is not admitted: credentials not sent`, { url: redactUrl(realm.toString()) });
  }

  private tokenError(status: number, url: string, body: Buffer): RegistryError {
    const auth = status === 401 || status === 403;
    const issuer = issuerErrorOf(body);
    const text = body.toString('utf8').slice(0, 200).replace(/\s+/g, ' ').trim();
    return new RegistryError(
      auth ? 'UNAUTHORIZED' : 'REGISTRY',
      `registry ${this.opts.registry}: token request to ${redactUrl(url.split('?')[0])}: ${status}` +
        (issuer ? ` ${issuer.text}` : '') +
        (auth ? `: the token issuer refused pushgate's credentials; ${tokenHint(issuer?.code)}` : '') +
        (text && !auth && !issuer ? `: ${text}` : ''),
      { status, url: redactUrl(url), registryCodes: issuer ? [issuer.code] : [], retryable: status === 429 || status >= 500 },
    );
  }

  private parseTokenResponse(body: Buffer, url: string): CachedToken {
    let j: Record<string, unknown>;
    try {
      j = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      // no cause: a JSON parser's message quotes the body, and this body may hold a token
      throw new RegistryError('REGISTRY', `registry ${this.opts.registry}: token response is not JSON`, { url: redactUrl(url) });
    }
    const token = (typeof j.token === 'string' && j.token) || (typeof j.access_token === 'string' && j.access_token);
    if (!token) {
      throw new RegistryError('REGISTRY', `registry ${this.opts.registry}: token response has neither "token" nor "access_token"`, {
        url: redactUrl(url),
      });
    }
    if (typeof j.refresh_token === 'string' && j.refresh_token) this.refreshToken = j.refresh_token;
    // expires_in defaults to 60 s and is never taken below 60 s (token.md)
    const expiresIn = Math.max(typeof j.expires_in === 'number' && j.expires_in > 0 ? j.expires_in : 60, 60) * 1000;
    let start = this.now();
    const issued = typeof j.issued_at === 'string' ? Date.parse(j.issued_at) : NaN;
    // trust issued_at only when the clocks agree within a minute
    if (Number.isFinite(issued) && Math.abs(issued - start) < 60_000) start = Math.min(start, issued);
    const margin = Math.min(30_000, expiresIn * 0.1);
    return { token, renewAt: start + expiresIn - margin };
  }
}

/** Reads a stream fully (used for small bodies). */
export async function readAll(stream: Readable, limit = Infinity): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(c as string);
    n += b.length;
    if (n > limit) {
      stream.destroy();
      throw new PushgateError('SIZE_MISMATCH', `body larger than ${limit} bytes`);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

