/**
 * The capped scratch space for entries that need random access (databases, archives, ELF files):
 * one budget per scan, shared by every layer; a spill that would pass the cap is refused (the
 * caller reports a `spill-limit` diagnostic) instead of filling the disk.
 */
import fs from 'node:fs';
import path from 'node:path';
import { threadId } from 'node:worker_threads';

let seq = 0;

/** Bytes that may be written to the scan's temp directory at the same time. */
export class SpillBudget {
  /** Bytes currently reserved. */
  used = 0;

  /**
   * @param dir the scan's private temp directory (created by the engine, removed after the scan)
   * @param limitBytes the cap (config `scan.tmpDirLimit`, default 1 GiB)
   */
  constructor(readonly dir: string, readonly limitBytes: number = 1024 ** 3) {}

  /** Reserves `n` bytes; false (nothing reserved) when that would pass the cap. */
  take(n: number): boolean {
    if (this.used + n > this.limitBytes) return false;
    this.used += n;
    return true;
  }

  /** Gives back `n` reserved bytes. */
  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }

  /** A fresh file name inside {@link dir} (not created). */
  newPath(tag: string): string {
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
