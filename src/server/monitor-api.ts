/**
 * The monitoring calls of `/api/v1` (src/monitor), mounted by the admin router behind its
 * authentication:
 * - `GET /images/{digest}/changes?limit=N`: change records of an image (every repository), newest first.
 * - `GET /vulnerabilities/{id}/images?limit=N&after=DIGEST`: a page of the stored images with a finding
 *   whose id or alias is `id` (advisory id, CVE, GHSA; any case), in digest order, with package, fixed
 *   versions, repositories and tags; `limit` 1..1000 images (default 100); `more`/`next` say whether
 *   to ask again with `after=<next>`. `id` must look like an advisory id (letters, digits, `._:-`, at
 *   most 128 characters) or the call is answered 400. Each call indexes at most 100 new
 *   reports first (shared by concurrent calls; `indexBehind` says some were left for the monitor's tick).
 * - `GET /packages/{purl}/images?limit=N&after=DIGEST`: a page of the stored images holding the package a
 *   package URL names (version optional), in digest order, with the matching package instances and the
 *   repositories and tags that hold it; paged as the query above (a page may hold fewer images than
 *   `limit` while `more` is true: images holding the package at other versions were passed over). The
 *   purl may be percent-encoded as one segment (`pkg%3Anpm%2Flodash%404.17.15`) or written with its slashes.
 * - `GET /monitor/runs?limit=N`: monitor passes, newest first.
 * - `POST /monitor/runs` (admin), body `{"all": true}`: a full pass now (or the resumption of an
 *   unfinished one); answers its counts when it is done.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { isDigest, type Digest } from '../core/index.js';
import { advisoryIdProblem, AFFECTED_LIMIT, type Monitor } from '../monitor/index.js';
import type { Store } from '../store/index.js';
import { parseQuery } from './query-params.js';

/** What the routes need. */
export interface MonitorRouteDeps {
  store: Store;
  monitor?: Monitor;
  /** Middleware that lets only the admin role through. */
  admin: (req: Request, res: Response, next: NextFunction) => void;
  fail: (res: Response, e: unknown) => void;
}

const LIMIT = { limit: { kind: 'integer', min: 1, max: 1000, default: 100 } } as const;
/** A page of affected images: `limit` images after the digest `after` (the previous page's `next`). */
const AFFECTED_PAGE = { limit: { kind: 'integer', ...AFFECTED_LIMIT }, after: { kind: 'digest' } } as const;

/** Adds the routes to `api` (the authenticated `/api/v1` router). */
export function addMonitorRoutes(api: Router, deps: MonitorRouteDeps): void {
  const { store, fail } = deps;
  const needMonitor = (res: Response): Monitor | undefined => {
    if (!deps.monitor) res.status(503).json({ error: 'the monitor is not running in this process' });
    return deps.monitor;
  };

  api.get('/images/:digest/changes', async (req, res) => {
    const digest = String(req.params.digest);
    if (!isDigest(digest)) {
      res.status(400).json({ error: `"${digest}" is not a digest (sha256:<64 hex>)` });
      return;
    }
    try {
      const { limit } = parseQuery(`GET /api/v1/images/${digest}/changes`, req.query, LIMIT);
      res.json(await store.monitor.listChanges(digest, limit));
    } catch (e) {
      fail(res, e);
    }
  });

  api.get('/vulnerabilities/:id/images', async (req, res) => {
    const id = String(req.params.id);
    const problem = advisoryIdProblem(id);
    if (problem) {
      res.status(400).json({ error: problem });
      return;
    }
    const monitor = needMonitor(res);
    if (!monitor) return;
    try {
      const { limit, after } = parseQuery(`GET /api/v1/vulnerabilities/${id}/images`, req.query, AFFECTED_PAGE);
      res.json(await monitor.affected(id, { limit, after: after as Digest | undefined }));
    } catch (e) {
      fail(res, e);
    }
  });

  // A purl holds slashes: one percent-encoded segment or several raw ones (Express decodes the capture).
  api.get(/^\/packages\/(.+)\/images$/, async (req, res) => {
    const purl = String((req.params as Record<string, string>)[0] ?? '').trim();
    if (!purl || purl.length > 1000) {
      res.status(400).json({ error: 'a package URL is required (e.g. pkg:npm/lodash@4.17.15, pkg:deb/debian/openssl), percent-encoded as one path segment' });
      return;
    }
    const monitor = needMonitor(res);
    if (!monitor) return;
    try {
      const { limit, after } = parseQuery('GET /api/v1/packages/{purl}/images', req.query, AFFECTED_PAGE);
      res.json(await monitor.packageImages(purl, { limit, after: after as Digest | undefined }));
    } catch (e) {
      fail(res, e);
    }
  });

  api.get('/monitor/runs', async (req, res) => {
    try {
      const { limit } = parseQuery('GET /api/v1/monitor/runs', req.query, LIMIT);
      res.json(await store.monitor.listRuns(limit));
    } catch (e) {
      fail(res, e);
    }
  });

  api.post('/monitor/runs', deps.admin, express.json({ limit: '4kb' }), async (req, res) => {
    const monitor = needMonitor(res);
    if (!monitor) return;
    const body = (req.body ?? {}) as { all?: unknown };
    if (body.all !== true) {
      res.status(400).json({ error: 'body must be {"all": true} (a pass after a database change runs by itself)' });
      return;
    }
    try {
      res.json(await monitor.all());
    } catch (e) {
      fail(res, e);
    }
  });
}
