/**
 * What the store keeps for continuous monitoring (src/monitor): an index of every judged image's
 * inventory by advisory pair, its findings by advisory id and alias, monitor runs (claimed by one
 * replica, resumable from a cursor), change records and grace-period holds. Both stores implement
 * {@link MonitorStore} (`Store.monitor`).
 */
import type { Digest, Finding, Package, Verdict } from '../core/index.js';
import type { ReportPatch } from './report-patch.js';
import type { AuditRecord } from './types.js';

/** The packages of one image under one advisory pair (`<ecosystem>:<name>`, src/vulndb/digest.ts). */
export interface IndexedPackages {
  pkg: string;
  /** Platform (`linux/amd64`) for an index's child, else absent. */
  platform?: string;
  /** The OS release of that platform (for OS ecosystems: `Debian:12`). */
  os?: { id: string; versionId?: string; ecosystem?: string };
  /**
   * For an image of one platform indexed from its stored scan: that platform's manifest digest (the
   * image's own, or its child's in an index of one platform). Absent for indexes made before it existed,
   * multi-platform images and images without a stored scan: a database pass then judges them in full.
   */
  manifest?: Digest;
  /** With `manifest`: the judgement attributed a base to the platform (its findings carry an origin). */
  based?: true;
  packages: Package[];
}

/**
 * A distinct `image_packages` row under one pair ({@link MonitorStore.packageGroupsUnder}) and the images
 * whose row it is. The entries listed in `own` hold each image's own digest as `manifest` (the store
 * left it blank, `''`, to group the rows): {@link entriesOf} puts it back. Entries and their packages
 * are shared by every image of the group: read-only.
 */
export interface PackageGroup {
  pkg: string;
  entries: IndexedPackages[];
  /** Indexes into `entries` of those whose manifest is each image's own digest (blank here). */
  own: number[];
  digests: Digest[];
}

/** An image's entries of a {@link PackageGroup}: its own digest put back where the group left it blank. */
export function entriesOf(g: PackageGroup, digest: Digest): IndexedPackages[] {
  if (!g.own.length) return g.entries;
  return g.entries.map((e, i) => (g.own.includes(i) ? { ...e, manifest: digest } : e));
}

/** A distinct stored finding row under one pair ({@link MonitorStore.findingGroupsUnder}) and the images holding it. */
export interface FindingGroup {
  finding: IndexedFinding;
  digests: Digest[];
}

/** One finding of one image, as indexed. */
export interface IndexedFinding {
  /** Identity within the image: package instance (name, version, path, platform) and advisory id. */
  key: string;
  /** Advisory pair the package is looked up under (src/vulndb/keys.ts), `''` when unknown. */
  pkg: string;
  finding: Finding;
  /** When the image first had this finding, ms since the epoch (kept across re-judgements). */
  firstSeen?: number;
}

/**
 * Makes an {@link IndexedFinding} of a stored `image_findings` row's columns (`first_seen` in ms since
 * the epoch, `body` the finding's JSON text). One made by `findingParser()` (store index) parses each
 * distinct body once and gives rows of equal bodies one shared finding object (read-only: callers copy
 * to change one), for as long as the caller keeps it: a monitor pass keeps one for all its reads, so
 * the findings its images share are parsed, and their texts and signature lines made, once per pass
 * rather than once per chunk. Its memory grows with the distinct bodies it has seen.
 */
export type FindingParser = (key: string, pkg: string, firstSeen: number, body: string) => IndexedFinding;

/** The index of one image: its packages by advisory pair and its findings. */
export interface ImageIndex {
  digest: Digest;
  /** Content digest of the vulnerability database the findings come from; null when unknown. */
  vulndbDigest: string | null;
  /** `created_at` of the stored report this was built from (ms), so a newer report is indexed again. */
  reportAt: number;
  /** Undefined: the stored packages stay (a re-judgement of the same scan). */
  packages?: IndexedPackages[];
  findings: IndexedFinding[];
  /**
   * The stored findings this index replaces and their stored signature, as read together
   * ({@link MonitorStore.findingsAndSignatures}). When the image's stored signature is still `sig` at the
   * write, the stored rows are these: the store computes what to write from them instead of reading the
   * rows again; otherwise (another writer came between) it reads them.
   */
  stored?: { sig: string; findings: IndexedFinding[] };
}

/** Kind of a monitor run: after a database change (`db:<digest>`) or a full pass (`all:<n>`). */
export type MonitorRunKind = 'db' | 'all';

/** A monitor run as stored. */
export interface MonitorRun {
  id: string;
  kind: MonitorRunKind;
  /** The vulnerability database it judges with. */
  vulndbDigest: string | null;
  state: 'running' | 'done';
  owner: string | null;
  /** Lease end, ms since the epoch: another replica may take the run over after it. */
  leaseUntil: number;
  /** The last image digest finished (images are handled in digest order). */
  cursor: string;
  startedAt: number;
  finishedAt: number | null;
  stats: Record<string, unknown> | null;
}

/**
 * A change record: what a re-judgement changed for one image in one repository. Findings are
 * compared by package instance and advisory id (any shared id or alias is the same vulnerability).
 */
export interface ChangeRecord {
  registry: string;
  repository: string;
  digest: Digest;
  tags: string[];
  /** The monitor run that produced it. */
  run: string;
  at: string;
  vulndb: { before: string | null; after: string | null };
  policy: { before: string; after: string };
  decision: { before: string; after: string };
  /** The mapping's `onNewFindings` that was applied, and what it did. */
  onNewFindings?: { action: string; effect: string; enforceAfter?: string };
  new: Finding[];
  resolved: Finding[];
  severityChanged: Array<{ id: string; package: string; installedVersion: string; before: string; after: string }>;
}

/**
 * What a pass read of one image's stored judgement, so the write of its re-judgement can tell whether
 * another writer (a push, admission, a rescan, another pass) judged the image again meanwhile
 * ({@link MonitorStore.verdictsWithMarks}, {@link MonitorStore.commitBatch}).
 */
export interface ReadMarks {
  digest: Digest;
  /**
   * The stored report's write number when read (`reports.write_seq`, migration 19, as text: SQLite's
   * MAX + 1, PostgreSQL's writing transaction id); null when no report was stored.
   */
  report: string | null;
  /** Every stored verdict of the digest when read (any repository), with its write number (`updated_seq`). */
  verdicts: Array<{ registry: string; repository: string; seq: number }>;
}

/** One image's re-judgement, written in one transaction with the run's cursor. */
export interface Rejudgement {
  run: { id: string; owner: string; cursor: string; leaseMs: number };
  /**
   * The stored state this re-judgement was made from: the image's marks first, then those of children
   * whose verdicts it rewrites. When present, nothing of it is written if the stored report or verdicts
   * of any of them moved since (another writer's judgement is newer and stands); absent: written as is.
   */
  read?: ReadMarks[];
  verdicts: Verdict[];
  changes: ChangeRecord[];
  audits: Array<Omit<AuditRecord, 'seq' | 'at'>>;
  /** The report written whole (clears a patch). */
  report?: { digest: Digest; body: unknown };
  /**
   * The report's re-judged fields laid over the stored report (src/store/report-patch.ts); for an image
   * whose stored report exists ({@link MonitorStore.reportKeys}). Not with `report`.
   */
  reportPatch?: ReportPatch;
  index?: ImageIndex;
  /** Grace-period holds to set (`dueAt` ms) or clear (`dueAt` null). */
  holds?: Array<{ registry: string; repository: string; digest: Digest; dueAt: number | null }>;
  /** Notices to deliver once this is written (the outbox: {@link MonitorStore.claimOutbox}). */
  notices?: unknown[];
}

/** One undelivered notice of the outbox. */
export interface OutboxNotice {
  seq: number;
  body: unknown;
}

/**
 * Several images' outcomes of one pass, written in one transaction with the run's cursor (the last
 * digest of the batch: images are handled in digest order, so a pass that dies resumes after it).
 */
export interface RejudgementBatch {
  run: Rejudgement['run'];
  /** Images whose re-judgement changed something: written as {@link MonitorStore.commit} does. */
  rejudged: Array<Omit<Rejudgement, 'run'>>;
  /** Images judged again without a change: only marked as judged by `vulndbDigest`. */
  unchanged: Digest[];
  /**
   * The marks of `unchanged` images as read ({@link ReadMarks}): an image whose stored report or
   * verdicts moved since is not marked (its index follows the newer report at the next catch-up).
   */
  unchangedRead?: ReadMarks[];
  vulndbDigest: string | null;
}

/** A batch written ({@link MonitorStore.commitBatch}). */
export interface BatchWritten {
  /**
   * Images left unwritten because their stored report or verdicts moved since the pass read them (a
   * re-judged image is named by its first {@link ReadMarks}), in batch order.
   */
  superseded: Digest[];
}

/** One stored image with a finding of an advisory (the affected-images query). */
export interface AffectedImage {
  digest: Digest;
  finding: Finding;
  firstSeen: number;
}

/** Which page of the affected-images query: digests after `after`, at most `limit` of them (≥ 1). */
export interface AffectedPageRequest {
  after?: Digest;
  limit: number;
}

/** Monitoring persistence; every method may reject with PushgateError STORE. */
export interface MonitorStore {
  /**
   * Digests whose stored report is newer than their index (or not indexed), with the report's time
   * (`created_at`, ms), among the reports written at or after `mark`, in write order, at most `limit`.
   *
   * `mark` is a position in the store's own numbering of report writes (migration
   * `report-write-seq-and-index-mark`: SQLite numbers each write MAX + 1 under its single writer;
   * PostgreSQL records the writing transaction's id, xid8); 0 reads from the first. `next` is the
   * mark for the next call: every report written below it was either returned here or not stale when
   * read, including reports of transactions that commit after later ones (PostgreSQL: `next` is at
   * most the read's snapshot xmin, below which every transaction has ended). A `mark` the store
   * cannot have given (beyond its newest write, e.g. after a restore into another PostgreSQL cluster)
   * reads from the first.
   */
  staleIndexes(mark: number, limit: number): Promise<{ stale: Array<{ digest: Digest; reportAt: number }>; next: number }>;
  /** The catch-up mark saved by {@link saveIndexMark}, 0 when none (a new or migrated store). */
  indexMark(): Promise<number>;
  /**
   * Saves the catch-up mark (every report written below it was indexed), unless a higher one is saved:
   * replicas move it forward only (a saved mark the store cannot have given is replaced).
   */
  saveIndexMark(mark: number): Promise<void>;
  /** Replaces the index of one image (first-seen times of findings that stay are kept). */
  putIndex(index: ImageIndex): Promise<void>;
  /** {@link putIndex} of several images in one transaction (an image named twice: its last index). */
  putIndexes(indexes: ImageIndex[]): Promise<void>;
  /** The vulnerability database digest of every indexed image. */
  indexStates(): Promise<Map<Digest, string | null>>;
  /** The indexed packages under any of `pkgs`, with their image. */
  packagesUnder(pkgs: string[]): Promise<Array<{ digest: Digest; entry: IndexedPackages }>>;
  /**
   * The indexed packages under any of `pkgs` as their distinct stored rows, each once with every image
   * whose row it is: a database pass compares each distinct package instance once, and images built
   * alike hold a pair's row alike but for their own digest in `manifest`. One query, grouped by the store
   * (a row's text is neither sent nor parsed once per image). Every image holds at most one row per pair.
   */
  packageGroupsUnder(pkgs: string[]): Promise<PackageGroup[]>;
  /**
   * The indexed packages under any of `pkgs` of the first `page.limit` images (digest order, the store's
   * text order) whose digest sorts after `page.after` (all when absent); `more`: images after the last
   * one returned hold packages under them too. One query on the `(pkg, digest)` key.
   */
  packagesPage(pkgs: string[], page: AffectedPageRequest): Promise<{ rows: Array<{ digest: Digest; entry: IndexedPackages }>; more: boolean }>;
  /** Every indexed package of one image. */
  packagesOf(digest: Digest): Promise<IndexedPackages[]>;
  /**
   * The indexed findings under any of `pkgs`, with their image. `parse`: the parser rows are made with
   * (a caller's, kept across reads so they share finding objects); absent, one for this call.
   */
  findingsUnder(pkgs: string[], parse?: FindingParser): Promise<Array<{ digest: Digest } & IndexedFinding>>;
  /**
   * The indexed findings under any of `pkgs` as their distinct (pair, key, body) rows, each once with
   * every image holding it (an image once per row). One query, grouped by the store; the finding objects
   * are made by `parse` as {@link findingsUnder}'s (`firstSeen` is 0: the rows of a group differ in it).
   */
  findingGroupsUnder(pkgs: string[], parse?: FindingParser): Promise<FindingGroup[]>;
  /** Every indexed finding of one image. */
  findingsOf(digest: Digest): Promise<IndexedFinding[]>;
  /** Every indexed finding of each of `digests` (one query per chunk; digests without any are absent). */
  findingsOfMany(digests: Digest[]): Promise<Map<Digest, IndexedFinding[]>>;
  /**
   * {@link findingsOfMany} with the signature the index holds for each image's findings (absent: none
   * kept), both read in one snapshot, so the signature is that of these rows: an index written with them
   * as {@link ImageIndex.stored} need not read them again. `parse` as for {@link findingsUnder}.
   */
  findingsAndSignatures(digests: Digest[], parse?: FindingParser): Promise<{ findings: Map<Digest, IndexedFinding[]>; signatures: Map<Digest, string> }>;
  /**
   * The signature of each image's stored findings (`findingSetSignature` of the findings its index was
   * last written with); images indexed before signatures were kept, or not indexed, are absent.
   */
  findingSignatures(digests: Digest[]): Promise<Map<Digest, string>>;
  /** Stored layer-cache bodies (as `Store.getLayer`) of `keys`, parsed; keys not stored are absent. */
  layersOf(keys: string[]): Promise<Map<string, unknown>>;
  /** Which of `keys` the layer cache holds (no body read). */
  layerKeys(keys: string[]): Promise<Set<string>>;
  /** Which of `digests` have a stored report (no body read). */
  reportKeys(digests: Digest[]): Promise<Set<Digest>>;
  /**
   * Marks the images of `digests` that are indexed at database `from` as indexed at `to` (a database
   * pass's images the change cannot touch: their findings do not change); an image of the list indexed
   * at another database since is left as it is. Returns how many moved.
   */
  moveIndexes(from: string | null, to: string, digests: Digest[]): Promise<number>;
  /**
   * One page of the images with a finding whose id or an alias is `id` (any case: ids are matched
   * upper-cased): the findings of at most `limit` images whose digest sorts after `after` (all when
   * absent), in digest order (the store's text order), each image's findings in finding-key order.
   * One query on the `(alias, digest)` key, so the work is bounded by `limit`, not by how many images
   * hold the advisory. `more`: images after the last one returned exist.
   */
  affectedBy(id: string, page: AffectedPageRequest): Promise<{ hits: AffectedImage[]; more: boolean }>;
  /** The verdicts of these digests (every repository). */
  verdictsOf(digests: Digest[]): Promise<Verdict[]>;
  /**
   * {@link verdictsOf} with the {@link ReadMarks} of every digest (its report's and verdicts' write
   * numbers), read in one snapshot with the verdicts, so a write that lands after this read moves a mark.
   */
  verdictsWithMarks(digests: Digest[]): Promise<{ verdicts: Verdict[]; marks: Map<Digest, ReadMarks> }>;

  /**
   * Claims a run for `leaseMs`: creates it, or takes it over when its owner's lease ended (or `owner`
   * holds it). Atomic across replicas. @returns the run, or undefined when it is done or another owner
   * holds an unexpired lease.
   */
  claimRun(id: string, kind: MonitorRunKind, vulndbDigest: string | null, owner: string, leaseMs: number, now: number): Promise<MonitorRun | undefined>;
  getRun(id: string): Promise<MonitorRun | undefined>;
  /**
   * Runs, newest first. `resumableBy`: only runs still `running` whose lease ended, on the database's clock
   * (PostgreSQL `now()`; SQLite: `resumableBy.now`, the one process's clock), or that `resumableBy.owner` holds:
   * the runs that owner may resume ({@link claimRun} decides on the same clock).
   */
  listRuns(limit: number, filter?: { kind?: MonitorRunKind; state?: MonitorRun['state']; resumableBy?: { owner: string; now: number } }): Promise<MonitorRun[]>;
  /** Marks a run done (only by its owner; false when the claim was lost). */
  finishRun(id: string, owner: string, stats: Record<string, unknown>, now: number): Promise<boolean>;
  /**
   * Writes one image's re-judgement and moves the run's cursor, in one transaction, only while `owner`
   * holds the run (false and nothing written otherwise). Verdicts are written as putVerdict does.
   */
  commit(r: Rejudgement, now: number): Promise<boolean>;
  /**
   * Marks images as judged by `vulndbDigest` without other writes (their findings and decisions did not
   * change) and moves the run's cursor, in one transaction, only while `owner` holds the run.
   */
  markJudged(run: Rejudgement['run'], digests: Digest[], vulndbDigest: string | null, now: number): Promise<boolean>;
  /**
   * {@link commit} of every re-judged image and {@link markJudged} of the unchanged ones of a batch, in
   * one transaction with the cursor, only while `owner` holds the run (false and nothing written
   * otherwise). Rows of one kind are written together (multi-row statements on PostgreSQL), so the cost
   * per image is a share of a few statements rather than a dozen round trips and a commit.
   *
   * Newer judgements win: inside the transaction, before anything else is written, every image with
   * {@link Rejudgement.read} (or in {@link RejudgementBatch.unchangedRead}) whose stored report or
   * verdicts moved since those marks were read is dropped from the batch (no verdict, report or patch,
   * index, change record, audit, hold or notice of it) and named in `superseded`. PostgreSQL locks the
   * report rows of re-judged images (digest order), then their verdict rows (registry, repository, digest
   * order), `FOR UPDATE`, so a putReport/putVerdict either committed before the check (and is seen) or
   * waits for the batch (and is written after it); SQLite's single writer gives the same. Unchanged images
   * are checked without a lock (a full pass holds thousands): a report committed after the check is newer
   * than the index, so the catch-up indexes it again under its own database. Limit: a report absent when
   * read and inserted by a transaction still uncommitted at the check is not seen (an indexed image always
   * has a report, and reports are not deleted).
   * @returns false when the claim was lost (nothing written), else what was left unwritten.
   */
  commitBatch(b: RejudgementBatch, now: number): Promise<false | BatchWritten>;
  /**
   * Claims up to `limit` undelivered notices (oldest first) for `leaseMs`: rows no owner holds or whose
   * lease ended. Atomic across replicas (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
   */
  claimOutbox(owner: string, limit: number, leaseMs: number, now: number): Promise<OutboxNotice[]>;
  /**
   * Adds notices to the outbox on their own (the gate's notices of an enforced quarantine or reject,
   * written before the event that enforced is completed, so a process killed before delivering them
   * leaves them to {@link MonitorStore.claimOutbox}). `at`: ms since the epoch.
   * @throws PushgateError STORE when the store cannot write (the caller's event is then tried again).
   */
  addOutbox(bodies: unknown[], at: number): Promise<void>;
  /** Removes delivered notices (only those `owner` holds). */
  outboxDone(owner: string, seqs: number[]): Promise<void>;
  /** Change records of a digest (every repository), newest first. */
  listChanges(digest: Digest, limit: number): Promise<ChangeRecord[]>;
  /**
   * Grace-period holds due at or before `now` (ms since the epoch), and those due after `latest` (ms;
   * default: none): a hold due later than the longest grace of the policy in force allows was set by a
   * clock that has since been set back, or under a longer grace, and must not outlast that grace
   * (src/monitor/on-new-findings.ts `holdLatestDue`). Oldest due first.
   */
  dueHolds(now: number, latest?: number): Promise<Array<{ registry: string; repository: string; digest: Digest; dueAt: number }>>;
}
