/**
 * Reconciliation (issue 6, DESIGN.md §3 `pushgate reconcile`): walk the guarded registries'
 * repositories and tags, and queue every manifest the store has no verdict for (under that tag).
 * This catches notifications a registry lost (Distribution keeps its delivery queue in memory, so
 * a registry restart drops pending events: protocols.md §1.5) and images pushed before pushgate
 * was installed. The queued events are processed like notifications: judged once, enforced. Events
 * that outlived their retry budget while a registry did not answer (`blocked-on-registry`) are
 * queued again once its catalog can be read.
 */
import { PushgateError } from '../core/index.js';
import { createHash } from 'node:crypto';
import type { PushgateConfig } from '../config/types.js';
import type { Store } from '../store/index.js';
import type { Gate, Logger } from './gate.js';
import { setLongInterval } from '../core/timers.js';

/** Options of {@link reconcile}. */
export interface ReconcileOptions {
  config: PushgateConfig;
  gate: Gate;
  store: Store;
  logger?: Logger;
  /** Only this configured registry (`registries[].name`). */
  registry?: string;
  /** Stops between tags when aborted (serve's shutdown). */
  signal?: AbortSignal;
}

/** What a pass found. */
export interface ReconcileResult {
  /** Tags looked at. */
  tags: number;
  /** Tags queued because no verdict names them. */
  queued: number;
  /** Events that were blocked on a registry (it did not answer) and are queued again because it answers now. */
  resumed: number;
  /** Repositories or tags that could not be read (registry errors; the pass goes on). */
  errors: Array<{ registry: string; repository?: string; tag?: string; message: string }>;
}

/**
 * One reconciliation pass. Repositories under a registry's quarantine prefix are walked like any
 * other: only the quarantine copies pushgate recorded there are skipped, so an image someone else
 * pushed into the prefix is judged. A tag counts as judged when the verdict of the digest it points at
 * lists it. The queued event's id is derived from (registry, repository, tag, digest), so two
 * passes (or two replicas) queue a missed manifest once.
 * @throws PushgateError NOT_FOUND when `opts.registry` is not configured.
 */
export async function reconcile(opts: ReconcileOptions): Promise<ReconcileResult> {
  const { config, gate, store } = opts;
  const result: ReconcileResult = { tags: 0, queued: 0, resumed: 0, errors: [] };
  if (opts.registry && !config.registries.some((r) => r.name === opts.registry)) {
    throw new PushgateError('NOT_FOUND', `--registry ${opts.registry}: no such registry in the configuration (registries[].name: ${config.registries.map((r) => r.name).join(', ') || 'none'})`);
  }
  for (const rc of config.registries) {
    if (opts.registry && rc.name !== opts.registry) continue;
    const client = gate.client(rc.name);
    let repos: string[];
    try {
      repos = await client.catalog();
    } catch (e) {
      result.errors.push({ registry: rc.name, message: (e as Error).message });
      opts.logger?.warn({ registry: rc.name, err: (e as Error).message }, 'reconcile: catalog could not be read');
      continue;
    }
    // The registry answers: the events that outlived their retry budget while it did not go back to the queue.
    try {
      result.resumed += await gate.resumeBlocked(rc.name);
    } catch (e) {
      result.errors.push({ registry: rc.name, message: `blocked events could not be resumed: ${(e as Error).message}` });
    }
    for (const repo of repos) {
      let tags: string[];
      try {
        tags = await client.listTags(repo);
      } catch (e) {
        result.errors.push({ registry: rc.name, repository: repo, message: (e as Error).message });
        continue;
      }
      for (const tag of tags) {
        if (opts.signal?.aborted) return result;
        result.tags++;
        try {
          const r = await client.resolve(repo, tag);
          if (!r) continue;
          const v = await store.getVerdict(rc.name, repo, r.digest);
          if (v && v.tags.includes(tag)) continue;
          if (await gate.isRecordedQuarantineCopy(rc.name, repo, r.digest)) continue;
          const id = `reconcile-${createHash('sha256').update(`${rc.name}\0${repo}\0${tag}\0${r.digest}`).digest('hex').slice(0, 32)}`;
          const { inserted } = await gate.ingest({ id, source: 'reconcile', registry: rc.name, action: 'push', repository: repo, digest: r.digest, tag, mediaType: r.mediaType, actor: 'pushgate-reconcile' });
          if (inserted) result.queued++;
        } catch (e) {
          result.errors.push({ registry: rc.name, repository: repo, tag, message: (e as Error).message });
        }
      }
    }
  }
  opts.logger?.info({ tags: result.tags, queued: result.queued, resumed: result.resumed, errors: result.errors.length }, 'reconcile pass done');
  return result;
}

/**
 * Runs {@link reconcile} every `intervalMs` (config `reconcile.interval`; 0 = off), one pass at a
 * time, first pass after one interval. Returns a stopper that aborts a running pass.
 */
export function scheduleReconcile(opts: Omit<ReconcileOptions, 'signal'> & { intervalMs: number }): () => void {
  if (!opts.intervalMs || opts.intervalMs <= 0) return () => undefined;
  const ac = new AbortController();
  let running = false;
  const timer = setLongInterval(() => {
    if (running) return;
    running = true;
    reconcile({ ...opts, signal: ac.signal })
      .catch((e: Error) => opts.logger?.warn({ err: e.message }, 'reconcile pass failed'))
      .finally(() => (running = false));
  }, opts.intervalMs);
  return () => {
    timer.stop();
    ac.abort();
  };
}
