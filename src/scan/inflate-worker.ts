/**
 * Worker-thread side of gzip layer decompression (started by inflate-pool.ts). The main thread
 * verifies the blob and posts its compressed bytes; this thread inflates them with node:zlib and
 * posts the tar bytes back. Its event loop does nothing else, so inflate jobs on the libuv pool are
 * chained without waiting for the tar parser and analyzers on the main event loop (which is what
 * made an in-thread gunzip run at half speed next to them).
 *
 * Protocol, one job at a time: `start`; `data` (compressed chunks, acknowledged with `inack` once
 * zlib took them); `end`; `ack` (tar bytes the main thread consumed: output pauses past
 * {@link OUT_WINDOW} unacknowledged bytes); `abort`. Replies: `data` (tar chunks with the compressed
 * bytes consumed so far, for the decompression-ratio limit), `end`, or `error` (zlib's message).
 */
import { parentPort } from 'node:worker_threads';
import zlib from 'node:zlib';
import { ownBytes } from './inflate-bytes.js';

/** Tar bytes posted and not yet acknowledged before inflating pauses (16 MiB). */
export const OUT_WINDOW = 16 << 20;

/** Messages from the main thread. */
export type InflateRequest =
  | { t: 'start'; id: number }
  | { t: 'data'; buf: ArrayBuffer }
  | { t: 'end' }
  | { t: 'ack'; n: number }
  | { t: 'abort' };

/** Messages to the main thread. */
export type InflateReply = { id: number } & (
  | { t: 'inack'; n: number }
  | { t: 'data'; buf: ArrayBuffer; consumed: number }
  | { t: 'end'; consumed: number }
  | { t: 'error'; message: string; code?: string });

const port = parentPort;
if (port) {
  let g: zlib.Gunzip | undefined;
  let out = 0;
  let paused = false;
  let id = 0;
  const post = (m: InflateReply, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);
  port.on('message', (m: InflateRequest) => {
    switch (m.t) {
      case 'start': {
        const z = zlib.createGunzip({ chunkSize: 1 << 20 });
        const job = m.id;
        id = job;
        g = z;
        out = 0;
        paused = false;
        z.on('data', (c: Buffer) => {
          if (g !== z) return;
          const buf = ownBytes(c);
          out += buf.byteLength;
          post({ id: job, t: 'data', buf, consumed: z.bytesWritten }, [buf]);
          if (out >= OUT_WINDOW && !paused) { paused = true; z.pause(); }
        });
        z.on('end', () => { if (g === z) { g = undefined; post({ id: job, t: 'end', consumed: z.bytesWritten }); } });
        z.on('error', (e: NodeJS.ErrnoException) => { if (g === z) { g = undefined; post({ id: job, t: 'error', message: e.message, code: e.code }); } });
        break;
      }
      case 'data': {
        const z = g;
        if (!z) return;
        const n = m.buf.byteLength;
        const job = id;
        z.write(Buffer.from(m.buf), () => post({ id: job, t: 'inack', n }));
        break;
      }
      case 'end':
        g?.end();
        break;
      case 'ack':
        out -= m.n;
        if (paused && out < OUT_WINDOW && g) { paused = false; g.resume(); }
        break;
      case 'abort': {
        const z = g;
        g = undefined;
        z?.destroy();
        break;
      }
    }
  });
}
