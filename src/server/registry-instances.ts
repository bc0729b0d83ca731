/**
 * Registry restarts, told from the notifications themselves. Distribution keeps its delivery queue in
 * memory (protocols.md §1.5): the events a registry process still held when it stopped (all of them while
 * pushgate was down, or the ones in flight) are gone, and nothing else tells pushgate those pushes
 * happened. Every event names the process that sent it (`source.instanceID`, a UUID made at start), so the
 * first event of an instance pushgate never saw, from a registry it saw another instance of, means a process
 * of that registry stopped since: the whole registry is reconciled (src/gate/reconcile.ts; the record is the
 * request, owed until a pass completes, so a pushgate killed before that asks again: src/gate/reconcile-ledger.ts). The instances
 * seen are kept in the audit log (`registry-instance-new`, one record per instance), so a pushgate that
 * was itself down while the registry restarted still tells the new instance from the one it saw before,
 * and every replica agrees. The first instance ever seen of a registry is recorded only: there is no earlier
 * one whose queue could have been lost (a first install is reconciled by `pushgate reconcile`).
 */
import type { Logger } from '../gate/gate.js';
import type { Store } from '../store/index.js';

/** The audit action recording an instance seen for the first time. */
export const INSTANCE_AUDIT_ACTION = 'registry-instance-new';

/** Audit records of a registry read to know its instances (the newest ones: an older one looks new, which costs a pass). */
const LOOKBACK = 200;
/** Instances kept in memory per registry (an HA registry has a few; more are looked up again). */
const MAX_PER_REGISTRY = 256;

/** Options of {@link RegistryInstances}. */
export interface RegistryInstancesOptions {
  store: Pick<Store, 'audit' | 'listAudit'>;
  logger: Logger;
  /** Asked to reconcile the whole of `registry` (a restart of it was seen). Must not throw. */
  onRestart: (registry: string) => void;
}

/** Tracks the sending instances of each registry and asks for a reconcile when a new one appears. */
export class RegistryInstances {
  private readonly known = new Map<string, Set<string>>();
  private readonly pending = new Map<string, Promise<void>>();

  constructor(private readonly opts: RegistryInstancesOptions) {}

  /**
   * Notes that `registry` sent events from `instances` (after the envelope was recorded). Resolves once each
   * new instance is recorded; never rejects: a store that cannot be read or written leaves the instance
   * unknown, so the next envelope from it tries again.
   */
  async seen(registry: string, instances: readonly string[]): Promise<void> {
    for (const id of instances) {
      if (this.known.get(registry)?.has(id)) continue;
      const key = `${registry}\0${id}`;
      let p = this.pending.get(key);
      if (!p) {
        p = this.learn(registry, id).finally(() => this.pending.delete(key));
        this.pending.set(key, p);
      }
      await p;
    }
  }

  private remember(registry: string, id: string): void {
    let set = this.known.get(registry);
    if (!set) this.known.set(registry, (set = new Set()));
    set.add(id);
    if (set.size > MAX_PER_REGISTRY) set.delete(set.values().next().value as string);
  }

  private async learn(registry: string, id: string): Promise<void> {
    const { store, logger } = this.opts;
    try {
      const recorded = await store.listAudit(LOOKBACK, { action: INSTANCE_AUDIT_ACTION, registry });
      const ids = recorded.map((r) => r.detail?.instanceID).filter((x): x is string => typeof x === 'string');
      if (ids.includes(id)) {
        this.remember(registry, id);
        return;
      }
      const restarted = ids.length > 0;
      await store.audit({ actor: registry, action: INSTANCE_AUDIT_ACTION, registry, detail: { instanceID: id, reconcile: restarted ? 'registry' : 'none', previous: [...new Set(ids)].slice(0, 5) } });
      this.remember(registry, id);
      if (restarted) {
        logger.warn({ registry, instanceID: id }, `registry ${registry} restarted (a new instance sent a notification): the events its previous instance held may be lost; reconciling the registry`);
        this.opts.onRestart(registry);
      }
    } catch (e) {
      logger.warn({ registry, instanceID: id, err: (e as Error).message }, 'could not record a registry instance; the next notification from it tries again');
    }
  }
}
