/**
 * Readiness (`GET /readyz`): ready only when serving would work: the store answers and takes a write, the
 * vulnerability database is loaded, verified and answers a query, and every configured listener (admission,
 * proxy, metrics) is up, and the replica agrees with the cluster on the vulnerability database and policy in
 * force (src/gate/vulndb-sync.ts, src/gate/policy-sync.ts). The answer names the part that failed and what to do. Results are kept for one
 * second, so a caller polling /readyz cannot turn it into a stream of store writes.
 */
import type { Store } from '../store/index.js';

/** State of one listener: `starting`, `up`, or `failed: <why>`. */
export type ListenerState = 'starting' | 'up' | `failed: ${string}`;

/** The /readyz body. `status` is `ready` exactly when every part is `ok` or `up`. */
export interface ReadinessReport {
  status: 'ready' | 'not ready';
  store: 'ok' | string;
  /** The database in force: build time and content digest (replicas on one database show one digest). */
  vulndb: { builtAt: string | null; digest?: string | null } | string;
  listeners: Record<string, ListenerState>;
  /**
   * `ok`, or why this replica does not judge now: its vulnerability database or policy revision differs from
   * the one in force in the store (both named). Absent when not checked.
   */
  cluster?: 'ok' | string;
}

/** What readiness asks. */
export interface ReadinessDeps {
  store: Pick<Store, 'ping' | 'probeWrite'>;
  vulndb(): { ok: true; builtAt: string | null; digest?: string | null } | { ok: false; error: string };
  /** Why this replica disagrees with the cluster on what to judge with, or undefined (not checked when absent). */
  cluster?(): string | undefined;
  /** How long one answer is reused, ms (default 1000). */
  cacheMs?: number;
}

/** See the module comment. */
export class Readiness {
  private readonly listeners = new Map<string, ListenerState>();
  private cached: { at: number; report: Promise<ReadinessReport> } | undefined;

  constructor(private readonly deps: ReadinessDeps) {}

  /** Records the state of a listener (`admission`, `proxy`, `metrics`); a listener never set is not checked. */
  setListener(name: string, state: ListenerState): void {
    this.listeners.set(name, state);
    this.cached = undefined;
  }

  /** The current report (reused for `cacheMs`). */
  check(now = Date.now()): Promise<ReadinessReport> {
    if (this.cached && now - this.cached.at < (this.deps.cacheMs ?? 1000)) return this.cached.report;
    const report = this.compute();
    this.cached = { at: now, report };
    return report;
  }

  private async compute(): Promise<ReadinessReport> {
    let store: string;
    if (!(await this.deps.store.ping())) store = 'unreachable: check store.url and that the database is up';
    else {
      const w = await this.deps.store.probeWrite();
      store = w.ok ? 'ok' : `not writable (${w.error}): free disk space or fix the store's permissions`;
    }
    const v = this.deps.vulndb();
    const vulndb = v.ok ? { builtAt: v.builtAt, digest: v.digest ?? null } : v.error;
    const listeners = Object.fromEntries(this.listeners);
    const cluster = this.deps.cluster ? (this.deps.cluster() ?? 'ok') : undefined;
    const ready = store === 'ok' && v.ok && Object.values(listeners).every((s) => s === 'up') && (cluster ?? 'ok') === 'ok';
    return { status: ready ? 'ready' : 'not ready', store, vulndb, listeners, ...(cluster !== undefined ? { cluster } : {}) };
  }
}
