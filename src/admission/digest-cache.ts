/**
 * Tag → digest resolution for admission, cached with a TTL (lru-cache). The TTL bounds how long a
 * re-pushed tag can still resolve to its previous digest; the mutating webhook pins the digest that
 * was judged, so what runs is what was checked. Concurrent misses for the same tag share one HEAD.
 */
import { LRUCache } from 'lru-cache';
import type { Digest } from '../core/index.js';
import type { GateApi } from '../gate/types.js';

/** Resolves `(registry name, repository, tag)` to a manifest digest, or undefined when the tag does not exist. */
export interface DigestCache {
  resolve(registry: string, repository: string, tag: string): Promise<Digest | undefined>;
  /** Entries currently held (for tests and debugging). */
  readonly size: number;
  clear(): void;
}

/**
 * Creates a cache that asks `gate.client(registry).resolve(repository, tag)` (a manifest HEAD) on a miss.
 * Found digests are kept for `ttlMs` (at most `max` entries); a missing tag is not cached, and a failed
 * lookup rejects with the client's error (PushgateError REGISTRY/NETWORK/UNAUTHORIZED) and is not cached.
 * @param ttlMs time to live of an entry, ms (config `admission.digestCacheTtlMs`); 0 disables caching.
 */
export function createDigestCache(gate: GateApi, ttlMs: number, max = 10_000): DigestCache {
  const lookup = async (key: string): Promise<Digest | undefined> => {
    const [registry, repository, tag] = JSON.parse(key) as [string, string, string];
    const r = await gate.client(registry).resolve(repository, tag);
    return r?.digest;
  };
  if (ttlMs <= 0) {
    return {
      resolve: (registry, repository, tag) => lookup(JSON.stringify([registry, repository, tag])),
      size: 0,
      clear() {},
    };
  }
  const cache = new LRUCache<string, Digest>({
    max,
    ttl: ttlMs,
    ttlAutopurge: false,
    fetchMethod: (key) => lookup(key),
  });
  return {
    resolve: (registry, repository, tag) => cache.fetch(JSON.stringify([registry, repository, tag])),
    get size() {
      return cache.size;
    },
    clear() {
      cache.clear();
    },
  };
}
