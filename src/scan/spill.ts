/**
 * The capped scratch space for entries that need random access (databases, archives, ELF files):
 * one {@link SpillPool} per process (config `scan.tmpDirLimit`) shared by every scan running at
 * once, and one {@link SpillBudget} per scan (its directory, its share of the pool); a spill that
 * would pass the pool's cap is refused (the caller reports a `spill-limit` diagnostic) instead of
 * filling the disk.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

// node:worker_threads (for the thread's id in a file name) is loaded by the first spill, not with
// this module.
const requireBuiltin = createRequire(import.meta.url);

let seq = 0;

/** Bytes that all scans of this process may hold in their temp directories at the same time. */
export class SpillPool {
  /** Bytes currently reserved by all scans. */
  used = 0;

  /** @param limitBytes the cap (config `scan.tmpDirLimit`, default 1 GiB) */
  constructor(readonly limitBytes: number = 1024 ** 3) {}

  /** Reserves `n` bytes; false (nothing reserved) when that would pass the cap. */
  take(n: number): boolean {
    if (n < 0 || this.used + n > this.limitBytes) return false;
    this.used += n;
    return true;
  }

  /** Gives back `n` reserved bytes. */
  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }
}

/** One scan's share of a {@link SpillPool}: its directory and the bytes it holds there. */
export class SpillBudget {
  /** Bytes currently reserved by this scan. */
  used = 0;
  /** The pool shared with the other scans (a private one when a number was given). */
  readonly pool: SpillPool;

  /**
   * @param dir the scan's private temp directory (created by the engine, removed after the scan)
   * @param limit the process's pool, or a cap in bytes for a pool of this scan alone (default 1 GiB)
   */
  constructor(readonly dir: string, limit: SpillPool | number = 1024 ** 3) {
    this.pool = typeof limit === 'number' ? new SpillPool(limit) : limit;
  }

  /** The pool's cap in bytes (config `scan.tmpDirLimit`). */
  get limitBytes(): number {
    return this.pool.limitBytes;
  }

  /** Reserves `n` bytes from the pool; false (nothing reserved) when that would pass its cap. */
  take(n: number): boolean {
    if (!this.pool.take(n)) return false;
    this.used += n;
    return true;
  }

  /** Gives back `n` reserved bytes. */
  give(n: number): void {
    const g = Math.min(n, this.used);
    this.used -= g;
    this.pool.give(g);
  }

  /** Returns everything this scan still holds to the pool (the scan is over; its directory is removed). */
  releaseAll(): void {
    this.pool.give(this.used);
    this.used = 0;
  }

  /** A fresh file name inside {@link dir} (not created). */
  newPath(tag: string): string {
    const { threadId } = requireBuiltin('node:worker_threads') as typeof import('node:worker_threads');
    return path.join(this.dir, `${tag}-${process.pid}-${threadId}-${++seq}`);
  }
}

/**
 * A temp file written chunk by chunk under a {@link SpillBudget}: `write` returns false (and the
 * file is dropped) once the budget refuses more bytes. `release` deletes it and returns the bytes.
 */
export class SpillFile {
  readonly file: string;
  private fd: number | undefined;
  /** Bytes written (and reserved). */
  bytes = 0;
  /** True once the budget refused a write. */
  overflow = false;

  constructor(private readonly budget: SpillBudget, tag: string) {
    this.file = budget.newPath(tag);
    this.fd = fs.openSync(this.file, 'w');
  }

  /** Appends a chunk; false when the cap was hit (the file is then deleted). */
  write(c: Buffer): boolean {
    if (this.fd === undefined) return false;
    if (!this.budget.take(c.length)) {
      this.overflow = true;
      this.release();
      return false;
    }
    this.bytes += c.length;
    fs.writeSync(this.fd, c);
    return true;
  }

  /** Closes the file (it stays until {@link release}). */
  close(): void {
    if (this.fd !== undefined) { fs.closeSync(this.fd); this.fd = undefined; }
  }

  /** True while the file is open or closed but not released. */
  get alive(): boolean {
    return !this.released;
  }

  private released = false;

  /** Closes and deletes the file and returns its bytes to the budget. Idempotent. */
  release(): void {
    if (this.released) return;
    this.close();
    this.released = true;
    fs.rmSync(this.file, { force: true });
    this.budget.give(this.bytes);
    this.bytes = 0;
  }
}
