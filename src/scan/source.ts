/**
 * Image sources: where the scan engine reads an image from. `scan` never imports `registry`: the
 * registry module implements {@link ImageSource} over the distribution API, local-source.ts over
 * OCI layouts and archives. A `dir:` target is a {@link DirectorySource} (a root filesystem).
 */
import type { Readable } from 'node:stream';
import type { Descriptor, Digest } from '../core/index.js';

/** An image to scan, read by content address. */
export interface ImageSource {
  /** The target as given, for the report. */
  readonly target: string;
  /** Top-level manifest or index as stored (bytes exactly as read), its digest and media type. */
  root(): Promise<{ digest: Digest; mediaType: string; bytes: Buffer }>;
  /** Child manifest bytes for an index entry (digest and size verified). */
  manifest(desc: Descriptor): Promise<Buffer>;
  /**
   * Raw blob stream (config or layer). Unverified: the engine verifies size and digest while
   * streaming. Throws (or the stream errors with) PushgateError NOT_FOUND when the blob is absent.
   */
  blob(desc: Descriptor): Promise<Readable>;
  close?(): Promise<void>;
}

/** A root filesystem on disk (`dir:PATH`). */
export interface DirectorySource {
  readonly kind: 'directory';
  readonly target: string;
  /** Absolute path of the root directory. */
  readonly root: string;
}

/** True for a {@link DirectorySource}. */
export function isDirectorySource(s: ImageSource | DirectorySource): s is DirectorySource {
  return (s as DirectorySource).kind === 'directory';
}
