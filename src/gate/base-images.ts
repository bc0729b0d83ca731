/**
 * The gate's side of base images (src/base): the catalog loaded from the store, each judged image's
 * base detected per platform before the policy sees it, catalog images recorded as the gate judges
 * them (notified pushes, the periodic tag listing), and the listing itself: every tag of the catalog
 * repositories is resolved; a tag that is new or moved is recorded, and a digest the catalog never saw
 * is judged on demand (scanned once, its verdict and report stored like any image's) so each
 * recommendation carries counts.
 */
import crypto from 'node:crypto';
import { PushgateError, type Digest, type ScanReport } from '../core/index.js';
import type { ProvenanceMaterial } from '../base/detect.js';
import { indexProvenance, MAX_STATEMENT_BYTES, type AttestationFetcher } from '../base/provenance.js';
import type { RegistryClient } from '../registry/client.js';
import type { PushgateConfig } from '../config/types.js';
import { packageKey } from '../base/attribute.js';
import { BaseCatalog, type CatalogImage } from '../base/catalog.js';
import type { ImageScan, PlatformScan } from '../scan/engine.js';
import type { Store } from '../store/index.js';
import type { PlatformBase } from './judge.js';
import type { Logger } from './gate.js';

/** What the listing needs of the gate. */
export interface BaseImagesHost {
  listTags(registry: string, repository: string): Promise<string[]>;
  listRepositories(registry: string): Promise<string[]>;
  resolve(registry: string, repository: string, tag: string): Promise<Digest | undefined>;
  /** Judges (scans when needed) and stores registry/repository@digest under `tag`; records it in the catalog. */
  assess(req: { registry: string; repository: string; digest: Digest; tag?: string }): Promise<unknown>;
}

/** See the module comment. */
export class GateBaseImages {
  readonly catalog: BaseCatalog;
  private loaded?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private refreshing?: Promise<void>;

  /**
   * @param opts.isQuarantineRepository the gate's test of a quarantine repository: never a catalog
   *   repository (it holds copies of blocked pushes), whatever glob of `baseImages.repositories` matches it.
   */
  constructor(private readonly opts: { store: Store; config: PushgateConfig; logger: Logger; isQuarantineRepository?: (registry: string, repository: string) => boolean }) {
    this.catalog = new BaseCatalog(opts.store.baseCatalog, opts.config.baseImages?.repositories ?? [], { excluded: opts.isQuarantineRepository });
  }

  /** Loads the catalog once (again after a failure). @throws PushgateError STORE */
  async ready(): Promise<void> {
    if (!this.catalog.enabled) return;
    this.loaded ??= this.catalog.load().catch((e: unknown) => {
      this.loaded = undefined;
      throw e;
    });
    await this.loaded;
  }

  /**
   * The base of every platform of `scan`, for the judge. Store errors leave the image without a
   * named base (history still applies) and are logged: a judgement never waits on the catalog.
   */
  async bases(scan: ImageScan, attestations?: RegistryAttestations): Promise<Map<PlatformScan, PlatformBase>> {
    const out = new Map<PlatformScan, PlatformBase>();
    try {
      await this.ready();
    } catch (e) {
      this.opts.logger.warn({ err: (e as Error).message }, 'base catalog unavailable: bases are detected from history only');
    }
    // Provenance attestations live beside the platforms in an index (BuildKit); read only when a catalog could confirm them.
    let provenance = new Map<string, ProvenanceMaterial[]>();
    if (attestations && this.catalog.index.size && scan.platforms.length && /index|manifest\.list/.test(scan.mediaType ?? '')) {
      const onIncomplete = (m: string) => this.opts.logger.warn({ digest: scan.digest }, `base detection: ${m}`);
      provenance = await attestations.index().then((b) => indexProvenance(b, attestations, { onIncomplete })).catch(() => provenance);
    }
    const reports = new Map<string, ScanReport | undefined>();
    for (const p of scan.platforms) {
      const annotations = { ...pickBase(p.config?.config?.Labels), ...(p.baseAnnotations ?? {}) };
      const d = this.catalog.detect({ platform: p.platform, layers: p.layers, annotations, history: p.config?.history, provenance: provenance.get(p.manifestDigest) });
      const pb: PlatformBase = { base: d.base, refused: d.refused };
      if (d.base.digest && d.base.method !== 'history') {
        // The base's own packages (its stored report), so packages the image's own layers rewrote stay the base's.
        const e = this.catalog.byDigest(d.base.digest).find((x) => x.repository === d.base.repository);
        for (const dg of [e?.digest, e?.indexDigest]) {
          if (!dg || pb.basePackages) continue;
          if (!reports.has(dg)) reports.set(dg, await this.opts.store.getReport(dg as Digest).catch(() => undefined));
          const r = reports.get(dg);
          if (r) pb.basePackages = new Set(r.packages.filter((x) => !x.platform || x.platform === e!.platform).map(packageKey));
        }
      }
      out.set(p, pb);
    }
    return out;
  }

  /** Records a judged image of a catalog repository (and its tag). Errors are logged: the listing catches up. */
  async record(req: { registry: string; repository: string; digest: Digest; tag?: string }, scan: ImageScan, report: ScanReport): Promise<void> {
    if (!this.catalog.covers(req.registry, req.repository)) return;
    try {
      await this.ready();
      const multi = scan.platforms.length > 1;
      const images: CatalogImage[] = scan.platforms
        .filter((p) => p.layers.every((l) => l.diffID))
        .map((p) => ({
          digest: p.manifestDigest,
          platform: p.platform,
          diffIDs: p.layers.map((l) => l.diffID!),
          ...(p.config?.created ? { created: p.config.created } : {}),
          ...(report.vulndb?.builtAt ? { findings: report.findings.filter((f) => !multi || f.platform === p.platform) } : {}),
        }));
      await this.catalog.record(req.registry, req.repository, scan.digest ?? req.digest, images, req.tag);
    } catch (e) {
      this.opts.logger.warn({ err: (e as Error).message, repository: req.repository, digest: req.digest }, 'base catalog: could not record the image');
    }
  }

  /**
   * `report` with its bases' tags and recommendations as the catalog stands now (a stored report keeps
   * those of the time it was judged; a base tag that moved since is a `refresh` now).
   */
  async current(report: ScanReport): Promise<ScanReport> {
    if (!report.bases?.length || !this.catalog.enabled) return report;
    try {
      await this.ready();
    } catch {
      return report;
    }
    return {
      ...report,
      bases: report.bases.map((b) => {
        const e = b.digest ? this.catalog.byDigest(b.digest).find((x) => x.repository === b.repository && x.registry === b.registry) : undefined;
        return e ? { ...b, tags: this.catalog.tagsOf(e), recommendations: this.catalog.recommendFor(e) } : b;
      }),
    };
  }

  /** Records that a tag of a catalog repository points at a digest (a retag judged from a stored verdict). */
  async recordTag(registry: string, repository: string, tag: string | undefined, digest: Digest): Promise<void> {
    if (!tag || !this.catalog.covers(registry, repository)) return;
    try {
      await this.ready();
      if (this.catalog.has(registry, repository, digest)) await this.catalog.recordTag(registry, repository, tag, digest);
    } catch (e) {
      this.opts.logger.warn({ err: (e as Error).message, repository, tag }, 'base catalog: could not record the tag');
    }
  }

  /**
   * One pass of the tag listing: every catalog repository (literal names, and those `GET /v2/_catalog`
   * lists that match a glob), every tag resolved; new digests judged, moved tags recorded.
   * @returns counts of tags seen and digests judged.
   */
  async refresh(host: BaseImagesHost): Promise<{ tags: number; judged: number }> {
    this.refreshing ??= (async () => {
      await this.catalog.load();
    })().finally(() => { this.refreshing = undefined; });
    await this.refreshing;
    let tags = 0;
    let judged = 0;
    for (const spec of this.opts.config.baseImages.repositories) {
      const literal = spec.repositories.filter((r) => !/[*?{}[\]!]/.test(r));
      let repos = literal;
      if (literal.length < spec.repositories.length) {
        const all = await host.listRepositories(spec.registry).catch(() => [] as string[]);
        repos = [...new Set([...literal, ...all.filter((r) => this.catalog.covers(spec.registry, r))])];
      }
      for (const repo of repos) {
        // A literal name in a quarantine repository is no catalog repository (BaseCatalog.covers).
        if (!this.catalog.covers(spec.registry, repo)) continue;
        for (const tag of await host.listTags(spec.registry, repo)) {
          tags++;
          const digest = await host.resolve(spec.registry, repo, tag);
          if (!digest) continue;
          if (this.catalog.has(spec.registry, repo, digest)) await this.catalog.recordTag(spec.registry, repo, tag, digest);
          else {
            await host.assess({ registry: spec.registry, repository: repo, digest, tag });
            judged++;
          }
        }
      }
    }
    return { tags, judged };
  }

  /** Starts the periodic listing (`baseImages.refreshInterval`; 0 = off). */
  start(host: BaseImagesHost): void {
    const ms = this.opts.config.baseImages?.refreshIntervalMs ?? 0;
    if (!this.catalog.enabled || !ms || this.timer) return;
    const tick = () => {
      this.refresh(host).catch((e: unknown) => this.opts.logger.warn({ err: (e as Error).message }, 'base catalog: tag listing failed; tried again next interval'));
    };
    this.timer = setInterval(tick, ms);
    this.timer.unref();
    setImmediate(tick);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** An {@link AttestationFetcher} over a registry repository, plus the index itself. */
export interface RegistryAttestations extends AttestationFetcher {
  index(): Promise<Buffer>;
}

/** Reads the index `digest` and its attestations from `repository`, verifying every digest and bounding sizes. */
export function registryAttestations(client: RegistryClient, repository: string, digest: Digest): RegistryAttestations {
  const manifest = async (d: Digest) => {
    const m = await client.getManifest(repository, d);
    if (m.digest !== d) throw new PushgateError('DIGEST_MISMATCH', `manifest ${repository}@${d} hashed to ${m.digest}`);
    return m.bytes;
  };
  return {
    index: () => manifest(digest),
    manifest,
    async blob(d, size) {
      if (size > MAX_STATEMENT_BYTES) throw new PushgateError('MANIFEST_INVALID', `attestation ${d} is larger than ${MAX_STATEMENT_BYTES} bytes`);
      const chunks: Buffer[] = [];
      let n = 0;
      for await (const c of await client.getBlob(repository, d)) {
        n += (c as Buffer).length;
        if (n > size) throw new PushgateError('DIGEST_MISMATCH', `attestation ${d} is longer than its descriptor's ${size} bytes`);
        chunks.push(c as Buffer);
      }
      const b = Buffer.concat(chunks);
      const got = `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;
      if (got !== d) throw new PushgateError('DIGEST_MISMATCH', `attestation ${d} hashed to ${got}`);
      return b;
    },
  };
}

function pickBase(labels: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['org.opencontainers.image.base.name', 'org.opencontainers.image.base.digest']) if (typeof labels?.[k] === 'string') out[k] = labels[k];
  return out;
}
