/**
 * The store: durable event queue, verdicts, scan reports, layer analyses, tag history and the
 * audit log. SQLite (embedded default, WAL, synchronous=FULL) or PostgreSQL (several replicas
 * share one queue: claims use FOR UPDATE SKIP LOCKED). Both implement {@link Store}.
 */
import type { Digest, PushEvent, ScanReport, Verdict } from '../core/index.js';
import type { BaseCatalogStore } from './base-catalog-types.js';
import type { MonitorStore } from './monitor-types.js';
import type { WorkloadStore } from './workloads.js';
import type { ClusterStateStore } from './cluster-state.js';

/** A queued event as stored. */
export interface QueuedEvent {
  /** Store-assigned sequence number. */
  seq: number;
  event: PushEvent;
  attempts: number;
  lastError?: string;
  /**
   * Milliseconds since pushgate stored the event (`events.created_at`), on the store's clock at the
   * claim (PostgreSQL's `now()`; SQLite's one process): never a time the sender wrote. 0 when negative.
   */
  ageMs: number;
  /**
   * How many times the event went back to the queue to wait for its tag's link (`Store.retry` with
   * `linkHandBack`), over every claim, restart and replica: bounds that wait when the store's clock
   * steps (src/gate/tag-links.ts).
   */
  linkHandBacks: number;
}

/** How {@link Store.retry} puts a claimed event back. */
export interface RetryRequest {
  /** Why (kept as `last_error`, first 2,000 characters). */
  error: string;
  /** Due again after this many ms (store clock). */
  retryInMs: number;
  /** Default `queued`. */
  state?: 'queued' | 'blocked-on-registry' | 'failed';
  /** Give the claim's attempt back. */
  refund?: boolean;
  /** One more hand-back to wait for the event's tag link ({@link QueuedEvent.linkHandBacks}). */
  linkHandBack?: boolean;
}

/**
 * States of a queued event other than `done`: `queued` (due at its time), `running` (leased by a
 * worker), `blocked-on-registry` (outlived its retry budget while the registry did not answer;
 * resumed when it does), `failed` (no retry can fix it: a manifest pushgate cannot read).
 */
export type QueueState = 'queued' | 'running' | 'blocked-on-registry' | 'failed';

/** Every {@link QueueState}, in display order. */
export const QUEUE_STATES: readonly QueueState[] = ['queued', 'running', 'blocked-on-registry', 'failed'];

/** One audit record as stored. */
export interface AuditRecord {
  seq: number;
  at: string;
  actor: string;
  action: string;
  registry?: string;
  repository?: string;
  digest?: string;
  tag?: string;
  detail?: Record<string, unknown>;
}

/**
 * Filters of {@link Store.listAudit}: each given field must equal the record's (AND). Applied in the
 * store's query, before its limit.
 */
export type AuditFilter = Partial<Pick<AuditRecord, 'actor' | 'action' | 'registry' | 'repository' | 'digest' | 'tag'>> & {
  /** Only records with `seq` below this (the `seq` of the previous page's last record: keyset paging). */
  beforeSeq?: number;
  /** Only records whose action is one of these (AND with `action`). */
  actions?: string[];
  /** Only records at or after this instant (ISO 8601, compared as stored: UTC `…Z` strings). */
  since?: string;
};

/** One group of {@link Store.countAuditRules}. */
export interface AuditRuleCount {
  /** `YYYY-MM-DD` or `YYYY-MM-DDTHH` (UTC). */
  bucket: string;
  registry: string | null;
  rule: string | null;
  count: number;
}

/** A VEX document added through the admin API (OpenVEX, CycloneDX VEX or CSAF VEX, src/policy/vex.ts). */
export interface StoredVexDocument {
  id: number;
  /** When it was added (ISO 8601). */
  at: string;
  /** Who added it (the JWT subject). */
  actor: string;
  /** The document's author (OpenVEX `author`, CycloneDX metadata authors/manufacturer, CSAF publisher), or `""`. */
  author: string;
  /** How many statements it holds. */
  statements: number;
  /** The document as sent (JSON text). */
  body: string;
}

/**
 * An exception added through the admin API. `spec` is a policy exception (`ExceptionSpec` of
 * src/policy: reason, owner, expires, scopes), validated by the caller before it is stored.
 */
export interface StoredException {
  id: number;
  /** When it was added (ISO 8601). */
  at: string;
  /** Who added it (the JWT subject). */
  actor: string;
  /** Its `expires` (as written). */
  expires: string;
  spec: Record<string, unknown> & { expires: string };
  /** When it was revoked (ISO 8601); a revoked exception is kept for the record but no longer in force. */
  revokedAt?: string;
  /** Who revoked it (the JWT subject). */
  revokedBy?: string;
}

/**
 * A search of stored verdicts ({@link Store.pageVerdicts}): exact filters (AND), `repository` as a
 * substring, newest write first, keyset-paged by `after`.
 */
export interface VerdictQuery {
  registry?: string;
  /** A substring of the repository name (case-sensitive, as names are lower case). */
  repository?: string;
  /** A tag the verdict lists now. */
  tag?: string;
  digest?: Digest;
  /** The stored (summary) decision. */
  decision?: string;
  /** The position of the previous page's last row ({@link VerdictPage.next}). */
  after?: VerdictCursor;
  limit: number;
}

/** A position in the verdict order: the row's write sequence and its key. */
export type VerdictCursor = [seq: number, registry: string, repository: string, digest: string];

/** A page of {@link Store.pageVerdicts}. */
export interface VerdictPage {
  items: Verdict[];
  /** The cursor of the last item when more may follow. */
  next?: VerdictCursor;
}

/** State of a quarantined copy. */
export type QuarantineState = 'quarantined' | 'released' | 'expired';

/** One quarantined copy: `<quarantineRepository>:<tag>` holds what was pushed to `<repository>:<tag>`. */
export interface QuarantineRecord {
  id: number;
  /** When it was quarantined, ms since the epoch. */
  at: number;
  registry: string;
  repository: string;
  tag: string;
  digest: Digest;
  quarantineRepository: string;
  state: QuarantineState;
  /** When the state last changed, ms since the epoch. */
  stateAt: number;
}

/** Filters of {@link Store.listQuarantine} (all optional, AND). */
export interface QuarantineQuery {
  registry?: string;
  repository?: string;
  tag?: string;
  digest?: Digest;
  state?: QuarantineState;
  /** Only records quarantined before this instant (ms since the epoch). */
  before?: number;
  /** Only records with an id below this (the previous page's last id: keyset paging). */
  beforeId?: number;
  /** Default 1000. */
  limit?: number;
}

/** A manifest pushgate writes to a registry: `tag` is `''` for a write by digest. */
export interface OwnWriteKey {
  registry: string;
  repository: string;
  digest: Digest;
  tag: string;
}

/** Persistence used by the gate. Every method may reject with PushgateError STORE. */
/** What {@link Store.migrate} found and did (src/store/sql.ts MIGRATIONS). */
export interface MigrationReport {
  /** Migrations applied by this call, oldest first; empty when the schema was current. */
  applied: Array<{ version: number; name: string }>;
  /**
   * Versions in the store's `schema_migrations` that this build has no migration for, ascending: a newer
   * pushgate migrated the store (a rollback, or an old replica restarted during a rolling upgrade). This
   * build neither reads nor writes what they added; nothing is refused, so a rollback keeps serving.
   */
  unknown: number[];
}

export interface Store {
  /** `sqlite` or `postgres`. */
  readonly kind: string;
  /** Continuous monitoring: inventory and findings index, runs, change records (src/store/monitor-types.ts). */
  readonly monitor: MonitorStore;
  /** The base image catalog: catalog images by digest, catalog tags over time (src/store/base-catalog-types.ts). */
  readonly baseCatalog: BaseCatalogStore;
  /** Workload usage: which workloads admission admitted with each image digest (src/store/workloads.ts). */
  readonly workloads: WorkloadStore;
  /** What the replicas agree on: the vulnerability database and policy revision in force (src/store/cluster-state.ts). */
  readonly clusterState: ClusterStateStore;
  /**
   * Applies pending schema migrations (idempotent) and says what it did: the migrations applied now, and the
   * versions the store records that this build does not know (a newer pushgate migrated it).
   */
  migrate(): Promise<MigrationReport>;
  /** True when the store answers. */
  ping(): Promise<boolean>;
  /**
   * Readiness: a real write that changes nothing (the newest migration row rewritten as it is), so a
   * full disk, a read-only file or database, or a lost connection shows before an event is refused.
   * @returns `{ ok: true }`, or `{ ok: false, error }` with the driver's message.
   */
  probeWrite(): Promise<{ ok: true } | { ok: false; error: string }>;

  /**
   * Durably queues an event; resolves only after it is on disk. Duplicates (same registry and
   * sender event id) are not queued twice: `inserted` is false then.
   */
  enqueue(event: PushEvent): Promise<{ inserted: boolean; seq: number }>;
  /**
   * Durably queues the events of one notification envelope in one transaction (one disk sync however many
   * events it holds); resolves only after all are on disk, in order of `events`. Duplicates as {@link enqueue}.
   * All or nothing: when it rejects, none of them is queued and the sender should retry the envelope.
   */
  enqueueMany(events: PushEvent[]): Promise<Array<{ inserted: boolean; seq: number }>>;
  /**
   * Queues the event unless an event of the same (registry, repository, digest) is queued,
   * running or blocked on its registry, from any sender; then resolves `{ inserted: false, seq }` of that event. Atomic
   * against concurrent calls of this method, in every process sharing the store.
   * @param opts.sameTag only a live event of the same tag too counts (an event without a tag: only one
   *   without a tag). For an event whose processing acts on its own tag (enforcement follows the tag's
   *   mapping), so a live event of another tag, which a pusher can keep queued by pushing that tag over
   *   and over, never stands in for it.
   */
  enqueueUnlessPending(event: PushEvent, opts?: { sameTag?: boolean }): Promise<{ inserted: boolean; seq: number }>;
  /**
   * Claims the oldest due event for `leaseMs`, on the database's clock (PostgreSQL `now()`; for SQLite, the
   * one process that holds the file is the only clock, so `Date.now()` is the database's clock). A crashed
   * worker's lease expires and the event is claimed again. Per (registry, repository, tag), events are
   * handed out one at a time in sequence order: an event is not claimed while an earlier event of the same
   * tag is queued, running or blocked on its registry (events without a tag are not ordered).
   */
  claim(worker: string, leaseMs: number): Promise<QueuedEvent | undefined>;
  /** Extends the lease of a claimed event (a worker's heartbeat while it scans); only `worker`'s own lease. */
  extendLease(seq: number, worker: string, leaseMs: number): Promise<void>;
  /**
   * Marks a claimed event done; with `audit`, writes that audit record in the same transaction
   * (a process killed in between leaves neither, so the event's outcome is recorded exactly once).
   * Only the lease owner may: when another worker claimed the event since (this worker's lease
   * expired), nothing is written and the result is false.
   */
  complete(seq: number, worker: string, audit?: Omit<AuditRecord, 'seq' | 'at'>): Promise<boolean>;
  /**
   * Puts a claimed event back (only by its lease owner, else false and nothing written):
   * `queued` and due again after `retryInMs`, `blocked-on-registry` (waits for its registry to answer,
   * then for `retryInMs`), or `failed` (final: an event no retry can fix). `refund` gives the claim's
   * attempt back (the failure was pushgate's own store, not the event's). `linkHandBack` counts one more
   * hand-back of the event to wait for its tag's link ({@link QueuedEvent.linkHandBacks}), in the same write.
   */
  retry(seq: number, worker: string, r: RetryRequest): Promise<boolean>;
  /**
   * Moves the events of `registry` that are blocked on it (and due: `due_at` passed) back to `queued`,
   * due now, with a fresh retry budget. @returns how many.
   */
  resumeBlocked(registry: string): Promise<number>;
  /** The registries that have events blocked on them (any due time). */
  blockedRegistries(): Promise<string[]>;
  /** How many events are in each open or final-failed state (`done` is not counted). */
  queueCounts(): Promise<Record<QueueState, number>>;
  /** Events queued or running. */
  queueDepth(): Promise<number>;
  /**
   * Stored verdicts (one per registry, repository and digest; index children included) counted by
   * registry and stored decision, for the `pushgate_images_by_decision` gauge. One grouped query.
   */
  countVerdicts(): Promise<Array<{ registry: string; decision: string; count: number }>>;
  /** The write sequence of the latest verdict write (0 when there is none): the top of {@link pageVerdicts}' order. */
  verdictSeqTop(): Promise<number>;
  /**
   * Milliseconds since the first event of `repository@digest` in `registry` was queued (any sender,
   * tagged or not, done or open), or undefined when none was. The grace of a manifest pushed by digest
   * only counts from it, so pushing the same digest again never starts a new grace. SQLite: the one
   * process's clock; PostgreSQL: the database's `now()` against the enqueuing replica's clock (their
   * skew shifts the grace by as much).
   */
  manifestAgeMs(registry: string, repository: string, digest: Digest): Promise<number | undefined>;

  /** Inserts or replaces the verdict of (registry, repository, digest); tags are merged. */
  putVerdict(v: Verdict): Promise<void>;
  getVerdict(registry: string, repository: string, digest: Digest): Promise<Verdict | undefined>;
  /**
   * Records that `tag` of the repository points at `digest` now (a push, or pushgate's restore):
   * the tag leaves the `tags` of every other verdict of the repository and joins that digest's
   * verdict, if there is one. Verdicts are rewritten without changing their order in {@link listVerdicts}.
   */
  moveTag(registry: string, repository: string, tag: string, digest: Digest): Promise<void>;
  /**
   * The digests of the repository whose stored verdict lists `tag` (what pushgate last knew the tag
   * to point at; usually one, never more after {@link moveTag}), in no particular order. Read before a
   * tag moves, to re-judge the digests it leaves (src/gate/gate.ts recheckLeft).
   */
  tagHolders(registry: string, repository: string, tag: string): Promise<Digest[]>;
  /** The latest verdict of the digest a tag pointed at when last pushed. */
  getVerdictByTag(registry: string, repository: string, tag: string): Promise<Verdict | undefined>;
  /**
   * A page of stored verdicts matching `q`, newest write first (the order of {@link listVerdicts}),
   * resumed after `q.after`. One indexed query; the page is complete when `next` is absent.
   */
  pageVerdicts(q: VerdictQuery): Promise<VerdictPage>;
  /** Verdicts, newest first. */
  listVerdicts(opts: { registry?: string; repository?: string; limit?: number }): Promise<Verdict[]>;

  /** Scan reports by manifest digest (content-addressed: the same image in two repositories is scanned once). */
  putReport(digest: Digest, report: ScanReport): Promise<void>;
  getReport(digest: Digest): Promise<ScanReport | undefined>;

  /** Layer analyses keyed by analyzer-set version + diffID. */
  getLayer(key: string): Promise<unknown | undefined>;
  putLayer(key: string, value: unknown): Promise<void>;
  /**
   * Writes `value` under `key`, replacing what is there ({@link putLayer} keeps the first write: right for
   * content-addressed analyses, wrong for a record read again from a registry, such as an image's signed VEX).
   */
  replaceLayer(key: string, value: unknown): Promise<void>;

  /** Tag history: which digest a tag pointed at, and whether pushgate allowed it. */
  recordTag(registry: string, repository: string, tag: string, digest: Digest, allowed: boolean): Promise<void>;
  /**
   * The last digest pushgate allowed for the tag, other than `except`, and not blocked for that tag
   * since (a re-evaluation may block a digest it allowed before).
   */
  lastAllowed(registry: string, repository: string, tag: string, except?: Digest): Promise<Digest | undefined>;
  /**
   * The digests pushgate allowed for the tag, other than `except` and not blocked for that tag since,
   * newest first, each once, at most `limit`. The tag history knows what was allowed THEN; the gate
   * re-derives each one's current verdict before it restores a tag to it.
   */
  allowedForTag(registry: string, repository: string, tag: string, except: Digest | undefined, limit: number): Promise<Digest[]>;

  /** Appends an audit record. The audit table is append-only (UPDATE and DELETE fail in the database). */
  audit(entry: Omit<AuditRecord, 'seq' | 'at'>): Promise<void>;
  /** The newest `limit` audit records that match `filter` (all when omitted), newest first. */
  listAudit(limit: number, filter?: AuditFilter): Promise<AuditRecord[]>;
  /**
   * Audit records whose action is one of `actions`, at or after `since` (ISO 8601 UTC), counted in
   * one grouped query per bucket (the first `bucketChars` characters of `at`: 10 a UTC day, 13 a UTC
   * hour), registry and each rule named in `detail.blocking` (the rules that blocked, in verdict
   * records) or, in a record without it (proxy refusals, records older than the field), in
   * `detail.reasons` (`rule` null for a record without rules). `records` counts the records themselves
   * (a record with two rules is in two groups).
   */
  countAuditRules(actions: string[], since: string, bucketChars: 10 | 13): Promise<{ groups: AuditRuleCount[]; records: number }>;

  /** Stores an admin-API exception; returns it with its id. */
  addException(actor: string, spec: StoredException['spec']): Promise<StoredException>;
  /** Every stored exception, oldest first (expired and revoked ones included: evaluation reports them). */
  listExceptions(): Promise<StoredException[]>;
  /**
   * Marks exception `id` revoked by `actor` (kept, no longer in force).
   * @returns the exception as now stored, or undefined when there is no such id. A second revoke
   *   changes nothing and returns it with its first revocation.
   */
  revokeException(id: number, actor: string): Promise<StoredException | undefined>;

  /** Stores a VEX document added through the admin API (parsed and counted by the caller); returns it with its id. */
  addVexDocument(actor: string, doc: Pick<StoredVexDocument, 'author' | 'statements' | 'body'>): Promise<StoredVexDocument>;
  /** Stored VEX documents, oldest first. */
  listVexDocuments(): Promise<StoredVexDocument[]>;
  /** Removes VEX document `id`; returns it as it was, or undefined when there is no such id. */
  deleteVexDocument(id: number): Promise<StoredVexDocument | undefined>;

  /** Records a quarantined copy (state `quarantined`). */
  recordQuarantine(q: Pick<QuarantineRecord, 'registry' | 'repository' | 'tag' | 'digest' | 'quarantineRepository'>): Promise<QuarantineRecord>;
  /** Quarantine records, newest first. */
  listQuarantine(q: QuarantineQuery): Promise<QuarantineRecord[]>;
  /** How many quarantine records match `q` (its `limit` and `beforeId` ignored). */
  countQuarantine(q: QuarantineQuery): Promise<number>;
  /** Moves a record to `released` or `expired`. */
  setQuarantineState(id: number, state: QuarantineState): Promise<void>;

  /**
   * Remembers a manifest pushgate is about to write, until `expiresAt` (ms since the epoch). Writing
   * the same target again renews it (and makes it consumable again). Expired rows are purged here.
   */
  rememberOwnWrite(w: OwnWriteKey, expiresAt: number): Promise<void>;
  /**
   * Consumes the memo of `w` for the sender event `eventId`: true when an unexpired memo exists that
   * no other event consumed (a redelivery of the same event id is true again), false otherwise.
   * Atomic across replicas (PostgreSQL: one conditional UPDATE).
   */
  consumeOwnWrite(w: OwnWriteKey, eventId: string, now: number): Promise<boolean>;

  /**
   * Takes the periodic job `name` for `owner` with a lease of `leaseMs`, when it is due (never run, or its
   * last pass ended `nextInMs` ago as {@link finishJob} set) and no other owner's lease is running. Times are
   * on the database's clock (PostgreSQL `now()`; SQLite: the one process's clock), so replicas whose clocks
   * disagree still run a job once per interval. Atomic across replicas: at most one owner holds a job.
   * @returns the pass's start (ms since the epoch, database clock), or undefined when not taken.
   */
  claimJob(name: string, owner: string, leaseMs: number): Promise<{ startedAt: number } | undefined>;
  /** Extends `owner`'s lease of job `name`; false when it lost the job (its lease expired and another took it). */
  renewJob(name: string, owner: string, leaseMs: number): Promise<boolean>;
  /**
   * Ends `owner`'s pass of job `name`: the lease is released and the job is due again after `nextInMs`
   * (database clock). False (nothing written) when another owner holds it now.
   */
  finishJob(name: string, owner: string, nextInMs: number): Promise<boolean>;

  /**
   * Listens for changes of shared state made through any replica sharing the store: `listener` gets the
   * topic each {@link publish} named (`exceptions`), and `resync` after the listening connection was lost
   * and made again (notifications sent meanwhile are gone: re-read everything). PostgreSQL: `LISTEN` on
   * one dedicated connection, reconnected with a backoff; SQLite (one process): this process's publishes.
   * @returns an unsubscriber.
   */
  subscribe(listener: (topic: string) => void): Promise<() => void>;
  /** Tells every replica's subscribers that `topic` changed (PostgreSQL `NOTIFY`, after the change committed). */
  publish(topic: string): Promise<void>;

  close(): Promise<void>;
}
