/**
 * What a blob is by its bytes, whatever its descriptor's media type says: a layer archive (gzip,
 * zstd or tar, as go-containerregistry internal/compression and Docker's DecompressStream sniff
 * them) or data (JSON, a signature, an SBOM). A runtime that sniffs would unpack an archive hidden
 * behind a non-layer media type, so such a blob is scanned as a layer; data is not a filesystem.
 */
import type { Readable } from 'node:stream';
import { shortDigest, type Descriptor } from '../core/index.js';
import { VerifyStream, sniffCompression } from './layer-stream.js';
import { isGoTarHeaderBlock } from './tar-headers.js';

/** Blobs up to this size are read to be classified (16 MiB); larger ones are scanned as layers. */
export const CLASSIFY_MAX_BYTES = 16 * 1024 * 1024;

/**
 * True when the first 512 bytes are a tar header as Go's archive/tar reads one (POSIX ustar, GNU, star
 * or v7; the checksum the unsigned or the signed sum of the block, src/scan/tar-headers.ts), so an
 * uncompressed layer Docker Engine unpacks is never taken for data.
 */
export function isTarHeader(b: Buffer): boolean {
  return isGoTarHeaderBlock(b);
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
