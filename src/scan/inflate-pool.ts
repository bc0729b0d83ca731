/**
 * A small pool of inflate worker threads (inflate-worker.ts) and the Duplex that gunzips through one
 * ({@link WorkerGunzip}). Workers are started on demand, at most {@link inflateWorkerLimit} at once,
 * kept for the next layer, and unref'd while idle so they never keep the process alive. When every
 * worker is busy, or workers cannot start here, the caller gunzips on its own thread (node:zlib,
 * same bytes out).
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import { Duplex } from 'node:stream';
import type { Worker } from 'node:worker_threads';
import { PushgateError } from '../core/index.js';
import { ownBytes } from './inflate-bytes.js';
import type { InflateReply, InflateRequest } from './inflate-worker.js';

// node:worker_threads is loaded by the first worker started, not with this module: a process that
// inflates on its own thread (fewer cores, small layers) never loads it.
const requireBuiltin = createRequire(import.meta.url);

/** Compressed bytes posted and not yet taken by the worker's zlib before the writer waits (8 MiB). */
const IN_WINDOW = 8 << 20;

/** Workers per process: one per core beyond the main thread's, at least one, at most four. */
export const inflateWorkerLimit = Math.max(1, Math.min(4, os.availableParallelism() - 1));

const idle: Worker[] = [];
const busy = new Set<Worker>();
/** Workers that have finished a job: one that dies before that cannot start here. */
const proven = new WeakSet<Worker>();
let started = 0;
let broken = false;
let jobs = 0;
let nextId = 0;

/** Pool counters (tests, diagnostics): workers alive and busy, jobs finished in a worker, whether workers are disabled. */
export function inflateWorkerStats(): { alive: number; busy: number; jobs: number; broken: boolean } {
  return { alive: started, busy: busy.size, jobs, broken };
}

/** The worker threads running a job now (tests kill one mid-layer with it). */
export function busyInflateWorkers(): Worker[] {
  return [...busy];
}

/**
 * The worker script. Under the TypeScript sources (tests, a checkout run through tsx) the worker
 * registers tsx itself (inflate-worker-tsx.mjs): hooks registered on the main thread do not reach
 * worker threads.
 */
function spawnWorker(): Worker {
  const here = import.meta.url;
  const { Worker } = requireBuiltin('node:worker_threads') as typeof import('node:worker_threads');
  return new Worker(new URL(here.endsWith('.ts') ? './inflate-worker-tsx.mjs' : './inflate-worker.js', here));
}

function acquire(): Worker | undefined {
  const w = idle.pop();
  if (w) { w.ref(); busy.add(w); return w; }
  if (broken || started >= inflateWorkerLimit) return undefined;
  started++;
  const nw = spawnWorker();
  nw.once('exit', () => {
    started--;
    busy.delete(nw);
    const i = idle.indexOf(nw);
    if (i >= 0) idle.splice(i, 1);
    if (!proven.has(nw)) broken = true;
  });
  busy.add(nw);
  return nw;
}

function release(w: Worker): void {
  busy.delete(w);
  w.unref();
  idle.push(w);
}

/** Starts one worker ahead of the first big layer (its start overlaps the manifest fetches). */
export function warmInflateWorker(): void {
  if (idle.length || broken || started >= inflateWorkerLimit) return;
  const w = acquire();
  if (w) release(w);
}

/** True for the error of an inflate worker thread that died (not a problem of the layer). */
export function isInflateWorkerFailure(e: unknown): boolean {
  return e instanceof PushgateError && e.code === 'INTERNAL' && e.details?.inflateWorker === true;
}

/**
 * gunzip in a pool worker, as a Duplex (compressed bytes in, tar bytes out), a drop-in for
 * `zlib.createGunzip()` in a pipeline. `bytesWritten` is the compressed bytes inflated so far, as
 * zlib's. Errors: zlib's own (same messages: "unexpected end of file", "incorrect header check");
 * INTERNAL with `details.inflateWorker` when the worker thread dies ({@link isInflateWorkerFailure}).
 */
export class WorkerGunzip extends Duplex {
  /** Compressed bytes the worker's zlib has consumed. */
  bytesWritten = 0;
  private inFlight = 0;
  private waiting: (() => void) | undefined;
  private unacked = 0;
  private done = false;
  private readonly id = ++nextId;
  private readonly onMessage: (m: InflateReply) => void;
  private readonly onDeath: (e?: unknown) => void;

  private constructor(private readonly worker: Worker) {
    super({ readableHighWaterMark: 1 << 20, writableHighWaterMark: 1 << 20 });
    this.onMessage = (m) => {
      if (m.id !== this.id) return; // a reply to an earlier, aborted job on this worker
      switch (m.t) {
        case 'inack':
          this.inFlight -= m.n;
          if (this.waiting && this.inFlight < IN_WINDOW) { const w = this.waiting; this.waiting = undefined; w(); }
          break;
        case 'data':
          this.bytesWritten = m.consumed;
          this.unacked += m.buf.byteLength;
          // acknowledged now, or when the tar side asks for more (_read): the worker's window
          if (this.push(Buffer.from(m.buf))) this.ack();
          break;
        case 'end':
          this.bytesWritten = m.consumed;
          this.finish(true, true);
          this.push(null);
          break;
        case 'error': {
          this.finish(true, false);
          const e = new Error(m.message) as NodeJS.ErrnoException;
          if (m.code) e.code = m.code;
          this.destroy(e);
          break;
        }
      }
    };
    this.onDeath = (e) => {
      const why = e instanceof Error ? e.message : `exit code ${String(e)}`;
      this.finish(false, false);
      this.destroy(new PushgateError('INTERNAL', `inflate worker thread stopped: ${why}`, { details: { inflateWorker: true } }));
    };
    worker.on('message', this.onMessage);
    worker.on('error', this.onDeath);
    worker.on('exit', this.onDeath);
    this.post({ t: 'start', id: this.id });
  }

  /** A gunzip stream on a free pool worker, or undefined when none is free. */
  static create(): WorkerGunzip | undefined {
    const w = acquire();
    return w ? new WorkerGunzip(w) : undefined;
  }

  private post(m: InflateRequest, transfer?: ArrayBuffer[]): void {
    this.worker.postMessage(m, transfer);
  }

  private ack(): void {
    if (this.unacked && !this.done) { this.post({ t: 'ack', n: this.unacked }); this.unacked = 0; }
  }

  /** Ends the job: `reuse` returns the worker to the pool; `completed` counts a job it finished. */
  private finish(reuse: boolean, completed: boolean): void {
    if (this.done) return;
    this.done = true;
    this.worker.off('message', this.onMessage);
    this.worker.off('error', this.onDeath);
    this.worker.off('exit', this.onDeath);
    if (completed) { jobs++; proven.add(this.worker); }
    if (reuse) release(this.worker);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.done) return cb();
    // A chunk that spans its whole ArrayBuffer (file reads, most socket reads) is moved to the
    // worker, not copied: nothing upstream keeps it once it has been hashed and written here.
    const buf = ownBytes(chunk);
    this.inFlight += buf.byteLength;
    this.post({ t: 'data', buf }, [buf]);
    if (this.inFlight < IN_WINDOW) cb();
    else this.waiting = () => cb();
  }

  override _final(cb: (e?: Error | null) => void): void {
    if (!this.done) this.post({ t: 'end' });
    cb();
  }

  override _read(): void {
    this.ack();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    if (!this.done) {
      // Stopped mid-layer (a verify error, a tar error, a deadline): the worker drops the job and
      // stays in the pool.
      this.post({ t: 'abort' });
      this.finish(true, false);
    }
    const w = this.waiting;
    this.waiting = undefined;
    if (w) w();
    cb(err);
  }
}
