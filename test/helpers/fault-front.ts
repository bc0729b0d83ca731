/**
 * An in-process HTTP front for a real registry that answers chosen requests with a fault (a 429 with
 * Retry-After, a 5xx: what a real registry does not produce on demand) and passes every other request
 * through unchanged. pushgate talks to the front; the registry behind it stays the real one.
 */
import http from 'node:http';
import { once } from 'node:events';

/** What the front answers instead of the registry. */
export interface Fault {
  status: number;
  headers?: Record<string, string>;
  /** Default: an OCI error body naming the status. */
  body?: string;
}

/** A running front. */
export interface FaultFront {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Every request seen (method and path), in order, with the fault answered, if any. */
  seen: Array<{ method: string; path: string; fault?: number }>;
  close(): Promise<void>;
}

/**
 * Starts a front on 127.0.0.1:`port` before the registry on 127.0.0.1:`upstreamPort`. `fault` is asked
 * for each request (method, path with query); a Fault it returns is answered, undefined passes the request on.
 * It may return a promise: the request is held until it settles (an interleaving of two clients a real
 * registry answers too fast to produce on demand). `answered` is called when the registry's answer to a
 * passed-on request has been sent back. `holdAnswer` may hold the registry's answer to a passed-on
 * request (the registry has acted on it) until the promise it returns settles: a registry slow to
 * answer, as one on remote storage is.
 */
export async function startFaultFront(
  port: number,
  upstreamPort: number,
  fault: (method: string, path: string) => Fault | undefined | Promise<Fault | undefined>,
  answered?: (method: string, path: string, status: number) => void,
  holdAnswer?: (method: string, path: string, status: number) => Promise<unknown> | undefined,
): Promise<FaultFront> {
  const seen: FaultFront['seen'] = [];
  const server = http.createServer(async (req, res) => {
    const method = req.method ?? 'GET';
    const p = req.url ?? '/';
    const f = await fault(method, p);
    seen.push({ method, path: p, ...(f ? { fault: f.status } : {}) });
    if (f) {
      req.resume();
      const body = f.body ?? JSON.stringify({ errors: [{ code: f.status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE', message: `fault front: ${f.status}` }] });
      res.writeHead(f.status, { 'content-type': 'application/json', ...f.headers });
      res.end(method === 'HEAD' ? undefined : body);
      return;
    }
    const up = http.request({ host: '127.0.0.1', port: upstreamPort, method, path: p, headers: req.headers }, async (r) => {
      await holdAnswer?.(method, p, r.statusCode ?? 502);
      if (res.destroyed) return void r.resume();
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
      res.on('finish', () => answered?.(method, p, r.statusCode ?? 502));
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
