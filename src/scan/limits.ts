/**
 * The limits every scan runs under, and the process-wide resources scans share: a bound on scans
 * running at once ({@link ScanSlots}) and the temp-space pool (spill.ts {@link SpillPool}). Config
 * `scan.workers`, `scan.tmpDirLimit`, `scan.deadline`, `scan.limits.*`. A limit that is hit never
 * fails a scan and never passes silently: it is a diagnostic with `incomplete: true`, so the
 * policy's `onIncomplete` decides.
 */
import type { Analyzer } from './analyzers/types.js';
import type { LayerLimits } from './layer-stream.js';

/** Limits of one scan (config `scan.limits.*`); unset fields use {@link DEFAULT_SCAN_LIMITS}. */
export interface ScanLimits extends LayerLimits {
  /** Layers per image manifest (`scan.limits.layers`): a manifest with more is not read at all. */
  maxLayers?: number;
  /**
   * Manifests listed by one image index (`scan.limits.manifestsPerIndex`): an index listing more is
   * judged without reading any of them.
   */
  maxIndexManifests?: number;
  /** Largest lock file an analyzer with `sizeClass: 'lockfile'` reads, bytes (`scan.limits.lockFileSize`). */
  lockFileBytes?: number;
  /** Largest OS package database an analyzer with `sizeClass: 'packagedb'` reads, bytes (`scan.limits.packageDbSize`). */
  packageDbBytes?: number;
}

/**
 * Defaults. Layers: Docker refuses to build past 127 and overlayfs mounts stop near 500 lower
 * directories, so a manifest with more is not an image a runtime starts. Index manifests: a runtime
 * pulls one of them, while a scan reads them all and its report holds every one's inventory; within
 * Distribution's 4 MiB manifest limit an index can list some 25,000 (one small image listed again and
 * again), which held a scan slot for minutes and, for an image of a few hundred packages, a report of
 * gigabytes. Published multi-platform images list a few dozen (platforms and their attestations). Entries: the largest real
 * layers (CUDA, PyTorch, big node_modules) hold a few hundred thousand files. Lock files: a
 * 200,000-package package-lock.json is about 56 MiB, and parsing one takes about ten times its size
 * in memory (~550 MiB peak for that one), so the cap is also the scan's memory bound. Package
 * databases: rpm databases are spilled to disk and read there (the old rpm cap); dpkg and apk
 * databases are read into memory.
 */
export const DEFAULT_SCAN_LIMITS: Required<ScanLimits> = {
  maxLayers: 500,
  maxIndexManifests: 256,
  maxEntries: 500_000,
  maxTarBytes: 64 * 2 ** 30,
  maxRatio: 1000,
  lockFileBytes: 64 * 2 ** 20,
  packageDbBytes: 512 * 2 ** 20,
};

/** The config key of each limit, for diagnostics that tell the operator what to raise. */
export const LIMIT_KEYS: Record<keyof ScanLimits, string> = {
  maxLayers: 'scan.limits.layers',
  maxIndexManifests: 'scan.limits.manifestsPerIndex',
  maxEntries: 'scan.limits.entriesPerLayer',
  maxTarBytes: 'scan.limits.layerSize',
  maxRatio: 'scan.limits.ratio',
  lockFileBytes: 'scan.limits.lockFileSize',
  packageDbBytes: 'scan.limits.packageDbSize',
};

/** `limits` with every unset field taken from {@link DEFAULT_SCAN_LIMITS}. */
export function resolveLimits(limits: ScanLimits | undefined): Required<ScanLimits> {
  const out = { ...DEFAULT_SCAN_LIMITS };
  for (const [k, v] of Object.entries(limits ?? {}) as Array<[keyof ScanLimits, number | undefined]>) if (v !== undefined) out[k] = v;
  return out;
}

/**
 * The analyzer set with the size caps of lock-file and package-database analyzers replaced by the
 * configured limits (their own `maxSize` is only the default for other sets). Others unchanged.
 */
export function withSizeLimits(analyzers: readonly Analyzer[], limits: Required<ScanLimits>): readonly Analyzer[] {
  return analyzers.map((a) => a.sizeClass === 'lockfile' ? { ...a, maxSize: limits.lockFileBytes }
    : a.sizeClass === 'packagedb' ? { ...a, maxSize: limits.packageDbBytes } : a);
}

/**
 * A counting semaphore for scans: at most `size` run at once in this process, whichever path
 * started them (queue workers, push proxy, admission webhook). Waiters are served first come,
 * first served; a waiter whose signal aborts leaves the line.
 */
export class ScanSlots {
  private busy = 0;
  private readonly waiting: Array<() => void> = [];

  /** @param size scans allowed at once (config `scan.workers`, at least 1) */
  constructor(readonly size: number) {}

  /** Scans running now. */
  get running(): number {
    return this.busy;
  }

  /** Scans waiting for a slot now. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Runs `fn` once a slot is free and frees it when `fn` settles.
   * @throws the signal's reason when it aborts before a slot is free (nothing ran).
   */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  private acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.busy < Math.max(1, this.size)) {
      this.busy++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const go = () => {
        signal?.removeEventListener('abort', onAbort);
        this.busy++;
        resolve();
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(go);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal!.reason);
      };
      this.waiting.push(go);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private release(): void {
    this.busy--;
    this.waiting.shift()?.();
  }
}
