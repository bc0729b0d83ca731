/**
 * Policy changes after the fact: hot reload of the policy file, admin-API exceptions, re-evaluation
 * of stored verdicts from stored scans, release from quarantine, and retention of quarantined copies.
 *
 * - The policy in force is the policy file plus the stored exceptions (`withExceptions`), with a
 *   revision derived from both, so every verdict records which one judged it.
 * - A reload that does not compile keeps the old policy and logs every problem with its line.
 * - Re-evaluation reads each stored verdict's complete scan (store key {@link SCAN_KEY}), judges it
 *   with the current policy and vulnerability database under every rule set its tags can map to,
 *   stores the new verdict and report, and acts on each tag that still points at the digest by that
 *   tag's own mapping (a tag whose mapping enforces a blocking decision is enforced; the others are
 *   recorded). It never un-blocks on its own: a quarantined image comes back only by an explicit release.
 * - A release copies the image back, adds an exception scoped to its digest and repository (so a
 *   later re-evaluation or re-push keeps it allowed until the exception expires), records an
 *   allow-by-release in the tag history and the audit log.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, formatProblem } from '../config/errors.js';
import { registriesNamedOtherwise } from '../policy/registry-globs.js';
import type { PushgateConfig } from '../config/types.js';
import { DECISIONS, PushgateError, type Digest, type Enforcement, type Verdict } from '../core/index.js';
import { elapsedMs } from '../core/timers.js';
import { deleteQuarantinedCopy, enforce, releaseQuarantined } from '../enforce/index.js';
import { candidateRuleSets, loadPolicy, loadVexFiles, parseVex, revisionOf, vexAuthor, vexRevision, withExceptions, type CompiledPolicy, type ExceptionSpec, type VexStatement } from '../policy/index.js';
import type { ImageScan, PlatformScan } from '../scan/engine.js';
import type { QuarantineRecord, Store, StoredException, StoredVexDocument } from '../store/index.js';
import type { VulnDb } from '../vulndb/index.js';
import { SCAN_KEY, type Gate, type Logger } from './gate.js';
import { judgeScan, type PlatformBase } from './judge.js';
import { storedReferrerVex } from './referrer-vex.js';
import { blocks, summarize, viewOf, withView, type VerdictView } from './verdict-view.js';
import { plannedWrites } from './own-traffic.js';
import { withClusterJob } from './cluster-jobs.js';

/**
 * The audit action of a re-evaluation's intent to act on one tag (or the digest), written before the
 * registry is acted on; the `reevaluated:<decision>` record written after it ends it.
 */
export const REEVALUATING = 'reevaluating';

/** First delay before a failed re-evaluation is run again, ms (then doubling, up to 64 times it). */
export const REEVALUATE_RETRY_MS = 5_000;

/** Counts of one re-evaluation pass. */
export interface ReevaluationStats {
  /** Verdicts looked at. */
  verdicts: number;
  /** Judged again from their stored scan. */
  reevaluated: number;
  /** Whose decision changed. */
  changed: number;
  /** Without a stored scan (incomplete scans are not kept; index children are judged with their index). */
  noScan: number;
  /** Enforcement actions taken on tags still present. */
  enforced: number;
  ms: number;
}

/** Options of {@link reevaluateStored}. */
export interface ReevaluateOptions {
  store: Store;
  policy: CompiledPolicy;
  vulndb: VulnDb | undefined;
  /**
   * Called when the re-judged verdict blocks for some of its tags (`views`: those tags, each as its
   * own mapping sees it, blocking in `enforce` mode): acts on the registry and returns the
   * enforcement to record. Without it nothing is acted on.
   */
  act?: (before: Verdict, after: Verdict, views: VerdictView[]) => Promise<Enforcement | undefined>;
  /** The base of each platform (the gate's catalog, src/gate/base-images.ts), so a re-judgement attributes as the first judgement did. */
  bases?: (scan: ImageScan) => Promise<Map<PlatformScan, PlatformBase>>;
  /** Only these verdicts (default: every stored verdict). */
  verdicts?: Verdict[];
  /** Re-judge even verdicts already judged by this policy revision. */
  force?: boolean;
}

/**
 * Re-judges stored verdicts from their stored scans (see the module comment). Index children's
 * verdicts are updated from their index's judgement.
 * @throws PushgateError STORE when the store fails.
 */
export async function reevaluateStored(o: ReevaluateOptions): Promise<ReevaluationStats> {
  const t0 = performance.now();
  const stats: ReevaluationStats = { verdicts: 0, reevaluated: 0, changed: 0, noScan: 0, enforced: 0, ms: 0 };
  const verdicts = o.verdicts ?? (await o.store.listVerdicts({ limit: Number.MAX_SAFE_INTEGER }));
  // A verdict whose re-judgement fails (a store error, an unreachable registry) is left at its old
  // revision, so the next pass judges it again; the others go on (one failing image held up every
  // other image's enforcement until the next policy or exception event). The first error is thrown after.
  let failed: { error: unknown; count: number } | undefined;
  for (const before of verdicts) {
    try {
      await reevaluateOne(o, before, stats);
    } catch (e) {
      if (failed) failed.count++;
      else failed = { error: e, count: 1 };
    }
  }
  stats.ms = elapsedMs(t0);
  if (failed) {
    const err = failed.error as Error;
    if (failed.count > 1 && err instanceof Error) err.message = `${err.message} (and ${failed.count - 1} more verdicts failed; each is judged again by the next pass)`;
    throw err;
  }
  return stats;
}

/** {@link reevaluateStored} for one stored verdict: judged again, acted on, written. */
async function reevaluateOne(o: ReevaluateOptions, before: Verdict, stats: ReevaluationStats): Promise<void> {
  stats.verdicts++;
  // A verdict stored without raw evaluations is judged again whatever its revision.
  if (!o.force && before.policy.revision === o.policy.revision && before.evaluations) return;
  const scan = (await o.store.getLayer(SCAN_KEY(before.digest))) as ImageScan | undefined;
  if (!scan) {
    stats.noScan++;
    return;
  }
  // Untagged: the raw evaluations cover every rule set any tag (or none) maps to; views per tag follow.
  // Signed VEX of the image's referrers, as last read from the registry (src/gate/referrer-vex.ts).
  const referrerVex = await storedReferrerVex(o.store, before.digest, o.policy);
  const j = judgeScan(scan, o.vulndb, o.policy, { registry: before.registry, repository: before.repository }, { ...(o.bases ? { bases: await o.bases(scan) } : {}), ...(referrerVex ? { referrerVex } : {}) });
  stats.reevaluated++;
  const after: Verdict = summarize(o.policy, {
    ...before,
    complete: j.report.complete,
    policy: j.evaluation.policy,
    vulndb: { builtAt: j.report.vulndb?.builtAt ?? null, digest: j.report.vulndb?.digest ?? null },
    evaluatedAt: new Date().toISOString(),
    evaluations: j.raw,
  });
  const refs = [undefined, ...before.tags];
  if (refs.some((t) => viewOf(o.policy, after, t).decision !== viewOf(o.policy, before, t).decision)) stats.changed++;
  // Each tag by its own mapping, then the digest itself (pullable as repository@digest whatever its tags).
  const blocking = [...before.tags.map((t) => viewOf(o.policy, after, t)), viewOf(o.policy, after)].filter(blocks);
  await o.store.putReport(before.digest, j.report);
  // Children first: a blocked index takes its blocking children along, judged by their verdicts now.
  for (const c of j.children) {
    if (c.digest === before.digest) continue;
    const cv = await o.store.getVerdict(before.registry, before.repository, c.digest);
    if (!cv) continue;
    await o.store.putVerdict(summarize(o.policy, { ...cv, evaluations: c.raw, complete: c.complete, policy: c.evaluation.policy, evaluatedAt: after.evaluatedAt }));
  }
  if (o.act && blocking.length) {
    const e = await o.act(before, after, blocking);
    if (e) {
      after.enforcement = e;
      if (e.action !== 'none') stats.enforced++;
    }
  }
  await o.store.putVerdict(after);
}

/** A release request (admin API `POST /api/v1/quarantine/release`). */
export interface ReleaseRequest {
  /** Configured registry name. */
  registry: string;
  repository: string;
  /** '' (with `digest`): an image quarantined after a push by digest only; it goes back by digest. */
  tag: string;
  /** Which quarantined copy, when the tag was quarantined more than once (default: the latest). */
  digest?: Digest;
  /** Why (required; recorded in the audit log and the exception). */
  reason: string;
  /** Expiry of the exception that keeps the release in force (default: 30 days from now; a past one is BAD_ARGUMENT). */
  expires?: string;
}

/** What a release did. */
export interface ReleaseResult {
  verdict: Verdict;
  exception: StoredException;
  record: QuarantineRecord;
}

/** See the module comment. */
export class PolicyControl {
  private base: CompiledPolicy;
  private exceptions: StoredException[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  private stopWatch: (() => void) | undefined;
  /** VEX statements in force (config `vex.paths`): read at init, replaced only by a reload that reads them all. */
  private vex: VexStatement[] = [];
  /** VEX documents added through the admin API (the store's), each with its statements, oldest first. */
  private vexDocs: Array<{ doc: StoredVexDocument; statements: VexStatement[] }> = [];
  private unsubscribe: (() => void) | undefined;
  private closed = false;

  constructor(private readonly o: { gate: Gate; store: Store; config: PushgateConfig; logger: Logger; policy: CompiledPolicy; notifier?: { blocked(v: Verdict): void | Promise<void> } }) {
    this.base = o.policy;
  }

  /** The policy file's compiled policy (without stored exceptions). */
  get basePolicy(): CompiledPolicy {
    return this.base;
  }

  /**
   * Loads the stored exceptions and puts the combined policy in force (no re-evaluation), then follows
   * the exceptions other replicas add (Store.subscribe): each change, and each reconnection of the
   * listener, re-reads them, so every replica judges with the same exceptions within moments.
   */
  async init(): Promise<void> {
    // a VEX document that cannot be read stops the start (as an invalid policy does), with its file named
    this.vex = this.readVex();
    this.exceptions = await this.o.store.listExceptions();
    this.vexDocs = this.parseStoredVex(await this.o.store.listVexDocuments());
    this.o.gate.setPolicy(this.effective());
    this.unsubscribe = await this.o.store.subscribe((topic) => {
      if (topic === 'exceptions' || topic === 'resync') void this.refreshExceptions();
      if (topic === 'vex' || topic === 'resync') void this.refreshVex();
    });
  }

  /**
   * Parses stored VEX documents (source `admin-api:<id>`). One this version refuses (it was accepted by
   * an earlier one) is kept in the list but its statements are left out of the policy, and logged, rather than stopping the start: the others
   * and the rest of the policy still apply, and an admin can delete and re-add it.
   */
  private parseStoredVex(docs: StoredVexDocument[]): Array<{ doc: StoredVexDocument; statements: VexStatement[] }> {
    const out: Array<{ doc: StoredVexDocument; statements: VexStatement[] }> = [];
    for (const doc of docs) {
      try {
        out.push({ doc, statements: parseVex(doc.body, `admin-api:${doc.id}`) });
      } catch (e) {
        this.o.logger.error({ id: doc.id, err: (e as Error).message }, 'a stored VEX document no longer parses: its statements are not applied (DELETE /api/v1/vex/{id} and add it again)');
        out.push({ doc, statements: [] });
      }
    }
    return out;
  }

  /** Re-reads the stored VEX documents (another replica added or deleted one) and puts the combined policy in force. */
  refreshVex(): Promise<void> {
    return this.serial(async () => {
      try {
        const stored = await this.o.store.listVexDocuments();
        if (stored.map((d) => d.id).join(',') === this.vexDocs.map((d) => d.doc.id).join(',')) return;
        this.vexDocs = this.parseStoredVex(stored);
        this.o.gate.setPolicy(this.effective());
        this.o.logger.info({ documents: stored.length, revision: this.o.gate.currentPolicy.revision }, 'VEX documents changed in the store; policy in force updated');
      } catch (e) {
        this.o.logger.warn({ err: (e as Error).message }, 'VEX documents could not be re-read; the next change or reconnection tries again');
      }
    });
  }

  /** VEX documents added through the admin API, oldest first. */
  listVexDocuments(): StoredVexDocument[] {
    return this.vexDocs.map((d) => d.doc);
  }

  /**
   * Parses, stores and puts in force a VEX document (OpenVEX, CycloneDX VEX or CSAF VEX, as JSON text),
   * then re-evaluates stored verdicts in the background (a statement may lift a block).
   * @throws PushgateError BAD_ARGUMENT saying what is wrong (the parser's message, naming the
   *   statement and field), or that the document holds no statement.
   */
  addVexDocument(actor: string, text: string): Promise<StoredVexDocument> {
    return this.serial(async () => {
      let statements: VexStatement[];
      try {
        statements = parseVex(text, 'document');
      } catch (e) {
        throw new PushgateError('BAD_ARGUMENT', `invalid VEX document: ${(e as Error).message}`);
      }
      if (!statements.length) throw new PushgateError('BAD_ARGUMENT', 'invalid VEX document: it holds no statement (OpenVEX statements, CycloneDX vulnerabilities with analysis, CSAF vulnerabilities with product_status)');
      const doc = await this.o.store.addVexDocument(actor, { author: vexAuthor(text), statements: statements.length, body: text });
      this.vexDocs.push({ doc, statements: parseVex(text, `admin-api:${doc.id}`) });
      this.o.gate.setPolicy(this.effective());
      await this.o.store.audit({ actor, action: 'vex-added', detail: { id: doc.id, author: doc.author, statements: doc.statements, revision: this.o.gate.currentPolicy.revision } });
      await this.announceVex();
      void this.reevaluate().catch((e: Error) => this.o.logger.error({ err: e.message }, 're-evaluation failed'));
      return doc;
    });
  }

  /**
   * Deletes VEX document `id`: its statements leave the policy in force and stored verdicts are
   * re-evaluated in the background (a finding it suppressed blocks again).
   * @throws PushgateError NOT_FOUND for an unknown id.
   */
  deleteVexDocument(actor: string, id: number): Promise<StoredVexDocument> {
    return this.serial(async () => {
      const doc = await this.o.store.deleteVexDocument(id);
      if (!doc) throw new PushgateError('NOT_FOUND', `no VEX document ${id}: ids come from GET /api/v1/vex`);
      this.vexDocs = this.vexDocs.filter((d) => d.doc.id !== id);
      this.o.gate.setPolicy(this.effective());
      await this.o.store.audit({ actor, action: 'vex-deleted', detail: { id, author: doc.author, statements: doc.statements, addedBy: doc.actor, addedAt: doc.at, revision: this.o.gate.currentPolicy.revision } });
      await this.announceVex();
      void this.reevaluate().catch((e: Error) => this.o.logger.error({ err: e.message }, 're-evaluation failed'));
      return doc;
    });
  }

  /** Tells the other replicas that the VEX documents changed; a failure is logged (they catch up on their next resync). */
  private async announceVex(): Promise<void> {
    await this.o.store.publish('vex').catch((e: Error) => this.o.logger.warn({ err: e.message }, 'other replicas could not be told about the VEX change'));
  }

  /** Re-reads the stored exceptions (another replica added one) and puts the combined policy in force. */
  refreshExceptions(): Promise<void> {
    return this.serial(async () => {
      try {
        const stored = await this.o.store.listExceptions();
        // a revocation keeps the id: compare what is in force, not only which ids exist
        const inForce = (l: StoredException[]) => l.map((e) => `${e.id}:${e.revokedAt ?? ''}`).join(',');
        if (inForce(stored) === inForce(this.exceptions)) return;
        this.exceptions = stored;
        this.o.gate.setPolicy(this.effective());
        this.o.logger.info({ exceptions: stored.length, revision: this.o.gate.currentPolicy.revision }, 'exceptions changed in the store; policy in force updated');
      } catch (e) {
        this.o.logger.warn({ err: (e as Error).message }, 'exceptions could not be re-read; the next change or reconnection tries again');
      }
    });
  }

  /** The policy in force: the file's plus the stored exceptions, with a revision of both. */
  effective(): CompiledPolicy {
    // config files' statements, then the admin API's: one revision covers both
    const vex = [...this.vex, ...this.vexDocs.flatMap((d) => d.statements)];
    // the VEX digest enters the revision, so verdicts judged without these statements are judged again
    const withVex = (p: CompiledPolicy): CompiledPolicy => (vex.length ? { ...p, vex, revision: revisionOf(`${p.revision}+vex:${vexRevision(vex)}`) } : p);
    const inForce = this.exceptions.filter((e) => !e.revokedAt);
    if (!inForce.length) return withVex(this.base);
    const p = withExceptions(this.base, inForce.map((e) => ({ ...(e.spec as unknown as ExceptionSpec), name: (e.spec.name as string | undefined) ?? `api-${e.id}` })));
    return withVex({ ...p, revision: revisionOf(`${this.base.revision}+${inForce.map((e) => e.id).join(',')}`) });
  }

  /** Runs `f` after every earlier change (reloads, exceptions, releases, re-evaluations are serialized). */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.chain.then(f, f);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /**
   * Re-reads the policy file. Invalid: the old policy stays, every problem is logged (with its
   * line) and returned. Valid and changed: it is put in force and stored verdicts are re-evaluated.
   */
  reload(): Promise<{ ok: boolean; problems: string[]; revision: string; stats?: ReevaluationStats }> {
    return this.serial(async () => {
      const file = this.o.config.policy;
      let vex: VexStatement[];
      try {
        vex = this.readVex();
      } catch (e) {
        // an edit that breaks a VEX document keeps the statements in force, as an invalid policy does
        const problems = [(e as Error).message];
        this.o.logger.error({ problems, keeping: this.o.gate.currentPolicy.revision }, 'invalid VEX document: the statements in force stay');
        await this.o.store.audit({ actor: 'pushgate', action: 'vex-reload-rejected', detail: { problems } }).catch(() => undefined);
        return { ok: false, problems, revision: this.o.gate.currentPolicy.revision };
      }
      const vexChanged = vexRevision(vex) !== vexRevision(this.vex);
      if (!file) {
        if (!vexChanged) return { ok: true, problems: [], revision: this.base.revision };
        return this.putInForce(this.base, vex, undefined);
      }
      let next: CompiledPolicy;
      try {
        next = loadPolicy(file, { registries: this.o.config.registries });
      } catch (e) {
        const problems = e instanceof ConfigError ? e.problems.map(formatProblem) : [(e as Error).message];
        for (const p of problems) this.o.logger.error({ problem: p }, 'policy reload rejected');
        this.o.logger.error({ file, problems: problems.length, keeping: this.base.revision }, 'invalid policy: the old one stays in force');
        await this.o.store.audit({ actor: 'pushgate', action: 'policy-reload-rejected', detail: { file, problems, keeping: this.base.revision } }).catch(() => undefined);
        return { ok: false, problems, revision: this.base.revision };
      }
      if (next.revision === this.base.revision && !vexChanged) return { ok: true, problems: [], revision: next.revision };
      return this.putInForce(next, vex, file);
    });
  }

  /** Puts a new base policy and VEX set in force, audits the change and re-evaluates stored verdicts. */
  private async putInForce(next: CompiledPolicy, vex: VexStatement[], file: string | undefined): Promise<{ ok: true; problems: string[]; revision: string; stats: ReevaluationStats }> {
    const old = this.base.revision;
    const oldVex = vexRevision(this.vex);
    this.base = next;
    this.vex = vex;
    this.o.gate.setPolicy(this.effective());
    const detail = { file, from: old, to: next.revision, vexFrom: oldVex, vexTo: vexRevision(vex), vexStatements: vex.length };
    this.o.logger.info(detail, 'policy reloaded');
    await this.o.store.audit({ actor: 'pushgate', action: 'policy-reloaded', detail });
    const stats = await this.reevaluateNow();
    return { ok: true, problems: [], revision: next.revision, stats };
  }

  /** Reads every VEX document of `vex.paths` (none configured: no statements). @throws PushgateError BAD_CONFIG naming the file. */
  private readVex(): VexStatement[] {
    return this.o.config.vex?.paths.length ? loadVexFiles(this.o.config.vex.paths) : [];
  }

  /**
   * What the VEX inputs look like on disk (each path, and each `*.json` of a directory: name, size, mtime),
   * so that the watcher notices a document added, removed or edited in place.
   */
  private vexInputsStamp(): string {
    const parts: string[] = [];
    for (const p of this.o.config.vex?.paths ?? []) {
      try {
        const st = fs.statSync(p);
        parts.push(`${p}:${st.size}:${st.mtimeMs}`);
        if (st.isDirectory()) {
          for (const f of fs.readdirSync(p).filter((n) => n.endsWith('.json')).sort()) {
            const fst = fs.statSync(path.join(p, f), { throwIfNoEntry: false });
            parts.push(`${f}:${fst?.size ?? -1}:${fst?.mtimeMs ?? -1}`);
          }
        }
      } catch {
        parts.push(`${p}:missing`);
      }
    }
    return parts.join('\n');
  }

  /** Watches the policy file (polling its mtime every `intervalMs`, robust to editors' replace-by-rename). */
  watch(intervalMs = 1000): void {
    const file = this.o.config.policy;
    if (this.stopWatch) return;
    const stops: Array<() => void> = [];
    if (file) {
      const onChange = (cur: fs.Stats, prev: fs.Stats) => {
        if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size) return;
        void this.reload();
      };
      fs.watchFile(file, { interval: intervalMs, persistent: false }, onChange);
      stops.push(() => fs.unwatchFile(file, onChange));
    }
    if (this.o.config.vex?.paths.length) {
      // VEX documents live in files or directories: poll a stamp of both (an edit in place changes no
      // directory mtime, a new document changes no file's)
      let stamp = this.vexInputsStamp();
      const timer = setInterval(() => {
        const now = this.vexInputsStamp();
        if (now === stamp) return;
        stamp = now;
        void this.reload();
      }, intervalMs);
      timer.unref();
      stops.push(() => clearInterval(timer));
    }
    this.stopWatch = () => stops.forEach((f) => f());
  }

  /** Stops watching and waits for work in progress. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.stopWatch?.();
    this.stopWatch = undefined;
    await this.chain;
  }

  /** Re-evaluates every stored verdict judged by another revision, acting in enforce mode. */
  reevaluate(): Promise<ReevaluationStats> {
    return this.serial(() => this.reevaluateNow());
  }

  /**
   * One re-evaluation at a time in the cluster (a job lease): replicas that reload the same policy file
   * take turns, and the later ones find the verdicts already judged by that revision and skip them.
   */
  private async reevaluateNow(): Promise<ReevaluationStats> {
    try {
      const stats = await withClusterJob(this.o.store, 'reevaluate', () => this.reevaluateHeld());
      this.retryMs = 0;
      return stats;
    } catch (e) {
      this.retryLater();
      throw e;
    }
  }

  /** Delay of the next re-evaluation after a failed one, ms (0: none failed since the last success). */
  private retryMs = 0;
  private retryTimer: NodeJS.Timeout | undefined;

  /**
   * After a failed re-evaluation (a store error, an unreachable registry), another one is run later, with
   * a delay doubling from {@link REEVALUATE_RETRY_MS} to 64 times it: the verdicts it did not finish are
   * still at the old revision, and waiting for the next policy or exception event left them (and the
   * records of an action taken before the failure) for as long as that takes.
   */
  private retryLater(): void {
    if (this.retryTimer || this.closed) return;
    this.retryMs = Math.min(64 * REEVALUATE_RETRY_MS, this.retryMs ? 2 * this.retryMs : REEVALUATE_RETRY_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.reevaluate().catch((e: Error) => this.o.logger.error({ err: e.message, retryInMs: this.retryMs }, 're-evaluation failed; tried again later'));
    }, this.retryMs);
    this.retryTimer.unref();
  }

  private async reevaluateHeld(): Promise<ReevaluationStats> {
    const gate = this.o.gate;
    const stats = await reevaluateStored({ store: this.o.store, policy: gate.currentPolicy, vulndb: gate.currentVulnDb(), bases: (s) => gate.baseImages.bases(s), act: (b, a, views) => this.actOnTags(b, a, views) });
    this.o.logger.info({ ...stats, revision: gate.currentPolicy.revision }, 'stored verdicts re-evaluated');
    if (stats.changed || stats.enforced) await this.o.store.audit({ actor: 'pushgate', action: 'reevaluated', detail: { ...stats, revision: gate.currentPolicy.revision } });
    return stats;
  }

  /**
   * Enforces a re-judged verdict on each tag in `views` (tags whose own mapping blocks in `enforce`
   * mode) that still points at its digest; a tag that moved on or is gone is left alone (its restore
   * candidates are re-judged when a restore is due: {@link Gate.restoreTarget}). A view without a tag is
   * the digest itself: while it is still in the repository (outside quarantine) it is quarantined or
   * deleted by digest, so a digest that blocks now is not left pullable by digest. The monitor
   * (src/monitor) acts through it too.
   */
  async actOnTags(before: Verdict, after: Verdict, views: VerdictView[]): Promise<Enforcement | undefined> {
    const gate = this.o.gate;
    const rc = this.o.config.registries.find((r) => r.name === after.registry);
    if (!rc) return undefined;
    const client = gate.client(after.registry);
    const inQuarantine = gate.isQuarantineRepository(after.registry, after.repository);
    let last: Enforcement | undefined;
    let unrecorded: unknown;
    for (const view of views) {
      const tag = view.tag;
      // The digest itself: not a child of a quarantine copy, and not while an allowed tag or a tagged index
      // that is allowed for its tag holds it (src/gate/digest-pushes.ts). No grace here: the push is past.
      if (tag === undefined && (rc.type !== 'distribution' || (await gate.isChildOfQuarantineCopy(after.registry, after.repository, after.digest)) || (await gate.heldByAllowedTag(after)) || (await gate.heldByTaggedIndex(after)))) continue;
      const now = await client.resolve(after.repository, tag ?? after.digest).catch(() => undefined);
      if (now?.digest !== after.digest) {
        // the tag moved on or is gone (the digest is gone): nothing to act on, unless an earlier pass acted
        // and failed to record it (its intent is the last record of the tag)
        const e = await this.unfinished(before, after, view);
        if (e) last = e;
        continue;
      }
      if (await gate.isRecordedQuarantineCopy(after.registry, after.repository, after.digest)) continue;
      const restoreDigest = inQuarantine || tag === undefined ? undefined : await gate.restoreTarget(after.registry, after.repository, tag, after.digest);
      const decision = inQuarantine && view.decision === 'quarantine' ? 'reject' : view.decision;
      // The intent is recorded before the registry is acted on: a store error (or a crash) after the action
      // left the tag gone and nothing recorded, and the next pass, finding the tag gone, skipped it. The
      // next pass finds the intent without its outcome and records what the registry shows ({@link unfinished}).
      await this.o.store.audit({
        actor: 'pushgate',
        action: REEVALUATING,
        registry: after.registry,
        repository: after.repository,
        digest: after.digest,
        tag,
        detail: { decision, revision: after.policy.revision, mode: view.mode, quarantineRepository: gate.quarantineRepository(after.registry, after.repository) },
      });
      const onWrite = await gate.expectOwnWrites(
        after.registry,
        plannedWrites({
          type: rc.type,
          acts: blocks(view),
          decision,
          repository: after.repository,
          digest: after.digest,
          tag,
          restoreDigest,
          quarantineRepository: gate.quarantineRepository(after.registry, after.repository),
        }),
      );
      last = await enforce({
        client,
        type: rc.type,
        repository: after.repository,
        digest: after.digest,
        tag,
        decision,
        mode: view.mode,
        quarantinePrefix: rc.quarantine.repositoryPrefix,
        restoreDigest,
        childBlocks: gate.childBlocks(after.registry, after.repository),
        harbor: gate.harborTarget(after.registry),
        quarantineLock: gate.quarantineLock(after.registry),
        // The tag was just seen pointing at the digest: linked, nothing to wait for.
        tagLink: 'awaited',
        onWrite,
      });
      // A failed write leaves the intent as the tag's last record; the other tags are still acted on.
      try {
        await this.recordActed(before, after, view, last);
      } catch (e) {
        unrecorded ??= e;
      }
    }
    if (unrecorded !== undefined) throw unrecorded;
    return last ?? { action: 'none', status: 'skipped', detail: 'no blocked tag points at this digest any more: nothing to act on' };
  }

  /**
   * Records what acting on one view did: the tag's history and the quarantine (what the registry now
   * holds, first: the notice goes through the store's outbox, and a failing write of it must not leave
   * the quarantine unrecorded, a release looks it up), the notice, and the `reevaluated:<decision>` audit
   * record, which ends the view's intent ({@link REEVALUATING}).
   * @throws PushgateError STORE when a write fails (the intent stays the view's last record).
   */
  private async recordActed(before: Verdict, after: Verdict, view: VerdictView, e: Enforcement, recovered?: string): Promise<void> {
    const tag = view.tag;
    if (e.status === 'done') {
      if (tag) await this.o.store.recordTag(after.registry, after.repository, tag, after.digest, false);
      const q = { registry: after.registry, repository: after.repository, tag: tag ?? '', digest: after.digest, quarantineRepository: this.o.gate.quarantineRepository(after.registry, after.repository) };
      // recorded after a failure: the quarantine may be recorded already (a later write failed)
      if (e.action === 'quarantine' && !(recovered && (await this.o.store.listQuarantine({ ...q, state: 'quarantined', limit: 1 })).length)) await this.o.store.recordQuarantine(q);
      if (e.action !== 'none') await this.o.notifier?.blocked({ ...withView(after, view), tags: tag ? [tag] : [], enforcement: e });
    }
    await this.o.store.audit({
      actor: 'pushgate',
      action: `reevaluated:${view.decision}`,
      registry: after.registry,
      repository: after.repository,
      digest: after.digest,
      tag,
      detail: { from: viewOf(this.o.gate.currentPolicy, before, tag).decision, revision: after.policy.revision, mode: view.mode, mapping: view.mapping, ruleSet: view.ruleSet, reasons: view.reasons.map((r) => r.rule), enforcement: e, ...(recovered ? { recovered } : {}) },
    });
  }

  /**
   * For a view whose tag (or digest) no longer points at the digest: when the view's last audit record is
   * an intent ({@link REEVALUATING}) without its outcome, an earlier pass may have acted and then failed to
   * record it. What the registry shows is recorded now: a quarantine when the quarantine repository holds
   * the digest, a delete when a reject's digest is gone from the repository, else nothing acted on.
   * @returns the enforcement recorded, or undefined when there was no unfinished intent.
   */
  private async unfinished(before: Verdict, after: Verdict, view: VerdictView): Promise<Enforcement | undefined> {
    const tag = view.tag;
    const recent = await this.o.store.listAudit(20, { registry: after.registry, repository: after.repository, digest: after.digest, ...(tag ? { tag } : {}), actions: [REEVALUATING, ...DECISIONS.map((d) => `reevaluated:${d}`)] });
    const last = recent.find((r) => (r.tag ?? undefined) === tag);
    if (last?.action !== REEVALUATING) return undefined;
    const intent = last.detail as { decision?: string; quarantineRepository?: string };
    const client = this.o.gate.client(after.registry);
    let e: Enforcement = { action: 'none', status: 'skipped', detail: 'an earlier re-evaluation was interrupted before recording its action; the registry shows none of it (the tag moved on or was deleted)' };
    if (intent.decision === 'quarantine' && intent.quarantineRepository && (await client.resolve(intent.quarantineRepository, after.digest))?.digest === after.digest) {
      e = { action: 'quarantine', status: 'done', detail: `quarantined to ${intent.quarantineRepository} by an earlier re-evaluation that failed to record it` };
    } else if (intent.decision === 'reject' && (await client.resolve(after.repository, after.digest)) === undefined) {
      e = { action: 'delete', status: 'done', detail: 'deleted by an earlier re-evaluation that failed to record it' };
    }
    await this.recordActed(before, after, view, e, `recorded after the action, by the re-evaluation of ${new Date().toISOString()}`);
    return e;
  }

  /** Tells the other replicas that the exceptions changed; a failure is logged (they catch up on their next resync). */
  private async announceExceptions(): Promise<void> {
    await this.o.store.publish('exceptions').catch((e: Error) => this.o.logger.warn({ err: e.message }, 'other replicas could not be told about the new exception'));
  }

  /** Stored exceptions (oldest first; revoked ones included, with `revokedAt`). */
  list(): StoredException[] {
    return [...this.exceptions];
  }

  /**
   * Revokes stored exception `id`: it stays listed (with who and when) but leaves the policy in force,
   * and the stored verdicts are re-evaluated in the background (an image it allowed is blocked again).
   * @throws PushgateError NOT_FOUND for an unknown id; BAD_ARGUMENT without a reason or when it was
   *   already revoked.
   */
  revokeException(actor: string, id: number, reason: string): Promise<StoredException> {
    return this.serial(async () => {
      if (!reason.trim()) throw new PushgateError('BAD_ARGUMENT', 'a revocation needs a reason (recorded in the audit log)');
      const known = this.exceptions.find((e) => e.id === id);
      if (!known) throw new PushgateError('NOT_FOUND', `no exception ${id}: ids come from GET /api/v1/exceptions`);
      if (known.revokedAt) throw new PushgateError('BAD_ARGUMENT', `exception ${id} was already revoked by ${known.revokedBy} at ${known.revokedAt}`);
      const stored = await this.o.store.revokeException(id, actor);
      if (!stored) throw new PushgateError('NOT_FOUND', `no exception ${id}`);
      this.exceptions = this.exceptions.map((e) => (e.id === id ? stored : e));
      this.o.gate.setPolicy(this.effective());
      await this.o.store.audit({ actor, action: 'exception-revoked', detail: { id, reason, owner: known.spec.owner, expires: known.expires } });
      await this.announceExceptions();
      void this.reevaluate().catch((e: Error) => this.o.logger.error({ err: e.message }, 're-evaluation failed'));
      return stored;
    });
  }

  /**
   * Validates and stores an exception, puts it in force and re-evaluates in the background.
   * @throws PushgateError BAD_ARGUMENT listing every problem of the exception, including an
   *   `expires` already in the past.
   */
  addException(actor: string, spec: ExceptionSpec): Promise<StoredException> {
    return this.serial(async () => {
      try {
        withExceptions(this.base, [spec], { now: Date.now() });
      } catch (e) {
        const problems = e instanceof ConfigError ? e.problems.map((p) => `${p.key}: ${p.message}`) : [(e as Error).message];
        throw new PushgateError('BAD_ARGUMENT', `invalid exception: ${problems.join('; ')}`, { details: { problems } });
      }
      // As in the policy file: registry globs match registries[].name, so a host spelling would apply nowhere.
      const named = typeof spec.registry === 'string' ? registriesNamedOtherwise(spec.registry, this.o.config.registries) : [];
      if (named.length) {
        const problems = [`registry: ${JSON.stringify(spec.registry)} names the configured registry ${JSON.stringify(named[0])} by host or in another case, but registry globs match registries[].name: this exception would apply to no image; write registry: ${named[0]}`];
        throw new PushgateError('BAD_ARGUMENT', `invalid exception: ${problems.join('; ')}`, { details: { problems } });
      }
      const stored = await this.o.store.addException(actor, spec as unknown as StoredException['spec']);
      this.exceptions.push(stored);
      this.o.gate.setPolicy(this.effective());
      await this.announceExceptions();
      await this.o.store.audit({ actor, action: 'exception-added', detail: { id: stored.id, reason: spec.reason, owner: spec.owner, expires: spec.expires, spec } });
      void this.reevaluate().catch((e: Error) => this.o.logger.error({ err: e.message }, 're-evaluation failed'));
      return stored;
    });
  }

  /**
   * Releases a quarantined image (see the module comment).
   * @throws PushgateError NOT_FOUND when no quarantined copy matches; BAD_ARGUMENT for a bad
   *   request; registry errors when the copy back fails (nothing is recorded then).
   */
  release(actor: string, req: ReleaseRequest): Promise<ReleaseResult> {
    return this.serial(async () => {
      const store = this.o.store;
      const gate = this.o.gate;
      const rc = this.o.config.registries.find((r) => r.name === req.registry);
      if (!rc) throw new PushgateError('NOT_FOUND', `registry "${req.registry}" is not configured (registries[].name)`);
      const [rec] = await store.listQuarantine({ registry: req.registry, repository: req.repository, tag: req.tag, digest: req.digest, state: 'quarantined', limit: 1 });
      if (!rec) throw new PushgateError('NOT_FOUND', `nothing of ${req.repository}:${req.tag}${req.digest ? `@${req.digest}` : ''} is in quarantine in ${req.registry} (GET /api/v1/quarantine lists what is)`);
      const expires = req.expires ?? new Date(Date.now() + 30 * 86_400_000).toISOString();
      const spec: ExceptionSpec = { name: `release-${rec.id}`, reason: `released from quarantine: ${req.reason}`, owner: actor, expires, digest: rec.digest, repository: rec.repository, registry: rec.registry };
      try {
        withExceptions(this.base, [spec], { now: Date.now() });
      } catch (e) {
        const problems = e instanceof ConfigError ? e.problems.map((p) => `${p.key}: ${p.message}`) : [(e as Error).message];
        throw new PushgateError('BAD_ARGUMENT', `invalid release: ${problems.join('; ')}`);
      }
      const onWrite = await gate.expectOwnWrites(rc.name, [{ repository: rec.repository, digest: rec.digest, tag: rec.tag }]);
      const result = await releaseQuarantined({
        client: gate.client(rc.name),
        type: rc.type,
        harbor: gate.harborTarget(rc.name),
        quarantineRepository: rec.quarantineRepository,
        digest: rec.digest,
        repository: rec.repository,
        tag: rec.tag,
      });
      for (const w of result.writes) await onWrite(w).catch(() => undefined);
      const exception = await store.addException(actor, spec as unknown as StoredException['spec']);
      this.exceptions.push(exception);
      gate.setPolicy(this.effective());
      await this.announceExceptions();
      await store.setQuarantineState(rec.id, 'released');
      if (rec.tag) await store.recordTag(rec.registry, rec.repository, rec.tag, rec.digest, true);
      const before = await store.getVerdict(rec.registry, rec.repository, rec.digest);
      let verdict: Verdict;
      if (before) {
        await reevaluateStored({ store, policy: gate.currentPolicy, vulndb: gate.currentVulnDb(), bases: (s) => gate.baseImages.bases(s), verdicts: [before], force: true });
        verdict = (await store.getVerdict(rec.registry, rec.repository, rec.digest)) ?? before;
      } else {
        verdict = { registry: rec.registry, repository: rec.repository, digest: rec.digest, tags: [rec.tag], decision: 'allow', complete: false, reasons: [], mode: 'enforce', policy: { name: gate.currentPolicy.name, revision: gate.currentPolicy.revision }, vulndb: { builtAt: null }, evaluatedAt: new Date().toISOString() };
      }
      // The exception covers the digest; without a stored scan this is the release itself. Every rule
      // set's raw evaluation becomes allow, so no tag's mapping derives a block from the old one.
      const released = { rule: 'released', action: 'allow' as const, message: `released from quarantine by ${actor}: ${req.reason} (exception release-${rec.id} until ${expires})` };
      const ruleSets = Object.keys(verdict.evaluations ?? {});
      for (const rs of ruleSets.length ? ruleSets : candidateRuleSets(gate.currentPolicy, verdict)) {
        const e = verdict.evaluations?.[rs];
        verdict.evaluations = { ...verdict.evaluations, [rs]: { decision: 'allow', reasons: [released, ...(e?.reasons ?? verdict.reasons)] } };
      }
      verdict.tags = [...new Set([...verdict.tags, ...(rec.tag ? [rec.tag] : [])])].sort();
      verdict.decision = 'allow';
      verdict.mode = viewOf(gate.currentPolicy, verdict, rec.tag || undefined).mode;
      verdict.reasons = [released, ...verdict.reasons];
      verdict.enforcement = { action: result.action, status: result.status, detail: result.detail };
      await store.putVerdict(verdict);
      await store.audit({
        actor,
        action: 'release',
        registry: rec.registry,
        repository: rec.repository,
        digest: rec.digest,
        tag: rec.tag,
        detail: { reason: req.reason, exception: exception.id, expires, enforcement: verdict.enforcement },
      });
      this.o.logger.info({ actor, registry: rec.registry, repository: rec.repository, tag: rec.tag, digest: rec.digest }, 'released from quarantine');
      return { verdict, exception, record: { ...rec, state: 'released' } };
    });
  }

  /**
   * Retention: deletes quarantined copies older than their registry's `quarantine.retention`
   * (records become `expired`; failures are logged and tried again on the next pass).
   */
  async pruneQuarantine(now = Date.now()): Promise<{ deleted: number; gone: number; failed: number }> {
    const out = { deleted: 0, gone: 0, failed: 0 };
    for (const rc of this.o.config.registries) {
      const keep = rc.quarantine.retentionMs;
      if (!keep) continue;
      const old = await this.o.store.listQuarantine({ registry: rc.name, state: 'quarantined', before: now - keep });
      for (const rec of old) {
        try {
          const existed = await deleteQuarantinedCopy({ client: this.o.gate.client(rc.name), type: rc.type, harbor: this.o.gate.harborTarget(rc.name), quarantineRepository: rec.quarantineRepository, digest: rec.digest });
          if (existed) out.deleted++;
          else out.gone++;
          await this.o.store.setQuarantineState(rec.id, 'expired');
          await this.o.store.audit({ actor: 'pushgate', action: 'quarantine-expired', registry: rec.registry, repository: rec.quarantineRepository, digest: rec.digest, tag: rec.tag, detail: { quarantinedAt: new Date(rec.at).toISOString(), retentionMs: keep, deleted: existed } });
        } catch (e) {
          out.failed++;
          this.o.logger.warn({ registry: rc.name, repository: rec.quarantineRepository, digest: rec.digest, err: (e as Error).message }, 'quarantine retention: delete failed; next pass tries again');
        }
      }
    }
    return out;
  }
}
