/**
 * One policy revision across the replicas sharing a store. Each replica reads its policy file from its own
 * config (the chart's ConfigMap); the revision in force is a row of the store (src/store/cluster-state.ts).
 *
 * The rule: the policy loaded last wins. A replica records its policy file's revision in force when it starts
 * and whenever it loads another one (hot reload), with an audit record `policy-in-force` and a notification
 * to the others. A replica whose revision differs from the one in force claims no event (the events stay
 * queued for the replicas that agree) and reports not ready, naming both revisions and who installed the
 * one in force, until its config catches up (its reload records nothing new then: it agrees) or it is
 * replaced. This fits how the chart rolls out a policy change: pods started with the new ConfigMap record the
 * new revision, the old pods stop judging at once and are replaced; a rollback is a new rollout too.
 * A replica started against the store with another policy file takes the cluster's policy over (audited);
 * the replicas left behind say so in /readyz. SQLite (one process): the revision is recorded, nothing held.
 *
 * The revision compared is the policy file's (CompiledPolicy.revision of the file), not the effective policy's
 * with admin-API exceptions and VEX documents: those live in the store and every replica re-reads them on
 * their own notification (src/gate/reevaluate.ts).
 */
import type { Store } from '../store/index.js';
import type { Logger } from './gate.js';

/** Options of a {@link PolicySync}. */
export interface PolicySyncOptions {
  store: Store;
  logger: Logger;
  /** The policy file's name and revision this replica judges with now. */
  local(): { name: string; revision: string };
  /** Holds off (`reason`) or resumes (undefined) this replica's queue workers. */
  hold(reason: string | undefined): void;
  /** This replica's name as installer. */
  owner: string;
  /** How often the store is looked at without a notification, ms (default 30 s). */
  recheckMs?: number;
  /** How often the local policy is looked at for a reload, ms (default 1 s). */
  localCheckMs?: number;
}

/** See the module comment. */
export class PolicySync {
  private chain: Promise<unknown> = Promise.resolve();
  private timers: NodeJS.Timeout[] = [];
  private unsubscribe: (() => void) | undefined;
  /** The local revision last recorded in force by this replica. */
  private recorded: string | undefined;
  private problem: string | undefined;

  constructor(private readonly o: PolicySyncOptions) {}

  /** Records this replica's revision in force, then follows the store and local reloads. */
  async start(): Promise<void> {
    this.unsubscribe = await this.o.store.subscribe((topic) => {
      if (topic === 'policy' || topic === 'resync') void this.check();
    });
    const recheck = setInterval(() => void this.check(), this.o.recheckMs ?? 30_000);
    const local = setInterval(() => {
      if (this.o.local().revision !== this.recorded) void this.check();
    }, this.o.localCheckMs ?? 1000);
    recheck.unref();
    local.unref();
    this.timers.push(recheck, local);
    await this.check();
  }

  /** Stops following. */
  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.unsubscribe?.();
  }

  /** Why this replica's policy is not the one in force (both revisions named), or undefined. */
  disagreement(): string | undefined {
    return this.problem;
  }

  /** Records a newly loaded local revision, or compares with the one in force; serialized, never rejects. */
  check(): Promise<void> {
    const run = this.chain.then(() => this.once());
    this.chain = run.catch(() => undefined);
    return run.catch((e: Error) => this.o.logger.warn({ err: e.message }, 'policy revision in force could not be checked; the next look tries again'));
  }

  private async once(): Promise<void> {
    const mine = this.o.local();
    const cs = this.o.store.clusterState;
    if (mine.revision !== this.recorded) {
      // this replica loaded a policy (start or reload): the policy loaded last wins
      const before = await cs.get('policy');
      if (before?.digest !== mine.revision) {
        await cs.put('policy', { digest: mine.revision, builtAt: mine.name, installedBy: this.o.owner });
        await this.o.store.audit({ actor: 'pushgate', action: 'policy-in-force', detail: { name: mine.name, revision: mine.revision, installedBy: this.o.owner, previous: before?.digest ?? null } });
        await this.o.store.publish('policy');
        this.o.logger.info({ revision: mine.revision, previous: before?.digest ?? null }, 'policy revision recorded in force for the cluster');
      }
      // only once written: a store that failed is asked again at the next look
      this.recorded = mine.revision;
    }
    const inForce = await cs.get('policy');
    if (!inForce || inForce.digest === mine.revision) {
      if (this.problem) this.o.logger.info({ revision: mine.revision }, 'policy revision agrees with the one in force again; claiming resumes');
      this.problem = undefined;
    } else {
      const p = `policy revision ${mine.revision} (${mine.name}) differs from the one in force ${inForce.digest} (${inForce.builtAt ?? ''}, installed by ${inForce.installedBy} at ${new Date(inForce.installedAt).toISOString()}): this replica's policy file is not the cluster's; queue workers claim nothing until its config catches up`;
      if (p !== this.problem) this.o.logger.warn({ revision: mine.revision, inForce: inForce.digest, installedBy: inForce.installedBy }, 'policy revision differs from the one in force; this replica does not judge');
      this.problem = p;
    }
    this.o.hold(this.problem);
  }
}
