/**
 * One vulnerability database across the replicas sharing a store. The database in force is a row of the store
 * (src/store/cluster-state.ts: content digest, build time, installer, time); on PostgreSQL the file itself is
 * stored with it, in chunks, so every replica judges with exactly the same bytes.
 *
 * The rule, applied by {@link VulnDbSync.reconcile} at start, on every `vulndb` notification, after the
 * listening connection came back (`resync`), when the local file changed and every 30 s:
 * - The newest build wins. A local database built later than the one in force (this replica's scheduled
 *   build, or a newer file shipped with a new pod) is published: its file is streamed into the store and
 *   recorded in force in one transaction (the store refuses it when a later build was recorded meanwhile),
 *   an audit record `vulndb-installed` names it and the one it replaced, and the other replicas are told.
 *   A database is never replaced by an older one, so a replica that starts with a stale file cannot take the
 *   cluster back.
 * - A local database that differs otherwise (older, missing, or as old but other content) is replaced by the
 *   one in force: fetched chunk by chunk into a file beside `vulndb.path` (one chunk in memory), its size and
 *   SHA-256 checked against the recorded ones, opened and verified, its content digest checked against the
 *   recorded digest, then renamed over the old file (atomic) and re-opened. A damaged or incomplete copy is
 *   refused and deleted; the old database stays, and the next look tries again.
 * - While the local database differs from the one in force, the replica's queue workers claim nothing (the
 *   events stay queued for the replicas that agree) and readiness says why, naming both digests.
 * - A replica whose database is the one in force uploads its file again when the store lacks it (a store
 *   copied by `pushgate store migrate` has the row but not the chunks).
 * SQLite (one process): the digest in force is recorded, nothing is held or fetched.
 */
import { randomUUID, createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { builtLater, CHUNK_BYTES, type InForce, type Store } from '../store/index.js';
import { VulnDb } from '../vulndb/index.js';
import type { Logger } from './gate.js';

/** Options of a {@link VulnDbSync}. */
export interface VulnDbSyncOptions {
  store: Store;
  logger: Logger;
  /** `vulndb.path`: the file this replica judges with. */
  path: string;
  /** The database this replica judges with now (the gate's holder), or undefined when it has none. */
  local(): { digest: string | null; builtAt: string | null } | undefined;
  /** Re-opens the file at {@link path} now (after a fetch replaced it). */
  reload(): void;
  /** Holds off (`reason`) or resumes (undefined) this replica's queue workers. */
  hold(reason: string | undefined): void;
  /** This replica's name as installer (default: the cluster job owner). */
  owner: string;
  /** How often the store is looked at without a notification, ms (default 30 s). */
  recheckMs?: number;
  /** How often the local file is looked at for a change, ms (default 2 s, the holder's own check). */
  localCheckMs?: number;
}

/** See the module comment. */
export class VulnDbSync {
  private chain: Promise<unknown> = Promise.resolve();
  private timers: NodeJS.Timeout[] = [];
  private unsubscribe: (() => void) | undefined;
  private lastLocal: string | null | undefined;
  private problem: string | undefined;
  private stopped = false;

  constructor(private readonly o: VulnDbSyncOptions) {}

  /** Follows the store (notifications, resyncs, a periodic look) and the local file; resolves after the first reconciliation. */
  async start(): Promise<void> {
    // nothing is judged before the first comparison with the store says this replica's database is the one in force
    if (this.o.store.clusterState.holdsFiles) this.setProblem('comparing the vulnerability database with the one in force in the store');
    this.unsubscribe = await this.o.store.subscribe((topic) => {
      if (topic === 'vulndb' || topic === 'resync') void this.reconcile();
    });
    const recheck = setInterval(() => void this.reconcile(), this.o.recheckMs ?? 30_000);
    const local = setInterval(() => {
      if ((this.o.local()?.digest ?? null) !== this.lastLocal) void this.reconcile();
    }, this.o.localCheckMs ?? 2000);
    recheck.unref();
    local.unref();
    this.timers.push(recheck, local);
    await this.reconcile();
  }

  /** Stops following; a fetch in progress finishes (its rename is atomic). */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.unsubscribe?.();
  }

  /** Why this replica's database is not the one in force (both digests named), or undefined when it is or nothing is in force. */
  disagreement(): string | undefined {
    return this.problem;
  }

  /** Brings the local database and the one in force together (see the module comment); serialized, never rejects. */
  reconcile(): Promise<void> {
    const run = this.chain.then(() => this.once());
    this.chain = run.catch(() => undefined);
    return run.catch((e: Error) => {
      this.o.logger.warn({ err: e.message }, 'vulnerability database in force could not be checked; the next look tries again');
    });
  }

  private setProblem(p: string | undefined): void {
    this.problem = p;
    this.o.hold(p);
  }

  private async once(): Promise<void> {
    if (this.stopped) return;
    const cs = this.o.store.clusterState;
    const local = this.o.local();
    this.lastLocal = local?.digest ?? null;
    let inForce = await cs.get('vulndb');
    if (!cs.holdsFiles) {
      // One process: the file it reads is the database in force; recorded so verdicts and the store agree.
      if (local?.digest && inForce?.digest !== local.digest) await cs.put('vulndb', { digest: local.digest, builtAt: local.builtAt, installedBy: this.o.owner });
      this.setProblem(undefined);
      return;
    }
    // A rebuild with the same content (same digest, later build time) is not published again: the bytes in
    // force already judge the same, and re-uploading hundreds of MB every interval buys nothing.
    if (local?.digest && local.digest !== inForce?.digest && (!inForce || builtLater(local.builtAt, inForce.builtAt))) {
      if (await this.publish(local.digest, { newerOnly: true }, inForce)) return;
      inForce = await cs.get('vulndb');
    }
    if (!inForce) {
      this.setProblem(undefined);
      return;
    }
    if (local?.digest === inForce.digest) {
      this.setProblem(undefined);
      if (!inForce.file || (await cs.chunkCount(inForce.digest)) !== inForce.file.chunks) await this.publish(local.digest, { sameDigest: true }, inForce);
      return;
    }
    const why = `vulnerability database ${local?.digest ?? 'none'} (built ${local?.builtAt ?? 'never'}) differs from the one in force ${inForce.digest} (built ${inForce.builtAt ?? 'unknown'}, installed by ${inForce.installedBy})`;
    this.setProblem(`${why}: fetching it from the store; queue workers claim nothing until then`);
    try {
      await this.fetch(inForce);
    } catch (e) {
      this.setProblem(`${why}: its copy in the store was refused (${(e as Error).message}); queue workers claim nothing until a good copy is there`);
      this.o.logger.error({ inForce: inForce.digest, local: local?.digest ?? null, err: (e as Error).message }, 'vulnerability database in force could not be fetched; this replica does not judge until it can');
      return;
    }
    this.o.reload();
    const now = this.o.local();
    this.lastLocal = now?.digest ?? null;
    if (now?.digest === inForce.digest) {
      this.setProblem(undefined);
      this.o.logger.info({ digest: inForce.digest, builtAt: inForce.builtAt, previous: local?.digest ?? null }, 'vulnerability database in force fetched from the store');
    } else this.setProblem(`${why}: fetched, but the file re-opened as ${now?.digest ?? 'none'}`);
  }

  /**
   * Streams the local file into the store as the database in force. The file's identity (inode, size, mtime)
   * is checked before and after, and its content digest read from the file itself: a file replaced while it
   * was read rolls the transaction back.
   */
  private async publish(expected: string, o: { newerOnly?: boolean; sameDigest?: boolean }, previous: InForce | undefined): Promise<boolean> {
    const file = this.o.path;
    const before = fs.statSync(file);
    const db = VulnDb.open(file);
    const meta = { digest: db.contentDigest, builtAt: db.builtAt };
    db.close();
    if (meta.digest !== expected) return false; // the file changed since it was loaded: the next look sees the new one
    async function* chunks(): AsyncGenerator<Buffer> {
      for await (const b of fs.createReadStream(file, { highWaterMark: CHUNK_BYTES })) yield b as Buffer;
      const after = fs.statSync(file);
      if (after.ino !== before.ino || after.size !== before.size || after.mtimeMs !== before.mtimeMs) throw new Error(`${file} was replaced while it was read`);
    }
    const ok = await this.o.store.clusterState.publishFile({ digest: meta.digest, builtAt: meta.builtAt, installedBy: this.o.owner }, chunks(), o);
    if (!ok) return false;
    await this.o.store.publish('vulndb');
    this.setProblem(undefined);
    if (o.newerOnly) {
      await this.o.store.audit({ actor: 'pushgate', action: 'vulndb-installed', detail: { digest: meta.digest, builtAt: meta.builtAt, installedBy: this.o.owner, previous: previous?.digest ?? null, bytes: before.size } });
      this.o.logger.info({ digest: meta.digest, builtAt: meta.builtAt, previous: previous?.digest ?? null, bytes: before.size }, 'vulnerability database published as the one in force');
    } else this.o.logger.info({ digest: meta.digest, bytes: before.size }, 'vulnerability database in force uploaded again (the store lacked its file)');
    return true;
  }

  /** Fetches the file of `f` beside the local one, checks it (size, SHA-256, opens, content digest) and renames it into place. */
  private async fetch(f: InForce): Promise<void> {
    if (!f.file) throw new Error('the store holds no file of it yet (a replica holding it uploads it)');
    const tmp = path.join(path.dirname(this.o.path), `.${path.basename(this.o.path)}.fetch-${randomUUID().slice(0, 8)}`);
    const h = createHash('sha256');
    let size = 0;
    fs.mkdirSync(path.dirname(this.o.path), { recursive: true });
    try {
      const out = await fs.promises.open(tmp, 'w', 0o644);
      try {
        for (let n = 0; n < f.file.chunks; n++) {
          const b = await this.o.store.clusterState.readChunk(f.digest, n);
          if (!b) throw new Error(`chunk ${n} of ${f.file.chunks} is missing`);
          size += b.length;
          if (size > f.file.size) throw new Error(`more than the recorded ${f.file.size} bytes`);
          h.update(b);
          await out.write(b);
        }
        await out.sync();
      } finally {
        await out.close();
      }
      const sha = h.digest('hex');
      if (size !== f.file.size || sha !== f.file.sha256) throw new Error(`damaged: ${size} bytes with SHA-256 ${sha}, recorded ${f.file.size} bytes with SHA-256 ${f.file.sha256}`);
      const db = VulnDb.open(tmp);
      try {
        db.verify();
        if (db.contentDigest !== f.digest) throw new Error(`its content digest is ${db.contentDigest}, not ${f.digest}`);
      } finally {
        db.close();
      }
      await fs.promises.rename(tmp, this.o.path);
    } catch (e) {
      await fs.promises.rm(tmp, { force: true });
      throw e;
    }
  }
}
