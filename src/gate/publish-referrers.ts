/**
 * The gate's room for publishing verdicts as OCI referrers (config `publish.referrers`, src/publish): after
 * each recorded verdict the image's SBOM, report and signed verdict attestation are published (in the
 * background: publishing never changes a verdict, delays or undoes an enforcement), and a once-per-cluster
 * pass retries what failed.
 *
 * Durability: the verdict table is the outbox. The pass walks verdicts newest first (the store's write
 * order) down to the high-water mark of its last pass that ended without failures; a failure leaves the
 * mark where it was, so the next pass tries again. The mark is kept in memory by the replica running the
 * job: after a restart, or when another replica takes the job over, the first pass walks back over the
 * newest {@link MAX_PER_PASS} verdict writes (a catch-up, and at the first start a backfill of those).
 * Limit: a failure older than that window, across a restart, is retried only when its verdict is written
 * again (a re-push, a re-evaluation). Whether to publish is decided from the registry
 * (src/publish/publisher.ts), so a verdict visited twice costs a few reads, never a second set of referrers.
 *
 * Own traffic: every manifest is written through the gate's registry client, which remembers it in the
 * store's own-writes memo before the PUT (src/gate/own-traffic.ts), so the registry's notifications of
 * our referrers and of the fallback tag are never judged, enforced or announced to signature caches; the
 * DELETE of a superseded referrer is remembered the same way, so its notification does not drop the
 * repository's cached signature checks.
 */
import type { KeyObject } from 'node:crypto';
import fs from 'node:fs';
import type { Verdict } from '../core/index.js';
import { VERSION } from '../core/version.js';
import type { PushgateConfig } from '../config/types.js';
import { parseSigningKey, ReferrerPublisher, type PublishOutcome } from '../publish/index.js';
import type { RegistryClient } from '../registry/client.js';
import type { Store } from '../store/index.js';
import { ARTIFACT_RULE } from './artifacts.js';
import type { Logger } from './gate.js';
import { toCycloneDx } from './report-formats.js';

/** Verdicts visited at most by one pass; a pass without a mark (first on this replica) walks back this far. */
export const MAX_PER_PASS = 1000;

/** Result label of `pushgate_referrers_published_total`. */
export type PublishResult = 'published' | 'unchanged' | 'gone' | 'failed' | 'skipped';

/** What {@link GatePublisher} needs from the gate. */
export interface GatePublisherOptions {
  config: PushgateConfig;
  store: Store;
  logger: Logger;
  client(registry: string): RegistryClient;
  /** `host[:port]` of a configured registry. */
  host(registry: string): string;
  isQuarantineRepository(registry: string, repository: string): boolean;
  /** Remembers a manifest DELETE before it is made (own-writes memo): its notification is own traffic. */
  rememberDelete(registry: string, repository: string, digest: Verdict['digest']): Promise<void>;
  counter?(result: PublishResult): void;
}

/** See the module comment. */
export class GatePublisher {
  private readonly publisher: ReferrerPublisher;
  /** Write sequence of the newest verdict when the last clean pass started (in memory: see the module comment). */
  private highSeq: number | undefined;
  /** Publications in flight per image: one at a time, the next chained after. */
  private readonly chains = new Map<string, Promise<unknown>>();

  /** @throws Error when the signing key cannot be read (the configuration check names the file). */
  constructor(private readonly o: GatePublisherOptions) {
    const file = o.config.publish?.referrers.signingKey;
    if (!file) throw new Error('publish.referrers.enabled needs publish.referrers.signingKey');
    const key: KeyObject = parseSigningKey(fs.readFileSync(file, 'utf8'), file);
    this.publisher = new ReferrerPublisher({ key, toolVersion: VERSION });
  }

  /** True when the verdict describes an image pushgate publishes for (not an artefact, not a quarantine copy). */
  eligible(v: Verdict): boolean {
    return !v.reasons.some((r) => r.rule === ARTIFACT_RULE) && !this.o.isQuarantineRepository(v.registry, v.repository);
  }

  /** Publishes one verdict now (awaited); errors are logged, counted and returned as `failed`. */
  async publish(v: Verdict): Promise<PublishResult> {
    if (!this.eligible(v)) return 'skipped';
    const k = `${v.registry}\u0000${v.repository}\u0000${v.digest}`;
    const prev = this.chains.get(k) ?? Promise.resolve();
    const run = prev.then(() => this.publishOnce(v));
    this.chains.set(k, run);
    try {
      return await run;
    } finally {
      if (this.chains.get(k) === run) this.chains.delete(k);
    }
  }

  /** {@link publish} without waiting: the gate's hook after a verdict is recorded. */
  afterVerdict(v: Verdict): void {
    void this.publish(v);
  }

  private async publishOnce(v: Verdict): Promise<PublishResult> {
    let out: PublishOutcome;
    try {
      out = await this.publisher.publish(this.o.client(v.registry), {
        host: this.o.host(v.registry),
        repository: v.repository,
        digest: v.digest,
        verdict: v,
        documents: async () => {
          const report = await this.o.store.getReport(v.digest);
          if (!report) return undefined;
          return { sbom: Buffer.from(toCycloneDx(report, VERSION)), report: Buffer.from(JSON.stringify(report)) };
        },
        beforeDelete: (d) => this.o.rememberDelete(v.registry, v.repository, d),
      });
    } catch (e) {
      this.o.counter?.('failed');
      this.o.logger.warn({ registry: v.registry, repository: v.repository, digest: v.digest, err: (e as Error).message }, 'publishing referrers failed; retried by the next publication pass');
      return 'failed';
    }
    this.o.counter?.(out.result);
    if (out.result === 'published') this.o.logger.info({ registry: v.registry, repository: v.repository, digest: v.digest, decision: v.decision, referrers: out.referrers, removed: out.removed }, 'published referrers');
    return out.result;
  }

  /**
   * One publication pass (see the module comment). Returns what it did; `complete` is false when a
   * publication failed or the pass stopped at {@link MAX_PER_PASS}, and the high-water mark then stays.
   */
  async pass(signal?: AbortSignal): Promise<{ visited: number; failed: number; complete: boolean }> {
    const top = await this.o.store.verdictSeqTop();
    let after: Parameters<Store['pageVerdicts']>[0]['after'];
    let visited = 0;
    let failed = 0;
    let complete = true;
    for (;;) {
      if (signal?.aborted) return { visited, failed, complete: false };
      const page = await this.o.store.pageVerdicts({ limit: 100, after });
      for (const v of page.items) {
        if ((await this.publish(v)) === 'failed') failed++;
        visited++;
      }
      after = page.next;
      if (!after || (this.highSeq !== undefined && after[0] <= this.highSeq)) break;
      if (visited >= MAX_PER_PASS) {
        complete = this.highSeq === undefined; // a catch-up walk ends here by design
        break;
      }
    }
    if (failed) complete = false;
    if (complete) this.highSeq = top;
    return { visited, failed, complete };
  }

  /** The high-water mark of the last clean pass (a verdict write sequence), undefined before one. */
  get mark(): number | undefined {
    return this.highSeq;
  }
}
