/**
 * The layer walker: receives a layer's entries once, in order, and keeps the layer's changeset as a
 * runtime applies it (containerd archive.Apply, OCI image-spec layer.md "Applying Changesets"):
 * names are cleaned the way Go's filepath.Clean and containerd's RootPath do; the LAST entry for a
 * path wins (analyzer results of an earlier entry at that path are discarded); a later non-directory
 * entry at a path also removes what the layer put beneath it (the runtime's RemoveAll). Whiteouts
 * (`.wh.NAME`) and opaque directories (`.wh..wh..opq`) are recorded for the merge (merge.ts), which
 * applies them, and the directory-replacing entries, to lower layers. Each regular file's content
 * goes to the analyzers that asked for it (trivy pkg/fanal/walker/tar.go); content nobody asked for
 * is drained without copying. Symlinks and hard links are recorded, never followed.
 */
import { DiagnosticCap, DIAGNOSTICS_PER_CODE } from './diagnostic-cap.js';
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import type { Diagnostic, Digest } from '../core/index.js';
import type { Analyzer, AnalyzerContext, AnalyzerOutput, EntryInfo, StreamSink } from './analyzers/types.js';
import { baseName, dirName, foundUnderName, readsAlike } from './analyzers/types.js';
import { SpillBudget } from './spill.js';
import { DISPATCH_BITS, WantsDispatch } from './analyzers/dispatch.js';

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
  /**
   * The layer's changeset: every path it writes (files, dirs, links; no whiteouts), absolute, one
   * per path (the last entry for it), in the order of those last entries.
   */
  paths: string[];
  /** One {@link EntryKind} letter per `paths[i]`. */
  kinds: string;
  /** Link targets by path: a symlink's target as written, a hard link's target normalized (absolute). */
  links: Record<string, string>;
  /** Paths deleted by `.wh.NAME` entries. */
  whiteouts: string[];
  /** Directories whose lower-layer content is hidden by `.wh..wh..opq`. */
  opaqueDirs: string[];
  /**
   * The opaque directories whose marker came after the layer wrote beneath them. A runtime that
   * unpacks in order (umoci, containerd) wrote those entries while the lower content was still
   * there, through any lower symlink beneath the directory, and removed that symlink only
   * afterwards: the merge names such entries. Absent in analyses that had none.
   */
  lateOpaque?: string[];
  /**
   * Paths whose last entry is a directory but where the layer put a non-directory before it: the
   * runtime removed the lower content there when that entry came (RemoveAll), so the merge hides it.
   */
  replaced: string[];
  /**
   * Entries the layer wrote and then removed by replacing a directory above them (or by a later entry
   * at the same path, once the layer had written a directory between): the runtime
   * unpacked them first, so the merge checks that nothing of a lower layer made that impossible or
   * redirected them (a lower symlink or file above them, deeper than `from`, the nearest directory
   * this layer itself had written above them then; `/` when none).
   */
  transient: Array<{ path: string; from: string }>;
  results: FileResult[];
  diagnostics: Diagnostic[];
  /** Tar entries seen. */
  entries: number;
  /** Uncompressed tar bytes read. */
  tarBytes: number;
  /** False when the layer could not be read to its end (then it is not cached). */
  complete: boolean;
  /** The compression found by its magic bytes (layer-stream.ts sniffCompression), when read. */
  compression?: 'gzip' | 'zstd' | 'bzip2' | 'xz' | 'none';
}

/** An entry as the walker needs it (from a tar header or an lstat). */
export interface WalkEntry {
  /** The name as stored (`./usr/bin/x`, `usr/bin/x`). */
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'link' | 'other';
  size: number;
  mode: number;
  linkname?: string;
  /**
   * Set when the body is not the file's content as a runtime unpacks it (a sparse file, a data
   * section the tar readers disagree on): the reason. An analyzer that wants the file makes the
   * scan incomplete instead of reading it.
   */
  unreadable?: string;
}

/**
 * Where one entry's content goes ({@link LayerWalker.open}): `write` every byte in order (chunks
 * may be kept until `end`: do not reuse their memory), then `end` once, which runs the analyzers
 * and returns when they are done, or returns a promise that resolves then when one of them answers
 * with a promise (wait for it before the next entry); or `abort` once when the content cannot be
 * read to its end.
 */
export interface EntrySink {
  write(chunk: Buffer): void;
  end(): void | Promise<void>;
  abort(): void;
}

/**
 * One letter per changeset entry: `d` directory, `f` regular file, `l` symlink, `h` hard link,
 * `o` anything else (device, fifo).
 */
export type EntryKind = 'd' | 'f' | 'l' | 'h' | 'o';

const KIND: Record<WalkEntry['type'], EntryKind> = { file: 'f', directory: 'd', symlink: 'l', link: 'h', other: 'o' };

/**
 * A tar name as the runtime places it: an absolute path after filepath.Clean (`./a`, `/a`, `a//b`,
 * `a/./b`, `a/`, `a/x/../b` all name one path) with `..` at the root staying at the root, as
 * containerd's RootPath scopes it. `escapes` is true when a `..` tried to climb above the root
 * (Docker refuses such a layer, containerd places the entry under the root: runtimes disagree).
 */
export function cleanEntryPath(name: string): { path: string; escapes: boolean } {
  // Most names are already clean but for a leading `./` or `/` and a trailing `/`: no empty, `.` or
  // `..` segment. Those are answered without splitting; every other name takes the general rule.
  const from = name.startsWith('./') ? 2 : name.startsWith('/') ? 1 : 0;
  const to = name.length > from && name.endsWith('/') ? name.length - 1 : name.length;
  const s = from === 0 && to === name.length ? name : name.slice(from, to);
  if (s !== '' && s[0] !== '/' && s[s.length - 1] !== '/' && !s.includes('//') && !DOT_SEGMENT.test(s)) return { path: `/${s}`, escapes: false };
  const parts: string[] = [];
  let escapes = false;
  for (const seg of name.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (parts.length === 0) escapes = true;
      else parts.pop();
    } else parts.push(seg);
  }
  return { path: '/' + parts.join('/'), escapes };
}

/** Linux PATH_MAX (bytes, with the terminating NUL) and NAME_MAX. */
const PATH_MAX = 4096;
const NAME_MAX = 255;

/** Why the kernel refuses `p` as a path (too long, or a segment too long), or undefined. */
function tooLong(p: string): string | undefined {
  // The byte count is taken for every name, long or short: a test on the string's length first
  // (as before) left this code unrun until the first name of 86 characters, which is common, and
  // that first run threw away the optimized `open` (V8 had no feedback for it) and compiled it again.
  // A name of at most NAME_MAX bytes has no segment over it either.
  const n = Buffer.byteLength(p);
  if (n > NAME_MAX) {
    if (n >= PATH_MAX) return `name or link of ${n} bytes is over PATH_MAX (${PATH_MAX - 1})`;
    for (const seg of p.split('/')) {
      if (seg.length > NAME_MAX / 3 && Buffer.byteLength(seg) > NAME_MAX) return `a segment of ${Buffer.byteLength(seg)} bytes is over NAME_MAX (${NAME_MAX})`;
    }
  }
  return undefined;
}

/**
 * What one layer may make the walker hold: the distinct paths it names or implies (each entry's path
 * and every directory above it, each whiteout's target, each path it lists as `replaced` or
 * `transient`) and the characters of those paths and of its link texts. A name of PATH_MAX can start a new chain of 2,000 directories whose paths are
 * 4 MB together, so a few hundred tiny entries would otherwise cost gigabytes of strings to keep
 * and to hash (quadratic in the depth). A real layer at the entry limit (500,000 files, some
 * 60,000 directories, names averaging well under 200 bytes) holds about 560,000 paths and at most
 * ~112 MB of characters; the limits are 3.5× and 2.4× that, so only a layer built to exhaust
 * pushgate reaches them. Past either, the layer is `layer-too-complex` (incomplete) and the rest of
 * its entries are not judged.
 */
export const LAYER_BUDGET: Readonly<WalkBudget> = { paths: 2_000_000, chars: 256 * 2 ** 20 };

/**
 * Package records one layer may yield, and (in the merge) the copies hard links to lower layers' files
 * may add to an image. A file's packages are counted again under each hard-link name, as a scanner of
 * the unpacked tree sees them; a few hundred KB of layer (one jar of 1,000 `pom.properties` and 10,000
 * links to it) would otherwise make ten million records and exhaust the process. Real images hold a
 * few thousand to some tens of thousands. Past it, `too-many-packages` (incomplete): what is over is
 * not judged.
 */
export const MAX_PACKAGE_RECORDS = 500_000;

/** A bound on what a layer makes the walker hold ({@link LAYER_BUDGET}): distinct paths, and UTF-16 units of paths and link texts. */
export interface WalkBudget {
  paths: number;
  chars: number;
}

/** A `.` or `..` segment. */
const DOT_SEGMENT = /(?:^|\/)\.\.?(?:\/|$)/;

/** {@link cleanEntryPath}, or undefined when the name climbs above the root. */
export function normalizeEntryPath(name: string): string | undefined {
  const c = cleanEntryPath(name);
  return c.escapes ? undefined : c.path;
}

/** True when `p` is `dir` or lies beneath it (both absolute, cleaned). */
export function isAtOrUnder(p: string, dir: string): boolean {
  return dir === '/' || p === dir || p.startsWith(`${dir}/`);
}

/**
 * Walks one layer's entries; create one per layer. `opts.budget` bounds what the layer may make it
 * hold ({@link LAYER_BUDGET} unless given).
 */
export class LayerWalker {
  private readonly analysis: LayerAnalysis;
  private readonly ctx: AnalyzerContext;

  constructor(
    private readonly analyzers: readonly Analyzer[],
    opts: { version: string; digest?: Digest; diffID?: Digest; tmpDir: string; layerLabel?: Digest; spill?: SpillBudget; budget?: WalkBudget },
  ) {
    this.analysis = {
      version: opts.version, digest: opts.digest, diffID: opts.diffID,
      paths: [], kinds: '', links: {}, whiteouts: [], opaqueDirs: [], replaced: [], transient: [], results: [], diagnostics: [], entries: 0, tarBytes: 0, complete: true,
    };
    this.diagnosticCap = new DiagnosticCap(this.analysis.diagnostics);
    this.ctx = { tmpDir: opts.tmpDir, spill: opts.spill ?? new SpillBudget(opts.tmpDir) };
    this.slots = analyzers.map((a) => new AnalyzerSlot(a));
    this.dispatch = new WantsDispatch(analyzers);
    this.layer = opts.layerLabel;
    this.limits = opts.budget ?? LAYER_BUDGET;
    this.budget = { ...this.limits };
  }

  /** {@link analyzers} as {@link open} consults them for every regular file. */
  private readonly slots: readonly AnalyzerSlot[];
  /** Which of {@link slots} may want a file, by its name: only those are asked (`wants` still decides). */
  private readonly dispatch: WantsDispatch;
  private readonly limits: Readonly<WalkBudget>;
  /** What the layer may still make the walker hold; below zero once it has asked for more. */
  private readonly budget: WalkBudget;
  /** Set once the layer went over {@link budget}: later entries are counted and not judged. */
  private full = false;

  /**
   * Takes `paths` paths and `chars` characters from {@link budget} for the entry at `p`, or names
   * the layer `layer-too-complex` (once) and returns false when they do not fit.
   */
  private charge(p: string, paths: number, chars: number): boolean {
    this.budget.paths -= paths;
    this.budget.chars -= chars;
    if (this.budget.paths >= 0 && this.budget.chars >= 0) return true;
    this.full = true;
    const what = this.budget.paths < 0 ? `${this.limits.paths} distinct paths` : `${this.limits.chars} characters of paths and link texts`;
    this.diagnose({ code: 'layer-too-complex', path: p.length > 200 ? `${p.slice(0, 200)}…` : p, message: `the layer names or implies more than ${what} (every entry's path, each directory above one, each whiteout's target), more than pushgate holds for one layer: this entry and the ones after it are not judged`, incomplete: true });
    return false;
  }

  private readonly layer?: Digest;
  /** The changeset so far: path → kind, in the order of each path's last entry. */
  private readonly tree = new Map<string, EntryKind>();
  private readonly links = new Map<string, string>();
  /** Analyzer results by path, for the entries still in {@link tree}. */
  private readonly byPath = new Map<string, FileResult[]>();

  /** Tar entries seen so far (the entry limit counts these). */
  get entryCount(): number {
    return this.analysis.entries;
  }

  /** Children of every directory above a path this layer wrote (named or implied). */
  private readonly kids = new Map<string, Set<string>>();

  /**
   * Records `p` (not `/`), whose parent directory is `parent`, under its parents in {@link kids}.
   * Every directory with a set of children is among its own parent's children (a set is made only
   * here, which then records the directory above; {@link forget} drops a directory's set with the
   * sets of everything beneath it, and never a child from a set): so once `d` has a set, the
   * directories above it need nothing more.
   */
  private adopt(p: string, parent: string): void {
    for (let c = p, d = parent; ; c = d, d = dirName(d)) {
      const set = this.kids.get(d);
      if (set) {
        set.add(c);
        return;
      }
      this.kids.set(d, new Set([c]));
      if (d === '/') return;
    }
  }

  /** For each entry in {@link tree}: the nearest directory above it the layer had written then. */
  private readonly from = new Map<string, string>();

  /**
   * Hard links this layer resolved to a file it had written itself, by the path that holds the
   * file (the first name it had that is still in the tree): the link paths that share its content
   * (the same inode at runtime), for {@link forget}. A group object, so that removing a name costs
   * O(1) however many links a layer makes to one file.
   */
  private readonly groups = new Map<string, ShareGroup>();
  /** Link path → the group it belongs to (the link paths of every group in {@link groups}). */
  private readonly memberOf = new Map<string, ShareGroup>();

  /**
   * Records the hard link `p` → `target` (cleaned). The runtime (containerd, Docker: os.Link)
   * links the file that is at `target` when the link entry comes, and that inode keeps its content
   * whatever the layer writes at `target` afterwards. So when this layer has written `target`
   * already, the link is that file: it takes the file's results now (package paths moved to `p`)
   * and is kept as a regular file; analyzers that want `p` and did not read `target` make the scan
   * incomplete. A target this layer has not written is a lower layer's file: the merge resolves it.
   */
  private hardLink(p: string, target: string): void {
    let to = target;
    // The runtime resolves the target's directory through the links the layer has made so far
    // (containerd's hardlinkRootPath, umoci's SecureJoin); pushgate resolves it in the lower
    // layers, which no longer decide where it points.
    const up = this.kinds.nearestAbove(to) ?? TOP;
    if (up.kind !== 'd') {
      this.diagnose({ code: 'entry-through-link', path: p, message: `${p} is a hard link to ${to}, beneath ${up.at}, which this layer made a ${up.kind === 'l' ? 'symlink' : 'non-directory'} before the link: a runtime ${up.kind === 'l' ? 'links whatever the symlink reaches' : 'cannot make the link'}; not judged`, incomplete: true });
      // Named here: the merge has nothing to resolve.
      this.links.delete(p);
      return;
    }
    // Docker's applier does not unpack AUFS's /.wh..wh.plnk and gives a link into it the content of
    // the last file of that name (its base name) the layer put anywhere under it; other runtimes
    // link the path itself. Name it where an analyzer wants the link.
    if (to.startsWith('/.wh..wh.plnk')) {
      const info = { path: p, size: 1, mode: 0o644 };
      const want = this.analyzers.filter((a) => !a.name.startsWith('secret/') && a.wants(info));
      if (want.length) this.diagnose({ code: 'package-db-link', path: p, message: `${p} is a hard link into ${to}, AUFS's link directory: Docker gives it the content of the last ${baseName(to)} under it, other runtimes link ${to}; not judged`, incomplete: true });
    }
    // link(2) does not follow a symlink: a hard link to one is another symlink with the same
    // target text (read relative to the link's own directory).
    if (this.tree.get(to) === 'l') {
      this.tree.set(p, 'l');
      this.kinds.set(p, 'l');
      const text = this.links.get(to);
      if (text === undefined) this.links.delete(p);
      else this.links.set(p, text);
      return;
    }
    // A link to a link this layer made to a lower file is a link to that lower file.
    if (this.tree.get(to) === 'h' && this.links.has(to)) {
      const lower = this.links.get(to)!;
      if (this.tree.has(lower)) {
        // The lower file was replaced in this layer after the first link: the runtime links the
        // lower content, which the merge can no longer name at this entry's place.
        this.diagnose({ code: 'package-db-link', path: p, message: `${p} is a hard link to ${to}, itself a link to ${lower} from a lower layer that this layer then rewrote: a runtime sees the lower content at ${p}; not judged`, incomplete: true });
        this.links.set(p, to);
        return;
      }
      to = lower;
    }
    if (this.tree.get(to) !== 'f') {
      this.links.set(p, to);
      return;
    }
    this.tree.set(p, 'f');
    this.kinds.set(p, 'f');
    this.links.delete(p);
    // The link is the file under another name: each analyzer reads it there only if it wants that
    // name (dpkg reads /var/lib/dpkg/status, not a link to it elsewhere), as the merge counts links
    // to a lower layer's file.
    // A link to a link of a file is one more name of that file: its content's results are the
    // group's, whatever the intermediate name kept.
    const info = { path: p, size: 1, mode: 0o644 };
    let g = this.memberOf.get(to) ?? this.groups.get(to);
    if (!g) {
      g = { holder: to, members: new Set(), content: this.byPath.get(to) ?? [], contentPath: to };
      this.groups.set(to, g);
    }
    const copies: FileResult[] = [];
    // Only an analyzer that reads both names the same way (dpkg reads a `.list` as a file list, a
    // status as the package database) found at `p` what it found in the content.
    const from = g.contentPath;
    // An analyzer whose findings depend on the name (a jar's version from its file name, the `.env`
    // password rule) finds at `p` what the name `p` adds, as a scanner of the unpacked tree does.
    for (const r of g.content) {
      const a = this.analyzers.find((x) => x.name === r.analyzer);
      if (!a) continue;
      if (readsAlike(a, p, from)) copies.push(relocateResult(r, from, p, false));
      const extra = foundUnderName(a, r.out, from, p);
      if (extra) copies.push({ path: p, analyzer: a.name, out: extra });
    }
    if (copies.length && this.chargePackages(copies, p)) this.byPath.set(p, copies);
    g.members.add(p);
    this.memberOf.set(p, g);
    const missing = this.analyzers.filter((a) => !a.name.startsWith('secret/') && a.wants(info) && !readsAlike(a, p, from));
    if (missing.length) {
      this.diagnose({ code: 'package-db-link', path: p, message: `${p} is a hard link to ${to}, which ${missing.map((a) => a.name).join(', ')} did not read: a runtime sees ${to}'s content at ${p}, pushgate does not follow links; not judged`, incomplete: true });
    }
  }

  /** What {@link forget} of `p` adds to `transient`: the entries strictly beneath `p`, and their characters with their `from`. */
  private forgetCost(p: string): WalkBudget {
    const cost = { paths: 0, chars: 0 };
    const pending = [p];
    while (pending.length) {
      const set = this.kids.get(pending.pop()!);
      if (!set) continue;
      for (const c of set) {
        if (this.tree.has(c)) {
          cost.paths++;
          cost.chars += c.length + (this.from.get(c) ?? '/').length;
        }
        pending.push(c);
      }
    }
    return cost;
  }

  /** Drops what this layer put at `p` and beneath it (the runtime's RemoveAll). */
  private forget(p: string, top = true): void {
    if (!top && this.tree.has(p)) this.analysis.transient.push({ path: p, from: this.from.get(p) ?? '/' });
    // A link sharing another file's content no longer does once replaced.
    const of = this.memberOf.get(p);
    if (of !== undefined) {
      this.memberOf.delete(p);
      of.members.delete(p);
      if (!of.members.size) this.groups.delete(of.holder);
    }
    // Links that share this file's content keep it: its secrets are reported at the first of them.
    const g = this.groups.get(p);
    if (g) {
      this.groups.delete(p);
      const heir = g.members.values().next().value!;
      g.members.delete(heir);
      this.memberOf.delete(heir);
      const secrets = (this.byPath.get(p) ?? []).filter((r) => r.out.secrets?.length).map((r) => relocateResult(r, p, heir, true));
      const list = this.byPath.get(heir);
      if (list) list.push(...secrets);
      else if (secrets.length) this.byPath.set(heir, secrets);
      if (g.members.size) {
        g.holder = heir;
        this.groups.set(heir, g);
      }
    }
    this.tree.delete(p);
    this.kinds.delete(p);
    this.links.delete(p);
    this.byPath.delete(p);
    this.from.delete(p);
    const set = this.kids.get(p);
    if (!set) return;
    this.kids.delete(p);
    for (const c of set) this.forget(c, false);
  }

  /**
   * {@link tree}'s kinds by segment: the nearest ancestor of a path this layer wrote, with its kind,
   * is `kinds.nearestAbove(p) ?? TOP`. Asked there, not through a method of the walker: such a
   * method, hot and small, was optimized by V8 on its own with `nearestAbove` inlined, then again
   * inlined into {@link open}, compiling the same look-up once more per layer scan process.
   */
  private readonly kinds = new KindTrie();

  /** Package records this layer may still yield ({@link MAX_PACKAGE_RECORDS}). */
  private packageRoom = MAX_PACKAGE_RECORDS;

  /**
   * Charges the packages of `results` (found at `p`) to the layer's room; false, with an incomplete
   * `too-many-packages` diagnostic, when they do not fit (they are then not kept).
   */
  private chargePackages(results: readonly FileResult[], p: string): boolean {
    let n = 0;
    for (const r of results) n += r.out.packages?.length ?? 0;
    if (n <= this.packageRoom) {
      this.packageRoom -= n;
      return true;
    }
    this.analysis.complete = false;
    this.diagnose({ code: 'too-many-packages', path: p, message: `${p}: ${n} package records would pass the layer's ${MAX_PACKAGE_RECORDS} (a file's packages count again under each hard-link name); not judged`, incomplete: true });
    return false;
  }

  /** Adds a diagnostic for this layer. */
  diagnose(d: Omit<Diagnostic, 'layer'>): void {
    this.diagnosticCap.push({ ...d, layer: this.layer });
  }

  /** How many diagnostics of each code the layer's results keep ({@link capResultDiagnostics}). */
  private readonly resultDiagnostics = new Map<string, number>();

  /**
   * The diagnostics of one analyzer result, with this layer's label: the layer's results keep at most
   * `DIAGNOSTICS_PER_CODE` of a code between them (a jar says `archive-depth` once per archive nested
   * too deep, up to 200,000 times); the rest are counted in the layer's summary of that code, which
   * keeps their incompleteness (also when the file is removed by a later layer: the summary stays).
   * Undefined when none is kept.
   */
  private capResultDiagnostics(list: readonly Diagnostic[]): Diagnostic[] | undefined {
    const kept: Diagnostic[] = [];
    for (const d of list) {
      const n = this.resultDiagnostics.get(d.code) ?? 0;
      if (n < DIAGNOSTICS_PER_CODE && d.more === undefined) {
        this.resultDiagnostics.set(d.code, n + 1);
        kept.push({ ...d, layer: this.layer });
      } else {
        this.diagnosticCap.push({ ...d, layer: this.layer, more: d.more ?? 1 });
      }
    }
    return kept.length ? kept : undefined;
  }

  /** This layer's diagnostics, at most `DIAGNOSTICS_PER_CODE` (diagnostic-cap.ts) per code: an entry can cause one each. */
  private readonly diagnosticCap: DiagnosticCap;

  /**
   * Handles one entry. `body` is its content stream (tar entry stream or file stream) or null for
   * entries without content; the promise resolves once the body has been consumed.
   */
  async entry(e: WalkEntry, body: Readable | null): Promise<void> {
    const sink = this.open(e);
    if (!sink) return drain(body);
    if (!body) return sink.end();
    try {
      await new Promise<void>((resolve, reject) => {
        body.on('data', (c: Buffer) => sink.write(c));
        body.on('end', resolve);
        body.on('error', reject);
        body.on('close', () => reject(new Error('entry stream closed before its end')));
      });
    } catch (err) {
      sink.abort();
      throw err;
    }
    await sink.end();
  }

  /**
   * Handles one entry up to its content, synchronously: the changeset bookkeeping, diagnostics and
   * the choice of analyzers. Returns where the entry's content goes (every byte of it, in order,
   * then {@link EntrySink.end}; {@link EntrySink.abort} when it cannot be read to its end), or
   * undefined when no analyzer wants it (the caller skips the bytes without copying them).
   */
  open(e: WalkEntry): EntrySink | undefined {
    this.analysis.entries++;
    if (this.full) return undefined;
    const { path: p, escapes } = cleanEntryPath(e.name);
    if (escapes) {
      // containerd places it at `p`, Docker refuses the layer: judge what containerd unpacks, and say
      // the layer is ambiguous.
      this.diagnose({ code: 'path-traversal', path: e.name, message: `entry "${e.name}" climbs above the image root; containerd unpacks it at ${p}, other runtimes refuse the layer`, incomplete: true });
    }
    if (p === '/') return undefined;
    // A name or link text the kernel refuses (ENAMETOOLONG) fails the runtime's unpack (containerd
    // and umoci pass whole paths to the syscalls); kept, a pusher's 1 MiB name of 500,000 segments
    // costs the merge memory quadratic in its depth. Name it and leave the entry out.
    const long = tooLong(p) ?? (e.linkname !== undefined && (e.type === 'symlink' || e.type === 'link') ? tooLong(e.linkname) : undefined);
    if (long !== undefined) {
      this.diagnose({ code: 'path-too-long', path: p.length > 200 ? `${p.slice(0, 200)}…` : p, message: `entry ${long}: runtimes fail to unpack the layer; not judged`, incomplete: true });
      return undefined;
    }
    // `p` is absolute and not `/`: its parent directory, cut once for the look-ups below.
    const slash = p.lastIndexOf('/');
    const parent = slash === 0 ? '/' : p.slice(0, slash);
    if (p.startsWith('.wh.', slash + 1)) {
      const base = p.slice(slash + 1);
      const target = base === '.wh..wh..opq' ? dirName(p) : `${dirName(p) === '/' ? '' : dirName(p)}/${base.slice(4)}`;
      // The image spec applies a layer's whiteouts to the layers below it, so a marker beneath a
      // symlink (or file) this layer wrote before it names the lower path; umoci and containerd
      // unpack in order and resolve the marker's directory through that link, removing whatever the
      // link reaches. Which content survives depends on the runtime: name it.
      // `.wh.`, `.wh..` and `.wh...` name no file in their directory: a runtime that joins the rest
      // to the directory (filepath.Join: older containerd and Docker appliers) removes the
      // directory itself or its parent, with what the layer wrote there; umoci removes it and then
      // fails, newer containerd refuses the layer, the spec does not say. Name them.
      if (base === '.wh.' || base === '.wh..' || base === '.wh...') {
        const gone = base === '.wh...' ? dirName(dirName(p)) : dirName(p);
        this.diagnose({ code: 'ambiguous-whiteout', path: gone, message: `whiteout "${e.name}" names no file: a runtime that joins its name to ${dirName(p)} removes ${gone} itself, others refuse the layer; not judged`, incomplete: true });
        return undefined;
      }
      // The target is kept (one more path); nothing above it is.
      if (!this.charge(p, 1, target.length)) return undefined;
      const up = this.kinds.nearestAbove(p) ?? TOP;
      if (up.kind !== 'd') {
        const what = base === '.wh..wh..opq' ? `opaque directory marker of ${target}` : `whiteout of ${target}`;
        this.diagnose({
          code: 'ambiguous-whiteout', path: target,
          message: up.kind === 'l'
            ? `${what} lies beneath ${up.at}, a symlink this layer wrote before it: the image spec applies it to the lower layers' ${target}, runtimes that unpack in order follow the link and remove what it reaches; not judged`
            : `${what} lies beneath ${up.at}, which this layer made a non-directory before it: runtimes cannot apply it as the image spec does; not judged`,
          incomplete: true,
        });
      }
      if (base === '.wh..wh..opq') {
        this.analysis.opaqueDirs.push(target);
        // The layer wrote beneath the marker's directory before it ({@link KindTrie.lastDirHasAny}).
        if (this.kinds.lastDirHasAny()) (this.analysis.lateOpaque ??= []).push(target);
      } else {
        this.analysis.whiteouts.push(target);
        // The image spec applies a whiteout to lower layers only; containerd's applier removes what
        // this layer wrote before it too. Runtimes disagree: name it.
        // Whether the layer wrote the target or beneath it ({@link KindTrie.lastDirHas}).
        if (this.kinds.lastDirHas(base.slice(4))) {
          this.diagnose({ code: 'ambiguous-whiteout', path: target, message: `whiteout of ${target} comes after this layer wrote ${target} or beneath it: the image spec keeps those entries, containerd removes them; judged as the spec says`, incomplete: true });
        }
      }
      return undefined;
    }
    const kind = KIND[e.type];
    // The paths this entry adds to the layer's (`p` and the directories above it the layer had not
    // named or implied yet), counted before any of them is made or hashed: a new chain of 2,000
    // directories is 4 MB of paths.
    const up = this.kinds.nearestAbove(p) ?? TOP;
    const known = this.kinds.knownEnd;
    let paths = 0;
    let chars = (e.type === 'symlink' || e.type === 'link') ? e.linkname?.length ?? 0 : 0;
    for (let end = p.length; end > known; end = p.lastIndexOf('/', end - 1)) {
      paths++;
      chars += end;
    }
    const prev = this.tree.get(p);
    // What replacing lays down in the analysis (`transient`, `replaced`: a fresh copy of a path each
    // time, which a layer that writes one long name over and over would multiply).
    if (prev !== undefined && !(prev === 'd' && kind === 'd')) {
      const was = this.from.get(p) ?? '/';
      if (was !== up.at) { paths++; chars += p.length + was.length; }
      if (kind === 'd') { paths++; chars += p.length; }
    }
    // Only a path with something beneath it (a set in {@link kids}) has anything to forget: most
    // entries (a new file) skip the call, its allocations, and V8 inlining it into this function.
    if ((prev !== undefined ? !(prev === 'd' && kind === 'd') : kind !== 'd') && this.kids.has(p)) {
      const gone = this.forgetCost(p);
      paths += gone.paths;
      chars += gone.chars;
    }
    if (!this.charge(p, paths, chars)) return undefined;
    if (up.kind !== 'd') {
      const why = up.kind === 'l'
        ? `a runtime writes it through the symlink ${up.at} this layer made; pushgate does not follow symlinks`
        : `${up.at} is not a directory in this layer, so a runtime cannot unpack it`;
      this.diagnose({ code: 'entry-through-link', path: p, message: `${p}: ${why}`, incomplete: true });
    }
    if (prev !== undefined) {
      // The last entry wins; a directory over a directory merges (its position and children stay).
      if (prev === 'd' && kind === 'd') return undefined;
      // The entry replaced here was unpacked first, beneath what the layer had written above it then:
      // when the layer has written a directory above it since, the merge checks the earlier one too
      // (beneath a lower symlink or file it went through the link or failed).
      const was = this.from.get(p) ?? '/';
      if (was !== up.at) this.analysis.transient.push({ path: p, from: was });
      this.forget(p);
      if (kind === 'd') this.analysis.replaced.push(p);
    } else if (kind !== 'd' && this.kids.has(p)) {
      // A non-directory where the layer so far implied a directory (it wrote beneath `p`). A path
      // not in the tree has nothing else to forget: every other map holds paths of the tree only.
      this.forget(p);
    }
    this.tree.set(p, kind);
    this.kinds.set(p, kind);
    this.from.set(p, up.at);
    this.adopt(p, parent);
    if (e.type === 'link' || e.type === 'symlink') {
      if (e.linkname !== undefined) {
        if (e.type === 'link') {
          const t = cleanEntryPath(e.linkname);
          if (t.escapes) this.diagnose({ code: 'path-traversal', path: p, message: `hard link "${p}" → "${e.linkname}" climbs above the image root; containerd links ${t.path}`, incomplete: true });
          this.hardLink(p, t.path);
        } else this.links.set(p, e.linkname);
      }
      return undefined;
    }
    if (e.type !== 'file') return undefined;

    const info: EntryInfo = { path: p, size: e.size, mode: e.mode };
    let buffered: Analyzer[] | undefined;
    let spilled: Analyzer[] | undefined;
    let sinks: Array<{ a: Analyzer; s: StreamSink; write: (c: Buffer) => void }> | undefined;
    // An index loop: this runs for every file, mostly before V8 optimizes it, and an unoptimized
    // for…of allocates an iterator result per analyzer. Only the analyzers the dispatch names for
    // the file's name are asked (a superset of those that want it), in the list's order.
    const slots = this.slots;
    const ask = this.dispatch.candidates(p, slash);
    for (let i = 0; i < slots.length; i++) {
      if (i < DISPATCH_BITS && (ask & (1 << i)) === 0) continue;
      const slot = slots[i]!;
      const a = slot.analyzer;
      if (!callSlot(slot.wants, info, this.ctx)) continue;
      if (e.unreadable !== undefined) {
        this.diagnose({ code: 'ambiguous-entry-name', path: p, message: `${a.name}: ${p} not analyzed: ${e.unreadable}`, incomplete: true });
        continue;
      }
      if (e.size > slot.maxSize) {
        // A file the analyzer would have read and did not is a gap in the inventory: incomplete.
        const key = a.sizeClass === 'lockfile' ? ', config scan.limits.lockFileSize' : a.sizeClass === 'packagedb' ? ', config scan.limits.packageDbSize' : '';
        this.diagnose({ code: 'file-too-large', path: p, message: `${a.name}: ${e.size} bytes is over its ${slot.maxSize}-byte limit${key}; not analyzed`, incomplete: true });
        continue;
      }
      if (slot.how === STREAM) {
        const s = callSlot(slot.stream, info, this.ctx);
        // Written through a function bound per sink: the call site is megamorphic from the second
        // file on, so V8 never inlines one analyzer's sink class into the tar loop (tar-headers.ts
        // run) and throws that code away when a file first goes to another's. The sink's own `write`
        // is looked up in {@link writeTo}, not here: sinks are of as many classes as the streaming
        // analyzers, and a class first met here after V8 optimized `open` threw that code away.
        if (s) (sinks ??= []).push({ a, s, write: writeTo.bind(undefined, s) });
      } else if (slot.how === SPILL) (spilled ??= []).push(a);
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
    if (!buffered && !spilled && !sinks) return undefined;
    return this.sink(p, info, buffered, spilled, sinks, reserved);
  }

  /**
   * Where the content of the regular file at `p` goes, for the analyzers that want it: buffered for
   * `buffered`, spilled to a temp file for `spilled` (`reserved` bytes of the spill budget taken for
   * it), streamed to `sinks`. A method of its own: the closures it makes are made for those files
   * only, and the entries nobody reads never allocate the context they share.
   */
  private sink(
    p: string,
    info: EntryInfo,
    buffered: Analyzer[] | undefined,
    spilled: Analyzer[] | undefined,
    sinks: Array<{ a: Analyzer; s: StreamSink; write: (c: Buffer) => void }> | undefined,
    reserved: number,
  ): EntrySink {
    const chunks: Buffer[] = [];
    let fd: number | undefined;
    let tmp: string | undefined;
    if (spilled) {
      tmp = this.ctx.spill.newPath('spill');
      try {
        fd = fs.openSync(tmp, 'w');
      } catch (err) {
        this.ctx.spill.give(reserved);
        throw err;
      }
    }
    let done = false;
    const release = (): void => {
      done = true;
      if (fd !== undefined) { fs.closeSync(fd); fd = undefined; }
      if (tmp) fs.rmSync(tmp, { force: true });
      this.ctx.spill.give(reserved);
    };
    return {
      write: (c: Buffer) => {
        if (buffered) chunks.push(c);
        if (fd !== undefined) fs.writeSync(fd, c);
        if (sinks) for (let i = 0; i < sinks.length; i++) sinks[i]!.write(c);
      },
      // Synchronous unless an analyzer answers with a promise (the Java analyzers, for a zip they read;
      // one that sees most files, as lang/java-content does, answers the others at once). The tar reader
      // then goes on within the same chunk, where a promise per file (an async function) made it stop and
      // resume on a later tick for each of the hundreds of files read, and V8 compile this function's
      // generator. The analyzers still run one after another, in the same order.
      end: () => {
        const nb = buffered?.length ?? 0;
        const ns = spilled?.length ?? 0;
        const total = nb + ns + (sinks?.length ?? 0);
        let content: Buffer | undefined;
        const step = (k: number): void | Promise<void> => {
          if (k < nb) {
            const a = buffered![k]!;
            return this.run(a, p, () => a.analyze!({ ...info, content: content! }, this.ctx));
          }
          if (k < nb + ns) {
            const a = spilled![k - nb]!;
            return this.run(a, p, () => a.analyze!({ ...info, content: Buffer.alloc(0), file: tmp }, this.ctx));
          }
          const { a, s } = sinks![k - nb - ns]!;
          return this.run(a, p, () => s.end());
        };
        const from = (k: number): void | Promise<void> => {
          for (; k < total; k++) {
            const r = step(k);
            if (r) return r.then(() => from(k + 1));
          }
        };
        let r: void | Promise<void>;
        try {
          if (fd !== undefined) { fs.closeSync(fd); fd = undefined; }
          content = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
          r = from(0);
        } catch (err) {
          release();
          throw err;
        }
        if (!r) {
          release();
          return;
        }
        return r.finally(release);
      },
      abort: () => {
        if (done) return;
        release();
        for (const { s } of sinks ?? []) s.abort?.();
      },
    };
  }

  /**
   * Runs one analyzer on the file at `p` (`fn`) and keeps what it found; a promise when `fn` answers
   * with one (resolved once it is kept), else nothing. Never throws: what `fn` throws or rejects with
   * is a `parse-error`.
   */
  private run(a: Analyzer, p: string, fn: () => AnalyzerOutput | undefined | Promise<AnalyzerOutput | undefined>): void | Promise<void> {
    let out: AnalyzerOutput | undefined | Promise<AnalyzerOutput | undefined>;
    try {
      out = fn();
      // Any thenable is waited for, as `await` did (an analyzer's output is plain JSON: no `then`).
      if (typeof (out as { then?: unknown } | undefined)?.then !== 'function') {
        this.keep(a, p, out as AnalyzerOutput | undefined);
        return;
      }
    } catch (err) {
      this.failed(a, p, err);
      return;
    }
    return Promise.resolve(out).then((o) => {
      try {
        this.keep(a, p, o);
      } catch (err) {
        this.failed(a, p, err);
      }
    }, (err: unknown) => this.failed(a, p, err));
  }

  /** Keeps what `a` found in the file at `p`: its diagnostics capped, its packages charged. */
  private keep(a: Analyzer, p: string, out: AnalyzerOutput | undefined): void {
    if (!out) return;
    if (out.diagnostics) out.diagnostics = this.capResultDiagnostics(out.diagnostics);
    if (out.packages?.length && !this.chargePackages([{ path: p, analyzer: a.name, out }], p)) out.packages = [];
    // Entries are handled one after another, so the entry at `p` is still the last one there.
    const list = this.byPath.get(p);
    if (list) list.push({ path: p, analyzer: a.name, out });
    else this.byPath.set(p, [{ path: p, analyzer: a.name, out }]);
  }

  /**
   * A file the analyzer wanted and could not parse (corrupt database, lock file with a syntax
   * error) is not "no packages": the scan is incomplete.
   */
  private failed(a: Analyzer, p: string, err: unknown): void {
    this.diagnose({ code: 'parse-error', path: p, message: `${a.name}: ${err instanceof Error ? err.message : String(err)}`, incomplete: true });
  }

  /** Records the uncompressed byte count. */
  addTarBytes(n: number): void {
    this.analysis.tarBytes += n;
  }

  /** Records the compression the layer's magic bytes showed (without building {@link result}). */
  setCompression(c: NonNullable<LayerAnalysis['compression']>): void {
    this.analysis.compression = c;
  }

  /** Marks the layer as not fully read. */
  markIncomplete(): void {
    this.analysis.complete = false;
  }

  /** The analysis so far (the changeset as it stands after the entries seen). */
  result(): LayerAnalysis {
    const a = this.analysis;
    a.paths = [...this.tree.keys()];
    a.kinds = [...this.tree.values()].join('');
    // A dictionary object (no prototype), filled key by key: V8 gives an ordinary object a new hidden
    // class for each of its first keys, so Object.fromEntries of a Debian base layer's 642 symlinks
    // took 2 to 12 ms in a fresh process, this 0.4 ms. Same keys, same order, same JSON.
    const links: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [k, v] of this.links) links[k] = v;
    a.links = links;
    a.results = [...this.byPath.values()].flat();
    a.diagnostics = this.diagnosticCap.withSummaries();
    return a;
  }
}

/**
 * A result read at `from` as seen at `to`, a hard link to the same file: package paths follow the
 * link; secrets only when `secrets` (they are reported once, at the path still holding the file).
 */
function relocateResult(r: FileResult, from: string, to: string, secrets: boolean): FileResult {
  const packages = r.out.packages?.map((x) => (x.path === from ? { ...x, path: to } : x));
  const out: AnalyzerOutput = { ...r.out, packages, diagnostics: undefined, secrets: secrets ? r.out.secrets?.map((x) => ({ ...x, path: x.path === from ? to : x.path })) : undefined };
  return { path: to, analyzer: r.analyzer, out };
}

/**
 * The nearest ancestor of a path when the layer wrote none above it: the root, a directory. Shared,
 * never written to; not frozen, so that it has the shape of the look-ups' own answers (one shape at
 * every place that reads them).
 */
const TOP: Readonly<{ at: string; kind: EntryKind }> = { at: '/', kind: 'd' };

/**
 * A node of {@link KindTrie}. Both fields are always present (made by {@link kindNode}): nodes of one
 * shape keep V8's property look-ups on them monomorphic, where nodes that gained `kind` and `kids`
 * in either order had four shapes.
 */
interface KindNode { kind: EntryKind | undefined; kids: Map<string, KindNode> | undefined }

/** A new {@link KindNode}. */
function kindNode(): KindNode {
  return { kind: undefined, kids: undefined };
}

/**
 * The kind of each path a layer wrote, by segment: the nearest written ancestor of a path is one
 * walk down its segments. Looking each ancestor up by its path hashes the whole prefix each time,
 * quadratic in the depth: 1,000 entries in a directory 1,900 segments deep (names under PATH_MAX)
 * took ten seconds. Nodes stay when their path is deleted: a node says the layer wrote that path or
 * beneath it at some time, which the walker's whiteout checks ask ({@link lastDirHas}).
 * Exported for its tests; the walker is its only user.
 */
export class KindTrie {
  private readonly root: KindNode = kindNode();

  /** Records `kind` for the path `p` (absolute, cleaned, not `/`), making the nodes down to it. */
  set(p: string, kind: EntryKind): void {
    // A kind set on a directory strictly above the cached one changes what {@link dirAbove} says
    // (such a path is shorter than the cached directory; the cached directory's own kind is read afresh).
    if (this.dirPath !== undefined && p.length < this.dirPath.length) this.dirPath = undefined;
    let n = this.root;
    let i = 1;
    // The walk {@link nearestAbove} made down `p` (the entry's own look-up, just before): go on from
    // the deepest node it found. Nodes are never removed, so that node is still `p`'s prefix.
    if (p === this.lastPath) {
      n = this.lastNode;
      i = this.knownEnd + 1;
    }
    for (; i <= p.length;) {
      const j = p.indexOf('/', i);
      const seg = p.slice(i, j < 0 ? p.length : j);
      let c = (n.kids ??= new Map()).get(seg);
      if (!c) { c = kindNode(); n.kids.set(seg, c); }
      n = c;
      i = j < 0 ? p.length + 1 : j + 1;
    }
    n.kind = kind;
  }

  /** Forgets the kind of `p` (its node, and those beneath it, stay). */
  delete(p: string): void {
    this.dirPath = undefined;
    const n = this.find(p);
    if (n) n.kind = undefined;
  }

  private find(p: string): KindNode | undefined {
    let n: KindNode | undefined = this.root;
    for (let i = 1; n && i <= p.length;) {
      const j = p.indexOf('/', i);
      n = n.kids?.get(p.slice(i, j < 0 ? p.length : j));
      i = j < 0 ? p.length + 1 : j + 1;
    }
    return n;
  }

  /**
   * Where in the path last given to {@link nearestAbove} the longest prefix of it with a node ends:
   * its length when the path has one, 0 when only the root does. Every path ever set and each path
   * above one has a node, so the prefixes ending after it are new. (Found on the same walk down.)
   */
  knownEnd = 0;
  /** The path last given to {@link nearestAbove}, and its node at {@link knownEnd} (the root for 0). */
  private lastPath: string | undefined;
  private lastNode: KindNode = this.root;

  /**
   * The directory of the path last given to {@link nearestAbove} (`p` up to its last `/`: `''` for a
   * path at the root) when the trie has a node for it, that node, and the deepest path strictly above
   * that directory that has a kind (`dirAboveEnd` its length, -1 for none) as found then. A tar lists
   * a directory's entries one after another: the next entry there is looked up from this node, without
   * cutting and hashing each segment of its directory again. Undefined once a kind above the directory
   * may have changed (see {@link set}, {@link delete}).
   */
  private dirPath: string | undefined;
  private dirNode: KindNode = this.root;
  private dirAboveEnd = -1;
  private dirAboveKind: EntryKind | undefined;
  /**
   * The node of the directory of the path last given to {@link nearestAbove} (the root for a path at
   * the root), or undefined when the trie has none: nothing was written there or beneath it.
   */
  private lastDir: KindNode | undefined;

  /**
   * Whether a path was written at or beneath `D/name`, D the directory of the path last given to
   * {@link nearestAbove} (every path ever {@link set} and each one above it has a node; kinds
   * removed by {@link delete} keep theirs). Answered from the node that look-up found: no walk
   * from the root, whatever the depth.
   */
  lastDirHas(name: string): boolean {
    return this.lastDir?.kids?.has(name) ?? false;
  }

  /** Whether a path was ever written strictly beneath the directory of the path last given to {@link nearestAbove}. */
  lastDirHasAny(): boolean {
    return (this.lastDir?.kids?.size ?? 0) > 0;
  }

  /** The deepest path strictly above `p` (absolute, cleaned, not `/`) that has a kind, with it; sets {@link knownEnd}. */
  nearestAbove(p: string): { at: string; kind: EntryKind } | undefined {
    const slash = p.lastIndexOf('/');
    let n: KindNode = this.root;
    // The deepest path strictly above `p` with a kind: its length (-1: none yet) and kind.
    let bestEnd = -1;
    let bestKind: EntryKind | undefined;
    let end = 0;
    let dirFound: boolean;
    const dir = this.dirPath;
    if (dir !== undefined && slash === dir.length && p.startsWith(dir)) {
      n = this.dirNode;
      bestEnd = this.dirAboveEnd;
      bestKind = this.dirAboveKind;
      if (slash > 0 && n.kind !== undefined) { bestEnd = slash; bestKind = n.kind; }
      end = slash;
      dirFound = true;
    } else {
      // The directory's segments (each ends at a `/` at or before `slash`), from the root.
      let aboveEnd = -1;
      let aboveKind: EntryKind | undefined;
      dirFound = true;
      for (let i = 1; i <= slash;) {
        const j = p.indexOf('/', i);
        const c = n.kids?.get(p.slice(i, j));
        if (!c) { dirFound = false; break; }
        n = c;
        end = j;
        aboveEnd = bestEnd;
        aboveKind = bestKind;
        if (n.kind !== undefined) { bestEnd = j; bestKind = n.kind; }
        i = j + 1;
      }
      if (dirFound) {
        this.dirPath = p.slice(0, slash);
        this.dirNode = n;
        this.dirAboveEnd = aboveEnd;
        this.dirAboveKind = aboveKind;
      }
    }
    this.lastDir = dirFound ? n : undefined;
    if (dirFound) {
      // The entry's own segment: where the known prefix ends, never a path above `p`.
      const c = n.kids?.get(p.slice(slash + 1));
      if (c) { n = c; end = p.length; }
    }
    this.knownEnd = end;
    this.lastPath = p;
    this.lastNode = n;
    if (bestEnd < 0) return undefined;
    return { at: bestEnd === slash && this.dirPath !== undefined && dirFound ? this.dirPath : p.slice(0, bestEnd), kind: bestKind! };
  }
}

/** How an analyzer takes the files it wants: {@link Analyzer.stream}, a spilled temp file, or the content buffered. */
const STREAM = 0;
const SPILL = 1;
const BUFFER = 2;

/**
 * An analyzer and what {@link LayerWalker.open} reads of it for every file it wants, held in objects
 * of one shape. The analyzers themselves are object literals of many shapes: reading `maxSize` or
 * `spill` straight from them made V8 throw away its optimized `open` (a "wrong map" deoptimization)
 * when a file first went to an analyzer of a shape not seen there yet, and compile it again.
 */
class AnalyzerSlot {
  readonly maxSize: number;
  readonly how: typeof STREAM | typeof SPILL | typeof BUFFER;
  /**
   * The analyzer's `wants` and `stream`, bound to it, for {@link callSlot}. Looked up on the analyzers in
   * `open`, the first file asked of an analyzer of a shape not yet seen there (dpkg's first file under
   * /var/lib/dpkg, deep into a Debian base layer) threw the optimized `open` away.
   */
  readonly wants: (e: EntryInfo, ctx: AnalyzerContext) => boolean;
  readonly stream: (e: EntryInfo, ctx: AnalyzerContext) => StreamSink | undefined;

  constructor(readonly analyzer: Analyzer) {
    this.maxSize = analyzer.maxSize;
    this.how = analyzer.stream ? STREAM : analyzer.spill ? SPILL : BUFFER;
    this.wants = wantsOf.bind(undefined, analyzer);
    this.stream = analyzer.stream ? streamOf.bind(undefined, analyzer) : noStream;
  }
}

/** `a.wants(e)` ({@link AnalyzerSlot.wants} binds it per analyzer). */
function wantsOf(a: Analyzer, e: EntryInfo): boolean {
  return a.wants(e);
}

/** `a.stream(e, ctx)` ({@link AnalyzerSlot.stream} binds it per streaming analyzer). */
function streamOf(a: Analyzer, e: EntryInfo, ctx: AnalyzerContext): StreamSink | undefined {
  return a.stream!(e, ctx);
}

/** {@link AnalyzerSlot.stream} of an analyzer that does not stream (never called: `how` is not STREAM). */
function noStream(): undefined {
  return undefined;
}

/**
 * Calls `f`, a slot's {@link AnalyzerSlot.wants} or {@link AnalyzerSlot.stream}: every call
 * {@link LayerWalker.open} makes to an analyzer goes through this one call site, whose feedback V8
 * keeps with this function whichever place in `open` it is inlined at. It sees several functions
 * from the first file on (three analyzers are asked about every file), so V8 calls them generically
 * there. Called straight from `open`, the `stream` call saw only the go-binary analyzer's function
 * until the first executable outside the distribution's directories, and when that came after V8
 * had optimized `open` (on the guess that it is always that function), the code was thrown away.
 */
function callSlot<R>(f: (e: EntryInfo, ctx: AnalyzerContext) => R, e: EntryInfo, ctx: AnalyzerContext): R {
  return f(e, ctx);
}

/** Writes `c` to the sink `s` ({@link LayerWalker.open} binds it per sink). */
function writeTo(s: StreamSink, c: Buffer): void {
  s.write(c);
}

/** The names of one file a layer wrote: the one holding it now and its hard links. */
interface ShareGroup {
  holder: string;
  members: Set<string>;
  /** The analyzers' results of the shared content, as read at `contentPath` (the file first linked). */
  content: FileResult[];
  contentPath: string;
}

function drain(body: Readable | null): Promise<void> | void {
  if (!body) return;
  return new Promise((resolve, reject) => {
    body.on('end', resolve);
    body.on('error', reject);
    body.resume();
  });
}
