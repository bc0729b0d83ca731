/**
 * The vulnerability database the gate judges with: opened read-only from `vulndb.path`, verified when loaded
 * (a damaged file is refused with the reason, see VulnDb.verify), re-opened when the file is replaced (a
 * `pushgate db update` swaps it atomically; the file's mtime is checked at most every 2 s, or at once after a
 * build in this process), and the old one closed 30 s later so scans that hold it finish.
 */
import fs from 'node:fs';
import path from 'node:path';
import { VulnDb } from '../vulndb/index.js';

/** Minimal logger. */
interface Log {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** How often the file's mtime is looked at, ms. */
const CHECK_EVERY_MS = 2000;
/** How long a replaced database stays open for scans that still use it, ms. */
const CLOSE_AFTER_MS = 30_000;

/** See the module comment. */
export class VulnDbHolder {
  private db: VulnDb | undefined;
  private mtime = 0;
  private checkedAt = 0;
  /** Why there is no usable database (missing, unreadable, damaged); undefined when there is one. */
  private problem: string | undefined;

  /**
   * @param file the database path (`vulndb.path`).
   * @param onAge called with the database's age per source kind, seconds, whenever it is (re)loaded.
   * @param configFile the configuration file the server runs with (absolute, or `<built-in>`): named in the hint,
   *   so the command reads the server's `vulndb.sources` (a local mirror, say) rather than the public OSV exports.
   */
  constructor(
    private readonly file: string,
    private readonly log: Log,
    private readonly onAge?: (ages: Record<string, number>) => void,
    private readonly configFile?: string,
  ) {
    this.refresh(true);
  }

  /** The opened database, if there is one (re-opened when the file was replaced). */
  current(): VulnDb | undefined {
    this.refresh(false);
    return this.db;
  }

  /** Re-opens now (after this process built a new file), not at the next periodic check. */
  reload(): void {
    this.refresh(false, true);
  }

  /**
   * Readiness: opened, verified when loaded, and answering a probe query now.
   * @returns `{ ok: true, builtAt, digest }` (`digest`: the database's content digest, what verdicts name; null for
   *   a database built before digests) or `{ ok: false, error }` saying what is wrong and what to run.
   */
  readiness(): { ok: true; builtAt: string | null; digest: string | null } | { ok: false; error: string } {
    const db = this.current();
    if (!db) return { ok: false, error: this.problem ?? `no vulnerability database: run ${this.updateCommand()}` };
    try {
      db.probe();
      return { ok: true, builtAt: db.builtAt, digest: db.contentDigest };
    } catch (e) {
      return { ok: false, error: `the vulnerability database at ${db.path} does not answer (${(e as Error).message}): run ${this.updateCommand()}` };
    }
  }

  /**
   * The command that builds this database: with `--db`, since a bare `pushgate db update` installs into the
   * user's cache directory, not into the server's `vulndb.path`; with `--config` when the server has a file,
   * since without it the update reads the public OSV exports instead of the server's `vulndb.sources`.
   */
  private updateCommand(): string {
    const config = this.configFile && this.configFile !== '<built-in>' ? ` --config ${path.resolve(this.configFile)}` : '';
    return `\`pushgate db update${config} --db ${path.resolve(this.file)}\``;
  }

  private refresh(force: boolean, recheck = false): void {
    const now = Date.now();
    if (!force && !recheck && now - this.checkedAt < CHECK_EVERY_MS) return;
    this.checkedAt = now;
    let mtime: number;
    try {
      mtime = fs.statSync(this.file).mtimeMs;
    } catch {
      mtime = 0;
    }
    if (mtime === this.mtime && !force) return;
    this.mtime = mtime;
    const old = this.db;
    this.db = undefined;
    this.problem = mtime ? undefined : `no vulnerability database at ${this.file}: run ${this.updateCommand()}`;
    if (mtime) {
      let opened: VulnDb | undefined;
      try {
        opened = VulnDb.open(this.file);
        opened.verify();
        this.db = opened;
        this.log.info({ path: this.file, builtAt: opened.builtAt }, 'vulnerability database loaded');
      } catch (e) {
        opened?.close();
        this.problem = (e as Error).message;
        this.log.warn({ err: (e as Error).message }, 'vulnerability database could not be opened');
      }
    }
    if (old && old !== this.db) setTimeout(() => old.close(), CLOSE_AFTER_MS).unref();
    if (this.db) this.onAge?.(this.db.sourceAges());
  }
}
