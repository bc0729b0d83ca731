/**
 * The monitoring calls of `/api/v1` (src/monitor), mounted by the admin router behind its
 * authentication:
 * - `GET /images/{digest}/changes?limit=N`: change records of an image (every repository), newest first.
 * - `GET /vulnerabilities/{id}/images`: every stored image with a finding whose id or alias is `id`
 *   (advisory id, CVE, GHSA; any case), its package and fixed versions, and the repositories and tags
 *   that hold it.
 * - `GET /packages/{purl}/images`: every stored image holding the package a package URL names (version
 *   optional), with the matching package instances and the repositories and tags that hold it. The purl
 *   may be percent-encoded as one segment (`pkg%3Anpm%2Flodash%404.17.15`) or written with its slashes.
 * - `GET /monitor/runs?limit=N`: monitor passes, newest first.
 * - `POST /monitor/runs` (admin), body `{"all": true}`: a full pass now (or the resumption of an
 *   unfinished one); answers its counts when it is done.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { isDigest } from '../core/index.js';
import type { Monitor } from '../monitor/index.js';
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
    const id = String(req.params.id).trim();
    if (!id || id.length > 200) {
      res.status(400).json({ error: 'an advisory id or alias is required (e.g. CVE-2024-3094, GHSA-…, DSA-…)' });
      return;
    }
    const monitor = needMonitor(res);
    if (!monitor) return;
    try {
      parseQuery(`GET /api/v1/vulnerabilities/${id}/images`, req.query, {});
      res.json(await monitor.affected(id));
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
      parseQuery('GET /api/v1/packages/{purl}/images', req.query, {});
      res.json(await monitor.packageImages(purl));
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
