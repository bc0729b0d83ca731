/**
 * Manifests as pullable by digest. Every manifest in a repository is pullable as `repository@digest`,
 * whatever tags it has, so pushgate acts on a blocking digest itself, not only on its tags. This room
 * answers the questions that decides on, for push events and re-evaluation alike:
 *  - the verdict of a digest under the policy in force ({@link DigestPushes.currentView});
 *  - which earlier digest a blocked tag may be restored to ({@link DigestPushes.restoreTarget}): only one
 *    that is allowed for the tag now, never one that merely was;
 *  - whether a tag or a tagged index still holds a blocking digest ({@link DigestPushes.heldByAllowedTag},
 *    {@link DigestPushes.heldByTaggedIndex}): removing it by digest would break what the policy allows;
 *  - whether a blocking manifest pushed by digest only is still in its grace
 *    ({@link DigestPushes.graceLeftMs}): clients push an index's children by digest before the index
 *    (OCI distribution spec, "Pushing Manifests": a manifest's referenced manifests must exist first), so
 *    removing a blocking child at once makes the index PUT fail with MANIFEST_BLOB_UNKNOWN. Within the
 *    grace, an index that names the child takes it over: the child is judged with the index and leaves
 *    the repository with it. The grace counts from the first event of the digest in the repository, so
 *    pushing the same digest again never buys more time, and the deferred action is a queued event in
 *    the store (it survives restarts, like all pending work);
 *  - what to re-judge when a hold ends ({@link DigestPushes.recheckTargets}): a hold is a point-in-time
 *    answer, so when a tag moves off a digest, or an index that named children is deleted, the gate
 *    queues a re-check event of each blocking digest it left (and of an index's blocking children).
 *    That event runs the same enforcement by digest as a push by digest only, with the grace still
 *    counted from the digest's first event (no new grace).
 */
import type { Digest, Verdict } from '../core/index.js';
import type { ChildBlocks } from '../enforce/index.js';
import type { CompiledPolicy } from '../policy/index.js';
import type { RegistryClient } from '../registry/client.js';
import { parseManifestDocument } from '../core/manifest-parse.js';
import type { ImageScan, PlatformScan } from '../scan/engine.js';
import type { Store } from '../store/index.js';
import type { VulnDb } from '../vulndb/index.js';
import { storedReferrerVex } from './referrer-vex.js';
import { judgeScan, type PlatformBase } from './judge.js';
import type { AuditEntry } from './types.js';
import { blocks, viewOf, type VerdictView } from './verdict-view.js';

/** Newest verdicts of a repository looked at for a tagged index that names a digest. */
const INDEX_CANDIDATES = 200;
/** Digests a restore looks at, newest first, for one it may write back. */
const RESTORE_CANDIDATES = 20;

/** What the room needs of the gate. */
export interface DigestPushesHost {
  store: Store;
  policy(): CompiledPolicy;
  vulndb(): VulnDb | undefined;
  client(registry: string): RegistryClient;
  audit(entry: AuditEntry): Promise<void>;
  /** Store key of the complete whole-image scan of a digest. */
  scanKey(digest: Digest): string;
  /** `enforcement.untaggedGrace`, ms. */
  untaggedGraceMs: number;
  /** The base of each platform (the gate's catalog), so a re-judgement attributes as the first judgement did. */
  bases?: (scan: ImageScan) => Promise<Map<PlatformScan, PlatformBase>>;
}

/**
 * Times an event pushed by digest only is put back to wait for the end of its grace, after which the
 * grace is over whatever the store's clock says. The grace is measured on the store's clock from the
 * digest's first event: a clock set back (a failover to a host whose clock lags, a corrected clock) read
 * that age as 0 at every claim for as long as the step, so the blocked manifest stayed pullable by
 * digest, put back every grace, for that long (an hour's step: an hour). With a clock that does not
 * step one hand-back ends the grace (the event is due when it ends), two when the claim comes a few
 * milliseconds early; the cap leaves room for both and bounds a stepped clock's wait to three graces.
 */
export const GRACE_HAND_BACKS = 3;

/**
 * How long an event pushed by digest only still waits for its grace: `graceMs - ageMs` (never below 0),
 * and 0 once it was put back {@link GRACE_HAND_BACKS} times (`handBacks`), whatever its age says.
 * All in ms; `ageMs` on the store's clock (may read 0 for as long as that clock was set back).
 */
export function graceWaitMs(graceMs: number, ageMs: number, handBacks: number): number {
  if (graceMs <= 0 || handBacks >= GRACE_HAND_BACKS) return 0;
  return Math.max(0, graceMs - ageMs);
}

/**
 * Thrown by the gate instead of acting on a blocking manifest while it must wait: a manifest pushed by
 * digest only while its grace lasts, or a tagged push whose tag the registry has not linked yet
 * (src/gate/tag-links.ts). The queue worker puts the event back, due then (attempt refunded), so no
 * worker sleeps meanwhile. The verdict (blocking: admission denies the digest) is stored before it is thrown.
 */
export class DeferredEnforcement extends Error {
  constructor(
    /** Milliseconds until the event is due again. */
    readonly waitMs: number,
    message: string,
    /**
     * Counted with the event (`Store.retry` `linkHandBack`, `QueuedEvent.linkHandBacks`): a wait for the
     * pushed tag's link (src/gate/tag-links.ts) or for the grace of a push by digest only
     * ({@link GRACE_HAND_BACKS}); the count bounds either wait however the store's clock steps. An event
     * waits for one or the other, never both (the link only with a tag, the grace only without).
     */
    readonly counted = false,
  ) {
    super(message);
    this.name = 'DeferredEnforcement';
  }
}

/** See the module comment. */
export class DigestPushes {
  constructor(private readonly h: DigestPushesHost) {}

  /**
   * Milliseconds left of the grace of `repository@digest` (0: over, or no grace configured), counted
   * from the first event of that manifest in the store ({@link Store.manifestAgeMs}); a manifest with
   * no event (an admission or API assessment) has its whole grace left. 0 too once the event was put
   * back `handBacks` times ({@link graceWaitMs}).
   */
  async graceLeftMs(registry: string, repository: string, digest: Digest, handBacks = 0): Promise<number> {
    const grace = this.h.untaggedGraceMs;
    if (grace <= 0 || handBacks >= GRACE_HAND_BACKS) return 0;
    return graceWaitMs(grace, (await this.h.store.manifestAgeMs(registry, repository, digest)) ?? 0, handBacks);
  }

  /**
   * The view of `v` for `tag` under the policy in force, judged again from its stored scan when it was
   * judged by another policy revision (its stored evaluations may say allow for a rule that blocks now).
   * undefined when that is needed and no complete scan is stored.
   */
  async currentView(v: Verdict, tag?: string): Promise<VerdictView | undefined> {
    const policy = this.h.policy();
    if (v.policy.revision === policy.revision && v.evaluations) return viewOf(policy, v, tag);
    const scan = (await this.h.store.getLayer(this.h.scanKey(v.digest))) as ImageScan | undefined;
    if (!scan) return undefined;
    const referrerVex = await storedReferrerVex(this.h.store, v.digest, policy);
    const j = judgeScan(scan, this.h.vulndb(), policy, { registry: v.registry, repository: v.repository }, { ...(this.h.bases ? { bases: await this.h.bases(scan) } : {}), ...(referrerVex ? { referrerVex } : {}) });
    return viewOf(policy, { ...v, complete: j.report.complete, evaluations: j.raw }, tag);
  }

  /**
   * The digest `repository:tag` may be restored to after `blocked` is removed: the newest digest pushgate
   * allowed for the tag before (tag history) whose CURRENT verdict, under the policy in force, allows it
   * for the tag ({@link currentView}). A digest allowed then but blocking now (a policy or database
   * change, judged or not yet re-judged) is passed over and the audit (`restore-passed-over`) says why;
   * none left: undefined, and the tag stays absent. Looks at most 20 candidates.
   */
  async restoreTarget(registry: string, repository: string, tag: string, blocked: Digest): Promise<Digest | undefined> {
    const passed: Array<{ digest: Digest; why: string }> = [];
    let chosen: Digest | undefined;
    for (const d of await this.h.store.allowedForTag(registry, repository, tag, blocked, RESTORE_CANDIDATES)) {
      const v = await this.h.store.getVerdict(registry, repository, d);
      const view = v ? await this.currentView(v, tag) : undefined;
      if (!view) passed.push({ digest: d, why: v ? 'no stored scan to judge it again under the policy in force' : 'no verdict' });
      else if (view.decision === 'allow' || view.decision === 'warn') {
        chosen = d;
        break;
      } else passed.push({ digest: d, why: `its verdict for ${tag} is ${view.decision} (${view.mode}) under the policy in force` });
    }
    if (passed.length) {
      await this.h.audit({ actor: 'pushgate', action: 'restore-passed-over', registry, repository, digest: blocked, tag, detail: { passedOver: passed, restoreTo: chosen ?? null } });
    }
    return chosen;
  }

  /**
   * A tag of `v` that still points at its digest (asked of the registry) and whose own mapping does not
   * block it (e.g. a `warn` mapping), if any: then the digest is not removed by digest (that would delete
   * the tag with it), as at the tag's own push. undefined when no such tag holds it.
   */
  async heldByAllowedTag(v: Verdict): Promise<string | undefined> {
    const policy = this.h.policy();
    for (const t of v.tags) {
      if (blocks(viewOf(policy, v, t))) continue;
      const now = await this.h.client(v.registry).resolve(v.repository, t).catch(() => undefined);
      if (now?.digest === v.digest) return t;
    }
    return undefined;
  }

  /**
   * A tagged index of `v`'s repository that names `v`'s digest and is allowed for its tag, if any:
   * a tag of the index still points at it (asked of the registry) and the index's verdict under that
   * tag's mapping does not block (as stored: a re-evaluation re-judges the index itself and takes its
   * blocking children along when it blocks now). Then the digest stays (removing it would break an index the policy
   * allows); a blocking index takes its blocking children with it when it is enforced, so it holds
   * nothing. An index pushed by digest only holds nothing either (it has its own grace and leaves with
   * its blocking children). Candidates: the newest {@link INDEX_CANDIDATES} verdicts of the repository
   * that have tags; an index names the digest when it is among the index's {@link judgedChildren}.
   */
  async heldByTaggedIndex(v: Verdict): Promise<{ tag: string; index: Digest } | undefined> {
    const policy = this.h.policy();
    const client = this.h.client(v.registry);
    const candidates = (await this.h.store.listVerdicts({ registry: v.registry, repository: v.repository, limit: INDEX_CANDIDATES })).filter((c) => c.digest !== v.digest && c.tags.length > 0);
    for (const c of candidates) {
      const allowedTags = c.tags.filter((t) => !blocks(viewOf(policy, c, t)));
      if (!allowedTags.length) continue;
      if (!(await this.judgedChildren(v.registry, v.repository, c.digest)).includes(v.digest)) continue;
      for (const t of allowedTags) {
        const now = await client.resolve(v.repository, t).catch(() => undefined);
        if (now?.digest === c.digest) return { tag: t, index: c.digest };
      }
    }
    return undefined;
  }

  /**
   * The platform manifests the index `digest` names as pushgate judged it, the one list that both decides
   * a hold ({@link heldByTaggedIndex}) and finds what to re-check when the index is gone
   * ({@link recheckTargets}): its stored scan's platforms; else its stored report's `manifests`, which is
   * kept for every judgement, an incomplete one too, and outlives the index's deletion (none when the
   * judgement read no child: an index past `scan.limits.manifestsPerIndex` holds nothing); else (no
   * report stored) the index as the registry serves it now, read as the registry and runtimes read it
   * ({@link parseManifestDocument}: a document that is no index, a Docker manifest carrying a
   * `manifests` key beside its layers too, names nothing). The holder relation was read from
   * the registry's manifest for an index without a stored scan (an incomplete one), and once a pusher
   * deleted that index the re-check found neither: the blocking child it had held stayed for good.
   * @returns child manifest digests, `digest` itself left out; [] for a manifest that is no index.
   */
  async judgedChildren(registry: string, repository: string, digest: Digest): Promise<Digest[]> {
    const scan = (await this.h.store.getLayer(this.h.scanKey(digest))) as ImageScan | undefined;
    let children: Array<string | undefined>;
    if (scan) children = scan.platforms.map((p) => p.manifestDigest);
    else {
      const report = await this.h.store.getReport(digest);
      // A report without `manifests` is a judgement that read none of the children (an index past
      // scan.limits.manifestsPerIndex, a manifest that could not be read): it vouches for none of them.
      if (report) children = (report.manifests ?? []).map((m) => m.digest);
      else {
        const m = await this.h.client(registry).getManifest(repository, digest).catch(() => undefined);
        let doc: ReturnType<typeof parseManifestDocument> | undefined;
        try {
          doc = m ? parseManifestDocument(m.bytes, m.mediaType) : undefined;
        } catch {
          doc = undefined;
        }
        children = doc?.kind === 'index' ? doc.index.manifests.map((d) => d.digest) : [];
      }
    }
    return [...new Set(children.filter((d): d is Digest => !!d && d !== digest))];
  }

  /**
   * What to re-judge for enforcement by digest after a tag left the digests `left`, or the index manifests
   * `left` were deleted: a tag or a tagged index that held a blocking digest ({@link heldByAllowedTag},
   * {@link heldByTaggedIndex}) holds it no longer, and nothing else would look at it again. Each digest of
   * `left` that has a stored verdict and, for an index, the platform manifests it names ({@link judgedChildren}:
   * the list a hold was decided on, read from the store, so an index deleted already still names them), that have a stored verdict which blocks by digest under the policy in
   * force ({@link currentView}; a verdict that cannot be judged again for want of a stored scan counts:
   * its event decides). In order, without repeats. Children without a verdict are left out: their own
   * push event decides.
   */
  async recheckTargets(registry: string, repository: string, left: Digest[]): Promise<Digest[]> {
    const out = new Set<Digest>();
    for (const d of left) {
      // Only manifests pushgate judged (a blob delete also comes as a delete event).
      if (!(await this.h.store.getVerdict(registry, repository, d))) continue;
      const candidates = [d, ...(await this.judgedChildren(registry, repository, d))];
      for (const c of candidates) {
        if (!c || out.has(c)) continue;
        const v = await this.h.store.getVerdict(registry, repository, c);
        if (!v) continue;
        const view = await this.currentView(v);
        if (!view || blocks(view)) out.add(c);
      }
    }
    return [...out];
  }

  /**
   * Whether a child manifest of a blocked index in `repository` blocks by its own verdict, as seen from
   * its digest under the policy in force; undefined without a verdict (its own push event decides).
   */
  childBlocks(registry: string, repository: string): ChildBlocks {
    return async (digest) => {
      const v = await this.h.store.getVerdict(registry, repository, digest);
      if (!v) return undefined;
      const view = await this.currentView(v);
      return view ? blocks(view) : undefined;
    };
  }
}
