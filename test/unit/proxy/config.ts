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
