/** A complete PushgateConfig for proxy tests: one registry at `upstream`, the proxy in front of it. */
import type { PushgateConfig, RegistryConfig } from '../../../src/config/types.js';

export function proxyTestConfig(
  upstream: string,
  proxy: Partial<PushgateConfig['proxy']> & { listen: string },
  opts: { registry?: Partial<RegistryConfig>; maxManifestBytes?: number } = {},
): PushgateConfig {
  const registry: RegistryConfig = {
    name: 'lab',
    url: upstream,
    type: 'distribution',
    insecure: false,
    webhook: {},
    quarantine: { repositoryPrefix: 'quarantine/' },
    concurrency: 8,
    timeoutMs: 30_000,
    ...opts.registry,
  };
  return {
    source: '<test>',
    server: { listen: '0.0.0.0:8080', bodyLimitBytes: 1 << 20, readTimeoutMs: 30_000 },
    metrics: { repositoryDepth: 0 },
    log: { level: 'info' },
    store: { url: 'sqlite::memory:', connectTimeoutMs: 0 },
    vulndb: { path: '/nonexistent', sources: [], updateIntervalMs: 0 },
    scan: { workers: 1, tmpDir: '/tmp', tmpDirLimitBytes: 1 << 30, maxManifestBytes: opts.maxManifestBytes ?? 4 << 20 },
    registries: [registry],
    api: { tokens: [] },
    admission: { namespaces: [], unguarded: 'allow', exemptions: { namespaces: [], images: [] }, digestCacheTtlMs: 60_000 },
    proxy: { upstream, timeoutMs: 10_000, onTimeout: 'reject', onError: 'reject', bodyTimeoutMs: 30_000, maxHeldManifests: 16, ...proxy },
    baseImages: { repositories: [], refreshIntervalMs: 0 },
    notify: [],
  };
}

/**
 * Answers the proxy's push-rights check (`PATCH …/blobs/uploads/pushgate-push-check`) as Distribution 2.8
 * answers it once it authorized the client: 404 `BLOB_UPLOAD_INVALID` (the lab registry's body,
 * verbatim). @returns true when `req` was that check (and is answered).
 */
export function answerPushCheck(req: { method?: string; url?: string }, res: { writeHead(code: number, headers: Record<string, string>): unknown; end(body: string): unknown }): boolean {
  if (req.method !== 'PATCH' || !req.url?.split('?')[0]!.endsWith('/blobs/uploads/pushgate-push-check')) return false;
  res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
  res.end('{"errors":[{"code":"BLOB_UPLOAD_INVALID","message":"blob upload invalid","detail":{}}]}\n');
  return true;
}
