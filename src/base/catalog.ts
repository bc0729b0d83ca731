/**
 * The base catalog: the images of the repositories named in `baseImages.repositories`, kept in the
 * store (src/store/base-catalog.ts) and in memory (a {@link ChainIndex} and tag histories), fed by the
 * gate as it judges images of those repositories (push notifications, the periodic tag listing). Loaded
 * from the store at start, so it survives restarts; every replica sees the others' writes on its next
 * {@link BaseCatalog.load}.
 */
import picomatch from 'picomatch';
import type { BaseImage, Digest, Finding } from '../core/index.js';
import { summarize } from './attribute.js';
import { ChainIndex } from './chain.js';
import { detectBase, type CatalogView, type DetectInput, type Detection } from './detect.js';
import { recommend } from './recommend.js';
import type { BaseCatalogStore, CatalogEntry, CatalogTag } from './types.js';

/** One scanned image manifest offered to the catalog. */
export interface CatalogImage {
  digest: Digest;
  platform: string;
  diffIDs: Digest[];
  created?: string;
  /** Its findings (for the summary and "what a newer base fixes"); undefined when not matched. */
  findings?: Finding[];
}

/** See the module comment. */
export class BaseCatalog implements CatalogView {
  index = new ChainIndex();
  private entries = new Map<string, CatalogEntry>();
  private byDigestMap = new Map<string, CatalogEntry[]>();
  /** registry NUL repository → tag → history (newest first). */
  private tags = new Map<string, Map<string, CatalogTag[]>>();
  private readonly matchers: Array<{ registry: string; match: (repo: string) => boolean }>;

  /**
   * @param repositories the catalog repositories in force (`baseImages.repositories`).
   * @param opts.excluded repositories that are never catalog repositories whatever glob matches them:
   *   the quarantine repositories, which hold pushgate's copies of blocked pushes (an image a pusher had
   *   quarantined there would otherwise become a base of everything built on it).
   */
  constructor(private readonly store: BaseCatalogStore, repositories: Array<{ registry: string; repositories: string[] }>, private readonly opts: { excluded?: (registry: string, repository: string) => boolean } = {}) {
    this.matchers = repositories.map((r) => ({ registry: r.registry, match: picomatch(r.repositories, { dot: true }) }));
  }

  /** True when any catalog repository is configured. */
  get enabled(): boolean {
    return this.matchers.length > 0;
  }

  /** True when `registry`/`repository` is a catalog repository (matched by a glob in force, and not excluded). */
  covers(registry: string, repository: string): boolean {
    return !this.opts.excluded?.(registry, repository) && this.matchers.some((m) => m.registry === registry && m.match(repository));
  }

  /**
   * (Re)loads from the store the entries and tags of the repositories the catalog covers now. The store
   * keeps what was recorded under earlier configurations: a repository taken out of
   * `baseImages.repositories` (found writable by pushers, say) must stop defining "base" at once, not
   * keep its images as verified bases for as long as the rows last. @throws PushgateError STORE
   */
  async load(): Promise<void> {
    const [entries, tags] = await Promise.all([this.store.listEntries(), this.store.listTags()]);
    this.index = new ChainIndex();
    this.entries.clear();
    this.byDigestMap.clear();
    this.tags.clear();
    for (const e of entries) if (this.covers(e.registry, e.repository)) this.remember(e);
    for (const t of tags) if (this.covers(t.registry, t.repository)) this.rememberTag(t, false);
  }

  private static key(e: Pick<CatalogEntry, 'registry' | 'repository' | 'digest'>): string {
    return `${e.registry}\u0000${e.repository}\u0000${e.digest}`;
  }

  private remember(e: CatalogEntry): void {
    const k = BaseCatalog.key(e);
    const old = this.entries.get(k);
    if (old) for (const d of [old.digest, old.indexDigest]) if (d) this.byDigestMap.set(d, (this.byDigestMap.get(d) ?? []).filter((x) => BaseCatalog.key(x) !== k));
    this.entries.set(k, e);
    this.index.add(e);
    for (const d of [e.digest, e.indexDigest]) if (d) this.byDigestMap.set(d, [...(this.byDigestMap.get(d) ?? []), e]);
  }

  private rememberTag(t: CatalogTag, newest: boolean): void {
    const rk = `${t.registry}\u0000${t.repository}`;
    const repo = this.tags.get(rk) ?? new Map<string, CatalogTag[]>();
    this.tags.set(rk, repo);
    const hist = (repo.get(t.tag) ?? []).filter((x) => x.digest !== t.digest);
    if (newest) hist.unshift(t);
    else hist.push(t);
    hist.sort((a, b) => b.since - a.since);
    repo.set(t.tag, hist);
  }

  /**
   * Records the platform manifests of a scanned catalog image (`rootDigest` the pushed manifest or
   * index) and, with `tag`, that the tag points at it now. @throws PushgateError STORE
   */
  async record(registry: string, repository: string, rootDigest: Digest, images: CatalogImage[], tag: string | undefined, now = Date.now()): Promise<void> {
    // Only a catalog repository defines a base, whoever asks to record one.
    if (!this.covers(registry, repository)) return;
    for (const img of images) {
      const prev = this.entries.get(BaseCatalog.key({ registry, repository, digest: img.digest }));
      const e: CatalogEntry = {
        registry, repository, digest: img.digest, platform: img.platform, diffIDs: img.diffIDs,
        ...(img.digest !== rootDigest ? { indexDigest: rootDigest } : {}),
        ...(img.created ? { created: img.created } : {}),
        ...(img.findings ? { summary: summarize(img.findings), findingIds: [...new Set(img.findings.map((f) => f.id))].sort() } : prev?.summary ? { summary: prev.summary, findingIds: prev.findingIds } : {}),
        firstSeen: prev?.firstSeen ?? now,
      };
      await this.store.putEntry(e);
      this.remember(e);
    }
    if (tag) await this.recordTag(registry, repository, tag, rootDigest, now);
  }

  /** Records that `tag` points at `digest` now. @returns true when it moved (or is new). @throws PushgateError STORE */
  async recordTag(registry: string, repository: string, tag: string, digest: Digest, now = Date.now()): Promise<boolean> {
    if (!this.covers(registry, repository)) return false;
    const moved = await this.store.putTag({ registry, repository, tag, digest }, now);
    if (moved) this.rememberTag({ registry, repository, tag, digest, since: now }, true);
    return moved;
  }

  /** True when the catalog holds `digest` (an image manifest or an index) in the repository. */
  has(registry: string, repository: string, digest: string): boolean {
    return (this.byDigestMap.get(digest) ?? []).some((e) => e.registry === registry && e.repository === repository);
  }

  byDigest(digest: string): CatalogEntry[] {
    return this.byDigestMap.get(digest) ?? [];
  }

  byName(repository: string, tag: string): CatalogEntry[] {
    const out: CatalogEntry[] = [];
    for (const [rk, repo] of this.tags) {
      if (rk.split('\u0000')[1] !== repository) continue;
      for (const t of repo.get(tag) ?? []) out.push(...this.byDigest(t.digest).filter((e) => e.repository === repository && e.registry === t.registry));
    }
    return out;
  }

  tagsOf(e: CatalogEntry): string[] {
    const repo = this.tags.get(`${e.registry}\u0000${e.repository}`);
    if (!repo) return [];
    const out: string[] = [];
    for (const [tag, hist] of repo) if (hist.some((t) => t.digest === e.digest || t.digest === e.indexDigest)) out.push(tag);
    return out.sort();
  }

  /** Current tags of a repository with the digest each names and since when. */
  currentTags(registry: string, repository: string): CatalogTag[] {
    return [...(this.tags.get(`${registry}\u0000${repository}`)?.values() ?? [])].map((h) => h[0]).filter(Boolean);
  }

  /** The entry of `digest` (a manifest, or an index resolved to `platform`'s manifest). */
  private resolve(registry: string, repository: string, digest: string, platform: string): CatalogEntry | undefined {
    const c = this.byDigest(digest).filter((e) => e.registry === registry && e.repository === repository);
    return c.find((e) => e.platform === platform) ?? (c.length === 1 ? c[0] : undefined);
  }

  /**
   * Detects the base of one image manifest (src/base/detect.ts) and, for a catalog base, adds its
   * ranked upgrade recommendations; a `refresh` carries `since` (when the base's tag moved on).
   */
  detect(input: DetectInput): Detection {
    const d = detectBase(input, this);
    const b = d.base;
    if (b.registry && b.repository && b.digest) {
      const base = this.resolve(b.registry, b.repository, b.digest, input.platform ?? '');
      if (base) b.recommendations = this.withSameChainRefreshes(base, this.recommendFor(base));
    }
    return d;
  }

  /**
   * Adds the `refresh` recommendations of every other catalog image with exactly the base's layers (the same
   * content pushed to a pinned copy, another repository, another compression). Which of those a claim or
   * the chain picks is arbitrary (an annotation is the image author's word), while what the image is built
   * on is the layers: when any tag that named those layers moved on, the base is outdated, whichever copy
   * was picked. Refreshes of the picked image come first; one per digest.
   */
  private withSameChainRefreshes(base: CatalogEntry, recs: NonNullable<BaseImage['recommendations']>): NonNullable<BaseImage['recommendations']> {
    const seen = new Set(recs.filter((r) => r.kind === 'refresh').map((r) => r.digest));
    seen.add(base.digest);
    const more: typeof recs = [];
    for (const twin of this.index.exact(base.diffIDs)) {
      if (twin === base || (twin.platform && base.platform && twin.platform !== base.platform)) continue;
      for (const r of this.recommendFor(twin)) {
        if (r.kind !== 'refresh' || seen.has(r.digest)) continue;
        seen.add(r.digest);
        more.push(r);
      }
    }
    if (!more.length) return recs;
    const firstOther = recs.findIndex((r) => r.kind !== 'refresh');
    const at = firstOther < 0 ? recs.length : firstOther;
    return [...recs.slice(0, at), ...more, ...recs.slice(at)];
  }

  /** Ranked recommendations for a catalog entry (src/base/recommend.ts). */
  recommendFor(base: CatalogEntry): NonNullable<BaseImage['recommendations']> {
    const current = this.currentTags(base.registry, base.repository)
      .map((t) => ({ tag: t.tag, since: t.since, entry: this.resolve(base.registry, base.repository, t.digest, base.platform) }))
      .filter((x): x is { tag: string; since: number; entry: CatalogEntry } => !!x.entry);
    const recs = recommend({ base, baseTags: this.tagsOf(base), current });
    const since = new Map(current.map((c) => [`${c.tag}\u0000${c.entry.digest}`, c.since]));
    return recs.map((r) => (r.kind === 'refresh' ? { ...r, since: new Date(since.get(`${r.tag}\u0000${r.digest}`) ?? Date.now()).toISOString() } : r));
  }

  /** Every entry (for diagnosis and the bench). */
  list(): CatalogEntry[] {
    return [...this.entries.values()];
  }
}
