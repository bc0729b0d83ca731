/**
 * The report-shaping flags of `pushgate scan`, with the habits of `docker scan`, Trivy and Grype:
 * `--severity` (docker scan's name of `--severity-threshold`), `--ignore-unfixed`, `--ignore-file`,
 * `--exclude-base` and `--file Dockerfile`, `--exit-code N`, `--quiet`, `--output FILE`,
 * `--group-issues`, `--dependency-tree`. Findings that a flag hides are removed before the policy
 * judges the image, so the verdict, the exit code and every report format agree with what is shown.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PushgateError, SEVERITIES, severityRank, type Diagnostic, type Digest, type Finding, type Package, type ScanReport } from '../core/index.js';
import { VERSION } from '../core/version.js';
import { formatReport, type ReportFormat } from '../gate/report-formats.js';
import { resolveLimits, withSizeLimits, type ScanLimits } from '../scan/limits.js';
import { ANALYZERS } from '../scan/analyzers/index.js';
import { INCOMPLETE_ADVICE, INCOMPLETE_RULE } from '../policy/evaluate.js';
import { attributeBase, finalStage, type BaseAttribution, type FinalStage } from '../scan/base-layers.js';
import { compareDockerfileBase, parseBuildArgs } from '../scan/dockerfile-base.js';
import { createMemoryLayerCache, scanDirectory, scanImage, type ImageScan, type LayerAnalysis, type LayerCache, type PlatformScan, type ScanOptions } from '../scan/engine.js';
import { buildInventory, stackLayers } from '../scan/merge.js';
import { openLocalSource } from '../scan/local-source.js';
import { isDirectorySource, type ImageSource } from '../scan/source.js';
import { observedSource, type Progress } from './progress.js';
import { renderTable } from './render.js';
import { dependencyTree, groupIssues, renderDependencyTree, renderIssueGroups } from './report-views.js';
import { applyIgnoreFile, expiredEntries, loadIgnoreFile, type IgnoreFile } from './ignore-file.js';

/** The flags as commander hands them over (strings unparsed). */
export interface RawScanFlags {
  severity?: string;
  severityThreshold?: string;
  ignoreUnfixed?: boolean;
  exitCode?: string;
  quiet?: boolean;
  output?: string;
  groupIssues?: boolean;
  dependencyTree?: boolean;
  excludeBase?: boolean;
  file?: string;
  /** `--build-arg NAME=value` (repeatable): the build's values of the Dockerfile's global ARGs. */
  buildArg?: string[];
  /** `--target`: the Dockerfile stage the image was built from (default: the last). */
  target?: string;
  /** `--platform os/arch`: also defines BuildKit's automatic platform ARGs for `--file`. */
  platform?: string;
  /** A file name, or false for `--no-ignore-file`. */
  ignoreFile?: string | false;
  format?: string;
}

/** The flags checked and normalized. */
export interface ScanFlags {
  /** The threshold from `--severity` or `--severity-threshold` (lower case), if any. */
  severityThreshold?: string;
  ignoreUnfixed: boolean;
  /** Exit status for a blocking decision (quarantine/reject); default 1. */
  exitCode: number;
  quiet: boolean;
  output?: string;
  groupIssues: boolean;
  dependencyTree: boolean;
  excludeBase: boolean;
  /** `--file`: the Dockerfile's final stage. */
  dockerfile?: { file: string; stage: FinalStage };
  ignore?: IgnoreFile;
}

/**
 * Checks the flags before any work: an alias given twice with different values, an exit code that
 * is no exit status (or 2, the status of an error), a Dockerfile that cannot be read or has no
 * FROM, flags a target kind cannot honour, a malformed ignore file.
 * @param target the scan target (`sbom:`, `dir:` and images differ in what they allow).
 * @throws PushgateError BAD_ARGUMENT / NOT_FOUND, ConfigError for a malformed ignore file.
 */
export function resolveScanFlags(raw: RawScanFlags, target: string, cwd = process.cwd()): ScanFlags {
  const a = raw.severity?.toLowerCase();
  const b = raw.severityThreshold?.toLowerCase();
  if (a !== undefined && b !== undefined && a !== b) {
    throw new PushgateError('BAD_ARGUMENT', `--severity ${raw.severity} and --severity-threshold ${raw.severityThreshold} disagree; --severity is another name for --severity-threshold, give one`);
  }
  for (const [flag, v] of [['--severity', raw.severity], ['--severity-threshold', raw.severityThreshold]] as const) {
    if (v === undefined || (SEVERITIES as readonly string[]).includes(v.toLowerCase())) continue;
    // Trivy's --severity takes a list of levels to show; here it is one level, the lowest that fails.
    const hint = v.includes(',') ? ` (one level: the lowest that fails, e.g. --severity ${v.split(',').map((x) => x.trim().toLowerCase()).filter((x) => (SEVERITIES as readonly string[]).includes(x)).sort((x, y) => severityRank(x) - severityRank(y))[0] ?? 'high'})` : '';
    throw new PushgateError('BAD_ARGUMENT', `${flag} "${v}": use one of ${SEVERITIES.join(', ')}${hint}`);
  }
  let exitCode = 1;
  if (raw.exitCode !== undefined) {
    if (!/^\d{1,3}$/.test(raw.exitCode) || Number(raw.exitCode) > 255) {
      throw new PushgateError('BAD_ARGUMENT', `--exit-code "${raw.exitCode}": an exit status is a whole number from 0 to 255`);
    }
    exitCode = Number(raw.exitCode);
    // 2 is the status of an error (no report): a blocking verdict given 2 could not be told from a
    // scan that failed, and a CI step that retries or ignores errors would pass a rejected image.
    if (exitCode === 2) {
      throw new PushgateError('BAD_ARGUMENT', '--exit-code 2: pushgate scan exits 2 on an error, so a blocked image would look like a failed scan; choose another status (1, the default, or 3 to 255)');
    }
  }
  const tableOrJson = raw.format === undefined || raw.format === 'table' || raw.format === 'json';
  if (raw.groupIssues && !tableOrJson) throw new PushgateError('BAD_ARGUMENT', `--group-issues shapes the table and JSON reports; --format ${raw.format} has its own structure`);
  if (raw.dependencyTree && !tableOrJson) throw new PushgateError('BAD_ARGUMENT', `--dependency-tree shapes the table and JSON reports; --format ${raw.format} has its own structure`);
  if ((raw.buildArg?.length || raw.target !== undefined) && raw.file === undefined) throw new PushgateError('BAD_ARGUMENT', `${raw.target !== undefined ? '--target' : '--build-arg'} describes the build of --file Dockerfile; add --file`);
  const image = !/^(sbom|dir):/.test(target);
  if (raw.excludeBase && !image) throw new PushgateError('BAD_ARGUMENT', `--exclude-base needs an image (its layers and history); ${target.split(':')[0]}: targets have none`);
  let dockerfile: ScanFlags['dockerfile'];
  if (raw.file !== undefined) {
    const st = fs.statSync(raw.file, { throwIfNoEntry: false });
    if (!st) throw new PushgateError('NOT_FOUND', `--file ${raw.file}: no such file`);
    if (!st.isFile()) throw new PushgateError('BAD_ARGUMENT', `--file ${raw.file}: not a regular file`);
    try {
      dockerfile = { file: raw.file, stage: finalStage(fs.readFileSync(raw.file, 'utf8'), { buildArgs: parseBuildArgs(raw.buildArg ?? []), target: raw.target, platform: raw.platform }) };
    } catch (e) {
      throw new PushgateError('BAD_ARGUMENT', `--file ${raw.file}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (raw.output !== undefined) {
    const dir = path.dirname(path.resolve(raw.output));
    if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new PushgateError('BAD_ARGUMENT', `--output ${raw.output}: directory ${dir} does not exist`);
    if (fs.statSync(raw.output, { throwIfNoEntry: false })?.isDirectory()) throw new PushgateError('BAD_ARGUMENT', `--output ${raw.output} is a directory; name a file`);
  }
  return {
    severityThreshold: a ?? b,
    ignoreUnfixed: !!raw.ignoreUnfixed,
    exitCode,
    quiet: !!raw.quiet,
    output: raw.output,
    groupIssues: !!raw.groupIssues,
    dependencyTree: !!raw.dependencyTree,
    excludeBase: !!raw.excludeBase,
    dockerfile,
    ignore: loadIgnoreFile(raw.ignoreFile, cwd),
  };
}

/** Drops findings without a fixed version (Trivy's and Grype's `--ignore-unfixed` / `--only-fixed`). */
export function dropUnfixed(findings: Finding[]): Finding[] {
  return findings.filter((f) => f.fixedVersions.length > 0);
}

/** What the filters did, for the notes on stderr and the report. */
export interface FilterNotes {
  unfixed: number;
  ignored: Array<{ id: string; package: string; line: number; why?: string }>;
  base: number;
  /**
   * Platforms whose base the catalog named (src/base: annotation, provenance or diffID chain, checked
   * against the layers): `--exclude-base` follows the judge's attribution (`origin`) there, unless `--file` is given.
   */
  byOrigin?: Set<string>;
}

/** The base side of `--exclude-base` for one platform: its layers and the packages they hold. */
interface BaseView {
  attribution: BaseAttribution;
  layers: Set<string>;
  /** `ecosystem\0name\0version\0path` of every package the base layers alone hold; undefined when not every base layer analysis was at hand. */
  packages?: Set<string>;
}

function pkgKey(p: { ecosystem: string; name?: string; package?: string; version?: string; installedVersion?: string; path: string }): string {
  return [p.ecosystem, p.name ?? p.package, p.version ?? p.installedVersion, p.path].join('\u0000');
}

/**
 * A layer cache that keeps every analysis it sees (by layer blob digest) on top of `inner`, so the
 * base layers' own inventory can be stacked after the scan without reading any layer again.
 */
export function recordingLayerCache(inner: LayerCache = createMemoryLayerCache(64)): { cache: LayerCache; seen: Map<string, LayerAnalysis> } {
  const seen = new Map<string, LayerAnalysis>();
  const digestOf = (key: string) => key.slice(key.lastIndexOf('/') + 1);
  return {
    seen,
    cache: {
      async get(k) {
        const v = await inner.get(k);
        if (v) seen.set(digestOf(k), v);
        return v;
      },
      async set(k, v) {
        seen.set(digestOf(k), v);
        await inner.set(k, v);
      },
    },
  };
}

/** The manifest annotations and config labels that name a base image, merged (annotations win). */
function baseAnnotations(p: PlatformScan, manifests: Map<string, Buffer>): Record<string, string> {
  const out: Record<string, string> = {};
  const labels = p.config.config?.Labels ?? {};
  for (const k of ['org.opencontainers.image.base.name', 'org.opencontainers.image.base.digest']) if (typeof labels[k] === 'string') out[k] = labels[k];
  const bytes = manifests.get(p.manifestDigest);
  if (bytes) {
    try {
      const m = JSON.parse(bytes.toString('utf8')) as { annotations?: Record<string, unknown> };
      for (const k of ['org.opencontainers.image.base.name', 'org.opencontainers.image.base.digest']) if (typeof m.annotations?.[k] === 'string') out[k] = m.annotations[k] as string;
    } catch {
      // the engine reports an unreadable manifest
    }
  }
  return out;
}

async function readSmall(source: ImageSource, digest: Digest, mediaType: string, size?: number): Promise<Buffer> {
  const s = await source.blob({ digest, mediaType, size: size as number });
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of s) {
    n += (c as Buffer).length;
    if (n > 8 << 20) { s.destroy(); throw new Error('over 8 MiB'); }
    parts.push(c as Buffer);
  }
  const b = Buffer.concat(parts);
  if (`sha256:${crypto.createHash('sha256').update(b).digest('hex')}` !== digest) throw new Error('content does not match its digest');
  return b;
}

/**
 * The diff_ids of the base manifest named by `org.opencontainers.image.base.digest`, when `source`
 * holds it (an OCI layout that also stores the base, a registry repository it was pushed to);
 * undefined otherwise. Manifest and config are verified against their digests.
 */
async function annotatedBaseDiffIds(source: ImageSource, digest: string | undefined): Promise<Digest[] | undefined> {
  if (!digest || !/^sha256:[0-9a-f]{64}$/.test(digest)) return undefined;
  try {
    const mb = await source.manifest({ digest: digest as Digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: undefined as unknown as number });
    const m = JSON.parse(mb.toString('utf8')) as { config?: { digest?: string; size?: number; mediaType?: string } };
    if (!m.config?.digest) return undefined;
    const cb = await readSmall(source, m.config.digest as Digest, m.config.mediaType ?? 'application/vnd.oci.image.config.v1+json', m.config.size);
    const c = JSON.parse(cb.toString('utf8')) as { rootfs?: { diff_ids?: unknown } };
    const ids = c.rootfs?.diff_ids;
    return Array.isArray(ids) && ids.every((d) => typeof d === 'string') ? (ids as Digest[]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Works out the base side of every platform of `scan` for `--exclude-base`: the attribution (see
 * base-layers.ts) and, from the analyses in `seen`, the inventory of the base layers alone. A
 * package counts as the base's when the base layers alone hold it at the same path and version: an
 * OS package database rewritten by a later layer (`apt-get install` in the image's own RUN) keeps
 * its base packages attributed to the base, and a package the image upgraded is the image's.
 */
export async function baseViews(scan: ImageScan, source: ImageSource | undefined, manifests: Map<string, Buffer>, seen: Map<string, LayerAnalysis>, flags: ScanFlags, limits?: ScanLimits): Promise<Map<PlatformScan, BaseView>> {
  const out = new Map<PlatformScan, BaseView>();
  const analyzers = withSizeLimits(ANALYZERS, resolveLimits(limits));
  for (const p of scan.platforms) {
    const annotations = baseAnnotations(p, manifests);
    const baseDiffIds = source ? await annotatedBaseDiffIds(source, annotations['org.opencontainers.image.base.digest']) : undefined;
    const attribution = attributeBase({ history: p.config.history, layers: p.layers, annotations, dockerfile: flags.dockerfile, baseDiffIds });
    const n = attribution.layers.length;
    const analyses = p.layers.slice(0, n).map((l) => ({ analysis: seen.get(l.digest), label: l.diffID ?? l.digest }));
    let packages: Set<string> | undefined;
    if (n && analyses.every((a) => a.analysis)) {
      const stacked = stackLayers(analyses as Array<{ analysis: LayerAnalysis; label: Digest }>, analyzers);
      packages = new Set(buildInventory(stacked.placed, []).packages.map((x: Package) => pkgKey(x)));
    }
    out.set(p, { attribution, layers: new Set(attribution.layers), packages });
  }
  return out;
}

/**
 * The finding filter handed to the judge: `--exclude-base`, then `--ignore-unfixed`, then the ignore
 * file, recording what each removed in `notes`.
 */
export function findingFilter(flags: ScanFlags, notes: FilterNotes, bases: Map<PlatformScan, BaseView> | undefined, now = Date.now()): (findings: Finding[], platform: PlatformScan) => Finding[] {
  return (findings, platform) => {
    let out = findings;
    const base = bases?.get(platform);
    if (flags.excludeBase && base) {
      const before = out.length;
      // The Dockerfile (the developer's own word) and a verified annotation decide; otherwise the base the
      // catalog named by diffID chain, as the judge attributed each finding (origin), outranks history.
      if (!flags.dockerfile && notes.byOrigin?.has(platform.platform)) out = out.filter((f) => f.origin !== 'base');
      else out = out.filter((f) => !(base.packages ? base.packages.has(pkgKey(f)) : f.layer !== undefined && base.layers.has(f.layer)));
      notes.base += before - out.length;
    }
    if (flags.ignoreUnfixed) {
      const before = out.length;
      out = dropUnfixed(out);
      notes.unfixed += before - out.length;
    }
    if (flags.ignore) {
      const r = applyIgnoreFile(out, flags.ignore, now);
      out = r.kept;
      for (const { finding, entry } of r.ignored) notes.ignored.push({ id: finding.id, package: finding.package, line: entry.line, why: entry.spec.statement ?? entry.spec.reason });
    }
    return out;
  };
}

/**
 * `--file`'s disagreements with the bases the scan detected (src/scan/dockerfile-base.ts
 * compareDockerfileBase): one `dockerfile-base` diagnostic each (never incomplete), prefixed with the
 * file, per platform of a multi-platform image. Only bases the catalog named (annotation, provenance,
 * chain) are compared; history names no base. The detected base is referred to by the tag the
 * Dockerfile names when that tag points at it, else its first tag.
 * @param hostOf the host (`127.0.0.1:5000`) of a configured registry name, so a Dockerfile that names
 *   its registry is compared with the registry the base was read from.
 */
export function dockerfileBaseDiagnostics(flags: Pick<ScanFlags, 'dockerfile'>, bases: ScanReport['bases'], hostOf: (registry: string) => string | undefined): Diagnostic[] {
  const df = flags.dockerfile?.stage.base;
  if (!df || !bases?.length) return [];
  const multi = new Set(bases.map((b) => b.platform)).size > 1;
  const out: Diagnostic[] = [];
  for (const b of bases) {
    if (!b.repository || !['annotation', 'provenance', 'chain'].includes(b.method)) continue;
    const tag = df.ref?.tag && b.tags.includes(df.ref.tag) ? df.ref.tag : b.tags[0];
    const host = b.registry ? hostOf(b.registry) : undefined;
    const reference = `${host ? `${host}/` : ''}${b.repository}${tag ? `:${tag}` : ''}`;
    for (const m of compareDockerfileBase(df, { reference, ...(b.digest ? { digest: b.digest } : {}), method: b.method })) {
      out.push({ code: 'dockerfile-base', message: `${flags.dockerfile!.file}: ${m}`, ...(multi && b.platform ? { platform: b.platform } : {}) });
    }
  }
  return out;
}

/** The notes to add to the report's diagnostics (never incomplete): what the flags removed and how, and `--file`'s latest/untagged base. */
export function filterDiagnostics(flags: ScanFlags, notes: FilterNotes, bases: Map<PlatformScan, BaseView> | undefined, multi: boolean): Diagnostic[] {
  const out: Diagnostic[] = [];
  // `FROM x:latest` / an untagged base: the Dockerfile does not say which base it builds on.
  for (const f of flags.dockerfile?.stage.base?.flags ?? []) out.push({ code: 'dockerfile-base', message: `${flags.dockerfile?.file}: ${f.message}` });
  if (flags.excludeBase && bases) {
    for (const [p, v] of bases) {
      if (!flags.dockerfile && notes.byOrigin?.has(p.platform)) {
        out.push({ code: 'exclude-base', message: 'excluded: findings the report attributes to the base image (its bases entry says how the base was found)', ...(multi ? { platform: p.platform } : {}) });
        continue;
      }
      const how = v.packages ? 'packages the base layers alone hold (same path and version)' : 'findings in the base layers';
      // no base found: the note says nothing was excluded, and why (no "excluded: …" after it)
      const message = v.attribution.method === 'none' ? v.attribution.note : `${v.attribution.note}; excluded: ${how}`;
      out.push({ code: 'exclude-base', message, ...(multi ? { platform: p.platform } : {}) });
    }
    out.push({ code: 'exclude-base', message: `${notes.base} finding(s) from the base image were excluded (--exclude-base)` });
  }
  if (flags.ignoreUnfixed && notes.unfixed) out.push({ code: 'ignore-unfixed', message: `${notes.unfixed} finding(s) without a fixed version were left out (--ignore-unfixed)` });
  if (flags.ignore && notes.ignored.length) {
    out.push({ code: 'ignore-file', message: `${notes.ignored.length} finding(s) ignored by ${flags.ignore.file}: ${[...new Set(notes.ignored.map((i) => `${i.id} (line ${i.line})`))].join(', ')}` });
  }
  return out;
}

/** What `pushgate scan` advises for an incomplete scan: nothing was pushed, so the user scans again. */
export const CLI_INCOMPLETE_ADVICE = 'Fix the cause (a damaged or missing blob, a missing vulnerability database) and scan again';

/**
 * The verdict's reasons as `pushgate scan` shows them: an `incomplete-scan` reason's advice to push again
 * (the gate's words, kept in what the server stores: src/policy/evaluate.ts INCOMPLETE_ADVICE) becomes
 * advice to scan again. Only the CLI's own report is changed, in every output format; nothing else is.
 */
export function withCliAdvice(report: ScanReport): ScanReport {
  for (const r of report.verdict.reasons) {
    if (r.rule === INCOMPLETE_RULE && r.message.endsWith(`. ${INCOMPLETE_ADVICE}.`)) r.message = `${r.message.slice(0, -INCOMPLETE_ADVICE.length - 1)}${CLI_INCOMPLETE_ADVICE}.`;
  }
  return report;
}

/** Lines for stderr about expired ignore-file entries (they hide nothing). */
export function expiredWarnings(flags: ScanFlags, now = Date.now()): string[] {
  if (!flags.ignore) return [];
  return expiredEntries(flags.ignore, now).map((e) => `pushgate: warning: ${flags.ignore!.file}:${e.line}: the entry for ${e.spec.id} expired on ${e.spec.expires}; it is ignored (renew or remove it)`);
}

/**
 * Writes `text` to `file` atomically: a temporary file in the same directory, fsync, rename. A
 * reader never sees a half-written report, and a failed run leaves the previous report in place.
 * A symbolic link is followed: the file it names is replaced, the link stays. A `file` that is not
 * a regular file (`/dev/stdout`, `/dev/null`, a FIFO, a terminal) is written to as it is, since
 * renaming over it would put a regular file in place of the device (for root, in place of
 * `/dev/null` itself).
 * @throws the file system's error (the temporary file is removed).
 */
export function writeFileAtomic(file: string, text: string): void {
  const named = path.resolve(file);
  // stat as named (the kernel follows the links): /dev/stdout -> /proc/self/fd/1 -> "pipe:[N]" is a pipe,
  // whereas realpath, taking the links apart, would make it /proc/self/fd/pipe:[N], a file that is not there
  const st = fs.statSync(named, { throwIfNoEntry: false });
  if (st && !st.isFile() && !st.isDirectory()) {
    fs.writeFileSync(named, text);
    return;
  }
  let abs = named;
  try {
    abs = fs.realpathSync(named);
  } catch {
    // absent (a new file), or a dangling link: written where it is named
  }
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  const fd = fs.openSync(tmp, 'wx', 0o644);
  try {
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, abs);
  } catch (e) {
    try { fs.closeSync(fd); } catch { /* already closed */ }
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * One `pushgate scan` run's use of the flags: the source wrapper (progress, manifests recorded for
 * base annotations), the layer cache that keeps analyses for `--exclude-base`, the finding filter for
 * the judge, and the notes and views added to the report.
 */
export class ScanSession {
  readonly manifests = new Map<string, Buffer>();
  layerCache: LayerCache;
  readonly notes: FilterNotes = { unfixed: 0, ignored: [], base: 0 };
  private seen: Map<string, LayerAnalysis>;
  private source?: ImageSource;
  private bases?: Map<PlatformScan, BaseView>;
  /** The scan, once done (for the dependency tree). */
  scan?: ImageScan;

  constructor(readonly flags: ScanFlags, readonly progress: Progress, private readonly now = Date.now()) {
    const r = recordingLayerCache(createMemoryLayerCache(256));
    this.layerCache = r.cache;
    this.seen = r.seen;
  }

  /**
   * Keeps layer analyses in `inner` too (the CLI's on-disk layer cache for registry targets), still
   * recording what this run saw for `--exclude-base`. Call before the scan starts.
   */
  keepLayersIn(inner: LayerCache): void {
    const r = recordingLayerCache(inner);
    this.layerCache = r.cache;
    this.seen = r.seen;
  }

  /** Called once when the first bytes of a layer reach the engine ({@link whenReading}). */
  private onReading?: () => void;

  /**
   * Calls `fn` once, on a later turn of the event loop, after the first bytes of a layer blob of a
   * source wrapped from now on reached the engine: work that is needed only after the layers (the
   * advisory database, the judge) then runs while they inflate on another thread.
   */
  whenReading(fn: () => void): void {
    this.onReading = () => setImmediate(fn);
  }

  /** Wraps the image source: progress for layer reads, manifests recorded. */
  wrap(source: ImageSource): ImageSource {
    this.source = observedSource(source, this.progress, this.manifests, this.onReading);
    return this.source;
  }

  /** After the scan, before judging: works out the base layers when `--exclude-base` is given. */
  async prepare(scan: ImageScan, limits?: ScanLimits): Promise<void> {
    this.scan = scan;
    if (this.flags.excludeBase) this.bases = await baseViews(scan, this.source, this.manifests, this.seen, this.flags, limits);
    // Matching runs on this thread: the bar is drawn once with its label and cleared by finish().
    const n = scan.platforms.reduce((a, p) => a + p.inventory.packages.length, 0);
    this.progress.start(`matching ${n} packages against advisories`, n, 'items');
  }

  /** The judge's finding filter (undefined when no flag filters findings). */
  get filter(): ((findings: Finding[], platform: PlatformScan) => Finding[]) | undefined {
    const f = this.flags;
    return f.excludeBase || f.ignoreUnfixed || f.ignore ? findingFilter(f, this.notes, this.bases, this.now) : undefined;
  }

  /** Adds the notes of the filters to the judged report's diagnostics. */
  finish(report: ScanReport): ScanReport {
    this.progress.advance(report.packages.length);
    this.progress.stop();
    report.diagnostics.push(...filterDiagnostics(this.flags, this.notes, this.bases, (this.scan?.platforms.length ?? 0) > 1));
    return withCliAdvice(report);
  }

  /** The report in `format`, with `--group-issues` and `--dependency-tree` applied (table and JSON). */
  render(report: ScanReport, format: ReportFormat | 'table'): string {
    const f = this.flags;
    const tree = f.dependencyTree && this.scan ? dependencyTree(this.scan, report, this.baseLayerSets()) : undefined;
    const groups = f.groupIssues ? groupIssues(report.findings) : undefined;
    if (format === 'table') return renderTable(report, { before: tree && renderDependencyTree(tree), findings: groups && renderIssueGroups(groups) });
    if (format === 'json' && (tree || groups)) return `${JSON.stringify({ ...report, ...(groups ? { groups } : {}), ...(tree ? { dependencyTree: tree } : {}) }, null, 2)}\n`;
    return formatReport(report, format, VERSION).body;
  }

  private baseLayerSets(): Map<string, Set<string>> | undefined {
    if (!this.bases) return undefined;
    return new Map([...this.bases.entries()].map(([p, v]) => [p.platform, v.layers]));
  }
}

/**
 * `oci:`, `archive:` and `dir:` targets as `scanTarget` reads them, with the session's source wrapper
 * and layer cache.
 * @throws what openLocalSource and scanImage throw.
 */
export async function scanLocalTarget(target: string, opts: ScanOptions, session: ScanSession): Promise<ImageScan> {
  const src = await openLocalSource(target);
  if (isDirectorySource(src)) return { ...(await scanDirectory(src.root, opts)), target };
  try {
    return await scanImage(session.wrap(src), { ...opts, layerCache: session.layerCache });
  } finally {
    await src.close?.();
  }
}
