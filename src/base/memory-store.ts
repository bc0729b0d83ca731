/**
 * A {@link BaseCatalogStore} in memory: the catalog `pushgate scan` builds for one run from the
 * configured catalog repositories (the CLI has no store). Same semantics as the SQL stores.
 */
import type { BaseCatalogStore, CatalogEntry, CatalogTag } from './types.js';

/** See the module comment. */
export class MemoryBaseCatalogStore implements BaseCatalogStore {
  private readonly entries = new Map<string, CatalogEntry>();
  private readonly tags: CatalogTag[] = [];

  async putEntry(e: CatalogEntry): Promise<void> {
    const k = `${e.registry}\u0000${e.repository}\u0000${e.digest}`;
    const prev = this.entries.get(k);
    this.entries.set(k, { ...e, firstSeen: prev?.firstSeen ?? e.firstSeen });
  }

  async listEntries(): Promise<CatalogEntry[]> {
    return [...this.entries.values()];
  }

  async putTag(t: Omit<CatalogTag, 'since'>, now: number): Promise<boolean> {
    const hist = this.tags.filter((x) => x.registry === t.registry && x.repository === t.repository && x.tag === t.tag).sort((a, b) => b.since - a.since);
    if (hist[0]?.digest === t.digest) return false;
    const i = this.tags.findIndex((x) => x.registry === t.registry && x.repository === t.repository && x.tag === t.tag && x.digest === t.digest);
    if (i >= 0) this.tags.splice(i, 1);
    this.tags.push({ ...t, since: now });
    return true;
  }

  async listTags(): Promise<CatalogTag[]> {
    return [...this.tags].sort((a, b) => a.registry.localeCompare(b.registry) || a.repository.localeCompare(b.repository) || a.tag.localeCompare(b.tag) || b.since - a.since);
  }
}
