/**
 * The scans admission reviews may start. A review names images its caller chooses, so without a
 * limit one review naming 2,000 made-up digests queues 2,000 events ahead of real pushes. Three
 * limits, in this order, for every image of a review that has no verdict and whose namespace rule
 * would queue or run a scan:
 *
 * 1. Coalescing: a scan of the same (registry, repository, digest) that a review started and that
 *    is still being queued or run, or was queued less than `coalesceMs` ago, is joined, not started
 *    again (and costs nothing). Past that window the gate's `enqueue` still refuses a second
 *    pending event for the key (store.enqueueUnlessPending), across replicas.
 * 2. Per review: at most `maxPerReview` distinct keys start a scan; the rest are denied as
 *    unscanned with a reason.
 * 3. Per caller: a token bucket of `burst` tokens refilled at `ratePerSecond`, one token per scan
 *    started, keyed by the caller's identity (client-certificate subject, else remote address).
 *
 * State is per process (replicas each keep their own buckets); all of it is bounded (LRU).
 */
import { LRUCache } from 'lru-cache';
import type { PushgateConfig } from '../config/types.js';

/** What happened to one would-be scan. `queued`/`scanned` started one; the others did not. */
export type TriggerResult = 'queued' | 'scanned' | 'coalesced' | 'over-review-cap' | 'rate-limited';

/** Limits, as configured in `admission.scanTriggers`. */
export type ScanTriggerLimits = NonNullable<PushgateConfig['admission']['scanTriggers']>;

/** Options of {@link ScanTriggers}. */
export interface ScanTriggerOptions {
  limits: ScanTriggerLimits;
  /** Clock, ms (default Date.now). */
  now?: () => number;
  /** How long a queued scan answers repeats of its key without asking the store, ms (default 60 000; 0 = always ask). */
  coalesceMs?: number;
  /** Callers with a bucket kept at once (default 10 000; the least recently seen is forgotten, i.e. refilled). */
  maxCallers?: number;
  /** Keys remembered as recently queued (default 10 000). */
  maxKeys?: number;
  /** Called once per decision (metrics). */
  onResult?: (r: TriggerResult) => void;
}

/** The scans one review has started (see {@link ScanTriggers.review}). */
export interface ReviewBudget {
  readonly caller: string;
  readonly started: Set<string>;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** See the module comment. One instance per admission listener (per gate). */
export class ScanTriggers {
  readonly limits: ScanTriggerLimits;
  private readonly now: () => number;
  private readonly coalesceMs: number;
  private readonly recent: LRUCache<string, number>;
  private readonly running = new Map<string, Promise<unknown>>();
  private readonly buckets: LRUCache<string, Bucket>;
  private readonly onResult?: (r: TriggerResult) => void;

  constructor(opts: ScanTriggerOptions) {
    this.limits = opts.limits;
    this.now = opts.now ?? Date.now;
    this.coalesceMs = opts.coalesceMs ?? 60_000;
    this.recent = new LRUCache({ max: opts.maxKeys ?? 10_000 });
    this.buckets = new LRUCache({ max: opts.maxCallers ?? 10_000 });
    this.onResult = opts.onResult;
  }

  /** A fresh budget for one review by `caller` (an identity string; see the listener). */
  review(caller: string): ReviewBudget {
    return { caller, started: new Set() };
  }

  /**
   * Queues a scan of `key` through `enqueue` unless coalesced or over a limit.
   * @returns what happened; `enqueue`'s rejection propagates (and the key is not remembered).
   */
  async queue(budget: ReviewBudget, key: string, enqueue: () => Promise<void>): Promise<TriggerResult> {
    const pending = this.running.get(key);
    if (pending) {
      await pending.catch(() => undefined);
      return this.count('coalesced');
    }
    const until = this.recent.get(key);
    if (until !== undefined && until > this.now()) return this.count('coalesced');
    const refused = this.admit(budget, key);
    if (refused) return this.count(refused);
    const p = enqueue();
    this.running.set(key, p);
    try {
      await p;
    } finally {
      this.running.delete(key);
    }
    if (this.coalesceMs > 0) this.recent.set(key, this.now() + this.coalesceMs);
    return this.count('queued');
  }

  /**
   * Runs a scan of `key` through `assess`, or joins the one a review already runs for it.
   * @returns the result and the scan's promise (undefined when over a limit).
   */
  scan<T>(budget: ReviewBudget, key: string, assess: () => Promise<T>): { result: TriggerResult; promise?: Promise<T> } {
    const pending = this.running.get(key) as Promise<T> | undefined;
    if (pending) return { result: this.count('coalesced'), promise: pending };
    const refused = this.admit(budget, key);
    if (refused) return { result: this.count(refused) };
    const p = assess();
    this.running.set(key, p);
    const clear = () => {
      if (this.running.get(key) === p) this.running.delete(key);
    };
    p.then(clear, clear);
    return { result: this.count('scanned'), promise: p };
  }

  /** The per-review cap, then the caller's bucket; undefined when the scan may start (a token is spent). */
  private admit(budget: ReviewBudget, key: string): 'over-review-cap' | 'rate-limited' | undefined {
    if (!budget.started.has(key) && budget.started.size >= this.limits.maxPerReview) return 'over-review-cap';
    if (!this.take(budget.caller)) return 'rate-limited';
    budget.started.add(key);
    return undefined;
  }

  /**
   * Spends one token of `caller`'s bucket on another side effect of a review (an audit record
   * written for an unauthenticated caller); false when the bucket is empty.
   */
  spend(caller: string): boolean {
    return this.take(caller);
  }

  /** Takes one token from `caller`'s bucket (refilled lazily); false when it is empty. */
  private take(caller: string): boolean {
    const now = this.now();
    const { burst, ratePerSecond } = this.limits;
    const b = this.buckets.get(caller) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + (Math.max(0, now - b.at) / 1000) * ratePerSecond);
    b.at = now;
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    this.buckets.set(caller, b);
    return ok;
  }

  private count(r: TriggerResult): TriggerResult {
    try {
      this.onResult?.(r);
    } catch {
      // Metrics never fail a review.
    }
    return r;
  }
}
