/**
 * The tar side of a layer read: a Writable that takes the uncompressed tar stream, parses it with
 * tar-stream (PAX, GNU long names, base-256 sizes) and hands every entry, in order, to a
 * {@link LayerWalker}. Names, types and sizes come from {@link GoTarIndex}, which reads the same
 * bytes as Go's archive/tar (containerd, umoci) does; tar-stream only supplies the data sections,
 * and an entry whose data section tar-stream places elsewhere than Go is marked incomplete. The same class runs on the main thread (small layers, custom analyzer sets)
 * and inside a tar worker (tar-worker.ts), so both paths give the same analysis.
 */
import { Transform, Writable, type Readable } from 'node:stream';
import tar from 'tar-stream';
import { PushgateError } from '../core/index.js';
import { cleanEntryPath, type LayerWalker, type WalkEntry } from './walker.js';
import { GoTarIndex, type GoTarEntry } from './tar-headers.js';

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
  /** The entries as Go's archive/tar reads the same bytes. */
  private readonly index = new GoTarIndex();
  private desyncNoted = false;
  private goErrorNoted = false;
  private afterEndNoted = false;
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
      const byteOffset = (h as { byteOffset?: number }).byteOffset ?? 0;
      const go = this.index.take(byteOffset);
      const skip = (): void => {
        stream.on('end', () => { this.inEntry = false; this.lastEnd = end; next(); });
        stream.resume();
      };
      if (!go && this.index.endOffset !== undefined && byteOffset > this.index.endOffset) {
        // Go stops at the two zero blocks: what follows them is never unpacked.
        if (!this.afterEndNoted) {
          this.afterEndNoted = true;
          walker.diagnose({ code: 'tar-after-end', path: h.name, message: `entries after the end-of-archive blocks (byte ${this.index.endOffset}) are not unpacked by containerd (Go archive/tar stops there); not scanned` });
        }
        return skip();
      }
      if (!go && this.index.error && byteOffset > this.index.error.offset - 512) {
        if (!this.goErrorNoted) {
          this.goErrorNoted = true;
          walker.diagnose({ code: 'tar-invalid', path: h.name, message: `Go's archive/tar (containerd, umoci) refuses this layer at byte ${this.index.error.offset}: ${this.index.error.reason}; runtimes cannot unpack it` , incomplete: true });
        }
        return skip();
      }
      const tsType = h.type === 'file' || h.type === 'contiguous-file' ? 'file'
        : h.type === 'directory' ? 'directory' : h.type === 'symlink' ? 'symlink' : h.type === 'link' ? 'link' : 'other';
      const tsLen = h.type === 'directory' ? 0 : h.size ?? 0;
      let e: WalkEntry;
      if (!go || go.physicalSize !== tsLen) {
        // tar-stream and Go disagree on where entries are: from here on the contents pushgate reads
        // are not the ones a runtime unpacks.
        if (!this.desyncNoted) {
          this.desyncNoted = true;
          walker.diagnose({ code: 'ambiguous-entry-name', path: cleanEntryPath(go?.name ?? h.name).path, message: go
            ? `tar entry "${go.name}" at byte ${go.headerOffset}: Go's archive/tar reads ${go.physicalSize} data bytes, pushgate's tar reader ${tsLen}; the rest of the layer is not read as a runtime reads it`
            : `pushgate's tar reader found an entry "${h.name}" at byte ${byteOffset - 512} that Go's archive/tar does not; the layer is not read as a runtime reads it`, incomplete: true });
        }
        e = go ? { ...goEntry(go, h.mode ?? 0), unreadable: 'its data section is read differently' }
          : { name: h.name, type: tsType, size: h.size ?? 0, mode: h.mode ?? 0, linkname: h.linkname ?? undefined };
      } else {
        e = goEntry(go, h.mode ?? 0);
        if (go.nameConflict) walker.diagnose({ code: 'ambiguous-entry-name', path: cleanEntryPath(go.name).path, message: `tar entry at byte ${go.headerOffset} is named two ways: ${go.nameConflict}; judged by the name Go's archive/tar (containerd, umoci) uses, but tar readers disagree`, incomplete: true });
        if (go.nonUtf8) walker.diagnose({ code: 'ambiguous-entry-name', path: cleanEntryPath(go.name).path, message: `tar entry at byte ${go.headerOffset} has a name or link name that is not UTF-8; pushgate cannot name it exactly as a runtime does`, incomplete: true });
      }
      let body = stream as unknown as Readable;
      if (go?.sparseMap && !e.unreadable) body = expandSparse(body, go.sparseMap, go.size);
      walker.entry(e, body)
        .then(() => { this.inEntry = false; this.lastEnd = end; next(); }, (err: unknown) => extract.destroy(err instanceof Error ? err : new Error(String(err))));
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
    // The index must see a header before tar-stream emits its entry.
    this.index.write(chunk);
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

/** The walker's view of an entry as Go's archive/tar returns it. */
function goEntry(go: GoTarEntry, mode: number): WalkEntry {
  const t = go.typeflag;
  const type: WalkEntry['type'] = t === '0' || t === '7' || t === 'S' ? 'file' : t === '5' ? 'directory' : t === '2' ? 'symlink' : t === '1' ? 'link' : 'other';
  const e: WalkEntry = { name: go.name, type, size: go.size, mode, linkname: go.linkname === '' ? undefined : go.linkname };
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
function expandSparse(body: Readable, map: Array<[number, number]>, size: number): Readable {
  let pos = 0;
  let i = 0;
  const zeros = (t: Transform, upTo: number): void => {
    while (pos < upTo) {
      const n = Math.min(upTo - pos, 1 << 16);
      t.push(Buffer.alloc(n));
      pos += n;
    }
  };
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      let c = chunk;
      while (c.length > 0 && i < map.length) {
        const [off, len] = map[i]!;
        zeros(this, off);
        const n = Math.min(c.length, off + len - pos);
        if (n > 0) {
          this.push(c.subarray(0, n));
          pos += n;
          c = c.subarray(n);
        }
        if (pos >= off + len) i++;
      }
      cb();
    },
    flush(cb) {
      zeros(this, size);
      cb();
    },
  });
  body.on('error', (err) => out.destroy(err));
  return body.pipe(out);
}
