/**
 * The express app factory (the only importer of express): webhooks, API, health, metrics and the
 * console's static files (/ui/).
 * Webhook answers: 401 for a missing or wrong token; for an authenticated sender always 202 once
 * the envelope is safely recorded (its events durably queued, or, for a body pushgate cannot read,
 * an `events-lost` audit record and a reconcile of what it named), and 503 only while the store
 * cannot record anything. A registry retries a non-2xx envelope and holds every later event behind
 * it, so a 4xx for a body a retry cannot change would stall the registry's whole notification queue.
 */
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Monitor } from '../monitor/index.js';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { PushgateConfig } from '../config/types.js';
import type { Gate, Logger } from '../gate/gate.js';
import type { PolicyControl } from '../gate/reevaluate.js';
import type { Metrics } from '../metrics/index.js';
import type { Store } from '../store/index.js';
import { harborAdapterRouter } from './harbor-adapter.js';
import { createAdminApi } from './admin-api.js';
import { RegistryInstances } from './registry-instances.js';
import { Readiness } from './readiness.js';
import { closesWhole, readEnvelope, repositoryNamesIn } from './envelope.js';
import { identifySender, parseDistributionEnvelope, parseHarborPayload, type ParsedNotification } from '../webhooks/index.js';
import { isRegistryRepositoryName, TAG_RE } from '../core/names.js';

/** What the app serves from. */
export interface AppDeps {
  config: PushgateConfig;
  gate: Gate;
  store: Store;
  metrics: Metrics;
  logger: Logger;
  /** Policy reload, exceptions and release for the admin API. */
  control?: PolicyControl;
  /** Continuous monitoring for the admin API. */
  monitor?: Monitor;
  /** Readiness with the listeners serve starts (default: store and vulnerability database only). */
  readiness?: Readiness;
  /**
   * Called when events of `registry` may have been lost: after an authenticated envelope that could not
   * be read was recorded as lost (`repositories`: the names it held), or when a new instance of the
   * registry notified (a restart dropped its predecessor's queue: src/server/registry-instances.ts;
   * undefined: the whole registry). Serve wires it to {@link LostEventsReconciler}.
   */
  onEventsLost?: (registry: string, repositories: string[] | undefined) => void;
  /** Where the console's built files are (default: dist/ui of this checkout or package). */
  consoleDir?: string;
}

/** dist/ui beside dist/server (the build) or src/server (running the sources after a build). */
const CONSOLE_DIR = fileURLToPath(new URL('../../dist/ui/', import.meta.url));

/**
 * Content Security Policy of the console: its own scripts, styles and API only; no inline script or
 * style, no framing, no plugin, no form posting elsewhere. Untrusted names from the API cannot run.
 */
const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Serves the console's files from `dir` under /ui/ (GET and HEAD only). 503 with what to do when the
 * console was not built (a production install without its dev tools skips that build).
 */
function consoleRouter(dir: string): express.Router {
  const r = express.Router();
  r.use((req, res, next) => {
    res.set({ 'Content-Security-Policy': CONSOLE_CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', 'X-Frame-Options': 'DENY', 'Cache-Control': 'no-cache' });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.status(405).set('Allow', 'GET, HEAD').json({ error: 'the console serves files only: GET or HEAD' });
      return;
    }
    if (req.originalUrl === '/ui') {
      res.redirect(301, '/ui/');
      return;
    }
    if (!fs.existsSync(path.join(dir, 'index.html'))) {
      res.status(503).json({ error: 'the console is not built: run npm run build (it needs the dev dependencies), then restart' });
      return;
    }
    next();
  });
  r.use(express.static(dir, { index: 'index.html', dotfiles: 'deny', redirect: false, fallthrough: true }));
  return r;
}

/** Own-traffic checks made per envelope at intake (a store lookup each); later events are checked by the worker. */
const INTAKE_OWN_CHECKS = 100;

const JSON_TYPES = ['application/json', 'application/*+json', 'application/vnd.docker.distribution.events.v1+json', 'application/vnd.docker.distribution.events.v2+json', 'application/cloudevents+json'];

/** Builds the app. Listening is the caller's business (see src/server/serve.ts). */
export function createApp(deps: AppDeps): express.Express {
  const { config, gate, store, metrics, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  const readiness = deps.readiness ?? new Readiness({ store, vulndb: () => gate.vulndbReadiness() });
  app.get('/readyz', async (_req, res) => {
    const r = await readiness.check();
    res.status(r.status === 'ready' ? 200 : 503).json(r);
  });
  if (!config.metrics.listen || config.metrics.listen === config.server.listen) {
    app.get('/metrics', metricsHandler(metrics));
  }

  // Dropped events are audited as one summary record per registry and minute (a push makes the
  // registry send dozens of blob and pull events; one fsync'd audit row each would cost more than
  // the push itself). Metrics count them as they come.
  const dropAudit = new DropAudit((registry, reasons) =>
    store.audit({ actor: registry, action: 'events-dropped', detail: { count: Object.values(reasons).reduce((a, b) => a + b, 0), reasons } }).catch(() => undefined),
  );

  app.locals.dropAudit = dropAudit;
  // A registry's new instance (a restart) lost what its predecessor still held: reconciled.
  const instances = new RegistryInstances({ store, logger, onRestart: (registry) => deps.onEventsLost?.(registry, undefined) });

  // The sender is authenticated before its body is read or limited (an unauthenticated caller gets
  // 401 whatever it sends, and learns nothing of the body limit), then the raw body is read.
  const stillOnPreviousToken = new Set<string>();
  const authenticate = (source: 'distribution' | 'harbor') => (req: Request, res: Response, next: NextFunction) => {
    const sender = identifySender(req.headers.authorization, config.registries);
    const registry = sender?.registry;
    if (sender?.previous && !stillOnPreviousToken.has(sender.registry)) {
      // Once per registry and process: the operator rotating the token learns the sender has not switched yet.
      stillOnPreviousToken.add(sender.registry);
      logger.info({ registry }, 'a notification presented one of webhook.previousTokens: this registry has not switched to webhook.token yet; remove previousTokens once it has (restart pushgate to see this again)');
    }
    if (!registry) {
      metrics.eventsDropped.inc({ source, reason: 'unauthorized' });
      res.status(401).json({ error: 'missing or wrong bearer token: configure the sender to present registries[].webhook.token as "Authorization: Bearer <token>"' });
      return;
    }
    res.locals.registry = registry;
    next();
  };
  const raw = async (req: Request, res: Response, next: NextFunction) => {
    try {
      res.locals.envelope = await readEnvelope(req, config.server.bodyLimitBytes);
    } catch (e) {
      // A body that cannot be decompressed: as unreadable as one that is not JSON.
      if (req.readableAborted) return;
      res.locals.envelope = { kind: 'unreadable', error: (e as Error).message };
    }
    next();
  };

  /**
   * Records an envelope from an authenticated sender that pushgate could not read (durably, before
   * the 202 that lets the registry move on), counts it, and asks for a reconcile of the
   * repositories it named, or of the whole registry when it named none that are valid.
   */
  const lost = async (res: Response, source: 'distribution' | 'harbor', registry: string, reason: 'oversized' | 'not-json' | 'not-an-envelope', size: number, named: string[], moreNames = false, error?: string) => {
    const repositories = [...new Set(named)].filter((r) => validNames(r));
    const whole = moreNames || repositories.length === 0;
    try {
      await store.audit({
        actor: registry,
        action: 'events-lost',
        registry,
        detail: { source, reason, bytes: size, ...(error ? { error } : {}), reconcile: whole ? 'registry' : 'repositories', repositories: repositories.slice(0, 100), repositoryCount: repositories.length },
      });
    } catch (e) {
      logger.error({ err: (e as Error).message }, 'could not record lost events');
      res.status(503).json({ error: 'the store is unavailable; retry later' });
      return;
    }
    metrics.eventsLost.inc({ source, registry, reason });
    logger.warn({ registry, source, reason, bytes: size, repositories: whole ? 'all' : repositories.length }, `events lost for registry ${registry}: ${reason}; reconciling ${whole ? 'the registry' : 'the repositories it named'}`);
    deps.onEventsLost?.(registry, whole ? undefined : repositories);
    res.status(202).json({ accepted: 0, lost: reason, reconcile: whole ? 'registry' : repositories });
  };

  const webhook = (source: 'distribution' | 'harbor', parse: (body: unknown, req: Request, registry: string) => ParsedNotification) =>
    async (req: Request, res: Response) => {
      const registry = res.locals.registry as string;
      const envelope = res.locals.envelope as Awaited<ReturnType<typeof readEnvelope>> | { kind: 'unreadable'; error: string };
      if (envelope.kind === 'unreadable') {
        await lost(res, source, registry, 'not-json', 0, [], false, envelope.error.slice(0, 200));
        return;
      }
      if (envelope.kind === 'oversized') {
        await lost(res, source, registry, 'oversized', envelope.size, envelope.repositories, envelope.moreNames, `body of ${envelope.size} bytes is over server.bodyLimit (${config.server.bodyLimitBytes} bytes)`);
        return;
      }
      const text = envelope.bytes.toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (e) {
        // A body cut short (its brackets do not close) may have named more repositories past the cut:
        // the whole registry is reconciled. One that is whole but broken named all it had.
        await lost(res, source, registry, 'not-json', envelope.bytes.length, repositoryNamesIn(text), !closesWhole(text), (e as Error).message.slice(0, 200));
        return;
      }
      let parsed: ParsedNotification;
      try {
        parsed = parse(body, req, registry);
      } catch (e) {
        await lost(res, source, registry, 'not-an-envelope', envelope.bytes.length, repositoryNamesIn(text), false, (e as Error).message);
        return;
      }
      const toQueue: ParsedNotification['events'] = [];
      let ownChecks = 0;
      for (const ig of parsed.ignored) {
        metrics.eventsDropped.inc({ source, reason: ig.reason });
        metrics.eventsReceived.inc({ source, action: ig.action ?? 'unknown' });
      }
      for (const ev of parsed.events) {
        metrics.eventsReceived.inc({ source, action: ev.action });
        if (!validNames(ev.repository, ev.tag)) {
          // A name no registry accepts (OCI distribution-spec §4.1): never queued, never retried.
          metrics.eventsDropped.inc({ source, reason: 'malformed' });
          parsed.ignored.push({ reason: 'malformed', action: ev.action, repository: ev.repository.slice(0, 256) });
          continue;
        }
        // Events in the quarantine prefix are queued too: the gate tells pushgate's own copies (its
        // own-writes memo, its quarantine records) from anyone else's push there, which is judged.
        let own: string | undefined;
        try {
          // The sender's token names the registry (res.locals.registry): the event is judged whatever
          // host its target URL names. Only what pushgate wrote or its own registry account did is skipped.
          // The first INTAKE_OWN_CHECKS events are checked here; the rest of a large envelope are queued
          // and checked by the worker before judging (the same memo, the same answer), so the envelope
          // is answered in bounded time.
          if (ownChecks++ < INTAKE_OWN_CHECKS) own = await gate.isOwnTraffic(ev);
        } catch (e) {
          logger.error({ err: (e as Error).message }, 'could not queue event');
          // 503 makes the sender retry later; the event is not lost.
          res.status(503).json({ error: 'the event queue is unavailable; retry later' });
          return;
        }
        if (own) {
          metrics.eventsDropped.inc({ source, reason: 'own-traffic' });
          parsed.ignored.push({ reason: 'own-traffic', action: ev.action, repository: ev.repository, digest: ev.digest, tag: ev.tag, id: ev.id });
          continue;
        }
        toQueue.push(ev);
      }
      let queued = 0;
      try {
        // One store transaction per envelope: all of its events are queued, or none and the sender retries.
        if (toQueue.length) queued = (await gate.ingestMany(toQueue)).length;
      } catch (e) {
        logger.error({ err: (e as Error).message }, 'could not queue event');
        // 503 makes the sender retry later; the event is not lost.
        res.status(503).json({ error: 'the event queue is unavailable; retry later' });
        return;
      }
      if (parsed.ignored.length) dropAudit.note(registry, parsed.ignored.map((i) => i.reason));
      // Once the envelope is recorded: a restart seen here is reconciled, and its first envelope is not lost.
      if (parsed.instances?.length) await instances.seen(registry, parsed.instances);
      res.status(202).json({ accepted: queued, ignored: parsed.ignored.length });
    };

  app.post('/webhooks/distribution', authenticate('distribution'), raw, webhook('distribution', (body, _req, registry) => parseDistributionEnvelope(body, registry)));
  app.post('/webhooks/harbor', authenticate('harbor'), raw, webhook('harbor', (body, req, registry) => parseHarborPayload(body, req.headers['content-type'], registry)));

  // The console: static files, served without authentication (they hold no data); every data call
  // the page makes goes to /api/v1 with the signed-in bearer token.
  app.use('/ui', consoleRouter(deps.consoleDir ?? CONSOLE_DIR));
  // The address people open in a browser (as Harbor's portal is its root): the console. Found, not
  // Moved Permanently: a browser would cache a 301 for good, whatever `/` serves later.
  app.get('/', (_req, res) => {
    res.redirect(302, '/ui/');
  });

  // API: JWT roles and viewer tokens (src/server/admin-api.ts).
  app.use('/api/v1', createAdminApi({ config, gate, store, logger, control: deps.control, monitor: deps.monitor }));
  // Harbor Pluggable Scanner Adapter API v1.1 (its own credential: harborAdapter.tokens).
  app.use('/harbor-adapter/api/v1', harborAdapterRouter({ config, gate, store, logger }));

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  app.use((err: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    if (err.type === 'entity.too.large') {
      const limit = (err as { limit?: number }).limit ?? config.server.bodyLimitBytes;
      res.status(413).json({ error: `body larger than this endpoint's limit (${limit} bytes${limit === config.server.bodyLimitBytes ? ', server.bodyLimit' : ''})` });
      return;
    }
    logger.error({ err: err.message }, 'request failed');
    res.status(err.status ?? 500).json({ error: err.status && err.status < 500 ? err.message : 'internal error' });
  });
  return app;
}

/**
 * The /metrics handler: the Prometheus text exposition (`metrics.contentType`), 500 with a plain body
 * when the registry cannot be rendered. Mounted on the express app, and on the plain node:http server
 * of `metrics.listen` when that is separate, so it uses only node's `ServerResponse` (an express-only
 * method there throws in a promise nobody awaits and ends the process).
 */
export function metricsHandler(metrics: Metrics) {
  return async (_req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    let body: string;
    try {
      body = await metrics.text();
    } catch {
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('metrics unavailable\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': metrics.contentType, 'Content-Length': Buffer.byteLength(body) }).end(body);
  };
}

/**
 * True for a repository name the registry stores (Distribution's whole name grammar, a domain-like first
 * component of either case included: src/core/names.ts isRegistryRepositoryName) and an optional tag.
 * A push the registry stored is judged whatever client could pull it: `Team/app` is served by the
 * registry API though no reference parser reads it, and dropping its event left it there unjudged.
 */
export function validNames(repository: string, tag?: string): boolean {
  return isRegistryRepositoryName(repository) && (tag === undefined || TAG_RE.test(tag));
}

/** Accumulates dropped-event counts per registry and reason; flushes them once a minute. */
export class DropAudit {
  private counts = new Map<string, Record<string, number>>();
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly write: (registry: string, reasons: Record<string, number>) => unknown, intervalMs = 60_000) {
    this.timer = setInterval(() => this.flush(), intervalMs);
    this.timer.unref();
  }
  /** Counts the reasons of one notification's dropped events. */
  note(registry: string, reasons: string[]): void {
    const r = this.counts.get(registry) ?? {};
    for (const x of reasons) r[x] = (r[x] ?? 0) + 1;
    this.counts.set(registry, r);
  }
  /** Writes one summary record per registry and resets the counts. */
  flush(): void {
    const counts = this.counts;
    this.counts = new Map();
    for (const [registry, reasons] of counts) void this.write(registry, reasons);
  }
}

/** For the JSON content types the webhooks accept (documentation; the raw parser takes any). */
export const WEBHOOK_CONTENT_TYPES = JSON_TYPES;
