/**
 * The tar side of a layer read: a Writable that takes the uncompressed tar stream and reads it once,
 * as Go's archive/tar (containerd, umoci, Docker) reads it ({@link GoTarReader}): every entry Go's
 * `Reader.Next` returns goes, in order, to a {@link LayerWalker}, and the data section of each file
 * an analyzer wants goes to the walker's sink for it; every other data section is skipped without
 * being copied. Names, types, sizes and data sections are Go's, so what is scanned is what a runtime
 * unpacks. Where tar readers disagree on the layout of the same bytes (a link or device header with a
 * size: Go reads no data for it, other readers do), the entry is judged as Go reads it and the
 * layer is marked ambiguous.
 */
import { Writable } from 'node:stream';
import { PushgateError } from '../core/index.js';
import { cleanEntryPath, type EntrySink, type LayerWalker, type WalkEntry } from './walker.js';
import { GoTarReader, type GoTarBody, type GoTarEntry, type GoTarHandler } from './tar-headers.js';

/** How a tar stream ended, besides the walker's analysis. */
export interface TarEnd {
  /**
   * True when the tar stopped inside the final padding after its last complete entry (or inside
   * its end blocks): every entry was read, the tar only lacks its end blocks.
   */
  cutInPadding: boolean;
}

/**
 * Bytes of uncompressed tar a {@link TarWalk} queues unread before it asks the stage before it to
 * wait (4 MiB; the stream's own buffer holds up to half as much again): enough for the inflate
 * thread to run a few chunks ahead of the tar parser and analyzers.
 */
export const TAR_WALK_BUFFER = 4 << 20;

/** Names of the header-only types that other tar readers give a data section when the size is set. */
const LINKISH: Record<string, string> = { 1: 'hard link', 2: 'symlink', 3: 'character device', 4: 'block device', 6: 'fifo' };

/**
 * Writable end of the tar read. Fails with CORRUPT_LAYER when the layer holds more than
 * `maxEntries` entries or the tar stops inside a header or an entry's data, except a cut inside the
 * final padding after the last complete entry, which sets {@link cutInPadding} instead. A tar that
 * Go's reader refuses part-way is read up to there, with an incomplete `tar-invalid` diagnostic.
 */
export class TarWalk extends Writable implements GoTarHandler {
  /** Uncompressed bytes written so far. */
  tarBytes = 0;
  /** See {@link TarEnd.cutInPadding}; valid once the stream has finished. */
  cutInPadding = false;
  private readonly reader: GoTarReader;
  /** The sink of the entry whose data is being read, to abort when the stream fails. */
  private open: EntrySink | undefined;
  /** Chunks written and not yet read, in order, and their bytes. */
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  /** The callback of the write that filled the queue to its limit, held until it drains below it. */
  private held: ((e?: Error | null) => void) | undefined;
  /** The callback of `_final`, held until the queue is read. */
  private finalCb: ((e?: Error | null) => void) | undefined;
  /** A chunk's read is scheduled or running (at most one at a time). */
  private reading = false;
  /** An analyzer's promise holds the reader (it ends an entry asynchronously). */
  private awaiting = false;
  /** Why the stream failed, once it did: later writes fail with it. */
  private failure: Error | undefined;

  constructor(private readonly walker: LayerWalker, private readonly maxEntries: number) {
    // Above one inflate chunk (1 MiB), so that a write into a queue with room says "go on" at once.
    super({ highWaterMark: TAR_WALK_BUFFER / 2 });
    this.reader = new GoTarReader(this);
  }

  /** The reader's {@link GoTarHandler}: one entry as Go returns it, to the walker. */
  onEntry(go: GoTarEntry): GoTarBody | undefined {
    const walker = this.walker;
    if (walker.entryCount >= this.maxEntries) {
      throw new PushgateError('CORRUPT_LAYER', `layer has more than ${this.maxEntries} entries (limit maxEntries)`);
    }
    const e = goEntry(go);
    if (go.nameConflict) walker.diagnose({ code: 'ambiguous-entry-name', path: at(go), message: `tar entry at byte ${go.headerOffset} is named two ways: ${go.nameConflict}; judged by the name Go's archive/tar (containerd, umoci) uses, but tar readers disagree`, incomplete: true });
    if (go.nonUtf8) walker.diagnose({ code: 'ambiguous-entry-name', path: at(go), message: `tar entry at byte ${go.headerOffset} has a name or link name that is not UTF-8; pushgate cannot name it exactly as a runtime does`, incomplete: true });
    const linkish = LINKISH[go.typeflag];
    if (linkish && go.size > 0) {
      walker.diagnose({ code: 'ambiguous-entry-name', path: at(go), message: `tar entry "${go.name}" at byte ${go.headerOffset} is a ${linkish} with a size of ${go.size} bytes: Go's archive/tar (containerd, umoci) reads no data for it and takes the next header from those bytes, other tar readers skip them as its data; judged as Go reads it, but tar readers disagree`, incomplete: true });
    }
    const sink = walker.open(e);
    if (!sink) return undefined;
    const body: EntrySink = go.sparseMap && !e.unreadable ? expandSparse(sink, go.sparseMap, go.size) : sink;
    this.open = body;
    return {
      write: (c) => body.write(c),
      end: () => {
        this.open = undefined;
        return body.end();
      },
    };
  }

  /**
   * Takes one chunk of the tar stream into the queue read on later turns of the event loop (one
   * chunk per turn), not in this call: the stage before (gunzip) writes here from the callback of its
   * inflate job and starts the next job only when this write returns, so reading the chunk here
   * would leave the inflate thread idle while the tar parser and analyzers run, and this thread idle
   * while it inflates. Queued, the two overlap. The write is acknowledged at once while the queue
   * holds less than {@link TAR_WALK_BUFFER} bytes, else once it drains below that.
   */
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.failure) {
      cb(this.failure);
      return;
    }
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
    if (this.queuedBytes < TAR_WALK_BUFFER) cb();
    else this.held = cb;
    this.schedule();
  }

  override _final(cb: (e?: Error | null) => void): void {
    if (this.failure) cb(this.failure);
    else if (this.queue.length || this.reading) this.finalCb = cb;
    else this.finish(cb);
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    // Failed from outside (inflate or the blob's verification failed, the scan was aborted): the
    // chunks inflated before that are read now, as they would have been had each been read when it
    // arrived, so what a failed layer showed does not depend on timing. Not while an analyzer's
    // promise holds the reader: it never resumes.
    if (err && !this.failure && !this.awaiting) {
      try {
        for (let c = this.queue.shift(); c && !this.awaiting; c = this.queue.shift()) this.walkChunk(c, true);
      } catch {
        // the stream fails with `err` anyway
      }
    }
    this.failure ??= err ?? new Error('tar walk destroyed');
    this.queue.length = 0;
    // The entry being read never reaches its end: its analyzers release what they hold.
    this.open?.abort();
    this.open = undefined;
    cb(err);
  }

  /** Schedules the reading of the next queued chunk (at most one scheduled at a time). */
  private schedule(): void {
    if (this.reading || !this.queue.length) return;
    this.reading = true;
    setImmediate(this.readNext);
  }

  /** Reads the next queued chunk; then schedules the one after it, or finishes. */
  private readonly readNext = (): void => {
    const chunk = this.queue.shift();
    if (!chunk || this.destroyed || this.failure) {
      this.reading = false;
      return;
    }
    this.queuedBytes -= chunk.length;
    let r: void | Promise<void>;
    try {
      r = this.walkChunk(chunk, false);
    } catch (e) {
      this.fail(e);
      return;
    }
    if (r) {
      this.awaiting = true;
      r.then(() => {
        this.awaiting = false;
        this.afterRead();
      }, (e: unknown) => {
        this.awaiting = false;
        this.fail(e);
      });
    } else {
      this.afterRead();
    }
  };

  /** After a chunk was read: releases a held write once below the limit, goes on or finishes. */
  private afterRead(): void {
    this.reading = false;
    if (this.destroyed || this.failure) return;
    if (this.held && this.queuedBytes < TAR_WALK_BUFFER) {
      const cb = this.held;
      this.held = undefined;
      cb();
    }
    if (this.queue.length) this.schedule();
    else if (this.finalCb) {
      const cb = this.finalCb;
      this.finalCb = undefined;
      this.finish(cb);
    }
  }

  /** The stream fails with `e` (a chunk's read or an analyzer failed). */
  private fail(e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e));
    this.reading = false;
    this.failure = err;
    this.queue.length = 0;
    const cb = this.held ?? this.finalCb;
    this.held = undefined;
    this.finalCb = undefined;
    if (cb) cb(err);
    else this.destroy(err);
  }

  /**
   * Reads one chunk through the Go tar reader; a promise while an analyzer finishes an entry
   * asynchronously. `draining`: read while the stream is destroyed (the bytes count, nothing waits).
   */
  private walkChunk(chunk: Buffer, draining: boolean): void | Promise<void> {
    this.tarBytes += chunk.length;
    const r = this.reader.write(chunk);
    if (r && draining) {
      this.awaiting = true;
      r.catch(() => undefined);
    }
    return r;
  }

  /** End of the tar stream: the reader's verdict on how it ended. */
  private finish(cb: (e?: Error | null) => void): void {
    const r = this.reader;
    if (r.error) {
      this.walker.diagnose({ code: 'tar-invalid', message: `Go's archive/tar (containerd, umoci) refuses this layer at byte ${r.error.offset}: ${r.error.reason}; runtimes cannot unpack it, entries from there on are not scanned`, incomplete: true });
    } else if (r.afterEnd !== undefined) {
      this.walker.diagnose({ code: 'tar-after-end', message: `bytes after the end-of-archive blocks (byte ${r.endOffset}) are not unpacked by containerd (Go archive/tar stops there); not scanned` });
    }
    const end = r.finish();
    if (end.truncated) {
      cb(new PushgateError('CORRUPT_LAYER', end.truncated));
      return;
    }
    this.cutInPadding = end.cutInPadding;
    cb();
  }
}

/**
 * Where the walker places `go` (for a diagnostic about its header). A function of the module, not a
 * closure made per entry: most entries never need it.
 */
function at(go: GoTarEntry): string {
  return cleanEntryPath(go.name).path;
}

/** The walker's view of an entry as Go's archive/tar returns it. */
function goEntry(go: GoTarEntry): WalkEntry {
  const t = go.typeflag;
  const type: WalkEntry['type'] = t === '0' || t === '7' || t === 'S' ? 'file' : t === '5' ? 'directory' : t === '2' ? 'symlink' : t === '1' ? 'link' : 'other';
  const e: WalkEntry = { name: go.name, type, size: go.size, mode: go.mode, linkname: go.linkname === '' ? undefined : go.linkname };
  if (go.sparse && !(go.sparseMap && go.sparseMap.reduce((n, [, l]) => n + l, 0) === go.physicalSize && go.size <= MAX_SPARSE)) {
    e.unreadable = `it is a sparse file (${go.sparse}) whose contents pushgate does not expand`;
  }
  return e;
}

/** Largest sparse file (logical bytes) expanded for the analyzers; larger ones are not read. */
const MAX_SPARSE = 64 << 20;

/**
 * The logical content of a PAX 0.x sparse file from its data section (the fragments back to back):
 * holes read as NUL bytes, as Go's sparseFileReader returns them.
 */
function expandSparse(sink: EntrySink, map: Array<[number, number]>, size: number): EntrySink {
  let pos = 0;
  let i = 0;
  const zeros = (upTo: number): void => {
    while (pos < upTo) {
      const n = Math.min(upTo - pos, 1 << 16);
      sink.write(Buffer.alloc(n));
      pos += n;
    }
  };
  return {
    write(chunk) {
      let c = chunk;
      while (c.length > 0 && i < map.length) {
        const [off, len] = map[i]!;
        zeros(off);
        const n = Math.min(c.length, off + len - pos);
        if (n > 0) {
          sink.write(c.subarray(0, n));
          pos += n;
          c = c.subarray(n);
        }
        if (pos >= off + len) i++;
      }
    },
    end() {
      zeros(size);
      return sink.end();
    },
    abort: () => sink.abort(),
  };
}
