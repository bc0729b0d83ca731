/**
 * The synchronous push gate: a streaming reverse proxy in front of one guarded registry
 * (`proxy.upstream`, equal to one `registries[].url`; DESIGN.md §3, issue 9). Every request but a
 * manifest PUT passes through unchanged (src/proxy/forward.ts); a manifest PUT is held and judged
 * (src/proxy/manifest-gate.ts). Optional TLS (`proxy.tls`) is reloaded when the files change.
 */
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import { setMaxListeners } from 'node:events';
import type net from 'node:net';
import type { GateApi } from '../gate/types.js';
import type { PushgateConfig, RegistryConfig } from '../config/types.js';
import { PushgateError } from '../core/errors.js';
import { isLoopbackHost, sameRegistryUrl } from '../core/host.js';
import { isDigest } from '../core/digest.js';
import { sendRegistryError } from './errors.js';
import { forward, makeUpstream, STREAM_HWM } from './forward.js';
import { handleManifestPut, makeRefusedMap, type GateContext } from './manifest-gate.js';
import { HeldManifests } from './body.js';
import { canonicalRequest } from './route.js';
import { handleReferrers } from './referrers.js';
import { checkLinkedBlob, linkedDigest, mayLinkBlob } from './blob-manifests.js';


/** Bodies of refused requests up to this size are read and dropped before the answer (a manifest's limit). */
const REFUSED_BODY_DRAIN_BYTES = 4 * 1024 * 1024;
/** What the proxy needs: the gate, the loaded configuration and an optional structured logger. */
export interface ProxyDeps {
  gate: GateApi;
  config: PushgateConfig;
  log?: (obj: Record<string, unknown>, msg: string) => void;
}

/** How often the TLS files are polled for changes (ms). */
const TLS_POLL_MS = 1000;

/**
 * Whether a request's `Transfer-Encoding` (Node's joined header value, or undefined) is one the
 * proxy forwards: none, or exactly `chunked` (any case, surrounding blanks), the only transfer
 * coding HTTP/1.1 registries are required to understand (RFC 9112 §7). Any other list is refused.
 */
export function acceptedTransferCoding(te: string | undefined): boolean {
  return te === undefined || te.trim().toLowerCase() === 'chunked';
}

/**
 * Splits `host:port`, `[v6]:port`, `:port` or `port` (host defaults to `0.0.0.0`).
 * @throws PushgateError BAD_CONFIG naming `proxy.listen` when the port is not 0–65535.
 */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen) ?? /^()()(\d+)$/.exec(listen);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new PushgateError('BAD_CONFIG', `proxy.listen: "${listen}" is not host:port (e.g. 0.0.0.0:5443)`);
  }
  return { host: m[1] || m[2] || '0.0.0.0', port };
}

/**
 * The registry `proxy.upstream` names (URLs compared by the host normalizer, {@link sameRegistryUrl}:
 * case, default port and trailing slash do not matter).
 * @throws PushgateError BAD_CONFIG when it is unset or matches no `registries[].url`.
 */
export function upstreamRegistry(config: PushgateConfig): RegistryConfig {
  const want = config.proxy.upstream;
  if (!want) throw new PushgateError('BAD_CONFIG', 'proxy.upstream: unset; set it to the url of one of registries[]');
  const reg = config.registries.find((r) => sameRegistryUrl(r.url, want));
  if (!reg) {
    throw new PushgateError('BAD_CONFIG', `proxy.upstream: ${want} is not the url of any registries[] entry (${config.registries.map((r) => r.url).join(', ') || 'none configured'})`);
  }
  return reg;
}

/**
 * The warning for a proxy listener without TLS on an address other hosts reach (`0.0.0.0:5000`, `:5000`,
 * `[::]:5000`, a host name): pushers send the registry's credentials through the proxy, in clear there.
 * Not a refusal: TLS may end in front of it (an ingress, a load balancer), which pushgate cannot see.
 * Undefined with TLS or on loopback (`127.0.0.0/8`, `[::1]`, `localhost`).
 * @param listen `host:port` as in `proxy.listen` (an empty host = every address).
 */
export function clearTextWarning(listen: string, tls: boolean): string | undefined {
  if (tls) return undefined;
  const host = listen.slice(0, Math.max(0, listen.lastIndexOf(':'))).toLowerCase();
  if (host && isLoopbackHost(host)) return undefined;
  return `push proxy listens WITHOUT TLS on ${listen}: pushers' registry credentials and images cross the network in clear; set proxy.tls (cert, key), or make sure TLS ends in front of it`;
}

function readTls(tls: { cert: string; key: string }): { cert: Buffer; key: Buffer } {
  try {
    return { cert: fs.readFileSync(tls.cert), key: fs.readFileSync(tls.key) };
  } catch (err) {
    throw new PushgateError('BAD_CONFIG', `proxy.tls: cannot read ${tls.cert} / ${tls.key}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The URL of the full report of `digest` for the client that pushed: the API listener
 * (`server.listen`) on the host name the client used (`Host`, only echoed back to that client)
 * when it listens on every address.
 */
function reportUrlFor(config: PushgateConfig, req: http.IncomingMessage, digest: string): string {
  if (config.server.publicUrl) return `${config.server.publicUrl.replace(/\/+$/, '')}/api/v1/images/${digest}`;
  let host = '127.0.0.1';
  let port = 8080;
  try {
    const l = parseListen(config.server.listen);
    host = l.host;
    port = l.port;
  } catch {
    // a bad server.listen is reported by the server; the message still gets a usable URL
  }
  if (host === '0.0.0.0' || host === '::' || host === '') {
    const h = req.headers.host || '127.0.0.1';
    host = h.replace(/:\d+$/, '');
  } else if (host.includes(':')) {
    host = `[${host}]`;
  }
  return `http://${host}:${port}/api/v1/images/${digest}`;
}

/**
 * The answer to a blob upload or mount the registry completed (201): passed on, unless the registry
 * now serves the blob as a manifest of the repository (src/proxy/blob-manifests.ts). Then the blob's
 * link has been removed and the client gets 400 `MANIFEST_INVALID` saying to PUT manifests; when the
 * check could not be made the blob's links are removed all the same (fail closed) and it gets 502 (push
 * again); when a link could not be removed, the digest is queued to be judged and enforced like a
 * manifest pushed by digest. Also run when the client hung up after its complete request.
 */
async function blobLinkAnswer(ctx: GateContext, name: string, target: string, upres: http.IncomingMessage): Promise<((res: http.ServerResponse) => number) | undefined> {
  if (upres.statusCode !== 201) return undefined;
  const digest = linkedDigest(upres, target);
  const check = await checkLinkedBlob(ctx.gate.client(ctx.registry.name), name, digest);
  if (check.kind === 'blob') return undefined;
  ctx.gate.hooks.proxyRefusedPath?.('blob-manifest');
  ctx.log({ repository: name, digest: check.digest, outcome: check.kind, ...('error' in check ? { err: check.error } : {}) }, 'proxy: a completed blob upload is served as a manifest');
  if (check.kind === 'removed') {
    await ctx.gate.audit({ actor: 'pushgate-proxy', action: 'proxy.refuse', registry: ctx.registry.name, repository: name, digest: isDigest(check.digest) ? check.digest : undefined, detail: { reason: 'blob-manifest', reasons: ['blob-manifest'], blob: check.digest } }).catch((e: unknown) => ctx.log({ err: (e as Error).message }, 'proxy: audit failed'));
    return (res) => {
      sendRegistryError(res, 400, { code: 'MANIFEST_INVALID', message: `pushgate proxy: the blob ${check.digest} is a manifest the registry would serve as ${name}@${check.digest}; it was removed. Push manifests with PUT /v2/${name}/manifests/<reference>, where pushgate checks them`, detail: { reason: 'blob-manifest', digest: check.digest } });
      return 400;
    };
  }
  if (check.kind === 'left' && isDigest(check.digest)) {
    await ctx.gate.enqueue({ registry: ctx.registry.name, repository: name, digest: check.digest, source: 'proxy' }).catch((e: unknown) => ctx.log({ err: (e as Error).message }, 'proxy: enqueue failed'));
  }
  return (res) => {
    sendRegistryError(res, 502, { code: 'UNAVAILABLE', message: `pushgate proxy: could not check whether the blob ${check.digest} is a manifest the registry serves (${check.error.slice(0, 200)}); push it again`, detail: { reason: 'blob-manifest-check' } });
    return 502;
  };
}

/**
 * Starts the proxy listener on `config.proxy.listen` (TLS when `config.proxy.tls`, reloaded when
 * the files change; a bad new pair is logged and the old one kept).
 * @returns the bound port and `close()`, which stops listening, drops open connections and aborts
 *   running assessments' signal.
 * @throws PushgateError BAD_CONFIG when `proxy.listen`/`proxy.upstream` is unset or wrong, or
 *   the TLS files cannot be read; NETWORK when the port cannot be bound.
 */
export async function startProxy(deps: ProxyDeps): Promise<{ port: number; close(): Promise<void> }> {
  const { gate, config } = deps;
  const log = deps.log ?? ((): void => undefined);
  if (!config.proxy.listen) throw new PushgateError('BAD_CONFIG', 'proxy.listen: unset; the proxy is off');
  const { host, port } = parseListen(config.proxy.listen);
  const registry = upstreamRegistry(config);
  const up = makeUpstream(registry);
  const tlsConf = config.proxy.tls;
  const closing = new AbortController();
  // One listener per assessment in flight is expected, not a leak.
  setMaxListeners(0, closing.signal);
  const ctx: GateContext = {
    gate,
    config,
    registry,
    up,
    tls: Boolean(tlsConf),
    refused: makeRefusedMap(),
    held: new HeldManifests(config.proxy.maxHeldManifests),
    closing: closing.signal,
    reportUrl: (req, digest) => reportUrlFor(config, req, digest),
    log,
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const method = req.method ?? 'GET';
    res.on('finish', () => gate.hooks.proxyRequest?.(method, res.statusCode));
    res.on('close', () => {
      if (!res.writableFinished) gate.hooks.proxyRequest?.(method, 499);
    });
    // A transfer coding other than `chunked` alone (`gzip, chunked`, …): Node's parser takes the
    // chunked framing and leaves the inner coding to the application, and registries differ on it
    // (Go answers 501, others may decode it), so the body the gate would judge could differ from
    // the one stored. Refused as Go refuses it (RFC 9112 §6.1), before anything else runs.
    if (!acceptedTransferCoding(req.headers['transfer-encoding'])) {
      gate.hooks.proxyRefusedPath?.('transfer-coding');
      log({ method, path: req.url, reason: 'transfer-coding' }, 'proxy: request transfer coding refused');
      sendRegistryError(res, 501, { code: 'UNSUPPORTED', message: `pushgate proxy: Transfer-Encoding "${String(req.headers['transfer-encoding']).slice(0, 64)}" is not supported; send the body with Content-Length or Transfer-Encoding: chunked alone`, detail: { reason: 'transfer-coding' } }, { Connection: 'close' });
      return;
    }
    // Every route decision below reads the path as the registry's router will (src/proxy/route.ts).
    const decision = canonicalRequest(req.url ?? '/');
    if (!decision.ok) {
      gate.hooks.proxyRefusedPath?.(decision.reason);
      log({ method, path: req.url, reason: decision.reason }, 'proxy: request path refused');
      // The connection is closed after the answer, so no byte of this body is taken for a next request.
      // A small body (a manifest) is read and dropped first: closing with unread bytes makes the kernel
      // send a reset, and the client would see "connection reset" instead of the reason.
      const refuse = () => sendRegistryError(res, 400, { code: 'UNSUPPORTED', message: `pushgate proxy: ${decision.message}`, detail: { reason: decision.reason } }, { Connection: 'close' });
      const length = Number(req.headers['content-length'] ?? 0);
      if (length > 0 && length <= REFUSED_BODY_DRAIN_BYTES && !req.headers['transfer-encoding']) {
        const timer = setTimeout(refuse, 2000);
        req.on('end', () => {
          clearTimeout(timer);
          if (!res.headersSent) refuse();
        });
        req.on('error', () => undefined);
        req.resume();
      } else {
        refuse();
      }
      return;
    }
    const { route, target } = decision;
    const work =
      method === 'PUT' && route.kind === 'manifest'
        ? handleManifestPut(req, res, ctx, { name: route.name!, reference: route.reference!, target })
        : (method === 'GET' || method === 'HEAD') && route.kind === 'referrers'
          ? handleReferrers(req, res, up, { name: route.name!, digest: route.digest! }, target)
          : mayLinkBlob(method, route)
            ? forward(req, res, { up, target, log, beforeAnswer: (upres) => blobLinkAnswer(ctx, route.name, target, upres) })
            : forward(req, res, { up, target, log });
    work.catch((err: unknown) => {
      log({ err: (err as Error).message, method, path: req.url }, 'proxy: request failed');
      sendRegistryError(res, 500, { code: 'UNKNOWN', message: 'pushgate proxy: internal error; see the pushgate log' });
    });
  };

  let server: http.Server | https.Server;
  const watched: string[] = [];
  if (tlsConf) {
    let current = readTls(tlsConf);
    const s = https.createServer({ ...current, highWaterMark: STREAM_HWM }, handler);
    const reload = (): void => {
      try {
        const next = readTls(tlsConf);
        if (next.cert.equals(current.cert) && next.key.equals(current.key)) return;
        s.setSecureContext({ ...next });
        current = next;
        log({ cert: tlsConf.cert }, 'proxy: TLS certificate reloaded');
      } catch (err) {
        log({ err: (err as Error).message }, 'proxy: TLS reload failed; keeping the previous certificate');
      }
    };
    for (const f of [tlsConf.cert, tlsConf.key]) {
      fs.watchFile(f, { interval: TLS_POLL_MS, persistent: false }, reload);
      watched.push(f);
    }
    server = s;
  } else {
    server = http.createServer({ highWaterMark: STREAM_HWM }, handler);
  }
  // A request Node's parser refuses (a raw non-ASCII byte in the path, a bad header) gets a
  // registry error naming the rule instead of Node's bare 400; statuses stay Node's.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const code = err.code ?? 'HPE_UNKNOWN';
    const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    let message = `the request is not valid HTTP/1.1 (${code})`;
    if (code === 'HPE_INVALID_URL') {
      gate.hooks.proxyRefusedPath?.('bad-character');
      message = 'the request path holds a byte no registry path has (a raw non-ASCII character, a space or a control character); repository names are lowercase ASCII letters and digits joined by . _ __ - and /';
    } else if (status === 431) {
      message = 'the request headers are too large';
    } else if (status === 408) {
      message = 'the request headers did not arrive in time';
    }
    const body = JSON.stringify({ errors: [{ code: 'UNSUPPORTED', message: `pushgate proxy: ${message}`, detail: { reason: code } }] });
    const reason = status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nDocker-Distribution-API-Version: registry/2.0\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
  // `Expect: 100-continue`: a manifest PUT is told to send its body only once its credentials are
  // accepted and a held slot is taken (manifest-gate.ts); everything else streams through at once.
  server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const d = canonicalRequest(req.url ?? '/');
    const heldPut = req.method === 'PUT' && d.ok && d.route.kind === 'manifest';
    if (!heldPut && d.ok) res.writeContinue();
    handler(req, res);
  });
  // Blob uploads can be long and slow: no overall request timeout, only the upstream idle timeout
  // (a manifest PUT, the one body the proxy holds, has its own: proxy.bodyTimeout).
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new PushgateError('NETWORK', `proxy.listen ${config.proxy.listen}: ${err.code ?? err.message}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => log({ err: err.message }, 'proxy: listener error'));
  const bound = (server.address() as net.AddressInfo).port;
  log({ port: bound, upstream: registry.url, tls: ctx.tls }, 'proxy: listening');

  return {
    port: bound,
    close: async () => {
      for (const f of watched) fs.unwatchFile(f);
      closing.abort(new PushgateError('INTERNAL', 'proxy closing'));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      up.agent.destroy();
    },
  };
}
