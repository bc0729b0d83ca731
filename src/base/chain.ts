/**
 * Layer chains (image-spec config.md "Layer ChainID"): ChainID(L₀) = DiffID(L₀), ChainID(L₀|…|Lₙ) =
 * SHA256(ChainID(L₀|…|Lₙ₋₁) + " " + DiffID(Lₙ)). Two images share their first n layers exactly when
 * their n-th ChainIDs are equal, so a catalog indexed by the ChainID of each image's whole chain answers
 * "which catalog image is the longest prefix of this one" with one hash and one lookup per layer of the
 * scanned image, whatever the catalog's size.
 */
import crypto from 'node:crypto';
import type { Digest } from '../core/index.js';
import type { CatalogEntry } from './types.js';

/** The ChainIDs of every prefix of `diffIDs` (element i names layers 0..i). */
export function chainIds(diffIDs: readonly string[]): string[] {
  const out: string[] = [];
  let prev = '';
  for (let i = 0; i < diffIDs.length; i++) {
    prev = i === 0 ? diffIDs[0] : `sha256:${crypto.createHash('sha256').update(`${prev} ${diffIDs[i]}`).digest('hex')}`;
    out.push(prev);
  }
  return out;
}

/** True when `prefix` is a proper prefix of `chain` (shorter, every element equal). */
export function isProperPrefix(prefix: readonly string[], chain: readonly string[]): boolean {
  return prefix.length > 0 && prefix.length < chain.length && prefix.every((d, i) => chain[i] === d);
}

/** A longest-prefix match: the catalog images whose whole chain is the first `length` layers of the image. */
export interface ChainMatch {
  length: number;
  entries: CatalogEntry[];
}

/**
 * Catalog images indexed by the ChainID of their whole diffID chain (see the module comment).
 * Entries with no diffIDs are not indexed.
 */
export class ChainIndex {
  private readonly byChain = new Map<string, CatalogEntry[]>();
  private readonly keyOf = new Map<string, string>();
  size = 0;

  constructor(entries: Iterable<CatalogEntry> = []) {
    for (const e of entries) this.add(e);
  }

  private static id(e: CatalogEntry): string {
    return `${e.registry}\u0000${e.repository}\u0000${e.digest}`;
  }

  /** Adds or replaces an entry (by registry, repository and digest). */
  add(e: CatalogEntry): void {
    if (!e.diffIDs.length) return;
    this.remove(e);
    const k = chainIds(e.diffIDs)[e.diffIDs.length - 1];
    const list = this.byChain.get(k) ?? [];
    list.push(e);
    this.byChain.set(k, list);
    this.keyOf.set(ChainIndex.id(e), k);
    this.size++;
  }

  /** Removes an entry (by registry, repository and digest); no-op when absent. */
  remove(e: Pick<CatalogEntry, 'registry' | 'repository' | 'digest'>): void {
    const id = ChainIndex.id(e as CatalogEntry);
    const k = this.keyOf.get(id);
    if (k === undefined) return;
    const list = (this.byChain.get(k) ?? []).filter((x) => ChainIndex.id(x) !== id);
    if (list.length) this.byChain.set(k, list);
    else this.byChain.delete(k);
    this.keyOf.delete(id);
    this.size--;
  }

  /**
   * The catalog images forming the longest proper prefix of `diffIDs` (an image is never its own
   * base: a chain equal to the whole image is not a match). Undefined when none.
   */
  longestPrefix(diffIDs: readonly Digest[]): ChainMatch | undefined {
    const ids = chainIds(diffIDs);
    for (let n = ids.length - 1; n >= 1; n--) {
      const hit = this.byChain.get(ids[n - 1]);
      if (hit?.length) return { length: n, entries: hit };
    }
    return undefined;
  }

  /** The catalog images whose whole chain equals `diffIDs`. */
  exact(diffIDs: readonly Digest[]): CatalogEntry[] {
    if (!diffIDs.length) return [];
    return this.byChain.get(chainIds(diffIDs)[diffIDs.length - 1]) ?? [];
  }
}
