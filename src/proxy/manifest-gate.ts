/**
 * The gate at `PUT /v2/<name>/manifests/<reference>` (distribution-spec end-7): the manifest is
 * held, judged by the gate while its blobs sit in the registry unreferenced, and then forwarded
 * byte for byte or refused with a registry error the pusher's client prints.
 *
 * - allow / warn → the same bytes and Content-Type go upstream (warn adds a `Warning: 299`).
 * - quarantine / reject (policy mode `enforce`) → 403 `DENIED` naming rules, worst findings with
 *   fixed versions, and the report URL. Refused manifests are remembered for a while by digest so
 *   an index naming one of them is refused with its platform.
 * - index → every child must have been admitted: a child refused here (or with a blocking stored
 *   verdict) refuses the index naming the platform; then the index itself is judged.
 * - the gate past `proxy.timeoutMs` → `proxy.onTimeout`; a gate error → `proxy.onError`.
 */
import http from 'node:http';
import https from 'node:https';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { LRUCache } from 'lru-cache';
import type { GateApi } from '../gate/types.js';
import type { PushgateConfig, RegistryConfig } from '../config/types.js';
import type { Verdict, ScanReport } from '../core/verdict.js';
import { blockingRules, isBlocking } from '../core/verdict.js';
import { isDigest, SHA512_MANIFEST_REASON } from '../core/digest.js';
import { TAG_RE } from '../core/names.js';
import { isPushgateError } from '../core/errors.js';
import { MANIFEST_ACCEPT, platformString } from '../core/manifest.js';
import { bareMediaType, parseManifestDocument, type ParsedManifest } from '../core/manifest-parse.js';
import { sendRegistryError } from './errors.js';
import { canonicalRequest } from './route.js';
import { forward, upstreamRequestHeaders, type Upstream } from './forward.js';
import { HELD_RETRY_AFTER_SECONDS, lingerAfterAnswer, readBody, type HeldManifests } from './body.js';
import { refName, refusalError, refusedIndexError, warningHeader, type RefusedChild } from './message.js';

/** Default manifest size limit when `scan.maxManifestBytes` is unset (distribution-spec: ≥ 4 MB). */
export const DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** A manifest the proxy refused, remembered by `repository@digest`. */
export interface RefusedEntry {
  rules: string[];
  /** The refusal rests on a complete verdict: pushgate read every blob of it from this repository. */
  complete?: boolean;
  platform?: string;
  decision: string;
  /** When it was refused, ms since the epoch (a stored verdict newer than this replaces the memo). */
  at?: number;
  /** The policy revision that refused it (an exception, release or policy reload changes it). */
  revision?: string;
}

/** Everything the manifest gate needs (built once by startProxy). */
export interface GateContext {
  gate: GateApi;
  config: PushgateConfig;
  registry: RegistryConfig;
  up: Upstream;
  tls: boolean;
  /** Refused manifests, key `repository@digest`; short-lived. */
  refused: LRUCache<string, RefusedEntry>;
  /** Manifest PUTs held now (`proxy.maxHeldManifests`). */
  held: HeldManifests;
  /** Aborted when the proxy closes. */
  closing: AbortSignal;
  /** URL of the report of `digest`, as the client should open it. */
  reportUrl(req: http.IncomingMessage, digest: string): string;
  log: (obj: Record<string, unknown>, msg: string) => void;
}

/** How long the proxy remembers a refused manifest, ms. */
export const REFUSED_TTL_MS = 10 * 60 * 1000;

/**
 * Builds the refused-manifest memory: 10 000 entries, {@link REFUSED_TTL_MS} each. It only
 * summarizes verdicts, so {@link refusedNow} drops an entry as soon as what it summarizes changed.
 */
export function makeRefusedMap(): LRUCache<string, RefusedEntry> {
  return new LRUCache<string, RefusedEntry>({ max: 10_000, ttl: REFUSED_TTL_MS });
}

/** Remembers that `repository@digest` was refused under the policy in force now. */
export function rememberRefused(ctx: Pick<GateContext, 'gate' | 'refused'>, key: string, e: Omit<RefusedEntry, 'at' | 'revision'>): void {
  ctx.refused.set(key, { ...e, at: Date.now(), revision: ctx.gate.currentPolicy?.revision });
}

/**
 * The remembered refusal of `key` (`repository@digest`) if it still stands: not when the policy
 * revision changed since (policy reload, an exception added, a release), nor when a verdict stored
 * after it no longer blocks (the manifest was judged again and allowed). A stale entry is deleted.
 * @param stored the stored verdict of the manifest, if any.
 */
export function refusedNow(ctx: Pick<GateContext, 'gate' | 'refused'>, key: string, stored: Verdict | undefined): RefusedEntry | undefined {
  const hit = ctx.refused.get(key);
  if (!hit) return undefined;
  const revision = ctx.gate.currentPolicy?.revision;
  const judgedSince = stored && Date.parse(stored.evaluatedAt) >= (hit.at ?? 0) && !(isBlocking(stored.decision) && stored.mode === 'enforce');
  if ((revision !== undefined && hit.revision !== revision) || judgedSince) {
    ctx.refused.delete(key);
    return undefined;
  }
  return hit;
}

/** A manifest PUT as Distribution routes it. */
export interface ManifestPut {
  /** Repository, as routed (decoded). */
  name: string;
  /** Tag or digest, as routed (decoded). */
  reference: string;
  /** The canonical request target sent upstream (src/proxy/route.ts). */
  target: string;
}

/**
 * `PUT` of a target Distribution routes to `/v2/<name>/manifests/<reference>` (after decoding, see
 * src/proxy/route.ts) → the put, else undefined (other routes, and targets the proxy refuses).
 */
export function parseManifestPut(method: string | undefined, url: string | undefined): ManifestPut | undefined {
  if (method !== 'PUT' || !url) return undefined;
  const d = canonicalRequest(url);
  if (!d.ok || d.route.kind !== 'manifest') return undefined;
  return { name: d.route.name!, reference: d.route.reference!, target: d.target };
}

/** Who pushes, for the audit log: the Basic user name or the (unverified) JWT `sub`. Never the secret. */
export function actorOf(req: http.IncomingMessage): string {
  const auth = req.headers.authorization ?? '';
  const [scheme, value] = auth.split(' ', 2);
  try {
    if (scheme?.toLowerCase() === 'basic' && value) {
      const user = Buffer.from(value, 'base64').toString('utf8').split(':')[0];
      if (user) return user;
    }
    if (scheme?.toLowerCase() === 'bearer' && value) {
      const payload = value.split('.')[1];
      if (payload) {
        const sub = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown }).sub;
        if (typeof sub === 'string' && sub) return `${sub} (token)`;
      }
    }
  } catch {
    // an unreadable credential is the registry's business; the audit says "unknown"
  }
  return `unknown@${req.socket.remoteAddress ?? '?'}`;
}

/**
 * The upload-chunk path the push-rights check sends its `PATCH` to: the PUT's canonical repository
 * path (`/v2/<name>/manifests/<reference>` → `/v2/<name>/blobs/uploads/<id>`), without the query. The
 * id matches Distribution's upload route but carries no signed `_state`, so an authorized request ends
 * as 400 `BLOB_UPLOAD_INVALID` and nothing is written.
 */
export function pushCheckPath(target: string): string {
  const path = target.split('?')[0]!;
  // The reference holds no `/`, so the last `/manifests/` is the route's, whatever the name holds.
  return `${path.slice(0, path.lastIndexOf('/manifests/'))}/blobs/uploads/${PUSH_CHECK_UPLOAD_ID}`;
}

/**
 * The target a judged manifest PUT is forwarded to: its canonical path without the query. The
 * distribution-spec's `PUT /v2/<name>/manifests/<digest>?tag=a&tag=b` (end-7b) tags the manifest with
 * every `tag` parameter in the same request on registries that implement it, and pushgate judges a
 * PUT under the one reference its path names; no other query parameter of a manifest PUT is defined.
 * Without the query the registry writes only that reference and sends no `OCI-Tag` header, and a
 * client following the spec then tags with one PUT per tag, each judged under its tag.
 */
export function manifestPutTarget(target: string): string {
  return target.split('?')[0]!;
}

/** Upload id of the push-rights check (Distribution's `[a-zA-Z0-9-_.=]+`; never a real upload's UUID). */
export const PUSH_CHECK_UPLOAD_ID = 'pushgate-push-check';

/**
 * Asks the upstream, with the client's own credentials, whether it may PUSH to the repository: a
 * `PATCH` of an upload chunk, which Distribution (registry/handlers/app.go `appendAccessRecords`) and
 * Harbor authorize as `pull,push` before routing it, and which changes nothing ({@link pushCheckPath}).
 * A 401/403 is handed back to the client, with the registry's challenge for push, before any byte
 * of the body is read: a client that may only pull (a reader, anonymous pull on a public registry)
 * cannot make pushgate scan, store a verdict, audit a refused push or hold a slot. A read-only
 * check (`HEAD` of the manifest) let exactly those clients through. A 429 or 5xx says nothing about
 * the client's rights and is no yes either: 429 (with its `Retry-After`) or 502 `UNAVAILABLE`, nothing
 * judged. Only the registry's answer after authorization ({@link pushCheckAnswer}: Distribution's 404
 * `BLOB_UPLOAD_INVALID`) is a yes; any other answer is 502 `UNAVAILABLE` too.
 * @returns true when the client was answered (refused), false to go on.
 */
async function authPreflight(req: http.IncomingMessage, res: http.ServerResponse, ctx: GateContext, name: string, target: string): Promise<boolean> {
  const headers = upstreamRequestHeaders(req, ctx.up, { accept: MANIFEST_ACCEPT, 'content-length': '0' });
  // Only what authorizes and routes; no body headers of the PUT.
  const keep = new Set(['host', 'authorization', 'cookie', 'accept', 'user-agent', 'x-forwarded-for', 'content-length']);
  const filtered: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (keep.has(headers[i]!.toLowerCase())) filtered.push(headers[i]!, headers[i + 1]!);
  const mod = ctx.up.url.protocol === 'https:' ? https : http;
  const status = await new Promise<{ code: number; raw: string[]; body: string } | Error>((resolve) => {
    const r = mod.request(
      {
        protocol: ctx.up.url.protocol,
        hostname: ctx.up.url.hostname,
        port: ctx.up.url.port || undefined,
        method: 'PATCH',
        path: pushCheckPath(target),
        headers: filtered as unknown as http.OutgoingHttpHeaders,
        agent: ctx.up.agent,
      },
      (upres) => {
        // The error body says whether the registry got past authorization (pushCheckAnswer); a few KiB at most.
        const chunks: Buffer[] = [];
        let size = 0;
        upres.on('data', (c: Buffer) => {
          if (size < PUSH_CHECK_BODY_MAX) chunks.push(c);
          size += c.length;
        });
        upres.on('end', () => resolve({ code: upres.statusCode ?? 0, raw: upres.rawHeaders, body: Buffer.concat(chunks).subarray(0, PUSH_CHECK_BODY_MAX).toString('utf8') }));
        upres.on('error', (e) => resolve(e));
      },
    );
    r.setTimeout(ctx.up.idleTimeoutMs, () => r.destroy(new Error('timeout')));
    r.on('error', (e) => resolve(e));
    r.end();
  });
  if (status instanceof Error) {
    lingerAfterAnswer(req, res);
    sendRegistryError(res, 502, { code: 'UNAVAILABLE', message: `pushgate proxy: registry ${ctx.up.url.origin} unreachable (${status.message}); retry later` });
    return true;
  }
  if (status.code === 429 || status.code >= 500) {
    // The registry said nothing about the client's rights (a front proxy's rate limit, an
    // authorization backend that failed): not a yes. A client that may not push could otherwise get
    // its manifest held and judged by answering the check into a 503 (flooding a rate limit).
    const retry = headerOf(status.raw, 'retry-after');
    lingerAfterAnswer(req, res);
    if (status.code === 429) {
      sendRegistryError(res, 429, { code: 'TOOMANYREQUESTS', message: `pushgate proxy: registry ${ctx.up.url.origin} answered the push-rights check with 429; retry later`, detail: { reason: 'push-check-unanswered' } }, retry ? { 'Retry-After': retry } : {});
      return true;
    }
    sendRegistryError(res, 502, { code: 'UNAVAILABLE', message: `pushgate proxy: registry ${ctx.up.url.origin} answered the push-rights check with ${status.code}, so whether this client may push is unknown; retry later`, detail: { reason: 'push-check-unanswered', status: status.code } }, retry ? { 'Retry-After': retry } : {});
    return true;
  }
  if (status.code !== 401 && status.code !== 403) {
    if (pushCheckAnswer(status.code, status.body) === 'authorized') return false;
    // Neither a refusal nor the registry's answer after authorization: something in front of it (a
    // proxy that refuses an oversized header line the client chose with 400, blocks PATCH with 405,
    // redirects to a login page) answered, and that says nothing about the client's rights.
    lingerAfterAnswer(req, res);
    sendRegistryError(res, 502, { code: 'UNAVAILABLE', message: `pushgate proxy: registry ${ctx.up.url.origin} answered the push-rights check with ${status.code}, not with a registry's answer after authorization (404 BLOB_UPLOAD_INVALID or BLOB_UPLOAD_UNKNOWN), so whether this client may push is unknown`, detail: { reason: 'push-check-unanswered', status: status.code } });
    return true;
  }
  const pass: Record<string, string | string[]> = {};
  for (let i = 0; i < status.raw.length; i += 2) {
    const lower = status.raw[i]!.toLowerCase();
    if (lower === 'www-authenticate') pass['WWW-Authenticate'] = [...((pass['WWW-Authenticate'] as string[]) ?? []), status.raw[i + 1]!];
  }
  const code = status.code === 401 ? 'UNAUTHORIZED' : 'DENIED';
  const body = Buffer.from(JSON.stringify({ errors: [{ code, message: status.code === 401 ? 'authentication required' : 'requested access to the resource is denied', detail: [{ Type: 'repository', Name: name, Action: 'push' }] }] }));
  // Answered before the body was read: drained briefly, then the connection closes.
  lingerAfterAnswer(req, res);
  res.writeHead(status.code, { ...pass, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(body.length), 'Docker-Distribution-API-Version': 'registry/2.0' });
  res.end(body);
  return true;
}

/** How much of the check's answer body is read, bytes: a registry error body is far smaller. */
const PUSH_CHECK_BODY_MAX = 16 * 1024;

/** Registry error codes that answer an upload chunk of an upload that does not exist (distribution-spec). */
const UPLOAD_CODES: ReadonlySet<string> = new Set(['BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN']);

/**
 * What an answer other than 401/403 to the push-rights check's `PATCH` (of an upload that does not
 * exist) says: `authorized` only for the answer a registry gives once it authorized the request and
 * looked the upload up: 400 or 404 with a distribution-spec error body (`{"errors":[{"code":…}]}`)
 * whose codes are all `BLOB_UPLOAD_INVALID` or `BLOB_UPLOAD_UNKNOWN` (Distribution 2.8: 404
 * `BLOB_UPLOAD_INVALID`; Zot: 404 `BLOB_UPLOAD_UNKNOWN`). Anything else (2xx, 3xx, another 4xx, an
 * HTML or empty body, `NAME_UNKNOWN`, which some registries answer before authorization) is
 * `unanswered`: it may come from something in front of the registry, or before authorization.
 * @param code the HTTP status; @param body the answer's body (the first {@link PUSH_CHECK_BODY_MAX} bytes)
 */
export function pushCheckAnswer(code: number, body: string): 'authorized' | 'unanswered' {
  if (code !== 400 && code !== 404) return 'unanswered';
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return 'unanswered';
  }
  const errors = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as { errors?: unknown }).errors : undefined;
  if (!Array.isArray(errors) || errors.length === 0) return 'unanswered';
  const allUpload = errors.every((e) => typeof e === 'object' && e !== null && UPLOAD_CODES.has((e as { code?: unknown }).code as string));
  return allUpload ? 'authorized' : 'unanswered';
}

/** The first value of header `lower` (lower-case name) in a raw `[name, value, …]` list. */
function headerOf(raw: string[], lower: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === lower) return raw[i + 1];
  return undefined;
}

type GateOutcome =
  | { kind: 'verdict'; verdict: Verdict; report: ScanReport }
  | { kind: 'timeout' }
  | { kind: 'error'; error: unknown };

function isDeadlineError(e: unknown): boolean {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) return true;
  return isPushgateError(e, 'TIMEOUT') || (isPushgateError(e) && /deadline|timed? ?out/i.test(e.message));
}

/** Runs gate.assessPending against proxy.timeoutMs; never rejects, never outlives the timeout. */
async function judge(ctx: GateContext, pending: Parameters<GateApi['assessPending']>[0]): Promise<GateOutcome> {
  const timeoutMs = ctx.config.proxy.timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<GateOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs);
  });
  const scanned = (async (): Promise<GateOutcome> => {
    try {
      const r = await ctx.gate.assessPending(pending, { deadlineMs: timeoutMs, signal: ctx.closing });
      return { kind: 'verdict', verdict: r.verdict, report: r.report };
    } catch (error) {
      return isDeadlineError(error) ? { kind: 'timeout' } : { kind: 'error', error };
    }
  })();
  try {
    return await Promise.race([scanned, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** The platform a single-manifest report is about, when it names exactly one. */
function platformOf(report: ScanReport | undefined): string | undefined {
  if (report?.platforms?.length === 1) return report.platforms[0];
  const fromFindings = new Set([...(report?.findings ?? []), ...(report?.packages ?? [])].map((x) => x.platform).filter(Boolean));
  return fromFindings.size === 1 ? [...fromFindings][0] : undefined;
}

/** `Expect` values Node's server answers with `checkContinue` (RFC 9110 §10.1.1). */
export const EXPECTS_CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;

/**
 * Handles one manifest PUT end to end, in this order: the pusher's push rights (no byte of the
 * body is read before the registry accepts its credentials for a push, {@link authPreflight}), a held slot (`proxy.maxHeldManifests`, else 429
 * with `Retry-After`), the size (`scan.maxManifestBytes`, else 413) and the body within
 * `proxy.bodyTimeout` (else 408), then the verdict. Resolves with the status sent; never rejects.
 * A client sending `Expect: 100-continue` gets its `100 Continue` only once a slot is held.
 */
export async function handleManifestPut(req: http.IncomingMessage, res: http.ServerResponse, ctx: GateContext, put: ManifestPut): Promise<number> {
  // The manifest goes upstream under its path alone: the one (repository, reference) judged here.
  put = { ...put, target: manifestPutTarget(put.target) };
  const { name, target } = put;
  const { config } = ctx;
  if (!TAG_RE.test(put.reference) && !isDigest(put.reference)) {
    // Distribution routes any reference matching go-digest's DigestRegexp (`foo:bar`, `sha256:<upper
    // case>`) and takes one digest.Parse refuses for a tag: it stores the manifest untagged (pullable
    // by digest), then fails to write the tag (500). Judging it under that "tag" would judge it under a
    // tag mapping it never gets; nothing lands instead.
    lingerAfterAnswer(req, res);
    if (/^sha512:[a-f0-9]{128}$/.test(put.reference)) {
      // A registry that takes a manifest by sha512 keeps it under a name pushgate never judges.
      sendRegistryError(res, 400, { code: 'DIGEST_INVALID', message: `pushgate proxy: ${SHA512_MANIFEST_REASON}`, detail: { reason: 'sha512-manifest' } });
      return 400;
    }
    sendRegistryError(res, 400, {
      code: 'TAG_INVALID',
      message: `pushgate proxy: "${put.reference.slice(0, 140)}" is neither a tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}) nor a sha256 digest in lower-case hex; the registry would store the manifest untagged and fail`,
      detail: { reason: 'bad-reference' },
    });
    return 400;
  }
  if (await authPreflight(req, res, ctx, name, target)) return res.statusCode;
  const release = ctx.held.tryAcquire();
  if (!release) {
    lingerAfterAnswer(req, res);
    sendRegistryError(
      res,
      429,
      { code: 'TOOMANYREQUESTS', message: `pushgate proxy: ${ctx.held.max} manifest pushes are being checked already (proxy.maxHeldManifests); retry in ${HELD_RETRY_AFTER_SECONDS}s`, detail: { reason: 'held-manifests' } },
      { 'Retry-After': String(HELD_RETRY_AFTER_SECONDS) },
    );
    return 429;
  }
  try {
    const limit = config.scan.maxManifestBytes || DEFAULT_MAX_MANIFEST_BYTES;
    const tooBig = (size: string): number => {
      lingerAfterAnswer(req, res);
      sendRegistryError(res, 413, { code: 'SIZE_INVALID', message: `pushgate proxy: manifest of ${size} bytes is larger than the limit of ${limit} bytes (scan.maxManifestBytes)` });
      return 413;
    };
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > limit) return tooBig(String(declared));
    if (EXPECTS_CONTINUE.test(String(req.headers.expect ?? ''))) res.writeContinue();
    const body = await readBody(req, limit, config.proxy.bodyTimeoutMs);
    if (body.kind === 'too-large') return tooBig(`more than ${limit}`);
    if (body.kind === 'aborted') return 499;
    if (body.kind === 'timeout') {
      const secs = Math.round(config.proxy.bodyTimeoutMs / 100) / 10;
      ctx.log({ repository: name, received: body.received, timeoutMs: config.proxy.bodyTimeoutMs }, 'proxy: manifest body too slow; refused');
      lingerAfterAnswer(req, res);
      sendRegistryError(res, 408, { code: 'TIMEOUT', message: `pushgate proxy: the manifest body did not arrive within ${secs}s (proxy.bodyTimeout; ${body.received} bytes received); push again`, detail: { reason: 'body-timeout' } });
      return 408;
    }
    return await judgeHeld(req, res, ctx, put, body.bytes);
  } finally {
    release();
  }
}

/** Judges a held manifest (its push rights accepted, its bytes read) and forwards or refuses it. */
async function judgeHeld(req: http.IncomingMessage, res: http.ServerResponse, ctx: GateContext, put: ManifestPut, bytes: Buffer): Promise<number> {
  const { name, reference, target } = put;
  const { gate, config, registry } = ctx;
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const tag = isDigest(reference) ? undefined : reference;
  if (!tag && reference.startsWith('sha256:') && reference !== digest) {
    sendRegistryError(res, 400, { code: 'DIGEST_INVALID', message: `manifest bytes hash to ${digest}, not ${reference}` });
    return 400;
  }
  // The body is read as the registry and the runtimes read it (Go's key matching); a document
  // they could read differently from pushgate is refused below, once the client is known to have access.
  let doc: ParsedManifest | undefined;
  let invalid: Error | undefined;
  try {
    doc = parseManifestDocument(bytes, req.headers['content-type']);
  } catch (e) {
    if (isPushgateError(e, 'UNSUPPORTED') && /schema 1/.test(e.message)) {
      sendRegistryError(res, 400, { code: 'MANIFEST_INVALID', message: 'pushgate refuses Docker schema 1 manifests: push an OCI or Docker schema 2 image (e.g. skopeo copy --format oci)' });
      return 400;
    }
    // Another media type (not a manifest or index pushgate reads) goes on to the gate, which decides by proxy.onError.
    if (!isPushgateError(e, 'UNSUPPORTED')) invalid = e as Error;
  }
  const mediaType = doc?.mediaType ?? bareMediaType(req.headers['content-type']);

  const t0 = performance.now();
  const actor = actorOf(req);
  const who = { registry: registry.name, repository: name, digest, tag };
  // `judged`: the refusal rests on complete verdicts, for which pushgate read every blob from this
  // repository, so the registry holds it. Otherwise (timeout, gate error, an incomplete scan of
  // blobs that may not exist) the repository name is only what the client sent.
  // `rules`: what refused it, first the one the metric names; the audit keeps all of them as `reasons`,
  // the field verdict records use, so the console counts a refused push as it counts a quarantined one.
  const refuse = async (status: number, err: Parameters<typeof sendRegistryError>[2], rules: string[], action: string, detail: Record<string, unknown>, judged: boolean): Promise<number> => {
    gate.hooks.blockedPush?.(registry.name, name, rules[0]!, 'sync', judged);
    sendRegistryError(res, status, err);
    await gate.audit({ actor, action, ...who, detail: { ...detail, reasons: rules } }).catch((e: unknown) => ctx.log({ err: (e as Error).message }, 'proxy: audit failed'));
    return status;
  };

  if (invalid) {
    gate.hooks.proxyGate?.((performance.now() - t0) / 1000);
    const detail = isPushgateError(invalid) ? invalid.details : undefined;
    return refuse(400, { code: 'MANIFEST_INVALID', message: `pushgate: ${oneLine(invalid.message)}`, detail: { digest, reason: 'manifest-invalid', ...detail } }, ['manifest-invalid'], 'proxy.refuse', { reason: 'manifest-invalid', error: invalid.message }, false);
  }

  // Index: every child must have been admitted before the index is even judged (annotations decide nothing).
  if (doc?.kind === 'index') {
    const refusedChildren: RefusedChild[] = [];
    let childrenComplete = true;
    for (const child of doc.index.manifests) {
      const platform = child.platform ? platformString(child.platform) : 'unknown platform';
      let stored: Verdict | undefined;
      try {
        stored = await gate.verdict(registry.name, name, child.digest);
      } catch (e) {
        ctx.log({ err: (e as Error).message, child: child.digest }, 'proxy: verdict lookup failed; the index assessment decides');
      }
      // The child as the index's tag will serve it: that tag's mapping decides.
      const view = stored && gate.viewFor(stored, tag);
      const v = stored && view ? { ...stored, decision: view.decision, mode: view.mode, reasons: view.reasons } : undefined;
      const hit = refusedNow(ctx, `${name}@${child.digest}`, v);
      if (hit) {
        refusedChildren.push({ digest: child.digest, platform, rules: hit.rules });
        childrenComplete &&= hit.complete === true;
        continue;
      }
      if (v && isBlocking(v.decision) && v.mode === 'enforce') {
        refusedChildren.push({ digest: child.digest, platform, rules: blockingRules(v) });
        childrenComplete &&= v.complete;
      }
    }
    if (refusedChildren.length > 0) {
      gate.hooks.proxyGate?.((performance.now() - t0) / 1000);
      rememberRefused(ctx, `${name}@${digest}`, { rules: [...new Set(refusedChildren.flatMap((c) => c.rules))], decision: 'reject', complete: childrenComplete });
      const err = refusedIndexError(name, tag, digest, refusedChildren, ctx.reportUrl(req, refusedChildren[0]!.digest));
      const childRules = [...new Set(refusedChildren.flatMap((c) => c.rules))];
      return refuse(403, err, childRules.length ? childRules : ['refused-child'], 'proxy.refuse', { refusedChildren }, childrenComplete);
    }
  }

  const outcome = await judge(ctx, { registry: registry.name, repository: name, tag, bytes, mediaType });
  gate.hooks.proxyGate?.((performance.now() - t0) / 1000);
  if (res.destroyed) {
    // The client left while we judged: its push did not happen; nothing is forwarded.
    ctx.log({ ...who, outcome: outcome.kind }, 'proxy: client left before the verdict');
    return 499;
  }

  if (outcome.kind === 'timeout') {
    const secs = Math.round(config.proxy.timeoutMs / 100) / 10;
    if (config.proxy.onTimeout === 'allow') {
      ctx.log({ ...who, timeoutMs: config.proxy.timeoutMs }, 'proxy: scan past the timeout; forwarding (onTimeout: allow)');
      await gate.audit({ actor, action: 'proxy.timeout-allow', ...who, detail: { timeoutMs: config.proxy.timeoutMs } }).catch(() => undefined);
      const code = await forward(req, res, { up: ctx.up, target, body: bytes, log: ctx.log });
      if (code >= 200 && code < 300) {
        // The scan goes on in the gate; the queued assessment makes sure a verdict follows.
        gate.enqueue({ ...who, source: 'proxy' }).catch((e: unknown) => ctx.log({ ...who, err: (e as Error).message }, 'proxy: enqueue after timeout failed'));
      }
      return code;
    }
    return refuse(
      403,
      { code: 'DENIED', message: `pushgate: the scan of ${refName(name, tag, digest)} did not finish in time (${secs}s); it goes on: retry the push in a minute`, detail: { digest, reason: 'scan-timeout' } },
      ['scan-timeout'],
      'proxy.timeout-refuse',
      { timeoutMs: config.proxy.timeoutMs },
      false,
    );
  }

  if (outcome.kind === 'error') {
    const e = outcome.error;
    const msg = e instanceof Error ? e.message : String(e);
    ctx.log({ ...who, err: msg, code: isPushgateError(e) ? e.code : undefined }, 'proxy: the gate could not decide');
    if (config.proxy.onError === 'allow') {
      await gate.audit({ actor, action: 'proxy.error-allow', ...who, detail: { error: msg } }).catch(() => undefined);
      return forward(req, res, { up: ctx.up, target, body: bytes, log: ctx.log });
    }
    return refuse(
      403,
      { code: 'DENIED', message: `pushgate could not check ${refName(name, tag, digest)} (${oneLine(msg)}); retry, or ask the registry's administrators`, detail: { digest, reason: 'gate-error', code: isPushgateError(e) ? e.code : 'INTERNAL' } },
      ['gate-error'],
      'proxy.error-refuse',
      { error: msg },
      false,
    );
  }

  const { report } = outcome;
  // Derived for the tag of this PUT (undefined for a PUT by digest), whatever tag judged it first.
  const view = gate.viewFor(outcome.verdict, tag);
  const verdict: Verdict = { ...outcome.verdict, decision: view.decision, mode: view.mode, reasons: view.reasons };
  if (isBlocking(verdict.decision) && verdict.mode === 'enforce') {
    const platform = platformOf(report);
    const rules = blockingRules(verdict);
    rememberRefused(ctx, `${name}@${digest}`, { rules, platform, decision: verdict.decision, complete: verdict.complete });
    const err = refusalError({ repository: name, tag, digest, verdict, report, reportUrl: ctx.reportUrl(req, digest), platform });
    return refuse(403, err, rules.length ? rules : [verdict.decision], 'proxy.refuse', { decision: verdict.decision, rules }, verdict.complete);
  }
  // Judged again and let through: an index naming it must not be refused by an older memory of it.
  ctx.refused.delete(`${name}@${digest}`);
  const warning = verdict.decision === 'warn' || isBlocking(verdict.decision) ? warningHeader(verdict) : undefined;
  return forward(req, res, { up: ctx.up, target, body: bytes, log: ctx.log, extraResponseHeaders: warning ? ['Warning', warning] : [] });
}

function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 199)}…` : flat;
}
