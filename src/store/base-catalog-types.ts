/** Base catalog records (src/base), kept by the store: what is stored per catalog image and per catalog tag. */
import type { Digest, VulnSummary } from '../core/index.js';

/**
 * One image manifest of a catalog repository (`baseImages.repositories`), keyed by registry,
 * repository and manifest digest. An index is recorded as one entry per platform manifest, with
 * `indexDigest` naming the index the tags point at.
 */
export interface CatalogEntry {
  registry: string;
  repository: string;
  /** The image manifest's digest. */
  digest: Digest;
  /** The index holding it, when the tag names an index. */
  indexDigest?: Digest;
  /** `os/arch[/variant]`, `unknown` when the config says nothing. */
  platform: string;
  /** The config's `rootfs.diff_ids`, lowest first. */
  diffIDs: Digest[];
  /** Config `created` (RFC 3339), when set. */
  created?: string;
  /** Vulnerability counts of its stored scan; undefined until it was scanned. */
  summary?: VulnSummary;
  /** Advisory ids of its findings (for "what the newer base fixes"); undefined until scanned. */
  findingIds?: string[];
  /** When pushgate first saw this digest in the repository, ms since the epoch. */
  firstSeen: number;
}

/** Where a catalog tag points and since when. */
export interface CatalogTag {
  registry: string;
  repository: string;
  tag: string;
  /** The digest the tag names (an image manifest or an index). */
  digest: Digest;
  /** When the tag was first seen pointing at this digest, ms since the epoch. */
  since: number;
}

/** A tag's history: every digest it has pointed at, newest first. */
export type TagHistory = CatalogTag[];

/**
 * The base catalog's store (SQLite and PostgreSQL, src/store): entries by digest, tags with the
 * digests they pointed at over time. Errors are PushgateError STORE (retryable).
 */
export interface BaseCatalogStore {
  /** Inserts or updates an entry (first seen kept from the earlier row). */
  putEntry(e: CatalogEntry): Promise<void>;
  /** Every entry (the catalog is loaded once at start and kept current in memory). */
  listEntries(): Promise<CatalogEntry[]>;
  /** Records that `tag` points at `digest` now; no-op when it already does. @returns true when it moved (or is new). */
  putTag(t: Omit<CatalogTag, 'since'>, now: number): Promise<boolean>;
  /** Every tag's history, newest first per tag. */
  listTags(): Promise<CatalogTag[]>;
}
