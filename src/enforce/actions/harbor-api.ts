/**
 * A small client of the Harbor REST API v2.0 (protocols.md §2.6; Harbor's swagger
 * `api/v2.0/swagger.yaml`): the calls enforcement needs (artifacts, tags, labels, copy). Base
 * `<registry url>/api/v2.0`, Basic auth with the registry's credentials (a robot account with
 * "delete artifact", "create tag", "copy artifact" and "label" permissions), JSON. `{repository_name}`
 * excludes the project and is URL-encoded twice (`a/b` → `a%252Fb`). Errors
 * (`{"errors":[{"code","message"}]}`) become PushgateError NOT_FOUND (404), UNAUTHORIZED (401/403)
 * or REGISTRY, with the call and Harbor's code in the message; credentials never appear in messages.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { PushgateError, type Digest } from '../../core/index.js';

/** Connection settings (from the `registries[]` entry of type harbor). */
export interface HarborApiOptions {
  /** Configured registry name (messages). */
  name: string;
  /** Harbor's base URL with scheme (`https://harbor.example.test`); the API is under `/api/v2.0`. */
  url: string;
  auth?: { username?: string; password?: string };
  insecure?: boolean;
  /** PEM CA bundle: a path or PEM text. */
  ca?: string;
  /** Per-request timeout, ms (default 30000). */
  timeoutMs?: number;
  /** Default `pushgate`. */
  userAgent?: string;
}

/** One answer. */
export interface HarborResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

/** A repository split into Harbor's project and repository name (`team/sub/app` → `team`, `sub/app`). */
export function splitRepository(full: string): { project: string; repository: string } {
  const i = full.indexOf('/');
  if (i <= 0 || i === full.length - 1) throw new PushgateError('BAD_REFERENCE', `"${full}" is not a Harbor repository (project/name)`);
  return { project: full.slice(0, i), repository: full.slice(i + 1) };
}

/** `/projects/{p}/repositories/{r}` with the repository name URL-encoded twice. */
export function repositoryPath(full: string): string {
  const { project, repository } = splitRepository(full);
  return `/projects/${encodeURIComponent(project)}/repositories/${encodeURIComponent(encodeURIComponent(repository))}`;
}

/**
 * Largest Harbor API answer read, bytes: the calls here answer an artifact, a project or a page of
 * labels, far smaller. Bounds the heap against a Harbor (or whatever answers at its URL) that
 * streams without end.
 */
export const HARBOR_MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** How long a looked-up label id is trusted, ms. */
export const LABEL_ID_TTL_MS = 10 * 60_000;

/** See the module comment. */
export class HarborApi {
  readonly name: string;
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly authHeader?: string;
  /** Label ids by project and name, with when they were looked up (ms): a memo of Harbor's state, so bounded in time and dropped when Harbor says the label is gone. */
  private readonly labelIds = new Map<string, { id: number; at: number }>();

  constructor(private readonly opts: HarborApiOptions) {
    this.name = opts.name;
    this.base = new URL(`${opts.url.replace(/\/+$/, '')}/api/v2.0/`);
    const ca = opts.ca ? (opts.ca.includes('-----BEGIN') ? opts.ca : fs.readFileSync(opts.ca, 'utf8')) : undefined;
    this.agent = this.base.protocol === 'https:' ? new https.Agent({ keepAlive: true, ca, rejectUnauthorized: !opts.insecure }) : new http.Agent({ keepAlive: true });
    if (opts.auth?.username !== undefined) this.authHeader = `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password ?? ''}`).toString('base64')}`;
  }

  /**
   * One call. `path` is relative to `/api/v2.0` and already encoded.
   * @throws PushgateError when the status is not in `ok`, or on a network error (retryable).
   */
  async call(method: string, path: string, opts: { body?: unknown; ok?: number[]; what?: string } = {}): Promise<HarborResponse> {
    const url = new URL(path.replace(/^\//, ''), this.base);
    const what = opts.what ?? `${method} ${url.pathname}`;
    const ok = opts.ok ?? [200];
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.opts.userAgent ?? 'pushgate', 'x-is-resource-name': 'true' };
    if (payload) headers['content-type'] = 'application/json';
    if (this.authHeader) headers.authorization = this.authHeader;
    const res = await new Promise<HarborResponse>((resolve, reject) => {
      const mod = url.protocol === 'https:' ? https : http;
      const req = mod.request(url, { method, headers, agent: this.agent, timeout: this.opts.timeoutMs ?? 30_000 }, (r) => {
        const chunks: Buffer[] = [];
        let size = 0;
        r.on('data', (c: Buffer) => {
          size += c.length;
          // An answer is not trusted to end: beyond the bound the call fails instead of growing the heap.
          if (size > HARBOR_MAX_ANSWER_BYTES) {
            if (chunks.length) reject(new PushgateError('REGISTRY', `harbor ${this.name}: ${what}: answer larger than ${HARBOR_MAX_ANSWER_BYTES} bytes`));
            chunks.length = 0;
            req.destroy();
            return;
          }
          chunks.push(c);
        });
        r.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            /* keep text */
          }
          resolve({ status: r.statusCode ?? 0, headers: r.headers, body });
        });
        r.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.opts.timeoutMs ?? 30_000} ms`)));
      req.on('error', (e) => reject(new PushgateError('NETWORK', `harbor ${this.name}: ${what}: ${e.message}`, { retryable: true, cause: e })));
      req.end(payload);
    });
    if (ok.includes(res.status)) return res;
    const errs = ((res.body as { errors?: Array<{ code?: string; message?: string }> } | undefined)?.errors ?? []).map((e) => `${e.code ?? '?'}: ${e.message ?? ''}`);
    const msg = `harbor ${this.name}: ${what}: ${res.status}${errs.length ? ` ${errs.join('; ')}` : ''}`;
    if (res.status === 404) throw new PushgateError('NOT_FOUND', msg);
    if (res.status === 401 || res.status === 403) throw new PushgateError('UNAUTHORIZED', `${msg} (the robot account needs the artifact, tag and label permissions of this project)`);
    throw new PushgateError('REGISTRY', msg, { retryable: res.status >= 500 || res.status === 429 });
  }

  /** `GET …/artifacts/{reference}?with_tag=true&with_label=true`. @throws NOT_FOUND */
  async getArtifact(full: string, reference: string): Promise<{ digest: Digest; tags: string[]; labels: Array<{ id: number; name: string }> }> {
    const r = await this.call('GET', `${repositoryPath(full)}/artifacts/${encodeURIComponent(reference)}?with_tag=true&with_label=true`, { what: `GET artifact ${full}@${reference}` });
    const a = r.body as { digest: Digest; tags?: Array<{ name: string }> | null; labels?: Array<{ id: number; name: string }> | null };
    return { digest: a.digest, tags: (a.tags ?? []).map((t) => t.name), labels: a.labels ?? [] };
  }

  /** Copies `fromFull@digest` into `toFull` (`POST …/artifacts?from=`); 201. */
  async copyArtifact(toFull: string, fromFull: string, digest: Digest): Promise<void> {
    await this.call('POST', `${repositoryPath(toFull)}/artifacts?from=${encodeURIComponent(`${fromFull}@${digest}`)}`, { ok: [201], what: `copy ${fromFull}@${digest} to ${toFull}` });
  }

  /** Deletes an artifact (all its tags go with it); 200. */
  async deleteArtifact(full: string, reference: string): Promise<void> {
    await this.call('DELETE', `${repositoryPath(full)}/artifacts/${encodeURIComponent(reference)}`, { what: `DELETE artifact ${full}@${reference}` });
  }

  /** Deletes one tag of an artifact; 200. */
  async deleteTag(full: string, reference: string, tag: string): Promise<void> {
    await this.call('DELETE', `${repositoryPath(full)}/artifacts/${encodeURIComponent(reference)}/tags/${encodeURIComponent(tag)}`, { what: `DELETE tag ${full}:${tag}` });
  }

  /** Adds a tag to an artifact; 201 (409 when the tag exists). */
  async createTag(full: string, reference: string, tag: string): Promise<void> {
    await this.call('POST', `${repositoryPath(full)}/artifacts/${encodeURIComponent(reference)}/tags`, { body: { name: tag }, ok: [201], what: `create tag ${full}:${tag}` });
  }

  /**
   * The id of label `name` usable on artifacts of `project`: a global label, else a label of the
   * project, else a new project label (created once; `POST /labels` → 201 `Location: …/labels/{id}`).
   */
  async labelId(name: string, project: string): Promise<number> {
    const key = `${project}\u0000${name}`;
    const cached = this.labelIds.get(key);
    if (cached !== undefined && Date.now() - cached.at < LABEL_ID_TTL_MS) return cached.id;
    const find = async (q: string) => ((await this.call('GET', `/labels?${q}`, { what: `find label ${name}` })).body as Array<{ id: number; name: string }> | null ?? []).find((l) => l.name === name);
    let label = await find(`name=${encodeURIComponent(name)}&scope=g`);
    let projectId: number | undefined;
    if (!label) {
      projectId = ((await this.call('GET', `/projects/${encodeURIComponent(project)}`, { what: `GET project ${project}` })).body as { project_id: number }).project_id;
      label = await find(`name=${encodeURIComponent(name)}&scope=p&project_id=${projectId}`);
    }
    let id = label?.id;
    if (id === undefined) {
      const r = await this.call('POST', '/labels', {
        body: { name, color: '#C92100', description: 'quarantined by pushgate: see the verdict for the reasons', scope: 'p', project_id: projectId },
        ok: [201],
        what: `create label ${name} in project ${project}`,
      });
      id = Number(/\/labels\/(\d+)/.exec(String(r.headers.location ?? ''))?.[1]);
      if (!Number.isInteger(id)) throw new PushgateError('REGISTRY', `harbor ${this.name}: create label ${name}: 201 without a Location naming the label id`);
    }
    this.labelIds.set(key, { id, at: Date.now() });
    return id;
  }

  /** Forgets the remembered id of label `name` for `project` (Harbor said it is gone: deleted or recreated). */
  forgetLabel(name: string, project: string): void {
    this.labelIds.delete(`${project}\u0000${name}`);
  }

  /** Attaches a label; 409 (already attached) counts as done. */
  async addLabel(full: string, reference: string, labelId: number): Promise<void> {
    await this.call('POST', `${repositoryPath(full)}/artifacts/${encodeURIComponent(reference)}/labels`, { body: { id: labelId }, ok: [200, 201, 409], what: `label ${full}@${reference}` });
  }
}
