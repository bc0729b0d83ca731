/**
 * `GET|HEAD /v2/<name>/referrers/<digest>[?artifactType=…]` through the proxy (distribution-spec v1.1
 * end-12a) for a registry without the referrers API: the request goes upstream first; when the registry
 * answers it (200, or 401/403 for the client to authenticate), that answer is the client's. When it has no
 * such route (404/400/405, as Distribution 2.8), the proxy reads the referrers fallback tag `sha256-<hex>`
 * (distribution-spec "Referrers Tag Schema") upstream WITH THE CLIENT'S OWN CREDENTIALS, never pushgate's,
 * and answers the image index of its descriptors, filtered on `artifactType` with the
 * `OCI-Filters-Applied: artifactType` header (src/registry/referrers.ts). No fallback tag: an empty list.
 */
import http from 'node:http';
import https from 'node:https';
import { parseIndexJson, referrersResponse, type IndexJson } from '../registry/referrers.js';
import { sendRegistryError } from './errors.js';
import { clientResponseHeaders, upstreamRequestHeaders, type Upstream } from './forward.js';

/** Largest upstream answer read here (a referrers list or fallback index), bytes. */
const MAX_BYTES = 4 * 1024 * 1024;

interface UpAnswer {
  status: number;
  res: http.IncomingMessage;
  body: Buffer;
}

function upstreamGet(req: http.IncomingMessage, up: Upstream, path: string, accept: string): Promise<UpAnswer> {
  const headers = upstreamRequestHeaders(req, up, { accept });
  // Only what authorizes and routes: no body headers, no conditional headers of the client's request.
  const keep = new Set(['host', 'authorization', 'cookie', 'accept', 'user-agent', 'x-forwarded-for']);
  const filtered: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (keep.has(headers[i]!.toLowerCase())) filtered.push(headers[i]!, headers[i + 1]!);
  const mod = up.url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const r = mod.request({ protocol: up.url.protocol, hostname: up.url.hostname, port: up.url.port || undefined, method: 'GET', path, headers: filtered as unknown as http.OutgoingHttpHeaders, agent: up.agent }, (res) => {
      const chunks: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
        if (n > MAX_BYTES) {
          res.destroy(new Error(`answer larger than ${MAX_BYTES} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, res, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    r.setTimeout(up.idleTimeoutMs, () => r.destroy(new Error('timeout')));
    r.on('error', reject);
    r.end();
  });
}

function passThrough(res: http.ServerResponse, a: UpAnswer, up: Upstream, head: boolean): void {
  res.writeHead(a.status, clientResponseHeaders(a.res, up));
  res.end(head ? undefined : a.body);
}

/**
 * Answers one referrers request (see the module comment).
 * @param name the repository as routed; @param digest the subject digest as routed;
 * @param target the canonical upstream target (path and raw query).
 */
export async function handleReferrers(req: http.IncomingMessage, res: http.ServerResponse, up: Upstream, route: { name: string; digest: string }, target: string): Promise<void> {
  const head = req.method === 'HEAD';
  try {
    const api = await upstreamGet(req, up, target, 'application/vnd.oci.image.index.v1+json');
    if (api.status === 200 || api.status === 401 || api.status === 403) {
      passThrough(res, api, up, head);
      return;
    }
    if (api.status !== 404 && api.status !== 400 && api.status !== 405) {
      passThrough(res, api, up, head);
      return;
    }
    const q = target.indexOf('?');
    const artifactType = q >= 0 ? (new URLSearchParams(target.slice(q + 1)).get('artifactType') ?? undefined) : undefined;
    const tag = route.digest.replace(':', '-');
    const fb = await upstreamGet(req, up, `/v2/${route.name}/manifests/${tag}`, 'application/vnd.oci.image.index.v1+json');
    if (fb.status === 401 || fb.status === 403) {
      passThrough(res, fb, up, head);
      return;
    }
    let index: IndexJson | undefined;
    if (fb.status === 200) {
      try {
        index = parseIndexJson(fb.body);
      } catch {
        index = undefined; // a fallback tag that is not an index lists nothing
      }
    } else if (fb.status !== 404) {
      sendRegistryError(res, 502, { code: 'UNAVAILABLE', message: `pushgate proxy: reading the referrers fallback tag ${tag} upstream answered ${fb.status}; retry later` });
      return;
    }
    const r = referrersResponse(index, artifactType || undefined);
    const body = Buffer.from(JSON.stringify(r.body));
    res.writeHead(200, { 'Content-Type': r.headers['content-type'], 'Content-Length': String(body.length), 'Docker-Distribution-API-Version': 'registry/2.0', ...(r.headers['oci-filters-applied'] ? { 'OCI-Filters-Applied': r.headers['oci-filters-applied'] } : {}) });
    res.end(head ? undefined : body);
  } catch (e) {
    if (!res.headersSent) sendRegistryError(res, 502, { code: 'UNAVAILABLE', message: `pushgate proxy: registry ${up.url.origin} unreachable (${(e as Error).message}); retry later` });
    else res.destroy();
  }
}
