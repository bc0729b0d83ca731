/**
 * Signature rules (policy `spec.signatures`) at admission: the image digest's signatures are read from
 * its registry (both cosign layouts, src/trust/collect.ts), verified against the rule's authorities
 * (src/trust/check.ts), and the outcome cached per (policy revision, registry, repository, digest).
 *
 * Cache: a satisfied check is reused for `cacheTtlMs` (signatures are only ever added by signing, and
 * a removed one is announced by a delete notification, which drops the repository's entries); an
 * unsatisfied one for `unsignedRecheckMs`, and dropped at once when the registry notifies a push to
 * the repository (a `.sig` tag, a referrer or the referrers fallback tag), so a signature made after
 * the push counts at the next review. A policy reload changes the revision, so no check outlives the
 * rules it was made for. A notification of the repository that arrives while a check is reading the
 * registry makes that read stale: it still answers the reviews that were waiting for it, but it is not
 * cached and reviews after the notification read again (a signature withdrawn mid-read must not be
 * trusted for `cacheTtlMs`). The index of cached checks by repository follows the cache's evictions,
 * so it is bounded without ever losing a cached check a notification must drop. Several replicas each keep their own cache; a replica that did not receive
 * the notification sees a new signature after `unsignedRecheckMs`.
 */
import { LRUCache } from 'lru-cache';
import type { Digest, PushEvent } from '../core/index.js';
import { DEFAULT_SIGNATURE_CACHE, type PushgateConfig, type RegistryConfig } from '../config/types.js';
import type { GateApi } from '../gate/types.js';
import type { CompiledSignatureRule } from '../policy/types.js';
import { checkSignatures, type SignatureCheck } from '../trust/check.js';
import { collectSignatures } from '../trust/collect.js';
import { signatureTag } from '../trust/cosign-legacy.js';
import { referrersTag } from '../registry/client.js';
import { loadTrustedRoot } from '../trust/trusted-root.js';
import type { TrustRoot } from '../trust/types.js';

type SignatureConfig = NonNullable<PushgateConfig['admission']['signatures']>;

interface Entry {
  checks: SignatureCheck[];
  at: number;
  /** `registry\0repository`: the index ({@link SignatureChecks.byRepo}) set this entry's key is in. */
  repoKey: string;
}

const MAX_ENTRIES = 10_000;

/** Signature checks for one gate: cached, coalesced, dropped on push notifications. */
export class SignatureChecks {
  private readonly cache: LRUCache<string, Entry>;
  /** Reads in progress by cache key; `stale` once a notification of the repository arrived during the read. */
  private readonly inflight = new Map<string, { promise: Promise<SignatureCheck[]>; repoKey: string; stale: boolean }>();
  private readonly byRepo = new Map<string, Set<string>>();
  private root: TrustRoot | undefined | null = null;
  private readonly config: SignatureConfig;

  /**
   * @param gate registry clients, host aliases, push notifications.
   * @param config `admission.signatures` (default: no trusted root, {@link DEFAULT_SIGNATURE_CACHE}).
   * @param now clock, ms.
   * @param maxEntries checks cached at most (least recently used dropped first).
   */
  constructor(private readonly gate: GateApi, config: SignatureConfig | undefined, private readonly now: () => number = Date.now, maxEntries = MAX_ENTRIES) {
    this.config = config ?? { ...DEFAULT_SIGNATURE_CACHE };
    // The repository index follows the cache: an entry leaving the cache (evicted, deleted, replaced
    // by an equal key) leaves the index, so the index is bounded by the cache and every cached check
    // stays reachable by the notifications of its repository.
    this.cache = new LRUCache<string, Entry>({
      max: maxEntries,
      dispose: (e, k, reason) => {
        if (reason === 'set') return;
        const set = this.byRepo.get(e.repoKey);
        set?.delete(k);
        if (set && set.size === 0) this.byRepo.delete(e.repoKey);
      },
    });
    gate.onPush?.((ev) => this.onPush(ev));
  }

  /** The signature rules of the policy in force that cover (registry, repository). */
  rulesFor(registry: string, repository: string): CompiledSignatureRule[] {
    return (this.gate.currentPolicy?.signatures ?? []).filter((r) => r.matches(registry, repository));
  }

  private trustRoot(): TrustRoot | undefined {
    if (this.root === null) this.root = this.config.trustedRoot ? loadTrustedRoot(this.config.trustedRoot) : undefined;
    return this.root;
  }

  private repoKey(registry: string, repository: string): string {
    return `${registry}\u0000${repository}`;
  }

  /** Drops what a push or delete in the event's repository may have made stale. */
  onPush(ev: PushEvent): void {
    const rk = this.repoKey(ev.registry, ev.repository);
    // A read in flight may have seen the registry before this event: later reviews must not join it,
    // and its outcome must not be cached.
    for (const [k, f] of [...this.inflight]) {
      if (f.repoKey !== rk) continue;
      f.stale = true;
      this.inflight.delete(k);
    }
    const keys = this.byRepo.get(rk);
    if (!keys) return;
    for (const k of [...keys]) {
      const e = this.cache.get(k);
      const digest = k.slice(k.lastIndexOf('\u0000') + 1);
      const tagOfThis = ev.tag !== undefined && (ev.tag === signatureTag(digest) || ev.tag === referrersTag(digest as Digest));
      // A new referrer or signature only adds: satisfied checks stay. A delete, or a rewrite of this
      // digest's `.sig` or fallback tag (which can drop a signature), makes the check stale.
      if (ev.action === 'delete' || tagOfThis || !e || e.checks.some((c) => !c.satisfied)) {
        this.cache.delete(k);
        keys.delete(k);
      }
    }
  }

  /** True when a signed docker-reference `host[:port]/repository[:tag|@digest]` names this registry and repository. */
  private referenceMatcher(reg: RegistryConfig, repository: string): (ref: string) => boolean {
    return (ref) => {
      const slash = ref.indexOf('/');
      if (slash <= 0) return false;
      const host = ref.slice(0, slash);
      const path = ref.slice(slash + 1).replace(/@sha(256|512):[a-f0-9]+$/, '').replace(/:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/, '');
      try {
        return this.gate.registryForHost(host)?.name === reg.name && path === repository;
      } catch {
        return false;
      }
    };
  }

  /**
   * Checks `rules` for `repository@digest` (cached).
   * @throws RegistryError / PushgateError when the registry cannot be read or the trusted root cannot
   *   be loaded: the caller fails closed.
   */
  async check(reg: RegistryConfig, repository: string, digest: Digest, rules: CompiledSignatureRule[]): Promise<SignatureCheck[]> {
    const revision = this.gate.currentPolicy?.revision ?? '';
    const key = `${revision}\u0000${reg.name}\u0000${repository}\u0000${digest}`;
    const hit = this.cache.get(key);
    if (hit) {
      const ttl = hit.checks.every((c) => c.satisfied) ? this.config.cacheTtlMs : this.config.unsignedRecheckMs;
      if (this.now() - hit.at < ttl) return hit.checks;
      this.cache.delete(key);
    }
    const running = this.inflight.get(key);
    if (running) return running.promise;
    const rk = this.repoKey(reg.name, repository);
    const flight: { promise: Promise<SignatureCheck[]>; repoKey: string; stale: boolean } = { promise: Promise.resolve([]), repoKey: rk, stale: false };
    flight.promise = this.run(reg, repository, digest, rules).then((checks) => {
      if (flight.stale) return checks;
      this.cache.set(key, { checks, at: this.now(), repoKey: rk });
      let set = this.byRepo.get(rk);
      if (!set) {
        set = new Set();
        this.byRepo.set(rk, set);
      }
      set.add(key);
      return checks;
    });
    this.inflight.set(key, flight);
    try {
      return await flight.promise;
    } finally {
      if (this.inflight.get(key) === flight) this.inflight.delete(key);
    }
  }

  private async run(reg: RegistryConfig, repository: string, digest: Digest, rules: CompiledSignatureRule[]): Promise<SignatureCheck[]> {
    const root = rules.some((r) => r.authorities.some((a) => a.kind === 'keyless')) ? this.trustRoot() : undefined;
    const client = this.gate.client(reg.name);
    const { found, problems } = await collectSignatures(client, repository, digest);
    // A message-signature bundle signs the manifest's digest: the verifier needs the manifest bytes.
    const manifest = found.some((f) => f.layout === 'sigstore-bundle-referrer') ? (await client.getManifest(repository, digest)).bytes : undefined;
    const image = { digest, ...(manifest ? { manifest } : {}), referenceMatches: this.referenceMatcher(reg, repository) };
    return rules.map((r) => checkSignatures(r, found, problems, image, root, this.now()));
  }
}
