/**
 * The layer walker: receives a layer's entries once, in order, applies no filesystem semantics of
 * its own except path normalization, records whiteouts (`.wh.NAME`) and opaque directories
 * (`.wh..wh..opq`, OCI image-spec layer.md "Whiteouts"), and hands each regular file's content to the
 * analyzers that asked for it (trivy pkg/fanal/walker/tar.go). Content nobody asked for is drained
 * without copying. Symlinks and hard links are recorded, never followed; names that escape the root
 * (`../x`) are dropped with a `path-traversal` diagnostic.
 */
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import type { Diagnostic, Digest } from '../core/index.js';
import type { Analyzer, AnalyzerContext, AnalyzerOutput, EntryInfo, StreamSink } from './analyzers/types.js';
import { baseName, dirName } from './analyzers/types.js';
import { SpillBudget } from './spill.js';

/** What one analyzer found in one file of a layer. */
export interface FileResult {
  path: string;
  analyzer: string;
  out: AnalyzerOutput;
}

/**
 * What a single layer contributed: the analyzers' results per file, every path the layer writes,
 * its whiteouts and opaque directories. Plain JSON: it is what the layer cache stores (keyed by
 * analyzer-set version + layer digest, see engine.ts).
 */
export interface LayerAnalysis {
  /** The analyzer-set version this was produced with ({@link analyzerSetVersion}). */
  version: string;
  /** Compressed digest of the layer blob (absent for `dir:` scans). */
  digest?: Digest;
  /** Uncompressed digest from the image config, when known. */
  diffID?: Digest;
  /** Every non-whiteout path the layer writes (files, dirs, links), absolute. */
  paths: string[];
  /** Paths deleted by `.wh.NAME` entries. */
  whiteouts: string[];
  /** Directories whose lower-layer content is hidden by `.wh..wh..opq`. */
  opaqueDirs: string[];
  results: FileResult[];
  diagnostics: Diagnostic[];
  /** Tar entries seen. */
  entries: number;
  /** Uncompressed tar bytes read. */
  tarBytes: number;
  /** False when the layer could not be read to its end (then it is not cached). */
  complete: boolean;
}

/** An entry as the walker needs it (from a tar header or an lstat). */
export interface WalkEntry {
  /** The name as stored (`./usr/bin/x`, `usr/bin/x`). */
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'link' | 'other';
  size: number;
  mode: number;
  linkname?: string;
}

/** Normalizes a tar name to an absolute path, or undefined when it escapes the root. */
export function normalizeEntryPath(name: string): string | undefined {
  const parts: string[] = [];
  for (const seg of name.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (parts.length === 0) return undefined;
      parts.pop();
    } else parts.push(seg);
  }
  return '/' + parts.join('/');
}

/** Walks one layer's entries; create one per layer. */
export class LayerWalker {
  private readonly analysis: LayerAnalysis;
  private readonly ctx: AnalyzerContext;

  constructor(
    private readonly analyzers: readonly Analyzer[],
    opts: { version: string; digest?: Digest; diffID?: Digest; tmpDir: string; layerLabel?: Digest; spill?: SpillBudget },
  ) {
    this.analysis = {
      version: opts.version, digest: opts.digest, diffID: opts.diffID,
      paths: [], whiteouts: [], opaqueDirs: [], results: [], diagnostics: [], entries: 0, tarBytes: 0, complete: true,
    };
    this.ctx = { tmpDir: opts.tmpDir, spill: opts.spill ?? new SpillBudget(opts.tmpDir) };
    this.layer = opts.layerLabel;
  }

  private readonly layer?: Digest;

  /** Adds a diagnostic for this layer. */
  diagnose(d: Omit<Diagnostic, 'layer'>): void {
    this.analysis.diagnostics.push({ ...d, layer: this.layer });
  }

  /**
   * Handles one entry. `body` is its content stream (tar entry stream or file stream) or null for
   * entries without content; the promise resolves once the body has been consumed.
   */
  async entry(e: WalkEntry, body: Readable | null): Promise<void> {
    this.analysis.entries++;
    const p = normalizeEntryPath(e.name);
    if (p === undefined) {
      this.diagnose({ code: 'path-traversal', path: e.name, message: `entry "${e.name}" points outside the image root; ignored` });
      return drain(body);
    }
    if (p === '/') return drain(body);
    const base = baseName(p);
    if (base.startsWith('.wh.')) {
      if (base === '.wh..wh..opq') this.analysis.opaqueDirs.push(dirName(p));
      else this.analysis.whiteouts.push(`${dirName(p) === '/' ? '' : dirName(p)}/${base.slice(4)}`);
      return drain(body);
    }
    this.analysis.paths.push(p);
    if (e.type === 'link' || e.type === 'symlink') {
      if (e.type === 'link' && e.linkname !== undefined && normalizeEntryPath(e.linkname) === undefined) {
        this.diagnose({ code: 'path-traversal', path: p, message: `hard link "${p}" → "${e.linkname}" points outside the image root; ignored` });
      }
      return drain(body);
    }
    if (e.type !== 'file' || body === null) return drain(body);

    const info: EntryInfo = { path: p, size: e.size, mode: e.mode };
    let buffered: Analyzer[] | undefined;
    let spilled: Analyzer[] | undefined;
    let sinks: Array<{ a: Analyzer; s: StreamSink }> | undefined;
    for (const a of this.analyzers) {
      if (!a.wants(info)) continue;
      if (e.size > a.maxSize) {
        this.diagnose({ code: 'file-too-large', path: p, message: `${a.name}: ${e.size} bytes is over its ${a.maxSize}-byte limit; not analyzed` });
        continue;
      }
      if (a.stream) {
        const s = a.stream(info, this.ctx);
        if (s) (sinks ??= []).push({ a, s });
      } else if (a.spill) (spilled ??= []).push(a);
      else (buffered ??= []).push(a);
    }
    let reserved = 0;
    if (spilled) {
      if (this.ctx.spill.take(e.size)) reserved = e.size;
      else {
        this.diagnose({ code: 'spill-limit', path: p, message: `${spilled.map((a) => a.name).join(', ')}: ${e.size} bytes do not fit in the scan's temp-space limit (${this.ctx.spill.limitBytes} bytes, config scan.tmpDirLimit); not analyzed`, incomplete: true });
        spilled = undefined;
      }
    }
    if (!buffered && !spilled && !sinks) return drain(body);

    const chunks: Buffer[] = [];
    let fd: number | undefined;
    let tmp: string | undefined;
    if (spilled) {
      tmp = this.ctx.spill.newPath('spill');
      fd = fs.openSync(tmp, 'w');
    }
    let ended = false;
    try {
      await new Promise<void>((resolve, reject) => {
        body.on('data', (c: Buffer) => {
          if (buffered) chunks.push(c);
          if (fd !== undefined) fs.writeSync(fd, c);
          if (sinks) for (const { s } of sinks) s.write(c);
        });
        body.on('end', resolve);
        body.on('error', reject);
        body.on('close', () => reject(new Error('entry stream closed before its end')));
      });
      ended = true;
      if (fd !== undefined) { fs.closeSync(fd); fd = undefined; }
      const content = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      for (const a of buffered ?? []) await this.run(a, p, () => a.analyze!({ ...info, content }, this.ctx));
      for (const a of spilled ?? []) await this.run(a, p, () => a.analyze!({ ...info, content: Buffer.alloc(0), file: tmp }, this.ctx));
      for (const { a, s } of sinks ?? []) await this.run(a, p, () => s.end());
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
      if (tmp) fs.rmSync(tmp, { force: true });
      this.ctx.spill.give(reserved);
      if (!ended) for (const { s } of sinks ?? []) s.abort?.();
    }
  }

  private async run(a: Analyzer, p: string, fn: () => AnalyzerOutput | undefined | Promise<AnalyzerOutput | undefined>): Promise<void> {
    try {
      const out = await fn();
      if (!out) return;
      if (out.diagnostics) out.diagnostics = out.diagnostics.map((d) => ({ ...d, layer: this.layer }));
      this.analysis.results.push({ path: p, analyzer: a.name, out });
    } catch (err) {
      this.diagnose({ code: 'parse-error', path: p, message: `${a.name}: ${err instanceof Error ? err.message : String(err)}` });
    }
  }

  /** Records the uncompressed byte count. */
  addTarBytes(n: number): void {
    this.analysis.tarBytes += n;
  }

  /** Marks the layer as not fully read. */
  markIncomplete(): void {
    this.analysis.complete = false;
  }

  /** The analysis so far. */
  result(): LayerAnalysis {
    return this.analysis;
  }
}

function drain(body: Readable | null): Promise<void> | void {
  if (!body) return;
  return new Promise((resolve, reject) => {
    body.on('end', resolve);
    body.on('error', reject);
    body.resume();
  });
}
