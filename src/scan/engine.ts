/**
 * The scan engine: manifest (or index) → config → every layer read once, verified while streaming,
 * analyzed by the walker and cached per layer → layers stacked into the final filesystem's
 * inventory → image-config checks. Layer problems become diagnostics (`incomplete: true`); only an
 * unreadable root manifest throws.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { LRUCache } from 'lru-cache';
import {
  PushgateError, isAttestationManifest, isFilesystemLayerMediaType, isIndexMediaType, isPushgateError, nonImageArtifactType, parseImageConfig,
  parseManifestDocument, platformString, shortDigest,
  type Descriptor, type Diagnostic, type Digest, type ImageConfig, type ImageIndex, type ImageManifest, type Inventory, type Platform,
  type SecretFinding,
} from '../core/index.js';
import { classifyBlob } from './classify.js';
import { dpkgEnvDiagnostics } from './analyzers/dpkg-config.js';
import { rpmEnvDiagnostics } from './analyzers/rpm-macros.js';
import { ANALYZERS } from './analyzers/index.js';
import type { Analyzer } from './analyzers/types.js';
import { checkConfig, type RawImageConfig } from './config-checks.js';
import { redactDocument } from './config-secrets.js';
import { redactText } from './secret-spans.js';
import { readLayer, VerifyStream, type Compression } from './layer-stream.js';
import { LIMIT_KEYS, resolveLimits, withSizeLimits, type ScanLimits } from './limits.js';
import { isInflateWorkerFailure, warmInflateWorker } from './inflate-pool.js';
import { openLocalSource } from './local-source.js';
import { buildInventory, MERGE_VERSION, stackLayers } from './merge.js';
import { isDirectorySource, type ImageSource } from './source.js';
import { SpillBudget, type SpillPool } from './spill.js';
import { LayerWalker, MAX_PACKAGE_RECORDS, type LayerAnalysis } from './walker.js';

export type { LayerAnalysis } from './walker.js';

/** A store of per-layer analyses (the gate adds a persistent one). */
export interface LayerCache {
  get(key: string): Promise<LayerAnalysis | undefined>;
  set(key: string, value: LayerAnalysis): Promise<void>;
}

/** Options of a scan. */
export interface ScanOptions {
  /**
   * `os/arch[/variant]`: scan only this platform of an index; for a single image, its config's
   * platform must match (else BAD_ARGUMENT). Without a variant any variant matches; arm64 is arm64/v8.
   */
  platform?: string;
  layerCache?: LayerCache;
  /** Scratch directory for spilled entries (default: the OS temp dir); config `scan.tmpDir`. */
  tmpDir?: string;
  /** Cap on the bytes spilled under `tmpDir` at once by this scan (default 1 GiB); config `scan.tmpDirLimit`. */
  tmpDirLimitBytes?: number;
  /**
   * The process's temp-space pool shared by every scan running at once (config `scan.tmpDirLimit`);
   * when given, `tmpDirLimitBytes` is ignored.
   */
  spillPool?: SpillPool;
  signal?: AbortSignal;
  /**
   * Per-scan deadline in milliseconds: when it passes, the layer being read is abandoned, later
   * layers are not read, and a `scan-deadline` diagnostic (incomplete) says so.
   */
  deadlineMs?: number;
  /**
   * Limits (config `scan.limits.*`): layers per manifest, entries, bytes and decompression ratio
   * per layer, lock-file and package-database sizes. Unset fields use DEFAULT_SCAN_LIMITS
   * (limits.ts). A limit hit is a diagnostic with `incomplete: true`.
   */
  limits?: ScanLimits;
  /** Analyzer set (default {@link ANALYZERS}); tests and benches pass subsets. */
  analyzers?: readonly Analyzer[];
  /** Clock for the image-age check. */
  now?: Date;
  /**
   * Where gzip layers are inflated: `auto` (default) as {@link useInflateWorker} decides (a pool
   * worker thread for big layers on a machine with cores to spare, so inflating never waits for the
   * tar parser and analyzers on the calling thread's event loop); `always` for every gzip layer
   * (tests); `never` on the calling thread. Same bytes, same analysis either way.
   */
  inflateWorker?: 'auto' | 'always' | 'never';
}

/** Compressed gzip layer size from which `inflateWorker: auto` uses a worker thread (4 MiB). */
export const INFLATE_WORKER_MIN_BYTES = 4 << 20;

/**
 * Cores from which `inflateWorker: auto` uses a worker thread (3). A gunzip on the calling thread
 * already runs its inflate jobs on libuv's thread pool, beside the tar parser and analyzers: with two
 * cores both are busy, and a worker adds a thread start-up (a V8 isolate), a message per chunk each
 * way and a copy of every chunk smaller than its buffer for no core to gain. bench/scan-layer.ts on
 * the Debian base layer, 2 cores: worker wall 1.32× / CPU 1.64× the floor, calling thread 1.22× / 1.33×.
 */
export const INFLATE_WORKER_MIN_CORES = 3;

/**
 * Whether a gzip layer of `size` compressed bytes is inflated in a pool worker thread under `mode`
 * on a machine with `cores` available cores (default: os.availableParallelism()). `auto`: only for
 * layers of at least {@link INFLATE_WORKER_MIN_BYTES}, and only with at least
 * {@link INFLATE_WORKER_MIN_CORES} cores.
 */
export function useInflateWorker(mode: ScanOptions['inflateWorker'], size: number | undefined, cores = os.availableParallelism()): boolean {
  const m = mode ?? 'auto';
  if (m === 'always') return true;
  if (m === 'never') return false;
  return (size ?? 0) >= INFLATE_WORKER_MIN_BYTES && cores >= INFLATE_WORKER_MIN_CORES;
}

/** One scanned platform (one image manifest). */
export interface PlatformScan {
  platform: string;
  manifestDigest: Digest;
  configDigest?: Digest;
  /** The image config with every secret value redacted (config-secrets.ts); the raw config never leaves the engine. */
  config: ImageConfig;
  layers: Array<{ digest: Digest; diffID?: Digest; size: number; mediaType: string }>;
  /**
   * The diffIDs (or, without diffIDs, the blob digests) of the layers that come from the base
   * image, lowest first, as guessed from the config's history (config-checks.ts
   * guessBaseLayerCount, checked against the manifest's layers: undefined when the history's non-empty
   * entries are not one per layer, or when every layer would be the base's); undefined when unknown.
   * For the policy's `excludeBase`.
   */
  baseLayers?: Digest[];
  /** The manifest's `org.opencontainers.image.base.name` / `.digest` annotations, when set (base detection, src/base). */
  baseAnnotations?: Record<string, string>;
  inventory: Inventory;
}

/**
 * The scan of a target. `diagnostics` holds image-level problems (unreadable child manifests,
 * skipped entries); layer and file problems are in each platform's `inventory.diagnostics`.
 */
export interface ImageScan {
  target: string;
  digest?: Digest;
  mediaType?: string;
  platforms: PlatformScan[];
  diagnostics: Diagnostic[];
  /** Secrets in the index itself (its annotations, its descriptors' strings): they apply to every platform. */
  secrets?: SecretFinding[];
  /** Bytes read from the source (manifests, configs, compressed layers). */
  bytesRead: number;
}

/**
 * Version of the walker's output format and changeset rules (last entry wins, link targets, kinds):
 * part of the layer cache key, so analyses cached before a change are never reused.
 * 3: parse errors and oversize files make a layer incomplete (older cached analyses said complete).
 * 4: entries are named, typed and sized as Go's archive/tar reads them (GNU long names over PAX
 *    path, GNU.sparse.name, no data for header-only types, nothing after the end blocks).
 * 5: a hard link to a file the layer wrote before it is that file (its results, kind `f`), whatever
 *    the layer writes at the target afterwards.
 * 6: a whiteout or opaque marker beneath a non-directory the layer wrote before it is ambiguous
 *    (runtimes resolve it through the link; the spec applies it below); opaque markers that come
 *    after entries beneath their directory are listed (`lateOpaque`).
 * 7: a hard link to a symlink the layer wrote before it is that symlink (kind `l`, its text); one
 *    whose target lies beneath a non-directory the layer wrote before it is named, not resolved;
 *    a `.wh.` marker naming no file and a wanted hard link into /.wh..wh.plnk are named; a name or
 *    link text over PATH_MAX or with a segment over NAME_MAX is named and left out.
 * 8: `.wh..` and `.wh...` markers (the directory itself, its parent) are named as `.wh.` is.
 * 9: an entry replaced by a later one at the same path is `transient` too when the layer wrote a
 *    directory above it in between (the merge checks what it was unpacked beneath); a hard link to
 *    a file of its own layer carries only the results of analyzers that want the link's name.
 * 10: a hard link to a file of its own layer carries (and is complete for) only the analyzers that
 *    read its name and the file's name the same way (dpkg: status, status.d, `info/*.list`).
 * 11: what a layer makes the walker hold is bounded (walker.ts LAYER_BUDGET): past it the layer is
 *    `layer-too-complex` and its later entries are left out.
 */
const WALKER_VERSION = 13;

/**
 * The analyzer-set version: part of every layer cache key (trivy pkg/cache/key.go), so a changed
 * analyzer never reuses old results.
 */
export function analyzerSetVersion(analyzers: readonly Analyzer[] = ANALYZERS): string {
  const spec = `walker:${WALKER_VERSION};` + analyzers.map((a) => `${a.name}@${a.version}`).join(',');
  return crypto.createHash('sha256').update(spec).digest('hex').slice(0, 16);
}

/** Version of what the engine finds outside layers (config checks, config and manifest secrets, redaction). */
const IMAGE_CHECKS_VERSION = 2;

/**
 * The version of a whole-image scan result: the analyzer set, the image-level checks and the layer
 * merge's rules ({@link MERGE_VERSION}: the merge is not in the layer cache key). A stored
 * {@link ImageScan} is reused only under the same version, so a scanner that finds more (or
 * redacts more) never reuses an old result.
 */
export function imageScanVersion(analyzers: readonly Analyzer[] = ANALYZERS): string {
  return crypto.createHash('sha256').update(`${analyzerSetVersion(analyzers)};image:${IMAGE_CHECKS_VERSION};merge:${MERGE_VERSION}`).digest('hex').slice(0, 16);
}

/**
 * Layer cache key: analyzer-set version + the layer's compressed digest. The compressed digest is
 * used rather than the diffID because it is the one verified (by the registry on push, by the
 * engine on every miss); a diffID in a config is a claim nobody checks without hashing the
 * uncompressed stream, and trusting it would let a forged config borrow a clean layer's results.
 */
export function layerCacheKey(version: string, digest: Digest): string {
  return `${version}/${digest}`;
}

/** In-memory LRU layer cache (lru-cache) holding at most `maxEntries` analyses. */
export function createMemoryLayerCache(maxEntries: number): LayerCache {
  const lru = new LRUCache<string, LayerAnalysis>({ max: Math.max(1, maxEntries) });
  return {
    async get(k) { return lru.get(k); },
    async set(k, v) { lru.set(k, v); },
  };
}

async function readAll(r: Readable, desc: Descriptor, limit = 8 * 1024 * 1024): Promise<Buffer> {
  const v = new VerifyStream(desc.digest, desc.size);
  r.on('error', (e) => v.destroy(e));
  r.pipe(v);
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of v) {
    n += (c as Buffer).length;
    if (n > limit) { v.destroy(); throw new PushgateError('UNSUPPORTED', `blob ${shortDigest(desc.digest)} is over ${limit} bytes`); }
    parts.push(c as Buffer);
  }
  return Buffer.concat(parts);
}

function msg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64' };

/** A variant as containerd normalizes it: arm64 means v8 and arm v7 when none is given; amd64/v1 is amd64. */
function normalVariant(arch: string, variant: string | undefined): string | undefined {
  if (!variant) return arch === 'arm64' ? 'v8' : arch === 'arm' ? 'v7' : undefined;
  return arch === 'amd64' && variant === 'v1' ? undefined : variant;
}

/**
 * Whether `want` (`os/arch[/variant]`, as `--platform` takes it) names platform `p`. Without a
 * variant, any variant of os/arch matches; with one, variants compare after normalization
 * (containerd's `platforms.Normalize`: `linux/arm64` is `linux/arm64/v8`).
 */
function platformMatches(want: string, p: Platform | undefined): boolean {
  if (!p?.os || !p.architecture) return false;
  const [os, rawArch, variant] = want.split('/');
  const arch = ARCH_ALIASES[rawArch] ?? rawArch;
  const pArch = ARCH_ALIASES[p.architecture] ?? p.architecture;
  if (os !== p.os || arch !== pArch) return false;
  return !variant || normalVariant(arch, variant) === normalVariant(pArch, p.variant);
}

/** The one error for a `platform` the target does not have, naming the platforms it has. */
function platformNotFound(want: string, target: string, has: string[], index: boolean): PushgateError {
  const list = has.length ? has.join(', ') : 'none declared';
  return new PushgateError('BAD_ARGUMENT', `platform ${want} is not in ${target} (${index ? `the index has ${list}` : `a single-platform image of ${list}`})`);
}

/** State shared by every platform of one scan. */
interface Run {
  source: ImageSource;
  opts: ScanOptions;
  analyzers: readonly Analyzer[];
  version: string;
  cache: LayerCache;
  tmpDir: string;
  bytes: number;
  spill: SpillBudget;
  limits: Required<ScanLimits>;
  /**
   * Package records the platforms scanned so far keep (an index's children in order). An index is judged
   * as one image, so its platforms together are bounded by MAX_PACKAGE_RECORDS as one image's layers are.
   */
  packageRecords: number;
  /** Classification of non-layer blobs by (digest, size), each read once per scan ({@link classifyOnce}). */
  classified: Map<string, Promise<'archive' | 'data' | 'too-big' | Error>>;
  /** Aborted by the caller's signal or by the deadline. */
  signal?: AbortSignal;
  deadline: Deadline;
}

/** The caller's signal combined with the per-scan deadline. */
interface Deadline {
  signal?: AbortSignal;
  /** True once the deadline (not the caller) aborted the scan. */
  expired(): boolean;
  clear(): void;
  ms?: number;
}

function makeDeadline(opts: ScanOptions): Deadline {
  if (!opts.deadlineMs || opts.deadlineMs <= 0) return { signal: opts.signal, expired: () => false, clear: () => undefined };
  const ctl = new AbortController();
  let hit = false;
  const t = setTimeout(() => { hit = true; ctl.abort(new PushgateError('TIMEOUT', `scan deadline of ${opts.deadlineMs} ms passed`)); }, opts.deadlineMs);
  const onAbort = () => ctl.abort(opts.signal?.reason);
  if (opts.signal?.aborted) ctl.abort(opts.signal.reason);
  else opts.signal?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: ctl.signal, ms: opts.deadlineMs, expired: () => hit,
    clear: () => { clearTimeout(t); opts.signal?.removeEventListener('abort', onAbort); },
  };
}

function abortDiagnostic(run: Run, what: string): Diagnostic {
  return run.deadline.expired()
    ? { code: 'scan-deadline', message: `the scan deadline (${run.deadline.ms} ms, scan.deadline) passed ${what}`, incomplete: true }
    : { code: 'scan-aborted', message: `scan aborted ${what}`, incomplete: true };
}

async function analyzeLayer(run: Run, desc: Descriptor, diffID: Digest | undefined, inThread = false): Promise<LayerAnalysis> {
  const key = layerCacheKey(run.version, desc.digest);
  const hit = await run.cache.get(key);
  if (hit) return hit;
  const label = diffID ?? desc.digest;
  const walker = new LayerWalker(run.analyzers, { version: run.version, digest: desc.digest, diffID, tmpDir: run.tmpDir, layerLabel: label, spill: run.spill });
  const isNondist = /nondistributable|foreign/.test(desc.mediaType ?? '');
  let raw: Readable;
  try {
    raw = await run.source.blob(desc);
  } catch (e) {
    walker.markIncomplete();
    walker.diagnose({
      code: isNondist ? 'layer-nondistributable' : 'blob-missing',
      message: `layer ${shortDigest(desc.digest)}: ${msg(e)}${isNondist ? ' (non-distributable layer, skipped)' : ''}`,
      incomplete: true,
    });
    return walker.result();
  }
  try {
    const worker = !inThread && useInflateWorker(run.opts.inflateWorker, desc.size);
    const r = await readLayer(raw, desc, walker, { limits: run.limits, signal: run.signal, worker });
    run.bytes += r.compressedBytes;
    walker.setCompression(r.compression);
    if (r.noEof) {
      walker.diagnose({ code: 'tar-no-eof', message: `layer ${shortDigest(desc.digest)}: the tar has no end-of-archive blocks (written by a tool that omits them, e.g. umoci 0.4.7); every entry was read` });
    }
  } catch (e) {
    // An inflate worker thread that died says nothing about the layer: read it again on this thread.
    if (isInflateWorkerFailure(e) && !run.signal?.aborted) return analyzeLayer(run, desc, diffID, true);
    walker.markIncomplete();
    const code = isPushgateError(e, 'DIGEST_MISMATCH') ? 'layer-digest-mismatch'
      : isPushgateError(e, 'SIZE_MISMATCH') ? 'layer-size-mismatch'
      : isPushgateError(e, 'NOT_FOUND') ? 'blob-missing'
      : isPushgateError(e, 'UNSUPPORTED') ? 'layer-unsupported'
      : isPushgateError(e, 'CORRUPT_LAYER') && /\(limit \w+\)|limit scan \w+/.test(e.message) ? 'layer-limit'
      : run.signal?.aborted ? (run.deadline.expired() ? 'scan-deadline' : 'scan-aborted')
      : (e as { name?: string }).name === 'AbortError' ? 'scan-aborted' : 'corrupt-layer';
    const why = code === 'scan-deadline' ? `the scan deadline (${run.deadline.ms} ms, scan.deadline) passed while reading it`
      : code === 'layer-limit' ? `${msg(e)}; not read further (config ${limitKeyIn(msg(e))})` : msg(e);
    walker.diagnose({ code, message: `layer ${shortDigest(desc.digest)}: ${why}`, incomplete: true });
    return walker.result();
  }
  const result = walker.result();
  // An analysis that depends on this scan's configuration or load (a file over a size limit, a
  // spill refused because other scans held the temp space) is not reused: the next scan may read it.
  if (!dependsOnLimits(result)) await run.cache.set(key, result);
  return result;
}

/** Diagnostic codes whose cause is a limit or the load of the moment, not the layer's bytes. */
const LIMIT_CODES = new Set(['file-too-large', 'spill-limit', 'layer-limit', 'archive-limit']);

function dependsOnLimits(a: LayerAnalysis): boolean {
  return a.diagnostics.some((d) => LIMIT_CODES.has(d.code)) || a.results.some((r) => r.out.diagnostics?.some((d) => LIMIT_CODES.has(d.code)));
}

/** The config key named by a layer-stream / tar-walk limit error ("(limit maxEntries)"). */
function limitKeyIn(message: string): string {
  const m = /limit (?:scan )?(max\w+)/.exec(message);
  return (m && LIMIT_KEYS[m[1] as keyof ScanLimits]) || 'scan.limits';
}

/** The compression a layer media type declares (OCI image-spec media-types.md, Docker's rootfs.diff.tar[.gzip]), or undefined when it declares none we know. */
export function declaredCompression(mediaType: string | undefined): Compression | undefined {
  if (!mediaType) return undefined;
  if (/[+.]gzip$/.test(mediaType)) return 'gzip';
  if (/[+.]zstd$/.test(mediaType)) return 'zstd';
  if (/\.tar$/.test(mediaType)) return 'none';
  return undefined;
}

/**
 * Scans one image manifest. `platform` is the index entry's platform; for the root manifest of a
 * single image (`platform` undefined) a requested `run.opts.platform` is checked against the
 * config's os/architecture/variant before any layer is read.
 */
async function scanManifest(run: Run, manifestDigest: Digest, m: ImageManifest, platform: string | undefined): Promise<PlatformScan> {
  const diags: Diagnostic[] = [];
  // Secrets in the manifest's strings (annotations, descriptor fields) are reported, and only its
  // redacted copy is read for anything that is kept (annotations, media types).
  const shown = redactDocument(m, 'manifest');
  const secrets: SecretFinding[] = [...shown.secrets];
  let config: ImageConfig = {};
  let raw: RawImageConfig = {};
  try {
    const b = await readAll(await run.source.blob(m.config), m.config);
    run.bytes += b.length;
    // The config is read as the runtime reads it (colliding keys such as `Env` and `env`, or wrong types, are
    // refused), then redacted at once: checks, policy, reports and the store see only the copy.
    const redacted = redactDocument(parseImageConfig(b) as RawImageConfig, 'config');
    raw = redacted.doc;
    config = raw as ImageConfig;
    secrets.push(...redacted.secrets);
  } catch (e) {
    const code = isPushgateError(e, 'MANIFEST_INVALID') ? 'config-invalid' : 'config-unreadable';
    diags.push({ code, message: `config ${shortDigest(m.config.digest)}: ${redactText(msg(e))}`, incomplete: true });
  }
  const want = run.opts.platform;
  // Unverifiable without a config that names its os (unreadable: already an incomplete scan).
  if (want && platform === undefined && config.os) {
    const has: Platform = { os: config.os, architecture: config.architecture ?? 'unknown', variant: config.variant };
    if (!platformMatches(want, has)) throw platformNotFound(want, run.source.target, [platformString(has)], false);
  }
  // dpkg and dpkg-query in the container read DPKG_ADMINDIR / DPKG_ROOT: a database moved by them is not the one read.
  diags.push(...dpkgEnvDiagnostics(config.config?.Env));
  // rpm reads its macro files (where %_dbpath is set) from RPM_CONFIGDIR.
  diags.push(...rpmEnvDiagnostics(config.config?.Env));
  const diffIds = config.rootfs?.diff_ids ?? [];
  const layers = m.layers;
  // Past the layer limit nothing is read: a partial stack would be a filesystem no runtime builds.
  const tooMany = layers.length > run.limits.maxLayers;
  if (tooMany) {
    diags.push({ code: 'layer-limit', message: `manifest ${shortDigest(manifestDigest)} has ${layers.length} layers, over the limit of ${run.limits.maxLayers} (config ${LIMIT_KEYS.maxLayers}); no layer was read`, incomplete: true });
  }
  if (diffIds.length && diffIds.length !== layers.length) {
    diags.push({ code: 'diffid-count-mismatch', message: `config lists ${diffIds.length} diff_ids for ${layers.length} layers`, incomplete: false });
  }
  const analyses: Array<{ analysis: LayerAnalysis; label?: Digest }> = [];
  // An index's platforms before this one count too: one layer of 60,000 package records listed by twenty
  // platforms made a report of 1.2 million records (2.7 GB of memory), within each platform's own bound.
  const before = run.packageRecords;
  let packageRecords = before;
  const overIndex = !tooMany && before > MAX_PACKAGE_RECORDS;
  if (overIndex) {
    diags.push({ code: 'too-many-packages', message: `the platforms of the index scanned before this one hold ${before} package records, more than the ${MAX_PACKAGE_RECORDS} pushgate judges for one image; no layer of manifest ${shortDigest(manifestDigest)} was read`, incomplete: true });
  }
  for (const [i, l] of (tooMany || overIndex ? [] : layers).entries()) {
    if (run.signal?.aborted) {
      diags.push(abortDiagnostic(run, `before layer ${i + 1} of ${layers.length}`));
      break;
    }
    if (!isFilesystemLayerMediaType(l.mediaType)) {
      // Not a layer by its media type: its bytes decide. An archive is scanned like any layer (a
      // runtime that sniffs would unpack it); data (a signature, an in-toto statement) is no filesystem.
      const kind = await classifyOnce(run, l);
      if (kind === 'data') {
        diags.push({ code: 'layer-not-filesystem', message: `layer ${shortDigest(l.digest)} (${l.mediaType}) holds data, not a filesystem archive: no files from it`, incomplete: false });
        continue;
      }
    }
    const a = await analyzeLayer(run, l, diffIds[i]);
    analyses.push({ analysis: a, label: diffIds[i] ?? l.digest });
    diags.push(...a.diagnostics);
    // The layers' package records together are bounded as one layer's are (MAX_PACKAGE_RECORDS): twenty
    // layers each just under it would hold ten million. Past it the layers above are not read.
    for (const r of a.results) packageRecords += r.out.packages?.length ?? 0;
    if (packageRecords > MAX_PACKAGE_RECORDS) {
      const above = i + 1 < layers.length ? '; the layers above were not read' : '';
      const index = before ? ` with the index's platforms before it` : '';
      diags.push({ code: 'too-many-packages', layer: diffIds[i] ?? l.digest, message: `the image's layers up to ${i + 1} of ${layers.length}${index} hold ${packageRecords} package records, more than the ${MAX_PACKAGE_RECORDS} pushgate judges for one image${above}`, incomplete: true });
      break;
    }
    // Runtimes pick the decompressor by magic bytes as this engine does (containerd
    // archive/compression DecompressStream), so the layer is read as it will be unpacked; a
    // media type that says otherwise is worth a word, not a gap.
    const declared = declaredCompression(l.mediaType);
    if (declared && a.compression && declared !== a.compression) {
      diags.push({ code: 'layer-media-type-mismatch', layer: diffIds[i] ?? l.digest, message: `layer ${shortDigest(l.digest)}: media type ${l.mediaType} says ${declared === 'none' ? 'an uncompressed tar' : declared}, the content is ${a.compression === 'none' ? 'an uncompressed tar' : a.compression}; read as the content says (as ${a.compression === 'bzip2' || a.compression === 'xz' ? 'Docker Engine does' : 'containerd does'})` });
    }
  }
  run.packageRecords = packageRecords;
  const stacked = stackLayers(analyses, run.analyzers);
  const inv = buildInventory(stacked.placed, [...diags, ...stacked.diagnostics]);
  // No config (unreadable, or a malformed manifest): nothing to check, rather than a false "runs as root".
  const checks = Object.keys(raw).length ? checkConfig(raw, { now: run.opts.now, annotations: shown.doc.annotations, layers }) : { config: [] };
  inv.config.push(...checks.config);
  inv.secrets.push(...secrets);
  const plat = platform ?? (config.os ? platformString({ os: config.os, architecture: config.architecture ?? 'unknown', variant: config.variant }) : 'unknown');
  if (platform) {
    for (const p of inv.packages) p.platform = plat;
    for (const s of inv.secrets) s.platform = plat;
    for (const c of inv.config) c.platform = plat;
    for (const d of inv.diagnostics) d.platform = plat;
  }
  return {
    platform: plat,
    manifestDigest,
    configDigest: m.config.digest,
    config,
    layers: layers.map((l, i) => ({ digest: l.digest, diffID: diffIds[i], size: l.size, mediaType: shown.doc.layers?.[i]?.mediaType ?? l.mediaType })),
    baseLayers: checks.baseLayerCount && checks.baseLayerCount <= layers.length
      ? layers.slice(0, checks.baseLayerCount).map((l, i) => diffIds[i] ?? l.digest)
      : undefined,
    ...baseAnnotationsOf(shown.doc.annotations),
    inventory: inv,
  };
}

/** The manifest's base image annotations (image-spec annotations.md), as a spread for PlatformScan. */
function baseAnnotationsOf(a: Record<string, unknown> | undefined): { baseAnnotations?: Record<string, string> } {
  const out: Record<string, string> = {};
  for (const k of ['org.opencontainers.image.base.name', 'org.opencontainers.image.base.digest']) if (typeof a?.[k] === 'string') out[k] = a[k] as string;
  return Object.keys(out).length ? { baseAnnotations: out } : {};
}

/**
 * What blob `l` is by its bytes ({@link classifyBlob}), read once per scan whatever number of descriptors
 * name it: a manifest may list one 16 MiB blob thousands of times, which read it thousands of times.
 * A failure is returned as the error, and remembered too.
 */
function classifyOnce(run: Run, l: Descriptor): Promise<'archive' | 'data' | 'too-big' | Error> {
  const key = `${l.digest}\u0000${l.size}`;
  let p = run.classified.get(key);
  if (!p) {
    p = classifyBlob((d) => run.source.blob(d), l, run.signal).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
    run.classified.set(key, p);
  }
  return p;
}

/**
 * True when no layer of `m` is an archive by its bytes (attestation layers must be data: JSON statements).
 * A manifest with more layers than `scan.limits.layers` is no attestation: it is scanned, and its layer
 * limit makes it incomplete without a layer read.
 */
async function holdsNoArchive(run: Run, m: ImageManifest): Promise<boolean> {
  if (m.layers.length > run.limits.maxLayers) return false;
  for (const l of m.layers) {
    if ((await classifyOnce(run, l)) !== 'data') return false;
  }
  return true;
}

function makeRun(source: ImageSource, opts: ScanOptions): Run {
  const limits = resolveLimits(opts.limits);
  const base0 = opts.analyzers ?? ANALYZERS;
  const analyzers = withSizeLimits(base0, limits);
  const base = opts.tmpDir ?? os.tmpdir();
  fs.mkdirSync(base, { recursive: true });
  const tmpDir = fs.mkdtempSync(path.join(base, 'pushgate-scan-'));
  const deadline = makeDeadline(opts);
  // Started ahead only where a layer may use it: a worker nobody uses costs a thread start-up.
  if (useInflateWorker(opts.inflateWorker, Infinity)) warmInflateWorker();
  return {
    source, opts, analyzers, version: analyzerSetVersion(base0), limits,
    cache: opts.layerCache ?? createMemoryLayerCache(64),
    tmpDir, bytes: 0, packageRecords: 0, classified: new Map(), spill: new SpillBudget(tmpDir, opts.spillPool ?? opts.tmpDirLimitBytes), deadline, signal: deadline.signal,
  };
}

/**
 * Scans every platform of an index (skipping attestation manifests) unless `opts.platform` picks one,
 * or the single manifest. Layer problems (digest/size mismatch, missing blob, truncated gzip, corrupt
 * tar) become diagnostics with `incomplete: true`; the scan still returns.
 * @throws PushgateError when the root manifest cannot be read or parsed (code from the source:
 *   NOT_FOUND, DIGEST_MISMATCH, …; UNSUPPORTED for schema 1 or unknown media types), BAD_ARGUMENT
 *   when `opts.platform` names a platform the index does not have, or that a single image's config
 *   does not declare.
 */
export async function scanImage(source: ImageSource, opts: ScanOptions = {}): Promise<ImageScan> {
  const root = await source.root();
  const run = makeRun(source, opts);
  run.bytes += root.bytes.length;
  const diagnostics: Diagnostic[] = [];
  const platforms: PlatformScan[] = [];
  const indexSecrets: SecretFinding[] = [];
  try {
    let doc;
    try {
      doc = parseManifestDocument(root.bytes, root.mediaType);
    } catch (e) {
      // A document the registry and runtimes could read differently is judged, not scanned: incomplete.
      if (!isPushgateError(e, 'MANIFEST_INVALID')) throw e;
      diagnostics.push({ code: 'manifest-invalid', message: `manifest ${shortDigest(root.digest)}: ${e.message}`, incomplete: true });
      return { target: source.target, digest: root.digest, mediaType: root.mediaType, platforms, diagnostics, bytesRead: run.bytes };
    }
    const mediaType = redactText(doc.mediaType);
    if (doc.kind === 'index') {
      // Secrets in the index's own strings; its redacted copy names the platforms that are kept.
      const shownIndex = redactDocument(doc.index as ImageIndex, 'index');
      indexSecrets.push(...shownIndex.secrets);
      let children = shownIndex.doc.manifests;
      if (opts.platform) {
        const want = opts.platform;
        const pick = children.filter((d) => platformMatches(want, d.platform));
        if (!pick.length) throw platformNotFound(want, source.target, children.filter((d) => d.platform?.os !== 'unknown').map((d) => platformString(d.platform)), true);
        children = pick.slice(0, 1);
      }
      if (children.length > run.limits.maxIndexManifests) {
        // Counted before any child is read: each listed manifest costs a scan and its inventory in the
        // report, and listing one digest thousands of times costs the pusher nothing.
        diagnostics.push({ code: 'index-limit', message: `index ${shortDigest(root.digest)} lists ${children.length} manifests, over the limit of ${run.limits.maxIndexManifests} (config ${LIMIT_KEYS.maxIndexManifests}); no manifest of it was read`, incomplete: true });
        children = [];
      }
      let attestations = 0;
      for (const child of children) {
        const plat = platformString(child.platform);
        if (isIndexMediaType(child.mediaType)) {
          diagnostics.push({ code: 'nested-index', message: `nested index ${shortDigest(child.digest)} (${plat}) not scanned`, incomplete: true, platform: plat });
          continue;
        }
        let bytes: Buffer;
        try {
          bytes = await source.manifest(child);
          run.bytes += bytes.length;
        } catch (e) {
          diagnostics.push({ code: 'manifest-unreadable', message: `manifest ${shortDigest(child.digest)} (${plat}): ${msg(e)}`, incomplete: true, platform: plat });
          continue;
        }
        let parsed;
        try {
          parsed = parseManifestDocument(bytes, child.mediaType);
        } catch (e) {
          const code = isPushgateError(e, 'MANIFEST_INVALID') ? 'manifest-invalid' : 'manifest-unreadable';
          diagnostics.push({ code, message: `manifest ${shortDigest(child.digest)} (${plat}): ${msg(e)}`, incomplete: true, platform: plat });
          continue;
        }
        if (parsed.kind === 'index') {
          diagnostics.push({ code: 'nested-index', message: `nested index ${shortDigest(child.digest)} (${plat}) not scanned`, incomplete: true, platform: plat });
          continue;
        }
        // Children are told apart by what they hold, never by their annotations or platform.
        if (isAttestationManifest(parsed.manifest) && (await holdsNoArchive(run, parsed.manifest))) {
          attestations++;
          continue;
        }
        const artifact = nonImageArtifactType(parsed);
        if (artifact) {
          diagnostics.push({ code: 'child-not-image', message: `index child ${shortDigest(child.digest)} (${plat}) is not a container image (${artifact}) and was not scanned`, incomplete: true, platform: plat });
          continue;
        }
        platforms.push(await scanManifest(run, child.digest, parsed.manifest, plat));
      }
      if (attestations) diagnostics.push({ code: 'attestation-skipped', message: `${attestations} attestation manifest(s) (in-toto layers only) not scanned` });
    } else {
      platforms.push(await scanManifest(run, root.digest, doc.manifest, undefined));
    }
    return { target: source.target, digest: root.digest, mediaType, platforms, diagnostics, ...(indexSecrets.length ? { secrets: indexSecrets } : {}), bytesRead: run.bytes };
  } finally {
    run.deadline.clear();
    fs.rmSync(run.tmpDir, { recursive: true, force: true });
    run.spill.releaseAll();
  }
}

/**
 * Scans a root filesystem on disk (`dir:PATH`) as one layer: the same analyzers, symlinks recorded
 * but never followed, nothing read outside `root`.
 * @throws PushgateError NOT_FOUND when `root` does not exist.
 */
export async function scanDirectory(root: string, opts: ScanOptions = {}): Promise<ImageScan> {
  const abs = path.resolve(root);
  if (!fs.existsSync(abs)) throw new PushgateError('NOT_FOUND', `dir:${root}: no such directory`);
  const base0 = opts.analyzers ?? ANALYZERS;
  const analyzers = withSizeLimits(base0, resolveLimits(opts.limits));
  const version = analyzerSetVersion(base0);
  fs.mkdirSync(opts.tmpDir ?? os.tmpdir(), { recursive: true });
  const tmpDir = fs.mkdtempSync(path.join(opts.tmpDir ?? os.tmpdir(), 'pushgate-scan-'));
  const spill = new SpillBudget(tmpDir, opts.spillPool ?? opts.tmpDirLimitBytes);
  const walker = new LayerWalker(analyzers, { version, tmpDir, spill });
  const deadline = makeDeadline(opts);
  let bytes = 0;
  try {
    const stack: string[] = [''];
    while (stack.length) {
      if (deadline.signal?.aborted) {
        walker.markIncomplete();
        walker.diagnose(deadline.expired()
          ? { code: 'scan-deadline', message: `the scan deadline (${deadline.ms} ms) passed; the rest of the directory was not read`, incomplete: true }
          : { code: 'scan-aborted', message: 'scan aborted', incomplete: true });
        break;
      }
      const rel = stack.pop()!;
      let names: string[];
      try {
        names = fs.readdirSync(path.join(abs, rel)).sort().reverse();
      } catch (e) {
        walker.diagnose({ code: 'unreadable', path: `/${rel}`, message: msg(e) });
        continue;
      }
      for (const n of names) {
        const r = rel ? `${rel}/${n}` : n;
        const full = path.join(abs, r);
        let st: fs.Stats;
        try { st = fs.lstatSync(full); } catch { continue; }
        if (st.isDirectory()) {
          await walker.entry({ name: r, type: 'directory', size: 0, mode: st.mode & 0o7777 }, null);
          stack.push(r);
        } else if (st.isSymbolicLink()) {
          let linkname: string | undefined;
          try { linkname = fs.readlinkSync(full); } catch { linkname = undefined; }
          await walker.entry({ name: r, type: 'symlink', size: 0, mode: st.mode & 0o7777, linkname }, null);
        } else if (st.isFile()) {
          bytes += st.size;
          let body: Readable | null = null;
          try { body = fs.createReadStream(full, { highWaterMark: 1 << 20 }); } catch { body = null; }
          await walker.entry({ name: r, type: 'file', size: st.size, mode: st.mode & 0o7777 }, body).catch((e: unknown) => {
            walker.diagnose({ code: 'unreadable', path: `/${r}`, message: msg(e) });
          });
        }
      }
    }
  } finally {
    deadline.clear();
    fs.rmSync(tmpDir, { recursive: true, force: true });
    spill.releaseAll();
  }
  const a = walker.result();
  const stacked = stackLayers([{ analysis: a }], analyzers);
  const inv = buildInventory(stacked.placed, [...a.diagnostics, ...stacked.diagnostics]);
  return {
    target: `dir:${root}`,
    platforms: [{ platform: 'unknown', manifestDigest: '', config: {}, layers: [], inventory: inv }],
    diagnostics: [],
    bytesRead: bytes,
  };
}

/**
 * Convenience for the CLI: {@link openLocalSource} then {@link scanImage} or {@link scanDirectory}.
 * @throws PushgateError NOT_FOUND / BAD_ARGUMENT from openLocalSource, and what scanImage throws.
 */
export async function scanTarget(target: string, opts: ScanOptions = {}): Promise<ImageScan> {
  const src = await openLocalSource(target);
  if (isDirectorySource(src)) {
    const r = await scanDirectory(src.root, opts);
    return { ...r, target };
  }
  try {
    return await scanImage(src, opts);
  } finally {
    await src.close?.();
  }
}
