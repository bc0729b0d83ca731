/**
 * Reading one layer blob once: size and sha256 verified while streaming (go-containerregistry
 * internal/verify), compression sniffed from magic bytes, never from the media type
 * (go-containerregistry internal/compression: gzip `1f 8b`, zstd `28 b5 2f fd`, else plain tar),
 * zstd decoded by Debian's `zstd -dc` child process (streaming, flat memory; Node 20 has no zstd),
 * and the tar read once, as Go's archive/tar reads it (tar-walk.ts).
 */
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { Duplex, PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { PushgateError, digestAlgorithm, digestHex, shortDigest, type Digest } from '../core/index.js';
import { WorkerGunzip } from './inflate-pool.js';
import { TarWalk } from './tar-walk.js';
import type { LayerWalker } from './walker.js';

// node:child_process (with net, dgram and their bindings) is loaded by the first zstd, xz or bzip2
// layer, not with this module: a gzip or plain layer, most of them, spawns nothing.
const requireBuiltin = createRequire(import.meta.url);

/** Read buffer size for blobs and inflate output (1 MiB: fewer, bigger chunks through every stage). */
export const CHUNK = 1 << 20;

/**
 * Passes bytes through while counting and hashing them; fails with SIZE_MISMATCH as soon as more
 * than `size` bytes arrive, and at the end with SIZE_MISMATCH / DIGEST_MISMATCH.
 */
export class VerifyStream extends Transform {
  private readonly hash: crypto.Hash;
  /** Bytes seen so far. */
  bytes = 0;

  constructor(private readonly digest: Digest, private readonly size: number | undefined) {
    super({ highWaterMark: CHUNK });
    const alg = digestAlgorithm(digest);
    if (alg !== 'sha256' && alg !== 'sha512') throw new PushgateError('UNSUPPORTED', `digest algorithm "${alg}" is not supported`);
    this.hash = crypto.createHash(alg);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.size !== undefined && this.size >= 0 && this.bytes > this.size) {
      cb(new PushgateError('SIZE_MISMATCH', `blob ${shortDigest(this.digest)} is longer than its descriptor's ${this.size} bytes`));
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.size !== undefined && this.size >= 0 && this.bytes !== this.size) {
      cb(new PushgateError('SIZE_MISMATCH', `blob ${shortDigest(this.digest)} has ${this.bytes} bytes, its descriptor says ${this.size}`));
      return;
    }
    const got = this.hash.digest('hex');
    if (got !== digestHex(this.digest)) {
      cb(new PushgateError('DIGEST_MISMATCH', `blob ${shortDigest(this.digest)} hashes to ${digestAlgorithm(this.digest)}:${got.slice(0, 12)}…; content does not match its digest`));
      return;
    }
    cb();
  }
}

/** Compression by magic bytes. */
export type Compression = 'gzip' | 'zstd' | 'bzip2' | 'xz' | 'none';

/** xz stream header magic (tukaani xz-file-format 2.1.1.1). */
const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/**
 * Sniffs the compression of a blob from its first bytes (at least 8 for a skippable frame). zstd is
 * a zstd frame (`28 b5 2f fd`) or, as containerd and moby detect it (RFC 8878 section 3), a
 * skippable frame (magic `0x184D2A50`–`0x184D2A5F` little-endian, then its 4-byte size): the
 * runtime decompresses such a blob as zstd, skipping the frame, and so must the scanner.
 */
export function sniffCompression(head: Buffer): Compression {
  // Docker Engine's DecompressStream (moby pkg/archive, daemon/internal/archiveutil) tries bzip2 first
  // ("BZh"), then gzip, xz and zstd, whatever the layer's media type says; containerd reads gzip and
  // zstd only. A layer is read as the runtime that unpacks the most would read it.
  if (head.length >= 3 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) return 'bzip2';
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 6 && head.subarray(0, 6).equals(XZ_MAGIC)) return 'xz';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  if (head.length >= 8 && (head.readUInt32LE(0) & 0xfffffff0) >>> 0 === 0x184d2a50) return 'zstd';
  return 'none';
}

/** Reads at least `n` bytes (or to the end) from a paused readable, then puts them back. */
async function peek(r: Readable, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  while (have < n) {
    const c = r.read() as Buffer | null;
    if (c) { parts.push(c); have += c.length; continue; }
    if (r.readableEnded || r.destroyed) break;
    const ended = await new Promise<boolean>((resolve, reject) => {
      const cleanup = () => { r.off('readable', onR); r.off('end', onE); r.off('error', onErr); };
      const onR = () => { cleanup(); resolve(false); };
      const onE = () => { cleanup(); resolve(true); };
      const onErr = (e: Error) => { cleanup(); reject(e); };
      r.once('readable', onR); r.once('end', onE); r.once('error', onErr);
    });
    if (ended) break;
  }
  const head = parts.length === 1 ? parts[0] : Buffer.concat(parts);
  if (head.length) r.unshift(head);
  return head;
}

/** The decompressing program per compression, and the package that installs it. */
const DECODERS = { zstd: 'zstd', bzip2: 'bzip2', xz: 'xz-utils' } as const;

/** A `zstd -dc` child as a duplex stream; fails with UNSUPPORTED when the binary is missing. */
export function zstdDecoder(): Duplex {
  return programDecoder('zstd');
}

/**
 * A `<program> -dcq` child (zstd, bzip2, xz: each reads concatenated streams, as Docker Engine's own
 * `xz -d -c -q` and Go's bzip2 reader do) as a duplex stream; fails with UNSUPPORTED when the
 * program is missing, CORRUPT_LAYER when it exits non-zero.
 */
export function programDecoder(program: keyof typeof DECODERS): Duplex {
  const { spawn } = requireBuiltin('node:child_process') as typeof import('node:child_process');
  const child = spawn(program, ['-dcq'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { if (stderr.length < 2000) stderr += c.toString(); });
  const out = new PassThrough({ highWaterMark: CHUNK });
  child.stdout.pipe(out, { end: false });
  let stdoutEnded = false;
  let exit: number | null | undefined;
  const finish = () => {
    if (!stdoutEnded || exit === undefined) return;
    if (exit === 0) out.end();
    else out.destroy(new PushgateError('CORRUPT_LAYER', `${program} -dc failed (exit ${exit}): ${stderr.trim().split('\n').pop() ?? ''}`));
  };
  child.stdout.on('end', () => { stdoutEnded = true; finish(); });
  child.on('exit', (code) => { exit = code; finish(); });
  child.on('error', (e: NodeJS.ErrnoException) => {
    out.destroy(e.code === 'ENOENT'
      ? new PushgateError('UNSUPPORTED', `${program} layer: the \`${program}\` program is not installed (apt-get install ${DECODERS[program]})`, { cause: e })
      : e);
  });
  child.stdin.on('error', () => { /* the child's exit status reports the failure */ });
  const d = Duplex.from({ writable: child.stdin, readable: out });
  d.on('close', () => { if (child.exitCode === null) child.kill(); });
  return d;
}

/** Per-layer limits (zip-bomb and hostile-tar guards). */
export interface LayerLimits {
  /** Max tar entries per layer (default 2,000,000). */
  maxEntries?: number;
  /** Max uncompressed bytes per layer (default 64 GiB). */
  maxTarBytes?: number;
  /**
   * Max uncompressed/compressed ratio once past 64 MiB uncompressed (default 1000; deflate cannot
   * exceed about 1030, reached only by runs of one byte value such as zero-filled bombs).
   */
  maxRatio?: number;
}

/**
 * Passes the uncompressed tar through while counting it, keeping its last 512 bytes, and failing
 * with CORRUPT_LAYER once it expands past `maxTarBytes`, or past `maxRatio` times the compressed
 * bytes `consumed()` says were read so far (checked from 64 MiB on). A class, not a Transform made
 * with a `transform` function per layer: V8 keeps its optimized code from one layer to the next.
 */
class TarCounter extends Transform {
  /** Uncompressed bytes seen. */
  tarBytes = 0;
  /** The last 512 tar bytes (copied: the chunk itself is not kept alive). */
  tail = Buffer.alloc(0);

  constructor(private readonly maxTarBytes: number, private readonly maxRatio: number, private readonly consumed: () => number) {
    super({ highWaterMark: CHUNK });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.tarBytes += chunk.length;
    const tarBytes = this.tarBytes;
    if (chunk.length >= 512) this.tail = Buffer.from(chunk.subarray(chunk.length - 512));
    else if (chunk.length) this.tail = Buffer.concat([this.tail, chunk]).subarray(-512);
    if (tarBytes > this.maxTarBytes) return cb(new PushgateError('CORRUPT_LAYER', `layer expands past the ${this.maxTarBytes}-byte limit (limit maxTarBytes)`));
    if (tarBytes > 64 * 2 ** 20 && tarBytes > this.maxRatio * Math.max(1, this.consumed())) {
      return cb(new PushgateError('CORRUPT_LAYER', `layer expands more than ${this.maxRatio}× its compressed size (decompression bomb?); limit scan maxRatio`));
    }
    cb(null, chunk);
  }
}

/** What reading a layer found besides the walker's analysis. */
export interface LayerReadResult {
  compression: Compression;
  compressedBytes: number;
  /** True when the tar ended without its two zero end-of-archive blocks. */
  noEof: boolean;
}

/**
 * Reads a layer blob to its end: verifies it, decompresses it and feeds every tar entry to `walker`.
 * Rejects (PushgateError DIGEST_MISMATCH, SIZE_MISMATCH, CORRUPT_LAYER, UNSUPPORTED) when the blob
 * cannot be read fully; the walker keeps what it saw until then.
 */
export async function readLayer(
  raw: Readable,
  desc: { digest: Digest; size?: number },
  walker: LayerWalker,
  opts: {
    limits?: LayerLimits;
    signal?: AbortSignal;
    /** gzip: inflate in a pool worker thread when one is free (inflate-pool.ts). */
    worker?: boolean;
  } = {},
): Promise<LayerReadResult> {
  const verify = new VerifyStream(desc.digest, desc.size);
  // Listen before anything else: a small blob can arrive, end and fail verification (on the
  // next tick) before the first await below returns.
  let verifyError: unknown;
  const verified = new Promise<void>((resolve) => {
    verify.on('error', (e) => { verifyError = e; resolve(); });
    verify.on('end', () => resolve());
    verify.on('close', () => resolve());
  });
  raw.on('error', (e) => verify.destroy(e));
  raw.pipe(verify);
  let head: Buffer;
  try {
    head = await peek(verify, 8);
  } catch (e) {
    raw.destroy();
    throw verifyError ?? e;
  }
  const compression = sniffCompression(head);
  const maxEntries = opts.limits?.maxEntries ?? 2_000_000;
  const maxTarBytes = opts.limits?.maxTarBytes ?? 64 * 2 ** 30;
  const maxRatio = opts.limits?.maxRatio ?? 1000;

  // Compressed bytes consumed so far: for gzip, what inflate has actually consumed
  // (zlib bytesWritten grows as input is processed), so a bomb read in one 1 MiB chunk is seen at
  // its true ratio; otherwise the bytes read (zstd's pipe buffers only a little ahead).
  // gzip: inflated in a pool worker thread for big layers (its zlib jobs then never wait for the
  // tar parser and analyzers on this event loop), here otherwise or when every worker is busy.
  const gunzip = compression !== 'gzip' ? undefined
    : (opts.worker && WorkerGunzip.create()) || zlib.createGunzip({ chunkSize: CHUNK });
  const consumed = () => (gunzip ? gunzip.bytesWritten : verify.bytes);
  const counter = new TarCounter(maxTarBytes, maxRatio, consumed);
  const sink = new TarWalk(walker, maxEntries);
  // The blob is verified on its own track: when the tar ends early (or is cut in its final padding),
  // the rest of the blob is still read and hashed, and a digest or size mismatch always wins over
  // whatever the decompressor or tar parser said. Errors of `verify` never go unhandled.
  const stages: Array<NodeJS.ReadableStream | NodeJS.WritableStream | Duplex> = [];
  if (gunzip) stages.push(gunzip);
  else if (compression !== 'none' && compression !== 'gzip') stages.push(programDecoder(compression));
  stages.push(counter, sink);
  const head0 = stages[0] as NodeJS.WritableStream;
  if (verifyError) {
    raw.destroy();
    // The decoder was made already: an inflate worker's job or a zstd process would be left holding
    // this process open (the worker busy and referenced, the child running). A program decoder
    // (Duplex.from) destroyed without an error emits an AbortError: listened to here, or it would be
    // an uncaught exception that ends the process.
    for (const s of stages) (s as unknown as Duplex).on('error', () => undefined).destroy();
    throw verifyError;
  }
  // A failed verification stops the decoding pipeline instead of leaving it waiting for input.
  verify.on('error', (e) => (head0 as unknown as Duplex).destroy(e));
  verify.pipe(head0);
  try {
    await (pipeline as (...a: unknown[]) => Promise<void>)(...stages, opts.signal ? { signal: opts.signal } : {});
  } catch (e) {
    verify.unpipe(head0);
    if (!verifyError && !verify.readableEnded && !opts.signal?.aborted) {
      // A changed byte makes inflate or the tar parser fail at that byte, often before the rest of the
      // blob has arrived: the rest is hashed (at most the descriptor's size, which VerifyStream holds
      // it to), so a blob that is not what its digest says is reported as that, whatever failed first.
      // The scan's deadline still ends the wait: a source that stalls here stops being read.
      const stop = () => verify.destroy();
      opts.signal?.addEventListener('abort', stop, { once: true });
      verify.resume();
      await verified;
      opts.signal?.removeEventListener('abort', stop);
    } else {
      verify.destroy();
    }
    await verified;
    raw.destroy();
    throw verifyError instanceof PushgateError ? verifyError : e;
  } finally {
    walker.addTarBytes(counter.tarBytes);
  }
  const cutInPadding = sink.cutInPadding;
  if (!verify.readableEnded) {
    // The tar ended (end-of-archive blocks) before the blob did: hash the rest.
    verify.unpipe(head0);
    verify.resume();
  }
  await verified;
  if (verifyError) throw verifyError;
  // The tar format ends with two zero blocks; some writers (umoci 0.4.7) omit them.
  const tail = counter.tail;
  const noEof = cutInPadding || counter.tarBytes > 0 && !(tail.length === 512 && tail.every((b) => b === 0));
  return { compression, compressedBytes: verify.bytes, noEof };
}
