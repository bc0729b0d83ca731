/**
 * The admission TLS listener (protocols.md §6.1): `POST /admission/validate` and `POST /admission/mutate`
 * on node:https, with the certificate and key read from files and reloaded when they change (cert-manager
 * rotates them by swapping the mounted Secret's files) via `tls.Server#setSecureContext`.
 *
 * Callers are authenticated by client certificate (`admission.clientCA`): the API server presents the
 * one its AdmissionConfiguration's kubeConfigFile names for this webhook, and the TLS handshake fails
 * for anyone without a certificate chaining to the bundle (and, with `clientNames`, carrying one of
 * those names). Without clientCA the listener refuses to start unless `allowUnauthenticated` is set.
 *
 * Kept on node:https rather than express: it serves two routes on the hot path of every pod creation.
 */
import fs from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { PushgateError } from '../core/index.js';
import { mutateReview, validateReview, DEFAULT_DEADLINE_MS, type AdmissionCaller, type AdmissionDeps, type AdmissionResult } from '../admission/review.js';

/** Options of {@link startAdmissionListener}. */
export interface AdmissionListenerOptions {
  /** `host:port` (`0.0.0.0:8443`; port 0 picks a free one). */
  listen: string;
  /** PEM certificate (chain) file. */
  cert: string;
  /** PEM private key file. */
  key: string;
  /** How often the files are checked for changes, ms (default 5000). */
  reloadIntervalMs?: number;
  /** Largest accepted body, bytes (default 8 MiB: an object and its oldObject of up to ~1.5 MiB each, as JSON). */
  bodyLimitBytes?: number;
  /**
   * A review must arrive whole (headers and body) within this many ms, else 408 and the connection
   * is closed (default 30 000; `server.readTimeout`).
   */
  requestTimeoutMs?: number;
  /** Called when a reload fails (the previous certificate stays in use) or succeeds. */
  onReload?: (err?: Error) => void;
  /**
   * PEM file of the CA bundle client certificates must chain to. When set, a client certificate is
   * requested and required (`requestCert`, `rejectUnauthorized`); reloaded like the pair.
   */
  clientCA?: string;
  /**
   * Accepted identities of the client certificate: its subject CN or a subjectAltName entry (DNS,
   * URI, email, IP), compared exactly (DNS case-insensitively). Empty = any certificate of clientCA.
   */
  clientNames?: string[];
  /** Serve callers without a client certificate; required (true) when clientCA is unset. */
  allowUnauthenticated?: boolean;
}

/** A running admission listener. */
export interface AdmissionListener {
  port: number;
  close(): Promise<void>;
}

/** Kept back from the apiserver's `?timeout=` to send the answer in time. */
const TIMEOUT_MARGIN_MS = 300;

function splitListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen.trim());
  if (!m) throw new PushgateError('BAD_CONFIG', `admission.listen "${listen}" is not host:port (e.g. 0.0.0.0:8443)`);
  const port = Number(m[3]);
  if (port > 65535) throw new PushgateError('BAD_CONFIG', `admission.listen "${listen}": port out of range`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

function readPair(cert: string, key: string): { cert: Buffer; key: Buffer } {
  try {
    return { cert: fs.readFileSync(cert), key: fs.readFileSync(key) };
  } catch (e) {
    throw new PushgateError('BAD_CONFIG', `admission TLS: cannot read ${cert} / ${key}: ${(e as Error).message}; check admission.tls.cert and admission.tls.key`, { cause: e });
  }
}

function readCA(file: string): Buffer {
  let pem: Buffer;
  try {
    pem = fs.readFileSync(file);
  } catch (e) {
    throw new PushgateError('BAD_CONFIG', `admission client CA: cannot read ${file}: ${(e as Error).message}; check admission.clientCA`, { cause: e });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new PushgateError('BAD_CONFIG', `admission client CA: ${file} holds no PEM certificate; admission.clientCA must be the PEM bundle of the CA that signs the API server's client certificate`);
  }
  return pem;
}

/**
 * The names a client certificate carries: subject CN(s) and subjectAltName entries, as Node
 * prints them (`DNS:a, IP Address:1.2.3.4`, values with separators JSON-quoted).
 */
export function certificateNames(cert: { subject?: string; subjectAltName?: string }): { cn: string[]; dns: string[]; other: string[] } {
  const cn = (cert.subject ?? '')
    .split('\n')
    .filter((l) => l.startsWith('CN='))
    .map((l) => l.slice(3));
  const dns: string[] = [];
  const other: string[] = [];
  const re = /(DNS|URI|email|IP Address):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;
  for (const m of (cert.subjectAltName ?? '').matchAll(re)) {
    let v = m[2];
    if (v.startsWith('"')) {
      try {
        v = JSON.parse(v) as string;
      } catch {
        continue;
      }
    }
    if (m[1] === 'DNS') dns.push(v.toLowerCase());
    else other.push(v);
  }
  return { cn, dns, other };
}

/** Whether a certificate with these names is one of `allowed` (see AdmissionListenerOptions.clientNames). */
export function nameAllowed(names: { cn: string[]; dns: string[]; other: string[] }, allowed: string[]): boolean {
  if (allowed.length === 0) return true;
  return allowed.some((a) => names.cn.includes(a) || names.dns.includes(a.toLowerCase()) || names.other.includes(a));
}

/**
 * Budget of a review from the apiserver's `?timeout=10s` query (protocols.md §6.1), minus a margin;
 * {@link DEFAULT_DEADLINE_MS} when absent or unreadable.
 */
export function deadlineFromQuery(url: string | undefined): number {
  const q = url ? new URL(url, 'https://x').searchParams.get('timeout') : null;
  const m = q ? /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(q) : null;
  if (!m) return DEFAULT_DEADLINE_MS;
  const n = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
  return Math.max(100, n - Math.min(TIMEOUT_MARGIN_MS, n / 5));
}

function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...extra });
  res.end(data);
}

function sendError(res: ServerResponse, status: number, code: string, message: string, extra: Record<string, string> = {}): void {
  sendJson(res, status, { error: { code, message } }, extra);
}

/** Reads the body up to `limit` bytes; resolves undefined (and answers 413) when it is larger. */
function readBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > limit) {
      sendError(res, 413, 'BAD_ARGUMENT', `body of ${declared} bytes exceeds the limit of ${limit} bytes`, { connection: 'close' });
      req.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > limit) {
        over = true;
        sendError(res, 413, 'BAD_ARGUMENT', `body exceeds the limit of ${limit} bytes`, { connection: 'close' });
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

/**
 * Starts the HTTPS admission listener.
 * - Routes: `POST /admission/validate` → {@link validateReview}, `POST /admission/mutate` → {@link mutateReview};
 *   `GET /healthz` → 200. Other paths 404, other methods 405, bodies that are not JSON 400, larger than
 *   the limit 413; errors are JSON `{ error: { code, message } }`.
 * - The review budget comes from the apiserver's `?timeout=` (see {@link deadlineFromQuery}).
 * - Certificate and key are re-read every `reloadIntervalMs` when their mtime, size or inode changes; a
 *   pair that fails to load (half-written rotation) keeps the previous one and is retried.
 * - With `clientCA`, the TLS handshake requires a client certificate chaining to it; a certificate
 *   whose names are not in `clientNames` is disconnected right after the handshake. Each refusal is
 *   reported through `gate.hooks.admissionRefused`. Reviews get the caller (`cert:<subject>`, or
 *   `addr:<remote address>` without clientCA) for audit actors and per-caller limits.
 * @throws PushgateError BAD_CONFIG when `listen` is malformed, the files cannot be read at start, or
 *   neither `clientCA` nor `allowUnauthenticated` is given.
 */
export async function startAdmissionListener(deps: AdmissionDeps, opts: AdmissionListenerOptions): Promise<AdmissionListener> {
  const { host, port } = splitListen(opts.listen);
  const limit = opts.bodyLimitBytes ?? 8 * 1024 * 1024;
  if (!opts.clientCA && !opts.allowUnauthenticated) {
    throw new PushgateError(
      'BAD_CONFIG',
      "admission listener: no admission.clientCA, so anyone who reaches it could start scans and write audit records; set admission.clientCA (the CA of the API server's client certificate) or, explicitly, admission.allowUnauthenticated: true",
    );
  }
  const clientNames = opts.clientNames ?? [];
  if (!opts.clientCA && clientNames.length) throw new PushgateError('BAD_CONFIG', 'admission.clientNames needs admission.clientCA');
  const pair = readPair(opts.cert, opts.key);
  const context = () => ({ ...readPair(opts.cert, opts.key), ...(opts.clientCA ? { ca: readCA(opts.clientCA) } : {}), minVersion: 'TLSv1.2' as const });
  const first = { ...pair, ...(opts.clientCA ? { ca: readCA(opts.clientCA) } : {}) };
  const hooks = deps.gate.hooks;
  const refused = (reason: Parameters<NonNullable<typeof hooks.admissionRefused>>[0]): void => {
    try {
      hooks.admissionRefused?.(reason);
    } catch {
      // Metrics never fail the listener.
    }
  };
  const requestTimeout = opts.requestTimeoutMs ?? 30_000;
  const server = https.createServer(
    {
      ...first,
      minVersion: 'TLSv1.2',
      ...(opts.clientCA ? { requestCert: true, rejectUnauthorized: true } : {}),
      // A slow sender is cut off: the whole review within requestTimeout, checked every second.
      requestTimeout,
      headersTimeout: Math.min(60_000, requestTimeout),
      connectionsCheckingInterval: Math.min(1000, requestTimeout),
    },
    (req, res) => {
      void handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) sendError(res, 500, 'INTERNAL', `admission listener: ${(e as Error).message}`);
        else res.destroy();
      });
    },
  );
  server.keepAliveTimeout = 65_000;

  // Who is at the other end of each connection, settled once per TLS session.
  const callers = new WeakMap<Socket, AdmissionCaller>();
  const callerOf = (socket: TLSSocket): AdmissionCaller | undefined => {
    let c = callers.get(socket);
    if (c) return c;
    if (!opts.clientCA) {
      c = { authenticated: false, id: `addr:${socket.remoteAddress ?? 'unknown'}` };
    } else {
      const cert = socket.authorized ? socket.getPeerX509Certificate() : undefined;
      if (!cert) return undefined;
      if (!nameAllowed(certificateNames(cert), clientNames)) return undefined;
      c = { authenticated: true, id: `cert:${cert.subject.replaceAll('\n', ',')}` };
    }
    callers.set(socket, c);
    return c;
  };
  if (opts.clientCA) {
    server.on('secureConnection', (socket: TLSSocket) => {
      if (callerOf(socket)) return;
      // The chain was verified by the handshake; the name is not one of clientNames.
      refused('client-name-not-allowed');
      socket.destroy();
    });
  }
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    // A certificate that fails verification ends the handshake from JS (authorizationError set,
    // socket destroyed), so the error itself only says ECONNRESET.
    if (socket?.authorizationError) refused('untrusted-client-cert');
    else if (/PEER_DID_NOT_RETURN_A_CERTIFICATE|NO_CERTIFICATE/i.test(String(err.code ?? ''))) refused('no-client-cert');
    else refused('tls-error');
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const caller = callerOf(req.socket as TLSSocket);
    if (!caller) {
      // Not reached after a handshake that verified the certificate and its name; kept as a backstop.
      refused('client-name-not-allowed');
      sendError(res, 403, 'FORBIDDEN', 'client certificate not accepted (admission.clientCA / admission.clientNames)', { connection: 'close' });
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    const fn = path === '/admission/validate' ? validateReview : path === '/admission/mutate' ? mutateReview : undefined;
    if (!fn) {
      sendError(res, 404, 'NOT_FOUND', `no route ${path}; use POST /admission/validate or /admission/mutate`);
      return;
    }
    if (req.method !== 'POST') {
      sendError(res, 405, 'BAD_ARGUMENT', `${req.method} not allowed on ${path}; use POST`, { allow: 'POST' });
      return;
    }
    const ctype = String(req.headers['content-type'] ?? '');
    if (ctype && !/^application\/(?:[\w.+-]*\+)?json\b/i.test(ctype)) {
      req.resume();
      sendError(res, 415, 'BAD_ARGUMENT', `content-type ${ctype} not supported; send application/json`);
      return;
    }
    const raw = await readBody(req, res, limit);
    if (!raw) return;
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      sendError(res, 400, 'BAD_ARGUMENT', `body is not JSON: ${(e as Error).message}`);
      return;
    }
    const result: AdmissionResult = await fn(body, deps, { deadlineMs: deadlineFromQuery(req.url), caller });
    sendJson(res, result.status, result.body);
  }

  // Certificate reload (cert-manager rotation): stat-poll, because the Secret volume swaps a symlink.
  const interval = opts.reloadIntervalMs ?? 5_000;
  const sig = (): string => {
    const parts: string[] = [];
    for (const f of [opts.cert, opts.key, ...(opts.clientCA ? [opts.clientCA] : [])]) {
      try {
        const s = fs.statSync(f);
        parts.push(`${s.ino}:${s.size}:${s.mtimeMs}`);
      } catch {
        parts.push('missing');
      }
    }
    return parts.join('|');
  };
  let last = sig();
  const timer = setInterval(() => {
    const now = sig();
    if (now === last) return;
    try {
      server.setSecureContext(context());
      last = now;
      opts.onReload?.();
    } catch (e) {
      // Keep serving with the previous pair; the next tick retries (last is not updated).
      opts.onReload?.(e as Error);
    }
  }, interval);
  timer.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        clearInterval(timer);
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
