/**
 * Continuous monitoring: every stored image is judged again when the vulnerability database changes,
 * from its stored inventory, without a registry request.
 *
 * - Index. Every judged image's packages are kept grouped by the advisory pair they are looked up under
 *   and its findings by advisory id and alias (Store.monitor); a report newer than its index is indexed
 *   again before each pass and query ({@link Monitor.catchUp}).
 * - Database pass (`db:<content digest>`). A database records the pairs changed since the one it replaced
 *   (src/vulndb/digest.ts). Images indexed under that previous database are matched again on the changed
 *   pairs only (their packages under those pairs, from the index); only those whose findings differ are
 *   judged again in full from their stored scan. Images indexed under any other database (or none) are
 *   judged again in full. Then every untouched image is marked as judged by the new database.
 * - Full pass (`all:<n>`, `pushgate monitor --all`): every indexed image judged again in full.
 * - Once across replicas, resumable. A pass is a store row claimed with a lease (the store's claim is
 *   atomic: SQLite's single writer, PostgreSQL's conditional upsert); images are handled in digest
 *   order, in chunks read with one query per kind; a batch of images' verdicts, change records, audit
 *   records, reports, indexes (and the marks of unchanged images) and the run's cursor are written in
 *   one transaction, so a pass that dies resumes after the last batch it wrote and every image's
 *   outcome is written once. An image whose judgement acted on the registry is written at once. An image
 *   a push, admission, rescan or other pass judged again after the chunk was read is not written: the
 *   newer judgement stands ({@link MonitorStats.superseded}, MonitorStore.commitBatch).
 * - Change records: per re-judged verdict, the findings new, resolved and re-rated, the decision before
 *   and after, and what the mapping's `onNewFindings` did (src/monitor/on-new-findings.ts); the audit
 *   log gets one `monitor:changed` record per change. New findings are notified (`notify[]` targets
 *   with the `new-findings` event) through an outbox: each notice is written in the transaction of its
 *   re-judgement and removed once delivered (or given up), so a crash in between delays it, never loses it.
 * - While a pass runs, the stored verdicts serve: nothing is marked pending.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import { compareRisk, isDigest, PushgateError, type Digest, type Enforcement, type Finding, type Package, type RawEvaluation, type ScanReport, type Verdict } from '../core/index.js';
import { elapsedMs } from '../core/timers.js';
import { SCAN_KEY, type Logger } from '../gate/gate.js';
import { judgeScan, type PlatformBase } from '../gate/judge.js';
import { storedReferrerVex } from '../gate/referrer-vex.js';
import type { NewFindingsBody } from '../gate/notify.js';
import { blocks, summarize, viewOf, type VerdictView } from '../gate/verdict-view.js';
import { applyMode, candidateRuleSets, patchFindingRules, selectMapping, type CompiledPolicy } from '../policy/index.js';
import type { ImageScan, PlatformScan } from '../scan/engine.js';
import { findingParser, findingSetSignature, type AffectedImage, type ChangeRecord, type FindingParser, type ImageWorkloads, type ImageIndex, type IndexedFinding, type IndexedPackages, type MonitorRun, type PackageGroup, entriesOf, type MonitorRunKind, type ReadMarks, type Rejudgement, type ReportPatch, type Store } from '../store/index.js';
import { planFor, type MatchMemo, type VulnDb } from '../vulndb/index.js';
import { diffFindings, findingKey, imageIndexOf, indexedFindings, rejudgedIndexOf, isEmptyDiff, pairsByInstance, sameFindingsSignature, type FindingDiff } from './image-index.js';
import { capNewFindings, holdLatestDue, isHeld, ON_NEW_FINDINGS_RULE, uncappedEvaluations } from './on-new-findings.js';
import { matchesPurlQuery, parsePurlQuery } from './purl-query.js';

/** Counts of one pass. */
export interface MonitorStats {
  run: string;
  kind: MonitorRunKind;
  /** Images indexed before the pass (new reports). */
  indexed: number;
  /** Images whose changed pairs were matched again. */
  matched: number;
  /** Images judged again in full. */
  rejudged: number;
  /**
   * Images of a database pass judged again by patching their stored verdicts with their new findings on
   * the changed pairs (no stored scan read: {@link Monitor} `patch`).
   */
  patched: number;
  /** Verdicts whose findings or decision changed (one change record each). */
  changed: number;
  newFindings: number;
  resolvedFindings: number;
  /** Images without a stored scan (incomplete scans are not kept): not judged again. */
  noScan: number;
  /** Enforcement actions taken. */
  enforced: number;
  /**
   * Images judged but left unwritten because a push, admission, rescan or another pass judged them again
   * after this pass read them (their newer verdicts and reports stand; MonitorStore.commitBatch).
   */
  superseded: number;
  /** Wall time, ms. */
  ms: number;
  /** True when another replica holds the run or it was done already (nothing was done here). */
  skipped?: boolean;
  /**
   * True when this pass took over a run another process left unfinished (it went on after that run's
   * cursor): what the earlier batches left unwritten is not counted in `superseded` here.
   */
  resumed?: boolean;
}

/** Counters the server maps to metrics. */
export interface MonitorCounters {
  run?(kind: MonitorRunKind, result: 'done' | 'skipped' | 'failed', seconds: number): void;
  newFindings?(severity: string, n: number): void;
  /** Images a pass left unwritten because another writer judged them again meanwhile ({@link MonitorStats.superseded}). */
  superseded?(kind: MonitorRunKind, n: number): void;
}

/** Options of a {@link Monitor}. */
export interface MonitorOptions {
  store: Store;
  logger: Logger;
  /** The database in force now (the gate's). */
  vulndb: () => VulnDb | undefined;
  /** The policy in force now (the gate's). */
  policy: () => CompiledPolicy;
  /** The base of each platform (the gate's catalog), so a re-judgement attributes as the first judgement did. */
  bases?: (scan: ImageScan) => Promise<Map<PlatformScan, PlatformBase>>;
  /** Who claims runs (default: host name, pid and a random tail). */
  owner?: string;
  /** Lease of a claimed run, ms (default 60 s); renewed with every image. */
  leaseMs?: number;
  /**
   * How long a claim of outbox notices holds them, ms (default 120 s, config `queue.outboxLease`): a notice
   * claimed by a process that died is delivered by another one after it.
   */
  outboxLeaseMs?: number;
  /**
   * Outbound `new-findings` notices. They go through the store's outbox: written with the re-judgement,
   * delivered after it, removed once `newFindings` resolves (delivered or given up).
   */
  notifier?: { newFindings(n: NewFindingsBody): void | Promise<void>; deliverNotice?(body: unknown): Promise<void> };
  /**
   * Acts on the registry for a verdict that now blocks some of its tags in enforce mode (views: those
   * tags); without it, nothing is acted on.
   */
  act?: (before: Verdict, after: Verdict, views: VerdictView[]) => Promise<Enforcement | undefined>;
  counters?: MonitorCounters;
  /** Clock, ms since the epoch (tests move it to pass a grace period). */
  now?: () => number;
  /**
   * Called for each image once its batch's transaction is written, in digest order (tests stop a pass
   * here to stand for a crash).
   */
  afterImage?: (digest: Digest) => void | Promise<void>;
  /** Called for each verdict judged again (tests count them). */
  onJudged?: (v: Verdict) => void;
  /**
   * Called when a database pass has its candidates (the images its change touches, `patched` of them
   * to be judged by patching), before any is judged: benchmarks split the pass's time at it.
   */
  onCandidates?: (c: { candidates: number; patched: number }) => void;
  /** Images per chunk of a pass (read together, written in one transaction); default {@link PASS_CHUNK}. */
  chunk?: number;
  /** Images an affected-images query indexes at most before answering (default {@link AFFECTED_CATCH_UP}). */
  affectedCatchUp?: number;
}

/**
 * One page of the stored images with a finding of an advisory, with where they are
 * ({@link Monitor.affected}).
 */
export interface AffectedAnswer {
  id: string;
  /** Images after the last one here exist: ask again with `after` = `next`. */
  more: boolean;
  /** The digest to pass as `after` for the next page (present when `more`). */
  next?: Digest;
  /** Stored reports were left unindexed by this call's bounded catch-up: images only in them are missing. */
  indexBehind: boolean;
  images: Array<{
    digest: Digest;
    findings: Array<Pick<Finding, 'id' | 'aliases' | 'package' | 'installedVersion' | 'fixedVersions' | 'severity' | 'path'> & { platform?: string; firstSeen: string }>;
    verdicts: AffectedVerdict[];
    /**
     * Workloads the validating admission webhook admitted with this digest (src/admission/workload-usage.ts),
     * the most recently seen first, at most {@link WORKLOADS_PER_IMAGE}; `lastSeen` ISO 8601 UTC.
     */
    workloads: ImageWorkloads['workloads'];
    /** How many workloads are recorded for the digest (may exceed `workloads.length`). */
    workloadCount: number;
  }>;
}

/**
 * Where an affected image is, per verdict: repository, tags and decision, and `enforced` when pushgate's
 * enforcement of that verdict was done (`quarantine`: moved to the quarantine repository, `delete`:
 * removed, `label`: labelled in Harbor), so a listed tag is not taken for a pullable one.
 */
export interface AffectedVerdict {
  registry: string;
  repository: string;
  tags: string[];
  decision: string;
  enforced?: 'quarantine' | 'delete' | 'label';
}

/** The {@link AffectedVerdict} of a stored verdict, its decision as the policy in force reads it. */
function affectedVerdict(policy: CompiledPolicy, v: Verdict): AffectedVerdict {
  const e = v.enforcement;
  const enforced = e?.status === 'done' && (e.action === 'quarantine' || e.action === 'delete' || e.action === 'label') ? e.action : undefined;
  return { registry: v.registry, repository: v.repository, tags: v.tags, decision: summarize(policy, v).decision, ...(enforced ? { enforced } : {}) };
}

/** One page of the stored images holding a package (`GET /api/v1/packages/{purl}/images`). */
export interface PackageImagesAnswer {
  purl: string;
  /** More images may hold it: ask again with `after` = `next`. */
  more: boolean;
  /** The digest to pass as `after` for the next page (present when `more`). */
  next?: Digest;
  images: Array<{
    digest: Digest;
    packages: Array<Pick<Package, 'ecosystem' | 'name' | 'version' | 'purl' | 'path' | 'sourceName'> & { platform?: string }>;
    verdicts: AffectedVerdict[];
    /** Workloads admission saw running the image, as in {@link AffectedAnswer}. */
    workloads: ImageWorkloads['workloads'];
    workloadCount: number;
  }>;
  /** True when reports newer than the index were left for the monitor's tick (the answer may miss them). */
  indexBehind?: boolean;
}

/** One image of a rescan ({@link Monitor.rescan}), as it is done. */
export interface RescanProgress {
  /** Images handled so far (this one included) and in all. */
  done: number;
  total: number;
  digest: Digest;
  /** The repository it was scanned from (absent when no stored verdict names one). */
  registry?: string;
  repository?: string;
  result: 'rescanned' | 'failed' | 'skipped';
  /** Why it failed or was skipped. */
  error?: string;
}

/** Counts of a rescan. */
export interface RescanStats {
  /** Indexed images whose stored scan was not made by the analyzer set in force. */
  stale: number;
  rescanned: number;
  failed: number;
  /** No stored verdict names a repository to read it from. */
  skipped: number;
  /** Reports indexed after the rescans. */
  indexed: number;
  ms: number;
}

/** Thrown by a pass that lost its claim (another replica took the run over after this one stalled). */
class LostClaim extends Error {}

/** See the module comment. */
export class Monitor {
  private readonly owner: string;
  private readonly leaseMs: number;
  private readonly now: () => number;
  /** Digest of the database whose run this process saw done (saves a store read per tick). */
  private doneFor: string | undefined;
  private running: Promise<unknown> = Promise.resolve();
  /**
   * Every report written below this mark (the store's numbering of report writes, see
   * MonitorStore.staleIndexes) was indexed; undefined until read from the store, where it is kept so a
   * restarted process or a CLI run starts from it rather than reading every report again.
   */
  private mark: number | undefined;
  /** The mark last saved to the store, and when (ms, this process's clock). */
  private savedMark = 0;
  private savedAt = 0;
  /** The catch-up of affected-images queries in flight (see {@link sharedCatchUp}). */
  private catchingUp: Promise<{ indexed: number; behind: boolean }> | undefined;

  constructor(private readonly o: MonitorOptions) {
    this.owner = o.owner ?? `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`;
    this.leaseMs = o.leaseMs ?? 60_000;
    this.now = o.now ?? Date.now;
  }

  /** The delivery of outbox notices in flight (one at a time per process). */
  private draining: Promise<void> | undefined;
  private drainAgain = false;

  /**
   * Starts delivering the outbox in the background, or has the delivery in flight look again (the
   * gate's notices of enforced verdicts are written there too: src/gate/notify.ts).
   */
  kickOutbox(): void {
    if (!this.o.notifier) return;
    if (this.draining) {
      this.drainAgain = true;
      return;
    }
    this.draining = this.drainOutbox()
      .catch((e: Error) => this.o.logger.warn({ error: e.message }, 'monitor notices: outbox not read; the next tick tries again'))
      .finally(() => {
        this.draining = undefined;
        if (this.drainAgain) {
          this.drainAgain = false;
          this.kickOutbox();
        }
      });
  }

  /**
   * Delivers the outbox: claims a batch of notices (a lease, so one replica sends each), hands each to
   * the notifier and removes those it finished with, until none is left. A crash between delivery and
   * removal sends a notice again (at least once, never lost).
   */
  private async drainOutbox(): Promise<void> {
    const notifier = this.o.notifier;
    if (!notifier) return;
    for (;;) {
      const claimed = await this.o.store.monitor.claimOutbox(this.owner, OUTBOX_BATCH, this.o.outboxLeaseMs ?? OUTBOX_LEASE_MS, Date.now());
      if (!claimed.length) return;
      await Promise.all(claimed.map((n) => (notifier.deliverNotice ? notifier.deliverNotice(n.body) : notifier.newFindings(n.body as NewFindingsBody))));
      await this.o.store.monitor.outboxDone(this.owner, claimed.map((n) => n.seq));
    }
  }

  /** Resolves when the outbox delivery started so far is done (tests, shutdown). */
  async outboxIdle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** Runs `f` after every earlier pass of this process. */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.running.then(f, f);
    this.running = p.catch(() => undefined);
    return p;
  }

  /**
   * Indexes every image whose stored report is newer than its index. Only reports written since the
   * mark are looked at (the store numbers report writes; the mark is kept in the store), so a call with
   * nothing to do is one indexed read, also in a process that just started. @returns how many.
   */
  async catchUp(): Promise<number> {
    return (await this.catchUpAtMost(Infinity)).indexed;
  }

  /**
   * {@link catchUp} stopping after `max` images (in batches of {@link CATCH_UP_BATCH}, in write order).
   * `behind`: it stopped with a full batch, so more reports may wait (the next call or tick goes on
   * from there). The mark moves only past batches whose indexes were written; it is saved when this
   * call indexed something, or at most every {@link MARK_SAVE_MS} (a lost save costs a longer read, not
   * a missed report).
   */
  private async catchUpAtMost(max: number): Promise<{ indexed: number; behind: boolean }> {
    const store = this.o.store;
    this.mark ??= await store.monitor.indexMark();
    let indexed = 0;
    let behind = true;
    while (indexed < max) {
      const batch = Math.min(CATCH_UP_BATCH, max - indexed);
      const { stale, next } = await store.monitor.staleIndexes(this.mark, batch);
      // written in groups, one transaction each
      for (let i = 0; i < stale.length; i += INDEX_WRITE_BATCH) {
        const group = stale.slice(i, i + INDEX_WRITE_BATCH);
        const scans = await store.monitor.layersOf(group.map((s) => SCAN_KEY(s.digest)));
        const out: ImageIndex[] = [];
        for (const s of group) {
          const report = await store.getReport(s.digest);
          if (report) out.push(imageIndexOf(s.digest, scans.get(SCAN_KEY(s.digest)) as ImageScan | undefined, report, s.reportAt));
        }
        await store.monitor.putIndexes(out);
        indexed += out.length;
      }
      this.mark = next;
      if (stale.length < batch) {
        behind = false;
        break;
      }
    }
    await this.saveMark(indexed > 0);
    return { indexed, behind };
  }

  /** Saves the catch-up mark when it moved (see {@link catchUpAtMost}); a failure is logged, not thrown. */
  private async saveMark(indexed: boolean): Promise<void> {
    const mark = this.mark;
    if (mark === undefined || mark === this.savedMark) return;
    const now = Date.now();
    if (!indexed && now - this.savedAt < MARK_SAVE_MS) return;
    try {
      await this.o.store.monitor.saveIndexMark(mark);
      this.savedMark = mark;
      this.savedAt = now;
    } catch (e) {
      this.o.logger.warn({ error: (e as Error).message }, 'monitor: catch-up mark not saved; a restart reads more reports');
    }
  }

  /**
   * The bounded catch-up before an affected-images query: at most {@link AFFECTED_CATCH_UP} images
   * (option `affectedCatchUp`), and
   * concurrent queries share one catch-up rather than each starting one, so a burst of queries does
   * the indexing work once. When nothing is stale it is one indexed query (reports since the newest
   * one indexed).
   */
  private sharedCatchUp(): Promise<{ indexed: number; behind: boolean }> {
    this.catchingUp ??= this.catchUpAtMost(this.o.affectedCatchUp ?? AFFECTED_CATCH_UP).finally(() => {
      this.catchingUp = undefined;
    });
    return this.catchingUp;
  }

  /**
   * The pass for the database in force, when it was not done yet (by any replica). Called by the server
   * on every tick and after a database swap; cheap when there is nothing to do.
   */
  tick(): Promise<MonitorStats | undefined> {
    // notices a crashed process wrote but did not deliver
    this.kickOutbox();
    return this.serial(async () => {
      const db = this.o.vulndb();
      const digest = db?.contentDigest;
      if (!db || !digest) return this.dueHolds();
      const indexed = await this.catchUp();
      if (this.doneFor === digest && !indexed) return this.dueHolds();
      // Work is what is indexed under another database. A database can come back (an update reverted):
      // its earlier run is done, so a later one gets the next number; replicas count alike.
      const states = await this.o.store.monitor.indexStates();
      if (![...states.values()].some((s) => s !== digest)) {
        this.doneFor = digest;
        return this.dueHolds();
      }
      let id = `db:${digest}`;
      for (let n = 2; (await this.o.store.monitor.getRun(id))?.state === 'done'; n++) id = `db:${digest}:${n}`;
      const stats = await this.pass('db', id, db, undefined, states);
      stats.indexed += indexed;
      // Superseded images, images first indexed during the pass, and what a resumed pass's dead owner
      // skipped may be indexed under another database now: the next tick reads the index again (one read
      // of the index states) and is done only when every image is at this database. What was done for
      // before is forgotten: a database can come back (an update reverted, an advisory withdrawn again).
      this.doneFor = undefined;
      await this.dueHolds();
      return stats;
    });
  }

  /**
   * A full pass: every indexed image judged again with the database and policy in force. An unfinished
   * full pass (its owner died) is resumed rather than started again.
   * @throws PushgateError VULNDB when there is no database.
   */
  all(): Promise<MonitorStats> {
    return this.serial(async () => {
      const db = this.o.vulndb();
      // whether a lease ended is decided on the database's clock, as the claim decides it (not this process's)
      const open = (await this.o.store.monitor.listRuns(1, { kind: 'all', state: 'running', resumableBy: { owner: this.owner, now: this.now() } }))[0];
      return this.pass('all', open?.id ?? `all:${this.now()}`, db);
    });
  }

  /**
   * Re-inventories every indexed image that has no stored scan made by the analyzer set in force (the
   * image-level scan cache is keyed by the analyzer-set version, so after an analyzer upgrade every
   * earlier scan is stale; an incomplete scan was never kept): `assess` (the gate's scan from the
   * registry, judgement and store) for the first repository (registry, repository order) whose stored
   * verdict names the image, one image at a time in digest order. A failure (registry unreachable,
   * image deleted) is counted and reported, and the rest go on. Then the new reports are indexed, so
   * queries and the next pass see the new inventories. `progress` is called once per image.
   */
  async rescan(assess: (req: { registry: string; repository: string; digest: Digest }) => Promise<unknown>, progress?: (p: RescanProgress) => void): Promise<RescanStats> {
    const t0 = performance.now();
    const store = this.o.store;
    await this.catchUp();
    const digests = [...(await store.monitor.indexStates()).keys()].sort();
    const stale: Digest[] = [];
    for (let i = 0; i < digests.length; i += CATCH_UP_BATCH) {
      const chunk = digests.slice(i, i + CATCH_UP_BATCH);
      const present = await store.monitor.layerKeys(chunk.map((d) => SCAN_KEY(d)));
      for (const d of chunk) if (!present.has(SCAN_KEY(d))) stale.push(d);
    }
    const stats: RescanStats = { stale: stale.length, rescanned: 0, failed: 0, skipped: 0, indexed: 0, ms: 0 };
    let done = 0;
    for (let i = 0; i < stale.length; i += CATCH_UP_BATCH) {
      const chunk = stale.slice(i, i + CATCH_UP_BATCH);
      const holders = new Map<Digest, Verdict>();
      for (const v of await store.monitor.verdictsOf(chunk)) if (!holders.has(v.digest)) holders.set(v.digest, v);
      for (const digest of chunk) {
        done++;
        const v = holders.get(digest);
        if (!v) {
          stats.skipped++;
          progress?.({ done, total: stale.length, digest, result: 'skipped', error: 'no stored verdict names a repository holding it' });
          continue;
        }
        const where = { registry: v.registry, repository: v.repository, digest };
        try {
          await assess(where);
          stats.rescanned++;
          progress?.({ done, total: stale.length, ...where, result: 'rescanned' });
        } catch (e) {
          stats.failed++;
          progress?.({ done, total: stale.length, ...where, result: 'failed', error: (e as Error).message });
        }
      }
    }
    stats.indexed = await this.catchUp();
    stats.ms = elapsedMs(t0);
    this.o.logger.info({ ...stats }, 'monitor rescan done');
    return stats;
  }

  /**
   * Verdicts on hold for a grace period whose time has come: judged again (the block is enforced now).
   * Due too: a hold due later than the policy's longest grace allows ({@link holdLatestDue}: its clock
   * was set back, or the grace shortened). The re-judgement compares with the stored index, which holds
   * the findings that set the hold, so none is new and the block is enforced whatever the clock says.
   */
  private async dueHolds(): Promise<MonitorStats | undefined> {
    const now = this.now();
    const due = await this.o.store.monitor.dueHolds(now, holdLatestDue(this.o.policy(), now));
    if (!due.length) return undefined;
    const db = this.o.vulndb();
    // A clock set back reads again times an earlier grace pass was named by: that run is done, and a pass
    // of its name would be skipped (the hold never enforced).
    let id = `grace:${now}`;
    for (let n = 2; (await this.o.store.monitor.getRun(id))?.state === 'done'; n++) id = `grace:${now}:${n}`;
    return this.pass('all', id, db, [...new Set(due.map((d) => d.digest))].sort());
  }

  /**
   * `states`: the index states the caller read after its catch-up (the pass reads them again only when
   * its own catch-up indexed something).
   */
  private async pass(kind: MonitorRunKind, id: string, db: VulnDb | undefined, only?: Digest[], states?: Map<Digest, string | null>): Promise<MonitorStats> {
    const t0 = performance.now();
    const store = this.o.store;
    const stats: MonitorStats = { run: id, kind, indexed: 0, matched: 0, rejudged: 0, patched: 0, changed: 0, newFindings: 0, resolvedFindings: 0, noScan: 0, enforced: 0, superseded: 0, ms: 0 };
    try {
      stats.indexed = await this.catchUp();
      const run = await store.monitor.claimRun(id, kind, db?.contentDigest ?? null, this.owner, this.leaseMs, this.now());
      if (!run) {
        stats.skipped = true;
        stats.ms = elapsedMs(t0);
        this.o.counters?.run?.(kind, 'skipped', stats.ms / 1000);
        return stats;
      }
      // Images share most findings (a base's packages, a package at one version in one place): their stored
      // rows are parsed once per pass, not once per chunk, so each shared finding is one object whose text
      // and signature line are made once.
      const parse = findingParser();
      let patches = new Map<Digest, ImagePatch>();
      let candidates: Digest[];
      /** The index as the candidates were read from it (database passes). */
      let snapshot: Map<Digest, string | null> | undefined;
      if (only) candidates = only;
      else if (kind === 'db' && db) {
        ({ digests: candidates, patches, states: snapshot } = await this.dbCandidates(db, stats, parse, stats.indexed ? undefined : states));
        this.o.onCandidates?.({ candidates: candidates.length, patched: patches.size });
      }
      else candidates = [...(await store.monitor.indexStates()).keys()].sort();
      // Images are judged in chunks of {@link PASS_CHUNK}: a chunk's stored scans, index findings and
      // verdicts are read with one query each, and its outcomes (changed images written, unchanged ones
      // marked) are written in one transaction with the cursor. An image whose judgement acted on the
      // registry ends its batch (written at once), so an action is never left unrecorded for long.
      const pending = candidates.filter((d) => !run.cursor || d > run.cursor);
      if (run.cursor) stats.resumed = true;
      const batch: PendingBatch = { digests: [], rejudged: [], unchanged: [], unchangedRead: [], after: [], acted: [] };
      const flush = async () => {
        if (!batch.digests.length) return;
        const cursor = batch.digests[batch.digests.length - 1];
        const ok = await store.monitor.commitBatch({ run: { id: run.id, owner: this.owner, cursor, leaseMs: this.leaseMs }, rejudged: batch.rejudged, unchanged: batch.unchanged, unchangedRead: batch.unchangedRead, vulndbDigest: db?.contentDigest ?? null }, this.now());
        if (!ok) throw new LostClaim();
        const { digests, rejudged, after, acted } = batch;
        batch.digests = [];
        batch.rejudged = [];
        batch.unchanged = [];
        batch.unchangedRead = [];
        batch.after = [];
        batch.acted = [];
        // Images judged again by another writer after this pass read them were not written: that judgement
        // is newer. Judged with the database in force, it stays; with an older one, its report is indexed
        // under that database at the next catch-up, and the next tick's pass judges it again.
        const left = new Set(ok.superseded);
        if (left.size) {
          stats.superseded += left.size;
          this.o.counters?.superseded?.(kind, left.size);
          const lost = rejudged.flatMap((r, n) => (acted[n] && r.read?.length && left.has(r.read[0].digest) ? [r.read[0].digest] : []));
          this.o.logger.info({ run: id, digests: ok.superseded }, 'monitor pass: images judged again by another writer since this pass read them; their newer verdicts stand');
          if (lost.length) this.o.logger.warn({ run: id, digests: lost }, 'monitor pass: the registry was acted on for images whose newer verdicts stand (the action is audited; its enforcement is not recorded on those verdicts)');
        }
        // what follows a write (counters, notices) only once it is written
        for (let n = 0; n < after.length; n++) {
          const d = rejudged[n].read?.[0]?.digest;
          if (d !== undefined && left.has(d)) stats.changed -= rejudged[n].changes.length;
          else after[n]();
        }
        this.kickOutbox();
        for (const d of digests) await this.o.afterImage?.(d);
      };
      const size = this.o.chunk ?? PASS_CHUNK;
      // 10,000 stored inventories share most packages: each distinct one is matched once per pass
      const memo = db?.matchMemo();
      // Images patched from their stored verdicts need no stored scan (only those judged in full read one).
      const scansOf = (c: Digest[]) => {
        const keys = c.filter((d) => !patches.has(d)).map((d) => SCAN_KEY(d));
        return keys.length ? store.monitor.layersOf(keys) : Promise.resolve(new Map<string, unknown>());
      };
      // A pass writes no stored scan, so the next chunk's scans are read while this chunk is judged: a
      // store across the network (PostgreSQL) sends them meanwhile. A failed read is thrown where it is
      // awaited (the handler only keeps it from being unhandled when the pass stops before then).
      let nextScans: Promise<Map<string, unknown>> | undefined;
      for (let i = 0; i < pending.length; i += size) {
        const chunk = pending.slice(i, i + size);
        const scans = nextScans ?? scansOf(chunk);
        nextScans = i + size < pending.length ? scansOf(pending.slice(i + size, i + 2 * size)) : undefined;
        nextScans?.catch(() => undefined);
        // A database pass judges images its change touched (nearly all of them change): their findings are
        // read with the chunk. A full pass judges every image, most of them unchanged: only signatures are
        // read, and an image's findings only when its new ones differ.
        const toPatch = chunk.filter((d) => patches.has(d));
        // read with the chunk's other reads (PostgreSQL: another pooled connection)
        const reports = toPatch.length ? store.monitor.reportKeys(toPatch) : undefined;
        reports?.catch(() => undefined);
        const ctx = await this.chunkContext(chunk, kind === 'db' ? 'findings' : 'signatures', parse, chunk.filter((d) => !patches.has(d)), scans);
        ctx.memo = memo;
        if (reports) ctx.reports = await reports;
        for (const digest of chunk) {
          const patch = patches.get(digest);
          let out = patch && db ? await this.patch(digest, patch, ctx, run, db, stats) : 'full';
          if (out === 'full') {
            if (patch) ctx.scans.set(digest, (await store.monitor.layersOf([SCAN_KEY(digest)])).get(SCAN_KEY(digest)) as ImageScan | undefined);
            out = await this.rejudge(digest, ctx, run, db, stats, !!only);
          }
          batch.digests.push(digest);
          const read = ctx.marks.get(digest);
          if (out) {
            batch.rejudged.push({ ...out.write, ...(read ? { read: [read, ...(out.write.read ?? [])] } : {}) });
            batch.after.push(out.after);
            batch.acted.push(out.acted);
            if (out.acted) await flush();
          } else {
            batch.unchanged.push(digest);
            if (read) batch.unchangedRead.push(read);
          }
        }
        await flush();
      }
      if (kind === 'db' && db?.contentDigest) {
        const rec = db.digestRecord();
        // Only images this change cannot touch move to the new database: those the index held under the
        // replaced database when the candidates were read, and that are no candidate. Every candidate this
        // pass wrote is indexed under the new one already; one still under the replaced database was judged
        // again by another writer with it (superseded, or its report indexed again meanwhile), and an image
        // indexed after that read (a first push judged by a replica on the replaced database) was looked at
        // by nobody: both are work for the next tick, not marked as judged by this pass. From the read,
        // not from this process's list of skipped images: a pass resumed after a crash never saw the
        // batches its dead owner wrote.
        if (rec.previous && snapshot) {
          const touched = new Set(candidates);
          const untouched: Digest[] = [];
          for (const [d, at] of snapshot) if (at === rec.previous && !touched.has(d)) untouched.push(d);
          await store.monitor.moveIndexes(rec.previous, db.contentDigest, untouched);
        }
      }
      stats.ms = elapsedMs(t0);
      await store.monitor.finishRun(id, this.owner, { ...stats }, this.now());
      this.o.counters?.run?.(kind, 'done', stats.ms / 1000);
      this.o.logger.info({ ...stats }, 'monitor pass done');
      if (stats.changed) await store.audit({ actor: 'pushgate', action: 'monitor-pass', detail: { ...stats } });
      return stats;
    } catch (e) {
      stats.ms = elapsedMs(t0);
      this.o.counters?.run?.(kind, 'failed', stats.ms / 1000);
      if (e instanceof LostClaim) {
        this.o.logger.warn({ run: id }, 'monitor pass: another replica took the run over');
        return { ...stats, skipped: true };
      }
      throw e;
    }
  }

  /**
   * The images a database change can touch: every image indexed under another database than the
   * replaced one (judged in full), and those indexed under the replaced one whose findings on a changed
   * pair differ when matched again. Each distinct package (ecosystem, name, version, source, OS) is
   * matched once per pass, whatever number of images hold it. `patches`: the images that can be judged
   * by patching their stored verdicts ({@link patchable}), with their new findings on the changed pairs.
   */
  private async dbCandidates(db: VulnDb, stats: MonitorStats, parse: FindingParser, known?: Map<Digest, string | null>): Promise<{ digests: Digest[]; patches: Map<Digest, ImagePatch>; states: Map<Digest, string | null> }> {
    const store = this.o.store;
    // every image's index state: read once per tick (with 10,000 images, a read of every index row)
    const states = known ?? (await store.monitor.indexStates());
    const rec = db.digestRecord();
    const out = new Set<Digest>();
    const patches = new Map<Digest, ImagePatch>();
    for (const [digest, at] of states) if (at !== db.contentDigest && (rec.previous === null || at !== rec.previous)) out.add(digest);
    if (rec.previous && rec.changed.size) {
      const pairs = [...rec.changed.keys()];
      const policy = this.o.policy();
      const opts = policy.severityPrefer ? { prefer: policy.severityPrefer } : {};
      // 10,000 images share few distinct versions of a package: match each once, bind to each instance
      const memo = new Map<string, Finding[]>();
      // Images built alike hold a package at one version in one place (path, layer, purl, platform): its
      // bound findings are made once and shared (read-only, as shared stored findings are), so their
      // canonical text for the comparison below is made once too (image-index.ts canonicalOf).
      const bound = new Map<string, Array<{ key: string; finding: Finding }>>();
      // Package objects read from the index are shared by the rows of images built alike (store
      // sharedPackagesParser), each with its entry's OS and platform: bound once per object.
      const byObject = new WeakMap<Package, { os: IndexedPackages['os']; platform: string | undefined; out: Array<{ key: string; finding: Finding }> }>();
      const matchOne = (p: Package, os: IndexedPackages['os'], platform: string | undefined): Array<{ key: string; finding: Finding }> => {
        const c = byObject.get(p);
        if (c && c.os === os && c.platform === platform) return c.out;
        const out = matchInstance(p, os, platform);
        byObject.set(p, { os, platform, out });
        return out;
      };
      const matchInstance = (p: Package, os: IndexedPackages['os'], platform: string | undefined): Array<{ key: string; finding: Finding }> => {
        const k = JSON.stringify([os ?? null, p.ecosystem, p.name, p.version, p.sourceName, p.sourceVersion, !!p.ownedBy]);
        const at = `${k}\u0000${p.path}\u0000${p.layer ?? ''}\u0000${p.purl ?? ''}\u0000${p.platform ?? ''}\u0000${platform ?? ''}`;
        let out = bound.get(at);
        if (out) return out;
        let hit = memo.get(k);
        if (!hit) {
          // the instance's place (path, layer, purl, platform) is bound per instance below
          const { layer: _layer, purl: _purl, platform: _platform, ...bare } = p;
          hit = db.match([{ ...bare, path: '', purl: '' }], os, opts);
          memo.set(k, hit);
        }
        out = hit.map((f0) => {
          const f1 = boundTo(f0, p);
          const f = platform ? { ...f1, platform } : f1;
          return { key: findingKey(f), finding: f };
        });
        bound.set(at, out);
        return out;
      };
      // Both reads at once (PostgreSQL: two pooled connections, one round trip of waiting), each as the
      // store's distinct rows with the images holding them: 10,000 images hold a few hundred distinct
      // package instances and findings on the changed pairs, so no row is sent or parsed per image.
      const [pkgGroups, findingGroups] = await Promise.all([store.monitor.packageGroupsUnder(pairs), store.monitor.findingGroupsUnder(pairs, parse)]);
      // The images matched again (those under the replaced database), numbered: each digest of the groups
      // is looked up once.
      const slots = new Map<Digest, number>();
      const imageAt: Digest[] = [];
      for (const [d, at] of states) {
        if (at === rec.previous) {
          slots.set(d, imageAt.length);
          imageAt.push(d);
        }
      }
      const pairIndex = new Map<string, number>();
      for (const pkg of [...pkgGroups.map((g) => g.pkg), ...findingGroups.map((g) => g.finding.pkg)]) if (!pairIndex.has(pkg)) pairIndex.set(pkg, pairIndex.size);
      const P = pairIndex.size;
      const F = findingGroups.length;
      // What an image holds under one pair (its package row, its stored finding rows) is a node of a trie:
      // a root per package row (0: none), then one step per finding row in group order. Images built
      // alike hold the same rows, so they share the node, and whether the pair's findings are the same is
      // decided once per node: per distinct (package row, finding rows), not per image, and without a
      // key made per image and pair (10,000 images hold some 90,000 rows under a change of 100 advisories).
      const nodePk: number[] = [-1];
      const nodeUp: number[] = [-1];
      const nodeFs: number[] = [-1];
      for (let n = 0; n < pkgGroups.length; n++) {
        nodePk.push(n);
        nodeUp.push(-1);
        nodeFs.push(-1);
      }
      const step = new Map<number, number>();
      /** Each (image, pair) held: its node, by slot × P + pair. */
      const nodeAt = new Map<number, number>();
      /** Images holding two package rows under one pair (a pair's rows are one per image): compared whole. */
      const whole = new Set<number>();
      /** Their package rows beyond the one in their node. */
      const morePk = new Map<number, number[]>();
      pkgGroups.forEach((g, n) => {
        const p = pairIndex.get(g.pkg)!;
        for (const d of g.digests) {
          const s = slots.get(d);
          if (s === undefined) continue;
          const k = s * P + p;
          if (nodeAt.has(k)) {
            whole.add(s);
            const l = morePk.get(s);
            if (l) l.push(n);
            else morePk.set(s, [n]);
          } else nodeAt.set(k, n + 1);
        }
      });
      findingGroups.forEach((g, n) => {
        const p = pairIndex.get(g.finding.pkg)!;
        for (const d of g.digests) {
          const s = slots.get(d);
          if (s === undefined) continue;
          const k = s * P + p;
          const from = nodeAt.get(k) ?? 0;
          let to = step.get(from * F + n);
          if (to === undefined) {
            to = nodePk.length;
            nodePk.push(nodePk[from]);
            nodeUp.push(from);
            nodeFs.push(n);
            step.set(from * F + n, to);
          }
          nodeAt.set(k, to);
        }
      });
      /** The finding rows of a node, in group order. */
      const fsOf = (node: number): number[] => {
        const out: number[] = [];
        for (let x = node; nodeFs[x] >= 0; x = nodeUp[x]) out.push(nodeFs[x]);
        return out.reverse();
      };
      const freshOf = (g: PackageGroup): Array<{ key: string; finding: Finding }> => {
        const out: Array<{ key: string; finding: Finding }> = [];
        for (const e of g.entries) for (const p of e.packages) out.push(...matchOne(p, e.os, e.platform));
        return out;
      };
      // Whether one pair's findings are the same, per node: its package row matched again against its
      // stored finding rows.
      const sameAt: Array<boolean | undefined> = [];
      const sameNode = (node: number): boolean => {
        let ok = sameAt[node];
        if (ok === undefined) {
          const pk = nodePk[node];
          ok = sameFindingsSignature(pk < 0 ? [] : freshOf(pkgGroups[pk]).map((f) => f.finding), fsOf(node).map((n) => findingGroups[n].finding.finding));
          sameAt[node] = ok;
        }
        return ok;
      };
      // Per image matched again, whether it is compared whole: one of its pairs differs (decided at its
      // first differing node, as the pairs of one image were), or it holds two package rows under a pair.
      const differs = new Map<number, boolean>();
      for (const [k, node] of nodeAt) {
        const s = Math.floor(k / P);
        if (differs.get(s)) continue;
        differs.set(s, whole.has(s) || !sameNode(node));
      }
      stats.matched += differs.size;
      const nodesOf = new Map<number, number[]>();
      for (const [s, d] of differs) if (d) nodesOf.set(s, []);
      if (nodesOf.size) for (const [k, node] of nodeAt) nodesOf.get(Math.floor(k / P))?.push(node);
      const stable = new Map<string, boolean>();
      for (const [s, nodes] of nodesOf) {
        const digest = imageAt[s];
        // Every pair the same would make the image's whole set the same (a union of equal sets). One is
        // not: it is compared whole, as the pairs' findings of one image were compared before being split per pair.
        const h = { pk: [...nodes.map((x) => nodePk[x]).filter((n) => n >= 0), ...(morePk.get(s) ?? [])], fs: nodes.flatMap(fsOf) };
        const groups = h.pk.map((n) => pkgGroups[n]).sort((a, b) => (a.pkg < b.pkg ? -1 : a.pkg > b.pkg ? 1 : 0));
        const entries = groups.flatMap((g) => entriesOf(g, digest));
        const mine: IndexedFinding[] = [];
        for (const g of groups) for (const e of g.entries) for (const p of e.packages) for (const { key, finding } of matchOne(p, e.os, e.platform)) mine.push({ key, pkg: e.pkg, finding });
        if (sameFindingsSignature(mine.map((f) => f.finding), h.fs.map((n) => findingGroups[n].finding.finding))) continue;
        out.add(digest);
        const patch = patchable(entries, mine, policy, (base) => {
          let ok = stable.get(base);
          if (ok === undefined) stable.set(base, (ok = db.hasPairOutside(base, rec.changed)));
          return ok;
        }, rec.changed);
        if (patch) patches.set(digest, patch);
      }
    }
    return { digests: [...out].sort(), patches, states };
  }

  /**
   * The stored scans (of `withScan`), verdicts and index findings (or only their signatures) of a chunk of
   * a pass, one query each.
   */
  private async chunkContext(digests: Digest[], read: 'findings' | 'signatures', parse: FindingParser, withScan: Digest[] = digests, scans?: Promise<Map<string, unknown>>): Promise<ChunkContext> {
    const store = this.o.store;
    // read together (PostgreSQL: pooled connections, one round trip of waiting); the verdicts with the write
    // marks of their reports and verdicts, so the batch is not written over a newer judgement
    const [layers, read2, signatures, { verdicts: stored, marks }] = await Promise.all([
      scans ?? (withScan.length ? store.monitor.layersOf(withScan.map((d) => SCAN_KEY(d))) : new Map<string, unknown>()),
      read === 'findings' ? store.monitor.findingsAndSignatures(digests, parse) : undefined,
      read === 'signatures' ? store.monitor.findingSignatures(digests) : undefined,
      store.monitor.verdictsWithMarks(digests),
    ]);
    const findings = read2?.findings ?? new Map<Digest, IndexedFinding[]>();
    const verdicts = new Map<Digest, Verdict[]>();
    for (const v of stored) {
      const l = verdicts.get(v.digest);
      if (l) l.push(v);
      else verdicts.set(v.digest, [v]);
    }
    return { scans: new Map(withScan.map((d) => [d, layers.get(SCAN_KEY(d)) as ImageScan | undefined])), findings, signatures, ...(read2 ? { storedSignatures: read2.signatures } : {}), verdicts, marks };
  }

  /**
   * The stored verdict of a child manifest in one repository, read with its marks (added to `read`, once
   * per child), so the re-judgement that rewrites it is not written over a newer judgement of the child.
   */
  private async childVerdict(read: Map<Digest, { verdicts: Verdict[]; marks: ReadMarks }>, registry: string, repository: string, digest: Digest): Promise<Verdict | undefined> {
    let got = read.get(digest);
    if (!got) {
      const r = await this.o.store.monitor.verdictsWithMarks([digest]);
      got = { verdicts: r.verdicts, marks: r.marks.get(digest)! };
      read.set(digest, got);
    }
    return got.verdicts.find((v) => v.registry === registry && v.repository === repository);
  }

  /** The stored index findings of one image of a chunk (read now when the chunk read only signatures). */
  private async storedFindings(ctx: ChunkContext, digest: Digest): Promise<IndexedFinding[]> {
    let l = ctx.findings.get(digest);
    if (!l && ctx.signatures) {
      l = await this.o.store.monitor.findingsOf(digest);
      ctx.findings.set(digest, l);
    }
    return l ?? [];
  }

  /**
   * New, resolved and re-rated findings between an image's stored index and `findings`. When the chunk
   * holds the stored findings' signature and `findings` have the same one, the stored rows are these
   * findings exactly, so the diff is empty without reading them.
   */
  private async diffStored(ctx: ChunkContext, digest: Digest, findings: Finding[]): Promise<FindingDiff> {
    const sig = ctx.signatures?.get(digest);
    if (sig !== undefined && !ctx.findings.has(digest)) {
      const keyed = findings.map((f) => ({ key: keyOf(f), finding: f }));
      // a repeated key is stored once (the first): the stored rows alone would not say what a diff says
      if (new Set(keyed.map((k) => k.key)).size === keyed.length && findingSetSignature(keyed) === sig) return { new: [], resolved: [], severityChanged: [] };
    }
    return diffFindings((await this.storedFindings(ctx, digest)).map((f) => f.finding), findings);
  }

  /**
   * Judges every verdict of one image again (its scan, index findings and verdicts from `ctx`).
   * @returns undefined when nothing changed (and not `write`: a grace pass, whose holds must be
   *   cleared); else what to write, what to do once it is written (counters, notices), and whether the
   *   registry was acted on.
   */
  private async rejudge(digest: Digest, ctx: ChunkContext, run: MonitorRun, db: VulnDb | undefined, stats: MonitorStats, write = false): Promise<JudgedImage | undefined> {
    const store = this.o.store;
    const policy = this.o.policy();
    const now = this.now();
    const scan = ctx.scans.get(digest);
    if (!scan) {
      // An incomplete scan is not kept, so its verdicts are not judged again (as on a policy change); its
      // indexed findings follow the database, so the affected-images query stays right.
      stats.noScan++;
      const packages = await store.monitor.packagesOf(digest);
      const old = await this.storedFindings(ctx, digest);
      const seen = firstSeenOf(old, now);
      const findings = db ? packages.flatMap((e) => db.match(e.packages, e.os).map((f) => (e.platform ? { ...f, platform: e.platform } : f))) : old.map((f) => f.finding);
      const index: ImageIndex = { digest, vulndbDigest: db?.contentDigest ?? null, reportAt: Math.max(Date.now(), now), packages: undefined, findings: withFirstSeen(indexedFindings(findings, pairsByInstance(packages)), seen, now) };
      // A verdict held for a grace period is capped again from its stored raw evaluations, with nothing
      // new: a due hold is enforced (and cleared), a running one keeps its due time. Skipping it left the
      // image admitted at warn for good, and a grace pass ran for it at every tick.
      const out: Omit<Rejudgement, 'run'> = { verdicts: [], changes: [], audits: [], holds: [] };
      let acted = false;
      const none: FindingDiff = { new: [], resolved: [], severityChanged: [] };
      for (const before of ctx.verdicts.get(digest) ?? []) {
        // a hold row without a held verdict (the verdict rewritten since) holds nothing: cleared
        if (!isHeld(before)) {
          out.holds!.push({ registry: before.registry, repository: before.repository, digest, dueAt: null });
          continue;
        }
        const judged = summarize(policy, { ...before, evaluatedAt: new Date(now).toISOString(), evaluations: uncappedEvaluations(before) });
        acted ||= (await this.outcome({ before, judged, diff: none, firstSeen: new Map(), now, run, stats, out, notices: [] })).acted;
      }
      return { write: { ...out, index }, after: () => undefined, acted };
    }
    const verdicts = ctx.verdicts.get(digest) ?? [];
    let acted = false;
    const referrerVex = await storedReferrerVex(this.o.store, digest, policy);
    const bases = { ...(this.o.bases ? { bases: await this.o.bases(scan) } : {}), ...(referrerVex ? { referrerVex } : {}), ...(ctx.memo ? { matchMemo: ctx.memo } : {}) };
    stats.rejudged++;
    const out: Omit<Rejudgement, 'run'> = { verdicts: [], changes: [], audits: [], holds: [] };
    const notices: NewFindingsBody[] = [];
    let report: ScanReport | undefined;
    let diffAll: FindingDiff | undefined;
    let dirty = write;
    const children = new Map<Digest, { verdicts: Verdict[]; marks: ReadMarks }>();
    for (const before of verdicts) {
      const j = judgeScan(scan, db, policy, { registry: before.registry, repository: before.repository }, bases);
      report = j.report;
      const diff = await this.diffStored(ctx, digest, j.report.findings);
      diffAll = diff;
      const judged: Verdict = summarize(policy, {
        ...before,
        complete: j.report.complete,
        policy: j.evaluation.policy,
        vulndb: { builtAt: j.report.vulndb?.builtAt ?? null, digest: j.report.vulndb?.digest ?? null },
        evaluatedAt: new Date(now).toISOString(),
        evaluations: j.raw,
      });
      // first-seen times of new findings: the stored ones were read for the diff
      const firstSeen = diff.new.length ? firstSeenOf(await this.storedFindings(ctx, digest), now) : new Map<string, number>();
      const o = await this.outcome({ before, judged, diff, firstSeen, now, run, stats, out, notices });
      acted ||= o.acted;
      dirty ||= o.dirty;
      const after = o.after;
      for (const c of j.children) {
        if (c.digest === digest) continue;
        const cv = await this.childVerdict(children, before.registry, before.repository, c.digest);
        if (cv) out.verdicts.push(summarize(policy, { ...cv, evaluations: c.raw, complete: c.complete, policy: c.evaluation.policy, vulndb: after.vulndb, evaluatedAt: after.evaluatedAt }));
      }
    }
    if (!report) {
      // an image without a verdict (only its children were judged, or the verdict was removed)
      report = judgeScan(scan, db, policy, {}, bases).report;
      diffAll = await this.diffStored(ctx, digest, report.findings);
    }
    // Nothing to write only when the findings are the same in every field: a moved fix or a regrouped
    // record changes no decision and no diff, yet the report and index must show it (as --all writes it).
    const unchanged = !dirty && isEmptyDiff(diffAll ?? { new: [], resolved: [], severityChanged: [] });
    // diffStored read nothing only when the stored rows' signature equals these findings': the same rows.
    if (unchanged && !ctx.findings.has(digest) && ctx.signatures?.has(digest)) return undefined;
    // the same scan: its packages are indexed already
    const oldIndex = await this.storedFindings(ctx, digest);
    const index = rejudgedIndexOf(digest, scan, report, now, oldIndex);
    if (unchanged && sameFindings(oldIndex, index.findings)) return undefined;
    index.findings = withFirstSeen(index.findings, firstSeenOf(oldIndex, now), now);
    const fresh = diffAll?.new ?? [];
    const resolved = diffAll?.resolved.length ?? 0;
    return {
      // notices only where someone delivers them (else the outbox would only grow)
      write: { ...out, report: { digest, body: report }, index, ...(this.o.notifier && notices.length ? { notices } : {}), ...(children.size ? { read: [...children.values()].map((c) => c.marks) } : {}) },
      acted,
      after: () => {
        stats.newFindings += fresh.length;
        stats.resolvedFindings += resolved;
        for (const f of fresh) this.o.counters?.newFindings?.(f.severity, 1);
      },
    };
  }


  /**
   * Judges an image again without its stored scan: its stored index findings off the changed pairs, plus
   * its findings on them matched again ({@link ImagePatch}), make its new findings; every verdict's
   * stored raw evaluations get their vulnerability rules evaluated again on them and keep every other
   * reason (src/policy/evaluate.ts patchFindingRules: the other rules read the inventory, which did not
   * change, and not the findings). The stored report is rewritten with the new findings and verdict.
   * Equal to {@link rejudge} from the scan when the preconditions of {@link patchable} hold and the
   * verdicts were judged by the policy in force (test/unit/monitor/patch.test.ts).
   * @returns `'full'` when the image must be judged in full (a verdict of another policy revision or
   *   without evaluations, no stored report); nothing has been acted on or counted then.
   */
  private async patch(digest: Digest, patch: ImagePatch, ctx: ChunkContext, run: MonitorRun, db: VulnDb, stats: MonitorStats): Promise<JudgedImage | undefined | 'full'> {
    const policy = this.o.policy();
    const now = this.now();
    const verdicts = ctx.verdicts.get(digest) ?? [];
    const oldIndex = ctx.findings.get(digest) ?? [];
    if (!verdicts.length || oldIndex.some((f) => !f.pkg || f.finding.origin || f.finding.platform || f.finding.vex)) return 'full';
    const kept = oldIndex.filter((f) => !patch.changed.has(f.pkg));
    const indexed = [...kept, ...patch.fresh].sort((a, b) => compareRisk(a.finding, b.finding));
    const findings = indexed.map((f) => f.finding);
    // every verdict (and its platform's, for an index of one platform) patched before anything is acted on
    const plan: Array<{ before: Verdict; evaluations: Record<string, RawEvaluation>; child?: { verdict: Verdict; evaluations: Record<string, RawEvaluation> } }> = [];
    const children = new Map<Digest, { verdicts: Verdict[]; marks: ReadMarks }>();
    for (const before of verdicts) {
      const evaluations = patchedEvaluations(policy, before, patch.manifest, findings);
      if (!evaluations) return 'full';
      let child: (typeof plan)[number]['child'];
      if (patch.manifest !== digest) {
        const cv = await this.childVerdict(children, before.registry, before.repository, patch.manifest);
        if (cv) {
          const ce = patchedEvaluations(policy, cv, patch.manifest, findings);
          if (!ce) return 'full';
          child = { verdict: cv, evaluations: ce };
        }
      }
      plan.push({ before, evaluations, child });
    }
    if (!ctx.reports?.has(digest)) return 'full';
    stats.patched++;
    const firstSeen = new Map(oldIndex.map((f) => [f.key, f.firstSeen ?? now]));
    // Findings off the changed pairs are the same objects before and after, and a package instance is
    // under one pair, so no finding of one pair is the same vulnerability as one of another: the diff of
    // the changed pairs' findings (each list's order kept) is the diff of all of them.
    const onChanged = (f: IndexedFinding) => patch.changed.has(f.pkg);
    const diff = diffFindings(oldIndex.filter(onChanged).map((f) => f.finding), indexed.filter(onChanged).map((f) => f.finding));
    const out: Omit<Rejudgement, 'run'> = { verdicts: [], changes: [], audits: [], holds: [] };
    const notices: NewFindingsBody[] = [];
    const judgedBy = { name: policy.name, revision: policy.revision };
    const vulndb = { builtAt: db.builtAt ?? null, digest: db.contentDigest ?? null };
    let acted = false;
    let dirty = false;
    for (const { before, evaluations, child } of plan) {
      const judged = summarize(policy, { ...before, policy: judgedBy, vulndb, evaluatedAt: new Date(now).toISOString(), evaluations });
      const o = await this.outcome({ before, judged, diff, firstSeen, now, run, stats, out, notices });
      acted ||= o.acted;
      dirty ||= o.dirty;
      if (child) out.verdicts.push(summarize(policy, { ...child.verdict, evaluations: child.evaluations, policy: judgedBy, vulndb: o.after.vulndb, evaluatedAt: o.after.evaluatedAt }));
    }
    // as in rejudge: findings changed in a field no diff or decision reads are still written
    if (!dirty && isEmptyDiff(diff) && sameFindings(oldIndex, indexed)) return undefined;
    // The report as judgeScan makes it for the last verdict's repository (as rejudge keeps the last one):
    // the stored report with these fields replaced (`verdict.complete` stays the stored report's), which
    // the store writes as a patch over the stored body (src/store/report-patch.ts), not whole.
    const last = plan[plan.length - 1];
    const mapping = selectMapping(policy, { registry: last.before.registry, repository: last.before.repository });
    const chosen = last.evaluations[mapping.ruleSet]!;
    const sig = ctx.storedSignatures?.get(digest);
    const reportPatch: ReportPatch = {
      digest,
      findings,
      vulndb,
      scannedAt: new Date().toISOString(),
      verdict: { decision: applyMode(chosen.decision, mapping.mode), reasons: chosen.reasons, policy: judgedBy },
      // what the stored report holds when its index is as read: the store may then write only what changed
      ...(sig !== undefined ? { replaces: { sig, findings: oldIndex } } : {}),
    };
    const index: ImageIndex = { digest, vulndbDigest: db.contentDigest ?? null, reportAt: now, findings: withFirstSeen(indexed, firstSeen, now), ...(sig !== undefined ? { stored: { sig, findings: oldIndex } } : {}) };
    return {
      write: { ...out, reportPatch, index, ...(this.o.notifier && notices.length ? { notices } : {}), ...(children.size ? { read: [...children.values()].map((c) => c.marks) } : {}) },
      acted,
      after: () => {
        stats.newFindings += diff.new.length;
        stats.resolvedFindings += diff.resolved.length;
        for (const f of diff.new) this.o.counters?.newFindings?.(f.severity, 1);
      },
    };
  }

  /**
   * What one verdict judged again leads to (shared by the full and the patched re-judgement): the
   * mapping's `onNewFindings` cap, the registry acted on when it now blocks, the verdict and hold to
   * write, and a change record, audit record and notice when findings or the decision changed.
   */
  private async outcome(x: {
    before: Verdict; judged: Verdict; diff: FindingDiff; firstSeen: Map<string, number>; now: number; run: MonitorRun;
    stats: MonitorStats; out: Omit<Rejudgement, 'run'>; notices: NewFindingsBody[];
  }): Promise<{ after: Verdict; acted: boolean; dirty: boolean }> {
    const { before, judged, diff, firstSeen, now, run, stats, out, notices } = x;
    const policy = this.o.policy();
    const digest = before.digest;
    const fresh = diff.new.map((f) => ({ finding: f, firstSeen: firstSeen.get(findingKey(f)) ?? now }));
    const cap = capNewFindings(policy, before, judged, fresh, now);
    let after = summarize(policy, cap.verdict);
    this.o.onJudged?.(after);
    const blocking = after.tags.map((t) => viewOf(policy, after, t)).filter(blocks);
    let acted = false;
    const wasBlocking = before.tags.some((t) => blocks(viewOf(policy, before, t)));
    if (this.o.act && blocking.length && !wasBlocking) {
      const e = await this.o.act(before, after, blocking);
      if (e) {
        acted = true;
        after = { ...after, enforcement: e };
        if (e.action !== 'none') stats.enforced++;
      }
    }
    out.verdicts.push(after);
    out.holds!.push({ registry: after.registry, repository: after.repository, digest, dueAt: cap.effect === 'held' && cap.enforceAfter !== undefined ? cap.enforceAfter : null });
    const dirty = !isEmptyDiff(diff) || after.decision !== before.decision || after.enforcement !== before.enforcement || cap.effect === 'held' || !sameEvaluations(before, after);
    if (isEmptyDiff(diff) && after.decision === before.decision) return { after, acted, dirty };
    stats.changed++;
    const change: ChangeRecord = {
      registry: after.registry,
      repository: after.repository,
      digest,
      tags: after.tags,
      run: run.id,
      at: new Date(now).toISOString(),
      vulndb: { before: before.vulndb?.digest ?? null, after: after.vulndb.digest ?? null },
      policy: { before: before.policy.revision, after: after.policy.revision },
      decision: { before: before.decision, after: after.decision },
      onNewFindings: { action: cap.action, effect: cap.effect, ...(cap.enforceAfter !== undefined ? { enforceAfter: new Date(cap.enforceAfter).toISOString() } : {}) },
      new: diff.new,
      resolved: diff.resolved,
      severityChanged: diff.severityChanged,
    };
    out.changes.push(change);
    out.audits.push({
      actor: 'pushgate',
      action: 'monitor:changed',
      registry: after.registry,
      repository: after.repository,
      digest,
      detail: {
        run: run.id,
        decision: change.decision,
        vulndb: change.vulndb,
        onNewFindings: change.onNewFindings,
        new: diff.new.map((f) => f.id),
        resolved: diff.resolved.map((f) => f.id),
        severityChanged: diff.severityChanged.map((s) => `${s.id}: ${s.before} → ${s.after}`),
      },
    });
    if (diff.new.length) notices.push(noticeOf(change));
    return { after, acted, dirty };
  }

  /**
   * One page of the stored images holding the package a purl names (version optional: any version), in
   * digest order, from the index (no registry request), with the matching package instances and the
   * repositories and tags that hold each image. Paged like {@link affected}: at most `page.limit`
   * images (default {@link AFFECTED_LIMIT.default}, at most {@link AFFECTED_LIMIT.max}) after
   * `page.after`. Images holding the package's pair at another version are read and passed over; a call
   * reads at most {@link PACKAGE_PAGE_READS} pages of candidates, so a page may hold fewer images
   * than asked while `more` says to ask again from `next`. Reports newer than the index are indexed
   * first, bounded and shared as for {@link affected}.
   * @throws PushgateError BAD_ARGUMENT for a malformed or unsupported purl (src/monitor/purl-query.ts),
   *   a limit out of range or an `after` that is not a digest.
   */
  async packageImages(purl: string, page: { after?: Digest; limit?: number } = {}): Promise<PackageImagesAnswer> {
    const q = parsePurlQuery(purl);
    const limit = checkPage(page);
    // Bounded and shared, as for affected-images queries: a burst of API calls indexes a backlog once.
    const { behind } = await this.sharedCatchUp();
    const byDigest = new Map<Digest, PackageImagesAnswer['images'][number]['packages']>();
    let after = page.after;
    let more = false;
    for (let reads = 0; ; ) {
      const got = await this.o.store.monitor.packagesPage(q.pairs, { after, limit: limit - byDigest.size });
      reads++;
      for (const { digest, entry } of got.rows) {
        after = digest;
        for (const p of entry.packages) {
          if (!matchesPurlQuery(q, p)) continue;
          const hit = { ecosystem: p.ecosystem, name: p.name, version: p.version, purl: p.purl, path: p.path, ...(p.sourceName ? { sourceName: p.sourceName } : {}), ...(entry.platform ? { platform: entry.platform } : {}) };
          const l = byDigest.get(digest);
          if (l) l.push(hit);
          else byDigest.set(digest, [hit]);
        }
      }
      if (!got.more) break;
      if (byDigest.size >= limit || reads >= PACKAGE_PAGE_READS) {
        more = true;
        break;
      }
    }
    const [verdicts, used] = await Promise.all([this.o.store.monitor.verdictsOf([...byDigest.keys()]), this.o.store.workloads.workloadsOf([...byDigest.keys()], WORKLOADS_PER_IMAGE)]);
    const policy = this.o.policy();
    // Grouped once: a package held by many images must not cost images × verdicts.
    const verdictsBy = new Map<Digest, typeof verdicts>();
    for (const v of verdicts) {
      const l = verdictsBy.get(v.digest);
      if (l) l.push(v);
      else verdictsBy.set(v.digest, [v]);
    }
    return {
      purl,
      images: [...byDigest].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([digest, packages]) => ({
        digest,
        packages,
        verdicts: (verdictsBy.get(digest) ?? []).map((v) => affectedVerdict(policy, v)),
        workloads: used.get(digest)?.workloads ?? [],
        workloadCount: used.get(digest)?.count ?? 0,
      })),
      more,
      // the last image read (maybe passed over): the next page starts after it
      ...(more && after ? { next: after } : {}),
      ...(behind ? { indexBehind: true } : {}),
    };
  }

  /**
   * One page of the stored images with a finding whose id or alias is `id` (a CVE, GHSA, DSA, OSV id;
   * case does not matter), in digest order: their findings of it and the repositories and tags that
   * hold them. The work per call is bounded: at most `page.limit` images (default
   * {@link AFFECTED_LIMIT.default}, at most {@link AFFECTED_LIMIT.max}), one store query for their
   * findings and one for their verdicts.
   *
   * Before the query, reports newer than their index are indexed: at most {@link AFFECTED_CATCH_UP}
   * images (shared by concurrent calls) unless `page.catchUp` is `'all'` (the CLI, run by an
   * operator); `indexBehind` in the answer says reports remained unindexed (the monitor's next tick
   * indexes them; until then images only in those reports are missing from the answer).
   * @throws PushgateError BAD_ARGUMENT for an id that is not an advisory id ({@link advisoryIdProblem}),
   *   a limit out of range or an `after` that is not a digest.
   */
  async affected(id: string, page: { after?: Digest; limit?: number; catchUp?: 'bounded' | 'all' } = {}): Promise<AffectedAnswer> {
    const problem = advisoryIdProblem(id);
    if (problem) throw new PushgateError('BAD_ARGUMENT', problem);
    const limit = checkPage(page);
    const caught = page.catchUp === 'all' ? { indexed: await this.catchUp(), behind: false } : await this.sharedCatchUp();
    const { hits, more } = await this.o.store.monitor.affectedBy(id, { after: page.after, limit });
    const byDigest = new Map<Digest, AffectedImage[]>();
    for (const h of hits) {
      const l = byDigest.get(h.digest);
      if (l) l.push(h);
      else byDigest.set(h.digest, [h]);
    }
    // both reads at once (PostgreSQL: two pooled connections, one round trip of waiting)
    const [verdicts, used] = await Promise.all([this.o.store.monitor.verdictsOf([...byDigest.keys()]), this.o.store.workloads.workloadsOf([...byDigest.keys()], WORKLOADS_PER_IMAGE)]);
    // verdicts grouped once (linear), not filtered per image
    const verdictsBy = new Map<Digest, Verdict[]>();
    for (const v of verdicts) {
      const l = verdictsBy.get(v.digest);
      if (l) l.push(v);
      else verdictsBy.set(v.digest, [v]);
    }
    const policy = this.o.policy();
    const images = [...byDigest].map(([digest, list]) => ({
      digest,
      findings: list.map((h) => ({
        id: h.finding.id, aliases: h.finding.aliases, package: h.finding.package, installedVersion: h.finding.installedVersion,
        fixedVersions: h.finding.fixedVersions, severity: h.finding.severity, path: h.finding.path,
        ...(h.finding.platform ? { platform: h.finding.platform } : {}), firstSeen: new Date(h.firstSeen).toISOString(),
      })),
      verdicts: (verdictsBy.get(digest) ?? []).map((v) => affectedVerdict(policy, v)),
      workloads: used.get(digest)?.workloads ?? [],
      workloadCount: used.get(digest)?.count ?? 0,
    }));
    return { id, images, more, ...(more ? { next: images[images.length - 1].digest } : {}), indexBehind: caught.behind };
  }
}

/** The limit of a page request (default applied). @throws PushgateError BAD_ARGUMENT for a bad limit or `after`. */
function checkPage(page: { after?: Digest; limit?: number }): number {
  const limit = page.limit ?? AFFECTED_LIMIT.default;
  if (!Number.isInteger(limit) || limit < AFFECTED_LIMIT.min || limit > AFFECTED_LIMIT.max) {
    throw new PushgateError('BAD_ARGUMENT', `limit ${limit}: use an integer from ${AFFECTED_LIMIT.min} to ${AFFECTED_LIMIT.max}`);
  }
  if (page.after !== undefined && !isDigest(page.after)) throw new PushgateError('BAD_ARGUMENT', `after: "${page.after}" is not a digest (sha256:<64 hex>)`);
  return limit;
}

/** Store reads of candidate images at most per package-images call (each of at most a page's limit). */
export const PACKAGE_PAGE_READS = 4;

/** Workloads listed per image at most in affected-images and image answers (the count says how many there are). */
export const WORKLOADS_PER_IMAGE = 20;

/** Bounds of an affected-images page, in images. */
export const AFFECTED_LIMIT = { min: 1, max: 1000, default: 100 } as const;
/**
 * Images an affected-images query indexes at most before answering: indexing costs a stored scan read
 * and parse per image (milliseconds each), on the event loop that serves webhooks; the server's
 * monitor tick (every 10 s) indexes the rest, so an answer lags at most those pushes.
 */
export const AFFECTED_CATCH_UP = 100;
/** Outbox notices claimed per store call, and how long a claim holds them (a notice's attempts take at most ~30 s). */
const OUTBOX_BATCH = 50;
const OUTBOX_LEASE_MS = 120_000;
/** Indexes written per transaction while catching up. */
const INDEX_WRITE_BATCH = 100;
/** Stale reports read per store query while catching up. */
const CATCH_UP_BATCH = 500;
/** The catch-up mark is saved at most this often (ms) while nothing is indexed. */
const MARK_SAVE_MS = 10_000;
/** Longest advisory id accepted (OSV ids and aliases are far shorter; CVE ids are at most ~20). */
export const ADVISORY_ID_MAX = 128;
const ADVISORY_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/**
 * Why `id` is not an advisory id or alias as OSV, NVD, GitHub and the distributions write them
 * (`CVE-2024-3094`, `GHSA-jfh8-c2jp-5v3q`, `DSA-5678-1`, `RHSA-2024:1234`, `PYSEC-2021-1`,
 * `GO-2022-0001`): a letter or digit, then letters, digits, `.`, `_`, `:` and `-`, at most
 * {@link ADVISORY_ID_MAX} characters. Undefined when it is one.
 */
export function advisoryIdProblem(id: string): string | undefined {
  const shown = JSON.stringify(id.length > 40 ? `${id.slice(0, 40)}…` : id);
  if (!id) return 'an advisory id or alias is required (e.g. CVE-2024-3094, GHSA-…, DSA-…)';
  if (id.length > ADVISORY_ID_MAX) return `advisory id ${shown} is ${id.length} characters long; ids are at most ${ADVISORY_ID_MAX} (e.g. CVE-2024-3094)`;
  if (!ADVISORY_ID.test(id)) return `advisory id ${shown} has characters ids do not have: use letters, digits, ".", "_", ":" and "-", starting with a letter or digit (e.g. CVE-2024-3094, GHSA-…, RHSA-2024:1234)`;
  return undefined;
}

/**
 * Images per chunk of a pass: read with one query per kind and written in one transaction. Large
 * enough that statements and commits are a small share of an image's cost, small enough that a
 * chunk's reads stay a few megabytes and a crash loses little work.
 */
export const PASS_CHUNK = 250;

/** What a pass reads for a chunk of images before judging them ({@link Monitor.chunkContext}). */
interface ChunkContext {
  /** The stored complete scan of each digest (undefined: none kept). */
  scans: Map<Digest, ImageScan | undefined>;
  /** Stored index findings: every image's when read with the chunk, else those read so far. */
  findings: Map<Digest, IndexedFinding[]>;
  /**
   * When the chunk read signatures rather than findings: the signature of each image's stored findings
   * (store `findingSignatures`; absent for an image indexed before signatures were kept).
   */
  signatures?: Map<Digest, string>;
  /**
   * When the chunk read findings: the signature the index holds for each image's findings, read with them
   * (the rows are those `findings` holds; absent for an image indexed before signatures were kept).
   */
  storedSignatures?: Map<Digest, string>;
  verdicts: Map<Digest, Verdict[]>;
  /** Each image's report and verdict write marks, read with `verdicts` (one snapshot). */
  marks: Map<Digest, ReadMarks>;
  /** Of the chunk's images to be patched, those with a stored report (the patch is laid over it). */
  reports?: Set<Digest>;
  /** The pass's match results per distinct package (src/vulndb/db.ts MatchMemo), shared by its chunks. */
  memo?: MatchMemo;
}

/** One image's re-judgement, to be written with its batch. */
interface JudgedImage {
  write: Omit<Rejudgement, 'run'>;
  /** Run once the batch is written: counters and notices. */
  after: () => void;
  /** The registry was acted on: the batch is written at once. */
  acted: boolean;
}

/** The images of a pass judged but not written yet (written together with the cursor after the last). */
interface PendingBatch {
  digests: Digest[];
  /** Each with its image's marks first in `read`. */
  rejudged: Array<Omit<Rejudgement, 'run'>>;
  unchanged: Digest[];
  unchangedRead: ReadMarks[];
  /** Per `rejudged` entry: what follows its write, and whether the registry was acted on for it. */
  after: Array<() => void>;
  acted: boolean[];
}

/**
 * An image of a database pass that can be judged again by patching ({@link Monitor} `patch`): its
 * findings on the changed pairs matched again from the index.
 */
interface ImagePatch {
  /** Every changed pair of the swap (the image's stored findings under them are replaced). */
  changed: ReadonlyMap<string, unknown>;
  /** The image's findings on the changed pairs under the new database, as indexed (pair, identity). */
  fresh: IndexedFinding[];
  /** Its one platform's manifest digest (the digest the policy's exceptions see). */
  manifest: Digest;
}

/**
 * The patch of an image whose findings on the changed pairs are `fresh`, or undefined when it must be
 * judged in full from its scan. A patch is exact only when nothing but those findings changes what the
 * policy sees, so it requires: one platform (an index's reasons name platforms); no base attributed
 * (findings would carry an origin computed from the base's layers and packages, and excludeBase and
 * the rebuild hint read the base); no VEX statements in the policy; changed pairs of language
 * ecosystems only, each ecosystem holding advisories on unchanged pairs too (so whether it is covered
 * did not change; OS ecosystems are covered per release, which a change can add or remove). Indexes
 * made before `manifest` was recorded are judged in full.
 */
function patchable(entries: IndexedPackages[], fresh: IndexedFinding[], policy: CompiledPolicy, stableBase: (base: string) => boolean, changed: ReadonlyMap<string, unknown>): ImagePatch | undefined {
  const manifest = entries[0]?.manifest;
  if (!manifest || policy.vex?.length) return undefined;
  for (const e of entries) {
    if (e.manifest !== manifest || e.platform || e.based) return undefined;
    const base = e.pkg.slice(0, e.pkg.indexOf(':'));
    if (!base || !stableBase(base)) return undefined;
    for (const p of e.packages) if (planFor(p.ecosystem, undefined, undefined)?.isOs !== false) return undefined;
  }
  return { changed, fresh, manifest };
}

/**
 * A verdict's raw evaluations with the vulnerability rules evaluated again on `findings`, or undefined
 * when it cannot be patched: judged by another policy revision, or its rule sets are not those a
 * judgement under the policy in force gives (src/gate/judge.ts: candidate rule sets and the mapping's).
 * A stored evaluation capped by `onNewFindings` is its raw one with the cap's reason put first and the
 * decision lowered: the cap's reason is dropped and the decision is computed from the reasons again.
 */
function patchedEvaluations(policy: CompiledPolicy, v: Verdict, manifest: Digest, findings: Finding[]): Record<string, RawEvaluation> | undefined {
  if (v.policy.revision !== policy.revision || v.policy.name !== policy.name || !v.evaluations) return undefined;
  const ref = { registry: v.registry, repository: v.repository };
  const want = candidateRuleSets(policy, ref);
  const mapped = selectMapping(policy, ref).ruleSet;
  if (!want.includes(mapped)) want.push(mapped);
  const have = v.evaluations;
  if (Object.keys(have).length !== want.length || !want.every((rs) => Object.hasOwn(have, rs))) return undefined;
  const out: Record<string, RawEvaluation> = {};
  for (const rs of want) {
    // a capped evaluation (src/monitor/on-new-findings.ts) holds the raw reasons after the cap's own
    if (policy.ruleSets[rs]?.rules.some((r) => r.name === ON_NEW_FINDINGS_RULE)) return undefined;
    const raw = { decision: have[rs].decision, reasons: have[rs].reasons.filter((r) => r.rule !== ON_NEW_FINDINGS_RULE) };
    const e = patchFindingRules(policy, rs, raw, { registry: v.registry, repository: v.repository, digest: manifest, findings });
    if (!e) return undefined;
    out[rs] = e;
  }
  return out;
}

/** A finding matched for a package stripped of its place, bound to one instance (path, layer, purl, platform) as the matcher binds them. */
function boundTo(f: Finding, p: Package): Finding {
  const out: Finding = { ...f, path: p.path };
  delete out.layer;
  delete out.purl;
  delete out.platform;
  if (p.layer) out.layer = p.layer;
  if (p.purl) out.purl = p.purl;
  if (p.platform) out.platform = p.platform;
  return out;
}

/**
 * True when two index finding lists hold the same findings in every field (in any order), one per key:
 * a report lists a package instance held twice twice, the stored index once per key.
 */
function sameFindings(a: Array<{ key: string; finding: Finding }>, b: Array<{ key: string; finding: Finding }>): boolean {
  const byKey = (l: typeof a) => [...new Map(l.map((f) => [f.key, f.finding])).values()];
  return sameFindingsSignature(byKey(a), byKey(b));
}

/**
 * Finding keys by finding object: a full pass signs every image's findings, most of them objects shared
 * by many images (src/vulndb/db.ts MatchMemo); findings are not changed once made.
 */
const KEYS = new WeakMap<Finding, string>();

/** {@link findingKey}, made once per finding object. */
function keyOf(f: Finding): string {
  let k = KEYS.get(f);
  if (k === undefined) KEYS.set(f, (k = findingKey(f)));
  return k;
}

/** True when two verdicts carry the same raw evaluations (decisions and reason rules per rule set). */
function sameEvaluations(a: Verdict, b: Verdict): boolean {
  const sig = (v: Verdict) => JSON.stringify(Object.entries(v.evaluations ?? {}).sort().map(([k, e]) => [k, e.decision, e.reasons.map((r) => `${r.rule}:${r.action}:${r.message}`)]));
  return sig(a) === sig(b);
}

/** The first-seen time of each stored finding, by key (`now` for one without). */
function firstSeenOf(list: IndexedFinding[], now: number): Map<string, number> {
  return new Map(list.map((f) => [f.key, f.firstSeen ?? now]));
}

/** Index findings with the first-seen time of their earlier entry (or now). */
function withFirstSeen(list: IndexedFinding[], firstSeen: Map<string, number>, now: number): IndexedFinding[] {
  return list.map((f) => ({ ...f, firstSeen: firstSeen.get(f.key) ?? now }));
}

/** The notice of one change record's new findings, grouped per advisory. */
function noticeOf(c: ChangeRecord): NewFindingsBody {
  const by = new Map<string, NewFindingsBody['advisories'][number]>();
  for (const f of c.new) {
    const a = by.get(f.id) ?? { id: f.id, aliases: f.aliases, severity: f.severity, packages: [] };
    a.packages.push({ name: f.package, installedVersion: f.installedVersion, fixedVersions: f.fixedVersions, path: f.path });
    by.set(f.id, a);
  }
  return {
    event: 'new-findings',
    registry: c.registry,
    repository: c.repository,
    tags: c.tags,
    digest: c.digest,
    advisories: [...by.values()],
    decision: c.decision,
    onNewFindings: c.onNewFindings ?? { action: 'notify', effect: 'none' },
    vulndb: c.vulndb,
    reportUrl: null,
    at: c.at,
  };
}
