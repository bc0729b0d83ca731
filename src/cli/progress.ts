/**
 * Progress on a terminal for long CLI work (layer downloads and reads, matching, database downloads):
 * one cli-progress bar on stderr, redrawn in place. Nothing at all is written when stderr is not a
 * terminal (CI logs, pipes, files) or with `--quiet`: stdout carries the report only, and stderr
 * stays free of control sequences where nobody sees them animate.
 */
import { Transform, type Readable } from 'node:stream';
import { createRequire } from 'node:module';
import type * as CliProgress from 'cli-progress';
import { isFilesystemLayerMediaType, shortDigest, type Descriptor } from '../core/index.js';
import type { ImageSource } from '../scan/source.js';

/** A progress reporter. Every method is a no-op on a reporter that is not {@link Progress.active}. */
export interface Progress {
  /** True when it draws (stderr is a TTY and not `--quiet`). */
  readonly active: boolean;
  /**
   * Starts or updates a bar: `label` (`layer 2/5 sha256:ab12…`, `matching`), `total` units
   * (bytes for transfers, items otherwise; 0 when unknown), `unit` shown after the numbers.
   */
  start(label: string, total: number, unit?: 'bytes' | 'items'): void;
  /** Adds `n` units of work done to the current bar. */
  advance(n: number): void;
  /** Ends the current bar and clears its line. */
  stop(): void;
}

// Loaded only when a bar is drawn (a terminal): piped and quiet runs never pay for it.
const load = createRequire(import.meta.url);

const NOOP: Progress = { active: false, start() {}, advance() {}, stop() {} };

/** Formats a byte count as MiB with one decimal. */
function mib(n: number): string {
  return `${(n / 2 ** 20).toFixed(1)} MiB`;
}

/**
 * A reporter drawing on `stream` (default `process.stderr`), or the no-op one when the stream is
 * not a TTY or `quiet` is set.
 */
export function createProgress(opts: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet || !stream.isTTY) return NOOP;
  const cliProgress = load('cli-progress') as typeof CliProgress;
  let bar: CliProgress.SingleBar | undefined;
  let unit: 'bytes' | 'items' = 'bytes';
  let value = 0;
  let total = 0;
  const amount = () => (unit === 'bytes' ? `${mib(value)}${total ? ` / ${mib(total)}` : ''}` : `${value}${total ? ` / ${total}` : ''}`);
  return {
    active: true,
    start(label, t, u = 'bytes') {
      unit = u;
      value = 0;
      total = t;
      if (!bar) {
        bar = new cliProgress.SingleBar({
          stream, clearOnComplete: true, hideCursor: false, barsize: 24, fps: 10,
          format: '{label} [{bar}] {amount}',
        }, cliProgress.Presets.shades_classic);
        bar.start(Math.max(1, t), 0, { label, amount: amount() });
      } else {
        bar.setTotal(Math.max(1, t));
        bar.update(0, { label, amount: amount() });
      }
    },
    advance(n) {
      if (!bar) return;
      value += n;
      bar.update(Math.min(value, Math.max(1, total)), { amount: amount() });
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}

/**
 * An image source whose layer blobs report their bytes to `progress` as the engine reads them
 * (`layer i/n DIGEST`, bytes of the compressed blob), and that records every manifest it hands out
 * (root and children) by digest in `manifests`, for callers that need their annotations.
 * `onFirstLayerBytes` is called once, when the first bytes of a layer blob reach the engine.
 */
export function observedSource(source: ImageSource, progress: Progress, manifests: Map<string, Buffer>, onFirstLayerBytes?: () => void): ImageSource {
  let firstBytes = onFirstLayerBytes;
  let layersSeen = 0;
  let layerTotal = 0;
  const count = (bytes: Buffer) => {
    try {
      const doc = JSON.parse(bytes.toString('utf8')) as { layers?: unknown[] };
      if (Array.isArray(doc.layers)) layerTotal += doc.layers.length;
    } catch {
      // not JSON: the engine reports it; progress only counts what it can read
    }
  };
  return {
    target: source.target,
    async root() {
      const r = await source.root();
      manifests.set(r.digest, r.bytes);
      count(r.bytes);
      return r;
    },
    async manifest(desc: Descriptor) {
      const b = await source.manifest(desc);
      manifests.set(desc.digest, b);
      count(b);
      return b;
    },
    async blob(desc: Descriptor): Promise<Readable> {
      const raw = await source.blob(desc);
      if (!(progress.active || firstBytes) || !isFilesystemLayerMediaType(desc.mediaType)) return raw;
      layersSeen++;
      progress.start(`layer ${layersSeen}/${Math.max(layersSeen, layerTotal)} ${shortDigest(desc.digest)}`, desc.size ?? 0, 'bytes');
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          if (firstBytes) {
            const f = firstBytes;
            firstBytes = undefined;
            f();
          }
          progress.advance(chunk.length);
          cb(null, chunk);
        },
        flush(cb) {
          progress.stop();
          cb();
        },
      });
      raw.on('error', (e) => counter.destroy(e));
      // The engine may abandon a layer (deadline, limit): the source stream goes with it.
      counter.on('close', () => {
        progress.stop();
        if (!raw.destroyed) raw.destroy();
      });
      return raw.pipe(counter);
    },
    ...(source.close ? { close: () => source.close!() } : {}),
  };
}
