/**
 * Streaming pass-through to the upstream registry (RFC 9110 §7.6 proxies). The client's claims
 * about where a request comes from (X-Forwarded-*, Forwarded, X-Real-IP) never reach the registry.
 *
 * Bodies are piped both ways with backpressure, never buffered: blob uploads (monolithic,
 * chunked `PATCH`, `PUT ?digest=`), `Range` reads and large bodies cost the proxy one socket
 * buffer. End-to-end headers (Authorization, Content-Range, Range, WWW-Authenticate, …) pass
 * unchanged; hop-by-hop headers (RFC 9110 §7.6.1, plus those named in `Connection`) are dropped.
 * A request body's framing (`Content-Length`, `Transfer-Encoding`) is set from the parsed message,
 * never copied or dropped, so no body reaches the registry as a request of its own.
 * `Location` headers that point at the upstream's origin are made relative, so clients keep
 * talking to the proxy.
 */
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import { pipeline } from 'node:stream';
import type { RegistryConfig } from '../config/types.js';
import { PushgateError } from '../core/errors.js';
import { sendRegistryError } from './errors.js';

/** Headers that belong to one connection, never forwarded (RFC 9110 §7.6.1 + legacy ones). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Stream buffer size for bodies (bytes): larger reads mean fewer chunks per blob. */
export const STREAM_HWM = 1 << 20;

/** The upstream registry as the proxy reaches it. */
export interface Upstream {
  /** Base URL (`http://127.0.0.1:5000`); only its origin is used. */
  url: URL;
  /** `host[:port]` of the upstream, sent as `Host`. */
  host: string;
  agent: http.Agent;
  /**
   * Idle socket timeout (ms) on upstream requests (`registries[].timeoutMs`, 60 s when unset): no
   * byte either way for this long → 504 / reset. An idle limit, not a total: large blobs may take longer.
   */
  idleTimeoutMs: number;
}

/**
 * Builds the upstream from the configured registry: keep-alive agent, TLS options (`ca`,
 * `clientCert`/`clientKey`, `insecure`) for an https:// URL.
 * @throws PushgateError BAD_CONFIG when a TLS file cannot be read.
 */
export function makeUpstream(reg: RegistryConfig): Upstream {
  const url = new URL(reg.url);
  const common = { keepAlive: true, maxSockets: Math.max(16, reg.concurrency * 4 || 64), scheduling: 'lifo' as const };
  let agent: http.Agent;
  if (url.protocol === 'https:') {
    const read = (p: string | undefined, key: string): Buffer | undefined => {
      if (!p) return undefined;
      try {
        return fs.readFileSync(p);
      } catch (err) {
        throw new PushgateError('BAD_CONFIG', `registries[${reg.name}].${key}: cannot read ${p}: ${(err as Error).message}`, { cause: err });
      }
    };
    agent = new https.Agent({
      ...common,
      ca: read(reg.ca, 'ca'),
      cert: read(reg.clientCert, 'clientCert'),
      key: read(reg.clientKey, 'clientKey'),
      rejectUnauthorized: !reg.insecure,
    });
  } else {
    agent = new http.Agent(common);
  }
  return { url, host: url.host, agent, idleTimeoutMs: reg.timeoutMs > 0 ? reg.timeoutMs : 60_000 };
}

/**
 * Request headers a client may send to make a server believe something about where the request
 * came from or what it is. Distribution builds the URLs of its answers and notifications
 * (`target.url`, `request.host`, `request.addr`) from `X-Forwarded-Proto`/`-Host`, `Forwarded` and
 * `X-Real-IP`/`X-Forwarded-For` (registry/api/v2/urls.go, context/http.go); from a pusher they are
 * claims, so they never reach the registry. Any `x-forwarded-*` is dropped too.
 */
const CLIENT_CLAIMS = new Set(['forwarded', 'x-real-ip', 'x-client-ip', 'true-client-ip', 'x-original-url', 'x-rewrite-url', 'x-http-method-override', 'x-http-method', 'x-method-override']);

/** Whether `lower` (a lower-case header name) is a client's claim about the request, never forwarded. */
export function isClientClaimHeader(lower: string): boolean {
  return lower.startsWith('x-forwarded-') || CLIENT_CLAIMS.has(lower);
}

/** Headers that frame a request body: set from the message Node's parser framed, never copied or dropped. */
const FRAMING = new Set(['content-length', 'transfer-encoding']);

/**
 * The framing of `req`'s body for the upstream request, as Node's parser read it (RFC 9112 §6):
 * `Transfer-Encoding` as the client sent it when the body was chunked (Node takes it only with
 * `chunked` last; Go answers 501 to any other coding), else its `Content-Length`, else nothing (no
 * body). Node's client re-chunks a streamed body by default only for methods it expects a body on:
 * without this, a GET, HEAD, DELETE or OPTIONS body, or any body whose `Content-Length` the client
 * named in `Connection`, went upstream raw after a request without a length, and the registry read
 * those bytes as a next request the proxy never saw (a manifest PUT landing unjudged).
 */
export function bodyFraming(req: http.IncomingMessage): string[] {
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) return ['Transfer-Encoding', te];
  const length = req.headers['content-length'];
  return length !== undefined ? ['Content-Length', length] : [];
}

/**
 * Request headers for the upstream, as a raw `[name, value, …]` list (repeats kept): hop-by-hop,
 * `Host` and every client claim about the request's origin ({@link isClientClaimHeader}) dropped;
 * `Host` set to the upstream and `X-Forwarded-For` to the connected peer's address, which the
 * proxy knows. No `X-Forwarded-Host`/`-Proto`: the registry then builds its URLs (Location,
 * notification `target.url`) from its own configured address, which the proxy rewrites back for
 * the client ({@link rewriteLocation}). `override` replaces headers by lower-case name (e.g.
 * `content-length` of a re-sent body).
 */
export function upstreamRequestHeaders(
  req: http.IncomingMessage,
  up: Upstream,
  override: Record<string, string> = {},
): string[] {
  const drop = new Set(HOP_BY_HOP);
  for (const name of (req.headers.connection ?? '').split(',')) if (name.trim()) drop.add(name.trim().toLowerCase());
  const out: string[] = ['Host', up.host];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (drop.has(lower) || FRAMING.has(lower) || lower === 'host' || lower in override || isClientClaimHeader(lower)) continue;
    out.push(name, raw[i + 1]!);
  }
  if (!('content-length' in override)) out.push(...bodyFraming(req));
  out.push('X-Forwarded-For', req.socket.remoteAddress ?? 'unknown');
  for (const [k, v] of Object.entries(override)) out.push(k, v);
  return out;
}

/**
 * Rewrites an upstream `Location` that points at the upstream's origin to a relative reference
 * (path, query, fragment), which the client resolves against the proxy URL it used (RFC 9110
 * §10.2.2; Distribution's `http.relativeurls` answers the same way and OCI clients follow it).
 * Relative, so no header the client sends about its own origin (`Host`, `X-Forwarded-*`) shapes
 * it. Relative Locations and other hosts (e.g. a storage redirect) are left alone.
 */
export function rewriteLocation(location: string, up: Upstream): string {
  let u: URL;
  try {
    u = new URL(location);
  } catch {
    return location; // relative: resolved by the client against the proxy already
  }
  if (u.origin !== up.url.origin) return location;
  return u.pathname + u.search + u.hash;
}

/**
 * Response headers for the client, raw list: hop-by-hop dropped, `Location` rewritten,
 * `extra` appended.
 */
export function clientResponseHeaders(upres: http.IncomingMessage, up: Upstream, extra: string[] = []): string[] {
  const drop = new Set(HOP_BY_HOP);
  for (const name of (upres.headers.connection ?? '').split(',')) if (name.trim()) drop.add(name.trim().toLowerCase());
  const out: string[] = [];
  const raw = upres.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (drop.has(lower)) continue;
    out.push(name, lower === 'location' ? rewriteLocation(raw[i + 1]!, up) : raw[i + 1]!);
  }
  out.push(...extra);
  return out;
}

/** Options of one forwarded exchange. */
export interface ForwardOptions {
  up: Upstream;
  /** The request target to send upstream: the canonical one (src/proxy/route.ts), never `req.url` unread. */
  target: string;
  /** Body to send instead of streaming `req` (the held manifest); sets Content-Length. */
  body?: Buffer;
  /** Extra response headers for the client (raw list), e.g. a `Warning`. */
  extraResponseHeaders?: string[];
  /**
   * Called with the upstream's answer before any of it reaches the client. Returning a function
   * replaces the answer: the upstream body is drained and the function answers the client instead
   * (it must end `res`), and its status is the one resolved. Called even when the client went away
   * after its request was complete (the registry acted on it): `res` is destroyed by then.
   */
  beforeAnswer?: (upres: http.IncomingMessage) => Promise<((res: http.ServerResponse) => number) | undefined>;
  log?: (obj: Record<string, unknown>, msg: string) => void;
}

/**
 * Forwards `req` to the upstream and the answer back, streaming both bodies. Resolves with the
 * upstream status once the client's response has finished (or failed); never rejects.
 * Upstream unreachable → 502 `UNAVAILABLE`; upstream silent past `idleTimeoutMs` → 504
 * `UNAVAILABLE` (or a reset when the answer had started); a client that goes away aborts the
 * upstream request.
 */
export function forward(req: http.IncomingMessage, res: http.ServerResponse, opts: ForwardOptions): Promise<number> {
  const { up, body } = opts;
  // A held manifest goes with its length and the Content-Type it was judged under (the first one,
  // as Node and Go read repeats), whatever the client's `Connection` header names.
  const contentType = req.headers['content-type'];
  const override: Record<string, string> = body ? { 'content-length': String(body.length), ...(contentType !== undefined ? { 'content-type': contentType } : {}) } : {};
  const headers = upstreamRequestHeaders(req, up, override);
  const mod = up.url.protocol === 'https:' ? https : http;
  return new Promise<number>((resolve) => {
    let status = 0;
    let done = false;
    const finish = (code: number): void => {
      if (done) return;
      done = true;
      resolve(code);
    };
    const upreq = mod.request({
      protocol: up.url.protocol,
      hostname: up.url.hostname,
      port: up.url.port || undefined,
      method: req.method,
      path: opts.target,
      headers: headers as unknown as http.OutgoingHttpHeaders,
      agent: up.agent,
      servername: up.url.protocol === 'https:' ? up.url.hostname : undefined,
      // Node ≥ 20: bigger socket reads for blob bodies (not in @types/node's RequestOptions yet)
      ...({ highWaterMark: STREAM_HWM } as object),
    });
    upreq.setTimeout(up.idleTimeoutMs, () => {
      upreq.destroy(new PushgateError('NETWORK', `no answer from ${up.url.origin} for ${up.idleTimeoutMs} ms`, { retryable: true }));
    });
    upreq.on('error', (err) => {
      if (res.headersSent || res.destroyed) {
        res.destroy();
        finish(status || 502);
        return;
      }
      const timeout = err instanceof PushgateError;
      const code = timeout ? 504 : 502;
      opts.log?.({ err: err.message, method: req.method, path: req.url }, 'proxy: upstream request failed');
      sendRegistryError(res, code, {
        code: 'UNAVAILABLE',
        message: `pushgate proxy: registry ${up.url.origin} ${timeout ? 'did not answer in time' : `unreachable (${(err as NodeJS.ErrnoException).code ?? err.message})`}; retry later`,
      });
      finish(code);
    });
    upreq.on('response', (upres) => {
      status = upres.statusCode ?? 502;
      if (opts.beforeAnswer) {
        upres.pause();
        opts.beforeAnswer(upres).then(
          (replace) => {
            if (res.destroyed) {
              upres.destroy();
              finish(status || 499);
            } else if (replace) {
              upres.resume();
              finish(replace(res));
            } else {
              answer(upres);
            }
          },
          (err: unknown) => {
            upres.destroy();
            opts.log?.({ err: (err as Error).message, method: req.method, path: req.url }, 'proxy: answer check failed');
            sendRegistryError(res, 500, { code: 'UNKNOWN', message: 'pushgate proxy: internal error; see the pushgate log' });
            finish(500);
          },
        );
        return;
      }
      answer(upres);
    });
    const answer = (upres: http.IncomingMessage): void => {
      res.writeHead(status, upres.statusMessage, clientResponseHeaders(upres, up, opts.extraResponseHeaders));
      pipeline(upres, res, (err) => {
        if (err) {
          upreq.destroy();
          res.destroy();
        }
        finish(status);
      });
    };
    // The client went away before its answer was complete: stop the upstream exchange too. Not when
    // the answer is to be checked and the client's request was complete: every byte of it reaches the
    // registry, which then acts on it (a blob upload completed and linked) whether or not anyone reads
    // the answer, so the answer is still awaited and checked (`beforeAnswer` sees `res` destroyed).
    res.on('close', () => {
      if (!res.writableFinished) {
        if (!(opts.beforeAnswer && req.complete && !upreq.destroyed)) upreq.destroy();
        finish(status || 499);
      }
    });
    if (body) {
      upreq.end(body);
    } else {
      pipeline(req, upreq, (err) => {
        if (err) upreq.destroy();
      });
    }
  });
}
