/**
 * The analyzer contract (after trivy pkg/fanal/analyzer/analyzer.go and osv-scalibr's extractor list):
 * an analyzer is one small file that says which paths it wants, its version, and how it parses.
 * Analyzers never open files or walk trees: the layer walker reads each layer once and hands each
 * matching entry's content (size-capped) to the analyzers that asked for it.
 */
import type { Diagnostic, Package, SecretFinding } from '../../core/index.js';
import type { SpillBudget } from '../spill.js';
import type { WantedNames } from './dispatch.js';

export type { SpillBudget } from '../spill.js';

/** What the walker tells an analyzer about an entry before reading it. */
export interface EntryInfo {
  /** Absolute, normalized path inside the image (`/var/lib/dpkg/status`). */
  path: string;
  /** Size in bytes as the tar header (or lstat) says. */
  size: number;
  /** Unix permission bits (`0o755`). */
  mode: number;
}

/** A file handed to {@link Analyzer.analyze}: either its content, or (spill analyzers) a temp file path. */
export interface AnalyzerInput extends EntryInfo {
  /** The whole content (at most the analyzer's `maxSize` bytes). Empty when `file` is set. */
  content: Buffer;
  /** For `spill: true` analyzers: a temporary copy of the entry, deleted after `analyze` returns. */
  file?: string;
}

/** Per-scan context an analyzer may use. */
export interface AnalyzerContext {
  /** A private scratch directory (capped by the walker), for libraries that need a real file. */
  tmpDir: string;
  /** The scan's temp-space budget: every byte written under `tmpDir` is reserved here first. */
  spill: SpillBudget;
}

/** A package as an analyzer reports it; the engine adds `layer`, `analyzer` and `platform`. */
export interface FoundPackage extends Omit<Package, 'layer' | 'analyzer' | 'platform'> {
  /** npm lock entries: the install directory the entry describes (`/app/node_modules/lodash`). */
  installPath?: string;
  /** RPM/dpkg epoch when not folded into `version`. */
  epoch?: number;
}

/** OS identification from one release file; the highest `priority` wins. */
export interface OsHint {
  id: string;
  versionId?: string;
  /** os-release `VERSION` (`22.03 (LTS-SP3)`), read where OSV spells a release with it (openEuler). */
  version?: string;
  /** os-release `ID_LIKE`, lower-cased words (`rhel centos fedora`). */
  idLike?: string[];
  prettyName?: string;
  /** os-release 100, lsb-release 80, alpine-release/redhat-release 60, debian_version 40. */
  priority: number;
  /** VERSION_CODENAME / DISTRIB_CODENAME, used for `debian_version` values like `bookworm/sid`. */
  codename?: string;
}

/** What one analyzer found in one file. Plain JSON (it is stored in the layer cache). */
export interface AnalyzerOutput {
  packages?: FoundPackage[];
  os?: OsHint;
  /** Secrets without `layer`/`platform` (added by the engine). */
  secrets?: SecretFinding[];
  /** Files owned by an OS package (dpkg `.list`, apk `R:` lines, RPM file lists): package name → absolute paths. */
  ownedFiles?: Array<{ owner: string; files: string[] }>;
  diagnostics?: Diagnostic[];
  /**
   * What the file's name took part in, for an analyzer whose findings depend on the name
   * ({@link Analyzer.foundUnder}): plain JSON (it is stored with the result in the layer cache), so
   * that the same content can be read under another name it is reachable by (a hard link, a
   * symlink) without its bytes. Absent: the name changes nothing but the paths recorded.
   */
  byName?: Record<string, unknown>;
}

/** A consumer of an entry's content chunk by chunk (for analyzers that need no random access). */
export interface StreamSink {
  write(chunk: Buffer): void;
  end(): AnalyzerOutput | undefined | Promise<AnalyzerOutput | undefined>;
  /** Called instead of `end` when the entry could not be read to its end (release temp files). */
  abort?(): void;
}

/** One analyzer. Names look like paths (`os/dpkg`, `lang/npm`) and are reused as labels. */
export interface Analyzer {
  readonly name: string;
  /** Bump when output changes: it is part of the layer cache key. */
  readonly version: number;
  /**
   * Entries bigger than this are not handed over (a `file-too-large` diagnostic, which makes the
   * scan incomplete, when `wants` matched). For analyzers with a {@link sizeClass} this is the
   * default; a scan replaces it with its configured limit.
   */
  readonly maxSize: number;
  /**
   * Lock files (`lockfile`) and OS package databases (`packagedb`) get their own, larger size limit
   * (config `scan.limits.lockFileSize` / `scan.limits.packageDbSize`): real ones of 200,000
   * packages are tens of MiB and must be read, not skipped.
   */
  readonly sizeClass?: 'lockfile' | 'packagedb';
  /**
   * True when this analyzer wants the entry. Called for the regular files whose names match
   * {@link names} (every regular file when it is absent): keep it cheap.
   */
  wants(e: EntryInfo): boolean;
  /**
   * The names this analyzer may want: a superset of the paths {@link wants} accepts, by which the
   * walker picks the analyzers to ask about a file with a few hash look-ups (dispatch.ts). Absent:
   * asked about every regular file (an analyzer that decides by size or mode, or wants most files).
   */
  readonly names?: WantedNames;
  /**
   * How the analyzer reads a file it wants at `path`, for analyzers whose reading depends on the
   * name: two wanted paths with the same answer are read the same way (the outputs differ only in
   * the paths they record). Absent: every wanted path is read the same way. The links of an image
   * are judged by it (see {@link readsAlike}): dpkg reads `/var/lib/dpkg/status` as the package
   * database and `/var/lib/dpkg/info/x.list` as a file list, so a status linked to a `.list` holds
   * packages the `.list` reading never counted.
   */
  readsAs?(path: string): string;
  /**
   * For an analyzer whose findings depend on the file's name (the Java analyzer's artifact and
   * version from `NAME-VERSION.jar`, the `.env` password rule): what the content whose output at
   * `from` is `out` (with its `byName`) yields under the name `to` that it did not yield at `from`,
   * with paths at `to`; undefined when nothing. A runtime and a scanner of the unpacked tree meet the
   * file under every name it has (trivy and syft read a hard link's every name as a file of its own),
   * so the walker and the merge add these findings at each other name of the file (hard links,
   * symlinks inside the image), within the symlink check's budget.
   */
  foundUnder?(out: AnalyzerOutput, from: string, to: string): AnalyzerOutput | undefined;
  /** When true the walker spills the entry to a temp file and passes `file` instead of `content`. */
  readonly spill?: boolean;
  /** Parses one file. Throwing makes a `parse-error` diagnostic, never a failed scan. */
  analyze?(input: AnalyzerInput, ctx: AnalyzerContext): AnalyzerOutput | undefined | Promise<AnalyzerOutput | undefined>;
  /**
   * Streaming alternative to `analyze` (content never buffered whole). A sink that needs a temp
   * file writes it through `ctx.spill` (a {@link SpillFile}) and releases it in `end`.
   */
  stream?(e: EntryInfo, ctx: AnalyzerContext): StreamSink | undefined;
}

/**
 * True when `a` wants a small regular file at both `x` and `y` and reads it the same way under
 * either name ({@link Analyzer.readsAs}): what it found in the file under one name is what it
 * finds under the other, as a runtime that reaches the file through a link reads it.
 */
export function readsAlike(a: Analyzer, x: string, y: string): boolean {
  if (!a.wants({ path: x, size: 1, mode: 0o644 }) || !a.wants({ path: y, size: 1, mode: 0o644 })) return false;
  return a.readsAs === undefined || a.readsAs(x) === a.readsAs(y);
}

/**
 * What `a` finds in a file read at `from` (output `out`) when the file is reached at `to` and not
 * at `from` ({@link Analyzer.foundUnder}); undefined when `a` does not want `to`, has no name-dependent
 * reading, or the name adds nothing.
 */
export function foundUnderName(a: Analyzer, out: AnalyzerOutput, from: string, to: string): AnalyzerOutput | undefined {
  if (!a.foundUnder || out.byName === undefined || !a.wants({ path: to, size: 1, mode: 0o644 })) return undefined;
  const extra = a.foundUnder(out, from, to);
  return extra && (extra.packages?.length || extra.secrets?.length) ? extra : undefined;
}

/** Last path segment. */
export function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/** Parent directory of an absolute path (`/a/b` → `/a`, `/a` → `/`). */
export function dirName(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

/** Splits text into lines without the terminators. */
export function lines(content: Buffer | string): string[] {
  return (typeof content === 'string' ? content : content.toString('utf8')).split(/\r?\n/);
}

/** True when `c` starts with the ELF magic `7f 45 4c 46` (System V ABI, ELF header e_ident). */
export function isElfStart(c: Buffer): boolean {
  return c.length >= 4 && c[0] === 0x7f && c[1] === 0x45 && c[2] === 0x4c && c[3] === 0x46;
}
