/**
 * What a blob is by its bytes, whatever its descriptor's media type says: a layer archive (gzip,
 * zstd or tar, as go-containerregistry internal/compression and Docker's DecompressStream sniff
 * them) or data (JSON, a signature, an SBOM). A runtime that sniffs would unpack an archive hidden
 * behind a non-layer media type, so such a blob is scanned as a layer; data is not a filesystem.
 */
import type { Readable } from 'node:stream';
import { shortDigest, type Descriptor } from '../core/index.js';
import { VerifyStream, sniffCompression } from './layer-stream.js';

/** Blobs up to this size are read to be classified (16 MiB); larger ones are scanned as layers. */
export const CLASSIFY_MAX_BYTES = 16 * 1024 * 1024;

/** True when the first 512 bytes are a tar header with a valid checksum (POSIX ustar, GNU or v7). */
export function isTarHeader(b: Buffer): boolean {
  if (b.length < 512) return false;
  const field = b.subarray(148, 156).toString('latin1').replace(/\0.*$/s, '').trim();
  if (!/^[0-7]+$/.test(field)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : b[i]!;
  return sum === parseInt(field, 8);
}

/** `archive` for gzip/zstd/tar bytes, else `data`. */
export function sniffBlob(head: Buffer): 'archive' | 'data' {
  return sniffCompression(head) !== 'none' || isTarHeader(head) ? 'archive' : 'data';
}

/**
 * Reads a (small) blob, verifying its size and digest, and classifies it.
 * @returns `archive`, `data`, or `too-big` when the descriptor is larger than
 *   {@link CLASSIFY_MAX_BYTES} (the caller then treats it as a layer).
 * @throws what `open` throws, PushgateError SIZE_MISMATCH / DIGEST_MISMATCH.
 */
export async function classifyBlob(open: (d: Descriptor) => Promise<Readable>, desc: Descriptor, signal?: AbortSignal): Promise<'archive' | 'data' | 'too-big'> {
  if (desc.size > CLASSIFY_MAX_BYTES) return 'too-big';
  const r = await open(desc);
  const v = new VerifyStream(desc.digest, desc.size);
  r.on('error', (e) => v.destroy(e));
  const onAbort = () => v.destroy(new Error(`reading blob ${shortDigest(desc.digest)} aborted`));
  signal?.addEventListener('abort', onAbort, { once: true });
  r.pipe(v);
  const parts: Buffer[] = [];
  try {
    for await (const c of v) parts.push(c as Buffer);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return sniffBlob(Buffer.concat(parts));
}
