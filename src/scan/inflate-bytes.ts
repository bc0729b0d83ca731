/**
 * What the main thread and the inflate worker (inflate-worker.ts) both use to post bytes: a module
 * of its own, so the main thread does not load the worker's module (and node:worker_threads with
 * it) to use it.
 */

/**
 * The bytes of a Buffer as an ArrayBuffer to transfer: the chunk's own when it spans all of it
 * (64 KiB or more: zlib output buffers, which zlib replaces once full; file and most socket reads),
 * a copy otherwise (a slice of a bigger buffer). The caller must not touch the chunk afterwards.
 */
export function ownBytes(c: Buffer): ArrayBuffer {
  return c.byteLength >= 1 << 16 && c.byteOffset === 0 && c.byteLength === c.buffer.byteLength && c.buffer instanceof ArrayBuffer
    ? c.buffer
    : c.buffer.slice(c.byteOffset, c.byteOffset + c.byteLength) as ArrayBuffer;
}
