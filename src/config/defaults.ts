/**
 * The built-in configuration: what pushgate uses without a config file, and the values written in
 * config/pushgate.yaml (a test keeps the two identical).
 */
import { coveredOsEcosystems } from '../core/os-table.js';
import { DEFAULT_EVENT_LEASE_MS, DEFAULT_MAX_IMAGES_PER_REVIEW, DEFAULT_OUTBOX_LEASE_MS, DEFAULT_SCAN_TRIGGERS, DEFAULT_SIGNATURE_CACHE, DEFAULT_UNTAGGED_GRACE_MS, DEFAULT_WORKLOAD_RETENTION_MS, type PushgateConfig, type RegistryConfig } from './types.js';

/**
 * Ecosystems of the language analyzers pushgate ships (src/scan/analyzers): npm, PyPI, Go, Maven,
 * crates.io, RubyGems, NuGet, Packagist.
 */
export const LANGUAGE_ANALYZER_ECOSYSTEMS = ['npm', 'PyPI', 'Go', 'Maven', 'crates.io', 'RubyGems', 'NuGet', 'Packagist'] as const;

/**
 * OSV per-ecosystem exports (https://google.github.io/osv.dev/data/#data-dumps) of every ecosystem
 * pushgate has an analyzer for: each OS family of the OS table OSV covers, then the language ecosystems.
 */
export const DEFAULT_VULNDB_SOURCES: readonly string[] = [...coveredOsEcosystems(), ...LANGUAGE_ANALYZER_ECOSYSTEMS].map(
  (e) => `https://osv-vulnerabilities.storage.googleapis.com/${encodeURIComponent(e)}/all.zip`,
);

/** Defaults of one `registries[]` entry, apart from its required `name` and `url`. */
export function defaultRegistry(): Omit<RegistryConfig, 'name' | 'url'> {
  return {
    type: 'distribution',
    insecure: false,
    webhook: {},
    quarantine: { repositoryPrefix: 'quarantine/' },
    concurrency: 4,
    timeoutMs: 30_000,
  };
}

/**
 * A fresh copy of the built-in configuration (`source: '<built-in>'`, no registries, built-in
 * default policy). Relative state paths (`./data/…`) are relative to the working directory.
 */
export function defaultConfig(): PushgateConfig {
  return {
    source: '<built-in>',
    server: { listen: '0.0.0.0:8080', bodyLimitBytes: 32 * 1024 * 1024, readTimeoutMs: 30_000 },
    metrics: { repositoryDepth: 0 },
    log: { level: 'info' },
    store: { url: 'sqlite:./data/pushgate.db', connectTimeoutMs: 60_000 },
    vulndb: { path: './data/vulndb.sqlite', sources: [...DEFAULT_VULNDB_SOURCES], updateIntervalMs: 6 * 3_600_000 },
    scan: { workers: 2, tmpDir: './data/tmp', tmpDirLimitBytes: 1024 ** 3, maxManifestBytes: 4 * 1024 * 1024, deadlineMs: 30 * 60_000,
      // The scan engine's own defaults (src/scan/limits.ts DEFAULT_SCAN_LIMITS; a unit test keeps them equal).
      limits: { maxLayers: 500, maxIndexManifests: 256, maxEntries: 500_000, maxTarBytes: 64 * 2 ** 30, maxRatio: 1000, lockFileBytes: 64 * 2 ** 20, packageDbBytes: 512 * 2 ** 20 },
    },
    queue: { maxAttempts: 10, registryProbeIntervalMs: 10_000, eventLeaseMs: DEFAULT_EVENT_LEASE_MS, outboxLeaseMs: DEFAULT_OUTBOX_LEASE_MS },
    enforcement: { untaggedGraceMs: DEFAULT_UNTAGGED_GRACE_MS },
    registries: [],
    policy: undefined,
    api: { tokens: [] },
    admission: {
      listen: '0.0.0.0:8443',
      namespaces: [],
      clientNames: [],
      allowUnauthenticated: false,
      standingWorkloads: true,
      workloadRetentionMs: DEFAULT_WORKLOAD_RETENTION_MS,
      breakGlass: { namespaces: [], groups: [], users: [] },
      scanTriggers: { ...DEFAULT_SCAN_TRIGGERS },
      maxImagesPerReview: DEFAULT_MAX_IMAGES_PER_REVIEW,
      unguarded: 'allow',
      unpinnedTags: 'deny',
      exemptions: { namespaces: ['kube-system'], images: [] },
      digestCacheTtlMs: 60_000,
      signatures: { ...DEFAULT_SIGNATURE_CACHE },
    },
    proxy: { timeoutMs: 60_000, onTimeout: 'reject', onError: 'reject', bodyTimeoutMs: 30_000, maxHeldManifests: 16 },
    harborAdapter: { tokens: [] },
    reconcile: { intervalMs: 0 },
    baseImages: { repositories: [], refreshIntervalMs: 10 * 60_000 },
    notify: [],
  };
}
