/**
 * The calls of `/api/v1` that the console (`/ui/`) needs beyond the verdict, report, quarantine,
 * exception, audit and monitoring calls, mounted by the admin router behind its authentication:
 * - `GET /images?registry&repository&tag&digest&decision&limit&after`: a page of stored verdicts
 *   (one per registry, repository and digest), newest write first. `repository` matches a substring,
 *   the others exactly (`tag`: a tag the verdict lists now; `decision`: the stored decision).
 *   Answers `{items, next?}`; `next` is an opaque cursor for `after=` while more may follow.
 * - `GET /overview`: what the console's first page shows: stored verdicts by registry and decision,
 *   the quarantine count, the queue, the vulnerability database's build time, age per source and
 *   records per ecosystem (its coverage), and the images that newly failed (newest first, at most 20).
 * - `GET /stats/blocked?days=N&bucket=day|hour`: pushes blocked (audited `verdict:quarantine`,
 *   `verdict:reject`, and the push proxy's refusals `proxy.refuse`, `proxy.timeout-refuse`,
 *   `proxy.error-refuse`) in the last N days (1..90, default 14), counted in the store per UTC bucket,
 *   registry and rule that blocked (a push blocked by two rules counts once for each rule; a rule that
 *   only warned is not counted; `pushes` counts pushes).
 * - `POST /exceptions/{id}/revoke` (admin), body `{"reason": "…"}`: revokes a stored exception.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { DECISIONS, isBlocking, PushgateError, type Decision } from '../core/index.js';
import type { Gate } from '../gate/gate.js';
import type { PolicyControl } from '../gate/reevaluate.js';
import type { AuditRecord, AuditRuleCount, Store, VerdictCursor } from '../store/index.js';
import { parseQuery, type QuerySpec } from './query-params.js';

/** What the routes need. */
export interface ConsoleRouteDeps {
  store: Store;
  gate: Gate;
  control?: PolicyControl;
  admin: (req: Request, res: Response, next: NextFunction) => void;
  actor: (res: Response) => string;
  fail: (res: Response, e: unknown) => void;
}

const IMAGES_QUERY = {
  registry: { kind: 'string', what: 'a registry name (registries[].name)' },
  repository: { kind: 'string', what: 'a part of a repository name' },
  tag: { kind: 'string', what: 'a tag' },
  digest: { kind: 'digest' },
  decision: { kind: 'enum', values: DECISIONS },
  limit: { kind: 'integer', min: 1, max: 1000, default: 50 },
  after: { kind: 'string', what: 'the `next` cursor of the previous page' },
} as const satisfies QuerySpec;

const BLOCKED_QUERY = {
  days: { kind: 'integer', min: 1, max: 90, default: 14 },
  bucket: { kind: 'enum', values: ['day', 'hour'], default: 'day' },
} as const satisfies QuerySpec;

/**
 * The actions of a push blocked by the gate: a verdict that quarantined or rejected a pushed tag, and a
 * manifest PUT the push proxy refused (it never reaches the registry, so no verdict record follows), the
 * pushes `pushgate_blocked_pushes_total` counts with `mode="sync"`.
 */
export const BLOCKED_ACTIONS = ['verdict:quarantine', 'verdict:reject', 'proxy.refuse', 'proxy.timeout-refuse', 'proxy.error-refuse'];

/** Encodes a verdict cursor for `after=` (opaque to callers). */
export function encodeCursor(c: VerdictCursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

/**
 * Decodes `after=` of `GET /images`.
 * @throws PushgateError BAD_ARGUMENT when it is not a cursor this API handed out.
 */
export function decodeCursor(s: string): VerdictCursor {
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  } catch {
    c = undefined;
  }
  if (!Array.isArray(c) || c.length !== 4 || !Number.isSafeInteger(c[0]) || !c.slice(1).every((x) => typeof x === 'string' && x.length <= 512 && !x.includes('\0'))) {
    throw new PushgateError('BAD_ARGUMENT', 'query parameter after: not a cursor of this endpoint; pass the `next` of the previous page unchanged, or leave it out for the first page');
  }
  return c as VerdictCursor;
}

/** Vulnerability database status, read once per loaded database (counting its records is not free). */
const dbStatus = new WeakMap<object, { records: number; byEcosystem: Record<string, number>; sources: string[] }>();

/** Adds the routes to `api` (the authenticated `/api/v1` router). */
export function addConsoleRoutes(api: Router, deps: ConsoleRouteDeps): void {
  const { store, gate, fail } = deps;

  api.get('/images', async (req, res) => {
    try {
      const q = parseQuery('GET /api/v1/images', req.query, IMAGES_QUERY);
      const page = await store.pageVerdicts({ ...q, digest: q.digest as `sha256:${string}` | undefined, after: q.after ? decodeCursor(q.after) : undefined });
      res.json({ items: page.items, ...(page.next ? { next: encodeCursor(page.next) } : {}) });
    } catch (e) {
      fail(res, e);
    }
  });

  api.get('/overview', async (req, res) => {
    try {
      parseQuery('GET /api/v1/overview', req.query, {});
      const [verdicts, quarantined, queue, recent] = await Promise.all([
        store.countVerdicts(),
        store.countQuarantine({ state: 'quarantined' }),
        store.queueCounts(),
        store.listAudit(200, { actions: ['verdict:quarantine', 'verdict:reject', 'monitor:changed'] }),
      ]);
      const db = gate.currentVulnDb();
      let vulndb: Record<string, unknown> | null = null;
      if (db) {
        let st = dbStatus.get(db);
        if (!st) {
          const s = db.status();
          st = { records: s.records, byEcosystem: s.byEcosystem, sources: s.sources };
          dbStatus.set(db, st);
        }
        vulndb = { builtAt: db.builtAt, ageSeconds: db.builtAt ? Math.max(0, Math.round((Date.now() - Date.parse(db.builtAt)) / 1000)) : null, sourceAgesSeconds: db.sourceAges(), ...st };
      }
      res.json({ verdicts, quarantined, queue, vulndb, newlyFailing: newlyFailing(recent).slice(0, 20) });
    } catch (e) {
      fail(res, e);
    }
  });

  api.get('/stats/blocked', async (req, res) => {
    try {
      const { days, bucket } = parseQuery('GET /api/v1/stats/blocked', req.query, BLOCKED_QUERY);
      const now = Date.now();
      const width = bucket === 'hour' ? 3_600_000 : 86_400_000;
      const start = Math.floor((now - days * 86_400_000) / width + 1) * width;
      const counted = await store.countAuditRules(BLOCKED_ACTIONS, new Date(start).toISOString(), bucket === 'hour' ? 13 : 10);
      res.json({ since: new Date(start).toISOString(), bucket, ...seriesOf(counted.groups), pushes: counted.records });
    } catch (e) {
      fail(res, e);
    }
  });

  api.post('/exceptions/:id/revoke', deps.admin, express.json({ limit: '16kb' }), async (req, res) => {
    if (!deps.control) {
      res.status(503).json({ error: 'policy control is not running in this process' });
      return;
    }
    const id = String(req.params.id);
    const reason = (req.body as { reason?: unknown } | undefined)?.reason;
    try {
      if (!/^\d{1,15}$/.test(id)) throw new PushgateError('BAD_ARGUMENT', `"${id.slice(0, 40)}" is not an exception id (a number from GET /api/v1/exceptions)`);
      if (typeof reason !== 'string' || !reason.trim()) throw new PushgateError('BAD_ARGUMENT', 'body must be {"reason": "…"}: why the exception is revoked (recorded in the audit log)');
      res.json(await deps.control.revokeException(deps.actor(res), Number(id), reason.slice(0, 2000)));
    } catch (e) {
      fail(res, e);
    }
  });
}

/** One bucket of {@link countBlocked}: `t` its start (ISO 8601, UTC). */
export interface BlockedCount {
  t: string;
  registry: string;
  rule: string;
  count: number;
}

/**
 * The chart series of {@link Store.countAuditRules} groups: each bucket as the instant it starts
 * (a UTC day `YYYY-MM-DD` or hour `YYYY-MM-DDTHH`), a record without rules under rule `(none)`, one
 * without a registry under `(unknown)`; in time, registry and rule order.
 */
export function seriesOf(groups: AuditRuleCount[]): { series: BlockedCount[]; rules: string[]; registries: string[] } {
  const series = groups
    .map((g) => ({ t: new Date(g.bucket.length === 10 ? `${g.bucket}T00:00:00.000Z` : `${g.bucket}:00:00.000Z`).toISOString(), registry: g.registry ?? '(unknown)', rule: g.rule ?? '(none)', count: g.count }))
    .sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : a.registry.localeCompare(b.registry) || a.rule.localeCompare(b.rule)));
  return { series, rules: [...new Set(series.map((s) => s.rule))].sort(), registries: [...new Set(series.map((s) => s.registry))].sort() };
}

/**
 * The images that newly failed, newest first, each (registry, repository, digest) once: a push judged
 * blocking, or a monitor re-judgement that turned a non-blocking decision into a blocking one.
 */
export function newlyFailing(rows: AuditRecord[]): Array<{ at: string; registry?: string; repository?: string; digest?: string; tag?: string; decision: string; via: 'push' | 'monitor'; rules: string[] }> {
  const seen = new Set<string>();
  const out: ReturnType<typeof newlyFailing> = [];
  for (const r of rows) {
    let decision: string;
    let via: 'push' | 'monitor';
    if (r.action === 'monitor:changed') {
      const d = r.detail?.decision as { before?: string; after?: string } | undefined;
      if (!d?.after || !isBlocking(d.after as Decision) || isBlocking((d.before ?? 'allow') as Decision)) continue;
      decision = d.after;
      via = 'monitor';
    } else if (r.action.startsWith('verdict:')) {
      decision = r.action.slice('verdict:'.length);
      via = 'push';
    } else continue;
    const k = JSON.stringify([r.registry, r.repository, r.digest]);
    if (seen.has(k)) continue;
    seen.add(k);
    const rules = Array.isArray(r.detail?.reasons) ? (r.detail.reasons as unknown[]).filter((x): x is string => typeof x === 'string') : [];
    out.push({ at: r.at, registry: r.registry, repository: r.repository, digest: r.digest, tag: r.tag, decision, via, rules });
  }
  return out;
}
