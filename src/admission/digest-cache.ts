/**
 * Tag → digest resolution for admission, cached with a TTL (lru-cache). A push or delete the gate
 * queues (a registry notification, reconcile, the API: {@link GateApi.onPush}) drops the entries it
 * makes stale at once, so a re-pushed tag is resolved again on the next review; the TTL bounds the
 * rest (a replica that did not see the notification, a push the registry did not notify). The
 * mutating webhook pins the digest that was judged, so what runs is what was checked. Concurrent
 * misses for the same tag share one HEAD.
 */
import { LRUCache } from 'lru-cache';
import type { Digest, PushEvent } from '../core/index.js';
import type { GateApi } from '../gate/types.js';

/** Resolves `(registry name, repository, tag)` to a manifest digest, or undefined when the tag does not exist. */
export interface DigestCache {
  resolve(registry: string, repository: string, tag: string): Promise<Digest | undefined>;
  /** Entries currently held (for tests and debugging). */
  readonly size: number;
  clear(): void;
}

/** A lookup in flight; `stale` once an event of its tag arrived meanwhile (its answer is not kept). */
interface Pending {
  stale: boolean;
  promise: Promise<Digest | undefined>;
}

/**
 * Creates a cache that asks `gate.client(registry).resolve(repository, tag)` (a manifest HEAD) on a miss.
 * Found digests are kept for `ttlMs` (at most `max` entries); a missing tag is not cached, and a failed
 * lookup rejects with the client's error (PushgateError REGISTRY/NETWORK/UNAUTHORIZED) and is not cached.
 * Subscribes to `gate.onPush` when the gate has it: a push of `repository:tag` drops that tag's entry, a
 * delete (by digest: it may take any tag with it) drops every entry of the repository; a lookup in
 * flight then answers its callers but is not kept.
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
  const cache = new LRUCache<string, Digest>({ max, ttl: ttlMs, ttlAutopurge: false });
  const pending = new Map<string, Pending>();
  const drop = (key: string): void => {
    cache.delete(key);
    const p = pending.get(key);
    if (p) {
      p.stale = true;
      pending.delete(key);
    }
  };
  const dropRepository = (registry: string, repository: string): void => {
    const prefix = JSON.stringify([registry, repository]).slice(0, -1) + ',';
    for (const key of [...cache.keys(), ...pending.keys()]) if (key.startsWith(prefix)) drop(key);
  };
  gate.onPush?.((ev: PushEvent) => {
    if (ev.action === 'push' && ev.tag) drop(JSON.stringify([ev.registry, ev.repository, ev.tag]));
    else if (ev.action === 'delete') dropRepository(ev.registry, ev.repository);
  });
  return {
    resolve: (registry, repository, tag) => {
      const key = JSON.stringify([registry, repository, tag]);
      const hit = cache.get(key);
      if (hit !== undefined) return Promise.resolve(hit);
      const inFlight = pending.get(key);
      if (inFlight) return inFlight.promise;
      const p: Pending = { stale: false, promise: Promise.resolve(undefined) };
      p.promise = lookup(key)
        .then((digest) => {
          if (digest !== undefined && !p.stale) cache.set(key, digest);
          return digest;
        })
        .finally(() => {
          if (pending.get(key) === p) pending.delete(key);
        });
      pending.set(key, p);
      return p.promise;
    },
    get size() {
      return cache.size;
    },
    clear() {
      cache.clear();
      for (const key of [...pending.keys()]) drop(key);
    },
  };
}
