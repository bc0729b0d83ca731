/**
 * An in-process replay of Harbor's REST API v2.0 (no Harbor can run here: it needs PostgreSQL,
 * Redis, its core, jobservice and registry containers). It answers a script of exchanges derived
 * from Harbor's API spec (protocols.md §2.6, swagger `api/v2.0/swagger.yaml`): each expected request
 * (method, exact path with the repository name URL-encoded twice, JSON body, Basic auth) and the
 * answer Harbor gives (status, `{"errors":[…]}` bodies, `Location` headers). A request out of
 * script is a problem the test reports. Requests outside `/api/v2.0/` go to `fallback` (e.g. the
 * registry API of a real Distribution behind the same origin, as Harbor serves both).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One scripted exchange. */
export interface Exchange {
  method: string;
  path: string;
  body?: unknown;
  status: number;
  response?: unknown;
  headers?: Record<string, string>;
  /** Runs before the answer (e.g. make a real registry do what Harbor would). */
  effect?: () => Promise<void>;
}

/** A running replay. */
export interface HarborReplay {
  url: string;
  /** Problems so far plus every scripted exchange not called; empty when the script ran exactly. */
  done(): string[];
  close(): Promise<void>;
}

/**
 * Starts the replay on 127.0.0.1:`port` (0: any free port). `script` is consumed as requests come
 * in; a test may append exchanges while the replay runs.
 * @param auth the Authorization header every API request must carry.
 */
export async function harborReplay(script: Exchange[], opts: { auth: string; port?: number; fallback?: (req: http.IncomingMessage, res: http.ServerResponse) => void }): Promise<HarborReplay> {
  const problems: string[] = [];
  const queue = script;
  const server = http.createServer((req, res) => {
    if (opts.fallback && !(req.url ?? '').startsWith('/api/v2.0/')) {
      opts.fallback(req, res);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const want = queue.shift();
        const got = `${req.method} ${req.url}`;
        const text = Buffer.concat(chunks).toString('utf8');
        if (!want) {
          problems.push(`unexpected ${got}`);
          res.writeHead(500).end();
          return;
        }
        if (got !== `${want.method} ${want.path}`) problems.push(`expected ${want.method} ${want.path}, got ${got}`);
        if (req.headers.authorization !== opts.auth) problems.push(`${got}: authorization ${req.headers.authorization}`);
        if (want.body !== undefined && JSON.stringify(JSON.parse(text || 'null')) !== JSON.stringify(want.body)) problems.push(`${got}: body ${text}`);
        if (want.body !== undefined && req.headers['content-type'] !== 'application/json') problems.push(`${got}: content-type ${req.headers['content-type']}`);
        await want.effect?.().catch((e: Error) => problems.push(`${got}: effect failed: ${e.message}`));
        res.writeHead(want.status, { 'content-type': 'application/json', ...(want.headers ?? {}) });
        res.end(want.response === undefined ? '' : JSON.stringify(want.response));
      })();
    });
  });
  await new Promise<void>((r) => server.listen(opts.port ?? 0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    done: () => [...problems, ...queue.map((q) => `not called: ${q.method} ${q.path}`)],
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
