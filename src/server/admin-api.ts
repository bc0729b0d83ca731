/**
 * The `/api/v1` router: verdicts, reports, scans, release from quarantine, exceptions (add, list,
 * revoke), VEX documents (add, list, read, delete), the audit log, and the console's calls (src/server/console-api.ts). List calls page with
 * `limit` and `after` (keyset: the last seq or id of the previous page). Their answers keep the shapes they
 * were published with, a JSON array here and `{items, next?}` for `GET /images` (README "Paging", checked
 * by test/unit/server/list-paging.test.ts): changing one breaks the console and scripts that read it.
 *
 * Authentication (`Authorization: Bearer <token>`):
 * - a JWT verified with jsonwebtoken against `api.jwt`: `secret` → HS256 only; `publicKey` → RS256
 *   for an RSA key, ES256 for an EC P-256 key (the algorithm is pinned by the configured key, never
 *   taken from the token header); `exp` is required; `aud` must name `audience`, which a public key
 *   requires, and an HS256 secret has at least 32 bytes (src/config/jwt.ts); `iss` is checked when configured. The
 *   role is the most privileged of the claim `role` (`viewer` | `admin`) and the array `roles`; a token
 *   whose role values are all unknown is refused (403) with the accepted roles named.
 *   The subject (`sub`) is the actor recorded in the audit log.
 * - a static token from `api.tokens`: role `viewer` (read-only; scripts, dashboards, the demo).
 * `viewer` reads (GET); `admin` may also queue scans, release, add exceptions and add or delete VEX documents.
 * 401: no or bad credential; 403: a valid credential without the role.
 */
import { createPublicKey } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import jwt from 'jsonwebtoken';
import { jwtConfigProblem } from '../config/jwt.js';
import { findSecret, isDigest, parseImageRef, PushgateError, type Digest, type PushEvent, type Verdict } from '../core/index.js';
import type { PushgateConfig } from '../config/types.js';
import type { Gate, Logger } from '../gate/gate.js';
import type { PolicyControl } from '../gate/reevaluate.js';
import { formatReport, REPORT_FORMATS, REPORT_MEDIA_TYPES, type ReportFormat } from '../gate/report-formats.js';
import { presentVerdict } from '../gate/verdict-view.js';
import type { ExceptionSpec } from '../policy/index.js';
import type { AuditFilter, QuarantineState, Store, StoredVexDocument } from '../store/index.js';
import { parseQuery, type QuerySpec } from './query-params.js';
import { addMonitorRoutes } from './monitor-api.js';
import { addConsoleRoutes } from './console-api.js';
import { WORKLOADS_PER_IMAGE, type Monitor } from '../monitor/index.js';
import { VERSION } from '../core/version.js';

/** Roles, least privileged first. */
export type Role = 'viewer' | 'admin';

/** Every role a JWT may carry in `role` or `roles`, least privileged first. */
export const ROLES: readonly Role[] = ['viewer', 'admin'];

/** Who is calling. */
export interface Principal {
  /** JWT `sub`, or `api-token#<n>` for a static token. */
  actor: string;
  role: Role;
}

/** What the router serves from. */
export interface AdminApiDeps {
  config: PushgateConfig;
  gate: Gate;
  store: Store;
  logger: Logger;
  /** Policy reload, exceptions and release; without it the admin calls answer 503. */
  control?: PolicyControl;
  /** Continuous monitoring (src/monitor): affected images, full passes; without it those calls answer 503. */
  monitor?: Monitor;
}

type Verifier = (token: string) => Principal;

/** Query parameters of `GET /api/v1/audit`: `limit` and exact-match filters (AND). */
const AUDIT_QUERY = {
  limit: { kind: 'integer', min: 1, max: 10_000, default: 100 },
  actor: { kind: 'string', what: 'an actor (a JWT subject, api-token#<n>, pushgate or a registry name)' },
  action: { kind: 'string', what: 'an action (release, verdict:reject, policy-reloaded, …)' },
  registry: { kind: 'string', what: 'a registry name (registries[].name)' },
  repository: { kind: 'string', what: 'a repository name' },
  digest: { kind: 'digest' },
  tag: { kind: 'string', what: 'a tag' },
  after: { kind: 'integer', min: 1, max: Number.MAX_SAFE_INTEGER, default: 0, what: 'the seq of the previous page\'s last record' },
} as const satisfies QuerySpec;

/** Query parameters of `GET /api/v1/quarantine`. */
const QUARANTINE_QUERY = {
  state: { kind: 'enum', values: ['quarantined', 'released', 'expired'] satisfies QuarantineState[], default: 'quarantined' },
  limit: { kind: 'integer', min: 1, max: 1000, default: 100 },
  registry: { kind: 'string', what: 'a registry name (registries[].name)' },
  repository: { kind: 'string', what: 'a repository name' },
  tag: { kind: 'string', what: 'a tag' },
  after: { kind: 'integer', min: 1, max: Number.MAX_SAFE_INTEGER, default: 0, what: 'the id of the previous page\'s last record' },
} as const satisfies QuerySpec;

/**
 * Query parameters of `GET /api/v1/exceptions`: a page in id order (oldest first). Without `limit`
 * every exception is answered, as before paging existed (they are held in memory anyway).
 */
const EXCEPTIONS_QUERY = {
  limit: { kind: 'integer', min: 1, max: 100_000, default: 100_000 },
  after: { kind: 'integer', min: 1, max: Number.MAX_SAFE_INTEGER, default: 0, what: 'the id of the previous page\'s last exception' },
} as const satisfies QuerySpec;

/** Query parameters of `GET /api/v1/vex`: a page in id order (oldest first). */
const VEX_QUERY = {
  limit: { kind: 'integer', min: 1, max: 1000, default: 100 },
  after: { kind: 'integer', min: 1, max: Number.MAX_SAFE_INTEGER, default: 0, what: 'the id of the previous page\'s last document' },
} as const satisfies QuerySpec;

/**
 * True when `token` decodes as a JWT (three base64url parts, a JSON header). `jwt.decode` throws, rather
 * than answering null, for a header whose `typ` is `JWT` over a payload that is not JSON, with a message
 * quoting the payload: anyone could send one, and it must be a 401 like any other token that is no JWT,
 * not an error (a 500, and the caller's text in the error log).
 */
export function decodesAsJwt(token: string): boolean {
  try {
    return !!jwt.decode(token, { complete: true });
  } catch {
    return false;
  }
}

/**
 * Builds the JWT verifier of `api.jwt` (undefined when not configured).
 * @throws PushgateError BAD_CONFIG when the public key is neither RSA nor EC P-256, when a public key
 *   comes without `audience`, or when an HS256 secret is shorter than 32 bytes (src/config/jwt.ts).
 */
export function jwtVerifier(cfg: PushgateConfig['api']['jwt']): Verifier | undefined {
  if (!cfg || (!cfg.secret && !cfg.publicKey)) return undefined;
  let key: string;
  let algorithms: jwt.Algorithm[];
  if (cfg.publicKey) {
    const k = createPublicKey(cfg.publicKey);
    if (k.asymmetricKeyType === 'rsa') algorithms = ['RS256'];
    else if (k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'prime256v1') algorithms = ['ES256'];
    else throw new PushgateError('BAD_CONFIG', `api.jwt.publicKey: a ${k.asymmetricKeyType} key; use an RSA key (RS256) or an EC P-256 key (ES256)`);
    key = cfg.publicKey;
  } else {
    key = cfg.secret!;
    algorithms = ['HS256'];
  }
  // Checked here too, not only when the file is loaded: a verifier built from any other config object
  // (tests, embedders) must not accept another service's tokens or a guessable secret either.
  const bad = jwtConfigProblem(cfg);
  if (bad) throw new PushgateError('BAD_CONFIG', `api.jwt.${bad.key}: ${bad.message}`);
  return (token) => {
    const claims = jwt.verify(token, key, { algorithms, issuer: cfg.issuer, audience: cfg.audience, clockTolerance: 30 }) as jwt.JwtPayload;
    if (typeof claims.exp !== 'number') throw new Error('the token has no exp claim');
    const roles = [claims.role, ...(Array.isArray(claims.roles) ? claims.roles : [])].filter((r) => r !== undefined && r !== null);
    // The most privileged known role wins; unknown values next to a known one are ignored.
    const role = ROLES.filter((r) => roles.includes(r)).at(-1);
    const accepted = ROLES.map((r) => `"${r}"`).join(' or ');
    if (!role && roles.length === 0) throw new PushgateError('FORBIDDEN', `the token has no role claim: "role": ${accepted}`);
    if (!role) {
      const given = roles.map((r) => JSON.stringify(r).slice(0, 64)).join(', ');
      throw new PushgateError('FORBIDDEN', `the token has unknown role${roles.length > 1 ? 's' : ''} ${given}: "role" (or an entry of "roles") must be ${accepted}`);
    }
    return { actor: typeof claims.sub === 'string' && claims.sub ? claims.sub : 'jwt', role };
  };
}

const HTTP_OF: Partial<Record<string, number>> = { BAD_ARGUMENT: 400, BAD_REFERENCE: 400, BAD_CONFIG: 400, FORBIDDEN: 403, NOT_FOUND: 404, UNAUTHORIZED: 502, TIMEOUT: 504 };

function fail(res: Response, e: unknown): void {
  const code = e instanceof PushgateError ? (HTTP_OF[e.code] ?? 502) : 500;
  res.status(code).json({ error: code === 500 ? 'internal error' : (e as Error).message, ...(e instanceof PushgateError && e.details?.problems ? { problems: e.details.problems } : {}) });
}

/** Builds the `/api/v1` router (mount it at `/api/v1`). */
export function createAdminApi(deps: AdminApiDeps): express.Router {
  const { config, gate, store, logger } = deps;
  const verify = jwtVerifier(config.api.jwt);
  const api = express.Router();

  api.use((req: Request, res: Response, next: NextFunction) => {
    const h = req.headers.authorization;
    if (!h?.startsWith('Bearer ')) {
      res.status(401).json({ error: 'the API needs "Authorization: Bearer <token>": a JWT signed with api.jwt, or a viewer token from api.tokens' });
      return;
    }
    const token = h.slice(7).trim();
    const n = findSecret(token, config.api.tokens);
    if (n >= 0) {
      res.locals.principal = { actor: `api-token#${n}`, role: 'viewer' } satisfies Principal;
      next();
      return;
    }
    if (!verify) {
      res.status(401).json({ error: 'unknown token (api.tokens), and no api.jwt is configured' });
      return;
    }
    // A token that is no JWT at all is most often a mistyped or rotated api.tokens entry: say both
    // readings failed rather than the JWT library's "jwt malformed". The token itself is never echoed.
    if (!decodesAsJwt(token)) {
      res.status(401).json({ error: 'token refused: it is neither a token of api.tokens nor a JWT (header.payload.signature, base64url); check the token, or the configuration\'s api.tokens and api.jwt' });
      return;
    }
    try {
      res.locals.principal = verify(token);
    } catch (e) {
      const status = e instanceof PushgateError && e.code === 'FORBIDDEN' ? 403 : 401;
      res.status(status).json({ error: `token refused: ${(e as Error).message}` });
      return;
    }
    next();
  });
  const admin = (_req: Request, res: Response, next: NextFunction) => {
    if ((res.locals.principal as Principal).role !== 'admin') {
      res.status(403).json({ error: 'this call needs the admin role' });
      return;
    }
    next();
  };
  const needControl = (res: Response): PolicyControl | undefined => {
    if (!deps.control) res.status(503).json({ error: 'policy control is not running in this process' });
    return deps.control;
  };
  const actor = (res: Response) => (res.locals.principal as Principal).actor;

  api.get('/verdicts', async (req, res) => {
    const image = typeof req.query.image === 'string' ? req.query.image : '';
    if (!image) {
      res.status(400).json({ error: 'query parameter image=REF is required (host[:port]/repo:tag or @sha256:…)' });
      return;
    }
    try {
      const ref = parseImageRef(image, { defaultTag: 'latest' });
      const rc = gate.registryForHost(ref.registry);
      if (!rc) throw new PushgateError('NOT_FOUND', `registry ${ref.registry} is not guarded by pushgate (registries[].url)`);
      let v: Verdict | undefined;
      if (ref.digest) {
        v = await store.getVerdict(rc.name, ref.repository, ref.digest);
      } else {
        // A tag is answered with the verdict of the digest the registry serves for it now (a tag
        // moves: re-pushed, restored by pushgate, changed by a person); when the registry does not
        // have the tag (quarantined, deleted) or cannot be asked, with the digest it was last pushed as.
        let now: Digest | undefined;
        try {
          now = (await gate.client(rc.name).resolve(ref.repository, ref.tag!))?.digest;
        } catch (e) {
          logger.warn({ registry: rc.name, repository: ref.repository, tag: ref.tag, err: (e as Error).message }, 'verdict lookup: the registry could not resolve the tag; answering from the tag history');
        }
        v = now ? await store.getVerdict(rc.name, ref.repository, now) : await store.getVerdictByTag(rc.name, ref.repository, ref.tag!);
        if (now && !v) throw new PushgateError('NOT_FOUND', `no verdict for ${image}: the tag points at ${now}, which pushgate has not judged yet`);
        res.set('X-Pushgate-Tag-Source', now ? 'registry' : 'history');
      }
      if (!v) throw new PushgateError('NOT_FOUND', `no verdict for ${image}`);
      // decision/mode/reasons of the tag asked about (derived now); a digest gets the stored summary. perTag: every tag's.
      res.json(presentVerdict(gate.currentPolicy, v, ref.digest ? undefined : ref.tag));
    } catch (e) {
      fail(res, e);
    }
  });

  api.get('/images/:digest', async (req, res) => {
    const digest = String(req.params.digest);
    const format = (typeof req.query.format === 'string' ? req.query.format : 'json') as ReportFormat;
    if (!isDigest(digest)) {
      res.status(400).json({ error: `"${digest}" is not a digest (sha256:<64 hex>)` });
      return;
    }
    if (!REPORT_FORMATS.includes(format)) {
      res.status(400).json({ error: `format "${format}": use one of ${REPORT_FORMATS.join(', ')}` });
      return;
    }
    const stored = await store.getReport(digest);
    if (!stored) {
      res.status(404).json({ error: `no report for ${digest}` });
      return;
    }
    // Base recommendations as the catalog stands now, not as when the image was judged.
    const report = await gate.baseImages.current(stored);
    if (format === 'json') {
      // The workloads admission saw running this digest (most recently seen first, bounded, with the count).
      let used;
      try {
        used = (await store.workloads.workloadsOf([digest], WORKLOADS_PER_IMAGE)).get(digest);
      } catch (e) {
        fail(res, e);
        return;
      }
      res.type(REPORT_MEDIA_TYPES.json).send(`${JSON.stringify({ ...report, workloads: used?.workloads ?? [], workloadCount: used?.count ?? 0 }, null, 2)}\n`);
      return;
    }
    const out = formatReport(report, format, VERSION);
    res.type(out.mediaType).send(out.body);
  });

  // admin: the scan is judged and enforced as a push of that tag (a blocking verdict quarantines or deletes
  // it in enforce mode), a write to the registry the read-only viewer role must not make
  api.post('/scans', admin, express.json({ limit: '64kb' }), async (req, res) => {
    const image = (req.body as { image?: unknown })?.image;
    if (typeof image !== 'string') {
      res.status(400).json({ error: 'body must be {"image": "host[:port]/repo:tag|@digest"}' });
      return;
    }
    try {
      const ref = parseImageRef(image, { defaultTag: 'latest' });
      const rc = gate.registryForHost(ref.registry);
      if (!rc) throw new PushgateError('FORBIDDEN', `registry ${ref.registry} is not configured: pushgate only talks to registries its configuration names`);
      const digest = ref.digest ?? (await gate.client(rc.name).resolve(ref.repository, ref.tag!))?.digest;
      if (!digest) throw new PushgateError('NOT_FOUND', `${image} does not exist in ${rc.name}`);
      const id = scanIdFor(rc.name, ref.repository, digest, Date.now());
      // The tag goes with the scan only when pushgate resolved it: beside a digest it is the caller's word,
      // and the gate enforces on the tag an event names (quarantine copy and restore of that tag).
      const ev: PushEvent = { id, source: 'api', registry: rc.name, action: 'push', repository: ref.repository, digest, tag: ref.digest ? undefined : ref.tag, actor: actor(res) };
      await gate.ingest(ev);
      res.status(202).json({ id, registry: rc.name, repository: ref.repository, digest });
    } catch (e) {
      fail(res, e);
    }
  });

  // A scan's id names what it judges and when it was asked for: its status is the verdict of that
  // digest once one was written after the request (nothing else to keep, and it survives restarts).
  api.get('/scans/:id', async (req, res) => {
    const parsed = parseScanIdParam(String(req.params.id));
    if (!parsed) {
      res.status(404).json({ error: `no scan ${String(req.params.id)}: ids come from POST /api/v1/scans` });
      return;
    }
    const v = await store.getVerdict(parsed.registry, parsed.repository, parsed.digest);
    const done = !!v && Date.parse(v.evaluatedAt) >= parsed.at;
    res.json({ id: String(req.params.id), registry: parsed.registry, repository: parsed.repository, digest: parsed.digest, status: done ? 'done' : 'queued', ...(done ? { verdict: v } : {}) });
  });

  // List endpoints: every query parameter is declared; an unknown, repeated or malformed one is
  // 400 with every problem (a silently ignored filter would answer with the wrong records).
  api.get('/audit', async (req, res) => {
    try {
      const { limit, after, ...filter } = parseQuery('GET /api/v1/audit', req.query, AUDIT_QUERY);
      // The store filters, then limits: matches older than the newest records are found too.
      // A page goes on below the seq of the previous one's last record (keyset paging).
      res.json(await store.listAudit(limit, { ...filter, ...(after ? { beforeSeq: after } : {}) } satisfies AuditFilter));
    } catch (e) {
      fail(res, e);
    }
  });

  api.get('/quarantine', async (req, res) => {
    try {
      const { after, ...q } = parseQuery('GET /api/v1/quarantine', req.query, QUARANTINE_QUERY);
      res.json(await store.listQuarantine({ ...q, state: q.state as QuarantineState, ...(after ? { beforeId: after } : {}) }));
    } catch (e) {
      fail(res, e);
    }
  });

  api.post('/quarantine/release', admin, express.json({ limit: '64kb' }), async (req, res) => {
    const control = needControl(res);
    if (!control) return;
    const b = (req.body ?? {}) as Record<string, unknown>;
    const str = (k: string) => (typeof b[k] === 'string' && b[k] !== '' ? (b[k] as string) : undefined);
    let registry = str('registry');
    let repository = str('repository');
    let tag = str('tag');
    let digest = str('digest');
    try {
      const image = str('image');
      if (image) {
        const ref = parseImageRef(image);
        const rc = gate.registryForHost(ref.registry);
        if (!rc) throw new PushgateError('NOT_FOUND', `registry ${ref.registry} is not guarded by pushgate (registries[].url)`);
        registry = rc.name;
        repository = ref.repository;
        tag = ref.tag;
        digest = ref.digest ?? digest;
      }
      if (!registry && config.registries.length === 1) registry = config.registries[0].name;
      const reason = str('reason');
      if (!registry || !repository || (!tag && !digest) || !reason) {
        throw new PushgateError('BAD_ARGUMENT', 'body must be {"image": "host[:port]/repo:tag", "reason": "…"} or {"registry", "repository", "tag" or "digest" (an image pushed by digest only), "reason"} (optional "expires")');
      }
      if (digest && !isDigest(digest)) throw new PushgateError('BAD_ARGUMENT', `"${digest}" is not a digest`);
      const r = await control.release(actor(res), { registry, repository, tag: tag ?? '', digest, reason, expires: str('expires') });
      res.json({ released: r.record, verdict: r.verdict, exception: r.exception });
    } catch (e) {
      logger.warn({ err: (e as Error).message, actor: actor(res) }, 'release refused or failed');
      fail(res, e);
    }
  });

  api.get('/exceptions', async (req, res) => {
    let page: { limit: number; after: number };
    try {
      page = parseQuery('GET /api/v1/exceptions', req.query, EXCEPTIONS_QUERY);
    } catch (e) {
      fail(res, e);
      return;
    }
    const control = deps.control;
    const now = Date.now();
    const rows = (control ? control.list() : await store.listExceptions()).filter((e) => e.id > page.after).slice(0, page.limit);
    res.json(rows.map((e) => ({ ...e, expired: Date.parse(e.expires.length === 10 ? `${e.expires}T23:59:59.999Z` : e.expires) < now })));
  });

  api.post('/exceptions', admin, express.json({ limit: '64kb' }), async (req, res) => {
    const control = needControl(res);
    if (!control) return;
    const spec = req.body as ExceptionSpec;
    if (!spec || typeof spec !== 'object' || Array.isArray(spec)) {
      res.status(400).json({ error: 'body must be an exception: {"reason", "owner", "expires", and at least one of "ids", "packages", "repository", "digest", "rules"}' });
      return;
    }
    try {
      const stored = await control.addException(actor(res), spec);
      res.status(201).json(stored);
    } catch (e) {
      fail(res, e);
    }
  });

  // VEX documents: the body is the document itself (OpenVEX, CycloneDX VEX or CSAF VEX JSON), read as
  // text whatever its content type so the VEX parser, not a generic JSON one, says what is wrong.
  api.post('/vex', admin, express.text({ type: () => true, limit: '4mb' }), async (req, res) => {
    const control = needControl(res);
    if (!control) return;
    const text = typeof req.body === 'string' ? req.body : '';
    try {
      if (!text.trim()) throw new PushgateError('BAD_ARGUMENT', 'body must be a VEX document (OpenVEX, CycloneDX VEX or CSAF VEX, JSON)');
      const doc = await control.addVexDocument(actor(res), text);
      res.status(201).json(vexListEntry(doc));
    } catch (e) {
      fail(res, e);
    }
  });

  api.get('/vex', async (req, res) => {
    try {
      const page = parseQuery('GET /api/v1/vex', req.query, VEX_QUERY);
      const docs = deps.control ? deps.control.listVexDocuments() : await store.listVexDocuments();
      res.json(docs.filter((d) => d.id > page.after).slice(0, page.limit).map(vexListEntry));
    } catch (e) {
      fail(res, e);
    }
  });

  api.get('/vex/:id', async (req, res) => {
    const id = Number(req.params.id);
    const doc = (deps.control ? deps.control.listVexDocuments() : await store.listVexDocuments()).find((d) => d.id === id);
    if (!doc) {
      res.status(404).json({ error: `no VEX document ${String(req.params.id)}: ids come from GET /api/v1/vex` });
      return;
    }
    res.type('application/json').send(doc.body);
  });

  api.delete('/vex/:id', admin, async (req, res) => {
    const control = needControl(res);
    if (!control) return;
    const raw = String(req.params.id);
    try {
      if (!/^[1-9][0-9]{0,15}$/.test(raw)) throw new PushgateError('NOT_FOUND', `no VEX document ${raw}: ids come from GET /api/v1/vex`);
      res.json(vexListEntry(await control.deleteVexDocument(actor(res), Number(raw))));
    } catch (e) {
      fail(res, e);
    }
  });

  addMonitorRoutes(api, { store, monitor: deps.monitor, admin, fail });
  addConsoleRoutes(api, { store, gate, control: deps.control, admin, actor, fail });

  api.post('/policy/reload', admin, async (_req, res) => {
    const control = needControl(res);
    if (!control) return;
    const r = await control.reload();
    res.status(r.ok ? 200 : 422).json(r);
  });

  return api;
}

/** A VEX document as listed: id, author, statement count, who added it and when (the document itself: GET /api/v1/vex/{id}). */
function vexListEntry(d: StoredVexDocument): { id: number; author: string; statements: number; addedBy: string; at: string } {
  return { id: d.id, author: d.author, statements: d.statements, addedBy: d.actor, at: d.at };
}

/** Scan ids of POST /api/v1/scans: base64url of `{registry, repository, digest, at}` (at = request time, ms). */
export function scanIdFor(registry: string, repository: string, digest: string, at: number): string {
  return `api-${Buffer.from(JSON.stringify({ r: registry, p: repository, d: digest, t: at })).toString('base64url')}`;
}

/** Decodes a scan id, or undefined when it is not one. */
export function parseScanIdParam(id: string): { registry: string; repository: string; digest: string; at: number } | undefined {
  if (!id.startsWith('api-')) return undefined;
  try {
    const o = JSON.parse(Buffer.from(id.slice(4), 'base64url').toString('utf8')) as { r?: unknown; p?: unknown; d?: unknown; t?: unknown };
    if (typeof o.r !== 'string' || typeof o.p !== 'string' || typeof o.d !== 'string' || typeof o.t !== 'number') return undefined;
    return { registry: o.r, repository: o.p, digest: o.d, at: o.t };
  } catch {
    return undefined;
  }
}
