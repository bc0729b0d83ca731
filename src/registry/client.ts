/**
 * OCI distribution client for one configured registry (distribution-spec v1.1.1, protocols.md §4–5):
 * manifests and indexes (OCI and Docker schema 2; schema 1 refused), blobs streamed with Range
 * resume, tag listing with `Link` pagination, catalog, referrers with the `sha256-<hex>` tag fallback,
 * cross-repository copy by mount (falling back to a streamed upload), delete by digest or tag.
 * Authentication, retries, deadlines, TLS and the concurrency limit live in transport.ts and auth/.
 *
 * pushgate only ever talks to the configured `url`; URLs found in notifications are never used.
 * This file is the project's only importer of axios (DESIGN.md §2).
 */
import type { AxiosStatic } from 'axios';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { PassThrough, type Readable } from 'node:stream';
import { PushgateError, isPushgateError } from '../core/errors.js';
import { isContentDigest, isDigest, digestAlgorithm, digestHex, manifestDigestProblem, type Digest } from '../core/digest.js';
import { MANIFEST_ACCEPT, type Descriptor } from '../core/manifest.js';
import { isRegistryRepositoryName, TAG_RE } from '../core/names.js';
import { RegistryError, redactUrl } from './errors.js';
import { parseLinkHeader } from './link-header.js';
import { Transport, header, type TransportRequest } from './transport.js';
import { Authenticator } from './auth/authenticator.js';
import { CredentialScope } from './auth/credential-scope.js';
import { readDockerConfigCredentials, type Credentials } from './auth/docker-config.js';
import { repoScope } from './auth/challenge.js';
import { bareMediaType, detectManifestMediaType, isSchema1, parseManifest, referencedDescriptors } from './manifest.js';
import { parseIndexJson, type IndexJson } from './referrers.js';


// axios is loaded with the first client, not with this module: a `pushgate scan` of a local
// layout, and every command that never talks to a registry, do not pay for it. Its CommonJS build
// is one file (the ESM build is some 60 modules).
const requireCjs = createRequire(import.meta.url);
let axiosLib: AxiosStatic | undefined;
function loadAxios(): AxiosStatic {
  axiosLib ??= requireCjs('axios') as AxiosStatic;
  return axiosLib;
}

/** Options of a {@link RegistryClient} (config `registries[]`, DESIGN.md §3). */
export interface RegistryClientOptions {
  /** Configured registry name, used in messages and metrics. */
  name: string;
  /** Base URL with scheme: `https://registry.example.test`, `http://127.0.0.1:5000`. No path. */
  url: string;
  /** Skip TLS certificate verification for an https:// URL. */
  insecure?: boolean;
  /**
   * Skip TLS certificate verification for the other origins the client talks to as well (the token
   * realm, redirect targets such as blob storage). Default: `insecure`. `pushgate scan --insecure` sets
   * false: the flag covers the scanned reference's registry only, and a realm receives the password.
   */
  insecureOtherOrigins?: boolean;
  /** PEM CA bundle (a file path, or PEM text) trusted in addition to the system CAs. */
  ca?: string;
  /** Client certificate and key for mutual TLS (file paths or PEM text). */
  clientCert?: string;
  clientKey?: string;
  /**
   * Credentials: `username`/`password` (Basic, and for the token realm), `dockerConfig` (path of a
   * Docker config.json: `auths` with `auth`, `username`/`password` or `identitytoken`), or `token`
   * (a bearer token sent as is). `realms`: the token realms (URLs; compared by scheme, host and
   * port) allowed to receive the credentials; without it, the first realm the registry announces is
   * pinned. Credentials never go anywhere else (see auth/credential-scope.ts).
   */
  auth?: { username?: string; password?: string; dockerConfig?: string; token?: string; realms?: string[] };
  /**
   * Credentials the caller already found for this registry (the CLI's credential files or
   * `--username`), used when `auth` names none. Same scope rules as `auth`.
   */
  credentials?: Credentials;
  /** Default `pushgate/<version>`. Informational only: a User-Agent never makes a notification pushgate's own (src/gate/own-traffic.ts). */
  userAgent?: string;
  /** Per-request timeout in ms (time to the full buffered body, or idle time of a streamed body). Default 30000. */
  timeoutMs?: number;
  /** Max requests in flight to this registry (a streamed blob holds its slot until it ends). Default 8. */
  concurrency?: number;
  /** Retries after the first attempt for network errors, 408, 429 and 5xx. Default 3. */
  retries?: number;
  /** Called once per HTTP exchange (for `pushgate_registry_requests_total`). */
  onRequest?: (e: { method: string; code: number | 'error' }) => void;
  /**
   * Awaited before every manifest PUT (also those of copyImage) with what is about to be written
   * (`tag` undefined for a PUT by digest). The gate remembers these as its own writes before the
   * registry can notify them; a rejection aborts the PUT.
   */
  beforeManifestPut?: (w: { repository: string; digest: Digest; tag?: string }) => Promise<void>;
  /** Deadline of one operation including its retries, ms. Default 120000. */
  operationTimeoutMs?: number;
  /** First backoff delay, ms (doubles per attempt, full jitter). Default 250. */
  retryBaseMs?: number;
  /** Backoff cap, ms. Default 10000. */
  retryMaxMs?: number;
  /** Manifest size limit in bytes (config `scan.maxManifestBytes`). Default 4 MiB. */
  maxManifestBytes?: number;
  /** Resume attempts of an interrupted blob download (Range requests). Default 3. */
  blobResumes?: number;
  /** Page size (`n`) of tag and catalog listings. Default 1000. */
  pageSize?: number;
  /** Bounds of one listing (default {@link LIST_LIMITS}; tests lower them to reach them against a real registry). */
  listLimits?: Partial<ListLimits>;
}

/** Options of {@link RegistryClient.getBlob}. */
export interface GetBlobOptions {
  /** Verify the digest (and `size`, when given) while streaming; the stream errors with DIGEST_MISMATCH / SIZE_MISMATCH. */
  verify?: boolean;
  /** Expected size in bytes (from the descriptor). */
  size?: number;
}


function packageVersion(): string {
  try {
    const p = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return p.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** The default User-Agent: `pushgate/<package version>`. */
export const DEFAULT_USER_AGENT = `pushgate/${packageVersion()}`;

function readPem(v: string, what: string): string {
  if (v.includes('-----BEGIN')) return v;
  try {
    return fs.readFileSync(v, 'utf8');
  } catch (err) {
    throw new PushgateError('BAD_CONFIG', `cannot read ${what} ${v}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * A digest the registry may link a blob under: sha256, sha512, or sha384 (go-digest's algorithms; the
 * registry links an upload completed with `digest=sha384:…` under that name, so it is read and
 * unlinked under it too).
 */
function isLinkedBlobDigest(s: string): boolean {
  return isContentDigest(s) || /^sha384:[a-f0-9]{96}$/.test(s);
}

/** sha256 (or sha512, per `alg`) digest of bytes. */
export function computeDigest(bytes: Buffer, alg = 'sha256'): Digest {
  return `${alg}:${crypto.createHash(alg).update(bytes).digest('hex')}`;
}

/** The fallback referrers tag of a digest (distribution-spec "Referrers Tag Schema"): `sha256-<hex>`. */
export function referrersTag(digest: Digest): string {
  return `${digestAlgorithm(digest)}-${digestHex(digest).slice(0, 64)}`;
}

/**
 * The `next` link of a `Link` header (RFC 8288, {@link parseLinkHeader}), resolved against `base`
 * (the URL of the page that carried it, RFC 8288 §3.2 and RFC 3986 §5): undefined when no link-value
 * has the relation type `next` (among others: `rel="prev next"`).
 * @throws Error for a header that is not RFC 8288 (the reason and offset), a `next` target that is no
 *   URL, or two `next` links to different URLs (which one a client follows is not defined)
 */
export function nextLink(link: string | undefined, base: string): string | undefined {
  if (!link) return undefined;
  let next: string | undefined;
  for (const v of parseLinkHeader(link)) {
    if (!v.rels.includes('next')) continue;
    let u: string;
    try {
      u = new URL(v.target, base).toString();
    } catch {
      throw new Error(`the next link <${v.target}> is not a URL`);
    }
    if (next !== undefined && next !== u) throw new Error(`two next links, <${next}> and <${u}>`);
    next = u;
  }
  return next;
}

/**
 * Bounds of one paginated listing (tags, catalog, referrers): the most pages followed, the most
 * entries collected and the most answer bytes read over all its pages (what the entries are parsed
 * from, so what they can hold). A registry answer is not trusted to end its `Link` chain (threat
 * model: hostile registry answer); without them a chain of ever-new `?last=` links, pages of millions
 * of short names, or pages of one 16 MiB name each (5,000 of them: 80 GB kept) grew pushgate's heap
 * for as long as the registry liked. 128 MiB holds 500,000 of the longest tags the spec allows.
 */
export const LIST_LIMITS = { maxPages: 5_000, maxEntries: 500_000, maxBytes: 128 * 1024 * 1024 } as const;

/** The bounds of one listing: pages followed, entries collected, answer bytes read ({@link LIST_LIMITS}). */
export interface ListLimits { maxPages: number; maxEntries: number; maxBytes: number }

/**
 * A listing stopped at one of its bounds ({@link ListLimits}): the registry answered, but the list is
 * longer than pushgate reads (or the registry's chain does not end). `partial` holds the entries of the
 * pages read before the bound (tags and catalog listings; empty for referrers), in the registry's order.
 */
export class ListingBoundError extends RegistryError {
  /** The bound reached. */
  readonly limit: keyof ListLimits;
  /** Entries read before the bound. */
  partial: string[] = [];

  constructor(limit: keyof ListLimits, message: string, url: string) {
    super('REGISTRY', message, { url: redactUrl(url) });
    this.name = 'ListingBoundError';
    this.limit = limit;
  }
}

/**
 * `read` plus the answer body of the page just received, checked against {@link LIST_LIMITS}.maxBytes.
 * @throws RegistryError REGISTRY naming the registry, the operation and the limit.
 */
function listBytes(read: number, body: Buffer, registry: string, op: string, url: string, limits: ListLimits = LIST_LIMITS): number {
  const total = read + body.length;
  if (total > limits.maxBytes) throw new ListingBoundError('maxBytes', `registry ${registry}: ${op}: answers of more than ${limits.maxBytes} bytes; pushgate does not follow a listing further`, url);
  return total;
}

/**
 * The next page of a listing from `url`, checked: undefined when the answer names none; throws when
 * the `Link` header cannot be read (not RFC 8288, a next target that is no URL, two next targets), when
 * it leads off the registry's `origin` (Distribution, Harbor and Docker Hub link relatively; a list
 * on another host is not this registry's list, and pushgate would fetch whatever host an answer
 * names), when a page that brought no entries still links on (Distribution links only from a full
 * page, so the chain would never end), or when `pages`/`entries` reached {@link LIST_LIMITS}.
 * @throws RegistryError REGISTRY naming the registry, the operation and the limit.
 */
export function checkedNextPage(
  link: string | undefined,
  url: string,
  ctx: { registry: string; op: string; origin: string; pages: number; entries: number; pageEntries: number; limits?: ListLimits },
): string | undefined {
  const limits = ctx.limits ?? LIST_LIMITS;
  const fail = (why: string) => new RegistryError('REGISTRY', `registry ${ctx.registry}: ${ctx.op}: ${why}`, { url: redactUrl(url) });
  let next: string | undefined;
  try {
    next = nextLink(link, url);
  } catch (err) {
    // A listing whose continuation cannot be told is not taken for complete.
    throw fail(`the Link header ${JSON.stringify(link!.length > 200 ? `${link!.slice(0, 200)}…` : link)} cannot be read (RFC 8288): ${(err as Error).message}; the listing is not followed`);
  }
  if (next === undefined) return undefined;
  let origin: string | undefined;
  try {
    origin = new URL(next).origin;
  } catch {
    origin = undefined;
  }
  if (origin !== ctx.origin) throw fail(`the Link header leads to ${origin ?? 'a URL that is not one'}, not to the registry's origin ${ctx.origin}; the listing is not followed there`);
  if (ctx.pageEntries === 0) throw fail('a page without entries links to a further page; the listing would not end');
  const bound = (limit: keyof ListLimits, why: string) => new ListingBoundError(limit, `registry ${ctx.registry}: ${ctx.op}: ${why}`, url);
  if (ctx.pages >= limits.maxPages) throw bound('maxPages', `more than ${limits.maxPages} pages; pushgate does not follow a listing further`);
  if (ctx.entries >= limits.maxEntries) throw bound('maxEntries', `more than ${limits.maxEntries} entries; pushgate does not follow a listing further`);
  return next;
}

/** A client for one registry. */
export class RegistryClient {
  /** Configured registry name. */
  readonly name: string;
  /** `host[:port]` of the configured URL. */
  readonly host: string;
  /** `scheme://host[:port]`. */
  readonly origin: string;
  /** The User-Agent sent on every request. */
  readonly userAgent: string;
  private readonly t: Transport;
  private readonly auth: Authenticator;
  private readonly maxManifestBytes: number;
  private readonly blobResumes: number;
  private readonly pageSize: number;
  private readonly listLimits: ListLimits;
  private readonly beforeManifestPut: RegistryClientOptions['beforeManifestPut'];

  /**
   * @throws PushgateError BAD_CONFIG for a URL without http(s) scheme or with a path, unreadable TLS
   *   files, or a realm in `auth.realms` that is not an http(s) URL (or is http for an https registry).
   */
  constructor(opts: RegistryClientOptions) {
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      throw new PushgateError('BAD_CONFIG', `registries[${opts.name}].url "${opts.url}" is not a URL: write it with a scheme, e.g. https://${opts.url}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new PushgateError('BAD_CONFIG', `registries[${opts.name}].url must start with http:// or https:// (got ${u.protocol})`);
    }
    if (u.pathname !== '/' && u.pathname !== '') {
      throw new PushgateError('BAD_CONFIG', `registries[${opts.name}].url must not have a path (the OCI API lives at /v2/): got ${u.pathname}`);
    }
    if (u.username || u.password) {
      throw new PushgateError('BAD_CONFIG', `registries[${opts.name}].url must not carry credentials: use registries[].auth`);
    }
    this.name = opts.name;
    this.host = u.host;
    this.origin = u.origin;
    const scope = new CredentialScope(opts.name, opts.url, opts.auth?.realms);
    this.userAgent = opts.userAgent ?? DEFAULT_USER_AGENT;
    this.beforeManifestPut = opts.beforeManifestPut;
    this.maxManifestBytes = opts.maxManifestBytes ?? 4 * 1024 * 1024;
    this.blobResumes = opts.blobResumes ?? 3;
    this.pageSize = opts.pageSize ?? 1000;
    this.listLimits = { ...LIST_LIMITS, ...opts.listLimits };
    const concurrency = opts.concurrency ?? 8;

    const ca = opts.ca ? [...tls.rootCertificates, readPem(opts.ca, 'CA bundle')] : undefined;
    const cert = opts.clientCert ? readPem(opts.clientCert, 'client certificate') : undefined;
    const key = opts.clientKey ? readPem(opts.clientKey, 'client key') : undefined;
    if (!!cert !== !!key) throw new PushgateError('BAD_CONFIG', `registries[${opts.name}]: clientCert and clientKey go together`);
    const rejectUnauthorized = !opts.insecure;
    const agentOpts = { keepAlive: true, maxSockets: concurrency * 2 };
    const agents = {
      http: new http.Agent(agentOpts),
      https: new https.Agent({ ...agentOpts, ca, cert, key, rejectUnauthorized }),
    };
    const foreignAgents = {
      http: new http.Agent(agentOpts),
      https: new https.Agent({ ...agentOpts, ca, rejectUnauthorized: !(opts.insecureOtherOrigins ?? opts.insecure) }),
    };

    this.t = new Transport({
      name: opts.name,
      scope,
      userAgent: this.userAgent,
      timeoutMs: opts.timeoutMs ?? 30_000,
      operationTimeoutMs: opts.operationTimeoutMs ?? 120_000,
      retries: opts.retries ?? 3,
      retryBaseMs: opts.retryBaseMs ?? 250,
      retryMaxMs: opts.retryMaxMs ?? 10_000,
      concurrency,
      maxRedirects: 5,
      axios: loadAxios().create(),
      agents,
      foreignAgents,
      onRequest: opts.onRequest,
    });

    let creds: Credentials | undefined | null = null;
    const credentials = (): Credentials | undefined => {
      if (creds !== null) return creds;
      const a = opts.auth ?? {};
      if (a.username || a.password) creds = { username: a.username, password: a.password ?? '' };
      else if (a.dockerConfig) creds = readDockerConfigCredentials(a.dockerConfig, this.host);
      else creds = opts.credentials;
      return creds;
    };
    this.auth = new Authenticator({
      registry: opts.name,
      credentials,
      staticToken: opts.auth?.token,
      scope,
      send: async (r) => {
        const res = await this.t.send({ ...r, scopes: [], noAuth: true, noLimit: true, ok: [200, 400, 401, 403, 404, 405], maxBytes: 1024 * 1024 });
        return { status: res.status, headers: res.headers, body: res.body ?? Buffer.alloc(0) };
      },
    });
    this.t.auth = this.auth;
  }

  /** Token requests made so far (tests, diagnostics). */
  get tokenRequests(): number {
    return this.auth.tokenRequests;
  }

  /** Requests in flight right now (tests, diagnostics). */
  get inFlight(): number {
    return this.t.limiter.inUse;
  }

  /**
   * Refuses a name the registry would not route as a repository. Distribution's grammar is taken whole
   * (src/core/names.ts isRegistryRepositoryName): a first component of either case (`Team/app`) is stored
   * and served by the registry, so pushgate reads, judges and removes what is pushed there.
   */
  private checkRepo(repo: string): void {
    if (!isRegistryRepositoryName(repo)) {
      throw new PushgateError('BAD_REFERENCE', `"${repo}" is not a repository name (lowercase path components separated by /; the first may be a domain)`);
    }
  }

  private checkRef(ref: string): void {
    if (!isDigest(ref) && !TAG_RE.test(ref)) throw new PushgateError('BAD_REFERENCE', ref.startsWith('sha512:') ? manifestDigestProblem(ref) : `"${ref}" is neither a tag nor a sha256 digest`);
  }

  private refString(repo: string, ref: string): string {
    return isDigest(ref) ? `${repo}@${ref}` : `${repo}:${ref}`;
  }

  private url(path: string): string {
    return `${this.origin}${path}`;
  }

  private send(req: TransportRequest) {
    return this.t.send(req);
  }

  private mismatch(op: string, url: string, msg: string, code: 'DIGEST_MISMATCH' | 'SIZE_MISMATCH' | 'UNSUPPORTED' = 'DIGEST_MISMATCH'): RegistryError {
    return new RegistryError(code, `registry ${this.name}: ${op}: ${msg}`, { url: redactUrl(url) });
  }

  /** GET /v2/ (end-1): checks reachability and credentials. @throws RegistryError */
  async ping(): Promise<void> {
    await this.send({ method: 'GET', url: this.url('/v2/'), op: 'GET /v2/', scopes: [], ok: [200], maxBytes: 64 * 1024 });
  }

  /**
   * GET a manifest by tag or digest with the full Accept list (protocols.md §4.3). The digest is
   * computed over the exact bytes and checked against the requested digest and
   * `Docker-Content-Digest`.
   * @throws RegistryError NOT_FOUND (404), DIGEST_MISMATCH, SIZE_MISMATCH (over `maxManifestBytes`
   *   or shorter than Content-Length), UNSUPPORTED (schema 1), UNAUTHORIZED, NETWORK, REGISTRY.
   */
  async getManifest(repo: string, ref: string): Promise<{ digest: Digest; mediaType: string; bytes: Buffer }> {
    this.checkRepo(repo);
    this.checkRef(ref);
    const op = `GET manifest ${this.refString(repo, ref)}`;
    const url = this.url(`/v2/${repo}/manifests/${ref}`);
    const res = await this.send({
      method: 'GET',
      url,
      op,
      scopes: [repoScope(repo, 'pull')],
      headers: { accept: MANIFEST_ACCEPT },
      ok: [200],
      maxBytes: this.maxManifestBytes,
    });
    const bytes = res.body as Buffer;
    const cl = header(res.headers, 'content-length');
    if (cl !== undefined && Number(cl) !== bytes.length) {
      throw this.mismatch(op, url, `got ${bytes.length} bytes, Content-Length says ${cl}`, 'SIZE_MISMATCH');
    }
    const mediaType = detectManifestMediaType(bytes, header(res.headers, 'content-type'));
    if (isSchema1(mediaType)) {
      throw this.mismatch(op, url, `Docker schema 1 manifest (${mediaType}) is not supported: push the image again with a current client`, 'UNSUPPORTED');
    }
    const alg = isDigest(ref) ? digestAlgorithm(ref) : 'sha256';
    const digest = computeDigest(bytes, alg);
    if (isDigest(ref) && digest !== ref) throw this.mismatch(op, url, `content hashes to ${digest}, not the requested digest`);
    const dcd = header(res.headers, 'docker-content-digest');
    if (dcd && isDigest(dcd)) {
      const d2 = digestAlgorithm(dcd) === alg ? digest : computeDigest(bytes, digestAlgorithm(dcd));
      if (d2 !== dcd) throw this.mismatch(op, url, `content hashes to ${d2}, Docker-Content-Digest says ${dcd}`);
    }
    return { digest, mediaType, bytes };
  }

  /**
   * HEAD a manifest (same Accept list) to learn its digest, media type and size; falls back to a
   * GET when `Docker-Content-Digest` is missing. Undefined on 404.
   * @param opts.retries retries of the HEAD after the first try (default: the client's `retries`); 0 for a
   *   caller that schedules its own next try (the wait for a tag's link: a `Retry-After` slept here would
   *   hold the worker past that wait's budget).
   * @throws RegistryError as {@link getManifest}.
   */
  async resolve(repo: string, ref: string, opts: { retries?: number } = {}): Promise<{ digest: Digest; mediaType: string; size: number } | undefined> {
    this.checkRepo(repo);
    this.checkRef(ref);
    const op = `HEAD manifest ${this.refString(repo, ref)}`;
    const url = this.url(`/v2/${repo}/manifests/${ref}`);
    const res = await this.send({
      method: 'HEAD',
      url,
      op,
      scopes: [repoScope(repo, 'pull')],
      headers: { accept: MANIFEST_ACCEPT },
      ok: [200, 404],
      ...(opts.retries !== undefined ? { retries: opts.retries } : {}),
    });
    if (res.status === 404) return undefined;
    const dcd = header(res.headers, 'docker-content-digest');
    const mediaType = bareMediaType(header(res.headers, 'content-type'));
    if (isSchema1(mediaType)) throw this.mismatch(op, url, `Docker schema 1 manifest (${mediaType}) is not supported`, 'UNSUPPORTED');
    if (!dcd || !isDigest(dcd) || (isDigest(ref) && digestAlgorithm(dcd) !== digestAlgorithm(ref))) {
      try {
        const m = await this.getManifest(repo, ref);
        return { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length };
      } catch (err) {
        if (err instanceof RegistryError && err.status === 404) return undefined;
        throw err;
      }
    }
    if (isDigest(ref) && dcd !== ref) throw this.mismatch(op, url, `Docker-Content-Digest ${dcd} is not the requested digest`);
    return { digest: dcd, mediaType, size: Number(header(res.headers, 'content-length') ?? -1) };
  }

  /**
   * Streams a blob (end-2). Redirects to storage are followed without the registry's credentials;
   * a 401 from the storage host is an error (FORBIDDEN), never answered with them.
   * An interrupted download is resumed with `Range: bytes=N-` (up to `blobResumes` times) when the
   * registry answers 206; otherwise the stream errors. The caller verifies the digest unless
   * `opts.verify` is set.
   * @throws RegistryError NOT_FOUND (404) and the usual codes before the first byte; later failures
   *   are emitted as stream errors (NETWORK, DIGEST_MISMATCH, SIZE_MISMATCH).
   */
  async getBlob(repo: string, digest: Digest, opts: GetBlobOptions = {}): Promise<Readable> {
    this.checkRepo(repo);
    if (!isLinkedBlobDigest(digest)) throw new PushgateError('BAD_REFERENCE', `"${digest}" is not a digest`);
    const op = `GET blob ${repo}@${digest}`;
    const url = this.url(`/v2/${repo}/blobs/${digest}`);
    const scopes = [repoScope(repo, 'pull')];
    const first = await this.send({ method: 'GET', url, op, scopes, ok: [200], stream: true });
    const cl = header(first.headers, 'content-length');
    const total = cl !== undefined ? Number(cl) : opts.size;
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    const hash = opts.verify ? crypto.createHash(digestAlgorithm(digest)) : undefined;
    let received = 0;
    let resumes = 0;
    const fail = (err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err)));
    const finish = () => {
      if (opts.size !== undefined && received !== opts.size) {
        return fail(this.mismatch(op, url, `got ${received} bytes, the descriptor says ${opts.size}`, 'SIZE_MISMATCH'));
      }
      if (hash) {
        const got = `${digestAlgorithm(digest)}:${hash.digest('hex')}`;
        if (got !== digest) return fail(this.mismatch(op, url, `content hashes to ${got}`));
      }
      out.end();
    };
    let current: Readable | undefined;
    const attach = (src: Readable) => {
      current = src;
      let ended = false;
      src.on('data', (c: Buffer) => {
        received += c.length;
        hash?.update(c);
        if (!out.write(c)) {
          src.pause();
          out.once('drain', () => src.resume());
        }
      });
      const interrupted = (err?: unknown) => {
        if (ended) return;
        ended = true;
        if (out.destroyed) return;
        if (total !== undefined && received >= total) return finish();
        if (total === undefined && err === undefined) return finish();
        if (total !== undefined && resumes < this.blobResumes) {
          resumes++;
          void this.send({ method: 'GET', url, op: `${op} (resume at byte ${received})`, scopes, ok: [206, 200], stream: true, headers: { range: `bytes=${received}-` } })
            .then((r) => {
              if (r.status === 206) {
                const cr = header(r.headers, 'content-range') ?? '';
                const m = /bytes (\d+)-/.exec(cr);
                if (!m || Number(m[1]) !== received) {
                  r.stream?.destroy();
                  return fail(this.mismatch(op, url, `resume answered Content-Range "${cr}" for byte ${received}`, 'SIZE_MISMATCH'));
                }
                attach(r.stream as Readable);
              } else {
                // no Range support: skip what we already have
                attach(skipBytes(r.stream as Readable, received));
              }
            })
            .catch(fail);
          return;
        }
        fail(
          err instanceof RegistryError
            ? err
            : new RegistryError('NETWORK', `registry ${this.name}: ${op}: connection lost after ${received}${total !== undefined ? ` of ${total}` : ''} bytes`, {
                url: redactUrl(url),
                retryable: true,
                cause: err,
              }),
        );
      };
      src.once('end', () => interrupted());
      src.once('error', (e) => interrupted(e));
      src.once('close', () => {
        if (!ended && !src.readableEnded) interrupted(new Error('premature close'));
      });
    };
    attach(first.stream as Readable);
    out.once('close', () => {
      if (!out.writableFinished) current?.destroy();
    });
    return out;
  }

  /** HEAD a blob: true on 200, false on 404. @throws RegistryError for anything else. */
  async blobExists(repo: string, digest: Digest): Promise<boolean> {
    this.checkRepo(repo);
    const res = await this.send({
      method: 'HEAD',
      url: this.url(`/v2/${repo}/blobs/${digest}`),
      op: `HEAD blob ${repo}@${digest}`,
      scopes: [repoScope(repo, 'pull')],
      ok: [200, 404],
    });
    return res.status === 200;
  }

  /**
   * Whether the registry serves `digest` as a manifest of `repo` (`HEAD /v2/<repo>/manifests/<digest>`
   * answered 200). Distribution 2.x looks a manifest up under the repository's manifest links and,
   * since 2.1.0 linked manifests there, under its blob links too (registry.go `manifestLinkPathFns`),
   * so a blob whose bytes parse as a manifest is pullable by digest although no manifest PUT brought it.
   * A linked blob that does not parse as one is answered 500 `UNKNOWN` (the registry's reading failed),
   * which is "no" here, as is 404. Takes sha256, sha384 and sha512 digests: a blob may be linked under any.
   * @throws RegistryError for any other answer (retried as usual when retryable).
   */
  async servesAsManifest(repo: string, digest: string): Promise<boolean> {
    this.checkRepo(repo);
    if (!isLinkedBlobDigest(digest)) throw new PushgateError('BAD_REFERENCE', `"${digest}" is not a digest`);
    const res = await this.send({
      method: 'HEAD',
      url: this.url(`/v2/${repo}/manifests/${digest}`),
      op: `HEAD manifest ${repo}@${digest}`,
      scopes: [repoScope(repo, 'pull')],
      headers: { accept: MANIFEST_ACCEPT },
      ok: [200, 404, 500],
    });
    return res.status === 200;
  }

  /**
   * DELETE a blob's link in `repo` (end-10): the blob is no longer served there under `digest`
   * (sha256, sha384 or sha512; links under the blob's other digests stay; its bytes stay in storage
   * until garbage collection). Needs `storage.delete.enabled`. A 404 (no link) is success.
   * @throws RegistryError UNSUPPORTED (405), …
   */
  async deleteBlob(repo: string, digest: string): Promise<void> {
    this.checkRepo(repo);
    if (!isLinkedBlobDigest(digest)) throw new PushgateError('BAD_REFERENCE', `"${digest}" is not a digest`);
    await this.send({
      method: 'DELETE',
      url: this.url(`/v2/${repo}/blobs/${digest}`),
      op: `DELETE blob ${repo}@${digest}`,
      scopes: [repoScope(repo, 'delete')],
      ok: [200, 202, 204, 404],
      maxBytes: 64 * 1024,
    });
  }

  /**
   * PUT a manifest (end-7) with its exact bytes. Returns the digest of the bytes, checked against
   * the registry's `Docker-Content-Digest`.
   * @throws RegistryError (e.g. 400 MANIFEST_BLOB_UNKNOWN, 413), DIGEST_MISMATCH.
   */
  async putManifest(repo: string, ref: string, bytes: Buffer, mediaType: string): Promise<Digest> {
    this.checkRepo(repo);
    this.checkRef(ref);
    const op = `PUT manifest ${this.refString(repo, ref)}`;
    const url = this.url(`/v2/${repo}/manifests/${ref}`);
    if (this.beforeManifestPut) await this.beforeManifestPut({ repository: repo, digest: computeDigest(bytes), tag: isDigest(ref) ? undefined : ref });
    const res = await this.send({
      method: 'PUT',
      url,
      op,
      scopes: [repoScope(repo, 'pull', 'push')],
      headers: { 'content-type': mediaType },
      body: bytes,
      ok: [200, 201, 202, 204],
      maxBytes: 64 * 1024,
    });
    const digest = computeDigest(bytes, isDigest(ref) ? digestAlgorithm(ref) : 'sha256');
    if (isDigest(ref) && ref !== digest) throw this.mismatch(op, url, `bytes hash to ${digest}, not ${ref}`);
    const dcd = header(res.headers, 'docker-content-digest');
    if (dcd && isDigest(dcd) && digestAlgorithm(dcd) === digestAlgorithm(digest) && dcd !== digest) {
      throw this.mismatch(op, url, `registry stored ${dcd}, the bytes hash to ${digest}`);
    }
    return digest;
  }

  /**
   * Uploads a blob monolithically (end-4a then end-6): POST an upload session, PUT the bytes with
   * `?digest=`. `body` is a Buffer or a factory opening a fresh stream (retries re-open it).
   * @param location an upload session URL already obtained (e.g. from a failed mount).
   */
  async uploadBlob(repo: string, digest: Digest, size: number, body: Buffer | (() => Readable), location?: string, noLimit = false): Promise<void> {
    this.checkRepo(repo);
    const scopes = [repoScope(repo, 'pull', 'push')];
    if (!location) {
      const start = await this.send({
        method: 'POST',
        url: this.url(`/v2/${repo}/blobs/uploads/`),
        op: `POST upload ${repo}`,
        scopes,
        ok: [202],
        maxBytes: 64 * 1024,
      });
      location = header(start.headers, 'location');
    }
    if (!location) throw new RegistryError('REGISTRY', `registry ${this.name}: POST upload ${repo}: 202 without Location`, { url: this.url(`/v2/${repo}/blobs/uploads/`) });
    const put = new URL(location, this.origin);
    if (put.origin !== this.origin) {
      throw new RegistryError('FORBIDDEN', `registry ${this.name}: upload location ${redactUrl(put.toString())} is not on ${this.origin}`, { url: redactUrl(put.toString()) });
    }
    put.searchParams.set('digest', digest);
    await this.send({
      method: 'PUT',
      url: put.toString(),
      op: `PUT blob ${repo}@${digest}`,
      scopes,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body,
      ok: [201, 204],
      maxBytes: 64 * 1024,
      noLimit,
      // a stream body cannot be replayed mid-upload: retries re-run the whole upload from a new session
      retries: Buffer.isBuffer(body) ? undefined : 0,
    });
  }

  /**
   * Makes `desc` available in `toRepo`: nothing if it is already there, else a cross-repository
   * mount (end-11), else (202: mount refused) a streamed upload from `fromRepo` in the session the
   * registry opened. Retried as a whole on retryable failures.
   * @throws RegistryError
   */
  async copyBlob(fromRepo: string, toRepo: string, desc: Descriptor): Promise<void> {
    this.checkRepo(fromRepo);
    this.checkRepo(toRepo);
    if (await this.blobExists(toRepo, desc.digest)) return;
    const op = `POST mount ${toRepo}@${desc.digest} from ${fromRepo}`;
    const mountUrl = new URL(this.url(`/v2/${toRepo}/blobs/uploads/`));
    mountUrl.searchParams.set('mount', desc.digest);
    mountUrl.searchParams.set('from', fromRepo);
    const res = await this.send({
      method: 'POST',
      url: mountUrl.toString(),
      op,
      scopes: [repoScope(toRepo, 'pull', 'push'), repoScope(fromRepo, 'pull')],
      ok: [201, 202],
      maxBytes: 64 * 1024,
    });
    if (res.status === 201) return;
    let location = header(res.headers, 'location');
    for (let attempt = 0; ; attempt++) {
      try {
        const src = await this.getBlob(fromRepo, desc.digest, { size: desc.size, verify: true });
        await this.uploadBlob(toRepo, desc.digest, desc.size, () => src, location, true);
        return;
      } catch (err) {
        location = undefined;
        if (!(err instanceof PushgateError && err.retryable) || attempt >= 2) throw err;
      }
    }
  }

  /**
   * Copies a manifest and everything it references to `toRepo:tag`: for an index, every child
   * manifest by digest first (with its blobs), then the index; blobs by mount. The bytes are
   * byte-identical, so the digest is kept. Layers with `urls` (non-distributable) are not copied.
   * A manifest the tree names more than once is copied once: an index may list one child thousands of
   * times, and each copy costs requests to both repositories.
   * @param written when given, told (in the order written) of every child manifest this copy stored by
   *   digest in `toRepo` that `toRepo` did not have before (a HEAD first): what a copy that fails part-way
   *   leaves there, for the caller to remove. Manifests `toRepo` already had are never named.
   * @throws RegistryError
   */
  async copyImage(fromRepo: string, digest: Digest, toRepo: string, tag: string, written?: Digest[]): Promise<void> {
    this.checkRef(tag);
    const put = await this.copyManifestTree(fromRepo, digest, toRepo, tag, new Set(), written);
    if (put !== digest) throw this.mismatch(`copy ${fromRepo}@${digest} to ${toRepo}:${tag}`, this.url(`/v2/${toRepo}/manifests/${tag}`), `stored as ${put}`);
  }

  /**
   * A child missing from the source may already be in the target: a blocking child pushed by digest is
   * quarantined on its own (copied, then deleted from the source) before its index is. Then the copy
   * goes on; otherwise the source's error stands.
   */
  private async alreadyCopied(e: unknown, toRepo: string, digest: Digest): Promise<Digest> {
    if (!isPushgateError(e, 'NOT_FOUND')) throw e;
    const there = await this.resolve(toRepo, digest).catch(() => undefined);
    if (there?.digest !== digest) throw e;
    return digest;
  }

  private async copyManifestTree(fromRepo: string, digest: Digest, toRepo: string, ref: string, copied = new Set<Digest>(), written?: Digest[]): Promise<Digest> {
    const m = await this.getManifest(fromRepo, digest);
    let children: Descriptor[];
    let blobs: Descriptor[];
    let lenient = false;
    try {
      const parsed = parseManifest(m.bytes, m.mediaType);
      children = parsed.kind === 'index' ? parsed.index.manifests : [];
      blobs = parsed.kind === 'manifest' ? [parsed.manifest.config, ...parsed.manifest.layers] : [];
    } catch (err) {
      // A document pushgate refuses to read (colliding keys) is still quarantined: everything any
      // reader could follow goes along, so the registry accepts the byte-identical copy.
      if (!isPushgateError(err, 'MANIFEST_INVALID')) throw err;
      ({ blobs, manifests: children } = referencedDescriptors(m.bytes));
      lenient = true;
    }
    // Leniently read, a spelling the registry ignored may name content it never had: such copies
    // may fail; the PUT below says whether the registry has all it reads.
    const tolerate = <T>(p: Promise<T>) => (lenient ? p.catch(() => undefined) : p);
    for (const child of children) {
      if (copied.has(child.digest)) continue;
      copied.add(child.digest);
      await tolerate(this.copyManifestTree(fromRepo, child.digest, toRepo, child.digest, copied, written).catch((e: unknown) => this.alreadyCopied(e, toRepo, child.digest)));
    }
    const seen = new Set<string>();
    await Promise.all(
      blobs
        .filter((d) => !d.urls?.length)
        .filter((d) => (seen.has(d.digest) ? false : (seen.add(d.digest), true)))
        .map((d) => tolerate(this.copyBlob(fromRepo, toRepo, d))),
    );
    // A child (stored by digest) the target did not have: named for the caller's clean-up.
    const fresh = written && ref === digest && !(await this.resolve(toRepo, digest).catch(() => ({ digest })));
    const put = await this.putManifest(toRepo, ref, m.bytes, m.mediaType);
    if (fresh) written.push(digest);
    return put;
  }

  /**
   * DELETE a manifest by digest (end-9). On Distribution this also removes every tag pointing at
   * the digest in that repository. Needs `storage.delete.enabled` (else 405 UNSUPPORTED).
   * @throws RegistryError NOT_FOUND (404), UNSUPPORTED (405), …
   */
  async deleteManifest(repo: string, digest: Digest): Promise<void> {
    this.checkRepo(repo);
    if (!isDigest(digest)) throw new PushgateError('BAD_REFERENCE', `deleteManifest needs a digest, got "${digest}"`);
    try {
      await this.send({
        method: 'DELETE',
        url: this.url(`/v2/${repo}/manifests/${digest}`),
        op: `DELETE manifest ${repo}@${digest}`,
        scopes: [repoScope(repo, 'delete')],
        ok: [200, 202, 204],
        maxBytes: 64 * 1024,
      });
    } catch (err) {
      // A registry with deletes turned off fails every quarantine and reject, retried until the event's
      // attempts run out: the operator reading the verdict or the log needs the registry setting, not
      // only Distribution's "The operation is unsupported".
      if (err instanceof RegistryError && err.status === 405) {
        throw new RegistryError(err.code, `${err.message} (the registry refuses deletes: on Distribution set storage.delete.enabled: true in its config.yml and restart it; quarantine and reject delete by digest)`, {
          status: err.status, registryCodes: err.registryCodes, url: err.url, retryable: err.retryable, cause: err,
        });
      }
      throw err;
    }
  }

  /**
   * DELETE a tag (end-9 with a tag): supported by Distribution ≥ 3.0 and others; Distribution 2.8
   * answers 400 DIGEST_INVALID, others 405.
   * @throws RegistryError UNSUPPORTED when the registry cannot delete tags, NOT_FOUND, …
   */
  async deleteTag(repo: string, tag: string): Promise<void> {
    this.checkRepo(repo);
    if (!TAG_RE.test(tag) || isDigest(tag)) throw new PushgateError('BAD_REFERENCE', `"${tag}" is not a tag`);
    const op = `DELETE tag ${repo}:${tag}`;
    try {
      await this.send({
        method: 'DELETE',
        url: this.url(`/v2/${repo}/manifests/${tag}`),
        op,
        scopes: [repoScope(repo, 'delete')],
        ok: [200, 202, 204],
        maxBytes: 64 * 1024,
      });
    } catch (err) {
      if (err instanceof RegistryError && (err.status === 405 || (err.status === 400 && (err.registryCodes.includes('DIGEST_INVALID') || err.registryCodes.includes('UNSUPPORTED'))))) {
        throw new RegistryError('UNSUPPORTED', `registry ${this.name}: ${op}: this registry cannot delete tags (${err.status} ${err.registryCodes.join(',')}); delete by digest instead, which removes every tag on that digest`, {
          status: err.status,
          registryCodes: err.registryCodes,
          url: err.url,
          cause: err,
        });
      }
      throw err;
    }
  }

  private async paginate(path: string, op: string, scopes: string[], key: 'tags' | 'repositories', notFoundEmpty: boolean): Promise<string[]> {
    const out: string[] = [];
    // A listing stopped at a bound carries what was read: the caller may act on what it knows (reconcile).
    const bounded = (err: unknown): unknown => {
      if (err instanceof ListingBoundError) err.partial = out;
      return err;
    };
    let url: string | undefined = this.url(path);
    const seen = new Set<string>();
    let unsized = false;
    let read = 0;
    while (url && !seen.has(url)) {
      seen.add(url);
      let res: Awaited<ReturnType<RegistryClient['send']>>;
      try {
        res = await this.send({ method: 'GET', url, op, scopes, ok: notFoundEmpty ? [200, 404] : [200], maxBytes: 16 * 1024 * 1024 });
      } catch (err) {
        // Distribution 2.8.2+ refuses a first page larger than its `catalog.maxentries` (lowered by
        // hardening guides after CVE-2023-2253) with 400 PAGINATION_NUMBER_INVALID; asked without `n`
        // it pages with its own size and says so in the Link header of each page.
        if (!unsized && out.length === 0 && err instanceof RegistryError && err.status === 400 && err.registryCodes.includes('PAGINATION_NUMBER_INVALID')) {
          unsized = true;
          const u: URL = new URL(url);
          u.searchParams.delete('n');
          url = u.toString();
          continue;
        }
        throw err;
      }
      if (res.status === 404) {
        const codes = (() => {
          try {
            return ((JSON.parse((res.body as Buffer).toString('utf8')) as { errors?: Array<{ code?: string }> }).errors ?? []).map((e) => e.code);
          } catch {
            return [];
          }
        })();
        if (codes.includes('NAME_UNKNOWN')) return out;
        throw this.t.statusError({ method: 'GET', url, op, scopes, ok: [200] }, url, 404, res.headers, res.body as Buffer);
      }
      try {
        read = listBytes(read, res.body as Buffer, this.name, op, url, this.listLimits);
      } catch (err) {
        throw bounded(err);
      }
      let j: Record<string, unknown>;
      try {
        j = JSON.parse((res.body as Buffer).toString('utf8')) as Record<string, unknown>;
      } catch (err) {
        throw new RegistryError('REGISTRY', `registry ${this.name}: ${op}: answer is not JSON`, { url: redactUrl(url), cause: err });
      }
      const list = j[key];
      const page = Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];
      if (out.length + page.length > this.listLimits.maxEntries) {
        throw bounded(new ListingBoundError('maxEntries', `registry ${this.name}: ${op}: more than ${this.listLimits.maxEntries} entries; pushgate does not follow a listing further`, url));
      }
      for (const x of page) out.push(x);
      try {
        url = checkedNextPage(header(res.headers, 'link'), url, { registry: this.name, op, origin: this.origin, pages: seen.size, entries: out.length, pageEntries: page.length, limits: this.listLimits });
      } catch (err) {
        throw bounded(err);
      }
    }
    return out;
  }

  /**
   * All tags of a repository (end-8), following relative `Link` headers; `"tags": null` is an empty
   * page. A repository the registry does not know (404 NAME_UNKNOWN) has no tags: [].
   * @throws RegistryError
   */
  async listTags(repo: string): Promise<string[]> {
    this.checkRepo(repo);
    return this.paginate(`/v2/${repo}/tags/list?n=${this.pageSize}`, `GET tags ${repo}`, [repoScope(repo, 'pull')], 'tags', true);
  }

  /** All repositories (`GET /v2/_catalog`, Link pagination; scope `registry:catalog:*`). @throws RegistryError */
  async catalog(): Promise<string[]> {
    return this.paginate(`/v2/_catalog?n=${this.pageSize}`, 'GET catalog', ['registry:catalog:*'], 'repositories', false);
  }

  /**
   * Manifests that refer to `digest` through their `subject` (end-12), filtered by `artifactType`
   * (client-side when the registry did not apply the filter). When the API is missing (404, as on
   * Distribution 2.8/3.x), reads the fallback tag `sha256-<hex>`; no such tag = no referrers.
   * @throws RegistryError
   */
  async referrers(repo: string, digest: Digest, artifactType?: string): Promise<Descriptor[]> {
    const viaApi = await this.referrersApi(repo, digest, artifactType);
    if (viaApi) return viaApi;
    const fb = await this.fallbackIndex(repo, digest);
    return fb ? (artifactType ? fb.index.manifests.filter((d) => d.artifactType === artifactType) : fb.index.manifests) : [];
  }

  /**
   * The referrers API (end-12) alone: the descriptors (filtered by `artifactType`, client-side when the
   * registry did not apply it), or undefined when this registry has no referrers API (400/404/405, or a
   * 200 that is not an index).
   * @throws RegistryError
   */
  async referrersApi(repo: string, digest: Digest, artifactType?: string): Promise<Descriptor[] | undefined> {
    this.checkRepo(repo);
    if (!isDigest(digest)) throw new PushgateError('BAD_REFERENCE', `"${digest}" is not a digest`);
    const op = `GET referrers ${repo}@${digest}`;
    const filter = (ds: Descriptor[]) => (artifactType ? ds.filter((d) => d.artifactType === artifactType) : ds);
    let url: string | undefined = this.url(`/v2/${repo}/referrers/${digest}${artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : ''}`);
    const out: Descriptor[] = [];
    let apiWorked = false;
    const seen = new Set<string>();
    let read = 0;
    while (url && !seen.has(url)) {
      seen.add(url);
      const res = await this.send({ method: 'GET', url, op, scopes: [repoScope(repo, 'pull')], headers: { accept: 'application/vnd.oci.image.index.v1+json' }, ok: [200, 400, 404, 405], maxBytes: this.maxManifestBytes });
      if (res.status !== 200) break;
      read = listBytes(read, res.body as Buffer, this.name, op, url, this.listLimits);
      let manifests: unknown;
      try {
        manifests = (JSON.parse((res.body as Buffer).toString('utf8')) as { manifests?: unknown }).manifests;
      } catch {
        manifests = undefined;
      }
      if (!Array.isArray(manifests)) break; // a bogus 200: use the fallback
      apiWorked = true;
      const applied = (header(res.headers, 'oci-filters-applied') ?? '').split(',').map((s) => s.trim());
      const ds = manifests as Descriptor[];
      if (out.length + ds.length > this.listLimits.maxEntries) {
        throw new ListingBoundError('maxEntries', `registry ${this.name}: ${op}: more than ${this.listLimits.maxEntries} entries; pushgate does not follow a listing further`, url);
      }
      for (const d of applied.includes('artifactType') ? ds : filter(ds)) out.push(d);
      url = checkedNextPage(header(res.headers, 'link'), url, { registry: this.name, op, origin: this.origin, pages: seen.size, entries: out.length, pageEntries: ds.length, limits: this.listLimits });
    }
    return apiWorked ? out : undefined;
  }

  /**
   * The referrers fallback index of `digest` (tag `sha256-<hex>`) as stored: its digest (what a writer
   * re-checks before replacing it) and its JSON with every field kept; undefined when there is no such
   * tag, or it is not an index.
   * @throws RegistryError
   */
  async fallbackIndex(repo: string, digest: Digest): Promise<{ digest: Digest; index: IndexJson } | undefined> {
    try {
      const m = await this.getManifest(repo, referrersTag(digest));
      if (parseManifest(m.bytes, m.mediaType).kind !== 'index') return undefined;
      return { digest: m.digest, index: parseIndexJson(m.bytes) };
    } catch (err) {
      if (err instanceof RegistryError && err.status === 404) return undefined;
      if (err instanceof PushgateError && err.code === 'UNSUPPORTED') return undefined;
      throw err;
    }
  }
}

/** Drops the first `n` bytes of a stream (for a resume the registry answered with 200). */
function skipBytes(src: Readable, n: number): Readable {
  let left = n;
  const out = new PassThrough();
  src.on('data', (c: Buffer) => {
    if (left >= c.length) {
      left -= c.length;
      return;
    }
    const part = left > 0 ? c.subarray(left) : c;
    left = 0;
    out.write(part);
  });
  src.once('end', () => out.end());
  src.once('error', (e) => out.destroy(e));
  return out;
}
