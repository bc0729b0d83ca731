/**
 * The tar side of a layer read: a Writable that takes the uncompressed tar stream, parses it with
 * tar-stream (PAX, GNU long names, base-256 sizes) and hands every entry, in order, to a
 * {@link LayerWalker}. The same class runs on the main thread (small layers, custom analyzer sets)
 * and inside a tar worker (tar-worker.ts), so both paths give the same analysis.
 */
import { Writable, type Readable } from 'node:stream';
import tar from 'tar-stream';
import { PushgateError } from '../core/index.js';
import type { LayerWalker } from './walker.js';

/** How a tar stream ended, besides the walker's analysis. */
export interface TarEnd {
  /**
   * True when the tar stopped inside the final padding after its last complete entry (tar-stream
   * reports "Unexpected end of data"): every entry was read, the tar only lacks its end blocks.
   */
  cutInPadding: boolean;
}

/**
 * Writable end of the tar parse. Fails with CORRUPT_LAYER when the layer holds more than
 * `maxEntries` entries, and with tar-stream's own errors for a malformed or cut tar — except a cut
 * inside the final padding after the last complete entry, which sets {@link cutInPadding} instead.
 */
export class TarWalk extends Writable {
  /** Uncompressed bytes written so far. */
  tarBytes = 0;
  /** See {@link TarEnd.cutInPadding}; valid once the stream has finished. */
  cutInPadding = false;
  private readonly extract: tar.Extract;
  /** End offset of the last entry whose content was fully read. */
  private lastEnd = 0;
  private inEntry = false;
  private finalCb: ((e?: Error | null) => void) | undefined;
  private extractError: Error | undefined;

  constructor(private readonly walker: LayerWalker, maxEntries: number) {
    super({ highWaterMark: 1 << 20 });
    const extract = tar.extract();
    this.extract = extract;
    extract.on('entry', (h, stream, next) => {
      this.inEntry = true;
      const end = ((h as { byteOffset?: number }).byteOffset ?? 0) + (h.size ?? 0);
      if (walker.entryCount >= maxEntries) {
        extract.destroy(new PushgateError('CORRUPT_LAYER', `layer has more than ${maxEntries} entries (limit maxEntries)`));
        return;
      }
      const type = h.type === 'file' || h.type === 'contiguous-file' ? 'file'
        : h.type === 'directory' ? 'directory' : h.type === 'symlink' ? 'symlink' : h.type === 'link' ? 'link' : 'other';
      walker.entry({ name: h.name, type, size: h.size ?? 0, mode: h.mode ?? 0, linkname: h.linkname ?? undefined }, stream as unknown as Readable)
        .then(() => { this.inEntry = false; this.lastEnd = end; next(); }, (e: unknown) => extract.destroy(e instanceof Error ? e : new Error(String(e))));
    });
    extract.on('error', (e: Error) => {
      this.extractError = e;
      if (this.finalCb) this.settle();
      else this.destroy(e);
    });
    extract.on('finish', () => { if (this.finalCb) this.settle(); });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.tarBytes += chunk.length;
    if (this.extract.write(chunk)) cb();
    else this.extract.once('drain', () => cb());
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.finalCb = cb;
    this.extract.end(undefined);
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    if (!this.extract.destroyed) (this.extract.destroy as (e?: Error) => void)(err ?? undefined);
    cb(err);
  }

  /** Ends the final callback: tar-stream's "Unexpected end of data" inside the padding is no error. */
  private settle(): void {
    const cb = this.finalCb!;
    this.finalCb = undefined;
    const e = this.extractError;
    if (!e) return cb();
    const padding = /Unexpected end of data/.test(e.message) && !this.inEntry && this.tarBytes >= this.lastEnd && this.tarBytes - this.lastEnd < 512;
    if (padding) {
      this.cutInPadding = true;
      return cb();
    }
    cb(e);
  }
}
