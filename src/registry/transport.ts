/**
 * The HTTP layer of the registry client: authentication (via {@link Authenticator}), retries with
 * exponential backoff and full jitter on network errors, 408/429 (honouring `Retry-After`) and 5xx,
 * never on other 4xx; a per-request timeout and a per-operation deadline; a concurrency limit per
 * registry; redirects followed by hand, hop by hop, so the registry's `Authorization` (and client
 * certificate) reach only the registry's origin and a realm's credential only that realm
 * ({@link CredentialScope}; distribution-spec "Pulling blobs", protocols.md §4.4). A 401 is
 * answered with credentials only when the registry's own origin sent it.
 *
 * Every response body is read as a stream (axios `responseType: 'stream'`); buffered bodies are
 * size-limited while reading. The axios instance is created in client.ts (the project's only axios
 * importer) and handed in.
 */
import { Readable } from 'node:stream';
import type http from 'node:http';
import type https from 'node:https';
import type { AxiosInstance, AxiosResponse } from 'axios';
import { PushgateError } from '../core/errors.js';
import { Limiter } from './limiter.js';
import { RegistryError, codeForStatus, isRetryableStatus, parseErrorBody, redactUrl } from './errors.js';
import { parseChallenges } from './auth/challenge.js';
import { tokenHint } from './auth/token-errors.js';
import type { Authenticator } from './auth/authenticator.js';
import { checkRedirect, originOf, type CredentialScope } from './auth/credential-scope.js';

/** Response headers as Node gives them (lower-case names). */
export type Headers = Record<string, string | string[] | undefined>;

/** One logical request. */
export interface TransportRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /** Absolute URL. */
  url: string;
  /** For messages: `GET manifest team/app:1.0`. */
  op: string;
  /** Token scopes this request needs (`repository:team/app:pull`). */
  scopes: string[];
  headers?: Record<string, string>;
  /** A Buffer, or a factory returning a fresh stream per attempt (retries re-open it). */
  body?: Buffer | (() => Readable);
  /** Statuses that count as success (the body is returned to the caller). */
  ok: number[];
  /** Return the body as a stream (else buffered). */
  stream?: boolean;
  /** Buffered bodies larger than this fail with SIZE_MISMATCH (bytes). */
  maxBytes?: number;
  /** Override the client's retry count. */
  retries?: number;
  /** Operation deadline (epoch ms); default now + operationTimeoutMs. */
  deadline?: number;
  /** Do not take a concurrency slot (the caller holds one for this transfer). */
  noLimit?: boolean;
  /** Send none of the registry's credentials and answer no 401 (token endpoint calls). */
  noAuth?: boolean;
  /**
   * An `Authorization` value for a token realm (with `noAuth`): sent only to the origin of `url`, and
   * only when the credential scope admits that realm. An `authorization` in `headers` is never sent.
   */
  credential?: string;
}

/** A successful (per `ok`) response. */
export interface TransportResponse {
  status: number;
  headers: Headers;
  /** Final URL after redirects. */
  url: string;
  /** True when the answer came from another origin than the request's (a redirect left it). */
  foreign: boolean;
  body?: Buffer;
  stream?: Readable;
}

/** Transport settings (see RegistryClientOptions for the user-facing ones). */
export interface TransportOptions {
  name: string;
  /** Where the registry's credentials may go. */
  scope: CredentialScope;
  userAgent: string;
  timeoutMs: number;
  operationTimeoutMs: number;
  retries: number;
  retryBaseMs: number;
  retryMaxMs: number;
  concurrency: number;
  maxRedirects: number;
  axios: AxiosInstance;
  /** Agents for the registry origin. */
  agents: { http: http.Agent; https: https.Agent };
  /** Agents for any other origin (storage redirects, token realms): no client certificate. */
  foreignAgents: { http: http.Agent; https: https.Agent };
  onRequest?: (e: { method: string; code: number | 'error' }) => void;
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Parses `Retry-After` (seconds or an HTTP date) into ms; undefined when absent or unreadable. */
export function parseRetryAfter(v: string | string[] | undefined, now = Date.now()): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return undefined;
  if (/^\s*\d+\s*$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  return Number.isFinite(t) ? Math.max(0, t - now) : undefined;
}

/** Full-jitter exponential backoff: uniform in [base·2^attempt / 2, base·2^attempt], capped. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, rand = Math.random): number {
  const ceil = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.round(ceil / 2 + (rand() * ceil) / 2);
}

/** The first value of a header. */
export function header(h: Headers, name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** An `Authorization` value and the one origin it may be sent to. */
interface Credential {
  header: string;
  origin: string;
}

/** One exchange's answer, its body not yet read. */
interface Exchanged {
  status: number;
  headers: Headers;
  stream: Readable;
  /** The URL that answered. */
  url: string;
  /** True when a redirect took the request off its first origin. */
  foreign: boolean;
  abort: () => void;
  clearTimer: () => void;
}

/**
 * What a TLS verification failure tells the operator of a configured registry. `pushgate scan` of a
 * registry the configuration does not name replaces it (src/cli/registry-client.ts `withTlsHint`).
 */
export const TLS_CONFIG_HINT = "set registries[].ca to the registry's CA bundle, or insecure: true to skip verification";

/** HTTP transport of one registry. */
export class Transport {
  readonly limiter: Limiter;
  auth!: Authenticator;

  constructor(readonly opts: TransportOptions) {
    this.limiter = new Limiter(opts.concurrency);
  }

  /** A RegistryError for a network failure. */
  private networkError(req: TransportRequest, url: string, err: unknown): RegistryError {
    const e = err as { code?: string; message?: string };
    const tlsError = !!e.code && /^(CERT_|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|ERR_TLS|ERR_SSL|HOSTNAME_MISMATCH|ERR_CERT)/.test(e.code);
    let what = e.code === 'ERR_CANCELED' || e.code === 'ETIMEDOUT_REQ' ? `no answer within ${this.opts.timeoutMs} ms` : (e.code ?? e.message ?? String(err));
    // where it tried (scheme, host, port; never credentials or the path): "ECONNREFUSED" alone leaves
    // the operator to look up which address the registry's name stands for
    let origin = '';
    try {
      origin = ` (${new URL(url).origin})`;
    } catch { /* an unparsable URL fails before any connection; nothing to add */ }
    what += origin;
    if (tlsError) what += `: TLS verification failed (${e.message}); ${TLS_CONFIG_HINT}`;
    // a certificate problem does not go away by retrying
    return new RegistryError('NETWORK', `registry ${this.opts.name}: ${req.op}: ${what}`, {
      url: redactUrl(url),
      retryable: !tlsError,
      cause: err,
    });
  }

  /**
   * Sends a request with auth, retries, redirects and deadlines.
   * @throws RegistryError for a status outside `ok` (codes from the body), NETWORK after the last
   *   retry, or when the operation deadline passes.
   */
  async send(req: TransportRequest): Promise<TransportResponse> {
    const deadline = req.deadline ?? Date.now() + this.opts.operationTimeoutMs;
    const retries = req.retries ?? this.opts.retries;
    let scopes = req.scopes;
    let attempt = 0;
    let authRetried = false;
    for (;;) {
      const release = req.noLimit ? () => {} : await this.limiter.acquire();
      let res: Exchanged;
      try {
        const headers: Record<string, string> = { 'user-agent': this.opts.userAgent, 'accept-encoding': 'identity' };
        // the only way an Authorization is sent is below, bound to the origin it was made for
        for (const [k, v] of Object.entries(req.headers ?? {})) if (k.toLowerCase() !== 'authorization') headers[k] = v;
        let credential: Credential | undefined;
        if (!req.noAuth) {
          if (this.opts.scope.isRegistry(req.url)) {
            const a = await this.auth.header(scopes);
            if (a) credential = { header: a, origin: this.opts.scope.registryOrigin };
          }
        } else if (req.credential) {
          if (!this.opts.scope.isAdmittedRealm(req.url)) {
            throw new RegistryError('FORBIDDEN', `registry ${this.opts.name}: ${req.op}: ${originOf(req.url) ?? 'this URL'} is not an admitted token realm: credentials not sent`, { url: redactUrl(req.url) });
          }
          credential = { header: req.credential, origin: originOf(req.url) as string };
        }
        const home = req.noAuth ? originOf(req.url) : this.opts.scope.registryOrigin;
        res = await this.exchange(req, headers, home, credential, deadline);
      } catch (err) {
        release();
        if (err instanceof RegistryError && err.code !== 'NETWORK') throw err;
        if (err instanceof PushgateError && !(err instanceof RegistryError)) throw err;
        this.opts.onRequest?.({ method: req.method, code: 'error' });
        const netErr = err instanceof RegistryError ? err : this.networkError(req, req.url, err);
        if (!netErr.retryable) throw netErr;
        const delay = backoffDelay(attempt, this.opts.retryBaseMs, this.opts.retryMaxMs);
        if (attempt < retries && Date.now() + delay < deadline) {
          attempt++;
          await sleep(delay);
          continue;
        }
        throw netErr;
      }
      this.opts.onRequest?.({ method: req.method, code: res.status });
      const { status } = res;
      if (status === 401 && !req.noAuth && res.foreign) {
        // a challenge from a host the registry redirected to: answering it would hand that host the
        // registry's password, or make pushgate carry its token back to the registry
        res.stream.resume();
        res.clearTimer();
        release();
        throw this.foreignChallengeError(req, res.url, res.headers);
      }
      if (status === 401 && !req.noAuth) {
        const outcome = this.auth.onUnauthorized(parseChallenges(res.headers['www-authenticate']), scopes, authRetried);
        if (outcome.refused) {
          res.stream.resume();
          res.clearTimer();
          release();
          throw new RegistryError('FORBIDDEN', `registry ${this.opts.name}: ${req.op}: token realm refused: ${outcome.refused}`, { status, url: redactUrl(res.url) });
        }
        if (outcome.retry) {
          res.stream.resume();
          res.clearTimer();
          release();
          authRetried = true;
          scopes = outcome.scopes;
          continue;
        }
      }
      if (req.ok.includes(status)) {
        if (req.stream) {
          res.clearTimer();
          return { status, headers: res.headers, url: res.url, foreign: res.foreign, stream: this.guardStream(res.stream, release, res.abort, req) };
        }
        try {
          // a HEAD body must still be consumed, or its keep-alive socket never returns to the pool
          const body = await this.readBody(res.stream, req.method === 'HEAD' ? { ...req, maxBytes: 64 * 1024 } : req, res.url);
          return { status, headers: res.headers, url: res.url, foreign: res.foreign, body };
        } catch (err) {
          if (err instanceof RegistryError && err.code === 'NETWORK' && attempt < retries && Date.now() < deadline) {
            attempt++;
            await sleep(backoffDelay(attempt, this.opts.retryBaseMs, this.opts.retryMaxMs));
            continue;
          }
          throw err;
        } finally {
          res.clearTimer();
          release();
        }
      }
      // error status: read a bounded error body
      let errBody: Buffer = Buffer.alloc(0);
      try {
        errBody = await this.readBody(res.stream, { ...req, maxBytes: 64 * 1024 }, res.url);
      } catch {
        /* an unreadable error body is not the error */
      } finally {
        res.clearTimer();
        release();
      }
      const retryable = isRetryableStatus(status);
      if (retryable && attempt < retries) {
        const ra = status === 429 || status === 503 ? parseRetryAfter(res.headers['retry-after']) : undefined;
        const delay = ra ?? backoffDelay(attempt, this.opts.retryBaseMs, this.opts.retryMaxMs);
        if (Date.now() + delay < deadline) {
          attempt++;
          await sleep(delay);
          continue;
        }
      }
      throw this.statusError(req, res.url, status, res.headers, errBody, retryable);
    }
  }

  /** The error for a 401 that a host other than the registry answered after a redirect. */
  private foreignChallengeError(req: TransportRequest, url: string, headers: Headers): RegistryError {
    const schemes = [...new Set(parseChallenges(headers['www-authenticate']).map((c) => c.scheme))];
    const from = originOf(url) ?? 'another host';
    if (from === this.opts.scope.registryOrigin) {
      return new RegistryError(
        'FORBIDDEN',
        `registry ${this.opts.name}: ${req.op}: the registry answered 401 to a request a redirect through another host brought back; credentials are not sent once a redirect left the registry's origin (${from})`,
        { status: 401, url: redactUrl(url) },
      );
    }
    return new RegistryError(
      'FORBIDDEN',
      `registry ${this.opts.name}: ${req.op}: ${from}, which is not the registry's origin (a redirect or link led there), answered 401` +
        (schemes.length ? ` (${schemes.join(', ')} challenge)` : '') +
        `; pushgate sends the registry's credentials only to ${this.opts.scope.registryOrigin} and its token realm, so storage behind a redirect must accept the request as it is (a pre-signed URL); fix the registry's storage redirect, or turn it off (Distribution: storage.redirect.disable: true)`,
      { status: 401, url: redactUrl(url) },
    );
  }

  /** Builds the RegistryError for an unexpected status. */
  statusError(req: TransportRequest, url: string, status: number, headers: Headers, body: Buffer, retryable = isRetryableStatus(status)): RegistryError {
    const entries = parseErrorBody(body);
    const codes = entries.map((e) => e.code);
    let detail = entries.map((e) => (e.message ? `${e.code}: ${e.message}` : e.code)).join('; ');
    // The challenge's error (RFC 6750 §3: invalid_token, insufficient_scope) says what the registry
    // thought of the token it was shown: named even when the body has its own codes.
    const challengeError = parseChallenges(headers['www-authenticate']).find((c) => c.params.error)?.params.error;
    if (challengeError && !detail.includes(challengeError)) detail = detail ? `${detail} (${challengeError})` : challengeError;
    if (challengeError) codes.push(challengeError);
    if (status === 401 && !codes.length) codes.push('UNAUTHORIZED');
    let hint = '';
    if (status === 401) hint = `: ${tokenHint(challengeError ?? entries[0]?.code)}`;
    else if (status === 403) hint = ': the credentials lack permission for this operation';
    else if (status === 429) hint = ': rate limited; retry later';
    const ra = parseRetryAfter(headers['retry-after']);
    return new RegistryError(codeForStatus(status), `registry ${this.opts.name}: ${req.op}: ${status}${detail ? ` ${detail}` : ''}${hint}`, {
      status,
      registryCodes: codes,
      url: redactUrl(url),
      retryable,
      details: ra !== undefined ? { retryAfterMs: ra } : undefined,
    });
  }

  private async readBody(stream: Readable, req: TransportRequest, url: string): Promise<Buffer> {
    const limit = req.maxBytes ?? 64 * 1024 * 1024;
    const chunks: Buffer[] = [];
    let n = 0;
    try {
      for await (const c of stream) {
        const b = c as Buffer;
        n += b.length;
        if (n > limit) {
          stream.destroy();
          throw new RegistryError('SIZE_MISMATCH', `registry ${this.opts.name}: ${req.op}: body larger than the ${limit}-byte limit`, {
            url: redactUrl(url),
            // The same bytes are over the same limit on every try: callers tell this apart from a short read.
            details: { overLimitBytes: limit },
          });
        }
        chunks.push(b);
      }
    } catch (err) {
      if (err instanceof RegistryError) throw err;
      throw this.networkError(req, url, err);
    }
    return Buffer.concat(chunks);
  }

  /**
   * Frees the concurrency slot when the body ends, errors or is destroyed, and aborts when no byte
   * arrives for `timeoutMs` (an idle timeout: large blobs may take longer than any fixed deadline).
   */
  private guardStream(src: Readable, release: () => void, abort: () => void, req: TransportRequest): Readable {
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        abort();
        src.destroy(
          new RegistryError('NETWORK', `registry ${this.opts.name}: ${req.op}: no data for ${this.opts.timeoutMs} ms`, {
            url: redactUrl(req.url),
            retryable: true,
          }),
        );
      }, this.opts.timeoutMs);
      timer.unref?.();
    };
    const done = () => {
      if (timer) clearTimeout(timer);
      release();
    };
    arm();
    src.on('data', arm);
    src.once('end', done);
    src.once('close', done);
    src.once('error', done);
    return src;
  }

  /**
   * One exchange, following redirects by hand. The response stream is not yet consumed.
   * `home` is the origin the request belongs to (the registry's, or a realm's); `credential` goes on
   * a hop only while every hop so far was on that origin ({@link CredentialScope}).
   */
  private async exchange(req: TransportRequest, headers: Record<string, string>, home: string | undefined, credential: Credential | undefined, deadline: number): Promise<Exchanged> {
    let url = req.url;
    let method = req.method;
    // false from the first hop off `home` on, even if a later redirect comes back
    let stayed = true;
    for (let hop = 0; ; hop++) {
      const hopOrigin = originOf(url);
      if (hopOrigin === undefined || hopOrigin !== home) stayed = false;
      const h: Record<string, string> = { ...headers };
      if (credential && stayed && hopOrigin === credential.origin) h.authorization = credential.header;
      const ctrl = new AbortController();
      const ms = Math.max(1, Math.min(this.opts.timeoutMs, deadline - Date.now()));
      if (deadline - Date.now() <= 0) {
        throw new RegistryError('NETWORK', `registry ${this.opts.name}: ${req.op}: operation deadline passed`, { url: redactUrl(url), retryable: true });
      }
      const timer = setTimeout(() => ctrl.abort(), ms);
      // the client certificate, too, is presented to the registry only
      const agents = hopOrigin === this.opts.scope.registryOrigin ? this.opts.agents : this.opts.foreignAgents;
      let data: Buffer | Readable | undefined;
      if (req.body && hop === 0) data = Buffer.isBuffer(req.body) ? req.body : req.body();
      let r: AxiosResponse<Readable>;
      try {
        r = await this.opts.axios.request<Readable>({
          method,
          url,
          headers: h,
          data,
          responseType: 'stream',
          validateStatus: () => true,
          maxRedirects: 0,
          decompress: false,
          signal: ctrl.signal,
          httpAgent: agents.http,
          httpsAgent: agents.https,
          maxBodyLength: Infinity,
          maxContentLength: Infinity,
          proxy: false,
          transformRequest: [(d: unknown) => d],
        });
      } catch (err) {
        clearTimeout(timer);
        if (data instanceof Readable) data.destroy();
        const code = (err as { code?: string }).code;
        if (code === 'ERR_CANCELED') throw this.networkError(req, url, Object.assign(new Error('timeout'), { code: 'ETIMEDOUT_REQ' }));
        if (code && (NETWORK_CODES.has(code) || code.startsWith('E'))) throw this.networkError(req, url, err);
        throw this.networkError(req, url, err);
      }
      const status = r.status;
      const rh = r.headers as unknown as Headers;
      const loc = header(rh, 'location');
      if ([301, 302, 303, 307, 308].includes(status) && loc && !req.ok.includes(status)) {
        r.data.resume();
        clearTimeout(timer);
        if (hop >= this.opts.maxRedirects) {
          throw new RegistryError('REGISTRY', `registry ${this.opts.name}: ${req.op}: more than ${this.opts.maxRedirects} redirects`, {
            status,
            url: redactUrl(url),
          });
        }
        const next = checkRedirect(url, loc, method);
        if (!next.ok) {
          throw new RegistryError('FORBIDDEN', `registry ${this.opts.name}: ${req.op}: not followed: ${next.reason}`, { status, url: redactUrl(url) });
        }
        if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) method = 'GET';
        url = next.url;
        continue;
      }
      const stream = r.data;
      return {
        status,
        headers: rh,
        stream,
        url,
        foreign: !stayed,
        abort: () => ctrl.abort(),
        clearTimer: () => clearTimeout(timer),
      };
    }
  }
}

