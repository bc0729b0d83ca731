/**
 * The one place that decides "this notification is pushgate's own traffic" (never judged). Only two
 * things count, both known to pushgate or vouched for by the registry:
 * 1. a manifest pushgate itself wrote (a quarantine copy, a restored tag, a released copy, a moved
 *    referrer), remembered in the store's own-writes memo BEFORE the write where the target is known
 *    in advance, so the notification (which Distribution sends as soon as the manifest is stored)
 *    always finds it, on whichever replica it lands;
 * 2. an event whose authenticated actor is pushgate's account on that registry: Distribution sets
 *    `actor.name` from the token or htpasswd user that authenticated the request, Harbor its
 *    `operator` the same way. A registry without `auth.username` has no such account.
 * Never the User-Agent, `Host` or `X-Forwarded-*`: any client can send those.
 */
import type { PushEvent } from '../core/index.js';
import type { RegistryConfig } from '../config/types.js';
import type { OwnWrite } from '../enforce/index.js';
import type { OwnWriteKey, Store } from '../store/index.js';

/** How long a remembered write waits for its notification, ms. */
export const OWN_WRITE_TTL_MS = 10 * 60_000;

/**
 * The memo's tag for a manifest DELETE by digest pushgate makes: `@` is not a tag character (OCI
 * distribution-spec tag grammar), so it never matches a push.
 */
export const OWN_DELETE_TAG = '@delete';

/**
 * Why an event is own traffic: `own-write`, a write pushgate remembered making; `own-actor`, an event
 * of pushgate's registry account that is no remembered write (a person or CI job pushing with
 * pushgate's credentials, never judged).
 */
export type OwnTrafficReason = 'own-write' | 'own-actor';

/** How often the warning about unjudged pushes of pushgate's account repeats per repository, ms. */
export const OWN_ACTOR_WARN_MS = 60 * 60_000;
/** Repositories the warning's rate limit remembers (past it, the memory starts over). */
const OWN_ACTOR_WARN_KEYS = 10_000;

/** See the module comment. */
export class OwnTraffic {
  constructor(
    private readonly o: {
      store: Store;
      /** The registry's configuration by name (undefined when not configured). */
      registry: (name: string) => RegistryConfig | undefined;
      ttlMs?: number;
      now?: () => number;
      /**
       * Told (at most once per registry and repository per {@link OWN_ACTOR_WARN_MS}) of a push by
       * pushgate's account that pushgate did not remember making: it is not judged, and whoever
       * pushed with that account should have their own. Fields: registry, repository, account.
       */
      warn?: (fields: { registry: string; repository: string; account: string }, message: string) => void;
    },
  ) {}

  /** When each registry\0repository was last warned about ({@link OwnTraffic.warnOwnActor}). */
  private readonly warned = new Map<string, number>();

  /** The rate-limited warning for an unjudged push by pushgate's account (see `warn`). */
  private warnOwnActor(ev: PushEvent, account: string): void {
    if (!this.o.warn) return;
    const k = `${ev.registry}\0${ev.repository}`;
    const now = this.now();
    const last = this.warned.get(k);
    if (last !== undefined && now - last < OWN_ACTOR_WARN_MS) return;
    if (this.warned.size >= OWN_ACTOR_WARN_KEYS) this.warned.clear();
    this.warned.set(k, now);
    this.o.warn(
      { registry: ev.registry, repository: ev.repository, account },
      `a push to ${ev.repository} by pushgate's own registry account (${account}) was not judged: pushgate takes its account's pushes for its own writes (metric pushgate_events_dropped_total{reason="own-traffic"}). Push images with another account; give pushgate's account to pushgate alone. (Said once an hour per repository.)`,
    );
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  /** Remembers a manifest DELETE by digest pushgate is about to make in `registry`: its notification is own traffic. */
  async rememberDelete(registry: string, repository: string, digest: OwnWrite['digest']): Promise<void> {
    await this.remember(registry, { repository, digest, tag: OWN_DELETE_TAG });
  }

  /** Remembers one write pushgate is about to make (or made) to `registry`. */
  async remember(registry: string, w: OwnWrite): Promise<void> {
    await this.o.store.rememberOwnWrite(key(registry, w), this.now() + (this.o.ttlMs ?? OWN_WRITE_TTL_MS));
  }

  /**
   * Remembers the writes an action is known to make before it runs, and returns the `onWrite`
   * callback for the action: it remembers the writes that were not announced (e.g. moved referrers,
   * whose digests are only learnt during the action), each once.
   */
  async expect(registry: string, announced: OwnWrite[]): Promise<(w: OwnWrite) => Promise<void>> {
    const pending = new Map<string, number>();
    for (const w of announced) {
      await this.remember(registry, w);
      const k = keyText(key(registry, w));
      pending.set(k, (pending.get(k) ?? 0) + 1);
    }
    return async (w) => {
      const k = keyText(key(registry, w));
      const n = pending.get(k) ?? 0;
      if (n > 0) {
        pending.set(k, n - 1);
        return;
      }
      await this.remember(registry, w);
    };
  }

  /**
   * Whether `ev` (a notification from `ev.registry`, already authenticated) is pushgate's own
   * traffic, and why. A remembered write is consumed by the first event that matches it.
   */
  async check(ev: PushEvent): Promise<OwnTrafficReason | undefined> {
    if (ev.source !== 'distribution' && ev.source !== 'harbor') return undefined;
    const account = this.o.registry(ev.registry)?.auth?.username;
    if (account && ev.actor === account) {
      // pushgate's own writes come from this account too: only a push it did not remember making
      // is someone else using its credentials, which is said (the event is never judged).
      if (ev.action === 'push' && !(await this.o.store.consumeOwnWrite(key(ev.registry, ev), ev.id, this.now()))) this.warnOwnActor(ev, account);
      return 'own-actor';
    }
    if (ev.action === 'delete') {
      // A manifest pushgate deleted itself (a superseded referrer it published), remembered before the DELETE.
      const k = { registry: ev.registry, repository: ev.repository, digest: ev.digest, tag: OWN_DELETE_TAG };
      return ev.tag === undefined && (await this.o.store.consumeOwnWrite(k, ev.id, this.now())) ? 'own-write' : undefined;
    }
    if (ev.action !== 'push') return undefined;
    const k = { registry: ev.registry, repository: ev.repository, digest: ev.digest, tag: ev.tag ?? '' };
    return (await this.o.store.consumeOwnWrite(k, ev.id, this.now())) ? 'own-write' : undefined;
  }
}

function key(registry: string, w: OwnWrite): OwnWriteKey {
  return { registry, repository: w.repository, digest: w.digest, tag: w.tag ?? '' };
}

function keyText(k: OwnWriteKey): string {
  return [k.registry, k.repository, k.digest, k.tag].join('\u0000');
}

/** What an enforcement is about to do (the fields of the enforce request that decide its writes). */
export interface PlannedEnforcement {
  type: 'distribution' | 'harbor';
  /** True when the action will run: a blocking decision in enforce mode, with a tag (Distribution: or by digest only). */
  acts: boolean;
  decision: string;
  repository: string;
  digest: OwnWrite['digest'];
  tag?: string;
  restoreDigest?: OwnWrite['digest'];
  /** Where a quarantined copy goes (`<prefix><repository>`, Harbor `<project>/<repository>`). */
  quarantineRepository: string;
}

/**
 * The manifest writes an enforcement is known to make before it runs (src/enforce/actions): the
 * quarantine copy (Distribution by tag, Harbor by digest) and the restored tag. Referrers moved with
 * a quarantined image are learnt during the action and reported through `onWrite`.
 */
export function plannedWrites(p: PlannedEnforcement): OwnWrite[] {
  if (!p.acts) return [];
  // Pushed by digest only (Distribution): the quarantine copy goes by digest, and there is no tag to restore.
  if (!p.tag) return p.decision === 'quarantine' && p.type === 'distribution' ? [{ repository: p.quarantineRepository, digest: p.digest }] : [];
  const out: OwnWrite[] = [];
  if (p.decision === 'quarantine') out.push(p.type === 'harbor' ? { repository: p.quarantineRepository, digest: p.digest } : { repository: p.quarantineRepository, digest: p.digest, tag: p.tag });
  if (p.restoreDigest) out.push({ repository: p.repository, digest: p.restoreDigest, tag: p.tag });
  return out;
}
