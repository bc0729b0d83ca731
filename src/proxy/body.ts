/**
 * The bounds on a held manifest PUT: how many the proxy holds at once and how its body is read.
 * A manifest PUT is the one request the proxy buffers (it is judged before it is forwarded), so
 * its memory is `maxHeldManifests × scan.maxManifestBytes` at most, and a client that sends its
 * body slowly holds a slot for at most `proxy.bodyTimeout`. The pusher's credentials are checked
 * before a slot is taken or a byte of the body is read (src/proxy/manifest-gate.ts).
 */
import type http from 'node:http';

/** What {@link readBody} got. */
export type BodyRead =
  | { kind: 'body'; bytes: Buffer }
  /** The body is larger than the limit; the rest was not read. */
  | { kind: 'too-large'; received: number }
  /** The whole body did not arrive within the timeout. */
  | { kind: 'timeout'; received: number }
  /** The client went away or the stream failed. */
  | { kind: 'aborted' };

/**
 * Reads `req`'s body, keeping at most `limit` bytes, within `timeoutMs` from the call.
 * Resolves once; never rejects. On `too-large` and `timeout` the request is left paused, unread:
 * answer it with {@link lingerAfterAnswer}.
 */
export function readBody(req: http.IncomingMessage, limit: number, timeoutMs: number): Promise<BodyRead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (r: BodyRead): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('close', onClose);
      if (r.kind !== 'body') {
        req.pause();
        chunks.length = 0;
      }
      resolve(r);
    };
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > limit) finish({ kind: 'too-large', received: size });
      else chunks.push(c);
    };
    const onEnd = (): void => finish({ kind: 'body', bytes: Buffer.concat(chunks, size) });
    const onAbort = (): void => finish({ kind: 'aborted' });
    const onClose = (): void => {
      if (!req.complete) finish({ kind: 'aborted' });
    };
    const timer = setTimeout(() => finish({ kind: 'timeout', received: size }), timeoutMs);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    req.on('close', onClose);
  });
}

/** How long an answered request's unread body is still drained before the connection is closed, ms. */
export const LINGER_MS = 2000;

/**
 * For an answer sent before the request body was read (400, 401, 408, 413, 429): once the answer
 * is out, the rest of the body is read and dropped for at most `lingerMs`, then the connection is
 * closed. Closing at once with unread bytes makes the kernel reset the connection, and a client
 * still sending would lose the answer it was sent; draining forever would let it hold the
 * connection. The parser still frames the body (Content-Length or chunked), so no byte of it is
 * ever read as a next request. The connection is closed here (FIN once the body has been read,
 * a hard close at `lingerMs`), never kept for a next request.
 */
export function lingerAfterAnswer(req: http.IncomingMessage, res: http.ServerResponse, lingerMs = LINGER_MS): void {
  // Node closes a connection right after an answer it marks `Connection: close`; closed here instead.
  res.shouldKeepAlive = true;
  res.once('finish', () => {
    const sock = req.socket;
    const timer = setTimeout(() => sock.destroy(), lingerMs);
    sock.once('close', () => clearTimeout(timer));
    if (req.complete) {
      sock.end();
      return;
    }
    req.once('end', () => sock.end());
    req.resume();
  });
}

/** A count of held manifest PUTs with a fixed maximum (no queue: over it, the caller refuses). */
export class HeldManifests {
  private n = 0;
  /** @param max the most held at once (`proxy.maxHeldManifests`). */
  constructor(readonly max: number) {}

  /** Takes a slot: a release function (idempotent), or undefined when all `max` are taken. */
  tryAcquire(): (() => void) | undefined {
    if (this.n >= this.max) return undefined;
    this.n++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.n--;
    };
  }

  /** Held now. */
  get held(): number {
    return this.n;
  }
}

/** The `Retry-After` a pusher refused for too many held manifests gets, seconds. */
export const HELD_RETRY_AFTER_SECONDS = 5;
