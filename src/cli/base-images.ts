/**
 * Base images for `pushgate scan`: with `baseImages.repositories` in the configuration, the catalog is
 * read for this run from the registries (every tag's manifest and config: diffIDs, created; no layer),
 * each platform's base detected (src/base), and the best-ranked upgrade candidates (and the base itself)
 * scanned on demand, their layers kept in the layer cache so the next run reads none again. Without a
 * catalog, the base is still found from the image history, so packages and findings say base or app.
 */
import crypto from 'node:crypto';
import { parseImageConfig, parseManifestDocument, platformString, PushgateError, type Digest } from '../core/index.js';
import type { PushgateConfig } from '../config/types.js';
import { isQuarantineRepositoryOf } from '../config/quarantine.js';
import { packageKey } from '../base/attribute.js';
import { BaseCatalog, type CatalogImage } from '../base/catalog.js';
import { MemoryBaseCatalogStore } from '../base/memory-store.js';
import type { PlatformBase } from '../gate/judge.js';
import { registryAttestations, type RegistryAttestations } from '../gate/base-images.js';
import { indexProvenance } from '../base/provenance.js';
import type { ProvenanceMaterial } from '../base/detect.js';
import { registrySource } from '../gate/registry-source.js';
import type { RegistryClient } from '../registry/client.js';
import { scanImage, type ImageScan, type LayerCache, type PlatformScan } from '../scan/engine.js';
import type { VulnDb } from '../vulndb/index.js';

/** How many upgrade candidates a run scans on demand (the best-ranked ones). */
const SCAN_CANDIDATES = 3;

/** What building the catalog needs. */
export interface CliBaseOptions {
  config: PushgateConfig;
  /** A client for a configured registry (by name). */
  client: (registry: string) => RegistryClient;
  vulndb?: VulnDb;
  layerCache?: LayerCache;
  warn: (line: string) => void;
  /**
   * The scanned index and its BuildKit attestation manifests in the registry (a registry target), so
   * provenance materials name the base as the gate reads them; absent for local targets.
   */
  attestations?: RegistryAttestations;
}

export { registryAttestations };

async function readBlob(client: RegistryClient, repo: string, digest: Digest): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of await client.getBlob(repo, digest)) {
    n += (c as Buffer).length;
    if (n > 4 << 20) throw new PushgateError('MANIFEST_INVALID', `config ${repo}@${digest} is larger than 4 MiB`);
    chunks.push(c as Buffer);
  }
  const b = Buffer.concat(chunks);
  const got = `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;
  if (got !== digest) throw new PushgateError('DIGEST_MISMATCH', `config ${repo}@${digest} hashed to ${got}`);
  return b;
}

/** The image manifests of `repo:tag` with their diffIDs and creation times (manifests and configs only). */
async function readImages(client: RegistryClient, repo: string, ref: string): Promise<{ root: Digest; images: CatalogImage[] }> {
  const root = await client.getManifest(repo, ref);
  const doc = parseManifestDocument(root.bytes, root.mediaType);
  const manifests = doc.kind === 'index'
    ? doc.index.manifests.filter((m) => m.platform && m.platform.os !== 'unknown').map((m) => m.digest)
    : [root.digest];
  const images: CatalogImage[] = [];
  for (const dg of manifests) {
    const m = dg === root.digest ? doc : parseManifestDocument((await client.getManifest(repo, dg)).bytes);
    if (m.kind !== 'manifest') continue;
    const cfg = parseImageConfig(await readBlob(client, repo, m.manifest.config.digest as Digest));
    const ids = cfg.rootfs?.diff_ids ?? [];
    if (!ids.length) continue;
    images.push({ digest: dg as Digest, platform: cfg.os ? platformString({ os: cfg.os, architecture: cfg.architecture ?? 'unknown', variant: cfg.variant }) : 'unknown', diffIDs: ids as Digest[], ...(cfg.created ? { created: cfg.created } : {}) });
  }
  return { root: root.digest as Digest, images };
}

/** The findings of a catalog image, scanned now (layers from the cache when seen before). */
async function scanFindings(client: RegistryClient, repo: string, digest: Digest, o: CliBaseOptions): Promise<{ findings: Map<string, ReturnType<VulnDb['match']>>; packages: Map<string, Set<string>> }> {
  const scan: ImageScan = await scanImage(registrySource(client, repo, digest), { layerCache: o.layerCache, limits: o.config.scan.limits, deadlineMs: o.config.scan.deadlineMs });
  return {
    findings: new Map(scan.platforms.map((p) => [p.manifestDigest, o.vulndb!.match(p.inventory.packages, p.inventory.os)])),
    packages: new Map(scan.platforms.map((p) => [p.manifestDigest, new Set(p.inventory.packages.map(packageKey))])),
  };
}

/**
 * The base of every platform of `scan` for the judge (see the module comment). Registry errors on
 * catalog repositories are warned about and leave those repositories out.
 */
export async function cliBases(scan: ImageScan, o: CliBaseOptions): Promise<Map<PlatformScan, PlatformBase>> {
  const specs = o.config.baseImages?.repositories ?? [];
  // A quarantine repository holds pushgate's copies of blocked pushes: never a base, whatever glob names it.
  const excluded = (registry: string, repository: string) => {
    const rc = o.config.registries.find((r) => r.name === registry);
    return !!rc && isQuarantineRepositoryOf(rc, repository);
  };
  const catalog = new BaseCatalog(new MemoryBaseCatalogStore(), specs, { excluded });
  const now = Date.now();
  for (const spec of specs) {
    let client: RegistryClient;
    try {
      client = o.client(spec.registry);
    } catch (e) {
      o.warn(`base catalog: registry ${spec.registry}: ${(e as Error).message}`);
      continue;
    }
    const literal = spec.repositories.filter((r) => !/[*?{}[\]!]/.test(r));
    let repos = literal;
    if (literal.length < spec.repositories.length) {
      const all = await client.catalog().catch((e: Error) => { o.warn(`base catalog: ${spec.registry}: cannot list repositories (${e.message}); only literal names are read`); return [] as string[]; });
      repos = [...new Set([...literal, ...all.filter((r) => catalog.covers(spec.registry, r))])];
    }
    for (const repo of repos) {
      if (!catalog.covers(spec.registry, repo)) continue;
      try {
        for (const tag of await client.listTags(repo)) {
          const { root, images } = await readImages(client, repo, tag);
          await catalog.record(spec.registry, repo, root, images, tag, now);
        }
      } catch (e) {
        o.warn(`base catalog: ${spec.registry}/${repo}: ${(e as Error).message}; left out of the catalog`);
      }
    }
  }
  // Provenance attestations beside the platforms of an index (BuildKit), read as the gate reads them
  // (src/base/provenance.ts) and only when the catalog could confirm them.
  let provenance = new Map<string, ProvenanceMaterial[]>();
  if (o.attestations && catalog.index.size && /index|manifest\.list/.test(scan.mediaType ?? '')) {
    const a = o.attestations;
    provenance = await a.index().then((b) => indexProvenance(b, a, { onIncomplete: (m) => o.warn(`base detection: ${m}`) })).catch((e: Error) => {
      o.warn(`base detection: cannot read the index's attestations (${e.message}); provenance is not used`);
      return provenance;
    });
  }
  const out = new Map<PlatformScan, PlatformBase>();
  for (const p of scan.platforms) {
    const input = { platform: p.platform, layers: p.layers, annotations: p.baseAnnotations, history: p.config?.history, provenance: provenance.get(p.manifestDigest) };
    let d = catalog.detect(input);
    let basePackages: Set<string> | undefined;
    if (o.vulndb && d.base.registry && d.base.repository && d.base.digest) {
      // The base and its best candidates scanned on demand, so the recommendations carry counts.
      const client = o.client(d.base.registry);
      const want = [d.base.digest, ...(d.base.recommendations ?? []).slice(0, SCAN_CANDIDATES).map((r) => r.digest)];
      for (const dg of [...new Set(want)]) {
        const e = catalog.byDigest(dg).find((x) => x.repository === d.base.repository);
        if (!e) continue;
        try {
          const found = await scanFindings(client, e.repository, e.indexDigest ?? e.digest, o);
          if (dg === d.base.digest) basePackages = found.packages.get(e.digest);
          const images: CatalogImage[] = catalog.byDigest(e.indexDigest ?? e.digest).filter((x) => x.repository === e.repository)
            .map((x) => ({ digest: x.digest, platform: x.platform, diffIDs: x.diffIDs, ...(x.created ? { created: x.created } : {}), findings: found.findings.get(x.digest) ?? [] }));
          await catalog.record(e.registry, e.repository, (e.indexDigest ?? e.digest), images, undefined, now);
        } catch (x) {
          o.warn(`base catalog: cannot scan ${e.repository}@${e.digest}: ${(x as Error).message}`);
        }
      }
      d = catalog.detect(input);
    }
    out.set(p, { base: d.base, refused: d.refused, ...(basePackages ? { basePackages } : {}) });
  }
  return out;
}
